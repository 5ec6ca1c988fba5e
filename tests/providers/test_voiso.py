"""Voiso provider over loopback HTTP against the simulator, through the real load machinery."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from providerhelp import Sim, by_row, classify, deliver, lead_batch, needs_provider_classify, phones

from schemas import columns as C
from schemas.errors import ConfigurationError
from tasks.http import send
from tasks.ledger import Ledger
from tasks.providers.base import Provider
from tasks.providers.errors import (
    AmbiguousDeliveryError,
    AuthError,
    BatchRefusedError,
    FatalProviderError,
    RetriableProviderError,
)
from tasks.providers.voiso import CONFIRMED, DUPLICATE, MISSING, REJECTED, Voiso
from tasks.ratelimit import RateLimiter

BAD_PHONE = "+1234"


@pytest.fixture
def sim(start_sim: Callable[[str], Sim]) -> Sim:
    sim = start_sim("voiso")
    sim.config(rate_limits=False)
    return sim


@pytest.fixture
def voiso(sim: Sim, make_provider: Callable[..., Provider]) -> Provider:
    return make_provider("voiso", sim)


def attempt(provider: Provider, batch_rows: int = 1, first_row: int = 1) -> None:
    """Send one batch as the machinery does, up to the classification of the answer."""
    batch = lead_batch(phones(batch_rows, 100 + first_row), first_row=first_row)
    classify(provider, send(provider.client, provider.build_request(batch)))


def test_all_loaded_with_lead_fields(sim: Sim, make_provider: Callable[..., Provider], ledger: Ledger) -> None:
    provider = make_provider("voiso", sim, default_priority=500, source_system="crm")
    batch = lead_batch(phones(3), first_name=["Ada", None, " Bo "], last_name=["Lee", None, None],
                       priority=["10", None, "2000"],
                       **{"extra.source_url": ["https://crm/1", None, None],
                          "extra.X-Call-Context": ["promo", None, None], "extra.plan": ["gold", None, None]})
    results = deliver(provider, ledger, batch)
    assert (results[C.OUTCOME] == "loaded").all()
    leads = {x["phone_number"]: x for x in sim.leads()["3"]}
    first = leads["14155550100"]
    assert (first["name"], first["priority"], first["active"]) == ("Ada Lee", 10, True)
    assert first["source"] == {"system": "crm", "url": "https://crm/1"}
    assert first["context_headers"] == {"X-Call-Context": "promo"}
    assert "plan" not in json.dumps(first)
    assert "name" not in leads["14155550101"]
    assert leads["14155550101"]["priority"] == 500
    assert "context_headers" not in leads["14155550101"]
    assert (leads["14155550102"]["name"], leads["14155550102"]["priority"]) == ("Bo", 1000)


@pytest.mark.parametrize("run_active", [True, False])
def test_active_is_set_per_lead_over_the_run_option(run_active: bool, sim: Sim, make_provider: Callable[..., Provider],
                                                    ledger: Ledger) -> None:
    provider = make_provider("voiso", sim, active=run_active)
    batch = lead_batch(phones(4), **{"extra.active": ["no", None, "YES", "0"]})
    assert set(deliver(provider, ledger, batch)[C.OUTCOME]) == {"loaded"}
    active = {x["phone_number"]: x["active"] for x in sim.leads()["3"]}
    assert list(active.values()) == [False, run_active, True, False]


def test_an_active_value_that_is_no_yes_or_no_makes_the_lead_invalid() -> None:
    import pandas as pd

    from schemas.provider_rules import validate_for_provider

    empty = pd.array([None] * 3, dtype="string")
    chunk = pd.DataFrame({C.PHONE_E164: phones(3), "extra.active": ["true", "maybe", None],
                          C.OUTCOME: empty, C.REASON: empty})
    out = validate_for_provider(chunk, Voiso.field_rules)
    assert out[C.OUTCOME].isna().tolist() == [True, False, True]
    assert out[C.OUTCOME].iloc[1] == "invalid"
    assert "extra.active: not true or false" in str(out[C.REASON].iloc[1])


def test_rejected_and_duplicate_numbers(sim: Sim, voiso: Provider, ledger: Ledger) -> None:
    deliver(voiso, ledger, lead_batch(phones(1)), batch_id="first")
    batch = lead_batch([phones(1)[0], BAD_PHONE, phones(1, 200)[0]], first_row=10)
    assert by_row(deliver(voiso, ledger, batch)) == {
        10: ("duplicate", DUPLICATE), 11: ("rejected", REJECTED), 12: ("loaded", None)}
    response = send(voiso.client, voiso.build_request(batch))
    first = by_row(voiso.parse_response(batch, response))
    assert first[10] == ("duplicate", DUPLICATE)  # read as for a first send: the class's rule decides a resend
    assert by_row(voiso.resend.settle(voiso.parse_response(batch, response)))[10] == ("loaded", CONFIRMED)


def test_same_number_twice_in_a_batch_maps_both_by_phone(sim: Sim, voiso: Provider, ledger: Ledger) -> None:
    results = deliver(voiso, ledger, lead_batch([phones(1)[0], phones(1)[0]]))
    assert results[C.OUTCOME].tolist() == ["loaded", "loaded"]
    assert len(sim.leads()["3"]) == 1


def test_unanswered_request_resent_duplicates_count_as_loaded(sim: Sim, voiso: Provider, ledger: Ledger) -> None:
    sim.faults({"drop": True, "after_store": True})
    results = by_row(deliver(voiso, ledger, lead_batch(phones(2))))
    assert results == {1: ("loaded", None), 2: ("loaded", None)}
    assert [r["dropped"] for r in sim.received()] == [True, False]
    assert len(sim.leads()["3"]) == 2


def test_phone_missing_from_the_report_and_a_report_missing(voiso: Provider) -> None:
    batch = lead_batch(phones(2))
    request = voiso.build_request(batch)
    answer = httpx.Response(201, json={"leads_import": {"created": ["14155550100"]}}, request=request)
    assert by_row(voiso.parse_response(batch, answer))[2] == ("rejected", MISSING)
    with pytest.raises(AmbiguousDeliveryError):
        voiso.parse_response(batch, httpx.Response(201, json={"ok": True}, request=request))


def test_busy_409_is_retriable_and_the_limiter_spaces_batches(sim: Sim, voiso: Provider, ledger: Ledger) -> None:
    sim.config(rate_limits=True)
    attempt(voiso)
    with pytest.raises(RetriableProviderError) as info:
        attempt(voiso, first_row=2)
    assert info.value.status == 409
    sim.control("/_sim/clock", {"advance_s": 5})
    limiter = RateLimiter(ledger)
    for i in range(2):
        results = deliver(voiso, ledger, lead_batch(phones(1, 300 + i), first_row=10 + i), batch_id=f"s{i}",
                          limiter=limiter, attempts=1)
        assert results[C.OUTCOME].tolist() == ["loaded"]
    first, second = sim.received()[-2:]
    assert (first["status"], second["status"]) == (201, 201)
    assert second["started"] - first["ended"] >= 2.0


@pytest.mark.parametrize(("status", "text"), [(409, "is not live"), (422, "is not live"),
                                              (409, "Campaign type should be live"), (422, "must be a live campaign")])
def test_campaign_not_live_is_fatal(status: int, text: str, sim: Sim, make_provider: Callable[..., Provider]) -> None:
    """The not-live answer is inferred: either status, any wording naming "live", is fatal (never split)."""
    sim.config(not_live_status=status, not_live_text=text)
    with pytest.raises(FatalProviderError, match="not live") as info:
        attempt(make_provider("voiso", sim, campaign="4"))
    assert not isinstance(info.value, (RetriableProviderError, BatchRefusedError))


def test_a_lead_error_naming_live_is_not_taken_for_a_campaign_that_is_not_live(voiso: Provider) -> None:
    request = voiso.build_request(lead_batch(phones(1)))
    answer = httpx.Response(422, json={"errors": {"leads[0].context_headers": ["'X-Live' is not valid"]}},
                            request=request)
    with pytest.raises(BatchRefusedError):
        voiso.classify(answer)


def test_422_refuses_the_batch_and_too_many_leads_is_fatal(sim: Sim, voiso: Provider) -> None:
    sim.faults({"whole_batch_400": True})
    with pytest.raises(BatchRefusedError):
        attempt(voiso, 2)
    sim.config(max_leads=2)
    with pytest.raises(FatalProviderError, match="batch size") as info:
        attempt(voiso, 3)
    assert not isinstance(info.value, BatchRefusedError)


@needs_provider_classify
def test_whole_batch_refusal_is_split_to_isolate_the_bad_lead(sim: Sim, voiso: Provider, ledger: Ledger) -> None:
    sim.faults({"whole_batch_400": True, "times": 3})
    results = by_row(deliver(voiso, ledger, lead_batch(phones(4))))
    assert results[1][0] == "rejected"
    assert "422" in (results[1][1] or "")
    assert {results[r][0] for r in (2, 3, 4)} == {"loaded"}
    assert [r["leads"] for r in sim.received()] == [4, 2, 1, 1, 2]


@needs_provider_classify
def test_not_live_fails_the_batch_without_retrying(sim: Sim, make_provider: Callable[..., Provider],
                                                   ledger: Ledger) -> None:
    with pytest.raises(FatalProviderError, match="not live"):
        deliver(make_provider("voiso", sim, campaign="4"), ledger, lead_batch(phones(1)))
    assert len(sim.received()) == 1


def test_429_retry_after(sim: Sim, voiso: Provider, ledger: Ledger) -> None:
    sim.faults({"status": 429, "retry_after": 0.2})
    assert deliver(voiso, ledger, lead_batch(phones(1)))[C.OUTCOME].tolist() == ["loaded"]
    assert [r["status"] for r in sim.received()] == [429, 201]
    sim.faults({"status": 429, "retry_after": 0.2})
    with pytest.raises(RetriableProviderError) as info:
        attempt(voiso, first_row=5)
    assert info.value.retry_after == pytest.approx(0.2)


@pytest.mark.parametrize(("key", "status"), [("not-a-key-but-secret", 401), ("sim-voiso-readonly", 403)])
def test_auth_errors_keep_the_key_out(sim: Sim, make_provider: Callable[..., Provider], key: str, status: int) -> None:
    provider = make_provider("voiso", sim, env={"VOISO_API_KEY": key})
    with pytest.raises(AuthError) as info:
        attempt(provider)
    assert info.value.status == status
    assert key not in str(info.value)
    assert key not in repr(provider)
    assert key not in repr(provider.client.auth)


def test_list_campaigns_pages_through_all(sim: Sim, voiso: Provider) -> None:
    sim.config(campaigns=[{"id": i, "name": f"C{i}"} for i in range(1, 251)])
    campaigns = voiso.list_campaigns()
    assert [c["id"] for c in campaigns] == list(range(1, 251))
    assert len(sim.received("GET")) == 3


def test_base_url_must_name_the_cluster(make_provider: Callable[..., Provider]) -> None:
    provider = make_provider("voiso", None)
    with pytest.raises(ConfigurationError, match="VOISO_BASE_URL"):
        provider.build_request(lead_batch(phones(1)))
    with pytest.raises(ConfigurationError, match="integers"):
        make_provider("voiso", None, campaign="summer").prepare()
