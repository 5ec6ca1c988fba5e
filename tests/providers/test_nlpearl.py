"""NLPearl provider over loopback HTTP against the simulator, through the real load machinery."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import pytest
from providerhelp import Sim, by_row, classify, deliver, lead_batch, needs_provider_classify, phones

from schemas import columns as C
from schemas.errors import ConfigurationError
from tasks.http import send
from tasks.ledger import Ledger
from tasks.providers.base import Provider
from tasks.providers.errors import AuthError, BatchRefusedError, RetriableProviderError
from tasks.providers.nlpearl_problem import (
    CONFIRMED,
    INFERRED,
    SENT_AGAIN,
    UNKNOWN,
    lead_problem,
    settle_problem,
)

PEARL = "6a27be5ae83373643a10ae34"
BAD_PHONE = "+12"


@pytest.fixture
def sim(start_sim: Callable[[str], Sim]) -> Sim:
    return start_sim("nlpearl")


@pytest.fixture
def pearl(sim: Sim, make_provider: Callable[..., Provider]) -> Provider:
    return make_provider("nlpearl", sim)


def stored(sim: Sim) -> list[dict[str, Any]]:
    leads: list[dict[str, Any]] = sim.leads().get(PEARL, [])
    return leads


def attempt(provider: Provider, batch: pd.DataFrame) -> pd.DataFrame:
    """One request as the machinery makes it (build, send, classify, parse), without the ledger."""
    response = send(provider.client, provider.build_request(batch))
    classify(provider, response)
    return provider.parse_response(batch, response)


def test_all_loaded_with_time_zone_and_call_data(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    batch = lead_batch(phones(3), first_name=["Ada", "Bo", None], email=["a@x.io", None, None],
                       tz_zones=["America/Los_Angeles", "America/Chicago|America/New_York", None],
                       **{"extra.plan": ["gold", "1", None]})
    results = deliver(pearl, ledger, batch)
    assert (results[C.OUTCOME] == "loaded").all()
    leads = {x["externalId"]: x for x in stored(sim)}
    assert leads["crm-1"]["phoneNumber"] == "+14155550100"
    assert leads["crm-1"]["timeZone"] == "Pacific Standard Time"
    assert leads["crm-2"]["timeZone"] == "Central Standard Time"
    assert leads["crm-3"]["timeZone"] == "Eastern Standard Time"  # the Pearl's default
    assert leads["crm-1"]["callData"] == {"firstName": "Ada", "email": "a@x.io", "plan": "gold"}
    assert leads["crm-2"]["callData"] == {"firstName": "Bo", "plan": "1"}


def test_zones_outside_america_get_their_windows_ids(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    zones = ["Europe/London", "Europe/Istanbul", "Asia/Kolkata", "Australia/Sydney", "GMT", "US/East-Indiana"]
    batch = lead_batch(phones(len(zones)), tz_zones=zones)
    assert set(deliver(pearl, ledger, batch)[C.OUTCOME]) == {"loaded"}
    assert [x["timeZone"] for x in stored(sim)] == [
        "GMT Standard Time", "Türkiye Standard Time", "India Standard Time", "AUS Eastern Standard Time", "UTC",
        "US Eastern Standard Time"]


def test_every_iana_zone_gets_an_id_the_simulator_takes() -> None:
    import zoneinfo

    from simulators.nlpearl import WINDOWS_ZONES as TAKEN
    from tasks.providers.nlpearl_zones import time_zone_ids

    zones = pd.Series(sorted(zoneinfo.available_timezones()), dtype="string")
    ids = time_zone_ids(zones)
    assert zones[ids.isna()].tolist() == ["Antarctica/Troll", "Factory"]  # no Windows zone at all
    assert set(ids.dropna()) <= TAKEN
    assert ids.nunique() > 130


def test_options_choose_call_data_and_drop_time_zone(sim: Sim, make_provider: Callable[..., Provider]) -> None:
    provider = make_provider("nlpearl", sim, send_time_zone=False, call_data_fields=["plan"])
    batch = lead_batch(phones(1), first_name=["Ada"], tz_zones=["America/Denver"], **{"extra.plan": ["gold"]})
    body = json.loads(provider.build_request(batch).content)
    assert body == {"leads": [{"phoneNumber": "+14155550100", "externalId": "crm-1", "callData": {"plan": "gold"}}]}


@pytest.mark.parametrize("key_style", ["camel", "pascal", "json_path"])
def test_partial_400_rejects_named_leads_and_confirms_stored_ones(key_style: str, sim: Sim, pearl: Provider) -> None:
    """The 400's error keys are inferred: each ASP.NET Core style names the same lead."""
    sim.config(error_key_style=key_style)
    batch = lead_batch([*phones(2), BAD_PHONE, phones(1, 300)[0]])
    results = by_row(attempt(pearl, batch))
    assert results[3][0] == "rejected"
    assert "phonenumber" in (results[3][1] or "").lower()
    assert {results[r][0] for r in (1, 2, 4)} == {"loaded"}
    assert sorted(x["externalId"] for x in stored(sim)) == ["crm-1", "crm-2", "crm-4"]
    lookups = [r["path"] for r in sim.received("GET")]
    assert sorted(lookups) == [f"/v2/Outbound/{PEARL}/Lead/External/crm-{i}" for i in (1, 2, 4)]


def test_atomic_400_leaves_unnamed_leads_to_send_again(sim: Sim, pearl: Provider) -> None:
    sim.config(partial_mode=False)
    batch = lead_batch([BAD_PHONE, *phones(2)])
    results = by_row(attempt(pearl, batch))
    assert results[1][0] == "rejected"
    assert results[2] == ("sending", SENT_AGAIN)
    assert results[3] == ("sending", SENT_AGAIN)
    assert stored(sim) == []


def test_leads_without_external_id_follow_the_looked_up_ones(sim: Sim, pearl: Provider) -> None:
    batch = lead_batch([BAD_PHONE, *phones(2)], ids=["crm-1", "crm-2", None])
    assert by_row(attempt(pearl, batch))[3] == ("loaded", INFERRED)
    sim.config(partial_mode=False)
    alone = lead_batch([BAD_PHONE, phones(1, 500)[0]], ids=[None, None], first_row=10)
    assert by_row(attempt(pearl, alone))[11] == ("failed", UNKNOWN)


def test_existing_external_id_is_a_duplicate_unless_resent(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    deliver(pearl, ledger, lead_batch(phones(1)))
    again = lead_batch([phones(1, 900)[0], BAD_PHONE], ids=["crm-1", "crm-9"])
    assert by_row(attempt(pearl, again))[1] == ("duplicate", "nlpearl: externalId: A lead with externalId "
                                                             "'crm-1' already exists.")
    assert by_row(pearl.resend.settle(attempt(pearl, again)))[1] == ("loaded", CONFIRMED)


@needs_provider_classify
def test_rejected_leads_through_the_machinery(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    sim.config(partial_mode=False)
    results = by_row(deliver(pearl, ledger, lead_batch([*phones(2), BAD_PHONE])))
    assert [results[r][0] for r in (1, 2, 3)] == ["loaded", "loaded", "rejected"]
    adds = sim.received("POST")
    assert [a["leads"] for a in adds] == [3, 2]
    assert len(stored(sim)) == 2


@needs_provider_classify
def test_whole_batch_400_naming_one_lead_isolates_it(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    sim.faults({"whole_batch_400": True})
    results = by_row(deliver(pearl, ledger, lead_batch(phones(4))))
    assert results[1][0] == "rejected"
    assert {results[r][0] for r in (2, 3, 4)} == {"loaded"}
    assert sorted(x["externalId"] for x in stored(sim)) == ["crm-2", "crm-3", "crm-4"]


def test_malformed_400_splits_the_batch(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    sim.config(max_leads=2)
    results = deliver(pearl, ledger, lead_batch(phones(3)))
    assert (results[C.OUTCOME] == "loaded").all()
    assert [a["leads"] for a in sim.received("POST")] == [3, 1, 2]
    with pytest.raises(BatchRefusedError, match="at most 2 items"):
        attempt(pearl, lead_batch(phones(3), first_row=10))


def test_unanswered_request_is_reconciled_by_lookup(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    sim.faults({"drop": True, "after_store": True})
    results = deliver(pearl, ledger, lead_batch(phones(3)))
    assert (results[C.OUTCOME] == "loaded").all()
    assert len(sim.received("POST")) == 1
    assert len(stored(sim)) == 3
    assert len(sim.received("GET")) == 3


def test_429_retry_after_then_loaded(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    sim.faults({"status": 429, "retry_after": 0.2})
    with pytest.raises(RetriableProviderError) as info:
        attempt(pearl, lead_batch(phones(1)))
    assert info.value.status == 429
    assert info.value.retry_after == pytest.approx(0.2)
    sim.faults({"status": 503})
    assert (deliver(pearl, ledger, lead_batch(phones(2)))[C.OUTCOME] == "loaded").all()
    assert [r["status"] for r in sim.received("POST")] == [429, 503, 200]


def test_reconcile_and_list_pearls(sim: Sim, pearl: Provider, ledger: Ledger) -> None:
    deliver(pearl, ledger, lead_batch(phones(2)))
    recorded = pd.DataFrame({"row": [1, 2, 3, 4], "phone_key": [1, 2, 3, 4],
                             "external_id": ["crm-1", "crm-2", "crm-404", None], "status": "sending"})
    found = pearl.reconcile(recorded)
    assert found is not None
    assert found["found"].tolist() == [True, True, False, False]
    assert [p["id"] for p in pearl.list_campaigns()] == [PEARL, "6a27be5ae83373643a10ae35"]


def test_wrong_secret_is_an_auth_error_without_the_secret(sim: Sim, make_provider: Callable[..., Provider]) -> None:
    secret = "wrong-secret-kept-out-of-messages"
    provider = make_provider("nlpearl", sim, env={"NLPEARL_ACCOUNT_ID": "sim-account", "NLPEARL_SECRET_KEY": secret})
    with pytest.raises(AuthError) as info:
        attempt(provider, lead_batch(phones(1)))
    assert secret not in str(info.value)
    assert secret not in repr(info.value)
    assert secret not in repr(provider)
    assert secret not in repr(provider.client.auth)


def test_missing_credentials_name_both_variables(make_provider: Callable[..., Provider]) -> None:
    with pytest.raises(ConfigurationError, match="NLPEARL_ACCOUNT_ID and NLPEARL_SECRET_KEY"):
        make_provider("nlpearl", None, env={})


def test_problem_keys_are_matched_case_insensitively_and_request_errors_reject_the_rest() -> None:
    body = {"title": "One or more validation errors occurred.", "status": 400,
            "errors": {"Leads[1].PhoneNumber": ["Bad number."], "leads[0]": ["Not accepted."],
                       "leads[7]": ["Out of range."], "$": ["Body too large."]}}
    problem = lead_problem(httpx.Response(400, json=body), 3)
    assert problem is not None
    assert problem.per_lead == {1: "PhoneNumber: Bad number.", 0: "Not accepted."}
    assert problem.general == ["leads[7]: Out of range.", "$: Body too large."]
    batch = lead_batch(phones(3))
    none = pd.Series(False, index=batch.index)
    results = by_row(settle_problem(batch, problem, none, "already exists"))
    assert results[1] == ("rejected", "nlpearl: Not accepted.")
    assert results[2] == ("rejected", "nlpearl: PhoneNumber: Bad number.")
    assert results[3][0] == "rejected"
    assert "Body too large." in (results[3][1] or "")
