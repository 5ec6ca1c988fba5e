"""The Prefect tasks of delivery: batch-sized, never one per lead."""

from __future__ import annotations

import random

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from schemas import columns as C
from schemas.outcomes import Outcome
from tasks.delivery.attempt import look_up, open_and_deliver
from tasks.delivery.context import Delivery
from tasks.delivery.pipelined import Attempt, first_attempts
from tasks.progress import StageCount
from tasks.providers.errors import ProviderError, RetriableProviderError
from tasks.stop import RunStoppedError, pause, stop_requested, until_stopped

#: Random spread of each retry delay (the same as Prefect's jitter factor would give).
JITTER = 0.3


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


# DataFrames and the run's objects are inputs: never hash them for caching (NO_CACHE everywhere below).
@task(name="Retry batch", cache_policy=NO_CACHE, retry_condition_fn=_retry_only_transient)
def push_batch(ctx: Delivery, batch: pd.DataFrame, batch_id: str) -> pd.DataFrame:
    """A batch whose first attempt failed in a way a later one may not: its further attempts, each a
    task run (so they show as task states), resuming what the ledger says is unsettled; per-lead results.

    Each attempt first waits its backoff, ``ctx.delays[i]`` with jitter (here rather than as Prefect's
    retry delay, so that a stop ends the wait at once); the run's gate bounds the load requests in
    flight together with the chunk tasks (look-ups and their grace period do not hold it).
    """
    delays = ctx.delays
    if delays:
        pause(delays[min(task_run.run_count - 1, len(delays) - 1)] * random.uniform(1 - JITTER, 1 + JITTER))
    return until_stopped(lambda: open_and_deliver(ctx, batch, batch_id), f"batch-{batch_id}")


@task(name="Push chunk batches", cache_policy=NO_CACHE)
def push_chunk(ctx: Delivery, batches: list[tuple[str, pd.DataFrame]],
               count: StageCount | None = None) -> list[Attempt]:
    """The first attempt at each batch of a chunk, pipelined (``pipelined.py``): the next batch is
    recorded and its body built while a request is out, and answers are settled while the next
    request goes; as many requests out at once as the run's gate (shared with the other chunk
    tasks and the retries) lets through.

    One task run per chunk, not per batch: a batch that fails is handed back with its error (the
    flow retries it as a task of its own, :func:`push_batch`); after a refused credential the
    batches not yet sent are not sent.
    """
    return first_attempts(ctx, batches, count)


@task(name="Reconcile unsettled batches", cache_policy=NO_CACHE)
def reconcile_unsettled(ctx: Delivery) -> int:
    """Batches an earlier run sent without hearing back: find out which leads landed.

    Leads found are ``loaded``; leads not found (looked up again after the grace period when
    their request is that recent) are ``failed`` and sent again when they come back. A batch
    whose look-ups keep failing stays unsettled for the next run: its leads are not sent again.
    """
    log = get_run_logger()
    prov, ledger = ctx.provider, ctx.ledger
    fixed = 0
    for batch_id in ledger.unsettled_batches(prov.name, prov.account, prov.campaign):
        if stop_requested():
            break
        recorded = ledger.batch_leads(batch_id)
        sending = recorded[recorded["status"] == "sending"]
        try:
            missing = look_up(ctx, batch_id, sending, found_reason="confirmed by lookup after a crash")
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
            ledger.settle_leads(batch_id, pd.DataFrame({C.ROW: left["row"].to_numpy(), C.OUTCOME: Outcome.FAILED,
                                                        C.REASON: reason}))
        fixed += len(sending)
        log.info("reconciled batch %s: %s leads", batch_id, len(sending))
    return fixed
