"""The sync's look-ups go through the shared rate limiter: a full window of Engage leadSearch calls makes it wait."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from disphelp import Sims, run_options, write_leads

from flows.dispositions import sync_dispositions
from flows.load_leads import load_leads
from schemas.options import LoadOptions
from tasks.ratelimit import sends

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

KEY = "engage-voice:99990001:lookup"


def _searches(base_url: str) -> int:
    return sum(r["path"].endswith("/campaignLeads/leadSearch") for r in httpx.get(f"{base_url}/_sim/received").json())


def test_lookups_wait_for_a_full_window(tmp_path: Path, sims: Sims, ledger_url: str) -> None:
    load_leads(source=write_leads(tmp_path / "leads.csv"), provider="engage-voice", campaign="4001",
               options=run_options(tmp_path, sims.engage, ledger_url))
    before = _searches(sims.engage)
    engine = sa.create_engine(ledger_url)
    with engine.begin() as c:  # another run used the whole 15-a-10-s window of leadSearch just now
        now = time.time()
        c.execute(sends.insert(), [{"key": KEY, "holder": "other-run", "granted": now, "ended": now}] * 15)

    started = time.monotonic()
    result = sync_dispositions(provider="engage-voice", campaign="4001", ledger_url=ledger_url,
                               load=LoadOptions(base_url=sims.engage), batch_size=5)
    waited = time.monotonic() - started

    assert result["found"] == 12 and result["balanced"]
    searches = _searches(sims.engage) - before
    assert searches == 3  # 12 leads in batches of 5: one leadSearch each
    assert waited >= 9.5
    with engine.connect() as c:
        counted = c.execute(sa.select(sa.func.count()).select_from(sends).where(
            sends.c.key == KEY, sends.c.holder != "other-run")).scalar_one()
    engine.dispose()
    assert counted == searches
