"""Where leads come from: the source spec (a flow parameter) and its column-mapping file."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.columns import INPUT_FIELDS

Format = Literal["auto", "csv", "tsv", "excel", "parquet", "json", "jsonl"]

_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*://)(?P<user>[^:/@]*):(?P<password>[^@]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|secret|token|private_key\w*|access_key\w*|"
    r"secret_key\w*|credentials_base64|api_key)=)(?P<value>[^&;#]*)",
    re.IGNORECASE,
)
MASK = "***"
#: Rows per chunk by default. Every stage holds a few chunks at once (ruled ahead, out in requests,
#: waiting to be recorded), so this sets the run's memory: 50,000 keeps 1M leads under 1 GB of peak
#: RSS where 100,000 took 1.1-1.2 GB at the same speed (benchmarks/README.md).
CHUNK_ROWS = 50_000


def mask_url(location: str) -> str:
    """``location`` with the password of its user info and secret query values masked."""
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", location, count=1)
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", masked)


def strip_password(location: str) -> str:
    """``location`` with the password and secret query values removed (for stable keys)."""
    without = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}@", location, count=1)
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}", without)


def _check_fields(mapping: dict[str, str] | None) -> dict[str, str] | None:
    if mapping is None:
        return None
    unknown = sorted(set(mapping) - set(INPUT_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown lead field(s) {', '.join(unknown)}; known: {', '.join(INPUT_FIELDS)}"
        )
    return mapping


class MappingFile(BaseModel):
    """A YAML column-mapping file: ``lead field: source column`` lines plus two lists.

    ``extra`` (optional) lists the source columns kept as custom fields; when given, other
    unmapped columns are dropped. ``ignore`` lists source columns that are dropped and never
    auto-mapped.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, str] = Field(default_factory=dict)
    extra: list[str] | None = None
    ignore: list[str] = Field(default_factory=list)

    _check = field_validator("fields")(_check_fields)

    @classmethod
    def from_document(cls, document: object) -> MappingFile:
        """Build from a parsed YAML document: a mapping with optional ``extra``/``ignore`` lists.

        Raises:
            ValueError: the document is not a mapping of strings.
        """
        if document is None:
            return cls()
        if not isinstance(document, dict):
            raise ValueError("a mapping file must be a YAML mapping of lead field: source column")
        fields = {k: v for k, v in document.items() if k not in ("extra", "ignore")}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
            raise ValueError("mapping entries must be 'lead field: source column' strings")
        return cls(
            fields=fields,
            extra=document.get("extra"),
            ignore=document.get("ignore") or [],
        )


class SourceSpec(BaseModel):
    """Where to read leads from, and how.

    ``location`` is a file path, a ``file://``/``s3://``/``gs://`` (fsspec) URL, or with
    ``table``/``query`` a SQLAlchemy URL (``sqlite:///x.db``, ``postgresql+psycopg://u@h/db``,
    ``mysql+pymysql://u@h/db``, ``duckdb:///x.duckdb``, ``snowflake://...``, ``bigquery://...``).
    ``${NAME}`` in a SQL URL is replaced by the environment variable ``NAME`` when connecting,
    so a password need not be part of the parameter. Passwords never show in ``repr``/``str``,
    :meth:`key` or :meth:`describe`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: str = Field(min_length=1, description="file path, fsspec URL or SQLAlchemy URL")
    table: str | None = Field(None, description="table to read (SQL sources)")
    query: str | None = Field(None, description="SQL query with :name bound parameters")
    params: dict[str, Any] = Field(default_factory=dict, description="bound query parameters")
    format: Format = "auto"
    delimiter: str | None = Field(None, description="CSV delimiter; None sniffs it")
    encoding: str | None = Field(None, description="None detects UTF-8/UTF-16 BOM, else cp1252")
    sheet: str | int | None = Field(None, description="Excel sheet name or 0-based index")
    chunk_size: int = Field(CHUNK_ROWS, gt=0, description="maximum rows per chunk")
    mapping: dict[str, str] | None = Field(None, description="lead field -> source column")
    mapping_file: str | None = Field(None, description="YAML file with the same shape")
    watermark_column: str | None = Field(None, description="column for incremental reads")

    _check = field_validator("mapping")(_check_fields)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("delimiter must be a single character")
        return value

    @property
    def is_sql(self) -> bool:
        """Whether this reads a table or query from a database."""
        return self.table is not None or self.query is not None

    def key(self) -> str:
        """A stable identifier of what is read (for the ledger), with no password in it."""
        parts = [strip_password(self.location)]
        if self.table is not None:
            parts.append(f"table={self.table}")
        if self.query is not None:
            text = " ".join(self.query.split())
            blob = json.dumps([text, self.params], sort_keys=True, default=str)
            parts.append(f"query={hashlib.sha256(blob.encode()).hexdigest()[:16]}")
        if self.sheet is not None:
            parts.append(f"sheet={self.sheet}")
        return "#".join(parts)

    def describe(self) -> str:
        """A short human description for messages, password masked."""
        where = mask_url(self.location)
        if self.table is not None:
            return f"{where} table {self.table}"
        if self.query is not None:
            return f"{where} query"
        if self.sheet is not None:
            return f"{where} sheet {self.sheet!r}"
        return where

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name == "location" else value
