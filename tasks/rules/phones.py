"""Phone numbers to E.164: a vectorized NANP path, ``phonenumbers`` only for the rest."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import phonenumbers as pn
import pyarrow as pa
import pyarrow.compute as pc

from schemas.columns import ALT_PHONES, PHONE, PHONE_E164, PHONE_REGION, PHONES
from schemas.marks import mark
from schemas.outcomes import Outcome
from schemas.text import byte_view, nonnull
from tasks.rules.phone_items import SEPARATORS, choose, is_separator, item_reasons, split_items
from tasks.rules.phone_parse import EXTENSION, parse_arrow
from tasks.rules.phone_text import (
    MAX_KEY_DIGITS,
    concat,
    large_strings,
    place,
    rows_with,
    string_series,
)

__all__ = ["EXTENSION", "SEPARATORS", "e164_keys", "format_phone", "normalize_phones", "parse_numbers", "phone_key"]


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
    _check_region(default_region)
    parsed = parse_arrow(large_strings(raw.astype("string")), default_region, allowed_regions, allow_fictional)
    rows = np.arange(len(raw))
    columns = {"e164": parsed.e164_of(rows), "region": parsed.region_of(rows), "problem": parsed.problem_of(rows)}
    return pd.DataFrame({name: string_series(values, raw.index) for name, values in columns.items()})


def _check_region(default_region: str) -> None:
    if default_region not in pn.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default_region {default_region!r}")


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

    Leads with one plain number in ``phone`` (most of them) are parsed as they are; only the
    others are split into items. Everything runs on Arrow arrays and numpy, per chunk.

    Args:
        df: A chunk with ``phone`` and/or ``phones``.
        default_region: Region assumed for numbers written without a country code.
        allowed_regions: If given, numbers of other regions are invalid.
        allow_fictional: Accept 555-0100 to 555-0199 (reserved for fiction).

    Returns:
        The chunk with ``phone_e164``, ``alt_phones`` and ``phone_region`` added; pending leads
        without a valid number get outcome ``invalid`` and a reason quoting each bad value.
    """
    _check_region(default_region)
    count = len(df)
    phone, phones = (_raw_column(df, col) for col in (PHONE, PHONES))
    simple = ~rows_with(phone, is_separator) & ~nonnull(phones)
    items = split_items(np.flatnonzero(~simple), (phone, phones))
    parsed = parse_arrow(
        pa.concat_arrays([phone, items.text]), default_region, allowed_regions, allow_fictional,
        stripped=True, ignore=np.r_[~simple, np.zeros(len(items.pos), dtype=bool)],
    )
    chosen = choose(items, parsed, count)
    at = np.where(simple, np.arange(count), -1)
    at[chosen.primary_pos] = chosen.primary_at
    out = df.copy(deep=False)
    out[PHONE_E164] = pd.arrays.ArrowStringArray(parsed.e164_of(at))
    out[PHONE_REGION] = pd.arrays.ArrowStringArray(parsed.region_of(at))
    out[ALT_PHONES] = pd.arrays.ArrowStringArray(place(count, [(chosen.alt_pos, chosen.alts)]))
    no_phone = np.where(at >= 0, parsed.key[at], 0) == 0
    bad = np.flatnonzero(no_phone & simple & nonnull(phone))
    head_reason = concat(f"{PHONE}: no valid number ('", phone.take(pa.array(bad)), "': ", parsed.problem_of(bad), ")")
    lead_pos, by_lead = item_reasons(items, parsed, count, no_phone)
    reason = pc.fill_null(place(count, [(bad, head_reason), (lead_pos, by_lead)]), f"{PHONE}: missing")
    return mark(out, no_phone, Outcome.INVALID, string_series(reason, df.index))


def _raw_column(df: pd.DataFrame, col: str) -> pa.LargeStringArray:
    """Column ``col`` stripped, as Arrow strings; blank values and a missing column are null."""
    if col not in df.columns:
        return pa.nulls(len(df), pa.large_string())
    values = pc.utf8_trim_whitespace(large_strings(df[col].astype("string")))
    blank = pc.equal(pc.binary_length(values), 0)
    return pc.if_else(blank, pa.scalar(None, pa.large_string()), values) if pc.any(blank).as_py() else values


def phone_key(e164: pd.Series) -> pd.Series:
    """Digits of E.164 numbers as ``int64``, for compact dedup and DNC sets.

    Args:
        e164: E.164 strings ("+14155550123"); NA allowed.

    Returns:
        An ``int64`` Series on the same index; 0 where the value is NA (no real number is 0).
    """
    keys = e164_keys(large_strings(e164.astype("string")))
    if keys is None:  # not plain E.164: the string path (which raises on garbage)
        digits = e164.astype("string").str.lstrip("+").fillna("0")
        return pd.Series(np.asarray(digits.astype("int64")), index=e164.index, dtype="int64")
    return pd.Series(keys, index=e164.index, dtype="int64")


def primary_keys(df: pd.DataFrame) -> pd.Series:
    """Each lead's primary phone as its key: the prepared ``phone_key`` column (see ``tasks/stages.py``),
    else :func:`phone_key` of ``phone_e164``; 0 where there is none."""
    if "phone_key" in df.columns:
        return df["phone_key"].fillna(0).astype("int64")
    return phone_key(df[PHONE_E164])


def e164_keys(arr: pa.LargeStringArray) -> np.ndarray | None:
    """Keys of strings that are each null or an optional "+" and 1 to 18 digits, else None.

    Strings of one length are read as a block (one numpy matrix), so this loops over the few
    distinct lengths, never over rows.
    """
    data, offsets = byte_view(arr)
    lengths = np.diff(offsets)
    present = nonnull(arr)
    keys = np.zeros(len(arr), dtype=np.int64)
    seen = lengths[present]
    one_length = len(seen) > 0 and seen.min() == seen.max()
    for length in [int(seen[0])] if one_length else np.unique(seen).tolist():
        if length == 0 or length > MAX_KEY_DIGITS + 1:
            return None
        if one_length and length * len(seen) == len(data):  # nulls are empty: all values are one block
            rows, block = np.flatnonzero(present), data.reshape(-1, length)
        else:
            rows = np.flatnonzero(present & (lengths == length))
            block = data[offsets[rows][:, None] + np.arange(length)]
        digits = block - np.uint8(ord("0"))
        plus = block[:, 0] == ord("+")
        if not ((digits[:, 1:] < 10).all() and ((digits[:, 0] < 10) | plus).all()):
            return None
        if (length == MAX_KEY_DIGITS + 1 and not plus.all()) or (length == 1 and plus.any()):
            return None
        digits[:, 0] = np.where(plus, 0, digits[:, 0])
        keys[rows] = _block_value(digits)
    return keys


def _block_value(digits: np.ndarray) -> np.ndarray:
    """Each row of a matrix of digit values as one int (Horner, column by column)."""
    value = np.zeros(len(digits), dtype=np.int64)
    for col in range(digits.shape[1]):
        value *= 10
        value += digits[:, col]
    return value


def format_phone(e164: pd.Series, fmt: Literal["e164", "digits", "national"]) -> pd.Series:
    """Format E.164 numbers for a provider.

    Args:
        e164: E.164 strings; NA stays NA.
        fmt: ``e164`` as is, ``digits`` without "+", ``national`` as 10 digits for NANP
            numbers and as all the digits (with country code) for the others.

    Returns:
        A ``string`` Series on the same index.

    Raises:
        ValueError: On an unknown format.
    """
    text = e164.astype("string")
    if fmt == "e164":
        return text
    digits = text.str.lstrip("+")
    if fmt == "digits":
        return digits
    if fmt == "national":
        return digits.mask(text.str.startswith("+1").fillna(False), digits.str[1:])
    raise ValueError(f"unknown phone format {fmt!r}")
