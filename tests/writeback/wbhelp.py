"""Sources of every kind holding the same leads, and a load run with write-back into the simulator."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from flows.load_leads import load_leads
from schemas.options import LoadOptions, RuleOptions, RunOptions
from schemas.sources import SourceSpec

#: 13:30 UTC on a Tuesday: 08:30 in New York (callable), 05:30 in Los Angeles (not yet).
EARLY = datetime.fromisoformat("2026-11-24T13:30:00+00:00")
#: 16:30 UTC: 08:30 in Los Angeles.
LATER = datetime.fromisoformat("2026-11-24T16:30:00+00:00")
LEADS = pd.DataFrame({
    "Lead ID": ["NY1", "LA1", "LA2", "BAD", "DUP"],
    "Phone": ["212-736-4410", "213-473-2000", "(415) 867-5309", "12345", "(212) 736-4410"],
    "State": ["NY", "CA", "CA", "NY", "NY"],
    "Zip": ["10001", "90012", "94105", "10001", "10001"],
    "updated_at": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]),
})
FILE_KINDS = {"csv": ".csv", "parquet": ".parquet"}


def make_source(kind: str, url: str | None, tmp: Path, frame: pd.DataFrame = LEADS, table: str = "crm_leads",
                **spec: Any) -> SourceSpec:
    """``frame`` as a source: ``table`` in the database at ``url``, or a CSV or Parquet file of that name in ``tmp``."""
    if kind in FILE_KINDS:
        path = tmp / f"{table}{FILE_KINDS[kind]}"
        if kind == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        return SourceSpec(location=str(path), **spec)
    assert url is not None
    if kind == "duckdb":
        import duckdb

        con = duckdb.connect(url.removeprefix("duckdb:///"))
        con.register("frame", frame)
        con.execute(f"create table {table} as select * from frame")
        con.close()
    else:
        engine = sa.create_engine(url)
        frame.to_sql(table, engine, index=False)
        engine.dispose()
    return SourceSpec(location=url, table=table, **spec)


def options(tmp: Path, base_url: str, now: datetime, write_back: str | None = "lead_outcomes") -> RunOptions:
    """Run options with the calling-window gate on, a ledger in ``tmp`` and a write-back table."""
    return RunOptions(rules=RuleOptions(window_gate=True), load=LoadOptions(base_url=base_url),
                      ledger_url=f"sqlite:///{tmp / 'ledger.db'}", output_dir=str(tmp / "out"), now=now,
                      write_back=write_back)


def run(source: SourceSpec, tmp: Path, base_url: str, now: datetime, **kw: Any) -> dict[str, Any]:
    """One load run into the Engage Voice simulator's campaign 4001."""
    return load_leads(source=source, provider="engage-voice", campaign="4001",
                      options=options(tmp, base_url, now, **kw))
