"""Delivering batches: rate limits, retry classification, splitting refused batches, recording.

One call of ``deliver_batch`` is one attempt (one Prefect task run attempt); the task's retries
call it again and it resumes from what the ledger says is still unsettled, so a retry or a
rerun never sends a lead that already landed. Every answer is accepted (per-lead results),
refused, or unknown; an unknown one is settled by a look-up before anything is sent again
(docs/delivery.md).
"""

from __future__ import annotations

import logging

import httpx
import pandas as pd

from schemas import columns as C
from schemas.outcomes import Outcome
from tasks.delivery.context import Delivery
from tasks.http import send
from tasks.ledger import Ledger
from tasks.providers.base import UNSETTLED, Provider, result_frame
from tasks.providers.errors import (
    AmbiguousDeliveryError,
    BatchRefusedError,
    FatalProviderError,
    ProviderError,
    RetriableProviderError,
)
from tasks.stop import AnswerNotAwaitedError, RunStoppedError, check_stop, pause

log = logging.getLogger(__name__)

AMBIGUOUS = "ambiguous"


def plan_batches(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    """Split ready leads into batches of at most ``size``."""
    return [frame.iloc[i:i + size] for i in range(0, len(frame), size)]


def deliver_batch(ctx: Delivery, batch: pd.DataFrame, batch_id: str) -> pd.DataFrame:
    """One attempt at the unsettled leads of a batch; the settled results of the whole batch.

    A batch never attempted before (no failed attempt noted in the ledger) is exactly as
    ``open_batch`` recorded it, every lead ``sending``: its first attempt skips reading the leads
    back and returns what it settled. Every later attempt resumes from the ledger; after an
    unknown answer it first looks the leads up (:func:`look_up`, with the run's grace period). The
    run's bound on load requests in flight (``ctx.gate``) is held only while the batch's leads are
    sent, not during look-ups and their grace period.

    Raises:
        RetriableProviderError: the attempt failed in a way a later attempt may not.
        FatalProviderError: the provider refused in a way no retry will fix.
    """
    ledger = ctx.ledger
    attempts, detail = ledger.batch_state(batch_id)
    settled: list[pd.DataFrame] = []
    if attempts == 0:
        with ctx.gate.slot():  # a retried batch: before every batch waiting
            _send_split(ctx, batch, batch_id, settled, resend=False)
        return as_recorded(settled, batch) if settled_covers(settled, batch) else settled_results(ledger, batch_id)
    recorded = ledger.batch_leads(batch_id)
    sending = recorded[recorded["status"] == "sending"]
    resend = (detail or "").startswith(AMBIGUOUS)
    if resend and len(sending):
        missing = look_up(ctx, batch_id, sending, found_reason="confirmed by lookup after an unanswered request")
        sending = sending if missing is None else missing
    todo = batch[batch[C.ROW].isin(sending["row"])]
    if len(todo):
        with ctx.gate.slot():  # a retried batch: before every batch waiting
            _send_split(ctx, todo, batch_id, settled, resend=resend)
    return settled_results(ledger, batch_id)


def open_and_deliver(ctx: Delivery, batch: pd.DataFrame, batch_id: str) -> pd.DataFrame:
    """Record the batch as ``sending`` (unless an earlier attempt did), then :func:`deliver_batch`.

    Raises:
        RunStoppedError: the run was stopped; the batch was not recorded (nothing was sent).
    """
    check_stop()
    open_batch(ctx, batch, batch_id)
    return deliver_batch(ctx, batch, batch_id)


def open_batch(ctx: Delivery, batch: pd.DataFrame, batch_id: str) -> None:
    """Record the batch's leads ``sending`` (unless an earlier attempt did): before its request goes out."""
    prov = ctx.provider
    ctx.ledger.open_batch(batch_id, run_id=ctx.run_id, provider=prov.name, account=prov.account,
                          campaign=prov.campaign, batch=batch, exist_ok=True)


def settled_results(ledger: Ledger, batch_id: str) -> pd.DataFrame:
    """``row``, ``outcome``, ``reason`` of the batch as the ledger has them."""
    rec = ledger.batch_leads(batch_id)
    return pd.DataFrame({C.ROW: rec["row"].astype("int64"), C.OUTCOME: rec["status"],
                         C.REASON: rec["reason"].astype("string")})


def settled_covers(settled: list[pd.DataFrame], batch: pd.DataFrame) -> bool:
    """True if the attempt settled each lead of the batch exactly once."""
    rows = pd.concat([s[C.ROW] for s in settled], ignore_index=True) if settled else pd.Series([], dtype="int64")
    return len(rows) == len(batch) and rows.is_unique and bool(rows.isin(batch[C.ROW]).all())


def as_recorded(settled: list[pd.DataFrame], batch: pd.DataFrame) -> pd.DataFrame:
    """What :func:`settled_results` would read back after one clean attempt, without reading it.

    The ledger keeps no reason for loaded leads and at most 1,000 characters of the others.
    """
    out = pd.concat(settled, ignore_index=True)
    reason = out[C.REASON].astype("string").str.slice(0, 1000)
    return pd.DataFrame({C.ROW: out[C.ROW].astype("int64"), C.OUTCOME: out[C.OUTCOME].astype("string"),
                         C.REASON: reason.mask(out[C.OUTCOME] == Outcome.LOADED)})


def look_up(ctx: Delivery, batch_id: str, sending: pd.DataFrame, *, found_reason: str) -> pd.DataFrame | None:
    """Settle as ``loaded`` the leads of an unknown delivery that the provider has; the others.

    A lead not found is looked up once more after ``grace_s`` seconds from the batch's last
    attempt (a request still being processed when the first look-up ran lands by then), so it
    is sent again only when two look-ups missed it (``grace_s`` of the run's load options). None
    when the provider cannot look leads up.

    Raises:
        ProviderError: a look-up failed after its retries (the leads stay ``sending``).
        RunStoppedError: the run was stopped during the grace period.
    """
    provider, ledger = ctx.provider, ctx.ledger
    missing = _settle_found(provider, ledger, batch_id, sending, found_reason)
    if missing is None or not len(missing):
        return missing
    left = ctx.grace_s - ledger.batch_age_s(batch_id)
    if left <= 0:
        return missing
    log.info("batch %s: %s leads not found yet; looking again in %.1f s", batch_id, len(missing), left)
    pause(left)
    again = _settle_found(provider, ledger, batch_id, missing, found_reason)
    assert again is not None
    return again


def _settle_found(provider: Provider, ledger: Ledger, batch_id: str, sending: pd.DataFrame,
                  reason: str) -> pd.DataFrame | None:
    found = provider.reconcile(sending)
    if found is None:
        return None
    hit = found.loc[found["found"].astype(bool), C.ROW]
    if len(hit):
        ledger.settle_leads(batch_id, pd.DataFrame({C.ROW: hit.to_numpy(), C.OUTCOME: Outcome.LOADED,
                                                    C.REASON: reason}))
    return sending[~sending["row"].isin(hit)]


def _send_split(ctx: Delivery, part: pd.DataFrame, batch_id: str, settled: list[pd.DataFrame], *,
                resend: bool) -> None:
    """Send ``part`` (splitting it while refused as a whole) and settle what the answers decide;
    ``resend``: its leads went out before without an answer (the provider's ``resend`` rule applies)."""
    settle_answer(ctx, part, batch_id, send_part(ctx, part), settled, resend=resend)


Answer = httpx.Response | ProviderError
"""A classified 2xx answer (or NLPearl's partial 400), or the error a request ended with."""


def send_part(ctx: Delivery, part: pd.DataFrame, request: httpx.Request | None = None) -> Answer:
    """One load request for ``part`` (built here unless given) in a rate-limit slot, its answer
    classified. A refusal that says when to come back (``Retry-After``) is waited for here, so
    the caller's hold on the run's bound on requests in flight covers the wait.

    Raises:
        RunStoppedError: the run was stopped before the request went out.
    """
    provider, lim = ctx.provider, ctx.provider.limits
    check_stop()
    try:
        with ctx.limiter.slot(provider.rate_key, lim.rate_windows, provider.campaign_key,
                              lim.min_spacing_s, lim.max_in_flight):
            response = send(provider.client, request or provider.build_request(part))
        provider.classify(response)
    except RetriableProviderError as ex:
        if ex.retry_after:
            pause(min(ex.retry_after, ctx.max_wait_s))
        return ex
    except ProviderError as ex:
        return ex
    return response


def settle_answer(ctx: Delivery, part: pd.DataFrame, batch_id: str, answer: Answer, settled: list[pd.DataFrame],
                  *, resend: bool) -> None:
    """Record in the ledger what the answer to ``part`` decides, each settled lead also in ``settled``.

    A batch refused as a whole is split and its halves sent again (the caller holds the run's bound
    on requests in flight).

    Raises:
        RetriableProviderError: the answer left leads open (noted in the ledger: ``ambiguous`` ones
            are looked up before anything is sent again).
        FatalProviderError: the provider refused in a way no retry will fix.
    """
    provider, ledger = ctx.provider, ctx.ledger
    try:
        if isinstance(answer, ProviderError):
            raise answer
        results = _read_answer(provider, part, answer)
        if resend:
            results = provider.resend.settle(results)
    except BatchRefusedError as ex:
        if len(part) == 1:
            _settle(ledger, batch_id, result_frame(part, Outcome.REJECTED, f"{provider.name}: {ex}"), settled)
            return
        half = len(part) // 2
        log.info("batch %s refused as a whole (%s leads): splitting", batch_id, len(part))
        _send_split(ctx, part.iloc[:half], batch_id, settled, resend=resend)
        _send_split(ctx, part.iloc[half:], batch_id, settled, resend=resend)
        return
    except RetriableProviderError as ex:
        unknown = isinstance(ex, AmbiguousDeliveryError)
        ledger.note_attempt(batch_id, _detail(True, str(ex)) if unknown else _detail(resend, f"retriable: {ex}"))
        raise
    except FatalProviderError as ex:
        ledger.note_attempt(batch_id, _detail(resend, f"fatal: {ex}"))
        raise
    open_again = results[C.OUTCOME] == UNSETTLED
    _settle(ledger, batch_id, results[~open_again], settled)
    if open_again.any():
        ledger.note_attempt(batch_id, _detail(resend, f"retriable: {int(open_again.sum())} leads to send again"))
        raise RetriableProviderError(f"{provider.name}: {int(open_again.sum())} leads left open by the answer")


def describe(error: BaseException) -> str:
    """An error as one short line: its type and message."""
    return f"{type(error).__name__}: {error}"[:300]


def not_delivered(error: BaseException | None) -> bool:
    """Whether an attempt that ended with ``error`` surely left its leads undelivered: the provider
    refused them (an answer said so, or a refusal came before any was processed), or the run stopped
    before the request went out. Any other error, a reply that could not be read or a fault of
    leadflow's own, may have come after the request went out."""
    if isinstance(error, (AmbiguousDeliveryError, AnswerNotAwaitedError)):
        return False
    return isinstance(error, (ProviderError, RunStoppedError))


def _detail(unknown: bool, detail: str) -> str:
    """The ledger's note of a failed attempt. A batch whose leads may have landed unheard (an unknown
    answer, now or on an earlier attempt: a resend) stays ``ambiguous`` until it settles, so a later
    attempt still looks its leads up, or applies the provider's resend rule, before sending again."""
    return f"{AMBIGUOUS}: {detail}" if unknown else detail


def _read_answer(provider: Provider, part: pd.DataFrame, response: httpx.Response) -> pd.DataFrame:
    """The per-lead results of an answer; an answer that cannot be read leaves delivery unknown.

    Raises:
        AmbiguousDeliveryError: the provider's parser failed on the answer (the request went
            out, so the leads may have landed: they are looked up before anything is resent).
    """
    try:
        results = provider.parse_response(part, response)
    except (RetriableProviderError, FatalProviderError):
        raise
    except Exception as ex:
        raise AmbiguousDeliveryError(
            f"{provider.name} answered {response.status_code} with something unreadable (delivery unknown): "
            f"{type(ex).__name__}: {str(ex)[:200]}", status=response.status_code) from None
    rows = results[C.ROW]
    if len(results) != len(part) or not rows.is_unique or not bool(rows.isin(part[C.ROW]).all()):
        raise AmbiguousDeliveryError(f"{provider.name}: the answer does not settle each lead of the request once "
                                     "(delivery unknown)", status=response.status_code)
    return results


def _settle(ledger: Ledger, batch_id: str, results: pd.DataFrame, settled: list[pd.DataFrame]) -> None:
    ledger.settle_leads(batch_id, results)
    settled.append(results)


def give_up(ledger: Ledger, batch_id: str, error: BaseException | None) -> pd.DataFrame:
    """After the last attempt: unsettled leads become ``failed`` (kept for the next run) when they
    surely did not land.

    Leads whose last request went unanswered (or was still out when the run stopped), or whose
    attempt ended with an error no provider answer explains (a fault in leadflow itself, perhaps
    after the request went out), stay ``sending`` in the ledger, so the next run looks them up
    before sending again; the report counts them as failed, delivery unknown.
    """
    rec = ledger.batch_leads(batch_id)
    left = rec[rec["status"] == "sending"]
    unknown = (ledger.batch_detail(batch_id) or "").startswith(AMBIGUOUS) or not not_delivered(error)
    if len(left) and not unknown:
        reason = f"not delivered: {error}" if error else "not delivered"
        ledger.settle_leads(batch_id, pd.DataFrame({C.ROW: left["row"].to_numpy(), C.OUTCOME: Outcome.FAILED,
                                                    C.REASON: reason[:500]}))
    out = settled_results(ledger, batch_id)
    still = out[C.OUTCOME] == "sending"
    out.loc[still, C.OUTCOME] = Outcome.FAILED
    what = "no answer" if error is None else str(error) if isinstance(error, ProviderError) else describe(error)
    out.loc[still, C.REASON] = f"delivery unknown ({what[:300]}); looked up by the next run"
    return out
