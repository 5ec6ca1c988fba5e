"""Sending chunk after chunk of ready leads as batches: bounded in-flight requests, retries as task states."""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger

from schemas import columns as C
from schemas.marks import find_rows, mark, place_strings
from schemas.outcomes import Outcome
from tasks.delivery.attempt import describe, give_up
from tasks.delivery.context import Delivery
from tasks.delivery.tasks import SentChunk, push_batch, send_chunk
from tasks.events import emit_batch_loaded
from tasks.masking import mask_text
from tasks.memory import taken
from tasks.progress import StageCount
from tasks.providers.base import result_frame
from tasks.providers.errors import AuthError, RetriableProviderError
from tasks.spool import Spool
from tasks.stages import RuleContext
from tasks.stop import RunStoppedError, stop_requested


@dataclass
class _Chunk:
    """A chunk out in its task (ruled and sent there; ``path`` its prepared file); once every batch of it
    is settled, what the task handed back and the batches' per-lead results."""

    path: str
    sent: SentChunk | None = None
    results: list[pd.DataFrame] = field(default_factory=list)

    def settled(self) -> tuple[pd.DataFrame, int]:
        """The chunk with the batches' outcomes set on its ready leads."""
        sent = self.sent
        assert sent is not None, "a chunk is settled once its task is back"
        df = sent.df
        if self.results:
            merged = pd.concat(self.results, ignore_index=True)
            at = df.index.get_indexer(sent.ready)  # ascending: ``ready`` keeps the chunk's order
            want = df[C.ROW].to_numpy(dtype=np.int64)[at]
            src, found = find_rows(merged[C.ROW].to_numpy(dtype=np.int64), want)
            hit = pd.Series(found)  # a ready lead without a result (none should be) gets NA
            for col in (C.OUTCOME, C.REASON):
                values = merged[col].astype("string").take(src).reset_index(drop=True).where(hit)
                df[col] = place_strings(at, values, df[col])
        return df, sent.batches


#: Chunk tasks out at once, so the next chunk is ruled and its first batches start while the last
#: ones of a chunk finish: with two, the next chunk's task starts only as the one before begins
#: sending, and on a busy CPU its first body was sometimes late (docs/delivery.md).
CHUNKS_IN_FLIGHT = 3
#: How often :meth:`ChunkLoader.wait_first_request` looks whether the first chunk's task ended.
FIRST_POLL_S = 0.02


def first_request_or_end(opened: threading.Event, task: Future[Any], timeout_s: float) -> bool:
    """Wait until ``opened`` is set (a first request is going out) or ``task`` is done, at most
    ``timeout_s``; whether the request went out."""
    deadline = time.monotonic() + timeout_s
    while not opened.wait(FIRST_POLL_S):
        if task.done() or time.monotonic() >= deadline:
            return False
    return True


class ChunkLoader:
    """Rules and sends chunk after chunk: one task per chunk for its rules and the first attempt at its
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
        self.window: deque[tuple[_Chunk, Any]] = deque()
        #: The error of the first chunk task that failed: from then on nothing more is ruled or sent.
        self.failure: BaseException | None = None

    def add(self, path: str, rules: RuleContext, chunk: int) -> list[tuple[pd.DataFrame, int]]:
        """Rule and send prepared chunk number ``chunk`` (its spool path, read by its task); returns the
        chunks (in order) now fully settled."""
        item = _Chunk(path)
        self.chunks.append(item)
        if self.failure is not None:
            item.sent = self._failed(path, f"not sent: a chunk failed ({describe(self.failure)})")
            return self._settled()
        self.window.append((item, send_chunk.submit(self.ctx, path, rules, chunk, self.count)))
        while len(self.window) >= CHUNKS_IN_FLIGHT:
            self._collect_next()
        return self._settled()

    def wait_first_request(self, timeout_s: float) -> None:
        """Wait until the run's first load request goes out, or the first chunk's task ends (it had
        nothing to send, or failed), at most ``timeout_s``."""
        if self.ctx is not None and self.window:
            first_request_or_end(self.ctx.gate.opened, self.window[0][1].wrapped_future, timeout_s)

    def drain(self) -> list[tuple[pd.DataFrame, int]]:
        """Wait for every batch still out; returns the remaining chunks, settled, in order."""
        while self.window:
            self._collect_next()
        return self._settled()

    def _collect_next(self) -> None:
        item, future = self.window.popleft()
        sent = taken(future, raise_on_failure=False)
        if not isinstance(sent, SentChunk):  # reading or ruling the chunk failed, before any of it was sent
            error = sent if isinstance(sent, BaseException) else RuntimeError(f"the chunk task ended with {sent!r}")
            self.failure = self.failure or error
            get_run_logger().error("a chunk's rules or sending failed, nothing more is sent: %s",
                                   mask_text(describe(error)))  # an error's text may quote a lead
            item.sent = self._failed(item.path, f"not sent: its rules or sending failed ({describe(error)})")
            return
        item.results.extend(sent.decided)
        ctx = self.ctx
        if ctx is None:  # a dry run: nothing was sent
            item.sent = sent
            return
        retried = []
        for one in sent.attempts:
            if (one.results is None and isinstance(one.error, RetriableProviderError) and self.may_retry
                    and not stop_requested()):
                retried.append((one, self.retry.submit(ctx, one.batch, one.batch_id)))
            else:
                item.results.append(_settle(ctx, one.batch, one.batch_id,
                                            one.results if one.results is not None else one.error))
        for one, retry in retried:
            outcome = taken(retry, raise_on_failure=False)
            item.results.append(_settle(ctx, one.batch, one.batch_id, outcome))
        item.sent = sent  # last: the chunk counts as settled from here

    def fail(self, error: BaseException) -> None:
        """Send nothing more: chunks added from now on end with their open leads ``failed``."""
        self.failure = self.failure or error

    def _failed(self, path: str, reason: str) -> SentChunk:
        """A chunk none of whose leads is sent: those the preparation left open end ``failed``."""
        df = Spool.read(path)
        open_ = df[C.OUTCOME].isna().to_numpy(dtype=bool)
        self.count.add(int(open_.sum()))
        return SentChunk(mark(df, open_, Outcome.FAILED, reason), df.index[:0])

    def _settled(self) -> list[tuple[pd.DataFrame, int]]:
        done = []
        while self.chunks and self.chunks[0].sent is not None:
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
