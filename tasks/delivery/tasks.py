"""The Prefect tasks of delivery: batch-sized, never one per lead."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from schemas import columns as C
from schemas.outcomes import Outcome
from tasks.delivery.attempt import look_up, open_and_deliver, plan_batches
from tasks.delivery.context import Delivery
from tasks.delivery.pipelined import Attempt, first_attempts
from tasks.progress import StageCount
from tasks.providers.base import result_frame
from tasks.providers.errors import ProviderError, RetriableProviderError
from tasks.spool import Spool
from tasks.stages import RuleContext, apply_rules
from tasks.stop import RunStoppedError, pause, stop_reason, stop_requested, until_stopped

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


@dataclass
class SentChunk:
    """A chunk after its task: the rules applied, its ready leads' index, how many batches they made,
    the results of the batches decided without sending, and the first attempt at each of the others."""

    df: pd.DataFrame
    ready: pd.Index
    batches: int = 0
    decided: list[pd.DataFrame] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)


@task(name="Rule and send chunk", cache_policy=NO_CACHE)
def send_chunk(ctx: Delivery | None, path: str, rules: RuleContext, chunk: int, count: StageCount) -> SentChunk:
    """One prepared chunk: its rules (dedup, DNC, zones, windows), then the first attempt at each batch
    of its ready leads, pipelined (``pipelined.py``): the next batch is recorded and its body built
    while a request is out, and answers are settled while the next request goes; as many requests
    out at once as the run's gate (shared with the other chunk tasks and the retries) lets through.

    One task run per chunk, not per batch or per stage: each task run costs the Prefect server
    about 27 ms of CPU (``benchmarks/README.md``). A batch that fails is handed back with its error
    (the flow retries it as a task of its own, :func:`push_batch`). Once the run is stopped, no rules
    run and nothing is sent; after a refused credential the batches not yet sent are not sent. A dry
    run (``ctx`` None) marks the ready leads as they would be loaded.
    """
    df = Spool.read(path)
    if not stop_requested():
        df = apply_rules(df, rules)
    ready = df[df[C.OUTCOME].isna()]
    count.add(len(df) - len(ready))
    out = SentChunk(df, ready.index)
    if ctx is None:
        df.loc[ready.index, C.OUTCOME] = Outcome.LOADED
        df.loc[ready.index, C.REASON] = "dry run: would be loaded, nothing was sent"
        count.add(len(ready))
        return out
    prov, todo = ctx.provider, []
    for b, batch in enumerate(plan_batches(ready, ctx.batch_size)):
        out.batches += 1
        if prov.refused is not None or stop_requested():
            why = (f"{prov.name} refused the credentials" if prov.refused is not None
                   else f"the run was stopped ({stop_reason()})")
            out.decided.append(result_frame(batch, Outcome.FAILED, f"not sent: {why}"))
            count.add(len(batch))
            continue
        todo.append((f"{ctx.run_id[:12]}-{chunk:05d}-{b:05d}", batch))
    try:
        out.attempts = first_attempts(ctx, todo, count) if todo else []
    except Exception as ex:  # every batch of the chunk ends with the error (the flow settles each with the ledger)
        out.attempts = [Attempt(batch_id, batch, error=ex) for batch_id, batch in todo]
    return out


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
