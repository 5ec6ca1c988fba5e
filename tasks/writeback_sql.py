"""Write-back into a database table: created if missing, upserted in bulk, in one transaction.

PostgreSQL (psycopg) takes the rows by ``COPY`` into a temporary table and one ``INSERT ... SELECT
... ON CONFLICT (key) DO UPDATE``; DuckDB runs the same statement on the frame itself; SQLite runs
one prepared ``INSERT ... ON CONFLICT (key) DO UPDATE`` over the rows, and MariaDB/MySQL one
``INSERT ... ON DUPLICATE KEY UPDATE`` that PyMySQL sends as multi-row statements. Only the
columns of the frame are written; a column of ``KEEP_WHEN_NULL`` keeps its value when the new one
is missing. A table that exists without a unique key on the key columns is refused (an upsert
could not find the row), and columns it lacks are added.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection

from schemas.options import expand_env
from tasks.writeback_target import COLUMNS, KEEP_WHEN_NULL, KEY, WriteBackTarget

#: Rows handed to the driver at a time (SQLite runs one prepared statement over them; PyMySQL rewrites them
#: into multi-row INSERTs of up to 1 MB).
ROWS_PER_STATEMENT = 10_000
#: The temporary table (PostgreSQL) or registered frame (DuckDB) the rows are staged in.
STAGE = "leadflow_writeback_rows"


class WriteBackError(RuntimeError):
    """The write-back could not be written (the load it reports on stands)."""


def _type(name: str) -> sa.types.TypeEngine[Any]:
    kind = COLUMNS[name]
    if kind == "time":
        return sa.DateTime(timezone=True)
    if kind == "key":
        return sa.String(64 if name == "provider" else 255)
    return sa.String(64) if name in ("run_id", "outcome") else sa.Text()


def table_of(target: WriteBackTarget) -> sa.Table:
    """The table's definition (``schema.table`` names a schema)."""
    schema, _, name = target.table.rpartition(".")
    return sa.Table(name, sa.MetaData(), *(sa.Column(c, _type(c), nullable=COLUMNS[c] != "key") for c in COLUMNS),
                    sa.PrimaryKeyConstraint(*KEY), schema=schema or None)


def engine_for(target: WriteBackTarget) -> sa.Engine:
    """A read-write engine on the target's database."""
    return sa.create_engine(expand_env(target.location))


def upsert_sql(target: WriteBackTarget, frame: pd.DataFrame, engine: sa.Engine | None = None) -> int:
    """Upsert ``frame`` (columns of ``COLUMNS``, the key among them) into the target table; rows written.

    Raises:
        WriteBackError: the database refused (no connection, no permission, a table that does not fit).
    """
    own = engine is None
    engine = engine or engine_for(target)
    table = table_of(target)
    try:
        with engine.begin() as conn:
            _prepare(conn, table)
            _write(conn, table, frame)
        return len(frame)
    except sa.exc.SQLAlchemyError as ex:
        origin = getattr(ex, "orig", None) or ex
        lines = str(origin).strip().splitlines()
        raise WriteBackError(f"{type(origin).__name__}: {lines[0] if lines else ''}") from None
    finally:
        if own:
            engine.dispose()


def _prepare(conn: Connection, table: sa.Table) -> None:
    """Create the table if missing; check it has the key; add the columns it lacks."""
    table.create(conn, checkfirst=True)
    have, keys = _duckdb_shape(conn, table) if conn.dialect.name == "duckdb" else _shape(conn, table)
    missing_key = [c for c in KEY if c not in have]
    if missing_key:
        raise WriteBackError(f"table {table.fullname} exists without column(s) {', '.join(missing_key)}")
    if set(KEY) not in keys:
        raise WriteBackError(f"table {table.fullname} exists without a primary key or unique key on"
                             f" ({', '.join(KEY)}); an upsert cannot find its rows")
    quote = conn.dialect.identifier_preparer
    for column in table.columns:
        if column.name not in have:
            kind = column.type.compile(dialect=conn.dialect)
            name = quote.quote(column.name)
            conn.execute(sa.text(f"ALTER TABLE {quote.format_table(table)} ADD COLUMN {name} {kind}"))


def _shape(conn: Connection, table: sa.Table) -> tuple[set[str], list[set[str]]]:
    """The table's columns and the column sets of its primary and unique keys."""
    inspector = sa.inspect(conn)
    have = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
    keys = [set(inspector.get_pk_constraint(table.name, schema=table.schema).get("constrained_columns") or [])]
    keys += [set(u["column_names"]) for u in inspector.get_unique_constraints(table.name, schema=table.schema)]
    keys += [set(i["column_names"]) for i in inspector.get_indexes(table.name, schema=table.schema)  # type: ignore[arg-type]
             if i.get("unique")]
    return have, keys


def _duckdb_shape(conn: Connection, table: sa.Table) -> tuple[set[str], list[set[str]]]:
    """:func:`_shape` from DuckDB's own catalog (its SQLAlchemy inspector asks PostgreSQL's)."""
    where = "table_name = :name" + (" and schema_name = :schema" if table.schema else "")
    have = {r[0] for r in conn.execute(sa.text(
        "select column_name from information_schema.columns where table_name = :name"
        + (" and table_schema = :schema" if table.schema else "")), {"name": table.name, "schema": table.schema})}
    keys = [set(r[0]) for r in conn.execute(sa.text(
        f"select constraint_column_names from duckdb_constraints() where {where}"
        " and constraint_type in ('PRIMARY KEY', 'UNIQUE')"), {"name": table.name, "schema": table.schema})]
    return have, keys


def _write(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Upsert the frame: PostgreSQL (psycopg) by COPY into a temporary table, DuckDB from the frame itself, then
    one ``INSERT ... SELECT``; SQLite and MariaDB/MySQL by one statement run over batches of rows."""
    columns, dialect = list(frame.columns), conn.dialect.name
    if dialect == "postgresql" and conn.dialect.driver == "psycopg":
        rows = _staged(conn, table, frame)
        conn.execute(_upsert(dialect, table, columns, sa.select(*(rows.c[c] for c in columns))))
        return
    if dialect == "duckdb":
        conn.connection.driver_connection.register(STAGE, _typed(frame))  # type: ignore[union-attr]
        try:
            rows = sa.table(STAGE, *(sa.column(c) for c in columns))
            conn.execute(_upsert(dialect, table, columns, sa.select(*(rows.c[c] for c in columns))))
        finally:
            conn.connection.driver_connection.unregister(STAGE)  # type: ignore[union-attr]
        return
    statement = _upsert(dialect, table, columns, None)
    values = _values(frame, naive=dialect in ("mysql", "mariadb"))
    for start in range(0, len(values), ROWS_PER_STATEMENT):
        batch = values[start:start + ROWS_PER_STATEMENT]
        conn.execute(statement, [dict(zip(columns, row, strict=True)) for row in batch])


def _staged(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> sa.TableClause:
    """The frame COPYed into a temporary table (dropped at commit) shaped like the target."""
    quote = conn.dialect.identifier_preparer
    conn.execute(sa.text(f"CREATE TEMP TABLE {STAGE} (LIKE {quote.format_table(table)}) ON COMMIT DROP"))
    names = ", ".join(quote.quote(c) for c in frame.columns)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in _values(frame, naive=False):
            copy.write_row(row)
    return sa.table(STAGE, *(sa.column(c) for c in frame.columns))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its time columns as UTC timestamps."""
    times = {c: pd.to_datetime(frame[c], utc=True) for c in frame.columns if COLUMNS[c] == "time"}
    return frame.assign(**times)


def _values(frame: pd.DataFrame, *, naive: bool) -> list[tuple[Any, ...]]:
    """The rows as tuples of Python values (``None`` for missing; times as UTC datetimes, naive if asked)."""
    out = frame.astype(object).where(frame.notna(), None)
    for col in frame.columns:
        if COLUMNS[col] == "time":
            stamps = pd.to_datetime(frame[col], utc=True)
            values = stamps.dt.tz_localize(None) if naive else stamps
            out[col] = pd.Series([None if pd.isna(v) else v.to_pydatetime() for v in values], index=out.index,
                                 dtype=object)
    return list(out.itertuples(index=False, name=None))


def _upsert(dialect: str, table: sa.Table, columns: list[str], rows: sa.Select[Any] | None) -> sa.Executable:
    """The dialect's upsert of ``columns``: from ``rows``, or of one row of bound values (run over many)."""
    updated = [c for c in columns if c not in KEY]
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table)
        my = my.from_select(columns, rows) if rows is not None else my.values({c: sa.bindparam(c) for c in columns})
        return my.on_duplicate_key_update({c: _merge(c, my.inserted[c], table) for c in updated} or
                                          {KEY[0]: my.inserted[KEY[0]]})
    make = sqlite.insert if dialect == "sqlite" else postgresql.insert  # DuckDB speaks PostgreSQL's form
    ins = make(table)
    ins = ins.from_select(columns, rows) if rows is not None else ins.values({c: sa.bindparam(c) for c in columns})
    if not updated:
        return ins.on_conflict_do_nothing(index_elements=list(KEY))
    return ins.on_conflict_do_update(index_elements=list(KEY),
                                     set_={c: _merge(c, ins.excluded[c], table) for c in updated})


def _merge(column: str, new: Any, table: sa.Table) -> Any:
    return sa.func.coalesce(new, table.c[column]) if column in KEEP_WHEN_NULL else new
