"""A batch's leads kept as one record of arrays, and older ledgers' per-lead rows moved into it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from schemas import columns as C
from tasks.ledger import Ledger, batch_leads, batches
from tasks.ledger_feedback import Feedback
from tasks.ledger_legacy import legacy_leads

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the ledger runs on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    schema = f"lf_rec_{uuid.uuid4().hex[:12]}"
    if request.param == "postgresql":
        admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        create, drop = f"CREATE SCHEMA {schema}", f"DROP SCHEMA {schema} CASCADE"
        found = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    else:
        admin = sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/mysql")
        create, drop = f"CREATE DATABASE {schema}", f"DROP DATABASE {schema}"
        found = f"mysql+pymysql://root@127.0.0.1:3306/{schema}"
    with admin.begin() as c:
        c.exec_driver_sql(create)
    try:
        yield found
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(drop)
        admin.dispose()


def old_ledger(url: str) -> None:
    """A ledger as versions before 2026-12-07 left it: batches, and a row per lead in ``lf_leads``."""
    old = sa.MetaData()
    old_batches = batches.to_metadata(old)
    rows = sa.Table(
        "lf_leads", old,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(80), nullable=False, index=True),
        sa.Column("run_id", sa.String(64), nullable=False), sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("account", sa.String(100)), sa.Column("campaign", sa.String(100), nullable=False),
        sa.Column("row", sa.BigInteger, nullable=False), sa.Column("phone_key", sa.BigInteger, nullable=False),
        sa.Column("external_id", sa.String(200)), sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text), sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False))
    common = {"run_id": "r-old", "provider": "nlpearl", "account": None, "campaign": "c1", "reason": None,
              "updated_at": T0}
    engine = sa.create_engine(url)
    old.create_all(engine)
    with engine.begin() as c:
        for batch_id, at, status, count in (("b-old-1", T0, "settled", 3),
                                            ("b-old-2", T0 + timedelta(1), "sending", 2)):
            c.execute(old_batches.insert().values(
                batch_id=batch_id, run_id="r-old", provider="nlpearl", account=None, campaign="c1",
                lead_count=count, status=status, attempts=1, created_at=at, updated_at=at))
        c.execute(rows.insert(), [{**common, **lead} for lead in (
            {"batch_id": "b-old-1", "row": 1, "phone_key": 14155550101, "external_id": "a", "status": "loaded"},
            {"batch_id": "b-old-1", "row": 2, "phone_key": 14155550102, "external_id": None, "status": "rejected",
             "reason": "bad number"},
            {"batch_id": "b-old-1", "row": 3, "phone_key": 14155550103, "external_id": "c", "status": "loaded"},
            {"batch_id": "b-old-2", "row": 4, "phone_key": 14155550104, "external_id": "d", "status": "sending"},
            {"batch_id": "b-old-2", "row": 5, "phone_key": 14155550105, "external_id": "e", "status": "sending"})])
    engine.dispose()


def legacy_count(ledger: Ledger) -> int:
    with ledger.engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(legacy_leads)).scalar_one())


def test_an_older_ledger_is_moved_into_batch_records_once(url: str) -> None:
    old_ledger(url)
    ledger = Ledger(url)
    try:
        assert legacy_count(ledger) == 0
        first = ledger.batch_leads("b-old-1")
        assert first["row"].tolist() == [1, 2, 3] and first["status"].tolist() == ["loaded", "rejected", "loaded"]
        assert first["external_id"].fillna("-").tolist() == ["a", "-", "c"]
        assert first["reason"].fillna("-").tolist() == ["-", "bad number", "-"]
        # Dedup still sees what the old rows said: loaded and possibly loaded leads, not the rejected one.
        keys = ledger.loaded_keys(provider="nlpearl", campaign="c1", scope="campaign", since=T0 - timedelta(1))
        assert sorted(keys["phone_key"]) == [14155550101, 14155550103, 14155550104, 14155550105]
        assert set(keys["run_id"]) == {"r-old"}
        # A batch whose answer never came is still found, and settles like a new one.
        assert ledger.unsettled_batches("nlpearl", None, "c1") == ["b-old-2"]
        ledger.settle_leads("b-old-2", pd.DataFrame({C.ROW: [4, 5], C.OUTCOME: ["loaded", "failed"],
                                                     C.REASON: [None, "timeout"]}))
        assert ledger.unsettled_batches("nlpearl", None, "c1") == []
        loaded = Feedback(ledger).loaded_since(provider="nlpearl", account=None, campaign="c1", since=T0)
        assert loaded["external_id"].tolist() == ["a", "c", "d"]
        ledger.engine.dispose()
        again = Ledger(url)  # opening it again moves nothing twice
        assert again.batch_leads("b-old-1")["row"].tolist() == [1, 2, 3]
        with again.engine.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(batch_leads)).scalar_one() == 2
        again.engine.dispose()
    finally:
        ledger.engine.dispose()


def test_workers_opening_an_older_ledger_together_move_each_batch_once(url: str) -> None:
    old_ledger(url)
    errors: list[BaseException] = []
    opened: list[Ledger] = []

    def open_it() -> None:
        try:
            opened.append(Ledger(url))
        except BaseException as ex:  # reported below
            errors.append(ex)

    workers = [threading.Thread(target=open_it) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not errors
    ledger = opened[0]
    assert legacy_count(ledger) == 0
    assert ledger.batch_leads("b-old-2")["status"].tolist() == ["sending", "sending"]
    with ledger.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(batch_leads)).scalar_one() == 2
    for each in opened:
        each.engine.dispose()


def test_a_new_ledger_has_no_per_lead_table(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    assert not sa.inspect(ledger.engine).has_table("lf_leads")
    ledger.engine.dispose()
