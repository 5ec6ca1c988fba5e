"""Duplicate leads: within a run over a compact key frame, and against what earlier runs loaded."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.columns import EXTERNAL_ID, ROW
from schemas.marks import find_rows, mark
from schemas.outcomes import Outcome
from tasks.rules.phone_text import concat, large_strings, string_series
from tasks.rules.phones import primary_keys

#: Column of the compact key frame holding :func:`tasks.rules.phones.phone_key` (0: no phone).
KEY = "phone_key"
#: Column of the duplicates frame naming the row that is kept instead.
DUPLICATE_OF = "duplicate_of"
REASON = "reason"

Keep = Literal["first", "last", "all"]
_BASES = pa.array([" (same phone)", " (same external_id)"], pa.large_string())
IntArray = npt.NDArray[np.int64]
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
    ids = stripped_ids(keys[EXTERNAL_ID]) if by_external_id and EXTERNAL_ID in keys.columns else None
    return duplicates_of(rows, phone, ids, keep)


def stripped_ids(ids: pd.Series) -> pa.LargeStringArray:
    """External ids as ``ids.astype("string").str.strip()`` gives them, as Arrow strings (the same kernel)."""
    stripped: pa.LargeStringArray = pc.utf8_trim_whitespace(large_strings(ids.astype("string")))
    return stripped


def duplicates_of(rows: IntArray, phone: IntArray, ids: pa.Array | None, keep: Keep) -> pd.DataFrame:
    """:func:`find_duplicates` over the key frame's columns: ``ids`` stripped (:func:`stripped_ids`) or None."""
    target = _targets(phone, phone > 0, rows, keep)
    why = np.where(target >= 0, 0, -1)
    if ids is not None:
        codes = _id_codes(ids)
        by_id = _targets(codes, (codes >= 0) & (target < 0), rows, keep)
        why = np.where(by_id >= 0, 1, why)
        target = np.where(by_id >= 0, by_id, target)
    dup = np.flatnonzero(target >= 0)
    order = dup[np.argsort(rows[dup], kind="stable")]
    of = pc.cast(pa.array(target[order]), pa.large_string())
    reason = concat("duplicate of row ", of, _BASES.take(pa.array(why[order])))
    return pd.DataFrame({ROW: rows[order], DUPLICATE_OF: target[order], REASON: string_series(reason)})


def _id_codes(ids: pa.Array) -> IntArray:
    """A code per distinct id (-1: missing or blank): equal codes for equal ids, nothing else."""
    encoded = pc.dictionary_encode(ids)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    blank = pc.index(encoded.dictionary, pa.scalar("", encoded.dictionary.type)).as_py()
    if blank >= 0:
        codes[codes == blank] = -1
    out: IntArray = codes
    return out


def _targets(group: IntArray, valid: npt.NDArray[np.bool_], rows: IntArray, keep: Keep) -> IntArray:
    """For each row, the row it duplicates within its ``group`` (-1 if none or not ``valid``).

    Sorts the valid rows by group once (no hash table) and reduces each run of equal groups.
    """
    target = np.full(len(rows), -1, dtype=np.int64)
    if valid.all():
        order = np.argsort(group)
    else:
        at = np.flatnonzero(valid)
        order = at[np.argsort(group[at])]
    sorted_group = group[order]
    same = sorted_group[1:] == sorted_group[:-1]
    shared = np.flatnonzero(np.r_[False, same] | np.r_[same, False])  # rows whose group has others: few
    if len(shared) == 0:
        return target
    order, sorted_group = order[shared], sorted_group[shared]
    r = rows[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    reduce = np.maximum if keep == "last" else np.minimum
    kept = np.repeat(reduce.reduceat(r, starts), sizes)
    if keep == "all":
        other = r != kept
        second = np.repeat(np.minimum.reduceat(np.where(other, r, _NONE), starts), sizes)
        kept = np.where(other, kept, second)
    target[order] = np.where((kept != r) & (kept != _NONE), kept, -1)
    return target


def mark_duplicates(df: pd.DataFrame, duplicates: pd.DataFrame) -> pd.DataFrame:
    """Mark the pending leads of a chunk that :func:`find_duplicates` found (by ``row``, with its ``reason``).

    Args:
        df: A chunk with ``row``.
        duplicates: The run's duplicates: ``row`` (unique) and ``reason``.

    Returns:
        The chunk itself if none of its rows is a duplicate, else a copy with those marked ``duplicate``.
    """
    dup_rows = duplicates[ROW].to_numpy(dtype=np.int64)
    if len(dup_rows) == 0 or len(df) == 0:
        return df
    rows = df[ROW].to_numpy(dtype=np.int64)
    if bool(np.all(rows[1:] > rows[:-1])):  # ascending, as chunks come: a binary search per duplicate, not per row
        where, found = find_rows(rows, dup_rows)
        at = np.full(len(rows), -1, dtype=np.intp)
        at[where[found]] = np.flatnonzero(found)
        hit = at >= 0
    else:
        at, hit = find_rows(dup_rows, rows)
    if not hit.any():
        return df
    reasons = large_strings(duplicates[REASON].astype("string")).take(pa.array(at, mask=~hit))
    return mark(df, hit, Outcome.DUPLICATE, string_series(reasons, df.index))


def already_loaded(df: pd.DataFrame, loaded: pd.DataFrame) -> pd.DataFrame:
    """Mark pending leads whose phone was already loaded by an earlier run as ``duplicate``.

    Args:
        df: A chunk with ``phone_e164`` (or ``phone_key``).
        loaded: Ledger rows already filtered by scope and cooldown: ``phone_key``,
            ``provider``, ``campaign``, ``loaded_at``, ``run_id``.

    Returns:
        The chunk; matching pending leads get reason
        ``"already loaded to <provider>/<campaign> on <date> (run <id>)"`` (latest load).
    """
    key = primary_keys(df)
    if loaded.empty:
        return mark(df, np.zeros(len(df), dtype=bool), Outcome.DUPLICATE, "")
    when = pd.to_datetime(loaded["loaded_at"], utc=True, errors="coerce", format="ISO8601")
    latest = loaded.assign(when=when).sort_values("when", na_position="first")
    latest = latest.drop_duplicates(KEY, keep="last")
    reason = (
        "already loaded to " + latest["provider"].astype("string")
        + "/" + latest["campaign"].astype("string")
        + " on " + latest["when"].dt.strftime("%Y-%m-%d").astype("string").fillna("an unknown date")
        + " (run " + latest["run_id"].astype("string") + ")"
    )
    wanted = key.to_numpy(dtype=np.int64)
    at = pd.Index(latest[KEY].astype("int64")).get_indexer(pd.Index(wanted))
    hit = (at >= 0) & (wanted > 0)
    found = pd.Series(reason.array.take(np.where(hit, at, -1), allow_fill=True), index=df.index)
    return mark(df, hit, Outcome.DUPLICATE, found)
