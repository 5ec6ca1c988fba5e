"""The Prefect tasks of a load run: chunk- and batch-sized, never one per lead."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from schemas.options import RuleOptions
from schemas.sources import SourceSpec
from tasks.ledger import Ledger
from tasks.load import open_and_deliver
from tasks.progress import StageCount
from tasks.providers.base import Provider
from tasks.providers.errors import AuthError, RetriableProviderError
from tasks.ratelimit import RateLimiter
from tasks.rules.dedup import find_duplicates
from tasks.sources import SourceError, open_source
from tasks.spool import Chunk, Spool
from tasks.stages import RuleContext, apply_rules, dedup_keys, prepare
from tasks.stop import pause, stop_requested, until_stopped

#: Random spread of each retry delay (the same as Prefect's jitter factor would give).
JITTER = 0.3


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


@task(name="Find in-run duplicates", cache_policy=NO_CACHE)
def run_duplicates(keys: list[pd.DataFrame], rules: RuleOptions) -> pd.DataFrame:
    """Duplicates across the whole run (all chunks), by phone and optionally external id."""
    frame = pd.concat(keys, ignore_index=True) if keys else pd.DataFrame(columns=["row", "phone_key", "external_id"])
    return find_duplicates(frame, keep=rules.dedup_keep, by_external_id=rules.dedup_by_external_id)


@task(name="Apply lead rules to chunk", cache_policy=NO_CACHE)
def rules_chunk(path: str, ctx: RuleContext) -> pd.DataFrame:
    """Dedup, DNC, time zones and windows on one chunk; the chunk itself, not spooled (the flow
    takes it a few chunks later, so at most that many are held)."""
    return apply_rules(Spool.read(path), ctx)


def _retry_only_transient(task: object, task_run: object, state: object) -> bool:
    """Retry a batch only for transient provider errors (429, 5xx, timeouts, resets), and not once
    the run was asked to stop."""
    if stop_requested():
        return False
    try:
        state.result()  # type: ignore[attr-defined]
    except RetriableProviderError:
        return True
    except Exception:
        return False
    return False


@task(name="Retry batch", cache_policy=NO_CACHE, retry_condition_fn=_retry_only_transient)
def push_batch(provider: Provider, ledger: Ledger, limiter: RateLimiter, batch: pd.DataFrame,
               batch_id: str, max_wait_s: float, grace_s: float, run_id: str, delays: list[float],
               gate: threading.Semaphore | None = None) -> pd.DataFrame:
    """A batch whose first attempt failed in a way a later one may not: its further attempts, each a
    task run (so they show as task states), resuming what the ledger says is unsettled; per-lead results.

    Each attempt first waits its backoff, ``delays[i]`` with jitter (here rather than as Prefect's
    retry delay, so that a stop ends the wait at once); ``gate`` bounds the load requests in flight
    together with the chunk tasks (look-ups and their grace period do not hold it).
    """
    if delays:
        pause(delays[min(task_run.run_count - 1, len(delays) - 1)] * random.uniform(1 - JITTER, 1 + JITTER))
    return until_stopped(lambda: open_and_deliver(provider, ledger, limiter, batch, batch_id, run_id=run_id,
                                                  max_wait_s=max_wait_s, grace_s=grace_s, gate=gate),
                         f"batch-{batch_id}")


@dataclass
class Attempt:
    """The first attempt at one batch: its per-lead results, or the error it ended with."""

    batch_id: str
    batch: pd.DataFrame
    results: pd.DataFrame | None = None
    error: BaseException | None = None


@task(name="Push chunk batches", cache_policy=NO_CACHE)
def push_chunk(provider: Provider, ledger: Ledger, limiter: RateLimiter, batches: list[tuple[str, pd.DataFrame]],
               max_wait_s: float, grace_s: float, run_id: str, gate: threading.Semaphore,
               workers: int, count: StageCount | None = None) -> list[Attempt]:
    """The first attempt at each batch of a chunk, on ``workers`` threads, as many at once as ``gate``
    (shared with the other chunk tasks) lets through.

    One task run per chunk, not per batch: a batch that fails is handed back with its error (the
    flow retries it as a task of its own, :func:`push_batch`); after a refused credential the
    batches not yet sent are not sent.
    """
    refused = threading.Event()

    def attempt(batch_id: str, batch: pd.DataFrame) -> Attempt:
        try:
            return first_attempt(batch_id, batch)
        finally:
            if count is not None:
                count.add(len(batch))

    def first_attempt(batch_id: str, batch: pd.DataFrame) -> Attempt:
        with gate:
            if refused.is_set():
                return Attempt(batch_id, batch, error=AuthError(f"{provider.name}: refused credential, not sent"))
            try:
                return Attempt(batch_id, batch, until_stopped(
                    lambda: open_and_deliver(provider, ledger, limiter, batch, batch_id, run_id=run_id,
                                             max_wait_s=max_wait_s, grace_s=grace_s), f"batch-{batch_id}"))
            except Exception as ex:
                if isinstance(ex, AuthError):
                    refused.set()
                return Attempt(batch_id, batch, error=ex)

    with ThreadPoolExecutor(max_workers=max(min(len(batches), workers), 1), thread_name_prefix="leadflow-push") as pool:
        return list(pool.map(lambda b: attempt(*b), batches))
