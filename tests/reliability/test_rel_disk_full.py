"""A disk that fills up under the outcomes file ends the run in one line, recorded as failed."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.cli import main

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 96 KiB file system (tmpfs), unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_run_in_one_line(tmp_path: Path, small_disk: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    from tasks.ledger import Ledger

    source = tmp_path / "leads.csv"
    source.write_text("Lead ID,First Name,Phone Number,State\n"
                      + "".join(f"L{i},Pat,4158{i:06d},CA\n" for i in range(200_000, 204_000)))
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    code = main(["run", "--source", str(source), "--provider", "engage-voice", "--campaign", "4001", "--dry-run",
                 "--ledger", ledger, "--output-dir", str(small_disk), "--no-window-gate"])
    err = capfd.readouterr().err

    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0], err
    assert "the ledger holds what was sent" in lines[0]
    [run] = Ledger(ledger).list_runs()
    assert run["status"] == "failed"
