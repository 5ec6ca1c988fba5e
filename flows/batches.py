"""Sending a chunk's ready leads as batches: bounded in-flight requests, retries as task states."""

from __future__ import annotations

import threading
from collections import deque
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from schemas import columns as C
from schemas.marks import place_strings
from schemas.options import RunOptions
from tasks.events import emit_batch_loaded
from tasks.http import CallPolicy
from tasks.ledger import Ledger
from tasks.load import give_up, look_up, plan_batches
from tasks.pipeline import Attempt, push_batch, push_chunk
from tasks.progress import StageCount
from tasks.providers.base import Provider, result_frame
from tasks.providers.errors import AuthError, ProviderError, RetriableProviderError
from tasks.ratelimit import RateLimiter
from tasks.stop import RunStoppedError, stop_reason, stop_requested


def retry_delays(opts: RunOptions) -> list[float]:
    """Exponential backoff before each further attempt, capped (jitter is added when waiting)."""
    load = opts.load
    return [min(load.backoff_s * 2**i, load.max_backoff_s) for i in range(max(load.max_attempts - 1, 0))]


#: Seconds one look-up or read keeps being retried while throttled or failing (a 429 storm slows a run).
CALL_PATIENCE_S = 600.0
#: Look-ups and reads in flight at once per campaign and operation.
CALLS_IN_FLIGHT = 16


def call_policy(prov: Provider, ledger: Ledger, opts: RunOptions) -> CallPolicy:
    """Retries and rate limits for the provider's look-ups and reads: the same backoff, ``Retry-After``
    handling and shared rate-limit windows (per operation: ``ProviderLimits.call_windows``) as loads."""
    limiter = RateLimiter(ledger, enabled=opts.load.rate_limits, request_timeout_s=opts.load.timeout_s)

    def slot(operation: str) -> AbstractContextManager[object]:
        windows = prov.limits.call_windows.get(operation, ())
        if not windows:
            return nullcontext()
        return limiter.slot(f"{prov.rate_key}:{operation}", windows, f"{prov.campaign_key}:{operation}", 0.0,
                            CALLS_IN_FLIGHT)

    return CallPolicy(patience_s=CALL_PATIENCE_S, backoff_s=max(opts.load.backoff_s, 0.05),
                      max_backoff_s=opts.load.max_backoff_s, slot=slot,
                      extra_retry=prov.limits.extra_retry_statuses)


def answer_grace_s(opts: RunOptions) -> float:
    """Seconds from an unanswered request to the look-up that may send its leads again."""
    load = opts.load
    return load.answer_grace_s if load.answer_grace_s is not None else max(2 * load.timeout_s, 5.0)


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
            got = merged[C.ROW].to_numpy(dtype=np.int64)
            order = np.argsort(got, kind="stable")
            at = self.df.index.get_indexer(self.ready)  # ascending: ``ready`` keeps the chunk's order
            want = self.df[C.ROW].to_numpy(dtype=np.int64)[at]
            src = order[np.minimum(np.searchsorted(got[order], want), max(len(order) - 1, 0))]
            hit = pd.Series(got[src] == want)  # a ready lead without a result (none should be) gets NA
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

    def __init__(self, prov: Provider | None, ledger: Ledger, opts: RunOptions, *, run_id: str,
                 count: StageCount | None = None) -> None:
        self.prov, self.ledger, self.run_id = prov, ledger, run_id
        #: Leads done, counted as each batch is answered (or decided without sending).
        self.count = count or StageCount("load", 0)
        self.size = self.in_flight = 1
        if prov is not None:
            self.size = min(opts.load.batch_size or prov.limits.default_batch_size, prov.limits.max_batch_size)
            self.in_flight = opts.load.concurrency or prov.limits.max_in_flight
        self.gate = threading.Semaphore(self.in_flight)
        self.limiter = RateLimiter(ledger, enabled=opts.load.rate_limits, request_timeout_s=opts.load.timeout_s)
        self.delays = retry_delays(opts)
        self.retry = push_batch.with_options(retries=max(len(self.delays) - 1, 0), retry_delay_seconds=0)
        self.may_retry = bool(self.delays)
        self.max_wait_s = opts.load.max_backoff_s
        self.grace_s = answer_grace_s(opts)
        self.chunks: deque[_Chunk] = deque()
        self.window: deque[tuple[_Chunk, list[tuple[str, pd.DataFrame]], Any]] = deque()

    def add(self, df: pd.DataFrame, chunk: int) -> list[tuple[pd.DataFrame, int]]:
        """Send the chunk's pending leads; returns the chunks (in order) now fully settled."""
        ready = df[df[C.OUTCOME].isna()]
        item = _Chunk(df, ready.index)
        self.chunks.append(item)
        self.count.add(len(df) - len(ready))
        prov = self.prov
        if prov is None:
            df.loc[ready.index, C.OUTCOME] = "loaded"
            df.loc[ready.index, C.REASON] = "dry run: would be loaded, nothing was sent"
            self.count.add(len(ready))
            return self._settled()
        todo = []
        for b, batch in enumerate(plan_batches(ready, self.size)):
            item.batches += 1
            if prov.refused is not None or stop_requested():
                why = (f"{prov.name} refused the credentials" if prov.refused is not None
                       else f"the run was stopped ({stop_reason()})")
                item.results.append(result_frame(batch, "failed", f"not sent: {why}"))
                self.count.add(len(batch))
                continue
            todo.append((f"{self.run_id[:12]}-{chunk:05d}-{b:05d}", batch))
        if todo:
            item.open = 1
            self.window.append((item, todo, push_chunk.submit(prov, self.ledger, self.limiter, todo, self.max_wait_s,
                                                              self.grace_s, self.run_id, self.gate, self.in_flight,
                                                              self.count)))
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
        prov = self.prov
        assert prov is not None
        attempts = future.result(raise_on_failure=False)
        if not isinstance(attempts, list):  # the chunk task itself failed: every batch ends with its error
            error = attempts if isinstance(attempts, BaseException) else None
            attempts = [Attempt(batch_id, batch, error=error) for batch_id, batch in todo]
        retried = []
        for one in attempts:
            if (one.results is None and isinstance(one.error, RetriableProviderError) and self.may_retry
                    and not stop_requested()):
                retried.append((one, self.retry.submit(prov, self.ledger, self.limiter, one.batch, one.batch_id,
                                                       self.max_wait_s, self.grace_s, self.run_id, self.delays,
                                                       self.gate)))
            else:
                item.results.append(_settle(self.ledger, prov, self.run_id, one.batch, one.batch_id,
                                            one.results if one.results is not None else one.error))
        for one, retry in retried:
            outcome = retry.result(raise_on_failure=False)
            item.results.append(_settle(self.ledger, prov, self.run_id, one.batch, one.batch_id, outcome))
        item.open = 0

    def _settled(self) -> list[tuple[pd.DataFrame, int]]:
        done = []
        while self.chunks and self.chunks[0].open == 0:
            done.append(self.chunks.popleft().settled())
        return done


def _settle(ledger: Ledger, prov: Provider, run_id: str, batch: pd.DataFrame, batch_id: str,
            outcome: object) -> pd.DataFrame:
    """A batch's per-lead results, or, after its last attempt failed, what the ledger makes of it."""
    if isinstance(outcome, pd.DataFrame):
        frame = outcome
    else:
        error = outcome if isinstance(outcome, BaseException) else None
        if isinstance(error, AuthError):
            prov.refused = error
        if isinstance(error, RunStoppedError):
            get_run_logger().info("batch %s: %s", batch_id, error)
        else:
            get_run_logger().warning("batch %s not delivered after its attempts: %s", batch_id, type(error).__name__)
        frame = give_up(ledger, batch_id, error)
        missing = batch[~batch[C.ROW].isin(frame[C.ROW])]
        if len(missing):  # the batch was never recorded: nothing was sent
            reason = f"not sent: {type(error).__name__ if error else 'the batch task failed'}"
            frame = pd.concat([frame, result_frame(missing, "failed", reason)], ignore_index=True)
    counts = {str(k): int(v) for k, v in frame[C.OUTCOME].value_counts().items()}
    emit_batch_loaded(prov.name, prov.campaign, run_id, batch_id, counts)
    return frame


@task(name="Reconcile unsettled batches", cache_policy=NO_CACHE)
def reconcile_unsettled(prov: Provider, ledger: Ledger, grace_s: float) -> int:
    """Batches an earlier run sent without hearing back: find out which leads landed.

    Leads found are ``loaded``; leads not found (looked up again after the grace period when
    their request is that recent) are ``failed`` and sent again when they come back. A batch
    whose look-ups keep failing stays unsettled for the next run: its leads are not sent again.
    """
    log = get_run_logger()
    fixed = 0
    for batch_id in ledger.unsettled_batches(prov.name, prov.account, prov.campaign):
        if stop_requested():
            break
        recorded = ledger.batch_leads(batch_id)
        sending = recorded[recorded["status"] == "sending"]
        try:
            missing = look_up(prov, ledger, batch_id, sending, grace_s=grace_s,
                              found_reason="confirmed by lookup after a crash")
        except (RetriableProviderError, RunStoppedError) as ex:
            log.warning("batch %s not reconciled (%s): left for the next run", batch_id, type(ex).__name__)
            continue
        except ProviderError as ex:
            log.warning("batch %s not reconciled (%s): left for the next run", batch_id, ex)
            continue
        if missing is None:
            reason = "fate unknown after a crash; resent with the provider's duplicate check"
        else:
            reason = "not found after a crash; resent"
        left = sending if missing is None else missing
        if len(left):
            ledger.settle_leads(batch_id, pd.DataFrame({C.ROW: left["row"].to_numpy(), C.OUTCOME: "failed",
                                                        C.REASON: reason}))
        fixed += len(sending)
        log.info("reconciled batch %s: %s leads", batch_id, len(sending))
    return fixed
