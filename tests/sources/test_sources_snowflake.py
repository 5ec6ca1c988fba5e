"""The Snowflake source read for real, against fakesnow (a Snowflake emulator on DuckDB).

fakesnow cannot be installed beside requirements.lock (docs/sources.md, "Warehouses"), so these
reads run in `.venv-snowflake` (requirements-snowflake.lock, built by `make snowflake-env` and by
`make test-slow`): ``snowflake_reads.py`` imports this checkout's ``tasks.sources``, starts
fakesnow's server on loopback and reads through ``open_source`` with a ``snowflake://`` URL, so
the snowflake-sqlalchemy dialect, the Snowflake connector's login, query requests and Arrow
results, and leadflow's chunking and watermark all run. The versions differ from the main lock
(connector 4.8.1, snowflake-sqlalchemy 1.11.1, SQLAlchemy 2.0): the script reports them.

The environment has the snowflake extra and not the bigquery one: there a BigQuery source is refused
naming the package to install.

``protocol=http`` is needed only because the emulator speaks plain HTTP; snowflake-sqlalchemy
accepts that URL parameter only with ``SNOWFLAKE_SQLALCHEMY_LEGACY_URL_PARAMS`` set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("snowflake-emulator")]  # one emulator run

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-snowflake" / "bin" / "python"
SCRIPT = Path(__file__).with_name("snowflake_reads.py")
PASSWORD = "pw-Snow-7d2a41"
LOCATION = ("snowflake://loader:${LEADFLOW_TEST_SNOWFLAKE_PASSWORD}@127.0.0.1:PORT/CRM/PUBLIC"
            "?account=fakesnow&protocol=http&warehouse=LOAD")
ROWS = [(f"W{i}", f"415867000{i}", "East" if i in (2, 5) else "West", i * 10, f"2024-03-0{i} 09:00:00")
        for i in range(1, 6)]
SETUP = [
    "create table leads (id varchar, phone varchar, region varchar, score number(10,0), "
    "updated_at timestamp_ntz)",
    "insert into leads values " + ", ".join(
        f"('{i}', '{p}', '{r}', {s}, '{u}')" for i, p, r, s, u in ROWS),
]
BY_REGION = "select id, phone, region, updated_at from leads where region = :region"
READS: dict[str, dict[str, Any]] = {
    "table": {"since": None, "spec": {"table": "leads", "watermark_column": "updated_at", "chunk_size": 2}},
    "table_since": {"since": "2024-03-03 09:00:00",
                    "spec": {"table": "public.leads", "watermark_column": "updated_at", "chunk_size": 2}},
    "query_since": {"since": "2024-03-01 09:00:00",
                    "spec": {"query": BY_REGION, "params": {"region": "West"},
                             "watermark_column": "updated_at", "chunk_size": 2}},
    "nothing_newer": {"since": "2024-03-05 09:00:00",
                      "spec": {"table": "leads", "watermark_column": "updated_at"}},
    "numbers_since": {"since": "30", "spec": {"table": "leads", "watermark_column": "score"}},
    "missing_table": {"since": None, "spec": {"table": "no_such_leads"}},
    "bigquery": {"since": None, "location": "bigquery://my-project/crm_dataset", "spec": {"table": "leads"}},
}


@pytest.fixture(scope="module")
def snowflake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not PYTHON.exists():
        pytest.fail(f"{PYTHON} is missing: run `make snowflake-env` (make test-slow builds it)")
    out = tmp_path_factory.mktemp("snowflake") / "reads.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADFLOW_TEST_SNOWFLAKE_PASSWORD": PASSWORD,
           "SNOWFLAKE_SQLALCHEMY_LEGACY_URL_PARAMS": "1"}
    plan = json.dumps({"setup": SETUP, "location": LOCATION, "reads": READS})
    done = subprocess.run([str(PYTHON), str(SCRIPT), str(out)], input=plan, capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=240, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        pytest.fail(f"snowflake_reads.py exited with {done.returncode}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def test_the_emulator_environment_is_the_one_locked(snowflake: dict[str, Any]) -> None:
    locked = dict(line.split("==") for line in (ROOT / "requirements-snowflake.lock").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    assert snowflake["versions"] == {name: locked[name] for name in snowflake["versions"]}


def test_a_table_is_read_in_chunks_with_its_largest_watermark(snowflake: dict[str, Any]) -> None:
    read = snowflake["reads"]["table"]
    assert read["sizes"] == [2, 2, 1]
    assert read["ids"] == ["W1", "W2", "W3", "W4", "W5"]
    assert read["rows_read"] == len(ROWS)
    assert read["max_watermark"] == "2024-03-05 09:00:00"


def test_snowflake_upper_case_names_come_back_as_the_lower_case_columns_of_the_spec(
        snowflake: dict[str, Any]) -> None:
    read = snowflake["reads"]["table"]
    assert read["columns"] == ["row", "external_id", "phone", "state", "extra.score", "extra.updated_at"]
    assert read["first"] == {"row": "1", "external_id": "W1", "phone": "4158670001", "state": "West",
                             "extra.score": "10", "extra.updated_at": "2024-03-01 09:00:00"}


def test_a_table_after_a_watermark_reads_only_newer_rows(snowflake: dict[str, Any]) -> None:
    read = snowflake["reads"]["table_since"]
    assert (read["ids"], read["sizes"]) == (["W4", "W5"], [2])
    assert read["max_watermark"] == "2024-03-05 09:00:00"


def test_a_query_binds_its_parameters_and_the_watermark(snowflake: dict[str, Any]) -> None:
    read = snowflake["reads"]["query_since"]
    assert (read["ids"], read["sizes"]) == (["W3", "W4"], [2])
    assert read["max_watermark"] == "2024-03-04 09:00:00"


def test_nothing_newer_than_the_watermark_is_an_empty_read_not_an_error(snowflake: dict[str, Any]) -> None:
    read = snowflake["reads"]["nothing_newer"]
    assert (read["ids"], read["rows_read"], read["max_watermark"]) == ([], 0, None)


def test_a_numeric_watermark_compares_as_a_number(snowflake: dict[str, Any]) -> None:
    read = snowflake["reads"]["numbers_since"]
    assert (read["ids"], read["max_watermark"]) == (["W4", "W5"], "50")


def test_a_missing_table_is_one_line_naming_it_without_the_password(snowflake: dict[str, Any]) -> None:
    error = snowflake["reads"]["missing_table"]["error"]
    assert error.startswith("snowflake://loader:***@127.0.0.1:")
    assert "table no_such_leads: query failed: ProgrammingError" in error
    assert "NO_SUCH_LEADS" in error.upper() and "\n" not in error
    assert PASSWORD not in error


def test_bigquery_without_its_extra_names_the_package(snowflake: dict[str, Any]) -> None:
    assert snowflake["reads"]["bigquery"]["error"] == (
        "bigquery://my-project/crm_dataset table leads: no SQLAlchemy dialect for "
        "bigquery: install sqlalchemy-bigquery (pip install 'leadflow[bigquery]')")
