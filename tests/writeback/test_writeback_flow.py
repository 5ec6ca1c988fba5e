"""A run with write-back leaves one row per source row in the source's database (or beside its file)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from simulators.engage_voice import create_app
from simulators.server import serve
from tasks.writeback import read_rows, target_for
from tests.writeback.conftest import BACKENDS, StatementCount, fresh_database
from tests.writeback.wbhelp import EARLY, FILE_KINDS, LATER, LEADS, make_source, run

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


@pytest.fixture
def engage(clean_provider_env: pytest.MonkeyPatch) -> Iterator[str]:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    with serve(create_app()) as sim:
        yield sim.url


@pytest.fixture(params=BACKENDS + list(FILE_KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(kind: str, tmp_path: Path) -> Iterator[str | None]:
    if kind in FILE_KINDS:
        yield None
        return
    with fresh_database(kind, tmp_path) as found:
        yield found


def outcomes_by_id(result: dict[str, object]) -> dict[str, str]:
    rows = pd.read_csv(str(result["outcomes_file"]), dtype=str)
    return dict(zip(rows["external_id"], rows["outcome"], strict=True))


def test_write_back_one_row_per_source_row_then_upserted(kind: str, url: str | None, tmp_path: Path,
                                                         engage: str) -> None:
    source = make_source(kind, url, tmp_path)
    target = target_for(source, "lead_outcomes")
    first = run(source, tmp_path, engage, EARLY)
    assert first["status"] == "completed" and first["write_back"]["status"] == "written"
    assert first["write_back"]["rows"] == len(LEADS)
    rows = read_rows(target).set_index("source_key")
    assert sorted(rows.index) == sorted(LEADS["Lead ID"])  # one row per source row
    assert rows["outcome"].to_dict() == outcomes_by_id(first)
    assert rows["outcome"].to_dict() == {"NY1": "loaded", "LA1": "deferred", "LA2": "deferred",
                                         "BAD": "invalid", "DUP": "duplicate"}
    assert Counter(rows["outcome"]) == {k: v for k, v in first["outcomes"].items() if v}  # adds up to the report
    assert set(rows["provider"]) == {"engage-voice"} and set(rows["campaign"]) == {"4001"}
    assert set(rows["run_id"]) == {first["run_id"]}
    assert rows.loc["NY1", "loaded_at"] is not None and pd.isna(rows.loc["LA1", "loaded_at"])
    assert rows.loc["LA1", "time_zone"] == "America/Los_Angeles"
    assert "calling window" in rows.loc["LA1", "reason"]
    assert json.loads(Path(first["report_file"]).read_text())["write_back"]["rows"] == len(LEADS)

    second = run(source, tmp_path, engage, LATER)  # the deferred leads are loaded now
    assert second["rows_carried"] == 2
    again = read_rows(target).set_index("source_key")
    assert len(again) == len(LEADS)  # upserted: no second row for any lead
    assert again.loc["LA1", "outcome"] == "loaded" and again.loc["LA2", "outcome"] == "loaded"
    assert again.loc["LA1", "run_id"] == second["run_id"] and again.loc["LA1", "loaded_at"] is not None
    assert again.loc["NY1", "outcome"] == "duplicate"  # already loaded by the first run ...
    assert pd.Timestamp(again.loc["NY1", "loaded_at"]) == pd.Timestamp(rows.loc["NY1", "loaded_at"])  # ... then


def test_write_back_of_thousands_of_leads_takes_a_few_statements(tmp_path: Path, engage: str,
                                                                 statements: StatementCount) -> None:
    n = 2000
    leads = pd.DataFrame({"Lead ID": [f"L{i:05d}" for i in range(n)],
                          "Phone": [f"212-736-{i:04d}" for i in range(n)], "State": "NY", "Zip": "10001"})
    with fresh_database("postgresql", tmp_path) as url:
        source = make_source("postgresql", url, tmp_path, leads)
        statements.database = sa.make_url(url).database
        result = run(source, tmp_path, engage, LATER)
        assert result["write_back"]["rows"] == n
        rows = read_rows(target_for(source, "lead_outcomes"))
        assert len(rows) == n and Counter(rows["outcome"]) == {k: v for k, v in result["outcomes"].items() if v}
        assert statements.count < 20  # the read, the table's creation and check, and 2 upserts: not one per lead
