"""A refused credential ends the run in one line that names the provider and what to check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sechelp import MODES, Mode, leaks, run_cli, simulator, write_leads

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

WRONG = "wrong-key-7d1e0c"


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_a_refused_credential_names_the_provider_and_the_variables(
        mode: Mode, tmp_path: Path, clean_provider_env: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    from tasks.ledger import Ledger

    for name in mode.env:
        clean_provider_env.setenv(name, WRONG if "ACCOUNT" not in name else mode.env[name])
    source = write_leads(tmp_path / "leads.csv", [["A1", "Ada", "Lee", "(415) 867-2001", "ada@example.com"]])
    with simulator(mode.provider) as (url, _app):
        code = run_cli(tmp_path, mode.provider, source, url)
    out, err = capfd.readouterr()

    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"leadflow: {mode.provider}")
    for name in mode.env:
        assert name in lines[0]
    assert "Traceback" not in err and not leaks({"stderr": err, "stdout": out}, [WRONG])
    report = json.loads((tmp_path / "report.json").read_text())
    assert Ledger(f"sqlite:///{tmp_path / 'ledger.db'}").list_runs(run_id=report["run_id"])[0]["status"] == "failed"
