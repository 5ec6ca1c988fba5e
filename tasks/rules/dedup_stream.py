"""In-run duplicates found chunk by chunk, so a chunk's leads can go out before later chunks are prepared.

With ``keep="first"`` (the default) whether a row is a duplicate depends on the rows before it only:
chunk ``i``'s duplicates are known once chunks ``0..i`` are. ``keep="last"`` and ``keep="all"``
depend on later rows too; for them the run waits for every chunk (:class:`WholeRunDuplicates`).
"""

from __future__ import annotations

from collections.abc import Callable

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
    kept rows that share its phones or external ids take part in the search.
    """

    def __init__(self, *, by_external_id: bool) -> None:
        self.by_external_id = by_external_id
        self.kept: list[pd.DataFrame] = []  # one part per chunk: a growing frame would be copied each time

    def add(self, keys: pd.DataFrame) -> pd.DataFrame:
        """The duplicates among ``keys`` (a chunk's key frame, rows after every earlier chunk's)."""
        chunk = keys.sort_values(ROW, kind="stable", ignore_index=True)
        phones = chunk[KEY].fillna(0).astype("int64")
        ids = chunk[EXTERNAL_ID].astype("string").str.strip() if self.by_external_id else None
        related = [part[self._related(part, phones, ids)] for part in self.kept]
        earlier = pd.concat(related, ignore_index=True) if related else chunk.iloc[:0]
        frame = pd.concat([earlier, chunk], ignore_index=True) if len(earlier) else chunk
        found = find_duplicates(frame, keep="first", by_external_id=self.by_external_id)
        found = found[found[ROW].isin(chunk[ROW])]  # a kept row may be a duplicate by external id: said before
        by_phone = (phones > 0) & (phones.duplicated() | phones.isin(earlier[KEY]))
        self.kept.append(chunk[~by_phone & ((phones > 0) | self.by_external_id)])
        return found if len(found) else EMPTY

    def _related(self, part: pd.DataFrame, phones: pd.Series, ids: pd.Series | None) -> pd.Series:
        """Rows of a kept part that share a phone (or an external id) with the new chunk."""
        hit = part[KEY].isin(phones[phones > 0])
        if ids is not None:
            hit |= part[EXTERNAL_ID].astype("string").str.strip().isin(ids[ids.fillna("") != ""])
        return hit


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
