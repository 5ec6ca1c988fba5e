"""Do-not-call lists from files and SQL tables, as sorted unique phone keys.

Files may be national-registry downloads (10 digits a line, or ``NPA,NUMBER``), change lists
(the number first on each line), or CSVs with a header and a phone column (internal lists);
``.gz``/``.zip`` and fsspec URLs are read too. Blank and ``#`` comment lines are skipped;
lines without a usable number are counted and reported (by line number, never by value),
not fatal. A source that cannot be read at all raises :class:`DncError`.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa

from schemas.errors import ConfigurationError
from schemas.options import expand_env
from schemas.sources import mask_url
from tasks.rules.phones import parse_numbers, phone_key

log = logging.getLogger(__name__)

#: Header names taken as the phone column, in order of preference (case-insensitive).
PHONE_COLUMNS = ("phone", "phone_number", "phonenumber", "phone_e164", "e164", "number",
                 "telephone", "tel", "mobile", "cell", "msisdn", "dnc")
#: Rows fetched per round trip from SQL sources.
SQL_BATCH = 100_000
#: How many bad line numbers a report lists.
SHOWN_BAD_LINES = 5

_NAMED = re.compile(r"^(?P<name>[A-Za-z][\w .-]*)=(?P<source>.+)$")
_QUERY = re.compile(r"^\s*(select|with)\s", re.IGNORECASE)
_COMPRESSED = (".gz", ".zip", ".bz2", ".xz")

KeyArray = npt.NDArray[np.int64]


class DncError(ConfigurationError):
    """A do-not-call source that cannot be read at all; names the file or table."""


@dataclass(frozen=True)
class DncList:
    """One loaded list: its keys and what was skipped on the way."""

    name: str
    keys: KeyArray  #: sorted unique phone keys
    entries: int  #: data lines or rows read (blank and comment lines not counted)
    bad_lines: tuple[int, ...] = ()  #: line (or row) numbers without a usable number

    def report(self) -> str:
        """A one-line summary safe for logs (no phone numbers)."""
        text = f"do-not-call list {self.name!r}: {len(self.keys)} numbers from {self.entries} entries"
        if self.bad_lines:
            shown = ", ".join(map(str, self.bad_lines[:SHOWN_BAD_LINES]))
            more = ", ..." if len(self.bad_lines) > SHOWN_BAD_LINES else ""
            text += f"; {len(self.bad_lines)} skipped without a usable number (lines {shown}{more})"
        return text


def read_dnc_file(path: str | Path, *, name: str | None = None, default_region: str = "US") -> DncList:
    """Read a do-not-call file (local path or fsspec URL, optionally compressed).

    Args:
        path: The file.
        name: Name of the list (default: the file name without extensions).
        default_region: Region of numbers written without a country code.

    Returns:
        The list, with the line numbers that held no usable number.

    Raises:
        DncError: If the file cannot be read, or a CSV header has no phone column.
    """
    shown = mask_url(str(path))
    try:
        with fsspec.open(expand_env(str(path)), mode="rb", compression="infer") as handle:
            text = handle.read().decode("utf-8-sig", errors="replace")
    except (OSError, ValueError) as exc:
        raise DncError(f"cannot read do-not-call file {shown}: {exc}") from exc
    lines = pd.Series(text.splitlines(), dtype="string")
    lines.index = pd.RangeIndex(1, len(lines) + 1)
    content = lines[(lines.str.strip() != "") & ~lines.str.lstrip().str.startswith("#")]
    first = content.iloc[0] if len(content) else ""
    if re.search(r"[0-9+]", first.split(",")[0]) is None and len(content):
        values = _csv_column(text, path)
        values.index = pd.RangeIndex(int(content.index[0]) + 1, int(content.index[0]) + 1 + len(values))
    else:
        values = _line_numbers(content)
    return _to_list(name or _stem(path), values, default_region)


def load_dnc_file(path: str | Path, *, default_region: str = "US") -> KeyArray:
    """Sorted unique phone keys of a do-not-call file; skipped lines are logged as a warning.

    Args:
        path: The file (see :func:`read_dnc_file`).
        default_region: Region of numbers written without a country code.

    Returns:
        The keys, ready for :func:`tasks.rules.dnc.suppress`.
    """
    return _logged(read_dnc_file(path, default_region=default_region)).keys


def read_dnc_sql(
    url: str,
    table_or_query: str,
    *,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    default_region: str = "US",
) -> DncList:
    """Read a do-not-call list from a SQL table or query through SQLAlchemy.

    Args:
        url: SQLAlchemy database URL (its password never appears in errors).
        table_or_query: A table name (``schema.table`` allowed; quoted as an identifier, its
            phone column found by name, else the first column) or a ``SELECT``/``WITH`` query
            whose first column is the phone, with ``:name`` bound parameters.
        name: Name of the list (default: the table name, or ``"sql"``).
        params: Values for the query's bound parameters.
        default_region: Region of numbers written without a country code.

    Returns:
        The list; "lines" are 1-based result rows.

    Raises:
        DncError: If the database, table or query cannot be read.
    """
    safe_url = sa.engine.make_url(url).render_as_string(hide_password=True)
    try:
        url = expand_env(url)
    except ValueError as exc:
        raise DncError(f"cannot read do-not-call {table_or_query!r} from {safe_url}: {exc}") from None
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            statement = _statement(conn, table_or_query)
            result = conn.execution_options(stream_results=True).execute(statement, dict(params or {}))
            parts = [pd.Series([None if v is None else str(v) for (v, *_) in batch], dtype="string")
                     for batch in result.partitions(SQL_BATCH)]
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
        password = sa.engine.make_url(url).password
        if password:
            detail = detail.replace(str(password), "***")
        raise DncError(f"cannot read do-not-call {table_or_query!r} from {safe_url}: {detail}") from exc
    finally:
        engine.dispose()
    values = pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype="string")
    values.index = pd.RangeIndex(1, len(values) + 1)
    default_name = "sql" if _QUERY.match(table_or_query) else table_or_query.split(".")[-1]
    return _to_list(name or default_name, values.dropna(), default_region)


def load_dnc_sql(url: str, table_or_query: str, *, params: Mapping[str, Any] | None = None) -> KeyArray:
    """Sorted unique phone keys from a SQL table or query (see :func:`read_dnc_sql`)."""
    return _logged(read_dnc_sql(url, table_or_query, params=params)).keys


def load_dnc_lists(files: Sequence[str], sql: Sequence[str] = ()) -> dict[str, KeyArray]:
    """Load every configured do-not-call source, by list name, for :func:`tasks.rules.dnc.suppress`.

    Args:
        files: Paths or URLs, each optionally prefixed ``name=`` (``national=/dnc/201.txt``);
            sources sharing a name are merged into one list.
        sql: ``URL#table`` or ``URL#select ...`` entries, optionally prefixed ``name=``.

    Returns:
        Sorted unique keys per list name.

    Raises:
        DncError: If a source cannot be read, or an SQL entry has no ``#``.
    """
    loaded: list[DncList] = []
    for entry in files:
        name, source = _split_name(entry)
        loaded.append(_logged(read_dnc_file(source, name=name)))
    for entry in sql:
        name, source = _split_name(entry)
        url, sep, what = source.partition("#")
        if not sep or not what.strip():
            raise DncError("a do-not-call SQL source must look like 'URL#table' or 'URL#select ...'")
        loaded.append(_logged(read_dnc_sql(url, what.strip(), name=name)))
    lists: dict[str, KeyArray] = {}
    for item in loaded:
        lists[item.name] = np.union1d(lists[item.name], item.keys) if item.name in lists else item.keys
    return lists


def _line_numbers(content: pd.Series) -> pd.Series:
    """The number on each registry line: ``NPA,NUMBER`` joined, else the first field."""
    if content.empty:
        return pd.Series([], dtype="string")
    fields = content.str.split(",", n=2, expand=True)
    first = fields[0].str.strip()
    if fields.shape[1] == 1:
        return first
    second = fields[1].str.strip()
    split_form = first.str.fullmatch("[0-9]{3}").fillna(False) & second.str.fullmatch(
        "[0-9]{3}-?[0-9]{4}").fillna(False)
    return first.mask(split_form, first + second)


def _csv_column(text: str, path: str | Path) -> pd.Series:
    """The phone column of a CSV with a header."""
    frame = pd.read_csv(io.StringIO(text), dtype="string", keep_default_na=False, comment=None,
                        skip_blank_lines=True)
    by_name = {str(c).strip().lower().replace(" ", "_"): c for c in frame.columns}
    column = next((by_name[c] for c in PHONE_COLUMNS if c in by_name), None)
    if column is None:
        column = next((c for k, c in by_name.items() if "phone" in k), None)
    if column is None and len(frame.columns) == 1:
        column = frame.columns[0]
    if column is None:
        raise DncError(f"do-not-call file {path}: no phone column among {list(frame.columns)}")
    return frame[column]


def _to_list(name: str, values: pd.Series, default_region: str) -> DncList:
    """Normalize raw numbers to keys; remember where nothing usable was found."""
    parsed = parse_numbers(values, default_region=default_region, allow_fictional=True)
    usable = parsed["e164"].notna()
    keys = np.unique(phone_key(parsed.loc[usable, "e164"]).to_numpy())
    bad = tuple(int(i) for i in values.index[~usable.to_numpy()])
    return DncList(name=name, keys=keys, entries=len(values), bad_lines=bad)


def _statement(conn: sa.Connection, table_or_query: str) -> sa.Executable:
    """A text query as given, or a select of the phone column of a quoted table."""
    if _QUERY.match(table_or_query):
        return sa.text(table_or_query)
    schema, _, table = table_or_query.rpartition(".")
    names = [c["name"] for c in sa.inspect(conn).get_columns(table, schema=schema or None)]
    lowered = {str(n).lower(): n for n in names}
    column = next((lowered[c] for c in PHONE_COLUMNS if c in lowered), names[0])
    target = sa.table(sa.sql.quoted_name(table, quote=True), schema=schema or None)
    return sa.select(sa.column(sa.sql.quoted_name(column, quote=True))).select_from(target)


def _split_name(entry: str) -> tuple[str | None, str]:
    """``name=source`` into its parts; a bare source has no name."""
    match = _NAMED.match(entry)
    if match and "/" not in match["name"] and ":" not in match["name"]:
        return match["name"].strip(), match["source"].strip()
    return None, entry


def _stem(path: str | Path) -> str:
    """File name without its compression and format extensions."""
    name = Path(str(path).split("?")[0]).name
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    return Path(name).stem or name


def _logged(item: DncList) -> DncList:
    """Log the summary of a loaded list (a warning when lines were skipped)."""
    log.log(logging.WARNING if item.bad_lines else logging.INFO, "%s", item.report())
    return item
