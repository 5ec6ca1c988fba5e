"""Warehouse sources without the warehouse: what the Snowflake dialect builds, and BigQuery's missing extra.

No test here reaches Snowflake or BigQuery (see docs/sources.md, "Warehouses: what was never run").
The Snowflake dialect (snowflake-sqlalchemy, a dev dependency) is real: the engine, the statement
and its bound parameters are the ones a run would send. Snowflake answers unquoted names upper-cased;
that is played here by a SQLite query naming its columns so.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sourcehelp import read_all

from schemas import columns as c
from schemas.sources import SourceSpec
from tasks.sources import SourceError, open_source
from tasks.sources.sql import SqlSource

SNOWFLAKE = "snowflake://loader:${LEADFLOW_TEST_SNOWFLAKE_PASSWORD}@myorg-account/CRM/PUBLIC?warehouse=LOAD"
PASSWORD = "pw-Snow-4f1c9e"


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_TEST_SNOWFLAKE_PASSWORD", PASSWORD)


def _sql(source: SqlSource) -> tuple[str, dict[str, object]]:
    compiled = source.statement().compile(source.engine)
    return " ".join(str(compiled).split()), dict(compiled.params)


def test_a_snowflake_url_gets_the_snowflake_dialect_with_the_password_from_the_environment() -> None:
    source = SqlSource(SourceSpec(location=SNOWFLAKE, table="leads"), since=None)
    assert source.engine.dialect.name == "snowflake"
    url = source.engine.url
    assert (url.host, url.database, url.query["warehouse"]) == ("myorg-account", "CRM/PUBLIC", "LOAD")
    assert url.password == PASSWORD
    assert PASSWORD not in source.source


def test_a_snowflake_table_read_after_a_watermark_binds_the_watermark() -> None:
    spec = SourceSpec(location=SNOWFLAKE, table="crm.leads", watermark_column="updated_at", chunk_size=500)
    sql, params = _sql(SqlSource(spec, since="2024-03-01 10:30:00"))
    assert sql == "SELECT * FROM crm.leads WHERE updated_at > %(leadflow_since)s"
    assert params == {"leadflow_since": "2024-03-01 10:30:00"}


def test_a_snowflake_query_keeps_its_parameters_and_is_wrapped_for_the_watermark() -> None:
    spec = SourceSpec(location=SNOWFLAKE, query="select * from leads where region = :region",
                      params={"region": "West"}, watermark_column="UPDATED_AT")
    sql, params = _sql(SqlSource(spec, since="41"))
    assert sql == ('SELECT * FROM (select * from leads where region = %(region)s) AS leadflow_source '
                   'WHERE "UPDATED_AT" > %(leadflow_since)s')
    assert params == {"region": "West", "leadflow_since": "41"}
    first, _ = _sql(SqlSource(spec, since=None))
    assert first == "select * from leads where region = %(region)s"


def test_a_watermark_column_answered_upper_case_is_found(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table leads (id text, phone text, updated_at text)")
        conn.executemany("insert into leads values (?, ?, ?)",
                         [(f"W{i}", f"415867000{i}", f"2024-03-0{i}") for i in range(1, 6)])
    query = 'select id as "ID", phone as "PHONE", updated_at as "UPDATED_AT" from leads'
    reader, chunks = read_all(f"sqlite:///{db}", query=query, watermark_column="updated_at", chunk_size=2)
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert reader.max_watermark == "2024-03-05"
    _, newer = read_all(f"sqlite:///{db}", since="2024-03-03", query=query, watermark_column="updated_at")
    assert newer[0][c.EXTERNAL_ID].tolist() == ["W4", "W5"]


def test_bigquery_without_its_extra_names_the_package() -> None:
    with pytest.raises(SourceError) as info:
        open_source(SourceSpec(location="bigquery://my-project/crm_dataset", table="leads"))
    assert str(info.value) == ("bigquery://my-project/crm_dataset table leads: no SQLAlchemy dialect for "
                               "bigquery: install sqlalchemy-bigquery (pip install 'leadflow[bigquery]')")
