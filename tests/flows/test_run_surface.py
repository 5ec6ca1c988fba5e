"""What a run shows on the Prefect server and in the terminal: its name, tags, summary, artifacts,
failure notifications, and the ``leadflow report`` and ``hold`` commands."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.cli import main
from flows.load_leads import load_leads, summary_line
from schemas.options import LoadOptions, RuleOptions, RunOptions
from schemas.sources import SourceSpec
from tasks.report import RunReport, markdown_summary, md_escape, sample_rows

pytestmark = pytest.mark.usefixtures("prefect_harness")

LEADS = "Lead ID,First Name,Phone Number,State\nL1,Ada,(415) 867-5309,CA\n00Q5e000001abcD,Bo,12345,TX\n" \
        "4158672099,Cy,34,NY\n"


def dry_options(tmp_path: Path) -> RunOptions:
    return RunOptions(rules=RuleOptions(window_gate=False), load=LoadOptions(dry_run=True),
                      ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}", output_dir=str(tmp_path / "out"))


@pytest.fixture
def leads(tmp_path: Path) -> SourceSpec:
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    return SourceSpec(location=str(path))


def test_a_run_is_named_and_tagged_by_provider_and_campaign_and_logs_one_summary(
        tmp_path: Path, leads: SourceSpec, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="prefect.flow_runs")
    result = load_leads(source=leads, provider="nlpearl", campaign="Pearl 7", options=dry_options(tmp_path))

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(result["run_id"])
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
    assert re.fullmatch(r"nlpearl-pearl-7-\d{4}-\d\d-\d\dT\d\d:\d\dZ", run.name), run.name
    assert {"nlpearl", "campaign-pearl-7"} <= set(run.tags)
    summaries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("nlpearl campaign Pearl 7:")]
    assert summaries == [summary_line(result)]
    assert f"outcomes {result['outcomes_file']}" in summaries[0]

    summary = next(a for a in artifacts if a.type == "markdown")
    assert Path(result["report_file"]).resolve().as_uri() in str(summary.data)
    samples = next(a for a in artifacts if a.key and a.key.endswith("-samples"))
    shown = json.dumps(samples.data)
    assert "00Q5e000001abcD" in shown  # a CRM id stays readable
    assert "4158672099" not in shown  # an id that is a phone number does not


def test_markdown_artifacts_show_reasons_and_names_as_written() -> None:
    assert md_escape("***-***-**09") == r"\*\*\*\-\*\*\*\-\*\*09"
    report = RunReport(run_id="r1", provider="engage-voice", campaign="4_0*1", account=None,
                       source="/data/[leads]_v2.csv", dry_run=False, started_at=pd.Timestamp.now(tz="UTC"))
    report.report_file, report.outcomes_file = "/tmp/r1/report.json", "/tmp/r1/outcomes.csv"
    text = markdown_summary(report)
    assert r"campaign **4\_0\*1**" in text
    assert r"\[leads\]\_v2.csv" in text
    assert "(file:///tmp/r1/outcomes.csv)" in text
    rows = pd.DataFrame({"row": [1, 2], "external_id": ["ada@example.com", "CRM_1"], "phone": ["+14158675309", ""],
                         "outcome": ["rejected", "invalid"], "reason": ["phone ***-***-**09 refused", "x"]})
    shown = sample_rows(rows, ("rejected", "invalid"))
    assert list(shown["external_id"]) == [r"a\*\*\*@example.com", r"CRM\_1"]
    assert shown["reason"].iloc[0] == r"phone \*\*\*\-\*\*\*\-\*\*09 refused"
    assert "4158675309" not in shown.to_json()


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_a_failed_run_is_told_through_the_configured_notification_block(
        tmp_path: Path, webhook: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    CustomWebhookNotificationBlock(name="leadflow", url=webhook,
                                   json_data={"subject": "{{subject}}", "body": "{{body}}"}).save(
        "leadflow-ops", overwrite=True)
    monkeypatch.setenv("LEADFLOW_NOTIFY_BLOCK", "custom-webhook/leadflow-ops")
    with pytest.raises(Exception, match=r"."):
        load_leads(source=SourceSpec(location=str(tmp_path / "missing.csv")), provider="engage-voice",
                   campaign="4001", options=dry_options(tmp_path))

    [sent] = _Hook.received
    assert sent["subject"].startswith("leadflow: engage-voice campaign 4001 run engage-voice-4001-")
    assert "missing.csv" in sent["body"]


def test_no_notification_without_a_configured_block(tmp_path: Path, webhook: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADFLOW_NOTIFY_BLOCK", raising=False)
    with pytest.raises(Exception, match=r"."):
        load_leads(source=SourceSpec(location=str(tmp_path / "missing.csv")), provider="engage-voice",
                   campaign="4001", options=dry_options(tmp_path))
    assert _Hook.received == []


def test_report_reads_at_80_columns_and_names_an_unknown_run(
        tmp_path: Path, leads: SourceSpec, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from flows import commands

    result = load_leads(source=leads, provider="engage-voice", campaign="4001", options=dry_options(tmp_path))
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setattr(commands.console, "_width", 80)
    capsys.readouterr()

    assert main(["report", "--ledger", ledger]) == 0
    out = capsys.readouterr().out
    assert result["run_id"][:8] in out
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "invalid" in out

    assert main(["report", "nosuchrun", "--ledger", ledger]) == 1
    assert "no run nosuchrun in the ledger" in capsys.readouterr().err

    (tmp_path / "empty.db").write_bytes(b"")
    assert main(["report", "--ledger", f"sqlite:///{tmp_path / 'empty.db'}"]) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("leadflow: ") and "Traceback" not in refused and len(refused.splitlines()) == 1


def test_hold_commands_put_list_and_lift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert main(["hold", "list", "--ledger", ledger]) == 0
    assert "no campaign is on hold" in capsys.readouterr().out
    assert main(["hold", "put", "--provider", "voiso", "--campaign", "9", "--reason", "bad list",
                 "--ledger", ledger]) == 0
    assert main(["hold", "list", "--ledger", ledger]) == 0
    listed = capsys.readouterr().out
    assert "voiso campaign 9 is on hold" in listed and "bad list" in listed
    assert main(["hold", "lift", "--ledger", ledger]) == 2
    assert main(["hold", "lift", "--provider", "voiso", "--campaign", "9", "--ledger", ledger]) == 0
    assert main(["hold", "lift", "--provider", "voiso", "--campaign", "9", "--ledger", ledger]) == 1


def test_the_cli_offers_only_known_providers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--source", "x.csv", "--provider", "engage", "--campaign", "1"])
    assert exit_.value.code == 2
    assert "invalid choice: 'engage'" in capsys.readouterr().err


def test_load_progress_moves_batch_by_batch(tmp_path: Path, clean_provider_env: pytest.MonkeyPatch) -> None:
    from simulators.engage_voice import create_app
    from simulators.server import serve
    from tasks import progress

    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    path = tmp_path / "many.csv"
    path.write_text("Lead ID,Phone Number\n" + "".join(f"L{i},415867{i:04d}\n" for i in range(2000, 2012)))
    seen: list[tuple[str, int, int]] = []
    progress.listen(lambda stage, done, total: seen.append((stage, done, total)))
    try:
        with serve(create_app()) as sim:
            opts = RunOptions(rules=RuleOptions(window_gate=False),
                              load=LoadOptions(base_url=sim.url, batch_size=2, backoff_s=0.01),
                              ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}", output_dir=str(tmp_path / "out"))
            result = load_leads(source=SourceSpec(location=str(path)), provider="engage-voice", campaign="4001",
                                options=opts)
    finally:
        progress._LISTENERS.clear()
    loads = [done for stage, done, total in seen if stage == "load" and total == 12]
    assert result["outcomes"]["loaded"] == 12
    assert loads == sorted(loads) and loads[-1] == 12
    assert len(set(loads)) >= 6, loads  # one step per 2-lead batch, not one per 100,000-row chunk


@pytest.mark.parametrize("name", ["outcomes.csv", "outcomes.parquet"])
def test_artifact_examples_are_the_first_sampled_rows_of_the_whole_run(tmp_path: Path, name: str) -> None:
    """Examples come from every chunk written (not a re-read of the file's first rows), at most 25."""
    from tasks.outcomes_file import OUTCOME_COLUMNS, SAMPLES, OutcomeWriter

    def chunk(first: int, outcome: str) -> pd.DataFrame:
        rows = pd.DataFrame({c: pd.Series([None] * 20, dtype="string") for c in OUTCOME_COLUMNS})
        rows["row"] = range(first, first + 20)
        rows["outcome"] = outcome
        return rows

    writer = OutcomeWriter(str(tmp_path / name))
    writer.write(chunk(1, "loaded"))
    writer.write(chunk(21, "invalid"))
    writer.write(chunk(41, "failed"))
    writer.close()
    assert writer.samples["row"].tolist() == list(range(21, 21 + SAMPLES))
    assert writer.rows == 60
