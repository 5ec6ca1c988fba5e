"""Event shapes, rate labels and the example automation, checked with Prefect's own trigger classes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.events.schemas.automations import AutomationCore
from prefect.server.events.schemas.automations import Automation as ServerAutomation
from prefect.server.events.schemas.events import ReceivedEvent

from tasks.events import (
    CAMPAIGN_LABEL,
    PROVIDER_LABEL,
    RATE_LABEL,
    ProgressArtifact,
    campaign_resource,
    format_of,
    format_rate,
    rate_at_least,
    source_landed_event,
)

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"
RATES = [i / 10_000 for i in range(0, 10_001, 7)] + [0.0999, 0.1, 0.1001, 0.15, 0.1499, 1.0]


def received(name: str, resource: dict[str, str], payload: dict[str, Any] | None = None) -> ReceivedEvent:
    now = datetime.now(UTC)
    return ReceivedEvent(occurred=now, received=now, event=name, resource=resource, payload=payload or {},
                         id=uuid.uuid4())


def hold_trigger() -> dict[str, Any]:
    """The trigger of prefect.yaml's hold-on-high-rejection deployment."""
    spec = yaml.safe_load(PREFECT_YAML.read_text())
    [deployment] = [d for d in spec["deployments"] if d["name"] == "hold-on-high-rejection"]
    return deployment["triggers"][0]  # type: ignore[no-any-return]


def server_automation() -> ServerAutomation:
    """The automation the server makes of that trigger (its action aside)."""
    found = hold_trigger()
    trigger = {k: found[k] for k in ("type", "match", "expect", "for_each", "posture", "threshold", "within")}
    core = AutomationCore.model_validate({"name": "hold", "trigger": trigger, "actions": [{"type": "do-nothing"}]})
    return ServerAutomation.model_validate({**core.model_dump(mode="json"), "id": str(uuid.uuid4())})


def test_landed_event_carries_what_the_triggered_run_needs() -> None:
    spec = source_landed_event("/srv/landing/engage-voice/4001/monday.csv", size=120)

    assert spec["event"] == "leadflow.source.landed"
    assert spec["resource"]["prefect.resource.id"] == "leadflow.source./srv/landing/engage-voice/4001/monday.csv"
    assert spec["resource"]["leadflow.source.kind"] == "file"
    assert spec["payload"] == {"location": "/srv/landing/engage-voice/4001/monday.csv", "size": 120, "format": "csv"}


def test_sql_source_names_are_masked_in_the_resource_name() -> None:
    spec = source_landed_event("postgresql://u:${PW}@db/crm", kind="sql", key="postgresql://u@db/crm#table=t",
                               table="t")

    assert spec["resource"]["prefect.resource.id"] == "leadflow.source.postgresql://u@db/crm#table=t"
    assert spec["payload"]["format"] == "auto"
    assert spec["payload"]["table"] == "t"


@pytest.mark.parametrize(("name", "fmt"), [("a.CSV", "csv"), ("b.tsv", "tsv"), ("c.xlsx", "excel"),
                                           ("d.parquet", "parquet"), ("e.jsonl", "jsonl"), ("f.dat", "auto"),
                                           ("noext", "auto")])
def test_format_from_extension(name: str, fmt: str) -> None:
    assert format_of(name) == fmt


@pytest.mark.parametrize("threshold", [0.0, 0.05, 0.1, 0.15, 0.5, 0.99, 1.0])
def test_rate_patterns_mean_at_least_the_threshold(threshold: float) -> None:
    from prefect.events.schemas.events import Resource, ResourceSpecification

    spec = ResourceSpecification.model_validate({RATE_LABEL: rate_at_least(threshold)})
    for rate in RATES:
        resource = Resource.model_validate(campaign_resource("engage-voice", "4001", rejection_rate=rate))
        assert spec.matches(resource) == (rate >= threshold), (threshold, rate, format_rate(rate))


def test_rate_threshold_must_be_in_hundredths() -> None:
    with pytest.raises(ValueError, match="two decimals"):
        rate_at_least(0.125)
    with pytest.raises(ValueError, match="two decimals"):
        rate_at_least(1.5)


def test_hold_trigger_matches_only_high_rejection_runs() -> None:
    trigger = server_automation().trigger

    def covers(name: str, rate: float | None) -> bool:
        return trigger.covers(received(name, campaign_resource("engage-voice", "4001", rejection_rate=rate)))  # type: ignore[union-attr]

    assert covers("leadflow.run.completed", 0.25)
    assert covers("leadflow.run.completed", 0.10)
    assert covers("leadflow.run.completed", 1.0)
    assert not covers("leadflow.run.completed", 0.0999)
    assert not covers("leadflow.run.completed", 0.0)
    assert not covers("leadflow.run.completed", None)
    assert not covers("leadflow.batch.loaded", 0.5)
    other = received("leadflow.run.completed", {"prefect.resource.id": "leadflow.source.x", RATE_LABEL: "0.5000"})
    assert not trigger.covers(other)  # type: ignore[union-attr]


def test_hold_trigger_is_the_documented_helper_output() -> None:
    trigger = hold_trigger()
    assert trigger["match"][RATE_LABEL] == rate_at_least(0.10)
    assert set(trigger["parameters"]) == {"provider", "campaign", "reason"}


def test_run_events_name_their_provider_and_campaign_for_the_hold() -> None:
    resource = campaign_resource("engage-voice", "4001", rejection_rate=0.5)
    assert resource[PROVIDER_LABEL] == "engage-voice"
    assert resource[CAMPAIGN_LABEL] == "4001"


@pytest.mark.parametrize(("stage", "done", "total", "percent"), [
    ("read", 0, 100, 0.0), ("read", 100, 100, 50.0), ("load", 50, 200, 62.5), ("load", 200, 200, 100.0),
    ("load", 0, 0, 100.0), ("other", 5, 10, 75.0),
])
def test_progress_is_split_evenly_over_stages(stage: str, done: int, total: int, percent: float) -> None:
    assert ProgressArtifact("k").percent(stage, done, total) == percent
