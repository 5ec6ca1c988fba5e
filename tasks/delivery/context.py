"""The run context: everything a load run and its delivery need, in two frozen objects."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from schemas.options import LoadOptions, RunOptions
from schemas.sources import SourceSpec
from tasks.delivery.gate import OrderedGate
from tasks.http import CallPolicy
from tasks.ledger import Ledger
from tasks.providers.base import Provider
from tasks.ratelimit import RateLimiter
from tasks.report import RunReport
from tasks.spool import Spool
from tasks.writeback_run import KeyedOutcomeWriter

#: Seconds one look-up or read keeps being retried while throttled or failing (a 429 storm slows a run).
CALL_PATIENCE_S = 600.0
#: Look-ups and reads in flight at once per campaign and operation.
CALLS_IN_FLIGHT = 16


@dataclass(frozen=True)
class Delivery:
    """What sending one run's batches needs: the provider, the ledger, the shared rate limiter, the
    run's id and load options, and ``gate``, the run's bound on load requests in flight."""

    provider: Provider
    ledger: Ledger
    limiter: RateLimiter
    run_id: str
    load: LoadOptions
    gate: OrderedGate

    @classmethod
    def create(cls, provider: Provider, ledger: Ledger, load: LoadOptions, *, run_id: str,
               limiter: RateLimiter | None = None) -> Delivery:
        """The delivery of a run; the rate limiter keeps its windows in ``ledger`` unless one is given."""
        limiter = limiter or RateLimiter(ledger, enabled=load.rate_limits, request_timeout_s=load.timeout_s)
        in_flight = load.concurrency or provider.limits.max_in_flight
        return cls(provider, ledger, limiter, run_id, load, OrderedGate(in_flight))

    @property
    def in_flight(self) -> int:
        """Load requests out at once."""
        return self.load.concurrency or self.provider.limits.max_in_flight

    @property
    def batch_size(self) -> int:
        """Leads per request."""
        limits = self.provider.limits
        return min(self.load.batch_size or limits.default_batch_size, limits.max_batch_size)

    @property
    def max_wait_s(self) -> float:
        """Cap on one wait for ``Retry-After``."""
        return self.load.max_backoff_s

    @property
    def grace_s(self) -> float:
        """Seconds from an unanswered request to the look-up that may send its leads again."""
        return answer_grace_s(self.load)

    @property
    def delays(self) -> list[float]:
        """Exponential backoff before each further attempt, capped (jitter is added when waiting)."""
        load = self.load
        return [min(load.backoff_s * 2**i, load.max_backoff_s) for i in range(max(load.max_attempts - 1, 0))]

    def call_policy(self) -> CallPolicy:
        """Retries and rate limits for the provider's look-ups and reads: the same backoff, ``Retry-After``
        handling and shared rate-limit windows (per operation: ``ProviderLimits.call_windows``) as loads."""
        prov, limiter = self.provider, self.limiter

        def slot(operation: str) -> AbstractContextManager[object]:
            windows = prov.limits.call_windows.get(operation, ())
            if not windows:
                return nullcontext()
            return limiter.slot(f"{prov.rate_key}:{operation}", windows, f"{prov.campaign_key}:{operation}", 0.0,
                                CALLS_IN_FLIGHT)

        return CallPolicy(patience_s=CALL_PATIENCE_S, backoff_s=max(self.load.backoff_s, 0.05),
                          max_backoff_s=self.load.max_backoff_s, slot=slot,
                          extra_retry=prov.limits.extra_retry_statuses)


def answer_grace_s(load: LoadOptions) -> float:
    """Seconds from an unanswered request to the look-up that may send its leads again."""
    return load.answer_grace_s if load.answer_grace_s is not None else max(2 * load.timeout_s, 5.0)


@dataclass(frozen=True)
class RunContext:
    """One load run: what it reads, where it sends (``delivery``; None on a dry run), and what it writes."""

    source: SourceSpec
    delivery: Delivery | None
    ledger: Ledger
    opts: RunOptions
    spool: Spool
    writer: KeyedOutcomeWriter
    report: RunReport
    #: The run's clock, for calling windows and cool-downs.
    now: datetime
    #: Whether leads outside their calling window are deferred (the dialer does not keep windows).
    window_gate: bool

    @property
    def provider(self) -> Provider | None:
        """The provider sent to (None on a dry run)."""
        return self.delivery.provider if self.delivery is not None else None

    @property
    def run_id(self) -> str:
        return self.report.run_id
