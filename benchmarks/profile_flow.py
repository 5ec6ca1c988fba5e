"""One timed run of the real ``load_leads`` flow, with its per-stage breakdown from the Prefect API."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.baseline import CAMPAIGN, NOW, TOKEN

#: Seconds to wait for the Prefect server to record every task run's end.
SETTLE_S = 30.0
#: Task runs per API page (the server's maximum).
PAGE = 200


def run_flow(csv_path: str, dnc_path: str, base_url: str, work_dir: str, *, provider: str = "engage-voice",
             campaign: str = CAMPAIGN, env: dict[str, str] | None = None, ledger_url: str | None = None,
             stages: bool = True, dask_address: str | None = None) -> dict[str, Any]:
    """Load ``csv_path`` into a simulator with every rule and the provider's documented limits on.

    Args:
        csv_path: the generated leads.
        dnc_path: a DNC file holding some of their numbers.
        base_url: the simulator.
        work_dir: where the ledger (SQLite, unless ``ledger_url``) and the outcome files go.
        provider: the leadflow provider.
        campaign: its campaign (Engage campaign, NLPearl Pearl, Voiso campaign).
        env: credentials (default: the Engage simulator's token).
        ledger_url: a ledger shared with other runs (several campaigns at once).
        stages: read the task runs back from the Prefect API.
        dask_address: run the Dask variant (``flows.scale``) on this scheduler instead.
    """
    os.environ.update(env or {"ENGAGE_VOICE_API_TOKEN": TOKEN})
    from flows.load_leads import load_leads
    from schemas.options import LoadOptions, RuleOptions, RunOptions
    from schemas.sources import SourceSpec

    work = Path(tempfile.mkdtemp(prefix="flow-", dir=work_dir))
    options = RunOptions(
        rules=RuleOptions(dnc_files=[dnc_path], window_gate=True, timezone_option="AUTO"),
        load=LoadOptions(base_url=base_url),
        ledger_url=ledger_url or f"sqlite:///{work / 'ledger.db'}", output_dir=str(work / "out"), now=NOW,
    )
    started_at = time.time()
    start = time.perf_counter()
    flow: Any = load_leads
    if dask_address:
        from flows.scale import ChunkDaskTaskRunner, dask_variant

        flow = dask_variant(ChunkDaskTaskRunner(address=dask_address))
    result: dict[str, Any] = flow(source=SourceSpec(location=csv_path), provider=provider, campaign=campaign,
                                  options=options)
    wall = time.perf_counter() - start
    return {
        "provider": provider, "campaign": campaign, "started_at": started_at, "ended_at": started_at + wall,
        "rows": result["rows_read"], "wall_s": wall, "leads_per_s": result["rows_read"] / wall,
        "status": result["status"], "balanced": result["balanced"], "outcomes": result["outcomes"],
        "batches": result["batches"], "report_stage_seconds": result.get("stage_seconds") or {},
        "stages": task_stages(result["run_id"]) if stages else {},
    }


def task_stages(run_id: str) -> dict[str, dict[str, float]]:
    """Per task name: how many task runs, their summed run time and their span (first start to last end).

    Tasks of one stage may run concurrently (prepared chunks, in-flight batches), so the sum can
    exceed the span; the span is the stage's share of the wall clock.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flt = FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(run_id)]))
    deadline = time.monotonic() + SETTLE_S
    with get_client(sync_client=True) as client:
        while True:
            runs = _all_task_runs(client, flt)
            settled = all(r.end_time is not None and r.start_time is not None for r in runs)
            if (runs and settled) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return _summarise(runs)


def _all_task_runs(client: Any, flt: Any) -> list[Any]:
    runs: list[Any] = []
    while True:
        page = client.read_task_runs(flow_run_filter=flt, limit=PAGE, offset=len(runs))
        runs += page
        if len(page) < PAGE:
            return runs


def _summarise(runs: list[Any]) -> dict[str, dict[str, float]]:
    spans: dict[str, list[datetime]] = defaultdict(list)
    out: dict[str, dict[str, float]] = {}
    for r in runs:
        if r.start_time is None or r.end_time is None:
            continue
        name = r.name.rsplit("-", 1)[0]
        stage = out.setdefault(name, {"count": 0, "sum_s": 0.0, "span_s": 0.0})
        stage["count"] += 1
        stage["sum_s"] += (r.end_time - r.start_time).total_seconds()
        spans[name] += [r.start_time, r.end_time]
    for name, times in spans.items():
        out[name]["span_s"] = (max(times) - min(times)).total_seconds()
    return out
