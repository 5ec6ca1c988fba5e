"""Voiso simulator: scoped keys, the leads import report, limits, the per-campaign guard, paging."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from simhelp import VOISO_AUTH, VOISO_LEADS, Sim, voiso_leads

READONLY = {"Authorization": "Bearer sim-voiso-readonly"}


def add(sim: Sim, leads: Any, path: str = VOISO_LEADS) -> httpx.Response:
    return sim.client.post(path, headers=VOISO_AUTH, json=leads)


@pytest.mark.parametrize(("headers", "status", "body"), [
    ({}, 401, {"error": "Unauthorized"}),
    ({"Authorization": "Bearer nope"}, 401, {"error": "Unauthorized"}),
    (READONLY, 403, {"error": "Forbidden"}),
])
def test_add_auth_failures(voiso_sim: Sim, headers: dict[str, str], status: int,
                           body: dict[str, str]) -> None:
    response = voiso_sim.client.post(VOISO_LEADS, headers=headers, json=voiso_leads(1))
    assert (response.status_code, response.json()) == (status, body)
    assert voiso_sim.leads() == {}


def test_import_sorts_created_rejected_duplicates(voiso_sim: Sim) -> None:
    leads = [
        {"phone_number": "15551234567", "name": "Ok", "priority": 10,
         "context_headers": {"X-Call-Context": "promo", "X-Client-Order-Id": "1"}},
        {"phone_number": "+15551234568"},
        {"phone_number": "1234"},
        {"phone_number": "15551234567"},
        {"phone_number": "15551234572", "priority": 1000, "active": False},
    ]
    response = add(voiso_sim, leads)
    assert response.status_code == 201
    assert response.json() == {"leads_import": {
        "created": ["15551234567", "15551234572"],
        "rejected": ["+15551234568", "1234"],
        "duplicates": ["15551234567"],
    }}
    again = add(voiso_sim, [{"phone_number": "15551234567"}])
    assert again.status_code == 409
    voiso_sim.advance(2.0)
    again = add(voiso_sim, [{"phone_number": "15551234567"}, {"phone_number": "15551234573"}])
    assert again.json()["leads_import"] == {
        "created": ["15551234573"], "rejected": [], "duplicates": ["15551234567"]}
    stored = sorted(voiso_sim.leads()["3"], key=lambda x: x["phone_number"])
    assert stored[0]["name"] == "Ok"
    assert [x.get("active", True) for x in stored] == [True, False, True]


@pytest.mark.parametrize(("lead", "key"), [
    ({"name": "no phone"}, "leads[1].phone_number"),
    ({"phone_number": ""}, "leads[1].phone_number"),
    ({"phone_number": "15551234569", "priority": 0}, "leads[1].priority"),
    ({"phone_number": "15551234570", "priority": 1001}, "leads[1].priority"),
    ({"phone_number": "15551234570", "priority": "5"}, "leads[1].priority"),
    ({"phone_number": "15551234571", "context_headers": {"Call-Context": "x"}}, "leads[1].context_headers"),
    ({"phone_number": "15551234571", "context_headers": {"X-Bad Name": "x"}}, "leads[1].context_headers"),
    ({"phone_number": "15551234571", "active": "yes"}, "leads[1].active"),
])
def test_documented_422_causes_refuse_the_request(voiso_sim: Sim, lead: dict[str, Any], key: str) -> None:
    """The document's 422 causes: missing phone_number, priority outside 1-1000, a bad header name."""
    response = add(voiso_sim, [{"phone_number": "15551234567"}, lead])
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [key]
    assert voiso_sim.leads() == {}


def test_lenient_mode_accepts_plus(voiso_sim: Sim) -> None:
    voiso_sim.configure(strict=False, success_status=200)
    response = add(voiso_sim, [{"phone_number": "+15551234568"}])
    assert response.status_code == 200
    assert response.json()["leads_import"]["created"] == ["+15551234568"]


@pytest.mark.parametrize("body", [voiso_leads(1001), {"leads": voiso_leads(1)}, "15551234567"])
def test_body_must_be_array_of_at_most_1000(voiso_sim: Sim, body: Any) -> None:
    response = add(voiso_sim, body)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["leads"]
    assert voiso_sim.leads() == {}


def test_exactly_1000_is_fine(voiso_sim: Sim) -> None:
    response = add(voiso_sim, voiso_leads(1000))
    assert len(response.json()["leads_import"]["created"]) == 1000


def test_unknown_and_not_live_campaigns(voiso_sim: Sim) -> None:
    unknown = add(voiso_sim, voiso_leads(1), "/api/v4/campaigns/99/leads")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Not found"})
    not_live = add(voiso_sim, voiso_leads(1), "/api/v4/campaigns/4/leads")
    assert (not_live.status_code, not_live.json()) == (409, {"errors": {"campaign": ["is not live"]}})


def test_spacing_guard_after_an_import(voiso_sim: Sim) -> None:
    assert add(voiso_sim, voiso_leads(1)).status_code == 201
    busy = add(voiso_sim, voiso_leads(1, start=1))
    assert (busy.status_code, busy.json()) == (409, {"errors": {"campaign": ["import in progress"]}})
    voiso_sim.configure(busy_status=429)
    busy = add(voiso_sim, voiso_leads(1, start=1))
    assert (busy.status_code, busy.json()) == (429, {"error": "Too many requests"})
    voiso_sim.advance(1.8)  # the clock also runs: 0.2 s of slack for a busy machine
    assert add(voiso_sim, voiso_leads(1, start=1)).status_code == 429
    voiso_sim.advance(0.21)
    assert add(voiso_sim, voiso_leads(1, start=1)).status_code == 201
    assert len(voiso_sim.leads()["3"]) == 2


def test_guard_is_per_campaign_and_can_be_switched_off(voiso_sim: Sim) -> None:
    campaigns = [{"id": 3, "name": "A"}, {"id": 5, "name": "B"}]
    voiso_sim.configure(campaigns=campaigns)
    assert add(voiso_sim, voiso_leads(1)).status_code == 201
    assert add(voiso_sim, voiso_leads(1), "/api/v4/campaigns/5/leads").status_code == 201
    voiso_sim.configure(rate_limits=False)
    assert add(voiso_sim, voiso_leads(1, start=1)).status_code == 201


def test_import_in_progress_is_refused(voiso_sim: Sim) -> None:
    voiso_sim.faults({"delay_s": 0.5})
    first: list[httpx.Response] = []
    with httpx.Client(base_url=voiso_sim.client.base_url, timeout=10) as other:
        thread = threading.Thread(target=lambda: first.append(add(Sim(other), voiso_leads(1))))
        thread.start()
        while not any(r["ended"] is None and r["path"] == VOISO_LEADS for r in voiso_sim.received()):
            assert thread.is_alive()
            time.sleep(0.01)
        busy = add(voiso_sim, voiso_leads(1, start=1))
        thread.join()
    assert (busy.status_code, busy.json()) == (409, {"errors": {"campaign": ["import in progress"]}})
    assert first[0].status_code == 201


def test_campaign_listing_and_paging(voiso_sim: Sim) -> None:
    campaigns = [{"id": i, "name": f"Campaign {i}", "status": "active" if i % 2 else "paused"}
                 for i in range(1, 8)]
    voiso_sim.configure(campaigns=campaigns)

    def page(**params: Any) -> tuple[list[int], int]:
        response = voiso_sim.client.get("/api/v4/campaigns", headers=READONLY, params=params)
        assert response.status_code == 200
        body = response.json()
        return [c["id"] for c in body["campaigns"]], body["metadata"]["total"]

    assert page() == ([1, 2, 3, 4, 5, 6, 7], 7)
    assert page(limit=3, offset=3) == ([4, 5, 6], 7)
    assert page(limit=3, offset=6) == ([7], 7)
    assert page(status="paused") == ([2, 4, 6], 3)
    assert page(name="campaign 3") == ([3], 1)
    too_big = voiso_sim.client.get("/api/v4/campaigns", headers=READONLY, params={"limit": 101})
    assert too_big.status_code == 422
    assert voiso_sim.client.get("/api/v4/campaigns").status_code == 401


def test_get_campaign(voiso_sim: Sim) -> None:
    response = voiso_sim.client.get("/api/v4/campaigns/3", headers=READONLY)
    campaign = response.json()["campaign"]
    assert (campaign["id"], campaign["status"], campaign["strategy"]) == (3, "active", "simple")
    assert "dial_level_override" in campaign
    assert voiso_sim.client.get("/api/v4/campaigns/77", headers=READONLY).status_code == 404
