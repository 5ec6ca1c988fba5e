"""Write-back: the rows of a run's outcomes (and later the dialer's dispositions) upserted next to the leads.

:func:`upsert_rows` is the one way in, for every backend: a table of the source's database
(SQLite, PostgreSQL, MariaDB/MySQL, DuckDB) or a CSV/Parquet file beside a file source. It writes
only the columns present in the frame, so a caller that knows only dispositions leaves the outcome
columns alone, and the reverse. Build the target with :func:`target_for` from the run's source.

Example::

    target = target_for(SourceSpec(location="postgresql+psycopg://crm@db/crm", table="leads"), "lead_outcomes")
    upsert_rows(target, pd.DataFrame({"source_key": ["A1"], "provider": ["voiso"], "campaign": ["7"],
                                      "disposition": ["SALE"], "disposition_at": [now]}))
"""

from __future__ import annotations

import pandas as pd

from tasks.ledger import utcnow
from tasks.writeback_file import read_file, upsert_file
from tasks.writeback_sql import WriteBackError, engine_for, upsert_sql
from tasks.writeback_target import COLUMNS, KEY, WriteBackTarget, target_for

__all__ = ["COLUMNS", "KEY", "WriteBackError", "WriteBackTarget", "read_rows", "target_for", "upsert_rows"]


def upsert_rows(target: WriteBackTarget, frame: pd.DataFrame) -> int:
    """Insert or update ``frame``'s rows in the target by ``(source_key, provider, campaign)``; rows written.

    The table (or file) is created when missing. Only the frame's columns are written (the key
    columns are required, the others are any of ``COLUMNS``); ``updated_at`` is set to now unless the
    frame gives it. A key that comes more than once keeps its last row. SQL targets are written many
    rows per statement in one transaction; file targets are replaced atomically.

    Raises:
        ValueError: a key column is missing or empty, or a column is not one of ``COLUMNS``.
        WriteBackError: the database or file refused the write.
    """
    missing = [c for c in KEY if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if missing or unknown:
        raise ValueError(f"write-back rows: missing key column(s) {missing}, unknown column(s) {unknown}")
    if frame[list(KEY)].isna().any().any():
        raise ValueError("write-back rows: a key column is empty")
    rows = frame.drop_duplicates(list(KEY), keep="last")
    if "updated_at" not in rows.columns:
        rows = rows.assign(updated_at=pd.Timestamp(utcnow()))
    if len(rows) == 0:
        return 0
    if target.kind == "file":
        return upsert_file(target, rows)
    return upsert_sql(target, rows)


def read_rows(target: WriteBackTarget) -> pd.DataFrame:
    """Every row of the target (for checks and tests); an empty frame if it does not exist yet."""
    if target.kind == "file":
        from pathlib import Path

        return read_file(Path(target.location))
    import sqlalchemy as sa

    from tasks.writeback_sql import table_of

    engine = engine_for(target)
    table = table_of(target)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table.name, schema=table.schema):
                return pd.DataFrame(columns=list(COLUMNS))
            return pd.DataFrame(list(map(tuple, conn.execute(table.select()).all())), columns=list(COLUMNS))
    finally:
        engine.dispose()
