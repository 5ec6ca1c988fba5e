"""Events, progress artifacts and the example automation against the session's real server."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from orchhelp import Stack, wait_for
from prefect import flow
from prefect.runtime import flow_run

from tasks.events import ProgressArtifact, campaign_resource, emit_batch_loaded, flush_events

pytestmark = [pytest.mark.server, pytest.mark.slow]


def events_of(stack: Stack, name: str, resource_id: str) -> list[dict[str, Any]]:
    page = stack.post("/events/filter", {"filter": {"event": {"name": [name]}, "resource": {"id": [resource_id]}},
                                         "limit": 50})
    return page["events"]  # type: ignore[no-any-return]


def run_completed(stack: Stack, rate: float, deployment_id: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "occurred": datetime.now(UTC).isoformat(), "event": "leadflow.run.completed",
            "resource": campaign_resource("engage-voice", "4002", rejection_rate=rate, status="completed"),
            "related": [{"prefect.resource.id": f"prefect.deployment.{deployment_id}",
                         "prefect.resource.role": "deployment"}],
            "payload": {"rejection_rate": rate, "outcomes": {"loaded": 10, "rejected": round(rate * 10)}}}


def test_high_rejection_automation_pauses_only_after_a_bad_run(stack: Stack) -> None:
    created = stack.prefect("automation", "create", "--from-file", "docs/automations/high-rejection-rate.yaml")
    automation_id = re.search(r"with id\s+([0-9a-f-]{36})", created.stdout)
    assert automation_id, created.stdout
    target = stack.deployment("engage-4002-nightly")
    low, high = run_completed(stack, 0.05, target["id"]), run_completed(stack, 0.4, target["id"])
    try:
        stack.post("/events", [low, high])
        wait_for(lambda: stack.deployment("engage-4002-nightly")["paused"], "the deployment to be paused")
        fired = wait_for(lambda: events_of(stack, "prefect.automation.action.executed",
                                           f"prefect.automation.{automation_id[1]}"), "the action's event")
    finally:
        httpx.patch(f"{stack.api}/deployments/{target['id']}", json={"paused": False}, timeout=30)
        httpx.delete(f"{stack.api}/automations/{automation_id[1]}", timeout=30)

    triggering = {r["prefect.resource.id"] for e in fired for r in e["related"]
                  if r.get("prefect.resource.role") == "triggering-event"}
    assert triggering == {f"prefect.event.{high['id']}"}


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
