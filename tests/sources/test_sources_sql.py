"""SQL sources on real engines: SQLite, DuckDB, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sourcehelp import read_all

from schemas import columns as c
from schemas.sources import SourceSpec
from tasks.sources import SourceError, open_source

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres:topsecret@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}
T0 = dt.datetime(2024, 3, 1, 9, 30)


def _rows(start: int, stop: int) -> list[dict[str, object]]:
    return [
        {"id": i, "phone": f" 555{i:07d} ", "First Name": f"N{i}", "zip": f"{i:05d}",
         "updated_at": T0 + dt.timedelta(hours=i), "score": i * 1.5}
        for i in range(start, stop)
    ]


class Db:
    """A uniquely named leads table in one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = f"leads_{uuid.uuid4().hex[:10]}"
        self.engine = sa.create_engine(url)
        self.table = sa.Table(
            self.name, sa.MetaData(),
            sa.Column("id", sa.Integer), sa.Column("phone", sa.String(20)),
            sa.Column("First Name", sa.String(20)), sa.Column("zip", sa.String(10)),
            sa.Column("updated_at", sa.DateTime), sa.Column("score", sa.Float),
        )
        self.table.create(self.engine)

    def insert(self, rows: list[dict[str, object]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.insert(), rows)
        self.engine.dispose()  # DuckDB: the source opens the file read-only, which needs no writer open

    def drop(self) -> None:
        self.table.drop(self.engine)
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "duckdb", "postgresql", "mariadb"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    kind = request.param
    url = {"sqlite": f"sqlite:///{tmp_path / 'leads.db'}",
           "duckdb": f"duckdb:///{tmp_path / 'leads.duckdb'}"}.get(kind) or SERVERS[kind]
    database = Db(url)
    database.insert(_rows(1, 6))
    yield database
    database.drop()


def test_table_in_chunks(db: Db) -> None:
    reader, chunks = read_all(db.url, table=db.name, chunk_size=2)
    assert [len(ch) for ch in chunks] == [2, 2, 1]
    frame = pd.concat(chunks, ignore_index=True).sort_values(c.EXTERNAL_ID)
    assert sorted(frame[c.ROW]) == [1, 2, 3, 4, 5]
    assert frame[c.PHONE].tolist() == [f"555{i:07d}" for i in range(1, 6)]
    assert frame[c.ZIP].tolist() == ["00001", "00002", "00003", "00004", "00005"]
    assert frame[c.EXTERNAL_ID].tolist() == ["1", "2", "3", "4", "5"]
    assert frame["extra.score"].tolist() == ["1.5", "3", "4.5", "6", "7.5"]
    assert frame["extra.updated_at"].iloc[0].startswith("2024-03-01 10:30:00")
    assert reader.columns_mapped[c.FIRST_NAME] == "First Name"
    assert reader.rows_read == 5


def test_query_with_bound_parameters(db: Db) -> None:
    query = f'select id, phone from {db.name} where id >= :low and phone like :pattern'
    _, chunks = read_all(db.url, query=query, params={"low": 3, "pattern": "%555%"})
    frame = pd.concat(chunks)
    assert sorted(frame[c.EXTERNAL_ID].tolist()) == ["3", "4", "5"]


@pytest.mark.parametrize("column", ["updated_at", "id"])
def test_watermark_second_read_returns_only_newer_rows(db: Db, column: str) -> None:
    first, _ = read_all(db.url, table=db.name, watermark_column=column)
    assert first.max_watermark is not None
    assert first.max_watermark.startswith("2024-03-01 14:30:00" if column == "updated_at" else "5")
    db.insert(_rows(6, 9))
    second, chunks = read_all(db.url, since=first.max_watermark, table=db.name,
                              watermark_column=column)
    assert sorted(pd.concat(chunks)[c.EXTERNAL_ID].tolist()) == ["6", "7", "8"]
    assert second.rows_read == 3
    assert second.max_watermark is not None
    assert second.max_watermark.startswith("2024-03-01 17:30:00" if column == "updated_at" else "8")
    third, chunks = read_all(db.url, since=second.max_watermark, table=db.name,
                             watermark_column=column)
    assert chunks == []
    assert third.max_watermark is None


def test_watermark_on_a_query(db: Db) -> None:
    query = f"select * from {db.name} where id <> :skip"
    _, chunks = read_all(db.url, since="2024-03-01 11:30:00.5", query=query,
                              params={"skip": 4}, watermark_column="updated_at")
    assert pd.concat(chunks)[c.EXTERNAL_ID].tolist() == ["3", "5"]


def test_missing_table_is_summarised_without_password(db: Db) -> None:
    with pytest.raises(SourceError) as info:
        read_all(db.url, table="no_such_table_here")
    text = str(info.value)
    assert "topsecret" not in text
    assert "query failed" in text
    assert "no_such_table_here" in text.lower()
    assert text.startswith(SourceSpec(location=db.url, table="x").describe()[:-2])


def test_quoted_table_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text('create table "Lead List; drop" ("Phone" text)'))
        conn.execute(sa.text('insert into "Lead List; drop" values (\'555\')'))
    _, chunks = read_all(url, table="Lead List; drop")
    assert chunks[0][c.PHONE].tolist() == ["555"]


def test_duckdb_sql_over_parquet(tmp_path: Path) -> None:
    path = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "phone": ["5551", "5552", "5553"]}), path)
    query = f"select * from read_parquet('{path}') where id > :low"
    _, chunks = read_all("duckdb:///:memory:", query=query, params={"low": 1})
    assert pd.concat(chunks)[c.PHONE].tolist() == ["5552", "5553"]


def test_password_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    sa.create_engine(url).connect().execute(sa.text("create table t (phone text)")).close()
    monkeypatch.setenv("LEADS_DB", str(tmp_path / "e.db"))
    spec = SourceSpec(location="sqlite:///${LEADS_DB}", table="t")
    assert str(tmp_path) not in spec.key()
    with pytest.raises(SourceError, match="no data rows"):
        list(open_source(spec))
    monkeypatch.delenv("LEADS_DB")
    with pytest.raises(SourceError, match="environment variable LEADS_DB is not set"):
        open_source(spec)


def test_missing_dialect_names_it_without_the_password() -> None:
    # The extras' own messages (BigQuery's) are checked where the extra is missing:
    # tests/sources/test_sources_snowflake.py.
    with pytest.raises(SourceError) as info:
        open_source(SourceSpec(location="clickhouse://u:pw@host/crm", table="leads"))
    assert str(info.value) == ("clickhouse://u:***@host/crm table leads: no SQLAlchemy dialect for clickhouse: "
                               "install a SQLAlchemy dialect for 'clickhouse'")
