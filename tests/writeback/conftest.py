"""Write-back targets on every backend: a fresh database or table of each, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MARIA_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/test"
BACKENDS = ["sqlite", "postgresql", "mariadb", "duckdb"]


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of ``kind`` (a file, or a new database on the machine's server); its URL."""
    name = f"lf_wb_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    if kind == "duckdb":
        import duckdb

        duckdb.connect(str(tmp_path / "crm.duckdb")).close()
        yield f"duckdb:///{tmp_path / 'crm.duckdb'}"
        return
    if kind == "postgresql":
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        create, drop = f'create database "{name}"', f'drop database if exists "{name}" with (force)'
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    else:
        admin = sa.create_engine(MARIA_ADMIN, isolation_level="AUTOCOMMIT")
        create, drop = f"create database `{name}`", f"drop database if exists `{name}`"
        url = f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    with admin.connect() as c:
        c.execute(sa.text(create))
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(sa.text(drop))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


class StatementCount:
    """Statements sent through SQLAlchemy engines, every engine of the process or those on one database."""

    def __init__(self) -> None:
        self.count = 0
        self.database: str | None = None

    def __call__(self, conn: sa.Connection, *_: object) -> None:
        if self.database is None or conn.engine.url.database == self.database:
            self.count += 1


@pytest.fixture
def statements() -> Iterator[StatementCount]:
    """Counts the statements engines send while the test runs (set ``database`` to count one database's)."""
    counter = StatementCount()
    sa.event.listen(sa.Engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", counter)
