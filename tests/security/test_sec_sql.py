"""SQL sources: identifiers are quoted, values are bound, and database passwords stay out of every output."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sechelp import ENGAGE_API_TOKEN, leaks, prefect_records, simulator

from flows.cli import main
from schemas.sources import SourceSpec
from tasks.dnc_lists import load_dnc_sql
from tasks.sources import SourceError, open_source

#: Per process, so that two test sessions sharing the databases do not meet.
TAG = os.getpid()
VICTIM = f"leadflow_sec_victim_{TAG}"
LEADS_TABLE = f"leadflow_sec_leads_{TAG}"
EVIL = f'odd{TAG}"; drop table {VICTIM}; --'
EVIL_MYSQL = f"odd{TAG}`; drop table {VICTIM}; --"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"


def _rows(spec: SourceSpec, since: str | None = None) -> list[str]:
    return [v for chunk in open_source(spec, since=since) for v in chunk["external_id"].tolist()]


def _fill(engine: sa.Engine, table: str) -> None:
    """``table`` (any name) with two leads, and a ``victim`` table that must survive."""
    meta = sa.MetaData()
    odd = sa.Table(table, meta, sa.Column("Lead ID", sa.String(20)), sa.Column("Phone", sa.String(20)))
    victim = sa.Table(VICTIM, meta, sa.Column("id", sa.Integer))
    meta.drop_all(engine)
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(odd.insert(), [{"Lead ID": "E1", "Phone": "4158673001"}, {"Lead ID": "E2", "Phone": "4158673002"}])
        conn.execute(victim.insert(), [{"id": 1}])


def _victim_alive(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"select count(*) from {VICTIM}")).scalar_one() == 1


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database URL holding a table with a hostile name, and that name."""
    url = {"sqlite": f"sqlite:///{tmp_path / 'crm.db'}", "postgresql": PG, "mariadb": MARIADB}[request.param]
    table = EVIL_MYSQL if request.param == "mariadb" else EVIL
    engine = sa.create_engine(url)
    _fill(engine, table)
    yield url, table
    assert _victim_alive(engine)
    meta = sa.MetaData()
    sa.Table(table, meta)
    sa.Table(VICTIM, meta)
    meta.drop_all(engine)
    engine.dispose()


def test_a_hostile_table_name_is_read_as_a_name(database: tuple[str, str]) -> None:
    url, table = database
    assert _rows(SourceSpec(location=url, table=table)) == ["E1", "E2"]


def test_a_hostile_table_name_is_a_name_for_do_not_call_lists(database: tuple[str, str]) -> None:
    url, table = database
    assert len(load_dnc_sql(url, table)) == 2


def test_a_table_name_that_is_sql_is_not_run(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    _fill(engine, "leads")
    with pytest.raises(SourceError, match="no such table"):
        _rows(SourceSpec(location=f"sqlite:///{db}", table=f"leads; drop table {VICTIM}"))
    assert _victim_alive(engine)


def test_query_parameters_and_watermarks_are_bound(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    _fill(sa.create_engine(f"sqlite:///{db}"), "leads")
    query = 'select * from leads where "Lead ID" = :id'
    spec = SourceSpec(location=f"sqlite:///{db}", query=query, params={"id": "E1"})
    assert _rows(spec) == ["E1"]
    with pytest.raises(SourceError, match="no data rows"):
        _rows(SourceSpec(location=f"sqlite:///{db}", query=query, params={"id": "x' or '1'='1"}))
    marked = SourceSpec(location=f"sqlite:///{db}", table="leads", watermark_column="Lead ID")
    assert _rows(marked, since="E1") == ["E2"]
    assert _rows(marked, since="x' or '1'='1") == []


def test_a_hostile_watermark_column_is_quoted(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute('create table leads ("Lead ID" text, "Phone" text, "t"" or 1=1 --" text)')
        conn.executemany("insert into leads values (?, ?, ?)", [("E1", "4158673001", "1"), ("E2", "4158673002", "2")])
    spec = SourceSpec(location=f"sqlite:///{db}", table="leads", watermark_column='t" or 1=1 --')
    assert _rows(spec, since="1") == ["E2"]


PASSWORD = "pw-Sql-9d7e3b51"  # PostgreSQL here trusts loopback, so any password connects


@pytest.fixture
def pg_leads() -> Iterator[None]:
    """A leads table in the test PostgreSQL database."""
    engine = sa.create_engine(PG)
    _fill(engine, LEADS_TABLE)
    yield
    meta = sa.MetaData()
    sa.Table(LEADS_TABLE, meta)
    sa.Table(VICTIM, meta)
    meta.drop_all(engine)
    engine.dispose()


@pytest.mark.usefixtures("prefect_harness", "pg_leads")
@pytest.mark.parametrize("location", [
    pytest.param(f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/test", id="literal"),
    pytest.param("postgresql+psycopg://postgres:${LEADFLOW_TEST_PGPASSWORD}@127.0.0.1/test", id="variable"),
])
def test_a_database_password_stays_out_of_every_output(location: str, tmp_path: Path,
                                                       capfd: pytest.CaptureFixture[str],
                                                       caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_TEST_PGPASSWORD", PASSWORD)
    code = main(["run", "--source", location, "--table", LEADS_TABLE, "--provider", "engage-voice",
                 "--campaign", "4001", "--dry-run", "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}",
                 "--output-dir", str(tmp_path), "--report", str(tmp_path / "report.json")])
    out, err = capfd.readouterr()
    assert code == 0, err[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcomes"]["loaded"] == 2
    texts = {"stdout": out, "stderr": err, "report": json.dumps(report),
             "logs": "\n".join(r.getMessage() for r in caplog.records),
             "ledger": (tmp_path / "ledger.db").read_bytes().decode("utf-8", "replace"),
             **prefect_records(report["run_id"])}
    assert not leaks(texts, [PASSWORD])


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def source_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, sa.Engine]]:
    """A database holding a leads table and a victim table; its URL, and an engine to look at it after."""
    url = {"sqlite": f"sqlite:///{tmp_path / 'crm.db'}", "duckdb": f"duckdb:///{tmp_path / 'crm.duckdb'}",
           "postgresql": PG}[request.param]
    engine = sa.create_engine(url)
    _fill(engine, LEADS_TABLE)
    engine.dispose()  # DuckDB: a source is opened read-only, which needs no writer holding the file
    yield url, engine
    meta = sa.MetaData()
    sa.Table(LEADS_TABLE, meta)
    sa.Table(VICTIM, meta)
    meta.drop_all(engine)
    engine.dispose()


@pytest.mark.parametrize("statement", ["delete from {victim}", "insert into {victim} values (2)",
                                       "update {victim} set id = 3", "create table leadflow_sec_new (x int)"])
def test_no_statement_that_writes_runs_on_a_source(source_db: tuple[str, sa.Engine], statement: str) -> None:
    url, engine = source_db
    with pytest.raises(SourceError, match="query failed"):
        _rows(SourceSpec(location=url, query=statement.format(victim=VICTIM)))
    assert _victim_alive(engine)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("leadflow_sec_new")
    engine.dispose()


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "sending"])
def test_a_query_that_drops_a_table_never_changes_the_source(source_db: tuple[str, sa.Engine], dry_run: bool,
                                                             tmp_path: Path,
                                                      capfd: pytest.CaptureFixture[str],
                                                      clean_provider_env: pytest.MonkeyPatch) -> None:
    url, engine = source_db
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", ENGAGE_API_TOKEN)
    with simulator("engage-voice") as (base_url, _app):
        code = main(["run", "--source", url, "--query", f"drop table {VICTIM}", "--provider",
                     "engage-voice", "--campaign", "4001", "--base-url", base_url,
                     "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--output-dir", str(tmp_path / "out"),
                     *(["--dry-run"] if dry_run else [])])
    out, err = capfd.readouterr()
    assert code == 2, err[-2000:]
    assert "Traceback" not in out + err
    # PostgreSQL refuses earlier still: a streamed read is a server-side cursor, which only a SELECT can be.
    refusal = "query failed: SyntaxError" if url == PG else "(the source is opened read-only: only reads run)"
    assert refusal in " ".join(err.split())
    assert _victim_alive(engine)
    engine.dispose()


def test_a_sqlite_query_cannot_attach_or_copy_out_a_database(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    _fill(sa.create_engine(f"sqlite:///{db}"), "leads")
    for query in (f"attach database '{tmp_path / 'new.db'}' as other", f"vacuum into '{tmp_path / 'copy.db'}'"):
        with pytest.raises(SourceError, match="read-only"):
            _rows(SourceSpec(location=f"sqlite:///{db}", query=query))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.db"]


def test_a_sqlite_source_that_does_not_exist_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="database file not found"):
        _rows(SourceSpec(location=f"sqlite:///{tmp_path / 'crm.db'}", table="leads"))
    assert list(tmp_path.iterdir()) == []


def test_a_duckdb_file_is_read_while_nothing_may_write_it(tmp_path: Path) -> None:
    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute('create table leads ("Lead ID" varchar, "Phone" varchar)')
        conn.execute("insert into leads values ('E1', '4158673001')")
    assert _rows(SourceSpec(location=f"duckdb:///{path}", table="leads")) == ["E1"]
    with pytest.raises(SourceError, match="read-only"):
        _rows(SourceSpec(location=f"duckdb:///{path}", query="create table x as select 1 as phone"))
    with duckdb.connect(str(path)) as conn:
        assert conn.execute("select count(*) from information_schema.tables").fetchone() == (1,)
