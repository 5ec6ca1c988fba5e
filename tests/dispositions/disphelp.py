"""Shared pieces of the disposition tests: two simulators, a CSV of leads, run options."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from schemas.options import LoadOptions, RuleOptions, RunOptions
from schemas.sources import SourceSpec
from simulators import engage_voice, nlpearl
from simulators.server import serve

PEARL = "6a27be5ae83373643a10ae34"
#: Twelve leads with distinct valid phones; L1.. external ids.
LEADS = [(f"L{i}", f"(415) 867-{5300 + i}") for i in range(1, 13)]


@dataclass
class Sims:
    engage: str
    nlpearl: str


@pytest.fixture
def sims(clean_provider_env: pytest.MonkeyPatch) -> Iterator[Sims]:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    clean_provider_env.setenv("NLPEARL_ACCOUNT_ID", "sim-account")
    clean_provider_env.setenv("NLPEARL_SECRET_KEY", "sim-secret")
    with ExitStack() as stack:
        e = stack.enter_context(serve(engage_voice.create_app()))
        n = stack.enter_context(serve(nlpearl.create_app()))
        yield Sims(e.url, n.url)


def write_leads(path: Path, leads: list[tuple[str, str]] = LEADS) -> SourceSpec:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["external_id", "first_name", "phone"])
        writer.writerows((ext, "Ada", phone) for ext, phone in leads)
    return SourceSpec(location=str(path))


def run_options(tmp_path: Path, base_url: str, ledger_url: str, **rules: object) -> RunOptions:
    return RunOptions(rules=RuleOptions(window_gate=False, **rules),  # type: ignore[arg-type]
                      load=LoadOptions(base_url=base_url, backoff_s=0.01),
                      ledger_url=ledger_url, output_dir=str(tmp_path / "out"))


def set_dispositions(base_url: str, leads: dict[str, dict[str, object]]) -> None:
    """Give these leads (by external id) these result fields in a simulator (a test-only control route)."""
    response = httpx.post(f"{base_url}/_sim/dispositions", json={"leads": leads})
    assert response.status_code == 200, response.text


def outcomes_by_id(result: dict[str, object]) -> dict[str, tuple[str, str]]:
    """external_id -> (outcome, reason) from a run's outcomes file."""
    import pandas as pd

    frame = pd.read_csv(str(result["outcomes_file"]), dtype=str, keep_default_na=False)
    return {r["external_id"]: (r["outcome"], r["reason"]) for r in frame.to_dict("records")}
