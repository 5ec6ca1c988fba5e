"""Warehouse sources without the warehouse: what the Snowflake and BigQuery dialects build.

No test here reaches Snowflake or BigQuery (see docs/sources.md, "Warehouses: what was never run";
test_sources_snowflake.py reads through fakesnow, a Snowflake emulator). The dialects
(snowflake-sqlalchemy and sqlalchemy-bigquery, dev dependencies) are real: the engine, the statement
and its bound parameters are the ones a run would send. Snowflake answers unquoted names upper-cased;
that is played here by a SQLite query naming its columns so. The BigQuery client is built from a
service-account key made here (no request is sent: a query would be the first).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
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


BIGQUERY = "bigquery://my-project/crm_dataset"


@pytest.fixture
def no_google_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key file, no gcloud login, and no probe of a cloud machine's metadata server."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


@pytest.fixture
def bigquery_key(tmp_path: Path, no_google_credentials: None) -> Path:
    """A service-account key file of the shape Google issues, with a key made here."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "loader-key.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "my-project", "private_key_id": "k1", "private_key": pem,
        "client_email": "loader@my-project.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token"}))
    return path


def test_bigquery_without_credentials_is_one_clear_line(no_google_credentials: None) -> None:
    with pytest.raises(SourceError) as info:
        open_source(SourceSpec(location=BIGQUERY, table="leads"))
    assert str(info.value).startswith(
        "bigquery://my-project/crm_dataset table leads: cannot open: DefaultCredentialsError: "
        "Your default credentials were not found.")
    assert "\n" not in str(info.value)


def test_a_bigquery_url_names_the_project_and_the_default_dataset(bigquery_key: Path) -> None:
    source = SqlSource(SourceSpec(location=f"{BIGQUERY}?credentials_path={bigquery_key}", table="leads"),
                       since=None)
    dialect = source.engine.dialect
    assert (dialect.name, source.engine.url.host) == ("bigquery", "my-project")
    assert (getattr(dialect, "project_id", None), getattr(dialect, "dataset_id", None)) == (
        "my-project", "crm_dataset")


def test_a_bigquery_table_and_query_bind_the_watermark_untyped(bigquery_key: Path) -> None:
    location = f"{BIGQUERY}?credentials_path={bigquery_key}"
    table = SourceSpec(location=location, table="crm.leads", watermark_column="updated_at")
    assert _sql(SqlSource(table, since="2024-03-01 10:30:00")) == (
        "SELECT * FROM `crm`.`leads` WHERE `updated_at` > %(leadflow_since)s",
        {"leadflow_since": "2024-03-01 10:30:00"})
    query = SourceSpec(location=location, query="select * from leads where region = :region",
                       params={"region": "West"}, watermark_column="updated_at")
    assert _sql(SqlSource(query, since="41")) == (
        "SELECT * FROM (select * from leads where region = %(region:STRING)s) AS `leadflow_source` "
        "WHERE `updated_at` > %(leadflow_since)s", {"region": "West", "leadflow_since": "41"})
