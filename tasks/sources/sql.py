"""Databases and warehouses through SQLAlchemy: a table or a query, streamed in chunks.

Example URLs (``${NAME}`` is replaced by the environment variable, e.g. for a password)::

    sqlite:///leads.db
    postgresql+psycopg://loader:${PGPASSWORD}@db.example.com:5432/crm
    mysql+pymysql://loader:${MYSQL_PASSWORD}@db.example.com:3306/crm
    duckdb:///warehouse.duckdb
    duckdb:///:memory:      with query "select * from read_parquet('leads/*.parquet')"
    snowflake://loader:${SNOWFLAKE_PASSWORD}@myorg-account/CRM/PUBLIC?warehouse=LOAD
        (pip install 'leadflow[snowflake]', i.e. snowflake-sqlalchemy)
    bigquery://my-project/crm_dataset
        (pip install 'leadflow[bigquery]', i.e. sqlalchemy-bigquery; Google's Application Default
        Credentials, or ?credentials_path=key.json)

The database is opened read-only where the backend allows it (see ``readonly.py``).
A ``table`` is quoted by SQLAlchemy (``schema.table`` names a schema); a ``query`` binds
``params`` as ``:name`` parameters. Rows are streamed with a server-side cursor
(``stream_results``/``yield_per``) where the driver has one. With ``since`` and a watermark
column the statement is wrapped: ``SELECT * FROM (<query>) AS leadflow_source WHERE
<watermark> > :leadflow_since``, the bound value being the text ``max_watermark`` gave.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from schemas.sources import SourceSpec
from tasks.sources.errors import SourceError
from tasks.sources.frames import RawChunk
from tasks.sources.readonly import REFUSED_HINT, read_only_engine, refused

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EXTRAS = {
    "snowflake": "snowflake-sqlalchemy (pip install 'leadflow[snowflake]')",
    "bigquery": "sqlalchemy-bigquery (pip install 'leadflow[bigquery]')",
    "duckdb": "duckdb-engine",
}
_ALIAS = "leadflow_source"
_SINCE = "leadflow_since"


def _expand(location: str, source: str) -> str:
    def value(match: re.Match[str]) -> str:
        found = os.environ.get(match[1])
        if found is None:
            raise SourceError(source, f"environment variable {match[1]} is not set")
        return found

    return _ENV.sub(value, location)


def _summary(exc: BaseException, secret: str | None) -> str:
    origin = getattr(exc, "orig", None) or exc
    lines = str(origin).strip().splitlines()
    text = f"{type(origin).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text.replace(secret, "***") if secret else text


class SqlSource:
    """A table or query of one database, read in chunks."""

    def __init__(self, spec: SourceSpec, *, since: str | None) -> None:
        self.spec = spec
        self.since = since
        self.source = spec.describe()
        if spec.table is not None and spec.query is not None:
            raise SourceError(self.source, "give either table or query, not both")
        url = _expand(spec.location, self.source)
        try:
            parsed = sa.make_url(url)
        except ArgumentError:
            raise SourceError(self.source, "not a valid SQLAlchemy URL") from None
        self._secret = parsed.password if isinstance(parsed.password, str) else None
        self.engine = self._engine(parsed)

    def _engine(self, url: sa.URL) -> Engine:
        backend = url.get_backend_name()
        try:
            return read_only_engine(url)
        except FileNotFoundError:
            raise SourceError(self.source, "database file not found") from None
        except NoSuchModuleError:
            need = _EXTRAS.get(backend, f"a SQLAlchemy dialect for {backend!r}")
            raise SourceError(self.source, f"no SQLAlchemy dialect for {backend}: install {need}"
                              ) from None
        except ImportError as exc:
            raise SourceError(
                self.source, f"the database driver is not installed ({exc.name or exc})"
            ) from None
        except Exception as exc:  # a dialect that cannot start, e.g. BigQuery without credentials
            raise SourceError(self.source, f"cannot open: {_summary(exc, self._secret)}") from None

    def statement(self) -> sa.Executable:
        """The SELECT to run, with ``since`` as a bound parameter when given."""
        spec = self.spec
        if spec.table is not None:
            schema, _, name = spec.table.rpartition(".")
            base: sa.FromClause = sa.table(name, schema=schema or None)
        else:
            query = sa.text(spec.query or "").bindparams(
                *(sa.bindparam(k, v) for k, v in spec.params.items())
            )
            if self.since is None or spec.watermark_column is None:
                return query
            base = query.columns().subquery(_ALIAS)
        select: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(base)
        if self.since is not None and spec.watermark_column is not None:
            since = sa.bindparam(_SINCE, self.since, type_=sa.types.NullType())
            select = select.where(sa.column(spec.watermark_column) > since)
        return select

    def chunks(self) -> Iterator[RawChunk]:
        """Raw chunks of at most ``chunk_size`` rows, numbered in result order."""
        size = self.spec.chunk_size
        first = 1
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=size).execute(
                    self.statement()
                )
                header = list(map(str, result.keys()))
                for part in result.partitions(size):
                    frame = pd.DataFrame([tuple(r) for r in part], dtype=object)
                    frame = frame.reindex(columns=range(len(header)))
                    yield RawChunk.numbered(header, frame, first)
                    first += len(frame)
        except (DBAPIError, SQLAlchemyError) as exc:
            summary = _summary(exc, self._secret)
            hint = REFUSED_HINT if refused(summary) else ""
            raise SourceError(self.source, f"query failed: {summary}{hint}",
                              row=first if first > 1 else None) from None
        finally:
            self.engine.dispose()
