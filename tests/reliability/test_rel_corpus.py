"""Bad inputs through ``leadflow run --dry-run``: a clear error (exit 2, no traceback) or one outcome per row."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from relcorpus import CASES, Case, Fails, Rows
from relhelp import assert_balanced

from flows import commands
from flows.cli import main
from schemas.sources import SourceSpec
from tasks.sources import SourceError, open_source

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _squash(text: str) -> str:
    """Text without whitespace (the console wraps long lines anywhere)."""
    return re.sub(r"\s+", "", text)


#: Open bugs (see the report) by the ``bug`` key of a case.
BUGS: dict[str, str] = {}


def _cases() -> list[object]:
    marks = {k: pytest.mark.xfail(strict=True, reason=v) for k, v in BUGS.items()}
    return [pytest.param(c, id=c.name, marks=[marks[c.bug]] if c.bug else []) for c in CASES]


_SPEC_FLAGS = {"--source": "location", "--table": "table", "--query": "query", "--delimiter": "delimiter",
               "--encoding": "encoding", "--sheet": "sheet", "--chunk-size": "chunk_size", "--mapping": "mapping_file"}


def read_source(case: Case, args: list[str], data: Path) -> None:
    """Read the case's source with ``open_source``: its rows, or a SourceError naming the file."""
    fields: dict[str, object] = {"params": {}}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag == "--param":
            key, _, val = value.partition("=")
            fields["params"] = {**fields["params"], key: val}  # type: ignore[dict-item]
        else:
            fields[_SPEC_FLAGS[flag]] = int(value) if value.isdigit() else value
    spec = SourceSpec.model_validate(fields)
    if isinstance(case.expect, Rows):
        assert sum(len(chunk) for chunk in open_source(spec)) == case.expect.rows
        return
    with pytest.raises(SourceError) as info:
        list(open_source(spec))
    message = str(info.value)
    assert (case.expect.names or args[1].split("/")[-1]) in message
    for word in case.expect.mentions:
        assert word in message, (word, message)
    if case.expect.text is not None:
        assert message == case.expect.text.format(dir=data), message


def _runs(ledger: Path) -> list[str]:
    """The status of every run the ledger recorded."""
    if not ledger.is_file() or not ledger.stat().st_size:
        return []
    with sqlite3.connect(ledger) as conn:
        if not conn.execute("select 1 from sqlite_master where name = 'lf_runs'").fetchone():
            return []
        return [row[0] for row in conn.execute("select status from lf_runs")]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)
    server_worded = {"PostgreSQL missing table", "MariaDB failing query"}
    assert all(c.expect.text for c in CASES if isinstance(c.expect, Fails) and c.name not in server_worded)


@pytest.mark.parametrize("case", _cases())
def test_bad_input(case: Case, tmp_path: Path, capfd: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "in"
    data.mkdir()
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    args = case.build(data)
    if case.via_source:
        read_source(case, args, data)
        return
    report = tmp_path / "report.json"
    monkeypatch.setattr(commands.err, "width", 100_000)  # the message on one line, as a wide terminal shows it
    code = main(["run", "--provider", "engage-voice", "--campaign", "4001", "--dry-run",
                 "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--output-dir", str(tmp_path / "out"),
                 "--report", str(report), "--outcomes", str(tmp_path / "outcomes.csv"), *args])
    out, err = capfd.readouterr()

    expect = case.expect
    if isinstance(expect, Fails):
        assert code == expect.exit_code, out + err[-3000:]
        lines = [line for line in err.splitlines() if line.startswith("leadflow:")]
        assert len(lines) == 1, err[-3000:]
        message = lines[0]
        if expect.text is not None:
            assert message == "leadflow: " + expect.text.format(dir=data, tmp=tmp_path), message
        if expect.run is None:
            assert _runs(tmp_path / "ledger.db") == []
        else:
            assert _runs(tmp_path / "ledger.db") == [expect.run]
        tail = _squash(err[err.index(message):]) if message else ""
        if expect.names_source:
            source = expect.names or args[1].split("/")[-1]
            assert _squash(source) in tail, err[-2000:]
        for word in expect.mentions:
            assert _squash(word) in tail, (word, err[-2000:])
        if report.exists():
            written = json.loads(report.read_text())
            assert sum(written["outcomes"].values()) == written["rows_read"], written
        assert "Traceback" not in out + err, err[-3000:]
        return
    assert "Traceback" not in out + err, err[-3000:]
    assert code == 0, err[-3000:]
    result = json.loads(report.read_text())
    table = assert_balanced(result, expect.rows)
    if expect.outcomes is not None:
        assert {k: v for k, v in result["outcomes"].items() if v} == expect.outcomes, table.head(20)
    if expect.check is not None:
        expect.check(table, data)
    if expect.reasons is not None:
        invalid = table[table["outcome"] == "invalid"]
        got = dict(zip(invalid["row"].astype(int), invalid["reason"], strict=True))
        assert {row: got.get(row) for row in expect.reasons} == expect.reasons, got


def test_sql_injection_in_table_name_is_not_executed(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute('create table leads ("Lead ID" text, "Phone" text)')
        conn.execute("insert into leads values ('L1', '4158670001')")
    code = main(["run", "--source", f"sqlite:///{db}", "--table", "leads; drop table leads", "--provider",
                 "engage-voice", "--campaign", "4001", "--dry-run", "--ledger", f"sqlite:///{tmp_path / 'l.db'}",
                 "--output-dir", str(tmp_path / "out")])
    capfd.readouterr()
    assert code == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from leads").fetchone() == (1,)


def test_a_ledger_in_a_missing_folder_is_created(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "leads.csv"
    source.write_text("Lead ID,Phone\nL1,4158670001\n")
    ledger = tmp_path / "missing" / "folder" / "ledger.db"
    code = main(["run", "--source", str(source), "--provider", "engage-voice", "--campaign", "4001", "--dry-run",
                 "--ledger", f"sqlite:///{ledger}", "--output-dir", str(tmp_path / "out")])
    capfd.readouterr()
    assert code == 0
    assert ledger.exists()


def test_a_ledger_that_cannot_be_opened_is_a_clear_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "leads.csv"
    source.write_text("Lead ID,Phone\nL1,4158670001\n")
    code = main(["run", "--source", str(source), "--provider", "engage-voice", "--campaign", "4001", "--dry-run",
                 "--ledger", "postgresql+psycopg://postgres@127.0.0.1:5432/leadflow_no_such_database",
                 "--output-dir", str(tmp_path / "out")])
    out, err = capfd.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    assert "ledger" in err
    assert "leadflow_no_such_database" in err
