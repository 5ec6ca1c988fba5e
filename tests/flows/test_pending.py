"""Deferred leads wait in the ledger for their calling window; the next run picks them up first."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest

from flows.load_leads import load_leads
from schemas.options import LoadOptions, RuleOptions, RunOptions
from schemas.sources import SourceSpec
from simulators.engage_voice import create_app
from simulators.server import serve
from tasks.ledger import Ledger

pytestmark = pytest.mark.usefixtures("prefect_harness")

#: 13:30 UTC on a Tuesday: 08:30 in New York (callable), 05:30 in Los Angeles (not yet).
EARLY = datetime.fromisoformat("2026-11-24T13:30:00+00:00")
#: 16:30 UTC: 08:30 in Los Angeles.
LATER = datetime.fromisoformat("2026-11-24T16:30:00+00:00")


@pytest.fixture
def engage(clean_provider_env: pytest.MonkeyPatch) -> Iterator[str]:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    with serve(create_app()) as sim:
        yield sim.url


def write(path: Path, rows: list[list[str]]) -> SourceSpec:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "phone", "state", "zip"])
        out.writerows(rows)
    return SourceSpec(location=str(path))


def run(tmp_path: Path, url: str, source: SourceSpec, now: datetime) -> dict[str, object]:
    opts = RunOptions(rules=RuleOptions(window_gate=True), load=LoadOptions(base_url=url),
                      ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}", output_dir=str(tmp_path / "out"), now=now)
    return load_leads(source=source, provider="engage-voice", campaign="4001", options=opts)


def loaded_ids(url: str) -> list[str]:
    accounts = httpx.get(f"{url}/_sim/leads").json()["accounts"]
    return sorted(str(lead["externId"]) for c in accounts.values() for ls in c.values() for lead in ls)


def test_deferred_leads_load_when_their_window_opens(tmp_path: Path, engage: str) -> None:
    first = write(tmp_path / "a.csv", [["NY1", "212-736-4410", "NY", "10001"],
                                       ["LA1", "213-473-2000", "CA", "90012"],
                                       ["LA2", "(415) 867-5309", "CA", "94105"]])
    result = run(tmp_path, engage, first, EARLY)
    assert result["outcomes"]["loaded"] == 1 and result["outcomes"]["deferred"] == 2
    rows = pd.read_csv(result["outcomes_file"], dtype=str).set_index("external_id")
    assert rows.loc["LA1", "next_eligible_at"] == "2026-11-24T16:00:00Z"
    assert "calling window" in rows.loc["LA1", "reason"]
    assert loaded_ids(engage) == ["NY1"]
    assert Ledger(f"sqlite:///{tmp_path / 'ledger.db'}").pending_counts("engage-voice", "4001") == {"deferred": 2}

    still_early = run(tmp_path, engage, write(tmp_path / "b.csv", [["NY2", "212-736-4411", "NY", "10001"]]), EARLY)
    assert still_early["rows_carried"] == 0 and still_early["outcomes"]["loaded"] == 1

    later = run(tmp_path, engage, write(tmp_path / "c.csv", [["NY3", "212-736-4412", "NY", "10001"]]), LATER)
    assert later["rows_read"] == 1 and later["rows_carried"] == 2
    assert later["outcomes"]["loaded"] == 3
    assert sum(later["outcomes"].values()) == 3
    carried = pd.read_csv(later["outcomes_file"], dtype=str)
    assert sorted(carried.loc[carried["origin"].str.startswith("carried"), "external_id"]) == ["LA1", "LA2"]
    assert carried.loc[carried["external_id"] == "LA1", "row"].item() == "2"
    assert loaded_ids(engage) == ["LA1", "LA2", "NY1", "NY2", "NY3"]
    assert Ledger(f"sqlite:///{tmp_path / 'ledger.db'}").pending_counts("engage-voice", "4001") == {}
