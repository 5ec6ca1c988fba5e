"""The Prefect tasks that read and prepare a load run's leads: chunk-sized, never one per lead
(delivery's are in ``tasks/delivery/``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.marks import mark
from schemas.options import RuleOptions
from schemas.outcomes import Outcome
from schemas.sources import SourceSpec
from tasks.delivery.attempt import describe
from tasks.memory import taken
from tasks.rules.dedup_stream import FirstSeenDuplicates, WholeRunDuplicates
from tasks.sources import SourceError, open_source
from tasks.spool import Chunk, Spool
from tasks.stages import KEY, conform, dedup_keys, prepare


@dataclass
class Extracted:
    """What extraction left in the spool."""

    paths: list[str] = field(default_factory=list)
    rows_read: int = 0
    max_watermark: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


# DataFrames are inputs: never hash them for caching (NO_CACHE everywhere below).
@task(name="Extract source", cache_policy=NO_CACHE)
def extract(source: SourceSpec, since: str | None, spool: Spool) -> Iterator[str | Extracted]:
    """Read the source chunk by chunk into the spool; a source error keeps what was read.

    Yields each chunk's spool path as soon as it is written (so the caller can start preparing
    it while the next is read), then, last, the :class:`Extracted` summary.
    """
    out = Extracted()
    try:
        reader = open_source(source, since=since)
        for i, chunk in enumerate(reader):
            out.paths.append(spool.write(f"raw-{i:05d}", chunk))
            out.rows_read += len(chunk)
            yield out.paths[-1]
    except SourceError as ex:
        out.error = str(ex)
        yield out
        return
    out.max_watermark = reader.max_watermark
    out.notes = list(reader.notes)
    yield out


@task(name="Normalize and validate chunk", cache_policy=NO_CACHE)
def prepare_chunk(chunk: Chunk, rules: RuleOptions, provider: str, spool: Spool,
                  name: str) -> tuple[Chunk, pd.DataFrame]:
    """Phones, schema and provider rules on one chunk; returns it (as it came: a spool path, or bytes
    when shipped to a worker on another machine) and its dedup keys."""
    df = prepare(Spool.read(chunk), rules, provider)
    return (Spool.pack(df) if isinstance(chunk, bytes) else spool.write(name, df)), dedup_keys(df)


class PreparedChunks:
    """A run's chunks, prepared in order a few ahead of the one being ruled, each with its in-run duplicates.

    Chunk ``i`` can be ruled and sent as soon as chunks ``0..i`` are prepared: with ``keep="first"``
    its duplicates depend on earlier rows only. ``keep="last"`` and ``"all"`` wait for every chunk.

    Args:
        rules: the run's rule options (dedup keep and external-id setting).
        provider: the provider whose field rules apply.
        spool: where prepared chunks go.
        ahead: chunks prepared beyond the one asked for (``None``: all at once, as for workers on
            other machines).
        first_alone: prepare only the first chunk until :meth:`release` (the run's first request
            then goes out without other chunks' preparation sharing its CPU).
    """

    def __init__(self, rules: RuleOptions, provider: str, spool: Spool, ahead: int | None, *,
                 first_alone: bool = False) -> None:
        self.rules, self.provider, self.spool, self.ahead = rules, provider, spool, ahead
        #: Chunks that may be prepared so far (``None``: as ``ahead`` says).
        self.limit: int | None = 1 if first_alone else None
        self.raw: list[Chunk] = []
        self.futures: list[Any] = []  # None once the chunk is taken
        self.paths: list[str] = []
        self.keys: list[pd.DataFrame | None] = []
        #: The error of the first chunk whose preparation failed (its rows end ``failed``, none is sent).
        self.failure: BaseException | None = None
        by_id = rules.dedup_by_external_id
        self.dups = (FirstSeenDuplicates(by_external_id=by_id) if rules.dedup_keep == "first" else
                     WholeRunDuplicates(self._all_keys, keep=rules.dedup_keep, by_external_id=by_id))

    def __len__(self) -> int:
        return len(self.raw)

    def add(self, chunk: Chunk) -> None:
        """A read chunk (a spool path, or Arrow IPC bytes to ship); prepared at once if within ``ahead``."""
        self.raw.append(chunk)
        self._submit(len(self.paths) + (self.ahead if self.ahead is not None else len(self.raw)))

    def path(self, i: int) -> str:
        """The spool path of prepared chunk ``i`` (waits for it)."""
        self._take(i)
        return self.paths[i]

    def duplicates(self, i: int) -> pd.DataFrame:
        """Chunk ``i``'s in-run duplicates; asked in order, once each."""
        self._take(i)
        keys = self.keys[i]
        assert keys is not None, f"duplicates of chunk {i} asked twice"
        found = self.dups.add(keys)
        self.keys[i] = None  # its rows are settled: the keys are not held to the end of the run
        return found

    def release(self) -> None:
        """Prepare ahead as ``ahead`` says from now on (see ``first_alone``)."""
        self.limit = None

    def wait(self) -> None:
        """Wait for the chunks being prepared (a source error: their rows are reported failed)."""
        for future in self.futures:
            if future is not None:
                future.wait()

    def _submit(self, upto: int) -> None:
        upto = upto if self.limit is None else min(upto, self.limit)
        while len(self.futures) < min(upto, len(self.raw)):
            i = len(self.futures)
            self.futures.append(prepare_chunk.submit(self.raw[i], self.rules, self.provider, self.spool,
                                                     f"prep-{i:05d}"))

    def _take(self, i: int) -> None:
        if self.limit is not None and i >= self.limit:  # a chunk asked for is needed now
            self.limit = None
        self._submit(i + 1 + (self.ahead if self.ahead is not None else len(self.raw)))
        while len(self.paths) <= i:
            j = len(self.paths)
            try:
                out, keys = taken(self.futures[j])
            except Exception as error:
                self.failure = self.failure or error
                out, keys = self._unprepared(j, error)
            self.paths.append(self.spool.keep(f"prep-{j:05d}", out))
            self.keys.append(keys)
            # Neither the read chunk (chunks are taken once the source was read whole) nor the task's
            # result (its key frame) is held to the end of the run.
            self.spool.discard(self.raw[j])
            self.raw[j], self.futures[j] = "", None

    def _unprepared(self, j: int, error: BaseException) -> tuple[Chunk, pd.DataFrame]:
        """Chunk ``j`` whose preparation failed, as a prepared chunk whose every row is ``failed``."""
        df = conform(Spool.read(self.raw[j]))
        df[KEY] = pd.array([pd.NA] * len(df), dtype="Int64")
        reason = f"not sent: preparing its chunk failed ({describe(error)})"
        df = mark(df, np.ones(len(df), dtype=bool), Outcome.FAILED, reason)
        return (Spool.pack(df) if isinstance(self.raw[j], bytes) else self.spool.write(f"prep-{j:05d}", df)), \
            dedup_keys(df)

    def _all_keys(self) -> list[pd.DataFrame]:
        self._take(len(self.raw) - 1)
        return [k for k in self.keys if k is not None]
