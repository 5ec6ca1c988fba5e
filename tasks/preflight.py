"""Checks made before a run sends anything: where it will write, and the ledger file it will use.

Each failed check is one :class:`ConfigurationError` line (the command line exits 2), raised
before the first provider call, so nothing is sent by a run that could not record it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from schemas.errors import ConfigurationError
from schemas.options import RunOptions


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
