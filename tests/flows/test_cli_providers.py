"""`leadflow run` and `leadflow campaigns` against each provider's simulator, over loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from flows.cli import main
from simulators import engage_voice, nlpearl, voiso
from simulators.server import serve

pytestmark = pytest.mark.usefixtures("prefect_harness")

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "leads.csv"
DNC = SAMPLE.with_name("dnc.txt")
#: A Tuesday, 13:00 in New York and 08:00 in Honolulu: every US zone is inside its window.
NOW = "2026-11-24T18:00:00+00:00"


@dataclass(frozen=True)
class Case:
    provider: str
    campaign: str
    env: dict[str, str]
    create_app: Callable[[], Any]
    stored: Callable[[dict[str, Any]], list[dict[str, Any]]]


def _engage(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [lead for camps in data["accounts"].values() for leads in camps.values() for lead in leads]


def _flat(data: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for value in data.values():
        out.extend(value if isinstance(value, list) else [])
    return out


CASES = [
    Case("engage-voice", "4001", {"ENGAGE_VOICE_API_TOKEN": "sim-engage-api-token"}, engage_voice.create_app, _engage),
    Case("nlpearl", "6a27be5ae83373643a10ae34",
         {"NLPEARL_ACCOUNT_ID": "sim-account", "NLPEARL_SECRET_KEY": "sim-secret"}, nlpearl.create_app, _flat),
    Case("voiso", "3", {"VOISO_API_KEY": "sim-voiso-key"}, voiso.create_app, _flat),
]


@pytest.fixture(params=CASES, ids=[c.provider for c in CASES])
def case(request: pytest.FixtureRequest, clean_provider_env: pytest.MonkeyPatch) -> Iterator[tuple[Case, str]]:
    c: Case = request.param
    for key, value in c.env.items():
        clean_provider_env.setenv(key, value)
    with serve(c.create_app()) as sim:
        yield c, sim.url


def test_run_loads_the_sample_into_each_simulator(case: tuple[Case, str], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    c, url = case
    report = tmp_path / "report.json"
    code = main(["run", "--source", str(SAMPLE), "--provider", c.provider, "--campaign", c.campaign,
                 "--base-url", url, "--report", str(report), "--outcomes", str(tmp_path / "outcomes.parquet"),
                 "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--dnc", str(DNC), "--now", NOW])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "loaded" in out.out and "total" in out.out

    result = json.loads(report.read_text())
    rows = pd.read_parquet(tmp_path / "outcomes.parquet")
    assert result["rows_read"] == len(rows) == 1007
    assert sum(result["outcomes"].values()) == 1007
    assert rows["row"].is_unique
    counts = rows["outcome"].value_counts().to_dict()
    assert {k: v for k, v in result["outcomes"].items() if v} == counts
    assert counts["suppressed"] >= 16 and counts["duplicate"] >= 30 and counts["invalid"] >= 10
    assert counts.get("failed", 0) == 0

    landed = c.stored(httpx.get(f"{url}/_sim/leads").json())
    assert len(landed) == counts["loaded"] > 800
    dnc = {line.replace(",", "").strip() for line in DNC.read_text().splitlines() if line.strip()}
    sent = {number[-10:] for lead in landed for number in re.findall(r"\d{10,15}", json.dumps(lead))}
    assert len(sent) >= len(landed)
    assert not dnc & sent


def test_campaigns_are_listed(case: tuple[Case, str], capsys: pytest.CaptureFixture[str]) -> None:
    c, url = case
    assert main(["campaigns", "--provider", c.provider, "--base-url", url]) == 0
    assert c.campaign in capsys.readouterr().out
