"""Sending a chunk's ready leads as batches: bounded in-flight batches, retries as task states."""

from __future__ import annotations

from collections import deque

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from schemas import columns as C
from schemas.options import RunOptions
from tasks.events import emit_batch_loaded
from tasks.ledger import Ledger
from tasks.load import give_up, plan_batches
from tasks.pipeline import push_batch
from tasks.providers.base import Provider, result_frame
from tasks.providers.errors import AuthError
from tasks.ratelimit import RateLimiter


def retry_delays(opts: RunOptions) -> list[float]:
    """Exponential backoff per attempt, capped (Prefect adds jitter)."""
    load = opts.load
    return [min(load.backoff_s * 2**i, load.max_backoff_s) for i in range(max(load.max_attempts - 1, 0))]


def load_ready(df: pd.DataFrame, prov: Provider | None, ledger: Ledger, opts: RunOptions, *,
               run_id: str, chunk: int) -> tuple[pd.DataFrame, int]:
    """Send the chunk's leads that are still pending; returns the chunk with every outcome set."""
    ready = df[df[C.OUTCOME].isna()]
    if ready.empty:
        return df, 0
    if prov is None:
        df.loc[ready.index, C.OUTCOME] = "loaded"
        df.loc[ready.index, C.REASON] = "dry run: would be loaded, nothing was sent"
        return df, 0
    size = min(opts.load.batch_size or prov.limits.default_batch_size, prov.limits.max_batch_size)
    in_flight = opts.load.concurrency or prov.limits.max_in_flight
    limiter = RateLimiter(ledger, enabled=opts.load.rate_limits, request_timeout_s=opts.load.timeout_s)
    push = push_batch.with_options(retries=max(opts.load.max_attempts - 1, 0), retry_delay_seconds=retry_delays(opts),
                                   retry_jitter_factor=0.3)
    results: list[pd.DataFrame] = []
    window: deque[tuple[str, object]] = deque()
    batches = plan_batches(ready, size)
    for b, batch in enumerate(batches):
        if prov.refused is not None:
            results.append(result_frame(batch, "failed", f"not sent: {prov.name} refused the credentials"))
            continue
        batch_id = f"{run_id[:12]}-{chunk:05d}-{b:05d}"
        ledger.open_batch(batch_id, run_id=run_id, provider=prov.name, account=prov.account,
                          campaign=prov.campaign, batch=batch)
        window.append((batch_id, push.submit(prov, ledger, limiter, batch, batch_id, opts.load.max_backoff_s)))
        if len(window) >= in_flight:
            results.append(_collect(ledger, prov, run_id, *window.popleft()))
    while window:
        results.append(_collect(ledger, prov, run_id, *window.popleft()))
    merged = pd.concat(results, ignore_index=True).set_index(C.ROW)
    rows = df.loc[ready.index, C.ROW]
    df.loc[ready.index, C.OUTCOME] = rows.map(merged[C.OUTCOME]).to_numpy()
    df.loc[ready.index, C.REASON] = rows.map(merged[C.REASON]).to_numpy()
    return df, len(batches)


def _collect(ledger: Ledger, prov: Provider, run_id: str, batch_id: str, future: object) -> pd.DataFrame:
    outcome = future.result(raise_on_failure=False)  # type: ignore[attr-defined]
    if isinstance(outcome, pd.DataFrame):
        frame = outcome
    else:
        error = outcome if isinstance(outcome, BaseException) else None
        if isinstance(error, AuthError):
            prov.refused = error
        get_run_logger().warning("batch %s not delivered after its attempts: %s", batch_id, type(error).__name__)
        frame = give_up(ledger, batch_id, error)
    counts = {str(k): int(v) for k, v in frame[C.OUTCOME].value_counts().items()}
    emit_batch_loaded(prov.name, prov.campaign, run_id, batch_id, counts)
    return frame


@task(name="Reconcile unsettled batches", cache_policy=NO_CACHE)
def reconcile_unsettled(prov: Provider, ledger: Ledger) -> int:
    """Batches an earlier run sent without hearing back: find out which leads landed."""
    log = get_run_logger()
    fixed = 0
    for batch_id in ledger.unsettled_batches(prov.name, prov.account, prov.campaign):
        recorded = ledger.batch_leads(batch_id)
        sending = recorded[recorded["status"] == "sending"]
        found = prov.reconcile(sending)
        if found is None:
            verdict = pd.DataFrame({C.ROW: sending["row"].to_numpy(), C.OUTCOME: "failed",
                                    C.REASON: "fate unknown after a crash; resent with the provider's duplicate check"})
        else:
            hit = found.set_index(C.ROW)["found"].astype(bool)
            landed = sending["row"].map(hit).fillna(False).astype(bool).to_numpy()
            verdict = pd.DataFrame({C.ROW: sending["row"].to_numpy()})
            verdict[C.OUTCOME] = ["loaded" if x else "failed" for x in landed]
            verdict[C.REASON] = ["confirmed by lookup after a crash" if x else "not found after a crash; resent"
                                 for x in landed]
        ledger.settle_leads(batch_id, verdict)
        fixed += len(verdict)
        log.info("reconciled batch %s: %s leads", batch_id, len(verdict))
    return fixed
