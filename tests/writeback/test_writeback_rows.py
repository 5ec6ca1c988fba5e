"""The rows a run writes back: one per key (the most telling outcome), owed in order when the target fails."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from schemas import columns as C
from schemas.errors import ConfigurationError
from schemas.sources import SourceSpec
from tasks.ledger import Ledger, utcnow
from tasks.report import RunReport, markdown_summary
from tasks.writeback import read_rows
from tasks.writeback_owed import OwedWriteBacks
from tasks.writeback_run import KeyedOutcomeWriter, WriteBackPlan, finish, write_back_table


def chunk(ids: list[str | None], outcomes: list[str]) -> pd.DataFrame:
    return pd.DataFrame({C.ROW: range(1, len(ids) + 1), C.EXTERNAL_ID: pd.array(ids, dtype="string"),
                         C.PHONE: "+12127364410", C.OUTCOME: outcomes,
                         C.REASON: [None if o == "loaded" else f"why {o}" for o in outcomes],
                         C.TZ_ZONES: "America/New_York"})


def one_run(tmp: Path, run_id: str, ids: list[str | None], outcomes: list[str]) -> dict[str, object]:
    plan = WriteBackPlan.start(SourceSpec(location=str(tmp / "leads.csv")), "lead_outcomes", tmp / "out" / run_id)
    assert plan is not None
    writer = KeyedOutcomeWriter(str(tmp / "out" / run_id / "outcomes.csv"), plan)
    writer.record(chunk(ids, outcomes))
    writer.close()
    return finish(plan, Ledger(f"sqlite:///{tmp / 'ledger.db'}"), run_id=run_id, provider="voiso", campaign="7")


def test_a_key_seen_twice_keeps_its_most_telling_outcome_and_empty_keys_are_counted(tmp_path: Path) -> None:
    result = one_run(tmp_path, "r1", ["A", "A", "B", None], ["duplicate", "loaded", "invalid", "invalid"])
    assert result["status"] == "written" and result["rows"] == 2 and result["rows_without_key"] == 1
    rows = read_rows(WriteBackPlan.start(SourceSpec(location=str(tmp_path / "leads.csv")), "lead_outcomes",
                                         tmp_path).target).set_index("source_key")  # type: ignore[union-attr]
    assert rows["outcome"].to_dict() == {"A": "loaded", "B": "invalid"}
    assert pd.notna(rows.loc["A", "loaded_at"]) and pd.isna(rows.loc["B", "loaded_at"])


def test_runs_stay_owed_in_order_behind_a_failing_one(tmp_path: Path) -> None:
    target_file = tmp_path / "lead_outcomes.csv"
    target_file.write_text("not,a,write-back,file\n")
    first = one_run(tmp_path, "r1", ["A"], ["deferred"])
    assert first["status"] == "owed" and "not a write-back file" in str(first["error"])
    second = one_run(tmp_path, "r2", ["A"], ["loaded"])  # still blocked: r1 and then r2 are owed
    assert second["status"] == "owed"
    owed = OwedWriteBacks(Ledger(f"sqlite:///{tmp_path / 'ledger.db'}"))
    assert [(o.run_id, o.attempts) for o in owed.owed_to(str(target_file))] == [("r1", 2), ("r2", 1)]
    target_file.unlink()
    third = one_run(tmp_path, "r3", ["B"], ["invalid"])
    assert third["status"] == "written" and third["retried"] == ["r1", "r2"]
    rows = pd.read_csv(target_file, dtype=str).set_index("source_key")
    assert rows["outcome"].to_dict() == {"A": "loaded", "B": "invalid"}  # r2's outcome, written after r1's
    assert rows["run_id"].to_dict() == {"A": "r2", "B": "r3"}
    assert owed.owed_to(str(target_file)) == []


def test_a_chunk_without_a_key_is_refused_and_the_summary_tells_the_write_back(tmp_path: Path) -> None:
    plan = WriteBackPlan.start(SourceSpec(location=str(tmp_path / "leads.csv"), watermark_column="updated"),
                               "lead_outcomes", tmp_path)
    assert plan is not None
    with pytest.raises(ConfigurationError, match="no external id column"):
        plan.check([C.ROW, C.PHONE])
    plan.check([C.ROW, C.PHONE, C.extra("updated")])
    assert plan.key == C.extra("updated")
    report = RunReport(run_id="r", provider="voiso", campaign="7", account=None, source="x", dry_run=False,
                       started_at=utcnow(), write_back={"target": "crm.db table lead_outcomes", "status": "owed",
                                                        "rows": 0, "error": "OperationalError: database is locked"})
    assert "Write-back to crm.db table lead\\_outcomes: **owed**" in markdown_summary(report)
    assert "database is locked" in markdown_summary(report)


def test_the_table_comes_from_the_option_else_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADFLOW_WRITE_BACK", raising=False)
    assert write_back_table(None) is None and write_back_table(" ") is None
    monkeypatch.setenv("LEADFLOW_WRITE_BACK", "from_env")
    assert write_back_table(None) == "from_env" and write_back_table("given") == "given"


def test_a_source_url_naming_environment_variables_is_checked_as_it_will_connect(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tasks.writeback import target_for

    monkeypatch.setenv("WB_CRM_URL", f"sqlite:///{tmp_path / 'crm.db'}")
    target = target_for(SourceSpec(location="${WB_CRM_URL}", table="leads"), "lead_outcomes")
    assert (target.kind, target.location) == ("sql", "${WB_CRM_URL}")  # expanded only to connect
    monkeypatch.delenv("WB_CRM_URL")
    with pytest.raises(ConfigurationError, match="WB_CRM_URL"):
        target_for(SourceSpec(location="${WB_CRM_URL}", table="leads"), "lead_outcomes")
