"""`leadflow sync-dispositions` end to end over loopback, the mapping file, and Voiso's refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from disphelp import PEARL, Sims, outcomes_by_id, set_dispositions, write_leads

from flows.cli import main
from schemas.dispositions import merged, read_mapping_file
from schemas.errors import ConfigurationError
from tasks.ledger import Ledger
from tasks.ledger_feedback import Feedback

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _run(tmp_path: Path, sims: Sims, ledger: str, provider: str, campaign: str, base: str, *extra: str) -> int:
    return main(["run", "--source", str(tmp_path / "leads.csv"), "--provider", provider, "--campaign", campaign,
                 "--base-url", base, "--ledger", ledger, "--output-dir", str(tmp_path / "out"), "--no-window-gate",
                 *extra])


@pytest.mark.slow
def test_cli_sync_then_run_suppresses(tmp_path: Path, sims: Sims, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    write_leads(tmp_path / "leads.csv")
    assert _run(tmp_path, sims, ledger, "nlpearl", PEARL, sims.nlpearl) == 0
    set_dispositions(sims.nlpearl, {"L5": {"status": 30}, "L6": {"status": 130}})
    capsys.readouterr()

    code = main(["sync-dispositions", "--provider", "nlpearl", "--campaign", PEARL, "--days", "1",
                 "--base-url", sims.nlpearl, "--ledger-url", ledger])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "found 12, not found 0, without an external id 0; 1 newly on the internal do-not-call list" in out
    assert "WrongCountryCode" in out and "Complete" in out
    assert _run(tmp_path, sims, ledger, "engage-voice", "4001", sims.engage) == 0
    report = sorted((tmp_path / "out").glob("*/outcomes.csv"), key=lambda p: p.stat().st_mtime)[-1]
    got = outcomes_by_id({"outcomes_file": str(report)})
    assert got["L5"][0] == "suppressed" and "nlpearl/" in got["L5"][1] and "WrongCountryCode" in got["L5"][1]
    assert got["L6"][0] == "duplicate" and got["L6"][1].startswith("reached by nlpearl/")


def test_voiso_says_it_cannot_sync(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync-dispositions", "--provider", "voiso", "--campaign", "3"]) == 2
    err = capsys.readouterr().err
    assert "voiso documents no way to read what its dialer did with a lead" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_mapping_file_is_refused_naming_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text("engage-voice:\n  state:\n    DO-NOT-CALL: forget\n")
    assert main(["sync-dispositions", "--provider", "engage-voice", "--campaign", "4001", "--mapping", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err.replace("\n", "") and "state.DO-NOT-CALL" in err


@pytest.mark.parametrize(("name", "text"), [
    ("m.yaml", "engage-voice:\n  state: {COMPLETE: none}\n  disposition: {ANSWERING MACHINE: reached}\n"),
    ("m.json", '{"engage-voice": {"state": {"COMPLETE": "none"}, "disposition": {"ANSWERING MACHINE": "reached"}}}'),
    ("m.toml", '[engage-voice.state]\nCOMPLETE = "none"\n'
               '[engage-voice.disposition]\n"ANSWERING MACHINE" = "reached"\n'),
])
def test_mapping_file_overrides_single_values(tmp_path: Path, name: str, text: str) -> None:
    from tasks.providers.engage_voice import EngageVoice

    (tmp_path / name).write_text(text)
    mapping = merged(EngageVoice.disposition_map, read_mapping_file(str(tmp_path / name), "engage-voice"))
    assert mapping.state["COMPLETE"] == "none" and mapping.state["DO-NOT-CALL"] == "dnc"
    assert mapping.disposition["ANSWERING MACHINE"] == "reached" and mapping.disposition["ANSWER"] == "reached"
    assert read_mapping_file(str(tmp_path / name), "nlpearl") is None


def test_unreadable_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read it"):
        read_mapping_file(str(tmp_path / "missing.yaml"), "nlpearl")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigurationError, match="expected provider names at the top"):
        read_mapping_file(str(tmp_path / "list.yaml"), "nlpearl")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ConfigurationError, match="not valid json"):
        read_mapping_file(str(tmp_path / "bad.json"), "nlpearl")
    (tmp_path / "extra.yaml").write_text("nlpearl:\n  states: {Success: reached}\n")
    with pytest.raises(ConfigurationError, match="states: Extra inputs are not permitted"):
        read_mapping_file(str(tmp_path / "extra.yaml"), "nlpearl")


@pytest.mark.slow
def test_sync_with_mapping_file_records_the_overridden_actions(tmp_path: Path, sims: Sims) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    write_leads(tmp_path / "leads.csv")
    assert _run(tmp_path, sims, ledger, "engage-voice", "4001", sims.engage) == 0
    set_dispositions(sims.engage, {"L1": {"leadState": "COMPLETE", "lastPassDisposition": "SALE"},
                                   "L2": {"leadState": "ACTIVE", "lastPassDisposition": "ANSWERING MACHINE"}})
    mapping = tmp_path / "map.yaml"
    mapping.write_text("engage-voice:\n  state: {COMPLETE: none}\n  disposition: {ANSWERING MACHINE: reached}\n")
    assert main(["sync-dispositions", "--provider", "engage-voice", "--campaign", "4001", "--mapping", str(mapping),
                 "--base-url", sims.engage, "--ledger", ledger]) == 0
    kept = Feedback(Ledger(ledger)).campaign_dispositions("engage-voice", "4001").set_index("external_id")
    assert kept.loc["L1", "action"] == "none" and kept.loc["L2", "action"] == "reached"
    assert (kept["action"] == "none").sum() == 11
