"""Landing watcher and database sensor: emit ``leadflow.source.landed`` when a source is ready to load."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prefect import flow, get_run_logger
from prefect.settings import PREFECT_API_URL

from schemas.options import RunOptions
from schemas.sources import SourceSpec, mask_url
from tasks.events import emit_source_landed, flush_events, format_of
from tasks.ledger import Ledger
from tasks.sources.sql import SqlSource
from tasks.writeback_file import is_write_back_file

#: State file kept in the watched folder unless another is given (hidden: never matched).
STATE_NAME = ".leadflow-watch.json"
#: Name endings of files still being written by common tools.
PARTIAL = (".tmp", ".part", ".partial", ".crdownload", ".filepart", ".swp")
#: A sensor signals the same newest row again after this long (the triggered run may have failed).
RESIGNAL_AFTER_S = 3600.0

_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")

Emit = Callable[..., object]


@dataclass
class WatchState:
    """What a watcher or sensor remembers between polls and restarts (a small JSON file)."""

    path: Path
    emitted: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> WatchState:
        """Read the state file; a missing or unreadable one starts empty."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        return cls(path, dict(data.get("emitted", {})), dict(data.get("sizes", {})), dict(data.get("signals", {})))

    def save(self) -> None:
        """Write the state atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"emitted": self.emitted, "sizes": self.sizes, "signals": self.signals},
                                  indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class Landed:
    """A file whose size has stopped changing."""

    location: str
    size: int
    format: str


def _signature(stat: os.stat_result) -> str:
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def scan_landing(directory: Path, pattern: str, stable_seconds: float, state: WatchState,
                 now: float | None = None) -> list[Landed]:
    """Files under ``directory`` matching ``pattern`` that are new and whose size is stable.

    A file is stable when it was last modified at least ``stable_seconds`` ago and its size equals
    the size seen on the previous scan (if there was one). A file already emitted is skipped until
    its size or modification time changes. ``state`` is updated; the caller saves it.
    """
    clock = time.time() if now is None else now
    found: dict[str, os.stat_result] = {}
    for path in sorted(directory.glob(pattern)):
        if path.name.startswith(".") or path.name.lower().endswith(PARTIAL) or not path.is_file():
            continue
        if is_write_back_file(path):  # outcomes a run wrote back beside its source: not a source
            continue
        found[str(path.resolve())] = path.stat()
    ready: list[Landed] = []
    for location, stat in found.items():
        if state.emitted.get(location) == _signature(stat):
            continue
        previous = state.sizes.get(location)
        state.sizes[location] = stat.st_size
        if clock - stat.st_mtime < stable_seconds or (previous is not None and previous != stat.st_size):
            continue
        ready.append(Landed(location, stat.st_size, format_of(location)))
    state.emitted = {k: v for k, v in state.emitted.items() if k in found}
    state.sizes = {k: v for k, v in state.sizes.items() if k in found}
    return ready


def watch(directory: str | Path, pattern: str = "*.csv", stable_seconds: float = 5.0, *, once: bool = False,
          state_file: str | Path | None = None, poll_seconds: float | None = None,
          emit: Emit = emit_source_landed, stop: Callable[[], bool] = lambda: False,
          flush: bool = True) -> list[Landed]:
    """Emit ``leadflow.source.landed`` for each new stable file; with ``once``, scan a single time.

    Args:
        directory: the landing folder.
        pattern: glob pattern relative to the folder (``**/*.csv`` descends).
        stable_seconds: how long a file must stay unchanged before it is announced.
        once: scan once and return (for cron and the ``watch_landing`` flow).
        state_file: where emitted files are remembered (default ``<directory>/.leadflow-watch.json``).
        poll_seconds: pause between scans (default half of ``stable_seconds``, at least 0.5 s).
        emit: the function that sends the event (``location``, ``size``, ``fmt``).
        stop: polled between scans; True ends the loop.
        flush: wait after each scan until the events reached the server (not needed in a flow run).

    Returns:
        The files announced.
    """
    root = Path(directory)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    state = WatchState.load(Path(state_file) if state_file else root / STATE_NAME)
    pause = poll_seconds if poll_seconds is not None else max(stable_seconds / 2, 0.5)
    announced: list[Landed] = []
    while True:
        fresh = scan_landing(root, pattern, stable_seconds, state)
        for item in fresh:
            emit(item.location, size=item.size, fmt=item.format)
            state.emitted[item.location] = _signature(Path(item.location).stat())
            state.sizes.pop(item.location, None)
        announced += fresh
        state.save()
        if flush and fresh:
            flush_events()
        if once or stop():
            return announced
        time.sleep(pause)


def api_configured() -> bool:
    """Whether a Prefect API URL is set, so events have somewhere to go."""
    return bool(PREFECT_API_URL.value())


def _signal_location(url: str) -> str:
    """The URL as the triggered run will get it: passwords only as ``${NAME}`` references."""
    probe = _ENV_REF.sub("***", url)
    if mask_url(probe) != probe:
        raise ValueError("the database URL holds a literal secret; write it as ${ENV_NAME} instead")
    return url


def newer_rows(source: SourceSpec, since: str | None) -> tuple[int, str | None]:
    """How many rows of ``source`` have a watermark above ``since``, and the largest watermark."""
    reader = SqlSource(source, since=since)
    statement = reader.statement()
    if not isinstance(statement, sa.Select):
        raise TypeError("a sensor watches a table, not a query")
    inner = statement.subquery("leadflow_new")
    column: sa.ColumnClause[Any] = sa.column(source.watermark_column or "")
    query = sa.select(sa.func.count(), sa.func.max(column)).select_from(inner)
    try:
        with reader.engine.connect() as conn:
            count, newest = conn.execute(query).one()
    finally:
        reader.engine.dispose()
    return int(count), None if newest is None else str(newest)


def sense_new_rows(url: str, table: str, watermark_column: str, *, campaign: str, ledger_url: str | None = None,
                   state_file: str | Path | None = None, emit: Emit = emit_source_landed,
                   resignal_after_s: float = RESIGNAL_AFTER_S, flush: bool = True) -> dict[str, Any] | None:
    """Emit ``leadflow.source.landed`` when ``table`` has rows newer than the campaign's stored watermark.

    The watermark is the one the load flow keeps in the ledger for this source and campaign. The
    same newest row is signalled once, then again only after ``resignal_after_s`` (in case the
    triggered run failed).

    Args:
        url: SQLAlchemy URL; a password must be an ``${ENV_NAME}`` reference (it travels in the event).
        table: the table to watch.
        watermark_column: the column that grows with new rows.
        campaign: the campaign whose watermark counts.
        ledger_url: the ledger (default: LEADFLOW_LEDGER_URL or the local SQLite file).
        state_file: where the last signal is remembered (default ``.leadflow/sensor-state.json``).
        emit: the function that sends the event.
        resignal_after_s: seconds before the same newest row is signalled again.
        flush: wait until the event reached the server.

    Returns:
        The payload that was emitted, or None when nothing new (or already signalled).
    """
    location = _signal_location(url)
    source = SourceSpec(location=location, table=table, watermark_column=watermark_column)
    since = Ledger(RunOptions(ledger_url=ledger_url).resolved_ledger_url()).get_watermark(source.key(), campaign)
    count, newest = newer_rows(source, since)
    if not count:
        return None
    state = WatchState.load(Path(state_file) if state_file else Path(".leadflow") / "sensor-state.json")
    key = f"{source.key()}#{campaign}"
    last = state.signals.get(key, {})
    if last.get("newest") == newest and time.time() - float(last.get("at", 0)) < resignal_after_s:
        return None
    payload = {"size": count, "fmt": "auto", "kind": "sql", "key": source.key(), "table": table,
               "watermark_column": watermark_column, "since": since, "newest": newest, "campaign": campaign}
    emit(location, **payload)
    state.signals[key] = {"newest": newest, "at": time.time(), "when": datetime.now(UTC).isoformat()}
    state.save()
    if flush:
        flush_events()
    return {"location": location, **payload}


@flow(name="watch-landing")
def watch_landing(directory: str, pattern: str = "*.csv", stable_seconds: float = 5.0,
                  state_file: str | None = None) -> list[str]:
    """One scan of a landing folder (schedule it every minute): announce new stable files.

    Args:
        directory: the landing folder, as the workers see it.
        pattern: glob pattern of the files to announce.
        stable_seconds: how long a file must stay unchanged.
        state_file: where announced files are remembered (default: in the folder).
    """
    found = watch(directory, pattern, stable_seconds, once=True, state_file=state_file, flush=False)
    get_run_logger().info("announced %d file(s) in %s", len(found), directory)
    return [item.location for item in found]


@flow(name="sense-new-rows")
def sense_new_rows_flow(url: str, table: str, watermark_column: str, campaign: str,
                        ledger_url: str | None = None, state_file: str | None = None) -> dict[str, Any] | None:
    """Announce a table's new rows (schedule it every few minutes).

    Args:
        url: SQLAlchemy URL; a password only as an ``${ENV_NAME}`` reference.
        table: the table to watch.
        watermark_column: the column that grows with new rows.
        campaign: the campaign whose stored watermark counts.
        ledger_url: the ledger (default: LEADFLOW_LEDGER_URL).
        state_file: where the last signal is remembered.
    """
    signal = sense_new_rows(url, table, watermark_column, campaign=campaign, ledger_url=ledger_url,
                            state_file=state_file, flush=False)
    get_run_logger().info("%s", f"{signal['size']} new row(s) in {table}" if signal else f"nothing new in {table}")
    return signal
