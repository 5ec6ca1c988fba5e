"""Sending chunk after chunk of ready leads as batches: bounded in-flight requests, retries as task states."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger

from schemas import columns as C
from schemas.marks import find_rows, place_strings
from schemas.outcomes import Outcome
from tasks.delivery.attempt import give_up, plan_batches
from tasks.delivery.context import Delivery
from tasks.delivery.pipelined import Attempt
from tasks.delivery.tasks import push_batch, push_chunk
from tasks.events import emit_batch_loaded
from tasks.memory import taken
from tasks.progress import StageCount
from tasks.providers.base import result_frame
from tasks.providers.errors import AuthError, RetriableProviderError
from tasks.stop import RunStoppedError, stop_reason, stop_requested


@dataclass
class _Chunk:
    """A chunk whose ready leads are out in batches."""

    df: pd.DataFrame
    ready: pd.Index
    batches: int = 0
    open: int = 0
    results: list[pd.DataFrame] = field(default_factory=list)

    def settled(self) -> tuple[pd.DataFrame, int]:
        """The chunk with the batches' outcomes set on its ready leads."""
        if self.results:
            merged = pd.concat(self.results, ignore_index=True)
            at = self.df.index.get_indexer(self.ready)  # ascending: ``ready`` keeps the chunk's order
            want = self.df[C.ROW].to_numpy(dtype=np.int64)[at]
            src, found = find_rows(merged[C.ROW].to_numpy(dtype=np.int64), want)
            hit = pd.Series(found)  # a ready lead without a result (none should be) gets NA
            for col in (C.OUTCOME, C.REASON):
                values = merged[col].astype("string").take(src).reset_index(drop=True).where(hit)
                self.df[col] = place_strings(at, values, self.df[col])
        return self.df, self.batches


#: Chunk tasks out at once, so the next chunk's batches start while the last ones of a chunk finish.
CHUNKS_IN_FLIGHT = 2


class ChunkLoader:
    """Sends the ready leads of chunk after chunk: one task per chunk for the first attempt at its
    batches, one task per batch (with its retries as task states) for the few that need more.

    At most ``in_flight`` requests are out at once, across the chunk tasks running side by side,
    so the provider is never idle while the next chunk is added. Chunks come back from
    :meth:`add` and :meth:`drain` in order, each once all of its batches are settled.
    """

    def __init__(self, ctx: Delivery | None, *, count: StageCount | None = None) -> None:
        self.ctx = ctx
        #: Leads done, counted as each batch is answered (or decided without sending).
        self.count = count or StageCount("load", 0)
        delays = ctx.delays if ctx is not None else []
        self.retry = push_batch.with_options(retries=max(len(delays) - 1, 0), retry_delay_seconds=0)
        self.may_retry = bool(delays)
        self.chunks: deque[_Chunk] = deque()
        self.window: deque[tuple[_Chunk, list[tuple[str, pd.DataFrame]], Any]] = deque()

    def add(self, df: pd.DataFrame, chunk: int) -> list[tuple[pd.DataFrame, int]]:
        """Send the chunk's pending leads; returns the chunks (in order) now fully settled."""
        ready = df[df[C.OUTCOME].isna()]
        item = _Chunk(df, ready.index)
        self.chunks.append(item)
        self.count.add(len(df) - len(ready))
        ctx = self.ctx
        if ctx is None:
            df.loc[ready.index, C.OUTCOME] = Outcome.LOADED
            df.loc[ready.index, C.REASON] = "dry run: would be loaded, nothing was sent"
            self.count.add(len(ready))
            return self._settled()
        prov, todo = ctx.provider, []
        for b, batch in enumerate(plan_batches(ready, ctx.batch_size)):
            item.batches += 1
            if prov.refused is not None or stop_requested():
                why = (f"{prov.name} refused the credentials" if prov.refused is not None
                       else f"the run was stopped ({stop_reason()})")
                item.results.append(result_frame(batch, Outcome.FAILED, f"not sent: {why}"))
                self.count.add(len(batch))
                continue
            todo.append((f"{ctx.run_id[:12]}-{chunk:05d}-{b:05d}", batch))
        if todo:
            item.open = 1
            self.window.append((item, todo, push_chunk.submit(ctx, todo, self.count)))
            while len(self.window) >= CHUNKS_IN_FLIGHT:
                self._collect_next()
        return self._settled()

    def drain(self) -> list[tuple[pd.DataFrame, int]]:
        """Wait for every batch still out; returns the remaining chunks, settled, in order."""
        while self.window:
            self._collect_next()
        return self._settled()

    def _collect_next(self) -> None:
        item, todo, future = self.window.popleft()
        ctx = self.ctx
        assert ctx is not None
        attempts = taken(future, raise_on_failure=False)
        if not isinstance(attempts, list):  # the chunk task itself failed: every batch ends with its error
            error = attempts if isinstance(attempts, BaseException) else None
            attempts = [Attempt(batch_id, batch, error=error) for batch_id, batch in todo]
        retried = []
        for one in attempts:
            if (one.results is None and isinstance(one.error, RetriableProviderError) and self.may_retry
                    and not stop_requested()):
                retried.append((one, self.retry.submit(ctx, one.batch, one.batch_id)))
            else:
                item.results.append(_settle(ctx, one.batch, one.batch_id,
                                            one.results if one.results is not None else one.error))
        for one, retry in retried:
            outcome = taken(retry, raise_on_failure=False)
            item.results.append(_settle(ctx, one.batch, one.batch_id, outcome))
        item.open = 0

    def _settled(self) -> list[tuple[pd.DataFrame, int]]:
        done = []
        while self.chunks and self.chunks[0].open == 0:
            done.append(self.chunks.popleft().settled())
        return done


def _settle(ctx: Delivery, batch: pd.DataFrame, batch_id: str, outcome: object) -> pd.DataFrame:
    """A batch's per-lead results, or, after its last attempt failed, what the ledger makes of it."""
    if isinstance(outcome, pd.DataFrame):
        frame = outcome
    else:
        error = outcome if isinstance(outcome, BaseException) else None
        if isinstance(error, AuthError):
            ctx.provider.refused = error
        if isinstance(error, RunStoppedError):
            get_run_logger().info("batch %s: %s", batch_id, error)
        else:
            get_run_logger().warning("batch %s not delivered after its attempts: %s", batch_id, type(error).__name__)
        frame = give_up(ctx.ledger, batch_id, error)
        missing = batch[~batch[C.ROW].isin(frame[C.ROW])]
        if len(missing):  # the batch was never recorded: nothing was sent
            reason = f"not sent: {type(error).__name__ if error else 'the batch task failed'}"
            frame = pd.concat([frame, result_frame(missing, Outcome.FAILED, reason)], ignore_index=True)
    counts = {str(k): int(v) for k, v in frame[C.OUTCOME].value_counts().items()}
    emit_batch_loaded(ctx.provider.name, ctx.provider.campaign, ctx.run_id, batch_id, counts)
    return frame
