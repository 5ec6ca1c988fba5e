"""The phone normalization as it was before the Arrow rewrite: the reference the new code must match.

Kept verbatim (old ``tasks/rules/nanp.py`` and ``tasks/rules/phones.py``) so the equivalence tests compare the fast
code with a straightforward implementation on messy, random data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import phonenumbers as pn
import pyarrow as pa
import pyarrow.compute as pc

from schemas.columns import ALT_PHONES, PHONE, PHONE_E164, PHONE_REGION, PHONES
from schemas.marks import mark
from schemas.outcomes import Outcome
from tasks.rules.nanp import NANP_PROBLEMS, NANP_REGION_NAMES, NANP_REGIONS, NPA_REGION_CODE

SEPARATORS = r"[|;,/]"
EXTENSION = r"(?i)[ \t]*(?:#|x|ext\.?|extension)[ \t.:]*[0-9]{1,6}[ \t]*$"

_ZERO = ord("0")
_POWERS = 10 ** np.arange(9, -1, -1, dtype=np.int64)
_E164_PREFIX = np.frombuffer(b"+1", dtype=np.uint8)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Digits(NamedTuple):
    """The digits of each string, packed: string ``i`` is ``data[offsets[i]:offsets[i + 1]]``."""

    data: npt.NDArray[np.uint8]
    offsets: IntArray

    @property
    def size(self) -> IntArray:
        """Number of digits of each string."""
        return np.diff(self.offsets)

    def starts_with(self, prefix: str) -> BoolArray:
        """True where the digits start with ``prefix`` (itself digits)."""
        hit = self.size >= len(prefix)
        for i, char in enumerate(prefix.encode()):
            at = np.minimum(self.offsets[:-1] + i, max(len(self.data) - 1, 0))
            hit &= (self.data[at] == char) if len(self.data) else False
        return hit

    def last_ten(self, rows: BoolArray) -> IntArray:
        """The last ten digits of the strings of ``rows`` (each must have ten or more), as ints."""
        ends = self.offsets[1:][rows]
        positions = ends[:, None] - 10 + np.arange(10)
        result: IntArray = (self.data[positions].astype(np.int64) - _ZERO) @ _POWERS
        return result


def to_arrow(values: pd.Series | pd.api.extensions.ExtensionArray) -> pa.LargeStringArray:
    """The strings of ``values`` as one contiguous Arrow ``large_string`` array."""
    arr = pa.array(values.array if isinstance(values, pd.Series) else values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def digits_of(text: pd.Series) -> Digits:
    """Strip every non-digit from each string of ``text`` (NA counts as empty).

    Works on the Arrow buffers with numpy, much faster than a regex replace.
    """
    arr = to_arrow(text.astype("string").fillna(""))
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    if data_buf is None or len(arr) == 0:
        return Digits(np.zeros(0, dtype=np.uint8), np.zeros(len(arr) + 1, dtype=np.int64))
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    is_digit = (data - _ZERO) < 10
    digits_before = np.searchsorted(np.flatnonzero(is_digit), offsets - offsets[0])
    return Digits(data[is_digit], digits_before.astype(np.int64))


def check_nanp(ten: IntArray, *, allow_fictional: bool) -> tuple[IntArray, IntArray]:
    """Apply the NPA/NXX rules to 10-digit NANP numbers.

    Args:
        ten: The 10-digit numbers as ints (area code, exchange, line).
        allow_fictional: Accept 555-0100 to 555-0199.

    Returns:
        ``region`` (index into ``NANP_REGION_NAMES``, -1 when invalid) and ``problem``
        (index into ``NANP_PROBLEMS``, -1 when valid).
    """
    npa, nxx, line = ten // 10_000_000, ten // 10_000 % 1000, ten % 10_000
    code = NPA_REGION_CODE[npa].astype(np.int64)
    checks = [npa < 200, npa % 100 == 11, code < 0, nxx < 200, nxx % 100 == 11]
    if not allow_fictional:
        checks.append((nxx == 555) & (line >= 100) & (line < 200))
    problem = np.select(checks, list(range(len(checks))), default=-1).astype(np.int64)
    return np.where(problem < 0, code, -1), problem


def e164_strings(ten: IntArray) -> pa.Array:
    """``"+1"`` followed by the ten digits of each number, as an Arrow string array."""
    chars = np.empty((len(ten), 12), dtype=np.uint8)
    chars[:, :2] = _E164_PREFIX
    rest = ten.copy()
    for col in range(11, 1, -1):
        rest, digit = np.divmod(rest, 10)
        chars[:, col] = digit + _ZERO
    offsets = np.arange(0, 12 * len(ten) + 1, 12, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        len(ten), pa.py_buffer(offsets), pa.py_buffer(chars.ravel())
    )


_PARSE_ERRORS = {
    pn.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    pn.NumberParseException.NOT_A_NUMBER: "not a phone number",
    pn.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    pn.NumberParseException.TOO_SHORT_NSN: "too short",
    pn.NumberParseException.TOO_LONG: "too long",
}
_POSSIBLE_ERRORS = {
    pn.ValidationResult.TOO_SHORT: "too short",
    pn.ValidationResult.TOO_LONG: "too long",
    pn.ValidationResult.INVALID_LENGTH: "wrong length",
    pn.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}
_NANP_REGION_ARRAY = pa.array(NANP_REGION_NAMES, pa.large_string())
_NANP_PROBLEM_ARRAY = np.array([*NANP_PROBLEMS, None], dtype=object)

Positions = np.ndarray | pd.Index | pd.Series


def parse_numbers(
    raw: pd.Series,
    *,
    default_region: str = "US",
    allowed_regions: set[str] | None = None,
    allow_fictional: bool = False,
) -> pd.DataFrame:
    """Normalize single phone numbers (one per value) to E.164.

    NANP numbers are checked by vectorized code (assigned area code, NPA/NXX rules, N11,
    fictional 555-01xx); only the others are parsed by ``phonenumbers``, once per distinct value.

    Args:
        raw: Phone strings, one number each (NA allowed).
        default_region: Region assumed for numbers written without a country code.
        allowed_regions: If given, numbers of other regions are invalid.
        allow_fictional: Accept 555-0100 to 555-0199 (reserved for fiction).

    Returns:
        A frame on ``raw``'s index with ``string`` columns ``e164`` and ``region`` (NA if
        invalid) and ``problem`` (NA if valid).

    Raises:
        ValueError: If ``default_region`` is not a region phonenumbers knows.
    """
    if default_region not in pn.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default_region {default_region!r}")
    count = len(raw)
    text = raw.astype("string").reset_index(drop=True).str.strip()
    has_ext = text.str.contains("[A-Za-z#]", regex=True).fillna(False)
    if has_ext.any():
        text = text.mask(has_ext, text[has_ext].str.replace(EXTENSION, "", regex=True))
    digits = digits_of(text)
    size = digits.size
    plus = text.str.startswith("+").fillna(False).to_numpy(dtype=bool)
    lead1 = digits.starts_with("1")
    idd = ~plus & (size == 13) & digits.starts_with("001")
    local = ~plus & (size > 0) & (default_region in NANP_REGIONS) & ~digits.starts_with("011")
    nanp = (plus & lead1 & (size == 11)) | idd | (local & ((size == 10) | ((size == 11) & lead1)))
    bad_size = ((plus & lead1) | local) & ~nanp
    short = bad_size & (size - lead1 < 10)

    problem = np.full(count, None, dtype=object)
    problem[size == 0] = "no digits"
    problem[short] = "too short"
    problem[bad_size & ~short] = "too long"
    ten = np.zeros(count, dtype=np.int64)
    ten[nanp] = digits.last_ten(nanp)

    rest = np.flatnonzero(~nanp & ~bad_size & (size > 0))
    slow = _parse_slow(text.iloc[rest], default_region)
    problem[rest] = slow["problem"].to_numpy(dtype=object)
    ten[rest] = slow["ten"].to_numpy(dtype=np.int64)
    nanp[rest] = ten[rest] > 0
    foreign = rest[slow["e164"].notna().to_numpy()]

    at = np.flatnonzero(nanp)
    region_code, problem_code = check_nanp(ten[at], allow_fictional=allow_fictional)
    problem[at] = _NANP_PROBLEM_ARRAY[problem_code]
    unassigned = at[problem_code == NANP_PROBLEMS.index("unassigned area code")]
    problem[unassigned] = [f"unassigned area code {n // 10_000_000}" for n in ten[unassigned]]
    ok = region_code >= 0
    found = slow[slow["e164"].notna()]
    e164 = _place(count, [(at[ok], e164_strings(ten[at][ok])), (foreign, found["e164"])])
    regions = _NANP_REGION_ARRAY.take(pa.array(region_code[ok]))
    region = _place(count, [(at[ok], regions), (foreign, found["region"])])
    result = pd.DataFrame(
        {"e164": e164, "region": region, "problem": pd.array(problem, dtype="string")}
    )
    if allowed_regions is not None:
        banned = result["region"].notna() & ~result["region"].isin(allowed_regions)
        result.loc[banned, "problem"] = "region " + result.loc[banned, "region"] + " not allowed"
        result.loc[banned, ["e164", "region"]] = pd.NA
    return result.set_axis(raw.index)


def _place(count: int, parts: Sequence[tuple[Positions, pa.Array | pd.Series]]) -> pd.Series:
    """A ``string`` Series of ``count`` rows: each part's values at its positions, else NA."""
    index = np.full(count, -1, dtype=np.int64)
    arrays, start = [], 0
    for positions, values in parts:
        array = values if isinstance(values, pa.Array) else to_arrow(values)
        index[np.asarray(positions)] = np.arange(start, start + len(positions))
        arrays.append(array.cast(pa.large_string()))
        start += len(positions)
    taken = pa.concat_arrays(arrays).take(pa.array(index, mask=index < 0))
    return pd.Series(pd.arrays.ArrowStringArray(taken))


def _parse_slow(text: pd.Series, default_region: str) -> pd.DataFrame:
    """Parse each distinct value with phonenumbers; NANP numbers come back as ``ten`` only."""
    codes, uniques = pd.factorize(text)
    rows = [_parse_one(str(value), default_region) for value in uniques]
    table = pd.DataFrame(rows, columns=["e164", "region", "problem", "ten"], dtype=object)
    table = table.astype({"e164": "string", "region": "string", "ten": "int64"})
    return table.iloc[codes].set_axis(text.index)


def _parse_one(value: str, default_region: str) -> tuple[str | int | None, ...]:
    """E.164, region, problem and NANP number (0 if not NANP) of one value."""
    try:
        number = pn.parse(value, default_region)
    except pn.NumberParseException as exc:
        return None, None, _PARSE_ERRORS.get(exc.error_type, "not a phone number"), 0
    national = number.national_number or 0
    if number.country_code == 1 and 10**9 <= national < 10**10:
        return None, None, None, national
    region = pn.region_code_for_number(number)
    if region is None or not pn.is_valid_number_for_region(number, region):
        why = pn.is_possible_number_with_reason(number)
        home = pn.region_code_for_country_code(number.country_code or 0)
        return None, None, _POSSIBLE_ERRORS.get(why, f"not a valid {home} number"), 0
    return pn.format_number(number, pn.PhoneNumberFormat.E164), region, None, 0


def normalize_phones(
    df: pd.DataFrame,
    *,
    default_region: str = "US",
    allowed_regions: set[str] | None = None,
    allow_fictional: bool = False,
) -> pd.DataFrame:
    """Add the primary phone, the alternates and the region; mark leads with none ``invalid``.

    ``phone`` and ``phones`` may each hold several numbers separated by ``| ; , /``. The first
    valid number (``phone`` before ``phones``) is the primary; the other valid ones, without
    repeats, become ``alt_phones``.

    Args:
        df: A chunk with ``phone`` and/or ``phones``.
        default_region: Region assumed for numbers written without a country code.
        allowed_regions: If given, numbers of other regions are invalid.
        allow_fictional: Accept 555-0100 to 555-0199 (reserved for fiction).

    Returns:
        The chunk with ``phone_e164``, ``alt_phones`` and ``phone_region`` added; pending leads
        without a valid number get outcome ``invalid`` and a reason quoting each bad value.
    """
    count = len(df)
    phone, phones = (_raw_column(df, col) for col in (PHONE, PHONES))
    simple = ~(phone.str.contains(SEPARATORS, regex=True).fillna(False) | phones.notna())
    items = _phone_items(phone[~simple], phones[~simple])
    parsed = parse_numbers(
        pd.concat([phone[simple], items["raw"]], ignore_index=True),
        default_region=default_region,
        allowed_regions=allowed_regions,
        allow_fictional=allow_fictional,
    )
    head = parsed.iloc[: int(simple.sum())].set_axis(phone.index[simple.to_numpy()])
    found = items.join(parsed.iloc[len(head) :].set_axis(items.index))
    valid = found[found["e164"].notna()].drop_duplicates(["pos", "e164"])
    first = ~valid["pos"].duplicated()
    ok = head[head["e164"].notna()]
    primary = valid[first]
    alts = _join_by(valid.loc[~first, "pos"], valid.loc[~first, "e164"], "|")
    out = df.copy(deep=False)
    for col, field in ((PHONE_E164, "e164"), (PHONE_REGION, "region")):
        out[col] = _place(count, [(ok.index, ok[field]), (primary["pos"], primary[field])]).array
    out[ALT_PHONES] = _place(count, [(alts.index, alts)]).array

    bad_head = head[head["e164"].isna()]
    quoted = phone[bad_head.index].str.strip()
    head_reason = f"{PHONE}: no valid number ('" + quoted + "': " + bad_head["problem"] + ")"
    no_phone = out[PHONE_E164].isna().to_numpy()
    bad = found[no_phone[found["pos"].to_numpy()]]
    listed = "'" + bad["raw"].str.strip() + "': " + bad["problem"]
    by_column = _join_by(bad["pos"] * 2 + bad["rank"], listed, "; ")
    key = by_column.index.to_numpy()
    label = pd.Series(np.where(key % 2 == 0, PHONE, PHONES), index=by_column.index, dtype="string")
    by_column = label.str.cat(": no valid number (" + by_column + ")")
    by_lead = _join_by(pd.Series(key // 2), by_column, "; ")
    reason = _place(count, [(bad_head.index, head_reason), (by_lead.index, by_lead)])
    reason = reason.fillna(f"{PHONE}: missing").set_axis(df.index)
    return mark(out, no_phone, Outcome.INVALID, reason)


def _raw_column(df: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` as ``string`` on a RangeIndex; blank values and a missing column are NA."""
    if col not in df.columns:
        return pd.Series(pd.NA, index=pd.RangeIndex(len(df)), dtype="string")
    values = pd.Series(df[col].astype("string").array, index=pd.RangeIndex(len(df)))
    return values.mask(values.str.strip() == "")


def _phone_items(phone: pd.Series, phones: pd.Series) -> pd.DataFrame:
    """One row per non-blank number of each lead: ``pos``, ``rank`` (0 phone, 1 phones), ``raw``."""
    parts = []
    for rank, raw in enumerate((phone, phones)):
        present = raw.dropna()
        lists = pc.split_pattern_regex(to_arrow(present), SEPARATORS)
        parents = np.asarray(pc.list_parent_indices(lists))
        values = pd.arrays.ArrowStringArray(pc.list_flatten(lists).cast(pa.large_string()))
        parts.append(pd.DataFrame({"pos": present.index[parents], "rank": rank, "raw": values}))
    items = pd.concat(parts, ignore_index=True).astype({"pos": "int64", "rank": "int64"})
    items = items[items["raw"].str.strip().fillna("") != ""]
    return items.sort_values(["pos", "rank"], kind="stable").reset_index(drop=True)


def _join_by(keys: pd.Series, values: pd.Series, sep: str) -> pd.Series:
    """``values`` joined by ``sep`` per key, in order: a ``string`` Series indexed by key."""
    key = keys.to_numpy()
    text = values.astype("string").reset_index(drop=True)
    nth = pd.Series(key).groupby(key).cumcount().to_numpy() if len(key) else key
    joined = pd.Series(text[nth == 0].array, index=key[nth == 0], dtype="string")
    for n in range(1, int(nth.max(initial=0)) + 1):
        more = pd.Series(text[nth == n].array, index=key[nth == n], dtype="string")
        joined.loc[more.index] = joined.loc[more.index] + sep + more
    return joined


def phone_key(e164: pd.Series) -> pd.Series:
    """Digits of E.164 numbers as ``int64``, for compact dedup and DNC sets.

    Args:
        e164: E.164 strings ("+14155550123"); NA allowed.

    Returns:
        An ``int64`` Series on the same index; 0 where the value is NA (no real number is 0).
    """
    digits = e164.astype("string").str.lstrip("+").fillna("0")
    return pd.Series(np.asarray(digits.astype("int64")), index=e164.index, dtype="int64")
