"""Do-not-call suppression: every phone of a lead against named, sorted lists of phone keys."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.columns import ALT_PHONES
from schemas.marks import combine_reasons, find_rows, mark
from schemas.outcomes import Outcome
from schemas.text import nonnull
from tasks.rules.phone_text import concat, large_strings, place, string_series
from tasks.rules.phones import e164_keys, phone_key, primary_keys

KeyArray = npt.NDArray[np.int64]


def suppress(df: pd.DataFrame, lists: Mapping[str, KeyArray]) -> pd.DataFrame:
    """Mark pending leads with any phone (primary or alternate) on a do-not-call list.

    Args:
        df: A chunk with ``phone_e164`` (or ``phone_key``, read instead, as the other rules do) and,
            optionally, ``alt_phones``.
        lists: Do-not-call lists by name, each a sorted array of unique
            :func:`tasks.rules.phones.phone_key` values (as ``np.unique`` returns).

    Returns:
        The chunk; matching pending leads get outcome ``suppressed`` and a reason such as
        ``"on do-not-call list (national, internal)"`` naming every list that matched.

    Raises:
        ValueError: If a list is not sorted and unique.
    """
    for name, keys in lists.items():
        if len(keys) > 1 and not bool(np.all(np.diff(keys) > 0)):
            raise ValueError(f"do-not-call list {name!r} must be sorted and unique (np.unique)")
    primary = primary_keys(df).to_numpy()
    alt_at, alt_keys = _alternates(df)
    values = np.concatenate([primary, alt_keys])
    order = np.argsort(values)  # sorted needles make the binary searches cache-friendly
    ordered = values[order]
    checks = []
    for name, keys in lists.items():
        found = np.empty(len(values), dtype=bool)
        found[order] = _contains_sorted(keys, ordered)
        hit = found[: len(primary)]
        hit[alt_at[found[len(primary) :]]] = True
        checks.append((hit, name))
    names = combine_reasons(checks, df.index, sep=", ")
    listed = np.flatnonzero(names.notna().to_numpy(dtype=bool))
    on = concat("on do-not-call list (", large_strings(names).take(pa.array(listed)), ")")
    reason = string_series(place(len(df), [(listed, on)]), df.index)
    return mark(df, names.notna(), Outcome.SUPPRESSED, reason)


def contains(keys: KeyArray, values: KeyArray) -> npt.NDArray[np.bool_]:
    """True where a value is in the sorted unique ``keys`` (binary search; 0 never matches)."""
    order = np.argsort(values)
    found = np.empty(len(values), dtype=bool)
    found[order] = _contains_sorted(keys, values[order])
    return found


def _contains_sorted(keys: KeyArray, values: KeyArray) -> npt.NDArray[np.bool_]:
    """:func:`contains` for sorted ``values``."""
    _, hit = find_rows(keys, values)
    found: npt.NDArray[np.bool_] = hit & (values > 0)
    return found


def _alternates(df: pd.DataFrame) -> tuple[KeyArray, KeyArray]:
    """Positions and phone keys of every alternate phone, split once on Arrow strings."""
    if ALT_PHONES not in df.columns:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    alts = large_strings(df[ALT_PHONES].astype("string"))
    present = np.flatnonzero(nonnull(alts))
    lists = pc.split_pattern(alts.take(pa.array(present)), "|")
    parents = present[pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)]
    numbers = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    keep = pc.binary_length(numbers).to_numpy(zero_copy_only=False) > 0
    numbers = large_strings(numbers.filter(pa.array(keep)))
    keys = e164_keys(numbers)
    if keys is None:  # not plain E.164: the general path
        keys = phone_key(string_series(numbers)).to_numpy()
    return parents[keep], keys
