"""NLPearl simulator: Leads/Add answers (true, partial and atomic 400s), duplicates, lookups."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from simhelp import NLPEARL_ADD, NLPEARL_AUTH, PEARL, Sim, pearl_leads

from simulators.common import most_in_window


def add(sim: Sim, leads: list[Any], path: str = NLPEARL_ADD) -> httpx.Response:
    return sim.client.post(path, headers=NLPEARL_AUTH, json={"leads": leads})


def stored_ids(sim: Sim) -> list[str]:
    return sorted(lead["externalId"] for lead in sim.leads().get(PEARL, []))


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer sim-account:wrong"}, {"Authorization": "sim-account:sim-secret"},
])
def test_bad_auth_is_401(pearl: Sim, headers: dict[str, str]) -> None:
    response = pearl.client.post(NLPEARL_ADD, headers=headers, json={"leads": pearl_leads(1)})
    assert response.status_code == 401
    assert pearl.leads() == {}


def test_unknown_pearl_is_404(pearl: Sim) -> None:
    response = add(pearl, pearl_leads(1), "/v2/Outbound/000000000000000000000000/Leads/Add")
    assert response.status_code == 404


def test_all_valid_gives_true_and_lookup_by_external_id(pearl: Sim) -> None:
    leads = [{"phoneNumber": "+14155550100", "externalId": "crm-1", "timeZoneId": "Pacific Standard Time",
              "callData": {"firstName": "Ada"}},
             {"phoneNumber": "+447700900123", "externalId": "crm-2"}]
    response = add(pearl, leads)
    assert (response.status_code, response.json()) == (200, True)
    found = pearl.client.get(f"/v2/Outbound/{PEARL}/Lead/External/crm-1", headers=NLPEARL_AUTH)
    lead = found.json()
    assert (lead["status"], lead["phoneNumber"], lead["timeZone"]) == (1, "+14155550100",
                                                                       "Pacific Standard Time")
    assert lead["callData"] == {"firstName": "Ada"}
    assert len(lead["id"]) == 24
    by_id = pearl.client.get(f"/v2/Outbound/{PEARL}/Lead/{lead['id']}", headers=NLPEARL_AUTH)
    assert by_id.json()["externalId"] == "crm-1"
    missing = pearl.client.get(f"/v2/Outbound/{PEARL}/Lead/External/nope", headers=NLPEARL_AUTH)
    assert missing.status_code == 400
    assert "errors" in missing.json()


BAD = [
    {"phoneNumber": "+14155550100", "externalId": "good-1"},
    {"phoneNumber": "4155550101", "externalId": "no-plus"},
    {"externalId": "no-phone"},
    {"phoneNumber": "+14155550102", "externalId": "bad-zone", "timeZoneId": "America/Chicago"},
    {"phoneNumber": "+14155550103", "externalId": "bad-data", "callData": {"n": 3}},
    {"phoneNumber": "+14155550104", "externalId": "good-2", "timeZoneId": "Türkiye Standard Time"},
]


def test_partial_mode_stores_valid_leads_and_names_bad_ones(pearl: Sim) -> None:
    response = add(pearl, BAD)
    assert response.status_code == 400
    problem = response.json()
    assert problem["status"] == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert sorted(problem["errors"]) == [
        "leads[1].phoneNumber", "leads[2].phoneNumber", "leads[3].timeZoneId", "leads[4].callData"]
    assert stored_ids(pearl) == ["good-1", "good-2"]


def test_atomic_mode_stores_nothing(pearl: Sim) -> None:
    pearl.configure(partial_mode=False)
    assert add(pearl, BAD).status_code == 400
    assert stored_ids(pearl) == []


def test_lenient_mode_accepts_phone_without_plus(pearl: Sim) -> None:
    pearl.configure(strict=False)
    assert add(pearl, [{"phoneNumber": "4155550101", "externalId": "a"}]).json() is True


def test_duplicate_external_ids_are_rejected_by_default(pearl: Sim) -> None:
    assert add(pearl, pearl_leads(2)).json() is True
    response = add(pearl, [*pearl_leads(1, start=1), *pearl_leads(1, start=5), *pearl_leads(1, start=5)])
    errors = response.json()["errors"]
    assert sorted(errors) == ["leads[0].externalId", "leads[2].externalId"]
    assert "x1" in errors["leads[0].externalId"][0]
    assert stored_ids(pearl) == ["x0", "x1", "x5"]


def test_duplicates_allowed_when_configured(pearl: Sim) -> None:
    pearl.configure(duplicates="allow")
    assert add(pearl, pearl_leads(2)).json() is True
    assert add(pearl, pearl_leads(2)).json() is True
    assert stored_ids(pearl) == ["x0", "x0", "x1", "x1"]


def test_more_than_max_leads_is_400(pearl: Sim) -> None:
    response = add(pearl, [{"phoneNumber": "+14155550100"}] * 50_001)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["leads"]
    assert pearl.leads() == {}


def test_missing_leads_is_400(pearl: Sim) -> None:
    response = pearl.client.post(NLPEARL_ADD, headers=NLPEARL_AUTH, json={})
    assert (response.status_code, list(response.json()["errors"])) == (400, ["leads"])


def test_search_and_single_add(pearl: Sim) -> None:
    add(pearl, pearl_leads(5))
    single = pearl.client.post(f"/v2/Outbound/{PEARL}/Lead", headers=NLPEARL_AUTH,
                               json={"phoneNumber": "+14155559999", "externalId": "solo"})
    assert len(single.json()["leadId"]) == 24
    search = pearl.client.post(f"/v2/Outbound/{PEARL}/Leads", headers=NLPEARL_AUTH,
                               json={"skip": 1, "limit": 2, "statuses": [1], "searchInput": "+1415555"})
    body = search.json()
    assert body["count"] == 6
    assert [lead["externalId"] for lead in body["results"]] == ["x1", "x2"]


def test_pearls_and_account(pearl: Sim) -> None:
    pearls = pearl.client.get("/v2/Pearl", headers=NLPEARL_AUTH).json()
    assert PEARL in [p["id"] for p in pearls]
    assert pearl.client.get(f"/v2/Pearl/{PEARL}", headers=NLPEARL_AUTH).json()["id"] == PEARL
    assert pearl.client.get("/v1/Account", headers=NLPEARL_AUTH).json()["status"] == 1
    assert pearl.client.get("/v1/Account").status_code == 401


def test_optional_rate_window(pearl: Sim) -> None:
    pearl.configure(add_windows=[[2, 60.0]], duplicates="allow")
    statuses = [add(pearl, pearl_leads(1)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    pearl.advance(60)
    assert add(pearl, pearl_leads(1)).status_code == 200


def test_stats_count_busy_time_statuses_and_window_arrivals(pearl: Sim) -> None:
    """``GET /_sim/stats``: the time requests were in flight, answers by status, arrivals per window."""
    pearl.configure(add_windows=[[2, 60.0]], duplicates="allow")
    for _ in range(3):
        add(pearl, pearl_leads(1))
    stats = pearl.client.get("/_sim/stats").json()
    assert stats["requests"] == 3 and stats["most_in_flight"] == 1
    assert 0 < stats["busy_s"] < 5 and stats["cpu_s"] >= 0
    assert stats["statuses"] == {"200": 2, "429": 1}
    (window,) = stats["limits"].values()
    assert window["arrivals"] == 3 and window["refused"] == 1
    assert window["windows"] == [{"limit": 2, "span_s": 60.0, "most": 3}]
    pearl.client.post("/_sim/reset")
    assert pearl.client.get("/_sim/stats").json()["requests"] == 0


def test_most_in_window_slides() -> None:
    assert most_in_window([0.0, 1.0, 9.9, 10.0, 10.5, 30.0], 10.0) == 4  # 1.0 to 10.5
    assert most_in_window([], 10.0) == 0


@pytest.mark.parametrize(("body", "key"), [
    ({"leads": [{"phoneNumber": "+14155550100", "firstName": "Ada"}]}, "$.leads[0].firstName"),
    ({"leads": [{"phoneNumber": "+14155550100"}], "campaign": "x"}, "$.campaign"),
])
def test_properties_the_schema_forbids_refuse_the_whole_request(pearl: Sim, body: dict[str, Any], key: str) -> None:
    """``additionalProperties: false`` on LeadsToAddApi and LeadToAddApi: a 400 problem, nothing stored."""
    response = pearl.client.post(NLPEARL_ADD, headers=NLPEARL_AUTH, json=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["status"] == 400 and list(problem["errors"]) == [key]
    assert pearl.leads() == {}


def test_single_add_refuses_forbidden_properties_too(pearl: Sim) -> None:
    single = pearl.client.post(f"/v2/Outbound/{PEARL}/Lead", headers=NLPEARL_AUTH,
                               json={"phoneNumber": "+14155550100", "notes": "x"})
    assert single.status_code == 400 and list(single.json()["errors"]) == ["$.notes"]
    assert pearl.leads() == {}
