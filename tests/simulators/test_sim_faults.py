"""Fault injection and the control routes, on all three simulators."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from simhelp import (
    ENGAGE_API_TOKEN,
    ENGAGE_LOADER,
    NLPEARL_ADD,
    NLPEARL_AUTH,
    PEARL,
    VOISO_AUTH,
    VOISO_LEADS,
    Sim,
    engage_body,
    engage_leads,
    pearl_leads,
    voiso_leads,
)

from simulators.common import PARTIAL_REASON


@dataclass(frozen=True)
class Case:
    """How to load leads into one simulator and count what it stored."""

    fixture: str
    path: str
    headers: dict[str, str]
    body: Callable[[int, int], Any]
    stored: Callable[[Any], int]
    other_path: str


CASES = [
    Case("engage", ENGAGE_LOADER, ENGAGE_API_TOKEN, lambda n, s: engage_body(engage_leads(n, s)),
         lambda leads: len(leads["accounts"].get("99990001", {}).get("4001", [])),
         "/voice/api/v1/admin/accounts/99990001/dialGroups"),
    Case("pearl", NLPEARL_ADD, NLPEARL_AUTH, lambda n, s: {"leads": pearl_leads(n, s)},
         lambda leads: len(leads.get(PEARL, [])), "/v2/Pearl"),
    Case("voiso_sim", VOISO_LEADS, VOISO_AUTH, voiso_leads,
         lambda leads: len(leads.get("3", [])), "/api/v4/campaigns"),
]


@pytest.fixture(params=CASES, ids=[c.fixture for c in CASES])
def case(request: pytest.FixtureRequest) -> tuple[Case, Sim]:
    """A simulator with its rate limits off, and how to load into it."""
    chosen: Case = request.param
    sim: Sim = request.getfixturevalue(chosen.fixture)
    sim.configure(rate_limits=False)
    return chosen, sim


def send(case: Case, sim: Sim, count: int, client: httpx.Client | None = None,
         start: int = 0) -> httpx.Response:
    body = case.body(count, start)
    return (client or sim.client).post(case.path, headers=case.headers, json=body)


def stored(case: Case, sim: Sim) -> int:
    return case.stored(sim.leads())


def loads(case: Case, sim: Sim) -> list[dict[str, Any]]:
    return [r for r in sim.received() if r["path"] == case.path]


def test_status_faults_are_consumed_in_order(case: tuple[Case, Sim]) -> None:
    c, sim = case
    sim.faults({"status": 429, "retry_after": 1, "times": 2}, {"status": 503, "times": 1})
    answers = [send(c, sim, 2) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [429, 429, 503]
    assert answers[0].headers["retry-after"] == "1"
    assert "retry-after" not in answers[2].headers
    assert answers[3].is_success
    assert stored(c, sim) == 2
    assert [r["fault"] for r in loads(c, sim)] == ["status=429", "status=429", "status=503", None]


def test_drop_closes_the_connection_without_storing(case: tuple[Case, Sim]) -> None:
    c, sim = case
    sim.faults({"drop": True})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        send(c, sim, 3)
    assert stored(c, sim) == 0
    record = loads(c, sim)[0]
    assert (record["dropped"], record["status"]) == (True, None)
    assert send(c, sim, 3).is_success
    assert stored(c, sim) == 3


def test_drop_after_store_keeps_the_leads(case: tuple[Case, Sim]) -> None:
    c, sim = case
    sim.faults({"drop": True, "after_store": True})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        send(c, sim, 3)
    assert stored(c, sim) == 3


def test_5xx_after_store_keeps_the_leads(case: tuple[Case, Sim]) -> None:
    c, sim = case
    sim.faults({"status": 502, "after_store": True})
    assert send(c, sim, 3).status_code == 502
    assert stored(c, sim) == 3


def test_delay_answers_late(case: tuple[Case, Sim]) -> None:
    c, sim = case
    sim.faults({"delay_s": 0.3})
    with httpx.Client(base_url=sim.client.base_url, timeout=0.05) as impatient, \
            pytest.raises(httpx.ReadTimeout):
        send(c, sim, 1, impatient)
    while loads(c, sim)[0]["ended"] is None:
        time.sleep(0.02)
    assert loads(c, sim)[0]["fault"] == "delay_s=0.3"


def test_partial_accepts_only_a_fraction(case: tuple[Case, Sim]) -> None:
    c, sim = case
    sim.faults({"partial": 0.5})
    answer = send(c, sim, 4)
    assert stored(c, sim) == 2
    body = answer.json()
    if c.fixture == "engage":
        assert (body["leadsAccepted"], len(body["rejectedRows"])) == (2, 2)
        assert body["rejectedRows"][0] == {"message": PARTIAL_REASON, "rowData": ["e2", "4155550002"]}
    elif c.fixture == "pearl":
        assert answer.status_code == 400
        assert sorted(body["errors"]) == ["leads[2]", "leads[3]"]
    else:
        assert body["leads_import"]["rejected"] == ["14155550002", "14155550003"]


def test_whole_batch_400_refuses_everything_naming_one_lead(case: tuple[Case, Sim]) -> None:
    c, sim = case
    sim.faults({"whole_batch_400": True})
    answer = send(c, sim, 3)
    assert answer.status_code == (422 if c.fixture == "voiso_sim" else 400)
    assert "[0]" in answer.text
    assert stored(c, sim) == 0
    assert send(c, sim, 3).is_success


def test_faults_skip_requests_that_do_not_match(case: tuple[Case, Sim]) -> None:
    c, sim = case
    sim.faults({"status": 503})
    assert sim.client.get(c.other_path, headers=c.headers).status_code == 200
    assert send(c, sim, 1).status_code == 503
    sim.faults({"status": 503}, match="no-such-path")
    assert send(c, sim, 1).is_success


def test_bad_fault_plan_is_422(case: tuple[Case, Sim]) -> None:
    _, sim = case
    for plan in ({"plan": [{"status": 200}]}, {"plan": [{"times": 0}]}, {"plan": [], "match": "("}):
        assert sim.client.post("/_sim/faults", json=plan).status_code == 422


def test_received_counts_and_reset(case: tuple[Case, Sim]) -> None:
    c, sim = case
    for count in (1, 2, 3):
        assert send(c, sim, count, start=10 * count).is_success
    records = loads(c, sim)
    assert [(r["method"], r["leads"]) for r in records] == [("POST", 1), ("POST", 2), ("POST", 3)]
    assert all(r["status"] in (200, 201) and r["started"] <= r["ended"] for r in records)
    assert not any(r["path"].startswith("/_sim/") for r in sim.received())
    sim.faults({"status": 503})
    assert sim.client.post("/_sim/reset").status_code == 200
    assert (sim.received(), stored(c, sim)) == ([], 0)
    assert send(c, sim, 1).is_success
