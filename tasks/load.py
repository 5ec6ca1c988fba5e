"""Delivering batches: rate limits, retry classification, splitting refused batches, recording.

One call of ``deliver_batch`` is one attempt (one Prefect task run attempt); the task's retries
call it again and it resumes from what the ledger says is still unsettled, so a retry or a
rerun never sends a lead that already landed.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from schemas import columns as C
from tasks.http import send
from tasks.ledger import Ledger
from tasks.providers.base import UNSETTLED, Provider, result_frame
from tasks.providers.errors import (
    AmbiguousDeliveryError,
    BatchRefusedError,
    FatalProviderError,
    RetriableProviderError,
)
from tasks.ratelimit import RateLimiter

log = logging.getLogger(__name__)

AMBIGUOUS = "ambiguous"


def plan_batches(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    """Split ready leads into batches of at most ``size``."""
    return [frame.iloc[i:i + size] for i in range(0, len(frame), size)]


def deliver_batch(provider: Provider, ledger: Ledger, limiter: RateLimiter, batch: pd.DataFrame,
                  batch_id: str, *, max_wait_s: float = 60.0) -> pd.DataFrame:
    """One attempt at the unsettled leads of a batch; the settled results of the whole batch.

    A batch never attempted before (no failed attempt noted in the ledger) is exactly as
    ``open_batch`` recorded it, every lead ``sending``: its first attempt skips reading the leads
    back and returns what it settled. Every later attempt resumes from the ledger.

    Raises:
        RetriableProviderError: the attempt failed in a way a later attempt may not.
        FatalProviderError: the provider refused in a way no retry will fix.
    """
    attempts, detail = ledger.batch_state(batch_id)
    settled: list[pd.DataFrame] = []
    if attempts == 0:
        todo = batch.copy()
        todo[C.RESEND] = False
        _send_split(provider, ledger, limiter, todo, batch_id, max_wait_s, settled)
        return _as_recorded(settled, batch) if _covers(settled, batch) else settled_results(ledger, batch_id)
    recorded = ledger.batch_leads(batch_id)
    sending = recorded[recorded["status"] == "sending"]
    resend = (detail or "").startswith(AMBIGUOUS)
    if resend and len(sending):
        sending = _reconcile(provider, ledger, batch_id, sending)
    todo = batch[batch[C.ROW].isin(sending["row"])].copy()
    todo[C.RESEND] = resend
    if len(todo):
        _send_split(provider, ledger, limiter, todo, batch_id, max_wait_s, settled)
    return settled_results(ledger, batch_id)


def open_and_deliver(provider: Provider, ledger: Ledger, limiter: RateLimiter, batch: pd.DataFrame,
                     batch_id: str, *, run_id: str, max_wait_s: float) -> pd.DataFrame:
    """Record the batch as ``sending`` (unless an earlier attempt did), then :func:`deliver_batch`."""
    ledger.open_batch(batch_id, run_id=run_id, provider=provider.name, account=provider.account,
                      campaign=provider.campaign, batch=batch, exist_ok=True)
    return deliver_batch(provider, ledger, limiter, batch, batch_id, max_wait_s=max_wait_s)


def settled_results(ledger: Ledger, batch_id: str) -> pd.DataFrame:
    """``row``, ``outcome``, ``reason`` of the batch as the ledger has them."""
    rec = ledger.batch_leads(batch_id)
    return pd.DataFrame({C.ROW: rec["row"].astype("int64"), C.OUTCOME: rec["status"],
                         C.REASON: rec["reason"].astype("string")})


def _covers(settled: list[pd.DataFrame], batch: pd.DataFrame) -> bool:
    """True if the attempt settled each lead of the batch exactly once."""
    rows = pd.concat([s[C.ROW] for s in settled], ignore_index=True) if settled else pd.Series([], dtype="int64")
    return len(rows) == len(batch) and rows.is_unique and bool(rows.isin(batch[C.ROW]).all())


def _as_recorded(settled: list[pd.DataFrame], batch: pd.DataFrame) -> pd.DataFrame:
    """What :func:`settled_results` would read back after one clean attempt, without reading it.

    The ledger keeps no reason for loaded leads and at most 1,000 characters of the others.
    """
    out = pd.concat(settled, ignore_index=True)
    reason = out[C.REASON].astype("string").str.slice(0, 1000)
    return pd.DataFrame({C.ROW: out[C.ROW].astype("int64"), C.OUTCOME: out[C.OUTCOME].astype("string"),
                         C.REASON: reason.mask(out[C.OUTCOME] == "loaded")})


def _reconcile(provider: Provider, ledger: Ledger, batch_id: str, sending: pd.DataFrame) -> pd.DataFrame:
    found = provider.reconcile(sending)
    if found is None:
        return sending
    hit = found.loc[found["found"].astype(bool), C.ROW]
    if len(hit):
        ledger.settle_leads(batch_id, pd.DataFrame({
            C.ROW: hit.to_numpy(), C.OUTCOME: "loaded",
            C.REASON: "confirmed by lookup after an unanswered request"}))
    return sending[~sending["row"].isin(hit)]


def _send_split(provider: Provider, ledger: Ledger, limiter: RateLimiter, part: pd.DataFrame,
                batch_id: str, max_wait_s: float, settled: list[pd.DataFrame]) -> None:
    lim = provider.limits
    try:
        with limiter.slot(provider.rate_key, lim.rate_windows, provider.campaign_key,
                          lim.min_spacing_s, lim.max_in_flight):
            request = provider.build_request(part)
            response = send(provider.client, request)
        provider.classify(response)
        results = provider.parse_response(part, response)
    except BatchRefusedError as ex:
        if len(part) == 1:
            _settle(ledger, batch_id, result_frame(part, "rejected", f"{provider.name}: {ex}"), settled)
            return
        half = len(part) // 2
        log.info("batch %s refused as a whole (%s leads): splitting", batch_id, len(part))
        _send_split(provider, ledger, limiter, part.iloc[:half], batch_id, max_wait_s, settled)
        _send_split(provider, ledger, limiter, part.iloc[half:], batch_id, max_wait_s, settled)
        return
    except RetriableProviderError as ex:
        tag = AMBIGUOUS if isinstance(ex, AmbiguousDeliveryError) else "retriable"
        ledger.note_attempt(batch_id, f"{tag}: {ex}")
        if ex.retry_after:
            time.sleep(min(ex.retry_after, max_wait_s))
        raise
    except FatalProviderError as ex:
        ledger.note_attempt(batch_id, f"fatal: {ex}")
        raise
    open_again = results[C.OUTCOME] == UNSETTLED
    _settle(ledger, batch_id, results[~open_again], settled)
    if open_again.any():
        ledger.note_attempt(batch_id, f"retriable: {int(open_again.sum())} leads to send again")
        raise RetriableProviderError(f"{provider.name}: {int(open_again.sum())} leads left open by the answer")


def _settle(ledger: Ledger, batch_id: str, results: pd.DataFrame, settled: list[pd.DataFrame]) -> None:
    ledger.settle_leads(batch_id, results)
    settled.append(results)


def give_up(ledger: Ledger, batch_id: str, error: BaseException | None) -> pd.DataFrame:
    """After the last attempt: unsettled leads become ``failed`` (kept for the next run).

    Leads whose last request went unanswered stay ``sending`` in the ledger, so the next run
    reconciles them before sending again; the report counts them as failed.
    """
    rec = ledger.batch_leads(batch_id)
    left = rec[rec["status"] == "sending"]
    reason = f"not delivered: {error}" if error else "not delivered"
    detail = ledger.batch_detail(batch_id) or ""
    if len(left) and not detail.startswith(AMBIGUOUS):
        ledger.settle_leads(batch_id, pd.DataFrame({C.ROW: left["row"].to_numpy(), C.OUTCOME: "failed",
                                                    C.REASON: reason[:500]}))
    out = settled_results(ledger, batch_id)
    still = out[C.OUTCOME] == "sending"
    out.loc[still, C.OUTCOME] = "failed"
    out.loc[still, C.REASON] = f"delivery unknown ({reason[:300]}); reconciled by the next run"
    return out
