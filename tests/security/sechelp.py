"""Helpers for the security tests: simulators with distinctive secrets, runs through the CLI, output scans."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from flows.cli import main
from simulators import engage_voice, nlpearl, voiso
from simulators.app import SimApp
from simulators.server import serve

ENGAGE_API_TOKEN = "sek-engage-API-7f3a9c4e21"
ENGAGE_RC_TOKEN = "sek-rc-ACCESS-51d2e8b06f"
PEARL_ACCOUNT = "acct-5e0c8d"
PEARL_SECRET = "sek-pearl-SECRET-0b7c4d19aa"
VOISO_KEY = "sek-voiso-KEY-93e1aa6b2c"
CAMPAIGNS = {"engage-voice": "4001", "nlpearl": "6a27be5ae83373643a10ae34", "voiso": "3"}


@dataclass
class Mode:
    """One way of authenticating to one provider."""

    name: str
    provider: str
    env: dict[str, str]

    @property
    def secrets(self) -> list[str]:
        """Every secret value this mode puts on the wire."""
        values = list(self.env.values())
        if self.provider == "nlpearl":
            values = [PEARL_SECRET, f"{PEARL_ACCOUNT}:{PEARL_SECRET}"]
        return values


MODES = [
    Mode("engage API token", "engage-voice", {"ENGAGE_VOICE_API_TOKEN": ENGAGE_API_TOKEN}),
    Mode("engage RingCentral token exchange", "engage-voice", {"ENGAGE_VOICE_RC_ACCESS_TOKEN": ENGAGE_RC_TOKEN}),
    Mode("nlpearl", "nlpearl", {"NLPEARL_ACCOUNT_ID": PEARL_ACCOUNT, "NLPEARL_SECRET_KEY": PEARL_SECRET}),
    Mode("voiso", "voiso", {"VOISO_API_KEY": VOISO_KEY}),
]


def sim_app(provider: str) -> SimApp:
    """The provider's simulator, expecting the distinctive secrets."""
    if provider == "engage-voice":
        app = engage_voice.create_app(engage_voice.EngageSimConfig(
            api_token=SecretStr(ENGAGE_API_TOKEN), rc_access_token=SecretStr(ENGAGE_RC_TOKEN)))
    elif provider == "nlpearl":
        app = nlpearl.create_app(nlpearl.NLPearlSimConfig(account_id=PEARL_ACCOUNT,
                                                           secret_key=SecretStr(PEARL_SECRET)))
    else:
        key = voiso.VoisoKeySpec(key=SecretStr(VOISO_KEY), scopes=[voiso.MANAGE, voiso.READ])
        app = voiso.create_app(voiso.VoisoSimConfig(keys=[key]))
    assert isinstance(app, SimApp)
    return app


@contextmanager
def simulator(provider: str) -> Iterator[tuple[str, SimApp]]:
    """The provider's simulator on loopback: its URL and app."""
    app = sim_app(provider)
    with serve(app) as running:
        yield running.url, app


def issued_tokens(app: SimApp) -> list[str]:
    """Tokens the Engage simulator issued in a RingCentral exchange (secrets too)."""
    sim: Any = app.sim
    return [*getattr(sim, "sessions", {}), *getattr(sim, "refresh_tokens", {})]


def write_leads(path: Path, rows: Iterable[list[str]]) -> Path:
    """A leads CSV with id, names, phone and e-mail columns."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Lead ID", "First Name", "Last Name", "Phone", "Email"])
        writer.writerows(rows)
    return path


def run_cli(tmp: Path, provider: str, source: Path, base_url: str, *extra: str) -> int:
    """``leadflow run`` of ``source`` into the provider's simulator, files under ``tmp``."""
    return main(["run", "--source", str(source), "--provider", provider, "--campaign", CAMPAIGNS[provider],
                 "--base-url", base_url, "--ledger", f"sqlite:///{tmp / 'ledger.db'}",
                 "--output-dir", str(tmp / "out"), "--report", str(tmp / "report.json"),
                 "--outcomes", str(tmp / "outcomes.csv"), "--no-window-gate", "--batch-size", "2", *extra])


def prefect_records(run_id: str) -> dict[str, str]:
    """What the Prefect server keeps about a flow run: parameters, logs, artifacts, task runs, events."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.settings import PREFECT_API_URL

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run_id)  # type: ignore[arg-type]
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))  # type: ignore[list-item]
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))  # type: ignore[list-item]
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))  # type: ignore[list-item]
    events = httpx.post(f"{PREFECT_API_URL.value()}/events/filter", json={"limit": 200}, timeout=30)
    return {
        "flow run": flow_run.model_dump_json(),
        "server logs": "\n".join(f"{log.message}" for log in logs),
        "artifacts": json.dumps([a.model_dump(mode="json") for a in artifacts]),
        "task runs": json.dumps([t.model_dump(mode="json") for t in tasks]),
        "events": events.text,
    }


def leaks(haystacks: dict[str, str], needles: Iterable[str]) -> list[tuple[str, str]]:
    """(where, what) for every needle found in any haystack."""
    return [(where, needle) for where, text in haystacks.items() for needle in needles if needle and needle in text]
