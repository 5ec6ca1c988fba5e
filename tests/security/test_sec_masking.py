"""Phone numbers and e-mail addresses never reach logs, artifacts or events unmasked."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sechelp import ENGAGE_API_TOKEN, leaks, prefect_records, run_cli, simulator, write_leads

from simulators.common import Fault

pytestmark = pytest.mark.usefixtures("prefect_harness")

PHONES = [f"41586720{i:02d}" for i in range(8)]
NAMES = ("ada", "alan", "grace", "edsger", "barbara", "donald", "kate", "joan")
EMAILS = [f"person.{name}@example.com" for name in NAMES]
ROWS = [[f"M{i}", "Pat", "Doe", f"({p[:3]}) {p[3:6]}-{p[6:]}", e]
        for i, (p, e) in enumerate(zip(PHONES, EMAILS, strict=True))]
ROWS += [
    ["M8", "Short", "Number", "415-867-20", "short.number@example.com"],
    ["M9", "Bad", "Mail", "+1 212 867 2099", "bad mail@example"],
    ["M10", "Dup", "Phone", PHONES[0], "dup.phone@example.com"],
]


def _needles() -> list[str]:
    phones = [*PHONES, *(f"+1{p}" for p in PHONES), *(row[3] for row in ROWS), "41586720", "2128672099"]
    emails = [*EMAILS, "short.number@example.com", "bad mail@example", "dup.phone@example.com"]
    return [*phones, *emails]


def test_phones_and_emails_are_masked_in_logs_artifacts_and_events(
        tmp_path: Path, clean_provider_env: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", ENGAGE_API_TOKEN)
    caplog.set_level(logging.DEBUG)
    source = write_leads(tmp_path / "leads.csv", ROWS)
    with simulator("engage-voice") as (url, app):
        app.sim.faults.set([Fault(partial=0.5), Fault(status=400, times=20)], r"/leadLoader/direct$")
        code = run_cli(tmp_path, "engage-voice", source, url, "--max-attempts", "2")
    out, err = capfd.readouterr()
    assert code == 0, err[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    outcomes = {k: v for k, v in report["outcomes"].items() if v}
    assert {"invalid", "duplicate", "rejected", "loaded"} <= set(outcomes), outcomes
    records = prefect_records(report["run_id"])
    samples = json.loads(records["artifacts"])
    shown = [json.dumps(a["data"]) for a in samples if "rejected" in json.dumps(a["data"])]
    assert shown, "no sample artifact of refused leads"
    assert any("*" in text for text in shown), shown
    texts = {"stdout": out, "stderr": err, "log records": "\n".join(r.getMessage() for r in caplog.records),
             **records}
    assert not leaks(texts, _needles())
    outcome_file = (tmp_path / "outcomes.csv").read_text()
    assert "+14158672001" in outcome_file


def test_external_ids_that_are_emails_or_phones_are_masked_in_artifacts(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    rows = [["ann.lee@example.com", "Ann", "Lee", "12", "ann.lee@example.com"],
            ["4158672099", "Bo", "Ray", "34", "bo@example.com"]]
    source = write_leads(tmp_path / "leads.csv", rows)
    code = run_cli(tmp_path, "engage-voice", source, "http://127.0.0.1:9", "--dry-run")
    capfd.readouterr()
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcomes"]["invalid"] == 2
    artifacts = prefect_records(report["run_id"])["artifacts"]
    assert not leaks({"artifacts": artifacts}, ["ann.lee@example.com", "4158672099"])
