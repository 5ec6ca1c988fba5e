"""The scheduled disposition sync as deployed: a worker runs it, the ledger keeps what it found, and its artifact."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from orchhelp import Stack

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_the_sync_deployment_records_dispositions_and_suppresses(api_settings: Stack, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment

    from tasks.ledger_feedback import dispositions, dnc

    stack = api_settings
    dep = stack.deployment("engage-4001-dispositions", "sync-dispositions")
    assert dep["schedules"][0]["schedule"]["cron"] == "15 * * * *" and dep["work_queue_name"] == "dispositions"
    assert dep["entrypoint"] == "flows.dispositions.sync_dispositions" and dep["enforce_parameter_schema"]
    form = dep["parameter_openapi_schema"]["properties"]
    assert {"provider", "campaign", "days", "mapping_file", "write_back", "source", "load"} <= set(form)
    assert all(form[name].get("description") for name in ("days", "mapping_file", "write_back"))
    source = tmp_path / "leads.csv"  # phones no other test loads: the ledger is the session's
    rows = "".join(f"D{i},Pat,415-867-{3600 + i}\n" for i in (1, 2, 3))
    source.write_text("Lead ID,First Name,Phone Number\n" + rows)
    load = run_deployment("load-leads/adhoc", timeout=0, parameters={
        "source": {"location": str(source)}, "provider": "engage-voice", "campaign": "4003",
        "options": {"output_dir": str(tmp_path / "out")}})
    stack.finished(str(load.id))
    httpx.post(f"{stack.sim_url}/_sim/dispositions", timeout=10, json={"leads": {
        "D1": {"leadState": "DO-NOT-CALL", "lastPassDisposition": "DNC", "leadPasses": 1},
        "D2": {"leadState": "COMPLETE", "lastPassDisposition": "ANSWER", "leadPasses": 1}}}).raise_for_status()

    sync = run_deployment("sync-dispositions/engage-4001-dispositions", timeout=0, parameters={"campaign": "4003"})
    run = stack.finished(str(sync.id))

    assert run["parameters"]["provider"] == "engage-voice" and run["parameters"]["days"] == 7
    engine = sa.create_engine(stack.ledger_url)
    with engine.connect() as c:
        kept = dict(c.execute(sa.select(dispositions.c.external_id, dispositions.c.action).where(
            dispositions.c.sync_id == str(sync.id), dispositions.c.external_id.in_(["D1", "D2", "D3"]))).all())
        listed = c.execute(sa.select(dnc.c.phone_key, dnc.c.reason, dnc.c.campaign).where(
            dnc.c.phone_key == 14158673601)).all()
    engine.dispose()
    assert kept == {"D1": "dnc", "D2": "reached", "D3": "none"}
    assert [tuple(r) for r in listed] == [(14158673601, "dnc", "4003")]
    key = "leadflow-engage-voice-4003-dispositions"
    [artifact] = stack.post("/artifacts/filter", {"artifacts": {"key": {"any_": [key]},
                                                                "flow_run_id": {"any_": [str(sync.id)]}}})
    assert "| dnc | 1 |" in artifact["data"] and "14158673601" not in artifact["data"]
