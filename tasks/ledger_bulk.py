"""Bulk paths of the ledger: many rows per statement, plain tuples, and one writer at a time on SQLite.

Per-row work in SQLAlchemy (a dict bound per row, a ``Row`` per result) and per-row GIL
hand-offs in the ``sqlite3`` module (it releases the GIL at every step) cost more than the
database itself when a batch has thousands of leads and other threads keep the GIL busy.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

_SQLITE_WRITERS: dict[str, threading.RLock] = {}
_REGISTRY_LOCK = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """The process-wide writer lock of a SQLite database; no lock for servers that handle concurrency.

    SQLite lets one writer in at a time and makes the others sleep in growing steps (up to
    100 ms) until it is free; queueing the threads of one process on a lock instead wakes the
    next writer as soon as the last one commits.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _REGISTRY_LOCK:
        return _SQLITE_WRITERS.setdefault(str(engine.url), threading.RLock())


def fetch_frame(c: Connection, query: sa.Select[Any], columns: list[str]) -> pd.DataFrame:
    """The rows of a query of integer and text columns as a DataFrame.

    SQLite answers with one JSON array per column, built inside the database in one step (not
    one step per row); other databases through plain tuples (pandas probing ``Row`` objects is slow).
    """
    if c.dialect.name == "sqlite":
        inner = query.subquery()
        texts = c.execute(sa.select(*(sa.func.json_group_array(col) for col in inner.c))).one()
        values = {name: orjson.loads(text) for name, text in zip(columns, texts, strict=True)}
        return pd.DataFrame(values if values and values[columns[0]] else [], columns=columns)
    return pd.DataFrame(list(map(tuple, c.execute(query).all())), columns=columns)


def fetch_ints(c: Connection, query: sa.Select[Any]) -> list[npt.NDArray[np.int64]]:
    """The rows of a query of non-null integer columns, one ``int64`` array per column."""
    if c.dialect.name == "sqlite":
        inner = query.subquery()
        texts = c.execute(sa.select(*(sa.func.json_group_array(col) for col in inner.c))).one()
        return [np.asarray(orjson.loads(text), dtype=np.int64).reshape(-1) for text in texts]
    rows = c.execute(query).all()
    width = len(query.selected_columns)
    table = np.asarray([tuple(r) for r in rows], dtype=np.int64).reshape(len(rows), width)
    return [table[:, k].copy() for k in range(width)]


def insert_many(c: Connection, table: sa.Table, fixed: dict[str, Any], columns: dict[str, list[Any]]) -> None:
    """Insert rows, each with the same ``fixed`` values and one value of each of ``columns`` (equal lengths), in bulk.

    SQLite: ``INSERT ... SELECT ... FROM (VALUES ...)`` of as many rows as one statement may bind;
    PostgreSQL with psycopg: COPY; other drivers: one executemany of plain tuples.
    """
    names = list(columns)
    dialect = c.dialect
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    if mark is None:
        c.execute(table.insert(), [{**fixed, **dict(zip(names, r, strict=True))}
                                   for r in zip(*columns.values(), strict=True)])
        return
    head = tuple(_bound(table.c[k], v, dialect) for k, v in fixed.items())
    quote = dialect.identifier_preparer
    target = f"{quote.format_table(table)} ({', '.join(quote.quote(n) for n in [*fixed, *names])})"
    if dialect.driver == "psycopg":
        raw: Any = c.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:
            for r in zip(*columns.values(), strict=True):
                copy.write_row(head + r)
    elif dialect.name == "sqlite":
        # Many rows a statement, each value bound once: SQLite reads the VALUES rows in C, where
        # one statement per row (executemany) or a JSON array unpacked value by value cost 2-3 times more.
        width = max(1, len(names))
        per = max(1, (_sqlite_max_params() - len(head)) // width)
        count = len(next(iter(columns.values()), []))
        flat = np.empty(count * width, dtype=object)  # the values row by row, in the order they are bound
        for k, values in enumerate(columns.values()):
            flat[k::width] = values
        for at in range(0, count, per):
            part = flat[at * width:(at + per) * width].tolist()
            rows = ", ".join([f"({', '.join([mark] * len(names))})"] * (len(part) // width))
            listed = ", ".join(f"column{i + 1}" for i in range(len(names)))
            c.exec_driver_sql(f"INSERT INTO {target} SELECT {', '.join([mark] * len(head))}, {listed} "
                              f"FROM (VALUES {rows})", (*head, *part))
    else:
        marks = ", ".join([mark] * (len(head) + len(names)))
        c.exec_driver_sql(f"INSERT INTO {target} VALUES ({marks})",
                          [head + r for r in zip(*columns.values(), strict=True)])


def _sqlite_max_params() -> int:
    """Parameters one SQLite statement may bind (999 before SQLite 3.32, 32,766 since)."""
    import sqlite3

    return 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def sqlite_settle_loaded(c: Connection, table: sa.Table, batch_id: str, rows: npt.NDArray[np.int64]) -> None:
    """SQLite: mark the leads of a batch at ``rows`` ``loaded`` in one statement (rows given as one
    JSON array; others of the batch are left as they are)."""
    quote = c.dialect.identifier_preparer
    name, status, reason = quote.format_table(table), quote.quote("status"), quote.quote("reason")
    c.exec_driver_sql(
        f"UPDATE {name} SET {status} = 'loaded', {reason} = NULL WHERE {quote.quote('batch_id')} = ? "
        f"AND {quote.quote('row')} IN (SELECT value FROM json_each(?))",
        (batch_id, orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY).decode()))


def spans_of(ids: npt.NDArray[Any]) -> list[tuple[int, int]]:
    """The distinct ``ids`` as (first, last) spans of consecutive integers."""
    ids = np.unique(ids.astype("int64"))
    if not len(ids):
        return []
    cut = np.flatnonzero(np.diff(ids) != 1)
    starts, ends = np.r_[ids[0], ids[cut + 1]], np.r_[ids[cut], ids[-1]]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _bound(column: sa.Column[Any], value: Any, dialect: sa.Dialect) -> Any:
    """``value`` as the column's type hands it to the driver (e.g. SQLite's datetime text)."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process is not None and value is not None else value
