"""The landing watcher and the database sensor, with real files and real databases (no server)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.watch import STATE_NAME, WatchState, scan_landing, sense_new_rows, watch
from schemas.sources import SourceSpec
from tasks.ledger import Ledger

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Recorder:
    """Collects what would be emitted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, location: str, **fields: Any) -> None:
        self.calls.append((location, fields))

    @property
    def locations(self) -> list[str]:
        return [loc for loc, _ in self.calls]


def land(folder: Path, name: str, text: str = "phone\n4158675309\n", age_s: float = 60.0) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_only_complete_new_files_are_announced_once(tmp_path: Path) -> None:
    landed = land(tmp_path, "leads.csv")
    land(tmp_path, "fresh.csv", age_s=0)
    land(tmp_path, "upload.csv.part")
    land(tmp_path, ".hidden.csv")
    land(tmp_path, "notes.txt")
    sent = Recorder()

    first = watch(tmp_path, "*.csv", stable_seconds=5, once=True, emit=sent, flush=False)
    again = watch(tmp_path, "*.csv", stable_seconds=5, once=True, emit=sent, flush=False)

    assert [item.location for item in first] == [str(landed.resolve())]
    assert again == []
    assert sent.locations == [str(landed.resolve())]
    assert sent.calls[0][1] == {"size": landed.stat().st_size, "fmt": "csv"}
    assert (tmp_path / STATE_NAME).exists()


def test_a_growing_file_waits_until_its_size_settles(tmp_path: Path) -> None:
    path = land(tmp_path, "big.csv", "phone\n1\n")
    state = WatchState(tmp_path / "state.json")
    now = time.time()

    assert scan_landing(tmp_path, "*.csv", 5, state, now=now - 3600) == []
    path.write_text("phone\n1\n2\n3\n")
    os.utime(path, (now - 60, now - 60))
    assert scan_landing(tmp_path, "*.csv", 5, state, now=now) == []
    ready = scan_landing(tmp_path, "*.csv", 5, state, now=now)

    assert [(r.location, r.size) for r in ready] == [(str(path.resolve()), path.stat().st_size)]


def test_restart_remembers_and_a_replaced_file_lands_again(tmp_path: Path) -> None:
    land(tmp_path / "in", "a.tsv")
    state_file = tmp_path / "watch-state.json"
    sent = Recorder()
    watch(tmp_path / "in", "*.tsv", 1, once=True, state_file=state_file, emit=sent, flush=False)
    watch(tmp_path / "in", "*.tsv", 1, once=True, state_file=state_file, emit=sent, flush=False)
    land(tmp_path / "in", "a.tsv", "phone\n4158675309\n2125551234\n", age_s=30)
    watch(tmp_path / "in", "*.tsv", 1, once=True, state_file=state_file, emit=sent, flush=False)

    assert len(sent.calls) == 2
    assert [fields["fmt"] for _, fields in sent.calls] == ["tsv", "tsv"]
    assert not (tmp_path / "in" / STATE_NAME).exists()


def test_patterns_descend_into_campaign_folders(tmp_path: Path) -> None:
    one = land(tmp_path, "engage-voice/4001/monday.csv")
    two = land(tmp_path, "voiso/3/monday.parquet")
    sent = Recorder()

    watch(tmp_path, "*/*/*", 5, once=True, emit=sent, flush=False)

    assert sorted(sent.locations) == sorted([str(one.resolve()), str(two.resolve())])
    assert {fields["fmt"] for _, fields in sent.calls} == {"csv", "parquet"}


def test_watching_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        watch(tmp_path / "nope", once=True, flush=False)


def test_the_loop_stops_when_asked(tmp_path: Path) -> None:
    land(tmp_path, "a.csv")
    sent = Recorder()
    polls = iter([False, True])

    found = watch(tmp_path, stable_seconds=1, poll_seconds=0, emit=sent, stop=lambda: next(polls), flush=False)

    assert len(found) == 1
    assert len(sent.calls) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, sa.Engine]]:
    table = f"crm_{uuid.uuid4().hex[:10]}"
    url = f"sqlite:///{tmp_path / 'crm.db'}" if request.param == "sqlite" else PG_URL
    engine = sa.create_engine(url)
    leads = sa.Table(table, sa.MetaData(), sa.Column("phone", sa.String(20)), sa.Column("updated_at", sa.Integer))
    leads.create(engine)
    with engine.begin() as conn:
        conn.execute(leads.insert(), [{"phone": "4158675309", "updated_at": 10},
                                      {"phone": "2127364410", "updated_at": 20}])
    yield url, table, engine
    leads.drop(engine)
    engine.dispose()


def add_row(engine: sa.Engine, table: str, updated_at: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"insert into {table} (phone, updated_at) values ('6172531000', {updated_at})"))


def test_sensor_signals_rows_newer_than_the_campaign_watermark(
        tmp_path: Path, crm: tuple[str, str, sa.Engine]) -> None:
    url, table, engine = crm
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    key = SourceSpec(location=url, table=table, watermark_column="updated_at").key()
    Ledger(ledger_url).set_watermark(key, "4001", "10", "run-1")
    sent = Recorder()

    def sense(**kw: Any) -> dict[str, Any] | None:
        return sense_new_rows(url, table, "updated_at", campaign="4001", ledger_url=ledger_url,
                              state_file=tmp_path / "sensor.json", emit=sent, flush=False, **kw)

    first = sense()
    repeated = sense()
    other = sense_new_rows(url, table, "updated_at", campaign="4002", ledger_url=ledger_url,
                           state_file=tmp_path / "sensor.json", emit=sent, flush=False)
    add_row(engine, table, 30)
    grown = sense()
    stale = sense(resignal_after_s=0)

    assert first is not None
    assert (first["size"], first["newest"], first["since"]) == (1, "20", "10")
    assert (first["kind"], first["key"], first["location"]) == ("sql", key, url)
    assert repeated is None
    assert other is not None
    assert (other["size"], other["since"]) == (2, None)
    assert grown is not None
    assert (grown["size"], grown["newest"]) == (2, "30")
    assert stale is not None
    assert len(sent.calls) == 4


def test_sensor_is_quiet_when_the_watermark_is_current(tmp_path: Path, crm: tuple[str, str, sa.Engine]) -> None:
    url, table, _ = crm
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    key = SourceSpec(location=url, table=table, watermark_column="updated_at").key()
    Ledger(ledger_url).set_watermark(key, "4001", "20", "run-1")
    sent = Recorder()

    result = sense_new_rows(url, table, "updated_at", campaign="4001", ledger_url=ledger_url,
                            state_file=tmp_path / "s.json", emit=sent, flush=False)

    assert result is None
    assert sent.calls == []


def test_sensor_refuses_literal_passwords_but_takes_references(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Recorder()
    with pytest.raises(ValueError, match="ENV_NAME") as info:
        sense_new_rows("postgresql+psycopg://loader:hunter2@127.0.0.1:5432/test", "leads", "updated_at",
                       campaign="1", ledger_url=f"sqlite:///{tmp_path / 'l.db'}", emit=sent, flush=False)
    assert "hunter2" not in str(info.value)

    monkeypatch.setenv("LF_TEST_PG_PASSWORD", "")
    table = f"crm_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f"create table {table} (phone text, updated_at integer)"))
        conn.execute(sa.text(f"insert into {table} values ('4158675309', 1)"))
    try:
        url = "postgresql+psycopg://postgres:${LF_TEST_PG_PASSWORD}@127.0.0.1:5432/test"
        result = sense_new_rows(url, table, "updated_at", campaign="1", ledger_url=f"sqlite:///{tmp_path / 'l.db'}",
                                state_file=tmp_path / "s.json", emit=sent, flush=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table {table}"))
        engine.dispose()
    assert result is not None
    assert result["location"] == url
    assert sent.locations == [url]


@pytest.mark.parametrize("table", ["leadflow_outcomes", "leadflow_outcomes.parquet"])
def test_outcomes_written_back_beside_a_landed_file_are_not_announced(tmp_path: Path, table: str) -> None:
    from tasks.writeback import target_for, upsert_rows

    landed = land(tmp_path, "leads.csv")
    target = target_for(SourceSpec(location=str(landed)), table)
    upsert_rows(target, pd.DataFrame({"source_key": ["A1"], "provider": ["voiso"], "campaign": ["7"],
                                      "outcome": ["loaded"]}))
    written = next(p for p in tmp_path.iterdir() if p.name.startswith("leadflow_outcomes"))
    stamp = time.time() - 60
    os.utime(written, (stamp, stamp))
    sent = Recorder()

    found = watch(tmp_path, "*.*", stable_seconds=5, once=True, emit=sent, flush=False)

    assert sent.locations == [str(landed.resolve())] and len(found) == 1
