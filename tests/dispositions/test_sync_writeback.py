"""Dispositions land in the write-back table of the source's database, keyed by (external id, provider, campaign)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from disphelp import LEADS, Sims, run_options, set_dispositions

from flows.cli import main
from flows.dispositions import sync_dispositions
from flows.load_leads import load_leads
from schemas.options import LoadOptions
from schemas.sources import SourceSpec
from tasks.writeback import read_rows, target_for

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def _crm(tmp_path: Path) -> SourceSpec:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sa.create_engine(url)
    pd.DataFrame({"external_id": [e for e, _ in LEADS], "first_name": "Ada", "phone": [p for _, p in LEADS]}).to_sql(
        "crm_leads", engine, index=False)
    engine.dispose()
    return SourceSpec(location=url, table="crm_leads")


def test_sync_writes_dispositions_back(tmp_path: Path, sims: Sims, ledger_url: str) -> None:
    source = _crm(tmp_path)
    load_leads(source=source, provider="engage-voice", campaign="4001",
               options=run_options(tmp_path, sims.engage, ledger_url))
    set_dispositions(sims.engage, {"L1": {"leadState": "DO-NOT-CALL", "lastPassDisposition": "DNC"},
                                   "L2": {"leadState": "COMPLETE", "lastPassDisposition": "ANSWER"}})

    result = sync_dispositions(provider="engage-voice", campaign="4001", ledger_url=ledger_url,
                               load=LoadOptions(base_url=sims.engage), write_back="lead_outcomes", source=source)

    rows = read_rows(target_for(source, "lead_outcomes")).set_index("source_key")
    assert len(rows) == result["found"] == 12
    assert set(rows["provider"]) == {"engage-voice"} and set(rows["campaign"]) == {"4001"}
    assert (rows.loc["L1", "disposition"], rows.loc["L1", "disposition_action"]) == ("DO-NOT-CALL/DNC", "dnc")
    assert (rows.loc["L2", "disposition"], rows.loc["L2", "disposition_action"]) == ("COMPLETE/ANSWER", "reached")
    assert (rows.loc["L3", "disposition"], rows.loc["L3", "disposition_action"]) == ("READY", "none")
    assert rows["disposition_at"].notna().all()

    # A later sync updates the rows in place (same key), the CLI way.
    set_dispositions(sims.engage, {"L3": {"leadState": "DISCONNECTED", "lastPassDisposition": "DISCONNECTED"}})
    assert main(["sync-dispositions", "--provider", "engage-voice", "--campaign", "4001", "--base-url", sims.engage,
                 "--ledger", ledger_url, "--write-back", "lead_outcomes", "--source", source.location,
                 "--table", "crm_leads"]) == 0
    again = read_rows(target_for(source, "lead_outcomes")).set_index("source_key")
    assert len(again) == 12
    assert (again.loc["L3", "disposition"], again.loc["L3", "disposition_action"]) == (
        "DISCONNECTED/DISCONNECTED", "bad_number")


def test_write_back_needs_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync-dispositions", "--provider", "nlpearl", "--campaign", "p1", "--write-back", "t"]) == 2
    assert "--write-back needs --source" in capsys.readouterr().err
