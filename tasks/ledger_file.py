"""The ledger's own SQLite file: checked before it is opened (empty, damaged or locked files are refused),
and written by one thread of the process at a time."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import Engine

from schemas.errors import ConfigurationError

#: Seconds a run waits for a SQLite ledger another process holds locked (``LEADFLOW_LEDGER_WAIT_S``).
LEDGER_WAIT_S = 30.0
#: Seconds an empty ledger file may take to fill: another run may have just created it.
_NEW_FILE_S = 2.0


def _ledger_wait_s() -> float:
    raw = os.environ.get("LEADFLOW_LEDGER_WAIT_S", "")
    try:
        return max(float(raw), 0.0) if raw.strip() else LEDGER_WAIT_S
    except ValueError:
        raise ConfigurationError(f"LEADFLOW_LEDGER_WAIT_S must be a number of seconds, not {raw!r}") from None


def _stays_empty(path: Path) -> bool:
    deadline = time.monotonic() + _NEW_FILE_S
    while path.stat().st_size == 0:
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)
    return False


def check_sqlite_ledger(path: Path) -> None:
    """An existing SQLite ledger file is a sound database this run can write to.

    A 0-byte or damaged file is refused, never replaced (taken for a new ledger, every lead would
    be sent again); a file another process holds locked is waited for, up to ``LEADFLOW_LEDGER_WAIT_S``.

    Raises:
        ConfigurationError: the file is not a regular file, is empty, damaged or stays locked.
    """
    if not path.exists():
        return
    if not path.is_file():
        raise ConfigurationError(f"the ledger {path} is not a regular file")
    if _stays_empty(path):
        raise ConfigurationError(f"the ledger {path} is an empty file (0 bytes): refused, not replaced; "
                                 "restore it, or remove it to start a new ledger")
    wait = _ledger_wait_s()
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=rw", uri=True, timeout=wait)
        try:
            conn.execute("BEGIN IMMEDIATE")
            verdict = str(conn.execute("PRAGMA quick_check").fetchone()[0])
            conn.rollback()
        finally:
            conn.close()
    except sqlite3.OperationalError as ex:
        if "locked" in str(ex) or "busy" in str(ex):
            raise ConfigurationError(f"the ledger {path} is locked by another process (waited {wait:g} s; "
                                     "LEADFLOW_LEDGER_WAIT_S sets how long)") from None
        raise ConfigurationError(f"cannot open the ledger {path}: {ex}") from None
    except sqlite3.DatabaseError as ex:
        verdict = str(ex)
    if verdict != "ok":
        first = next((line for line in verdict.splitlines() if not line.startswith("***")), verdict)
        raise ConfigurationError(f"the ledger {path} is damaged ({first}): refused, not replaced; "
                                 "restore it from a backup")


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
