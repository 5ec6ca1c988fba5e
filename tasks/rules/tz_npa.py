"""Area code (NPA) and NPA-NXX lookups: the candidate zones and the state of a NANP number."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from schemas.text import byte_view

#: Reference data shipped with the code (built by data/build_nanp_tz.py).
DATA_DIR: Final = Path(__file__).resolve().parents[2] / "data"
PREFIX_TABLE: Final = DATA_DIR / "nanp_tz.csv"
STATE_TABLE: Final = DATA_DIR / "npa_state.csv"

_NXX_SPACE = 1_000_000
_E164_BYTES = 12


def nanp_npa_nxx(e164: pd.Series) -> npt.NDArray[np.int64]:
    """The six NPA-NXX digits of each E.164 NANP number as an integer, -1 for anything else.

    A NANP number is "+1" and ten ASCII digits, nothing else (``^\\+1\\d{10}$``); read
    straight from the UTF-8 bytes of the Arrow column.
    """
    arr = pa.array(e164, type=pa.large_string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    out = np.full(len(arr), -1, dtype=np.int64)
    data, offsets = byte_view(arr)
    rows = np.flatnonzero(offsets[1:] - offsets[:-1] == _E164_BYTES)  # nulls read as empty
    if len(rows) * _E164_BYTES == len(data):  # every other row empty: the rows are the data itself
        columns = np.ascontiguousarray(data.reshape(-1, _E164_BYTES).T)
    else:
        columns = data[np.arange(_E164_BYTES)[:, None] + offsets[rows]]
    # One contiguous array per byte position, for all rows at once.
    digits = columns[2:] - np.uint8(ord("0"))  # non-digits wrap around to 10 or more
    nanp = (columns[0] == ord("+")) & (columns[1] == ord("1")) & (digits < 10).all(axis=0)
    value = digits[0].astype(np.int32)  # six digits fit
    for digit in digits[1:6]:
        value *= 10
        value += digit
    out[rows[nanp]] = value[nanp]
    return out


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@cache
def prefix_lookup() -> tuple[npt.NDArray[np.int16], npt.NDArray[np.object_]]:
    """Codes for all 10^6 NPA-NXX values (longest prefix wins) and the zone set of each code.

    Code 0 means no zone; ``values[codes[npa_nxx]]`` is the zone set of a number.
    """
    table = _read(PREFIX_TABLE)
    prefixes, zone_sets = table["prefix"].tolist(), table["zones"].tolist()
    sets = sorted(set(zone_sets))
    values = np.array([None, *sets], dtype=object)
    code_of = {z: i + 1 for i, z in enumerate(sets)}
    codes = np.zeros(_NXX_SPACE, dtype=np.int16)
    for prefix, zones in sorted(zip(prefixes, zone_sets, strict=True), key=lambda r: len(r[0])):
        span = 10 ** (6 - len(prefix))
        start = int(prefix) * span
        codes[start:start + span] = code_of[zones]
    return codes, values


@cache
def state_lookup() -> npt.NDArray[np.object_]:
    """The state or province of each of the 1000 NPAs (None where unknown)."""
    table = _read(STATE_TABLE)
    states = np.full(1000, None, dtype=object)
    states[table["npa"].astype(int).to_numpy()] = table["state"].tolist()
    return states


def _take(values: npt.NDArray[np.object_], keys: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    out: npt.NDArray[np.object_] = values[np.where(keys >= 0, keys, 0)]
    out[keys < 0] = None
    return out


def npa_zone_codes(e164: pd.Series) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.object_]]:
    """Codes into the zone sets of :func:`prefix_lookup` (0 where unknown), and those sets."""
    codes, values = prefix_lookup()
    idx = nanp_npa_nxx(e164)
    return np.where(idx >= 0, codes[np.maximum(idx, 0)], 0).astype(np.int16), values


def npa_zone_values(e164: pd.Series) -> npt.NDArray[np.object_]:
    """Zone sets by longest NANP prefix as an object array (None when unknown)."""
    codes, values = npa_zone_codes(e164)
    out: npt.NDArray[np.object_] = values[codes]
    return out


def npa_zones(e164: pd.Series) -> pd.Series:
    """Candidate IANA zones of E.164 NANP numbers, by NPA-NXX, else NPA.

    Uses data/nanp_tz.csv (phonenumbers' prefixes with curated overrides). A split area
    code whose NXX is not listed gives the set of its zones, e.g. 850 ->
    "America/Chicago|America/New_York".

    Args:
        e164: primary phones in E.164 ("+12085551234"); other countries and <NA> allowed.

    Returns:
        A "string" Series of "|"-joined zone sets, <NA> for unknown or non-NANP numbers.
    """
    return pd.Series(npa_zone_values(e164), index=e164.index, dtype="string")


def npa_state(e164: pd.Series) -> pd.Series:
    """State or province of the area code of E.164 NANP numbers ("FL", "BC", "PR").

    Args:
        e164: primary phones in E.164.

    Returns:
        A "string" Series of two-letter codes, <NA> for non-NANP numbers and NPAs of
        other NANP countries (Caribbean).
    """
    idx = nanp_npa_nxx(e164)
    values = _take(state_lookup(), np.where(idx >= 0, idx // 1000, -1))
    return pd.Series(values, index=e164.index, dtype="string")
