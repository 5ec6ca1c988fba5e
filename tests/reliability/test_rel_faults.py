"""Provider faults through the real flow: one outcome per lead, each loaded lead stored once, reruns finish the job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from relhelp import (
    CAMPAIGNS,
    SimView,
    assert_balanced,
    assert_stored_once,
    key_of,
    leads_file,
    loaded_keys,
    run_options,
)

from flows.load_leads import load_leads

pytestmark = pytest.mark.usefixtures("prefect_harness")

LEADS = 7  # batches of 3: 3 + 3 + 1
#: Engage keeps every copy of a lead sent twice, so a double load shows in the simulator.
RETAIN = {"duplicate_handling": "RETAIN_ALL"}


#: Seconds from an unanswered request to the second look-up of its leads. Here a request has ended by
#: the time its client hears a status or a reset, so one second is plenty; without it the grace
#: would be twice the 30 s default timeout. Runs with a short ``timeout_s`` keep the default grace
#: (twice the timeout, at least 5 s), which the late answer of a delayed request must land within.
GRACE_S = 1.0


def run(view: SimView, tmp: Path, name: str, count: int = LEADS, **load: Any) -> dict[str, Any]:
    """One load of the test file into the provider's simulator."""
    if "timeout_s" not in load:
        load = {"answer_grace_s": GRACE_S, **load}
    source = leads_file(tmp / "leads.csv", count)
    opts = run_options(tmp, view.url, name=name, **load)
    return load_leads(source=source, provider=view.name, campaign=CAMPAIGNS[view.name], options=opts)


def fault_then_rerun(view: SimView, tmp: Path, plan: list[dict[str, Any]], first: dict[str, int],
                     count: int = LEADS, *, reported: bool = True, rerun: bool = False, **load: Any) -> None:
    """Load under ``plan``, check the accounting, then rerun without faults: everything lands exactly once.

    The rerun is skipped when the first run loaded every lead, unless ``rerun``. ``reported=False``:
    some leads landed without the first run hearing so (they count as failed there); the rerun must
    find them instead of sending them again.
    """
    view.faults(*plan)
    one = run(view, tmp, "first", count, **load)
    table = assert_balanced(one, count)
    assert {k: v for k, v in one["outcomes"].items() if v} == first
    view.wait_idle()
    before = set(loaded_keys(view, table))
    if reported:
        assert_stored_once(view, before)
    else:
        assert_stored_once(view, view.stored_keys())
        assert before <= set(view.stored_keys())
    if first == {"loaded": count} and not rerun:
        return

    view.faults()
    two = run(view, tmp, "second", count, **load)
    again = assert_balanced(two, count)
    assert set(again["outcome"]) <= {"loaded", "duplicate"}
    view.wait_idle()
    after = set(loaded_keys(view, again))
    assert not before & after, f"loaded by both runs: {before & after}"
    assert_stored_once(view, [key_of(view, r) for _, r in again.iterrows()])
    if reported:
        assert len(before | after) == count


ENGAGE_TRANSIENT = {
    "429 with Retry-After": [{"status": 429, "retry_after": 0.3, "times": 2}],
    "429 without Retry-After": [{"status": 429, "times": 2}],
    "500": [{"status": 500, "times": 2}],
    "502": [{"status": 502, "times": 1}],
    "503": [{"status": 503, "times": 3}],
    "slow answers": [{"delay_s": 0.4, "times": 3}],
    "connection reset before storing": [{"drop": True, "times": 2}],
    "connection reset after storing": [{"drop": True, "after_store": True, "times": 2}],
}


@pytest.mark.parametrize("plan", ENGAGE_TRANSIENT.values(), ids=ENGAGE_TRANSIENT.keys())
def test_engage_transient_faults_load_every_lead_once(sims: dict[str, SimView], tmp_path: Path,
                                                      plan: list[dict[str, Any]]) -> None:
    fault_then_rerun(sims["engage-voice"], tmp_path, plan, {"loaded": LEADS}, provider_options=RETAIN)


def test_engage_retry_after_is_waited_for(sims: dict[str, SimView], tmp_path: Path) -> None:
    view = sims["engage-voice"]
    view.faults({"status": 429, "retry_after": 1.5, "times": 1})
    result = run(view, tmp_path, "first", 3, provider_options=RETAIN)
    assert result["outcomes"]["loaded"] == 3
    throttled, retried = view.load_requests()
    assert throttled["status"] == 429
    assert retried["status"] == 200
    assert retried["started"] - throttled["ended"] >= 1.4


def test_engage_timeout_reconciles_before_resending(sims: dict[str, SimView], tmp_path: Path) -> None:
    view = sims["engage-voice"]
    fault_then_rerun(view, tmp_path, [{"delay_s": 1.5, "times": 1}], {"loaded": LEADS}, timeout_s=0.5,
                     provider_options=RETAIN)


def test_engage_5xx_after_storing_is_not_loaded_twice(sims: dict[str, SimView], tmp_path: Path) -> None:
    fault_then_rerun(sims["engage-voice"], tmp_path, [{"status": 502, "after_store": True, "times": 1}],
                     {"loaded": LEADS}, provider_options=RETAIN, rerun=True)


def test_engage_partial_acceptance_rejects_the_rest(sims: dict[str, SimView], tmp_path: Path) -> None:
    fault_then_rerun(sims["engage-voice"], tmp_path, [{"partial": 0.5, "times": 1}],
                     {"loaded": LEADS - 2, "rejected": 2}, provider_options=RETAIN, concurrency=1)


def test_engage_whole_batch_refused_isolates_the_bad_lead(sims: dict[str, SimView], tmp_path: Path) -> None:
    view = sims["engage-voice"]
    fault_then_rerun(view, tmp_path, [{"whole_batch_400": True, "times": 2}], {"loaded": LEADS - 1, "rejected": 1},
                     provider_options=RETAIN, concurrency=1)
    sizes = [r["leads"] for r in view.load_requests()]
    assert sizes[:3] == [3, 1, 2]


def test_engage_failed_after_all_attempts_then_loaded_by_next_run(sims: dict[str, SimView], tmp_path: Path) -> None:
    fault_then_rerun(sims["engage-voice"], tmp_path, [{"status": 503, "times": 100}], {"failed": LEADS},
                     provider_options=RETAIN, max_attempts=2)


def test_engage_unanswered_after_all_attempts_is_resent_by_next_run(sims: dict[str, SimView],
                                                                     tmp_path: Path) -> None:
    fault_then_rerun(sims["engage-voice"], tmp_path, [{"drop": True, "times": 100}], {"failed": LEADS},
                     provider_options=RETAIN, max_attempts=2)


def test_engage_landed_on_last_unanswered_attempt_is_reconciled_by_next_run(sims: dict[str, SimView],
                                                                           tmp_path: Path) -> None:
    plan = [{"drop": True, "times": 1}, {"drop": True, "after_store": True, "times": 1}]
    fault_then_rerun(sims["engage-voice"], tmp_path, plan, {"failed": LEADS}, reported=False,
                     provider_options=RETAIN, max_attempts=2, batch_size=10)
    assert len(sims["engage-voice"].stored_keys()) == LEADS


def _pearl(view: SimView) -> SimView:
    """NLPearl keeping duplicate external ids, so a double load shows."""
    view.app.sim.update_config({"duplicates": "allow"})
    return view


NLPEARL_FAULTS = {
    "429": ([{"status": 429, "retry_after": 0.2, "times": 2}], {"loaded": LEADS}),
    "503": ([{"status": 503, "times": 2}], {"loaded": LEADS}),
    "connection reset after storing": ([{"drop": True, "after_store": True, "times": 1}], {"loaded": LEADS}),
    "timeout": ([{"delay_s": 1.5, "times": 1}], {"loaded": LEADS}),
    "partial acceptance": ([{"partial": 0.5, "times": 1}], {"loaded": LEADS - 2, "rejected": 2}),
    "whole batch refused": ([{"whole_batch_400": True, "times": 2}], {"loaded": LEADS - 2, "rejected": 2}),
    "failed after all attempts": ([{"status": 503, "times": 100}], {"failed": LEADS}),
}


@pytest.mark.parametrize(("plan", "first"), NLPEARL_FAULTS.values(), ids=NLPEARL_FAULTS.keys())
def test_nlpearl_faults(sims: dict[str, SimView], tmp_path: Path, plan: list[dict[str, Any]],
                        first: dict[str, int]) -> None:
    fault_then_rerun(_pearl(sims["nlpearl"]), tmp_path, plan, first, timeout_s=0.5, max_attempts=3)


VOISO_FAULTS = {
    "503 then busy": ([{"status": 503, "times": 1}], {"loaded": 4}),
    "connection reset after storing": ([{"drop": True, "after_store": True, "times": 1}], {"loaded": 4}),
    # The resend after the unknown answer is refused (503, not acted on): the attempt after it is still
    # a resend, so Voiso's "already there" for the leads the first request stored means loaded.
    "reset after storing, then the resend refused": (
        [{"drop": True, "after_store": True, "times": 1}, {"status": 503, "times": 1}], {"loaded": 4}),
    "partial acceptance": ([{"partial": 0.5, "times": 1}], {"loaded": 2, "rejected": 2}),
}


@pytest.mark.parametrize(("plan", "first"), VOISO_FAULTS.values(), ids=VOISO_FAULTS.keys())
def test_voiso_faults(sims: dict[str, SimView], tmp_path: Path, plan: list[dict[str, Any]],
                      first: dict[str, int]) -> None:
    fault_then_rerun(sims["voiso"], tmp_path, plan, first, count=4, batch_size=10)


def test_engage_failed_leads_are_carried_into_a_later_run_of_another_file(sims: dict[str, SimView],
                                                                         tmp_path: Path) -> None:
    view = sims["engage-voice"]
    view.faults({"status": 503, "times": 100})
    first = run(view, tmp_path, "first", 4, provider_options=RETAIN, max_attempts=2)
    assert {k: v for k, v in first["outcomes"].items() if v} == {"failed": 4}
    view.faults()
    other = leads_file(tmp_path / "other.csv", 1, start=50)
    opts = run_options(tmp_path, view.url, name="later", provider_options=RETAIN)
    later = load_leads(source=other, provider="engage-voice", campaign=CAMPAIGNS["engage-voice"],
                       options=opts.model_copy(update={"now": datetime.now(UTC) + timedelta(minutes=30)}))
    table = assert_balanced(later, 1)
    assert later["rows_carried"] == 4
    assert {k: v for k, v in later["outcomes"].items() if v} == {"loaded": 5}
    assert table["origin"].str.startswith("carried").sum() == 4
    view.wait_idle()
    assert_stored_once(view, ["L0", "L1", "L2", "L3", "L50"])
