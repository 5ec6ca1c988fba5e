"""A write-back that fails leaves the load as it was, says so, and is owed until the next run writes it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from flows import commands
from flows.cli import main
from schemas.sources import SourceSpec
from simulators.engage_voice import create_app
from simulators.server import serve
from tasks.ledger import Ledger
from tasks.writeback import read_rows, target_for
from tasks.writeback_owed import OwedWriteBacks, owed
from tests.writeback.conftest import BACKENDS, fresh_database
from tests.writeback.wbhelp import EARLY, FILE_KINDS, LEADS, make_source, run

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]
SECOND = pd.DataFrame({"Lead ID": ["B1", "B2"], "Phone": ["212-736-4420", "212-736-4421"], "State": ["NY", "NY"],
                       "Zip": ["10001", "10001"], "updated_at": pd.to_datetime(["2026-11-06", "2026-11-07"])})


@pytest.fixture
def engage(clean_provider_env: pytest.MonkeyPatch) -> Iterator[str]:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    with serve(create_app()) as sim:
        yield sim.url


def block_target(kind: str, url: str | None, tmp: Path) -> None:
    """A ``lead_outcomes`` that does not fit: a table without the key, or a file that is no write-back file."""
    if url is None:
        (tmp / f"lead_outcomes{FILE_KINDS[kind]}").write_text("something,else\n1,2\n")
        return
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("create table lead_outcomes (source_key varchar(50), provider varchar(50),"
                          " campaign varchar(50))"))
    engine.dispose()


def unblock_target(kind: str, url: str | None, tmp: Path) -> None:
    if url is None:
        (tmp / f"lead_outcomes{FILE_KINDS[kind]}").unlink()
        return
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("drop table lead_outcomes"))
    engine.dispose()


@pytest.mark.parametrize("kind", BACKENDS + list(FILE_KINDS))
def test_failed_write_back_is_owed_then_written_by_the_next_run(kind: str, tmp_path: Path, engage: str) -> None:
    with fresh_database(kind, tmp_path) if kind not in FILE_KINDS else _no_database() as url:
        first_source = make_source(kind, url, tmp_path)
        block_target(kind, url, tmp_path)
        first = run(first_source, tmp_path, engage, EARLY)
        assert first["status"] == "completed" and first["outcomes"]["loaded"] == 1  # the load stands
        assert first["write_back"]["status"] == "owed" and first["write_back"]["error"]
        assert json.loads(Path(first["report_file"]).read_text())["write_back"]["status"] == "owed"
        ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
        target = target_for(first_source, "lead_outcomes")
        assert [o.run_id for o in OwedWriteBacks(ledger).owed_to(target.key())] == [first["run_id"]]

        unblock_target(kind, url, tmp_path)
        second = run(make_source(kind, url, tmp_path, SECOND, table="crm_more"), tmp_path, engage, EARLY)
        assert second["write_back"] == {**second["write_back"], "status": "written", "retried": [first["run_id"]],
                                        "rows": 2}
        rows = read_rows(target).set_index("source_key")
        assert sorted(rows.index) == sorted([*LEADS["Lead ID"], "B1", "B2"])
        assert rows.loc["NY1", "run_id"] == first["run_id"] and rows.loc["B1", "run_id"] == second["run_id"]
        assert rows.loc["NY1", "outcome"] == "loaded" and rows.loc["LA1", "outcome"] == "deferred"
        assert OwedWriteBacks(ledger).owed_to(target.key()) == []


class _no_database:  # noqa: N801 - a context manager standing in for fresh_database
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def test_cli_write_back_failure_keeps_exit_code_and_no_password(tmp_path: Path, engage: str,
                                                               capfd: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        make_source("postgresql", url, tmp_path)
        block_target("postgresql", url, tmp_path)
        secret_url = url.replace("postgres@", "postgres:s3cr3t-pw@")  # trust auth: any password is taken
        monkeypatch.setattr(commands.err, "width", 100_000)
        code = main(["run", "--source", secret_url, "--table", "crm_leads", "--provider", "engage-voice",
                     "--campaign", "4001", "--base-url", engage, "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}",
                     "--output-dir", str(tmp_path / "out"), "--now", EARLY.isoformat(), "--window-gate",
                     "--write-back", "lead_outcomes"])
        out, err = capfd.readouterr()
        assert code == 0, out + err  # one lead loaded: the exit code is the load's
        assert "write-back" in out + err and "owed" in out + err
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
        with engine.connect() as c:
            stored = c.execute(sa.select(owed)).all()
        engine.dispose()
        assert len(stored) == 1 and "lead_outcomes" in stored[0].target
        files = [p.read_text() for p in (tmp_path / "out").rglob("*.json")]
        for text in [out, err, repr(stored), *files]:
            assert "s3cr3t-pw" not in text


@pytest.mark.parametrize(("columns", "watermark", "code", "outcome"), [
    (["Lead ID", "Phone", "State", "Zip", "updated_at"], None, 0, "loaded"),
    (["Phone", "State", "Zip", "updated_at"], "updated_at", 0, "invalid"),  # Engage Voice needs an external id
    (["Phone", "State", "Zip", "updated_at"], None, 2, None)])
def test_cli_source_key_external_id_else_watermark_else_refused(
        columns: list[str], watermark: str | None, code: int, outcome: str | None, tmp_path: Path, engage: str,
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_source("csv", None, tmp_path, LEADS[columns])
    monkeypatch.setattr(commands.err, "width", 100_000)
    got = main(["run", "--source", source.location, "--provider", "engage-voice", "--campaign", "4001",
                "--base-url", engage, "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--output-dir",
                str(tmp_path / "out"), "--now", EARLY.isoformat(), "--window-gate", "--write-back", "lead_outcomes",
                *(["--watermark-column", watermark] if watermark else [])])
    out, err = capfd.readouterr()
    assert got == code, out + err
    written = tmp_path / "lead_outcomes.csv"
    if outcome is None:
        assert "no external id column" in err and "no watermark column" in err
        assert not written.exists()
        return
    rows = read_rows(target_for(source, "lead_outcomes")).set_index("source_key")
    keys = pd.read_csv(source.location, dtype=str)["Lead ID" if "Lead ID" in columns else "updated_at"]
    assert sorted(rows.index) == sorted(keys) and outcome in set(rows["outcome"])
    assert f"write-back: {len(LEADS)} rows into {written}" in out


def test_a_role_without_insert_rights_owes_the_write_back_until_granted(tmp_path: Path, engage: str) -> None:
    role = f"lf_loader_{uuid.uuid4().hex[:8]}"
    with fresh_database("postgresql", tmp_path) as admin_url:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        make_source("postgresql", admin_url, tmp_path)
        with admin.connect() as c:
            c.execute(sa.text(f'create role "{role}" login'))
            c.execute(sa.text(f'grant select on crm_leads to "{role}"'))  # PostgreSQL 15: no CREATE in public
        try:
            url = admin_url.replace("postgres@", f"{role}@")
            source = SourceSpec(location=url, table="crm_leads")
            first = run(source, tmp_path, engage, EARLY)
            assert first["status"] == "completed" and first["outcomes"]["loaded"] == 1
            assert first["write_back"]["status"] == "owed" and "permission denied" in first["write_back"]["error"]
            with admin.connect() as c:  # the owner lets the loader create its table
                c.execute(sa.text(f'grant create on schema public to "{role}"'))
            second = run(source, tmp_path, engage, EARLY)
            assert second["write_back"]["status"] == "written" and second["write_back"]["retried"] == [first["run_id"]]
            assert len(read_rows(target_for(source, "lead_outcomes"))) == len(LEADS)
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'drop owned by "{role}"'))
                c.execute(sa.text(f'drop role "{role}"'))
            admin.dispose()


def test_a_target_that_cannot_be_written_is_refused_before_the_run_even_dry(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands.err, "width", 100_000)
    code = main(["run", "--source", "duckdb:///:memory:", "--query", "select '1' as id, '2127364410' as phone",
                 "--provider", "engage-voice", "--campaign", "4001", "--dry-run", "--write-back", "lead_outcomes",
                 "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--output-dir", str(tmp_path / "out")])
    out, err = capfd.readouterr()
    assert code == 2 and "in-memory database" in err, out + err
    assert not list((tmp_path / "out").rglob("report.json"))  # refused before the run
