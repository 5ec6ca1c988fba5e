"""US ZIP code to candidate zones, from the table data/build_zip_tz.py builds (zipcodes + tzfpy)."""

from __future__ import annotations

from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from schemas.text import byte_view, strip
from tasks.rules.tz_npa import DATA_DIR

#: ZIP (5 digits) to zone set for every non-military ZIP (built by data/build_zip_tz.py).
ZIP_TABLE: Final = DATA_DIR / "zip_tz.csv"
_ZIP_SPACE: Final = 100_000
#: ``\d`` of Python's re is any Unicode decimal digit (category Nd); RE2 spells that ``\p{Nd}``.
_ZIP: Final = r"^(?P<zip>\p{Nd}{3,5})(?:-?\p{Nd}{4})?(?:\.0)?$"
_MAX_ZIP_BYTES: Final = 12  # "12345-6789.0"

#: Table codes of ZIPs (index: the ZIP as a number; 0 = no zone) and the zone set of each code.
ZipLookup = tuple[npt.NDArray[np.int16], list[str | None]]


@cache
def zip_lookup() -> ZipLookup:
    """The ZIP table as codes for all 10^5 ZIPs and the zone set of each code (code 0: none)."""
    text = pa.string()
    table = pa_csv.read_csv(ZIP_TABLE, convert_options=pa_csv.ConvertOptions(
        column_types={"zip": text, "zones": text}, strings_can_be_null=False))
    zones = pc.dictionary_encode(table["zones"]).combine_chunks()
    codes = np.zeros(_ZIP_SPACE, dtype=np.int16)
    zips = pc.cast(table["zip"], pa.int32()).to_numpy()
    codes[zips] = zones.indices.to_numpy(zero_copy_only=False).astype(np.int16) + 1
    return codes, [None, *zones.dictionary.to_pylist()]


def zip_table() -> dict[str, str]:
    """ZIP (5 digits) to zone set for every non-military ZIP."""
    codes, values = zip_lookup()
    return {f"{z:05d}": str(values[c]) for z, c in enumerate(codes.tolist()) if c}


def _stripped(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    return pa.array(strip(values.astype("string")), type=pa.large_string(), from_pandas=True)


def _zip_digits(raw: pa.Array | pa.ChunkedArray, pattern: str) -> pa.Array | pa.ChunkedArray:
    return pc.struct_field(pc.extract_regex(raw, pattern), [0])


def zip5(values: pd.Series) -> pd.Series:
    """Five-digit ZIPs from raw ZIP values: ZIP+4 cut, lost leading zeros restored, junk <NA>."""
    five = pc.utf8_lpad(_zip_digits(_stripped(values), _ZIP), width=5, padding="0")
    chunked = five if isinstance(five, pa.ChunkedArray) else pa.chunked_array([five])
    return pd.Series(pd.arrays.ArrowStringArray(chunked), index=values.index)


def _ascii_zip_numbers(raw: pa.Array) -> npt.NDArray[np.int32]:
    """:func:`_zip_numbers` for ASCII rows, read from the UTF-8 bytes (0 where there is no ZIP).

    A ZIP row is 3-5 digits (the ZIP), then optionally "-" or nothing and four digits, then
    optionally ".0" (``_ZIP``). The ZIP is the digits before a "-"; without one, all 3-5
    digits, or all but the last four when there are more (re's backtracking). Plain five-digit
    rows (most) are read at once; the others' bytes are compared position by position (at most
    12) for all of them at once.
    """
    out = np.zeros(len(raw), dtype=np.int32)
    if not len(raw) or raw.buffers()[2] is None:
        return out
    offsets = np.frombuffer(raw.buffers()[1], dtype=np.int64, count=len(raw) + 1, offset=raw.offset * 8)
    data = np.frombuffer(raw.buffers()[2], dtype=np.uint8)
    length = offsets[1:] - offsets[:-1]
    valid = raw.is_valid().to_numpy(zero_copy_only=False)
    others = valid & (length >= 3) & (length <= _MAX_ZIP_BYTES)
    five = np.flatnonzero(valid & (length == 5))
    digits = data[np.arange(5)[:, None] + offsets[five]] - np.uint8(ord("0"))  # a row per position
    plain = (digits < 10).all(axis=0)  # non-digits wrap around to 10 or more
    number = digits[0].astype(np.int32)
    for digit in digits[1:]:
        number *= 10
        number += digit
    out[five[plain]] = number[plain]
    others[five[plain]] = False
    rows = np.flatnonzero(others)
    start, length = offsets[rows], length[rows]
    data = np.concatenate([data, np.zeros(_MAX_ZIP_BYTES, dtype=np.uint8)])  # bytes past a row: unused
    byte = [data[start + i] for i in range(_MAX_ZIP_BYTES)]
    body = length - 2 * ((data[start + length - 2] == ord(".")) & (data[start + length - 1] == ord("0")))
    dash = np.full(len(rows), -1)
    for i in (5, 4, 3):  # the first "-" wins
        dash = np.where((byte[i] == ord("-")) & (i < body), i, dash)
    ok = np.where(dash >= 0, body == dash + 5, ((body >= 3) & (body <= 5)) | ((body >= 7) & (body <= 9)))
    for i in range(_MAX_ZIP_BYTES):
        ok &= (i >= body) | (i == dash) | (byte[i] - np.uint8(ord("0")) < 10)
    zip_len = np.where(dash >= 0, dash, np.where(body <= 5, body, body - 4))
    digit = [byte[i].astype(np.int32) - ord("0") for i in range(5)]
    three = digit[0] * 100 + digit[1] * 10 + digit[2]
    four = three * 10 + digit[3]
    number = np.where(zip_len == 3, three, np.where(zip_len == 4, four, four * 10 + digit[4]))
    out[rows[ok]] = number[ok]
    return out


def _zip_numbers(values: pd.Series) -> npt.NDArray[np.int32]:
    """The ZIP of each value as a number (what :func:`zip5` gives), 0 where it has none.

    ASCII rows are read by :func:`_ascii_zip_numbers`; the few others take the Unicode
    pattern, and ZIPs with non-ASCII digits are in no table (0).
    """
    raw = _stripped(values)
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks() if raw.num_chunks != 1 else raw.chunk(0)
    out = _ascii_zip_numbers(raw)
    data, _ = byte_view(raw)
    if not len(data) or int(data.max()) < 0x80:  # every byte ASCII (most columns): no other rows
        return out
    others = np.flatnonzero(~pc.fill_null(pc.string_is_ascii(raw), True).to_numpy(zero_copy_only=False))
    if len(others):
        found = _zip_digits(raw.take(pa.array(others)), _ZIP)
        plain = pc.fill_null(pc.string_is_ascii(found), False)
        out[others] = pc.cast(pc.if_else(plain, found, "0"), pa.int32()).to_numpy(zero_copy_only=False)
    return out


def zip_zone_codes(zip: pd.Series) -> ZipLookup:
    """Codes into the zone sets of :func:`zip_lookup` for a ZIP column (0 where unknown)."""
    table, values = zip_lookup()
    return table[_zip_numbers(zip)], values


def zip_zones(zip: pd.Series) -> pd.Series:
    """Candidate IANA zones of US ZIP codes (``zipcodes`` data, cross-checked with ``tzfpy``).

    Accepts "02134", "2134" (leading zero lost), "02134-1234", "021341234" and numbers.
    ZIPs where the two sources disagree get both zones ("America/Chicago|America/New_York"
    for Phenix City, AL). Military (APO/FPO), unknown and malformed ZIPs give <NA>.

    Args:
        zip: the ZIP column.

    Returns:
        A "string" Series of "|"-joined zone sets, <NA> where unknown.
    """
    return pd.Series(zip_zone_values(zip), index=zip.index, dtype="string")


def zip_zone_values(zip: pd.Series) -> npt.NDArray[np.object_]:
    """:func:`zip_zones` as an object array (None where unknown)."""
    codes, values = zip_zone_codes(zip)
    out: npt.NDArray[np.object_] = np.array(values, dtype=object)[codes]
    return out
