"""Checks made before a run sends anything: where it will write, and the ledger file it will use.

Each failed check is one :class:`ConfigurationError` line (the command line exits 2), raised
before the first provider call, so nothing is sent by a run that could not record it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from schemas.options import RunOptions
from tasks.providers.errors import ConfigurationError

#: Seconds a run waits for a SQLite ledger another process holds locked (``LEADFLOW_LEDGER_WAIT_S``).
LEDGER_WAIT_S = 30.0
#: Seconds an empty ledger file may take to fill: another run may have just created it.
_NEW_FILE_S = 2.0


def _writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` if missing and prove a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except FileExistsError:
        raise ConfigurationError(f"{what} {folder}: a file is in the way of the folder") from None
    except OSError as ex:
        raise ConfigurationError(f"{what} {folder}: cannot write there ({ex.strerror or type(ex).__name__})") from None


def check_output_folder(folder: str | Path, what: str = "output dir") -> None:
    """``folder`` is (or can be made) a folder this process can write in."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise ConfigurationError(f"{what} {path}: not a folder")
    _writable_folder(path, what)


def check_output_file(file: str | Path, what: str) -> None:
    """``file`` is not a folder, and its folder can be written in (the file itself is not created)."""
    path = Path(file)
    if path.is_dir():
        raise ConfigurationError(f"{what} {path}: a folder, not a file")
    if path.exists() and not path.is_file():
        raise ConfigurationError(f"{what} {path}: not a regular file")
    _writable_folder(path.parent, what)
    if path.exists():
        try:
            with path.open("ab"):
                pass
        except OSError as ex:
            raise ConfigurationError(f"{what} {path}: cannot write it ({ex.strerror or type(ex).__name__})") from None


def check_run_outputs(opts: RunOptions) -> None:
    """The output folder, the report and the outcomes file of a run can all be written."""
    check_output_folder(opts.output_dir)
    if opts.report_path:
        check_output_file(opts.report_path, "report")
    if opts.outcomes_path:
        check_output_file(opts.outcomes_path, "outcomes file")


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
