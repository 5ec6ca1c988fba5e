"""Opening a database source read-only, so that no query (``drop table ...``) can change it.

SQLite files open with ``mode=ro``, ``PRAGMA query_only`` and an authorizer that allows reading
only (no ``ATTACH``, no ``VACUUM INTO``); a SQLite file that does not exist is an error instead
of a new empty database. DuckDB files open with ``read_only``. PostgreSQL runs the read in a
read-only transaction. Other databases (MySQL/MariaDB, warehouses) rely on the account: give
leadflow a user that may only ``SELECT``.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

#: What a read may do in SQLite: read tables, run functions, select, recurse (CTEs).
_SQLITE_READS = frozenset({sqlite3.SQLITE_READ, sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION,
                           getattr(sqlite3, "SQLITE_RECURSIVE", 33)})
_IN_MEMORY = ("", ":memory:")


def _reads_only(action: int, *_: object) -> int:
    return sqlite3.SQLITE_OK if action in _SQLITE_READS else sqlite3.SQLITE_DENY


def _sqlite_read_only(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA query_only = ON")
    dbapi_conn.set_authorizer(_reads_only)


#: Added to the error of a statement the read-only connection refused.
REFUSED_HINT = " (the source is opened read-only: only reads run)"
_REFUSALS = ("not authorized", "authorization denied", "read-only", "readonly", "read only")


def refused(message: str) -> bool:
    """Whether a database error says a read-only connection refused the statement."""
    return any(word in message.lower() for word in _REFUSALS)


def read_only_engine(url: sa.URL) -> sa.Engine:
    """An engine on ``url`` that cannot change the database, where the backend allows it.

    Raises:
        FileNotFoundError: a SQLite or DuckDB file that does not exist (it would be created).
    """
    backend, database = url.get_backend_name(), url.database or ""
    local = database not in _IN_MEMORY and not database.startswith(("file:", "md:"))
    if backend in ("sqlite", "duckdb") and local and not os.path.isfile(database):
        raise FileNotFoundError(database)
    if backend == "sqlite":
        if local:
            url = url.set(database=f"file:{quote(os.path.abspath(database))}",
                          query={**url.query, "mode": "ro", "uri": "true"})
        elif database.startswith("file:"):
            url = url.update_query_dict({"mode": "ro", "uri": "true"})
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _sqlite_read_only)
        return engine
    if backend == "duckdb" and local:
        return sa.create_engine(url, connect_args={"read_only": True})
    if backend == "postgresql":
        return sa.create_engine(url, execution_options={"postgresql_readonly": True})
    return sa.create_engine(url)
