"""A load, a disposition sync, then loads into other providers: the loop closed over loopback, on both ledgers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from disphelp import LEADS, PEARL, Sims, outcomes_by_id, run_options, set_dispositions, write_leads

from flows.dispositions import sync_dispositions
from flows.load_leads import load_leads
from schemas.options import LoadOptions
from tasks.ledger import Ledger
from tasks.ledger_feedback import Feedback, dispositions

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

ENGAGE_RESULTS = {
    "L1": {"leadState": "DO-NOT-CALL", "lastPassDisposition": "DNC", "leadPasses": 1},
    "L2": {"leadState": "DISCONNECTED", "lastPassDisposition": "DISCONNECTED", "leadPasses": 1},
    "L3": {"leadState": "COMPLETE", "lastPassDisposition": "ANSWER", "leadPasses": 2},
    "L4": {"leadState": "ACTIVE", "lastPassDisposition": "NO ANSWER", "leadPasses": 1},
}


def test_sync_records_dispositions_and_the_next_runs_obey_them(tmp_path: Path, sims: Sims, ledger_url: str) -> None:
    source = write_leads(tmp_path / "leads.csv")
    first = load_leads(source=source, provider="engage-voice", campaign="4001",
                       options=run_options(tmp_path, sims.engage, ledger_url))
    assert first["outcomes"]["loaded"] == len(LEADS)
    set_dispositions(sims.engage, ENGAGE_RESULTS)

    result = sync_dispositions(provider="engage-voice", campaign="4001", ledger_url=ledger_url,
                               load=LoadOptions(base_url=sims.engage))

    assert result["balanced"]
    assert (result["leads"], result["found"], result["not_found"], result["no_external_id"]) == (12, 12, 0, 0)
    assert result["by_action"] == {"dnc": 1, "bad_number": 1, "reached": 1, "none": 9}
    assert {(r["state"], r["disposition"], r["action"]): r["leads"] for r in result["by_disposition"]} == {
        ("DO-NOT-CALL", "DNC", "dnc"): 1, ("DISCONNECTED", "DISCONNECTED", "bad_number"): 1,
        ("COMPLETE", "ANSWER", "reached"): 1, ("ACTIVE", "NO ANSWER", "none"): 1, ("READY", "", "none"): 8}
    assert result["newly_listed"] == 2
    feedback = Feedback(Ledger(ledger_url))
    listed = feedback.dnc_list().set_index("phone_key")
    assert sorted(listed["reason"]) == ["bad_number", "dnc"]
    assert set(listed["provider"]) == {"engage-voice"} and set(listed["campaign"]) == {"4001"}
    kept = feedback.campaign_dispositions("engage-voice", "4001").set_index("external_id")
    assert kept.loc["L3", "action"] == "reached" and kept.loc["L3", "passes"] == 2
    assert (kept["sync_id"] == result["sync_id"]).all() and len(kept) == 12

    # The next run into another provider: the do-not-call and bad numbers suppressed, the reached one cooled down.
    nl = load_leads(source=source, provider="nlpearl", campaign=PEARL,
                    options=run_options(tmp_path, sims.nlpearl, ledger_url))
    assert sum(nl["outcomes"].values()) == nl["rows_read"] == len(LEADS)
    got = outcomes_by_id(nl)
    assert got["L1"][0] == got["L2"][0] == "suppressed"
    assert "internal do-not-call list: asked not to be called (engage-voice/4001 DO-NOT-CALL/DNC on" in got["L1"][1]
    assert "internal do-not-call list: bad number (engage-voice/4001 DISCONNECTED/DISCONNECTED on" in got["L2"][1]
    assert got["L3"][0] == "duplicate"
    assert got["L3"][1].startswith("reached by engage-voice/4001 COMPLETE/ANSWER on ")
    assert "cooldown 30 days, every provider" in got["L3"][1]
    assert {k for k, (o, _) in got.items() if o == "loaded"} == {f"L{i}" for i in range(4, 13)}
    for _, reason in got.values():
        assert not re.search(r"\d{7,}", reason)  # no phone in a reason

    # And into another campaign of the same provider.
    again = load_leads(source=source, provider="engage-voice", campaign="4002",
                       options=run_options(tmp_path, sims.engage, ledger_url))
    assert again["outcomes"]["suppressed"] == 2 and again["outcomes"]["duplicate"] == 1
    assert again["outcomes"]["loaded"] == 9


def test_reached_cooldown_ends_after_cooldown_days(tmp_path: Path, sims: Sims, ledger_url: str) -> None:
    source = write_leads(tmp_path / "leads.csv", LEADS[:3])
    load_leads(source=source, provider="nlpearl", campaign=PEARL,
               options=run_options(tmp_path, sims.nlpearl, ledger_url))
    set_dispositions(sims.nlpearl, {"L1": {"status": 100}, "L2": {"status": 30}})  # Success, WrongCountryCode
    result = sync_dispositions(provider="nlpearl", campaign=PEARL, ledger_url=ledger_url,
                               load=LoadOptions(base_url=sims.nlpearl))
    assert result["by_action"] == {"dnc": 0, "bad_number": 1, "reached": 1, "none": 1}
    engine = sa.create_engine(ledger_url)
    with engine.begin() as c:  # the reach happened 10 days ago
        c.execute(dispositions.update().where(dispositions.c.external_id == "L1")
                  .values(disposition_at=datetime.now(UTC) - timedelta(days=10)))
    engine.dispose()
    opts = dict(dedup_scope="none")
    short = load_leads(source=source, provider="engage-voice", campaign="4001",
                       options=run_options(tmp_path, sims.engage, ledger_url, cooldown_days=7, **opts))
    long = load_leads(source=source, provider="engage-voice", campaign="4002",
                      options=run_options(tmp_path, sims.engage, ledger_url, cooldown_days=30, **opts))
    assert outcomes_by_id(short)["L1"][0] == "loaded"
    assert outcomes_by_id(long)["L1"][0] == "duplicate"
    assert outcomes_by_id(short)["L2"][0] == outcomes_by_id(long)["L2"][0] == "suppressed"
