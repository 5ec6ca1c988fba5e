"""Events, progress artifacts and the example automation against the session's real server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from orchhelp import WAIT_S, Stack, wait_for, write_leads
from prefect import flow
from prefect.runtime import flow_run

from tasks.events import ProgressArtifact, campaign_resource, emit_batch_loaded, flush_events

pytestmark = [pytest.mark.server, pytest.mark.slow]


def events_of(stack: Stack, name: str, resource_id: str) -> list[dict[str, Any]]:
    page = stack.post("/events/filter", {"filter": {"event": {"name": [name]}, "resource": {"id": [resource_id]}},
                                         "limit": 50})
    return page["events"]  # type: ignore[no-any-return]


def run_completed(rate: float, campaign: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "occurred": datetime.now(UTC).isoformat(), "event": "leadflow.run.completed",
            "resource": campaign_resource("engage-voice", campaign, rejection_rate=rate, status="completed"),
            "payload": {"run_id": str(uuid.uuid4()), "rejection_rate": rate,
                        "outcomes": {"loaded": 10, "rejected": round(rate * 10)}}}


def held(stack: Stack, run_id: str) -> dict[str, Any]:
    """Wait for a run to end; it must have ended Held, naming the command that lifts the hold."""
    run = wait_for(lambda: (r := stack.run(run_id))["state_type"] in ("COMPLETED", "FAILED", "CRASHED",
                                                                     "CANCELLED") and r, f"flow run {run_id}")
    assert (run["state_type"], run["state"]["name"]) == ("CANCELLED", "Held"), run["state"]
    assert "leadflow hold lift --provider engage-voice --campaign 4001" in run["state"]["message"]
    assert stack.ledger_run(run_id)["status"] == "held"
    return run  # type: ignore[no-any-return]


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args, "--ledger", stack.ledger_url], cwd=stack.home,
                          env={**stack.env, "ENGAGE_VOICE_API_TOKEN": "sim-engage-api-token"},
                          capture_output=True, text=True, timeout=WAIT_S, check=False)


def test_a_bad_run_puts_its_campaign_on_hold_for_every_entry_point_until_lifted(
        api_settings: Stack, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment

    from tasks.holds import Holds
    from tasks.ledger import Ledger

    stack = api_settings
    holds = Holds(Ledger(stack.ledger_url))
    assert holds.get("engage-voice", "4001") is None
    low, high = run_completed(0.05, "4001"), run_completed(0.4, "4001")
    source = write_leads(tmp_path / "leads.csv")
    try:
        stack.post("/events", [low, high])
        hold = wait_for(lambda: holds.get("engage-voice", "4001"), "the trigger to put campaign 4001 on hold")
        assert high["payload"]["run_id"] in hold.reason
        assert holds.get("engage-voice", "4002") is None

        scheduled = run_deployment("load-leads/engage-4001-nightly", timeout=0)
        adhoc = run_deployment("load-leads/adhoc", timeout=0, parameters={
            "source": {"location": str(source)}, "provider": "engage-voice", "campaign": "4001"})
        landed = write_leads(stack.landing / "engage-voice" / "4001" / "held.csv")
        stack.post("/events", [{"id": str(uuid.uuid4()), "occurred": datetime.now(UTC).isoformat(),
                                "event": "leadflow.source.landed", "payload": {"location": str(landed)},
                                "resource": {"prefect.resource.id": f"leadflow.source.{landed}",
                                             "leadflow.source.kind": "file"}}])
        dep = stack.deployment("engage-4001-on-landing")
        triggered = wait_for(lambda: next((r for r in stack.runs_of(dep["id"])
                                           if r["parameters"]["source"]["location"] == str(landed)), None),
                             "the landed file's run")
        for run_id in (str(scheduled.id), str(adhoc.id), triggered["id"]):
            held(stack, run_id)
        by_cli = cli(stack, "run", "--source", str(source), "--provider", "engage-voice", "--campaign", "4001",
                     "--base-url", stack.sim_url, "--output-dir", str(tmp_path / "out"))
        assert by_cli.returncode == 4, by_cli.stderr
        assert by_cli.stderr.count("on hold") == 1 and "Traceback" not in by_cli.stderr, by_cli.stderr

        listed = cli(stack, "hold", "list")
        assert "engage-voice campaign 4001 is on hold" in listed.stdout
        lifted = cli(stack, "hold", "lift", "--provider", "engage-voice", "--campaign", "4001")
        assert lifted.returncode == 0, lifted.stderr
    finally:
        holds.lift("engage-voice", "4001")

    again = run_deployment("load-leads/adhoc", timeout=0, parameters={
        "source": {"location": str(source)}, "provider": "engage-voice", "campaign": "4001"})
    assert stack.finished(str(again.id))["state"]["name"] == "Completed"
    assert cli(stack, "hold", "lift", "--provider", "engage-voice", "--campaign", "4001").returncode == 1


@flow(name="leadflow-observability-probe")
def probe(key: str) -> str:
    listener = ProgressArtifact(key)
    for done in (0, 40, 100):
        listener("read", done, 100)
    listener("load", 100, 100)
    emit_batch_loaded("engage-voice", "4001", str(flow_run.id), "probe-00000-00000", {"loaded": 3, "rejected": 1})
    return str(listener.artifact_id)


def test_progress_artifact_and_batch_events_reach_the_server(api_settings: Stack) -> None:
    stack = api_settings
    key = f"leadflow-probe-{uuid.uuid4().hex[:8]}"

    artifact_id = probe(key)
    flush_events()

    artifact = stack.get(f"/artifacts/{artifact_id}")
    assert (artifact["type"], artifact["key"], artifact["data"]) == ("progress", key, 100.0)
    assert artifact["description"] == "load: 100 of 100"
    campaign = "leadflow.campaign.engage-voice.4001"
    [event] = wait_for(lambda: [e for e in events_of(stack, "leadflow.batch.loaded", campaign)
                                if e["payload"]["batch_id"] == "probe-00000-00000"], "leadflow.batch.loaded")
    assert event["payload"]["counts"] == {"loaded": 3, "rejected": 1}
    assert event["payload"]["leads"] == 4
    assert any(r.get("prefect.resource.role") == "flow-run" for r in event["related"])
