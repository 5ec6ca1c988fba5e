"""Unknown answers through the real flow: each is settled by look-ups a grace period apart, never by a guess.

Every valid lead is held exactly once by the simulator after at most three runs, whatever the
fault (docs/delivery.md); each run accounts for every lead.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from relhelp import CAMPAIGNS, SimView, assert_balanced, leads_file, run_options

from flows.load_leads import load_leads

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

LEADS = 7  # batches of 3: 3 + 3 + 1
RETAIN = {"duplicate_handling": "RETAIN_ALL"}  # Engage keeps every copy: a double load shows
#: Look-up paths per provider (Voiso has none).
LOOKUPS = {"engage-voice": r"/campaignLeads/leadSearch$", "nlpearl": r"/Lead/External/"}


def run(view: SimView, tmp: Path, name: str, **load: Any) -> dict[str, Any]:
    source = leads_file(tmp / "leads.csv", LEADS)
    opts = run_options(tmp, view.url, name=name, **load)
    return load_leads(source=source, provider=view.name, campaign=CAMPAIGNS[view.name], options=opts)


def all_held_once_within_three_runs(view: SimView, tmp: Path, plan: list[dict[str, Any]], *,
                                    lookup_plan: list[dict[str, Any]] | None = None,
                                    **load: Any) -> list[dict[str, Any]]:
    """Run under the faults, then again without them, until the simulator holds every lead; at most 3 runs."""
    expected = sorted(f"L{i}" for i in range(LEADS)) if view.name != "voiso" else None
    view.faults(*plan)
    if lookup_plan:
        view.call_faults(LOOKUPS[view.name], *lookup_plan)
    results = []
    for n in range(3):
        result = run(view, tmp, f"run{n}", **load)
        assert_balanced(result, LEADS)
        results.append(result)
        view.wait_idle()
        keys = view.stored_keys()
        twice = {k: c for k, c in Counter(keys).items() if c > 1}
        assert not twice, f"run {n}: stored more than once: {twice}"
        if len(keys) == LEADS:
            break
        view.faults()
        view.call_faults(r"(?!)")
    assert len(view.stored_keys()) == LEADS, f"not every lead held after {len(results)} runs"
    if expected is not None:
        assert sorted(view.stored_keys()) == expected
    return results


GARBLED_AFTER_STORE = {
    f"{kind} 200 after storing": [{"garbled": kind, "after_store": True, "times": 1}]
    for kind in ("html", "truncated", "empty", "null")
}
NOT_STORED = {
    "bare {} (nothing stored)": [{"garbled": "bare", "times": 1}],
    "html 200, nothing stored": [{"garbled": "html", "times": 2}],
}
DROPPED = {
    "connection dropped after storing": [{"drop": True, "after_store": True, "times": 2}],
    "late answer after the client's timeout": [{"delay_s": 1.5, "times": 1}],
}
ALL = {**GARBLED_AFTER_STORE, **NOT_STORED, **DROPPED}


@pytest.mark.parametrize("plan", ALL.values(), ids=ALL.keys())
def test_engage_unknown_answers_load_each_lead_once(sims: dict[str, SimView], tmp_path: Path,
                                                     plan: list[dict[str, Any]]) -> None:
    view = sims["engage-voice"]
    results = all_held_once_within_three_runs(view, tmp_path, plan, provider_options=RETAIN,
                                              timeout_s=0.5, answer_grace_s=2.0)
    assert results[0]["outcomes"]["loaded"] == LEADS  # settled by look-ups within the first run
    stored_by_the_fault = plan[0].get("after_store") or plan[0].get("delay_s")
    if stored_by_the_fault:  # found by a look-up, not sent again
        assert len(view.load_requests()) == 3  # one per batch


@pytest.mark.parametrize("plan", ALL.values(), ids=ALL.keys())
def test_nlpearl_unknown_answers_load_each_lead_once(sims: dict[str, SimView], tmp_path: Path,
                                                     plan: list[dict[str, Any]]) -> None:
    view = sims["nlpearl"]
    view.app.sim.update_config({"duplicates": "allow"})  # keep a double load visible
    results = all_held_once_within_three_runs(view, tmp_path, plan, timeout_s=0.5, answer_grace_s=2.0)
    assert results[0]["outcomes"]["loaded"] == LEADS
    if plan[0].get("after_store") or plan[0].get("delay_s"):  # found by a look-up, not sent again
        assert len(view.load_requests()) == 3  # one per batch


VOISO = {**GARBLED_AFTER_STORE, **NOT_STORED, "connection dropped after storing": DROPPED[
    "connection dropped after storing"]}


@pytest.mark.parametrize("plan", VOISO.values(), ids=VOISO.keys())
def test_voiso_unknown_answers_are_resent_under_its_duplicate_check(sims: dict[str, SimView], tmp_path: Path,
                                                                    plan: list[dict[str, Any]]) -> None:
    view = sims["voiso"]
    results = all_held_once_within_three_runs(view, tmp_path, plan, batch_size=10)
    assert results[0]["outcomes"]["loaded"] == LEADS
    # No look-up exists: the batch is sent again as soon as the run may, and Voiso's duplicate check
    # answers for the leads that had landed.
    assert len(view.load_requests()) == plan[0]["times"] + 1


@pytest.mark.parametrize("provider", ["engage-voice", "nlpearl"])
def test_a_429_storm_on_look_ups_slows_the_run_but_never_ends_it(sims: dict[str, SimView], tmp_path: Path,
                                                                 provider: str) -> None:
    view = sims[provider]
    if provider == "nlpearl":
        view.app.sim.update_config({"duplicates": "allow"})
    storm = [{"status": 429, "retry_after": 0.2, "times": 6}, {"status": 503, "times": 2}]
    extra = RETAIN if provider == "engage-voice" else {}
    results = all_held_once_within_three_runs(view, tmp_path, [{"drop": True, "after_store": True, "times": 3}],
                                              lookup_plan=storm, provider_options=extra, answer_grace_s=1.0)
    assert results[0]["outcomes"]["loaded"] == LEADS
    throttled = [r for r in view.app.sim.received.records if r["status"] == 429]
    assert len(throttled) == 6


def test_a_crashed_runs_batches_are_looked_up_through_a_429_storm(sims: dict[str, SimView], tmp_path: Path) -> None:
    """The first run's last attempt at each batch goes unanswered after storing; the next run starts by
    looking them up while leadSearch answers 429 again and again, and loads nothing twice."""
    view = sims["engage-voice"]
    view.faults({"drop": True, "after_store": True, "times": 100})
    first = run(view, tmp_path, "first", provider_options=RETAIN, max_attempts=1)
    assert_balanced(first, LEADS)
    assert first["outcomes"]["failed"] == LEADS
    view.wait_idle()
    assert sorted(view.stored_keys()) == sorted(f"L{i}" for i in range(LEADS))
    view.faults()
    view.call_faults(LOOKUPS["engage-voice"], {"status": 429, "times": 8})
    second = run(view, tmp_path, "second", provider_options=RETAIN, answer_grace_s=0.0)
    table = assert_balanced(second, LEADS)
    assert set(table["outcome"]) == {"duplicate"}
    view.wait_idle()
    assert Counter(view.stored_keys()) == Counter(f"L{i}" for i in range(LEADS))
