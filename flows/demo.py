"""``make demo``: the sample leads through every rule into the Engage Voice simulator, with a UI to open."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from flows.server import STATE_DIR, ensure_server

SAMPLE = Path("examples/leads.csv")
DNC = Path("examples/dnc.txt")
CAMPAIGN = "4001"


def main() -> int:
    """Run the demo; exit code 0 when the run completed with counts that add up."""
    os.environ.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PYTHONTZPATH": ""})
    print("Starting the local Prefect server (first start takes ~15 s) ...", flush=True)
    api = ensure_server()
    os.environ["PREFECT_API_URL"] = api
    import httpx

    from flows.commands import console, outcome_table
    from flows.dispositions import sync_dispositions
    from flows.load_leads import load_leads
    from schemas.options import LoadOptions, RuleOptions, RunOptions
    from schemas.sources import SourceSpec
    from simulators.engage_voice import create_app
    from simulators.server import serve

    work = STATE_DIR / "demo"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ.setdefault("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    with serve(create_app()) as sim:
        print(f"Engage Voice simulator on {sim.url}", flush=True)
        options = RunOptions(
            rules=RuleOptions(dnc_files=[str(DNC)] if DNC.exists() else []),
            load=LoadOptions(base_url=sim.url),
            ledger_url=f"sqlite:///{work / 'ledger.db'}",
            output_dir=str(work / "out"),
        )
        result = load_leads(source=SourceSpec(location=str(SAMPLE)), provider="engage-voice",
                            campaign=CAMPAIGN, options=options)
        # The dialer "calls" the leads (results hashed from each phone); the sync reads them back.
        httpx.post(f"{sim.url}/_sim/dispositions", json={"hashed": True}, timeout=10).raise_for_status()
        synced = sync_dispositions(provider="engage-voice", campaign=CAMPAIGN, ledger_url=options.ledger_url,
                                   load=options.load)
    console.print(outcome_table(result))
    console.print(f"Dispositions synced: {synced['found']} of {synced['leads']} leads found; by action "
                  f"{synced['by_action']}; {synced['newly_listed']} phones now on the internal do-not-call list "
                  "(see docs/dispositions.md)", highlight=False)
    ui = api.removesuffix("/api")
    console.print(f"Counts add up: {'yes' if result['balanced'] else 'NO'} "
                  f"({sum(result['outcomes'].values())} outcomes for {result['rows_read']} rows read)")
    console.print(f"Report:   {result['report_file']}")
    console.print(f"Outcomes: {result['outcomes_file']}")
    console.print(f"Open the run in the Prefect UI: {ui}/runs/flow-run/{result['run_id']}")
    console.print("The Prefect server keeps running for the UI; stop it with `make stop`.")
    return 0 if result["balanced"] and result["status"] == "completed" and synced["balanced"] else 1


if __name__ == "__main__":
    sys.exit(main())
