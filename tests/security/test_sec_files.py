"""Files holding full lead data are readable by their owner only."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sechelp import write_leads

from flows.cli import main

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROWS = [["F1", "Ann", "Lee", "4158674001", "ann@example.com"], ["F2", "Bo", "Ray", "12", "bo@example.com"]]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run(tmp: Path, outcomes: str, *extra: str) -> int:
    source = write_leads(tmp / "leads.csv", ROWS)
    return main(["run", "--source", str(source), "--provider", "engage-voice", "--campaign", "4001", "--dry-run",
                 "--ledger", f"sqlite:///{tmp / 'ledger.db'}", "--output-dir", str(tmp / "out"),
                 "--report", str(tmp / "report.json"), "--outcomes", str(tmp / outcomes), *extra])


@pytest.mark.parametrize("outcomes", ["outcomes.csv", "outcomes.parquet"])
def test_outcomes_and_report_are_owner_only_even_over_open_files(outcomes: str, tmp_path: Path) -> None:
    for name in (outcomes, "report.json"):
        (tmp_path / name).write_text("old")
        os.chmod(tmp_path / name, 0o666)
    old = os.umask(0)
    try:
        assert _run(tmp_path, outcomes) == 0
    finally:
        os.umask(old)
    assert json.loads((tmp_path / "report.json").read_text())["rows_read"] == 2
    assert _mode(tmp_path / outcomes) == 0o600
    assert _mode(tmp_path / "report.json") == 0o600


def test_default_report_files_are_owner_only(tmp_path: Path) -> None:
    source = write_leads(tmp_path / "leads.csv", ROWS)
    assert main(["run", "--source", str(source), "--provider", "engage-voice", "--campaign", "4001", "--dry-run",
                 "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--output-dir", str(tmp_path / "out")]) == 0
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"report.json", "outcomes.csv"}
    assert all(_mode(p) == 0o600 for p in written), {p.name: oct(_mode(p)) for p in written}


def test_the_sqlite_ledger_is_owner_only(tmp_path: Path) -> None:
    assert _run(tmp_path, "outcomes.csv") == 0
    files = list(tmp_path.glob("ledger.db*"))
    assert tmp_path / "ledger.db" in files
    assert all(_mode(p) & 0o077 == 0 for p in files), {p.name: oct(_mode(p)) for p in files}


@pytest.mark.parametrize("flag", ["--report", "--outcomes"])
def test_a_report_or_outcomes_path_that_is_a_named_pipe_is_refused_before_the_run(
        flag: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    pipe = tmp_path / "out.fifo"
    os.mkfifo(pipe)
    source = write_leads(tmp_path / "leads.csv", ROWS)
    code = main(["run", "--source", str(source), "--provider", "engage-voice", "--campaign", "4001", "--dry-run",
                 "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--output-dir", str(tmp_path / "out"),
                 flag, str(pipe)])
    out, err = capfd.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    what = {"--report": "report", "--outcomes": "outcomes file"}[flag]
    assert f"leadflow: {what} {pipe}: not a regular file" in " ".join(err.split())
    assert not (tmp_path / "ledger.db").exists()
