"""Dedup and DNC as they were before the numpy rewrite: the reference the new code must match."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from phones_reference import phone_key

from schemas.columns import ALT_PHONES, EXTERNAL_ID, PHONE_E164, ROW
from schemas.outcomes import Outcome
from tasks.rules.outcomes import combine_reasons, mark

KEY = "phone_key"
DUPLICATE_OF = "duplicate_of"
REASON = "reason"

Keep = Literal["first", "last", "all"]
_BASES = pa.array([" (same phone)", " (same external_id)"], pa.large_string())
IntArray = npt.NDArray[np.int64]
KeyArray = npt.NDArray[np.int64]
_NONE = np.iinfo(np.int64).max


def find_duplicates(
    keys: pd.DataFrame, *, keep: Keep = "first", by_external_id: bool = False
) -> pd.DataFrame:
    """Find the duplicate rows of a whole run from its compact key frame.

    Leads with the same phone key are duplicates; with ``by_external_id`` so are leads with
    the same (non-blank) external id, among those the phone pass kept. Row numbers must be
    unique across the frame; the order of the frame (e.g. of chunks) does not matter.

    Args:
        keys: ``row`` (int), ``phone_key`` (int, 0 = no phone) and, for ``by_external_id``,
            ``external_id`` of every still-pending lead of the run.
        keep: Keep the lowest row of each group, the highest, or none of a repeated key.
        by_external_id: Also treat a repeated external id as a duplicate.

    Returns:
        One row per duplicate, sorted by row: ``row``, ``duplicate_of`` and ``reason``, e.g.
        ``"duplicate of row 12 (same phone)"``. ``duplicate_of`` is the row kept for that
        key (for ``keep="all"``, another row with the key); with ``by_external_id`` that row
        may itself be a duplicate by external id, and its own entry says so. Running it
        again on the rows not returned finds nothing.

    Raises:
        ValueError: On an unknown ``keep``.
    """
    if keep not in ("first", "last", "all"):
        raise ValueError(f"keep must be 'first', 'last' or 'all', not {keep!r}")
    rows = keys[ROW].to_numpy(dtype=np.int64)
    phone = keys[KEY].fillna(0).to_numpy(dtype=np.int64)
    target = _targets(phone, phone > 0, rows, keep)
    why = np.where(target >= 0, 0, -1)
    if by_external_id and EXTERNAL_ID in keys.columns:
        ids = keys[EXTERNAL_ID].astype("string").str.strip()
        codes, _ = pd.factorize(ids.mask(ids == ""))
        by_id = _targets(codes.astype(np.int64), (codes >= 0) & (target < 0), rows, keep)
        why = np.where(by_id >= 0, 1, why)
        target = np.where(by_id >= 0, by_id, target)
    dup = np.flatnonzero(target >= 0)
    order = dup[np.argsort(rows[dup], kind="stable")]
    of = pd.Series(target[order]).astype("string")
    basis = pd.Series(pd.arrays.ArrowStringArray(_BASES.take(pa.array(why[order]))))
    return pd.DataFrame(
        {
            ROW: rows[order],
            DUPLICATE_OF: target[order],
            REASON: ("duplicate of row " + of + basis).astype("string"),
        }
    )


def _targets(group: IntArray, valid: npt.NDArray[np.bool_], rows: IntArray, keep: Keep) -> IntArray:
    """For each row, the row it duplicates within its ``group`` (-1 if none or not ``valid``)."""
    target = np.full(len(rows), -1, dtype=np.int64)
    at = np.flatnonzero(valid)
    codes, uniques = pd.factorize(group[at])
    r = rows[at]
    kept = _per_group(np.maximum if keep == "last" else np.minimum, codes, r, len(uniques))[codes]
    if keep == "all":
        other = r != kept
        second = _per_group(np.minimum, codes[other], r[other], len(uniques))[codes]
        kept = np.where(other, kept, second)
    target[at] = np.where((kept != r) & (kept != _NONE), kept, -1)
    return target


def _per_group(reduce: np.ufunc, codes: IntArray, values: IntArray, groups: int) -> IntArray:
    """``reduce`` (np.minimum or np.maximum) of ``values`` per group code (``_NONE`` if empty)."""
    start = _NONE if reduce is np.minimum else np.iinfo(np.int64).min
    result = np.full(groups, start, dtype=np.int64)
    reduce.at(result, codes, values)
    return result


def mark_duplicates(df: pd.DataFrame, duplicates: pd.DataFrame) -> pd.DataFrame:
    """The in-run dedup step of the old ``apply_rules``."""
    dups = duplicates[duplicates[ROW].isin(df[ROW])]
    if len(dups):
        reasons = df[ROW].map(dups.set_index(ROW)["reason"])
        df = mark(df, reasons.notna(), "duplicate", reasons.astype("string"))
    return df


def suppress(df: pd.DataFrame, lists: Mapping[str, KeyArray]) -> pd.DataFrame:
    """Mark pending leads with any phone (primary or alternate) on a do-not-call list.

    Args:
        df: A chunk with ``phone_e164`` and, optionally, ``alt_phones``.
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
    primary = phone_key(df[PHONE_E164]).to_numpy()
    alt_at, alt_keys = _alternates(df)
    checks = []
    for name, keys in lists.items():
        hit = contains(keys, primary)
        hit[alt_at[contains(keys, alt_keys)]] = True
        checks.append((hit, name))
    names = combine_reasons(checks, df.index, sep=", ")
    return mark(df, names.notna(), Outcome.SUPPRESSED, "on do-not-call list (" + names + ")")


def contains(keys: KeyArray, values: KeyArray) -> npt.NDArray[np.bool_]:
    """True where a value is in the sorted unique ``keys`` (binary search; 0 never matches)."""
    if len(keys) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    found: npt.NDArray[np.bool_] = (keys[at] == values) & (values > 0)
    return found


def _alternates(df: pd.DataFrame) -> tuple[KeyArray, KeyArray]:
    """Positions and phone keys of every alternate phone, exploded once."""
    if ALT_PHONES not in df.columns:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    alts = pd.Series(df[ALT_PHONES].astype("string").array, index=pd.RangeIndex(len(df)))
    exploded = alts.dropna().str.split("|").explode().astype("string").str.strip()
    exploded = exploded[exploded != ""]
    return exploded.index.to_numpy(dtype=np.int64), phone_key(exploded).to_numpy()
