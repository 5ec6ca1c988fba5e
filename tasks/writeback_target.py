"""Where a run's outcomes are written back: a table in the source's database, or a file beside a file source.

The write-back table holds one row per source row and (provider, campaign): its key
``(source_key, provider, campaign)``, what the run made of the lead (``outcome``, ``reason``,
``run_id``, ``time_zone``, ``loaded_at``), ``updated_at``, and what the dialer said later
(``disposition``, ``disposition_at``, ``disposition_action``; filled by the disposition sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from schemas.errors import ConfigurationError
from schemas.options import expand_env
from schemas.sources import SourceSpec, mask_url, strip_password

#: The key of the table: one row per source row per provider campaign.
KEY = ("source_key", "provider", "campaign")
#: Every column, in table order, with its kind ("key", "text", "time").
COLUMNS: dict[str, str] = {
    "source_key": "key", "provider": "key", "campaign": "key",
    "outcome": "text", "reason": "text", "run_id": "text", "time_zone": "text",
    "loaded_at": "time", "updated_at": "time",
    "disposition": "text", "disposition_at": "time", "disposition_action": "text",
}
#: Columns a NULL never overwrites (a lead loaded once keeps when, until it is loaded again).
KEEP_WHEN_NULL = frozenset({"loaded_at", "disposition", "disposition_at", "disposition_action"})
#: Databases written back to (by the URL's scheme).
SQL_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb", "duckdb")
#: File formats of a write-back beside a file source, by suffix.
FILE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class WriteBackTarget:
    """A write-back table: ``kind`` ``sql`` (``location`` a SQLAlchemy URL, ``${NAME}`` allowed; ``table``
    optionally ``schema.table``) or ``file`` (``location`` the file's path, ``table`` its name)."""

    kind: Literal["sql", "file"]
    location: str
    table: str

    def key(self) -> str:
        """A stable name of the target with no password in it (stored in the ledger)."""
        return f"{strip_password(self.location)}#table={self.table}" if self.kind == "sql" else self.location

    def describe(self) -> str:
        """The target for messages, password masked."""
        return f"{mask_url(self.location)} table {self.table}" if self.kind == "sql" else self.location

    def __repr__(self) -> str:
        return f"WriteBackTarget({self.kind}, {self.describe()!r})"


def target_for(source: SourceSpec, table: str) -> WriteBackTarget:
    """The write-back target of a run reading ``source``: ``table`` in the same database, or for a file
    source the file ``table`` beside it (``.csv``/``.parquet`` by its suffix; without one, CSV beside a
    CSV source and Parquet otherwise).

    Raises:
        ConfigurationError: an empty or path-like name, or a source nothing can be written beside
            (a remote file, an in-memory database).
    """
    name = table.strip()
    if not name or any(ch in name for ch in "/\\\x00") or name.startswith("."):
        raise ConfigurationError(f"write-back: {table!r} is not a table name (no folders, not empty)")
    if source.is_sql:
        try:  # ${NAME} references are checked as they will be connected to, and kept unexpanded in the target
            resolved = expand_env(source.location)
        except ValueError as ex:
            raise ConfigurationError(f"write-back: {ex}") from None
        database = resolved.split("?")[0].rstrip("/")
        if database.endswith((":memory:", "://")) or database.startswith(("duckdb:///:", "sqlite://:")):
            raise ConfigurationError(f"write-back: {source.describe()} is an in-memory database; "
                                     "nothing written there would outlast the run")
        backend = resolved.split("://", 1)[0].split("+", 1)[0].lower()
        if backend not in SQL_BACKENDS:
            raise ConfigurationError(f"write-back into {backend} is not supported (only {', '.join(SQL_BACKENDS)})")
        return WriteBackTarget("sql", source.location, name)
    location = source.location.removeprefix("file://")
    if "://" in location:
        raise ConfigurationError(f"write-back beside a remote file ({mask_url(source.location)}) is not supported;"
                                 " copy the file locally or load from a database")
    suffix = Path(name).suffix.lower()
    if suffix not in FILE_FORMATS:
        own = Path(location).name.lower()
        csv_like = source.format in ("csv", "tsv") or (source.format == "auto" and ".csv" in own)
        name += ".csv" if csv_like else ".parquet"
    return WriteBackTarget("file", str(Path(location).resolve().parent / name), name)
