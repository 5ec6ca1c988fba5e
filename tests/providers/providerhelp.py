"""Helpers of the provider tests: simulator control, lead batches, and delivering like the load task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
import pytest

from schemas import columns as C
from schemas.options import LoadOptions
from tasks.delivery.attempt import deliver_batch, settled_results
from tasks.delivery.context import Delivery
from tasks.http import classify_status
from tasks.ledger import Ledger
from tasks.providers.base import Provider
from tasks.providers.errors import RetriableProviderError
from tasks.ratelimit import RateLimiter
from tasks.rules.phones import phone_key

#: Tests that need ``tasks/delivery/attempt.py`` to classify answers through ``provider.classify`` (not yet
#: part of the shared contract; see the providers' report) are skipped until it is.
needs_provider_classify = pytest.mark.skipif(
    "classify" not in vars(Provider), reason="delivery does not call provider.classify() yet")


@dataclass(frozen=True)
class SimSpec:
    """How to run one provider against its simulator."""

    module: str
    campaign: str
    env: dict[str, str]


SIMS: dict[str, SimSpec] = {
    "engage-voice": SimSpec("simulators.engage_voice", "4001", {"ENGAGE_VOICE_API_TOKEN": "sim-engage-api-token"}),
    "nlpearl": SimSpec("simulators.nlpearl", "6a27be5ae83373643a10ae34",
                       {"NLPEARL_ACCOUNT_ID": "sim-account", "NLPEARL_SECRET_KEY": "sim-secret"}),
    "voiso": SimSpec("simulators.voiso", "3", {"VOISO_API_KEY": "sim-voiso-key"}),
}


class Sim:
    """A running simulator and its control routes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10.0)

    def control(self, path: str, body: Any = None) -> Any:
        """GET (no body) or POST a ``/_sim/`` route; its JSON answer."""
        response = self.http.get(path) if body is None else self.http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def faults(self, *plan: dict[str, Any]) -> None:
        """Script the next lead loads."""
        self.control("/_sim/faults", {"plan": list(plan)})

    def config(self, **changes: Any) -> None:
        """Change simulator settings."""
        self.control("/_sim/config", changes)

    def received(self, method: str = "POST") -> list[dict[str, Any]]:
        """Requests received with ``method``, oldest first."""
        return [r for r in self.control("/_sim/received") if r["method"] == method]

    def leads(self) -> Any:
        """Every stored lead."""
        return self.control("/_sim/leads")


class Clock:
    """The Engage client's token clock (``engage_auth.clock``), moved by the test (fixture ``clock``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def calls(sim: Sim, part: str) -> list[int]:
    """The statuses the simulator answered to the requests whose path holds ``part``."""
    return [int(r["status"]) for r in sim.received() if part in str(r["path"])]


def lead_batch(phones: list[str], *, ids: list[str | None] | None = None, first_row: int = 1,
               **columns: list[Any]) -> pd.DataFrame:
    """Canonical ready leads: ``row``, ``phone_e164``, ``phone_key``, ``external_id`` and ``columns``."""
    n = len(phones)
    frame = pd.DataFrame({
        C.ROW: range(first_row, first_row + n),
        C.PHONE_E164: pd.array(phones, dtype="string"),
        C.EXTERNAL_ID: pd.array(ids if ids is not None else [f"crm-{first_row + i}" for i in range(n)],
                                dtype="string"),
    })
    for name, values in columns.items():
        frame[name] = pd.array(values, dtype="string")
    frame["phone_key"] = phone_key(frame[C.PHONE_E164])
    return frame


def phones(n: int, start: int = 100) -> list[str]:
    """``n`` distinct valid US numbers."""
    return [f"+1415555{start + i:04d}" for i in range(n)]


def deliver(provider: Provider, ledger: Ledger, batch: pd.DataFrame, *, batch_id: str = "b1",
            limiter: RateLimiter | None = None, attempts: int = 3) -> pd.DataFrame:
    """Open a batch and run ``deliver_batch`` the way the load task retries it; the final results.

    Raises:
        ProviderError: the last attempt's error, or a fatal one.
    """
    ledger.open_batch(batch_id, run_id="r1", provider=provider.name, account=provider.account,
                      campaign=provider.campaign, batch=batch)
    ctx = Delivery.create(provider, ledger, LoadOptions(max_backoff_s=1.0, answer_grace_s=5.0), run_id="r1",
                          limiter=limiter or RateLimiter(ledger, enabled=False))
    for attempt in range(attempts):
        try:
            results = deliver_batch(ctx, batch, batch_id)
        except RetriableProviderError:
            if attempt == attempts - 1:
                raise
            continue
        results = results.sort_values(C.ROW, ignore_index=True)
        # What an attempt returns is exactly what the ledger holds (the first attempt does not read it back).
        recorded = settled_results(ledger, batch_id).sort_values(C.ROW, ignore_index=True)
        pd.testing.assert_frame_equal(results.astype("string"), recorded.astype("string"))
        if not (results[C.OUTCOME] == "sending").any():
            return results
    raise AssertionError(f"batch {batch_id} still unsettled after {attempts} attempts")


def classify(provider: Provider, response: httpx.Response) -> None:
    """Classify an answer as the load machinery does (``provider.classify`` where a provider has one)."""
    own = getattr(provider, "classify", None)
    if own is not None:
        own(response)
    else:
        classify_status(response, extra_retry=provider.limits.extra_retry_statuses)


def by_row(results: pd.DataFrame) -> dict[int, tuple[str, str | None]]:
    """``{row: (outcome, reason)}``."""
    return {int(r): (str(o), None if pd.isna(m) else str(m))
            for r, o, m in results[[C.ROW, C.OUTCOME, C.REASON]].itertuples(index=False)}
