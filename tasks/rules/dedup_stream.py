"""In-run duplicates found chunk by chunk, so a chunk's leads can go out before later chunks are prepared.

With ``keep="first"`` (the default) whether a row is a duplicate depends on the rows before it only:
chunk ``i``'s duplicates are known once chunks ``0..i`` are. ``keep="last"`` and ``keep="all"``
depend on later rows too; for them the run waits for every chunk (:class:`WholeRunDuplicates`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from schemas.columns import EXTERNAL_ID, ROW
from tasks.rules.dedup import KEY, find_duplicates

#: The duplicates frame of no row.
EMPTY = pd.DataFrame({ROW: pd.Series(dtype="int64"), "duplicate_of": pd.Series(dtype="int64"),
                      "reason": pd.Series(dtype="string")})


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
        self.kept: list[pd.DataFrame] = []  # one part per chunk: a growing frame would be copied each time
        self.starts: list[int] = [0]  # where each part starts among the kept rows, and where the next will
        self.phones, self.ids = SortedKeys(), SortedKeys()

    def add(self, keys: pd.DataFrame) -> pd.DataFrame:
        """The duplicates among ``keys`` (a chunk's key frame, rows after every earlier chunk's)."""
        chunk = keys.sort_values(ROW, kind="stable", ignore_index=True)
        phones = chunk[KEY].fillna(0).astype("int64")
        ids = _id_keys(chunk) if self.by_external_id else None
        places = [self.phones.places_of(phones[phones > 0].to_numpy(dtype=np.int64))]
        if ids is not None:
            places.append(self.ids.places_of(ids.dropna().to_numpy(dtype=np.int64)))
        earlier = self._kept_rows(np.unique(np.concatenate(places)), chunk)
        frame = pd.concat([earlier, chunk], ignore_index=True) if len(earlier) else chunk
        found = find_duplicates(frame, keep="first", by_external_id=self.by_external_id)
        found = found[found[ROW].isin(chunk[ROW])]  # a kept row may be a duplicate by external id: said before
        by_phone = (phones > 0) & (phones.duplicated() | phones.isin(earlier[KEY]))
        self._keep(chunk, ~by_phone & ((phones > 0) | self.by_external_id), phones, ids)
        return found if len(found) else EMPTY

    def _keep(self, chunk: pd.DataFrame, keep: pd.Series, phones: pd.Series, ids: pd.Series | None) -> None:
        part = chunk[keep] if self.by_external_id else chunk.loc[keep, [ROW, KEY]]  # ids only if they count
        places = np.arange(self.starts[-1], self.starts[-1] + len(part), dtype=np.int64)
        kept_phones = phones[keep].to_numpy()
        self.phones.add(kept_phones[kept_phones > 0], places[kept_phones > 0])
        if ids is not None:
            kept_ids = ids[keep]
            has = kept_ids.notna().to_numpy()
            self.ids.add(kept_ids[has].to_numpy(dtype=np.int64), places[has])
        self.kept.append(part)
        self.starts.append(self.starts[-1] + len(part))

    def _kept_rows(self, places: npt.NDArray[np.int64], like: pd.DataFrame) -> pd.DataFrame:
        """The kept rows at ``places`` (ascending), in the order they were kept."""
        part_of = np.searchsorted(self.starts, places, side="right") - 1
        rows = [self.kept[p].iloc[places[part_of == p] - self.starts[p]] for p in np.unique(part_of)]
        return pd.concat(rows, ignore_index=True) if rows else like.iloc[:0]


def _id_keys(chunk: pd.DataFrame) -> pd.Series:
    """Each row's external id, stripped, as a 64-bit hash (NA where it has none).

    Two ids may share a hash: the rows they bring in are only candidates, and the search itself
    compares the ids.
    """
    ids = chunk[EXTERNAL_ID].astype("string").str.strip()
    has = ids.fillna("") != ""
    hashed = pd.Series(pd.NA, index=chunk.index, dtype="Int64")
    if has.any():
        hashed[has] = pd.util.hash_array(ids[has].to_numpy(dtype=object)).view(np.int64)
    return hashed


class SortedKeys:
    """Keys (int64) with a place each, kept sorted: which places hold any of some keys, by binary search.

    Adding shifts the arrays once (``np.insert``), a memory copy; finding costs two binary searches per
    key asked. A key may have several places.
    """

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)
        self.places = np.empty(0, dtype=np.int64)

    def add(self, keys: npt.NDArray[np.int64], places: npt.NDArray[np.int64]) -> None:
        """Add ``keys``, the key at ``keys[i]`` held at ``places[i]``."""
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self.keys, keys[order], side="right")
        self.keys = np.insert(self.keys, at, keys[order])
        self.places = np.insert(self.places, at, places[order])

    def places_of(self, keys: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The places of every key equal to one of ``keys``, in no particular order."""
        wanted = np.unique(np.asarray(keys, dtype=np.int64))
        first = np.searchsorted(self.keys, wanted, side="left")
        count = np.searchsorted(self.keys, wanted, side="right") - first
        # The positions first[i] .. first[i] + count[i] - 1 of every i, as one array.
        step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        found: npt.NDArray[np.int64] = self.places[np.repeat(first, count) + step]
        return found


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
