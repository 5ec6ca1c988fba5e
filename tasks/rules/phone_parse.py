"""Single phone numbers to E.164 on Arrow arrays: vectorized NANP rules, ``phonenumbers`` for the rest."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import phonenumbers as pn
import pyarrow as pa
import pyarrow.compute as pc

from tasks.rules.nanp import (
    NANP_PROBLEMS,
    NANP_REGION_NAMES,
    NANP_REGIONS,
    check_nanp,
    digits_of,
    e164_strings,
    ten_digits,
    ten_value,
)
from tasks.rules.phone_text import BoolArray, ByteArray, IntArray, first_byte_is, rows_with

#: A trailing extension ("x123", "ext. 12", "extension 7", "#4"), dropped before parsing.
EXTENSION = r"(?i)[ \t]*(?:#|x|ext\.?|extension)[ \t.:]*[0-9]{1,6}[ \t]*$"


def _extension_hint(data: ByteArray) -> BoolArray:
    """Bytes of ``[A-Za-z#]``: a row holding one may have an extension."""
    found: BoolArray = ((data | np.uint8(0x20)) - np.uint8(ord("a")) < 26) | (data == ord("#"))
    return found


#: Phone keys of NANP numbers: "1" followed by the ten digits.
NANP_KEY_BASE = 10_000_000_000
_UNASSIGNED = NANP_PROBLEMS.index("unassigned area code")

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


class Vocabulary:
    """Distinct strings, each given a code in order of first use."""

    def __init__(self, first: tuple[str, ...] = ()) -> None:
        self.codes: dict[str, int] = {text: i for i, text in enumerate(first)}

    def code(self, text: str) -> int:
        """The code of ``text``, added if new."""
        return self.codes.setdefault(text, len(self.codes))

    def take(self, codes: IntArray) -> pa.Array:
        """The strings of ``codes`` (-1: null) as a ``large_string`` array."""
        strings = pa.array(list(self.codes), pa.large_string())
        return strings.take(pa.array(codes, mask=codes < 0))


class Parsed(NamedTuple):
    """What :func:`parse_arrow` found for each value; strings are built only for the rows asked for."""

    key: IntArray  #: digits of the E.164 number as an int (:func:`tasks.rules.phones.phone_key`), 0 if invalid
    e164_at: IntArray  #: index into ``numbers``, -1 if invalid
    numbers: pa.Array  #: the E.164 strings of the valid values
    region: IntArray  #: code in ``regions``, -1 if invalid
    regions: Vocabulary
    problem: IntArray  #: code in ``problems``, -1 if valid
    problems: Vocabulary

    def e164_of(self, rows: IntArray) -> pa.Array:
        """E.164 strings of the values at ``rows`` (-1 or invalid: null)."""
        at = np.where(rows >= 0, self.e164_at[rows], -1)
        return self.numbers.take(pa.array(at, mask=at < 0))

    def region_of(self, rows: IntArray) -> pa.Array:
        """Regions of the values at ``rows`` (-1 or invalid: null)."""
        return self.regions.take(np.where(rows >= 0, self.region[rows], -1))

    def problem_of(self, rows: IntArray) -> pa.Array:
        """Problems of the values at ``rows`` (-1 or valid: null)."""
        return self.problems.take(np.where(rows >= 0, self.problem[rows], -1))


def parse_arrow(
    raw: pa.LargeStringArray,
    default_region: str,
    allowed_regions: set[str] | None,
    allow_fictional: bool,
    *,
    stripped: bool = False,
    ignore: BoolArray | None = None,
) -> Parsed:
    """Parse each value of ``raw`` (one number each, nulls allowed).

    ``stripped`` says the values are already trimmed; values of ``ignore`` count as empty.
    """
    count = len(raw)
    text = raw if stripped else pc.utf8_trim_whitespace(raw)  # nulls stay: byte views read them as empty
    has_ext = rows_with(text, _extension_hint)
    if has_ext.any():
        where = pa.array(has_ext)
        text = pc.replace_with_mask(text, where, pc.replace_substring_regex(text.filter(where), EXTENSION, ""))
    digits = digits_of(text)
    size = digits.size if ignore is None else np.where(ignore, 0, digits.size)
    plus = first_byte_is(text, "+")
    lead1 = digits.starts_with("1")
    idd = ~plus & (size == 13) & digits.starts_with("001")
    local = ~plus & (size > 0) & (default_region in NANP_REGIONS) & ~digits.starts_with("011")
    nanp = (plus & lead1 & (size == 11)) | idd | (local & ((size == 10) | ((size == 11) & lead1)))
    bad_size = ((plus & lead1) | local) & ~nanp
    short = bad_size & (size - lead1 < 10)

    problems = Vocabulary(("no digits", "too short", "too long", *NANP_PROBLEMS))
    problem = np.full(count, -1, dtype=np.int64)
    problem[size == 0] = 0
    problem[short] = 1
    problem[bad_size & ~short] = 2
    fast = np.flatnonzero(nanp)
    rest = np.flatnonzero(~nanp & ~bad_size & (size > 0))
    slow = _parse_slow(text.take(pa.array(rest)), default_region, problems)
    problem[rest] = slow.problem
    from_slow = slow.ten > 0
    at = np.concatenate([fast, rest[from_slow]])
    ten = np.concatenate([digits.last_ten(fast), ten_digits(slow.ten[from_slow])], axis=1)
    value = ten_value(ten)
    region_code, problem_code = check_nanp(ten, allow_fictional=allow_fictional)
    problem[at] = np.where(problem_code >= 0, problem_code + 3, -1)
    unassigned = problem_code == _UNASSIGNED
    npas, which = np.unique(value[unassigned] // 10_000_000, return_inverse=True)
    named = np.array([problems.code(f"unassigned area code {npa}") for npa in npas.tolist()], dtype=np.int64)
    problem[at[unassigned]] = named[which] if len(named) else -1

    ok = np.flatnonzero(region_code >= 0)
    foreign = rest[slow.e164_at >= 0]
    found = slow.e164_at[slow.e164_at >= 0]
    regions = Vocabulary(NANP_REGION_NAMES)
    region = np.full(count, -1, dtype=np.int64)
    region[at[ok]] = region_code[ok]
    region[foreign] = [regions.code(r) for r in slow.regions[found].tolist()]
    key = np.zeros(count, dtype=np.int64)
    key[at[ok]] = NANP_KEY_BASE + value[ok]
    key[foreign] = slow.keys[found]
    numbers = pa.concat_arrays([e164_strings(ten), slow.e164])
    e164_at = np.full(count, -1, dtype=np.int64)
    e164_at[at[ok]] = ok
    e164_at[foreign] = len(at) + found
    if allowed_regions is not None:
        names = list(regions.codes)
        banned = np.isin(region, [code for name, code in regions.codes.items() if name not in allowed_regions])
        problem[banned] = [problems.code(f"region {names[r]} not allowed") for r in region[banned].tolist()]
        region[banned] = -1
        key[banned] = 0
        e164_at[banned] = -1
    return Parsed(key, e164_at, numbers, region, regions, problem, problems)


class _Slow(NamedTuple):
    """What ``phonenumbers`` made of some values: per value, problem code and NANP number."""

    problem: IntArray  #: code in the problem vocabulary, -1 if valid (or NANP)
    ten: IntArray  #: the NANP number, 0 if not NANP
    e164_at: IntArray  #: index into ``e164``/``regions``/``keys``, -1 if not a valid foreign number
    e164: pa.Array
    regions: np.ndarray
    keys: IntArray


def _parse_slow(text: pa.Array, default_region: str, problems: Vocabulary) -> _Slow:
    """Parse each distinct value with phonenumbers; NANP numbers come back as ``ten`` only."""
    encoded = pc.dictionary_encode(text)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    rows = [_parse_one(str(value), default_region) for value in encoded.dictionary.to_pylist()]
    problem = np.array([-1 if p is None else problems.code(p) for _, _, p, _ in rows], dtype=np.int64)
    ten = np.array([t for *_, t in rows], dtype=np.int64)
    good = [i for i, (e, *_) in enumerate(rows) if e is not None]
    e164_at = np.full(len(rows), -1, dtype=np.int64)
    e164_at[good] = np.arange(len(good))
    numbers = [str(rows[i][0]) for i in good]
    return _Slow(
        problem=problem[codes],
        ten=ten[codes],
        e164_at=e164_at[codes],
        e164=pa.array(numbers, pa.large_string()),
        regions=np.array([rows[i][1] for i in good], dtype=object),
        keys=np.array([int(n[1:]) for n in numbers], dtype=np.int64),
    )


def _parse_one(value: str, default_region: str) -> tuple[str | None, str | None, str | None, int]:
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

