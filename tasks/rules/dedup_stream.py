"""In-run duplicates found chunk by chunk, so a chunk's leads can go out before later chunks are prepared.

With ``keep="first"`` (the default) whether a row is a duplicate depends on the rows before it only:
chunk ``i``'s duplicates are known once chunks ``0..i`` are. ``keep="last"`` and ``keep="all"``
depend on later rows too; for them the run waits for every chunk (:class:`WholeRunDuplicates`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from schemas.columns import EXTERNAL_ID, ROW
from schemas.marks import find_rows
from schemas.text import byte_view, nonnull
from tasks.rules.dedup import KEY, duplicates_of, find_duplicates, stripped_ids

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: The duplicates frame of no row.
EMPTY = pd.DataFrame({ROW: pd.Series(dtype="int64"), "duplicate_of": pd.Series(dtype="int64"),
                      "reason": pd.Series(dtype="string")})
#: Multiplier of the polynomial hash of external ids (odd).
_HASH_BASE: Final = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class _Keys:
    """Key columns of some rows as arrays: row numbers, phone keys (0: none), stripped ids (None: not used)."""

    rows: IntArray
    phones: IntArray
    ids: pa.LargeStringArray | None

    def take(self, at: IntArray) -> _Keys:
        return _Keys(self.rows[at], self.phones[at], None if self.ids is None else self.ids.take(pa.array(at)))

    @staticmethod
    def concat(parts: Sequence[_Keys]) -> _Keys:
        ids = [p.ids for p in parts if p.ids is not None]
        return _Keys(np.concatenate([p.rows for p in parts]), np.concatenate([p.phones for p in parts]),
                     pa.concat_arrays(ids) if len(ids) == len(parts) else None)


class FirstSeenDuplicates:
    """``keep="first"`` duplicates of each chunk, given in row order, as :func:`find_duplicates` finds them
    over the whole run.

    It keeps the rows a later row may duplicate: those that are not a duplicate by phone (the first
    row of each phone, and, with ``by_external_id``, rows without a phone). For a new chunk only the
    kept rows that share its phones or external ids take part in the search, found by binary search
    in sorted keys (:class:`SortedKeys`): a chunk no longer tests every earlier chunk's rows, only
    copies the sorted keys once to add its own.
    """

    def __init__(self, *, by_external_id: bool) -> None:
        self.by_external_id = by_external_id
        self.kept: list[_Keys] = []  # one part per chunk: a growing array would be copied each time
        self.starts: list[int] = [0]  # where each part starts among the kept rows, and where the next will
        self.phones, self.ids = SortedKeys(), SortedKeys()

    def add(self, keys: pd.DataFrame) -> pd.DataFrame:
        """The duplicates among ``keys`` (a chunk's key frame, rows after every earlier chunk's)."""
        chunk = _sorted_keys(keys, self.by_external_id)
        runs = _PhoneRuns.of(chunk.phones)
        first, count = self.phones.spans(runs.distinct)  # where each phone is (or would go) among the kept
        places = [self.phones.places_at(first, count)]
        ids = _id_hashes(chunk.ids) if chunk.ids is not None else None
        if ids is not None:
            places.append(self.ids.places_of(ids[0][ids[1]]))
        earlier = self._kept_at(_distinct(np.concatenate(places)))
        frame = _Keys.concat([earlier, chunk]) if len(earlier.rows) else chunk
        found = duplicates_of(frame.rows, frame.phones, frame.ids, "first")
        # A kept row may be a duplicate by external id: said for its own chunk.
        found = found[find_rows(chunk.rows, found[ROW].to_numpy(dtype=np.int64))[1]]
        by_phone = (chunk.phones > 0) & (runs.repeated | (count > 0)[runs.run_of])
        self._keep(chunk, np.flatnonzero(~by_phone & ((chunk.phones > 0) | self.by_external_id)), runs, first, ids)
        return found if len(found) else EMPTY

    def _keep(self, chunk: _Keys, at: IntArray, runs: _PhoneRuns, first: IntArray,
              ids: tuple[IntArray, BoolArray] | None) -> None:
        """Keep the chunk's rows at ``at``; ``first`` is where :meth:`SortedKeys.spans` found each phone's place."""
        places = np.arange(self.starts[-1], self.starts[-1] + len(at), dtype=np.int64)
        # The kept rows with a phone are the first row of each phone not kept before: one per such phone.
        place_of_run = np.full(len(runs.distinct), -1, dtype=np.int64)
        with_phone = chunk.phones[at] > 0
        place_of_run[runs.run_of[at[with_phone]]] = places[with_phone]
        new = np.flatnonzero(place_of_run >= 0)
        self.phones.insert(first[new], runs.distinct[new], place_of_run[new])
        if ids is not None:
            hashes, has = ids[0][at], ids[1][at]
            self.ids.add(hashes[has], places[has])
        self.kept.append(chunk.take(at))
        self.starts.append(self.starts[-1] + len(at))

    def _kept_at(self, places: IntArray) -> _Keys:
        """The kept rows at ``places`` (ascending), in the order they were kept."""
        bounds = np.searchsorted(places, self.starts).tolist()
        parts = [self.kept[p].take(places[lo:hi] - self.starts[p])
                 for p, (lo, hi) in enumerate(pairwise(bounds)) if hi > lo]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return _Keys(empty, empty, pa.array([], pa.large_string()) if self.by_external_id else None)
        return _Keys.concat(parts) if len(parts) > 1 else parts[0]


def _sorted_keys(keys: pd.DataFrame, by_external_id: bool) -> _Keys:
    """A chunk's key frame as arrays, in row order."""
    chunk = _Keys(keys[ROW].to_numpy(dtype=np.int64), keys[KEY].fillna(0).to_numpy(dtype=np.int64),
                  stripped_ids(keys[EXTERNAL_ID]) if by_external_id else None)
    if bool(np.all(chunk.rows[1:] >= chunk.rows[:-1])):
        return chunk
    return chunk.take(np.argsort(chunk.rows, kind="stable"))


@dataclass(frozen=True)
class _PhoneRuns:
    """A chunk's phones grouped: the distinct ones (ascending), each row's among them, and repeats."""

    distinct: IntArray
    run_of: IntArray  #: the index in ``distinct`` of each row's phone
    repeated: BoolArray  #: whether an earlier row of the chunk has the row's phone (``Series.duplicated``)

    @staticmethod
    def of(phones: IntArray) -> _PhoneRuns:
        order = np.argsort(phones)
        ordered = phones[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(phones) else order
        run_of = np.empty(len(phones), dtype=np.int64)
        run_of[order] = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(phones)]))
        repeated = np.ones(len(phones), dtype=bool)
        if len(phones):
            repeated[np.minimum.reduceat(order, starts)] = False  # the first row of each phone
        return _PhoneRuns(ordered[starts], run_of, repeated)


def _distinct(values: IntArray) -> IntArray:
    """``np.unique(values)`` by one sort (numpy's hash-based unique is slower on these sizes)."""
    ordered = np.sort(values)
    out: IntArray = ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered
    return out


def _id_hashes(ids: pa.LargeStringArray) -> tuple[IntArray, BoolArray]:
    """A 64-bit hash of each (stripped) external id, and whether the row has one (neither missing nor blank).

    A polynomial over the UTF-8 bytes, modulo 2**64, computed for the ids of one length at a time as
    a block (ids mostly share a length). Two ids may share a hash: the rows they bring in are only
    candidates, and the search itself compares the ids.
    """
    data, offsets = byte_view(ids)
    lengths = np.diff(offsets)
    has: BoolArray = nonnull(ids) & (lengths > 0)
    hashes = np.zeros(len(ids), dtype=np.uint64)
    for length in np.flatnonzero(np.bincount(lengths[has])).tolist():  # the lengths there are
        rows = np.flatnonzero(has & (lengths == length))
        block = data[offsets[rows][:, None] + np.arange(length)]
        value = np.zeros(len(rows), dtype=np.uint64)
        for col in range(length):
            value *= _HASH_BASE
            value += block[:, col]
        hashes[rows] = value
    return hashes.view(np.int64), has


class SortedKeys:
    """Keys (int64) with a place each, kept sorted: which places hold any of some keys, by binary search.

    Adding shifts the arrays once (as ``np.insert``), a memory copy; finding costs a binary search per
    key asked, and a second one per key found. A key may have several places.
    """

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)
        self.places = np.empty(0, dtype=np.int64)

    def add(self, keys: npt.NDArray[np.int64], places: npt.NDArray[np.int64]) -> None:
        """Add ``keys``, the key at ``keys[i]`` held at ``places[i]``."""
        order = np.argsort(keys)  # equal keys in any order: places_of promises none
        self.insert(np.searchsorted(self.keys, keys[order], side="right"), keys[order], places[order])

    def insert(self, at: IntArray, keys: IntArray, places: IntArray) -> None:
        """Add ascending ``keys`` (with their places), each before the key now at ``at[i]`` (ascending).

        ``np.insert`` twice, sharing the work: one mask of where the old keys go.
        """
        new = at + np.arange(len(at))
        old = np.ones(len(self.keys) + len(at), dtype=bool)
        old[new] = False
        self.keys, self.places = (_merged(self.keys, keys, old, new), _merged(self.places, places, old, new))

    def places_of(self, keys: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The places of every key equal to one of ``keys``, in no particular order."""
        return self.places_at(*self.spans(_distinct(np.asarray(keys, dtype=np.int64))))

    def spans(self, wanted: IntArray) -> tuple[IntArray, IntArray]:
        """Where the keys equal to each of ``wanted`` (ascending, distinct) start, and how many there are."""
        first = np.searchsorted(self.keys, wanted, side="left")
        count = np.zeros(len(wanted), dtype=np.int64)
        if len(self.keys):
            hit = np.flatnonzero(self.keys[np.minimum(first, len(self.keys) - 1)] == wanted)
            count[hit] = np.searchsorted(self.keys, wanted[hit], side="right") - first[hit]
        return first, count

    def places_at(self, first: IntArray, count: IntArray) -> IntArray:
        """The places of the keys at ``first[i] .. first[i] + count[i] - 1`` of every i, as one array."""
        step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        found: IntArray = self.places[np.repeat(first, count) + step]
        return found


def _merged(kept: IntArray, added: IntArray, old: BoolArray, new: IntArray) -> IntArray:
    out = np.empty(len(old), dtype=np.int64)
    out[old] = kept
    out[new] = added
    return out


class WholeRunDuplicates:
    """``keep="last"`` or ``"all"``: every chunk's keys first (``all_keys`` waits for them), then one search."""

    def __init__(self, all_keys: Callable[[], list[pd.DataFrame]], *, keep: str, by_external_id: bool) -> None:
        self.all_keys, self.keep, self.by_external_id = all_keys, keep, by_external_id
        self.found: pd.DataFrame | None = None

    def add(self, keys: pd.DataFrame) -> pd.DataFrame:
        """The duplicates among ``keys``, found over the whole run."""
        if self.found is None:
            parts = self.all_keys()
            frame = pd.concat(parts, ignore_index=True) if parts else keys.iloc[:0]
            self.found = find_duplicates(frame, keep=self.keep, by_external_id=self.by_external_id)  # type: ignore[arg-type]
        return self.found[self.found[ROW].isin(keys[ROW])]
