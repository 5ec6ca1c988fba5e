"""Every source kind feeds the same flow with the same outcomes; an incremental rerun reads only new rows."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from flows.load_leads import load_leads
from schemas.options import LoadOptions, RuleOptions, RunOptions
from schemas.sources import SourceSpec
from simulators.engage_voice import create_app
from simulators.server import serve

pytestmark = pytest.mark.usefixtures("prefect_harness")

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIA = "mysql+pymysql://root@127.0.0.1:3306/test"
LEADS = pd.DataFrame({
    "Lead ID": ["A1", "A2", "A3", "A4", "A5", "A6"],
    "Phone Number": ["(415) 867-5309", "212.736.4410", "4158675309", "12345", "303-492-1411", "808-956-8111"],
    "Email": ["a@example.com", "b@example.com", "c@example.com", "d@example.com", "bad-email", "f@example.com"],
    "State": ["CA", "NY", "CA", "TX", "CO", "HI"],
    "updated_at": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05",
                                  "2026-11-06"]),
})
EXPECTED = {"loaded": 3, "duplicate": 1, "invalid": 2}


def _sql(url: str) -> Callable[[Path, pd.DataFrame], SourceSpec]:
    def make(tmp: Path, df: pd.DataFrame) -> SourceSpec:
        table = f"lf_src_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(url)
        df.to_sql(table, engine, index=False)
        engine.dispose()
        _CLEANUP.append((url, table))
        return SourceSpec(location=url, table=table)
    return make


def _file(name: str, write: Callable[[pd.DataFrame, Path], None]) -> Callable[[Path, pd.DataFrame], SourceSpec]:
    def make(tmp: Path, df: pd.DataFrame) -> SourceSpec:
        path = tmp / name
        write(df, path)
        return SourceSpec(location=str(path))
    return make


def _tsv_gz(df: pd.DataFrame, path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        df.to_csv(fh, sep="\t", index=False)


def _duckdb(tmp: Path, df: pd.DataFrame) -> SourceSpec:
    import duckdb

    path = tmp / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.register("frame", df)
    con.execute("create table leads as select * from frame")
    con.close()
    return SourceSpec(location=f"duckdb:///{path}", table="leads")


_CLEANUP: list[tuple[str, str]] = []
KINDS: dict[str, Callable[[Path, pd.DataFrame], SourceSpec]] = {
    "csv": _file("leads.csv", lambda df, p: df.to_csv(p, index=False)),
    "tsv.gz": _file("leads.tsv.gz", _tsv_gz),
    "cp1252 csv": _file("leads-win.csv", lambda df, p: df.to_csv(p, index=False, encoding="cp1252")),
    "xlsx": _file("leads.xlsx", lambda df, p: df.to_excel(p, index=False, sheet_name="Leads")),
    "parquet": _file("leads.parquet", lambda df, p: df.to_parquet(p, index=False)),
    "jsonl": _file("leads.jsonl", lambda df, p: df.to_json(p, orient="records", lines=True, date_format="iso")),
    "sqlite": lambda tmp, df: _sql(f"sqlite:///{tmp / 'crm.db'}")(tmp, df),
    "duckdb": _duckdb,
    "postgresql": _sql(PG),
    "mariadb": _sql(MARIA),
}


@pytest.fixture(autouse=True)
def _drop_tables() -> Iterator[None]:
    yield
    while _CLEANUP:
        url, table = _CLEANUP.pop()
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS {engine.dialect.identifier_preparer.quote(table)}'))
        engine.dispose()


def options(tmp: Path, **load: object) -> RunOptions:
    return RunOptions(rules=RuleOptions(window_gate=False), load=LoadOptions(**load),  # type: ignore[arg-type]
                      ledger_url=f"sqlite:///{tmp / 'ledger.db'}", output_dir=str(tmp / "out"))


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_source_kind_gives_the_same_outcomes(kind: str, tmp_path: Path) -> None:
    spec = KINDS[kind](tmp_path, LEADS)
    result = load_leads(source=spec, provider="engage-voice", campaign="4001", options=options(tmp_path, dry_run=True))
    assert result["rows_read"] == len(LEADS)
    assert {k: v for k, v in result["outcomes"].items() if v} == EXPECTED
    rows = pd.read_csv(result["outcomes_file"], dtype=str)
    assert rows["row"].tolist() == [str(i) for i in range(1, 7)]
    assert rows.loc[rows["external_id"] == "A1", "phone"].item() == "+14158675309"


@pytest.mark.parametrize("url", [PG, MARIA], ids=["postgresql", "mariadb"])
def test_incremental_rerun_reads_only_new_rows(url: str, tmp_path: Path,
                                               clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    table = f"lf_inc_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    LEADS.iloc[:3].to_sql(table, engine, index=False)
    _CLEANUP.append((url, table))
    spec = SourceSpec(location=url, table=table, watermark_column="updated_at")
    with serve(create_app()) as sim:
        opts = options(tmp_path, base_url=sim.url)
        first = load_leads(source=spec, provider="engage-voice", campaign="4001", options=opts)
        assert first["rows_read"] == 3
        assert first["outcomes"]["loaded"] == 2
        assert first["watermark"] is not None
        new = pd.DataFrame({"Lead ID": ["B1"], "Phone Number": ["617-253-1000"], "Email": ["n@example.com"],
                            "State": ["MA"], "updated_at": pd.to_datetime(["2026-11-20"])})
        new.to_sql(table, engine, index=False, if_exists="append")
        second = load_leads(source=spec, provider="engage-voice", campaign="4001", options=opts)
        assert second["rows_read"] == 1
        assert second["outcomes"]["loaded"] == 1
        nothing = load_leads(source=spec, provider="engage-voice", campaign="4001", options=opts)
        assert nothing["rows_read"] == 0
        full = load_leads(source=spec, provider="engage-voice", campaign="4001",
                          options=opts.model_copy(update={"full_refresh": True}))
        assert full["rows_read"] == 4
        assert full["outcomes"]["loaded"] == 0
        accounts = httpx.get(f"{sim.url}/_sim/leads").json()["accounts"]
        ids = sorted(x["externId"] for c in accounts.values() for ls in c.values() for x in ls)
        assert ids == ["A1", "A2", "B1"]
    engine.dispose()
