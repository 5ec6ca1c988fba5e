"""upsert_rows on every backend: created if missing, upserted by key, only the frame's columns, in bulk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from schemas.errors import ConfigurationError
from schemas.sources import SourceSpec
from tasks.writeback import WriteBackError, read_rows, target_for, upsert_rows
from tests.writeback.conftest import StatementCount

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def outcomes(keys: list[str], outcome: str, *, loaded_at: datetime | None = None) -> pd.DataFrame:
    return pd.DataFrame({"source_key": keys, "provider": "voiso", "campaign": "7", "outcome": outcome,
                         "reason": None if outcome == "loaded" else f"why {outcome}", "run_id": "run-1",
                         "time_zone": "America/New_York", "loaded_at": loaded_at})


def by_key(target: object) -> pd.DataFrame:
    return read_rows(target).set_index("source_key").sort_index()  # type: ignore[arg-type]


def test_sql_upsert_creates_updates_and_keeps_other_columns(database_url: str) -> None:
    target = target_for(SourceSpec(location=database_url, table="leads"), "lead_outcomes")
    assert upsert_rows(target, outcomes(["A1", "A2", "A3"], "deferred")) == 3
    assert upsert_rows(target, pd.DataFrame({"source_key": ["A1"], "provider": "voiso", "campaign": "7",
                                             "disposition": ["SALE"], "disposition_at": [T0]})) == 1
    assert upsert_rows(target, outcomes(["A1", "A2"], "loaded", loaded_at=T1)) == 2
    assert upsert_rows(target, outcomes(["A2"], "duplicate")) == 1
    rows = by_key(target)
    assert len(rows) == 3
    assert rows["outcome"].to_dict() == {"A1": "loaded", "A2": "duplicate", "A3": "deferred"}
    assert rows.loc["A1", "disposition"] == "SALE"  # the outcome upserts never touched it
    assert pd.Timestamp(rows.loc["A1", "disposition_at"]).tz_localize(None) == pd.Timestamp(T0).tz_localize(None)
    # a NULL loaded_at does not erase when A2 was loaded; a NULL reason does replace the old reason
    assert pd.Timestamp(rows.loc["A2", "loaded_at"]).tz_localize(None) == pd.Timestamp(T1).tz_localize(None)
    assert pd.isna(rows.loc["A1", "reason"]) and rows.loc["A2", "reason"] == "why duplicate"
    assert rows["updated_at"].notna().all()


def test_sql_upsert_is_bulk(database_url: str, statements: StatementCount) -> None:
    target = target_for(SourceSpec(location=database_url, table="leads"), "bulk_outcomes")
    keys = [f"K{i}" for i in range(5000)]
    upsert_rows(target, outcomes(keys, "loaded", loaded_at=T0))
    first = statements.count
    upsert_rows(target, outcomes(keys, "duplicate"))
    assert len(read_rows(target)) == 5000
    assert first < 100 and statements.count - first < 100  # 5,000 rows: statements << rows


def test_a_table_without_the_key_is_refused(database_url: str) -> None:
    target = target_for(SourceSpec(location=database_url, table="leads"), "plain")
    engine = sa.create_engine(database_url)
    with engine.begin() as c:
        c.execute(sa.text("create table plain (source_key varchar(50), provider varchar(50), campaign varchar(50))"))
    engine.dispose()
    with pytest.raises(WriteBackError, match="without a primary key or unique key"):
        upsert_rows(target, outcomes(["A1"], "loaded"))


def test_a_password_is_not_in_the_target_key() -> None:
    spec = SourceSpec(location="postgresql+psycopg://crm:s3cret@db/crm", table="leads")
    target = target_for(spec, "out")
    assert "s3cret" not in target.key() and "s3cret" not in target.describe() and "s3cret" not in repr(target)


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden"])
def test_a_path_is_not_a_table_name(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a table name"):
        target_for(SourceSpec(location=str(tmp_path / "leads.csv")), name)


def test_in_memory_remote_and_warehouse_sources_cannot_be_written_back() -> None:
    with pytest.raises(ConfigurationError, match="in-memory"):
        target_for(SourceSpec(location="duckdb:///:memory:", query="select 1"), "out")
    with pytest.raises(ConfigurationError, match="remote file"):
        target_for(SourceSpec(location="s3://bucket/leads.csv"), "out")
    with pytest.raises(ConfigurationError, match="snowflake is not supported"):
        target_for(SourceSpec(location="snowflake://u@acct/CRM/PUBLIC", table="LEADS"), "out")


@pytest.mark.parametrize(("source", "name", "written"), [
    ("leads.csv", "lead_outcomes", "lead_outcomes.csv"), ("leads.parquet", "lead_outcomes", "lead_outcomes.parquet"),
    ("leads.xlsx", "out.csv", "out.csv"), ("leads.jsonl", "lead_outcomes", "lead_outcomes.parquet")])
def test_file_upsert_beside_the_source(source: str, name: str, written: str, tmp_path: Path) -> None:
    target = target_for(SourceSpec(location=str(tmp_path / source)), name)
    assert target.location == str(tmp_path / written)
    upsert_rows(target, outcomes(["001", "A2"], "deferred"))
    upsert_rows(target, pd.DataFrame({"source_key": ["001"], "provider": "voiso", "campaign": "7",
                                      "disposition": ["NO_ANSWER"], "disposition_at": [T0]}))
    upsert_rows(target, outcomes(["001", "B9"], "loaded", loaded_at=T1))
    rows = by_key(target)
    assert rows["outcome"].to_dict() == {"001": "loaded", "A2": "deferred", "B9": "loaded"}  # "001" kept as text
    assert rows.loc["001", "disposition"] == "NO_ANSWER"
    assert rows.loc["001", "loaded_at"] == pd.Timestamp(T1)
    assert (tmp_path / written).stat().st_mode & 0o077 == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_missing_key_columns_and_unknown_columns_are_refused(tmp_path: Path) -> None:
    target = target_for(SourceSpec(location=str(tmp_path / "leads.csv")), "out")
    with pytest.raises(ValueError, match="missing key"):
        upsert_rows(target, pd.DataFrame({"source_key": ["A"], "provider": ["voiso"]}))
    with pytest.raises(ValueError, match="unknown column"):
        upsert_rows(target, outcomes(["A"], "loaded").assign(phone="+1"))
    with pytest.raises(ValueError, match="key column is empty"):
        upsert_rows(target, outcomes([None], "loaded"))  # type: ignore[list-item]
