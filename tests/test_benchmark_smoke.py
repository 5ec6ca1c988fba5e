"""The benchmark end to end at a small N: the real flow, the naive baseline, the stages and a stream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import run
from schemas.outcomes import OUTCOMES

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

ROWS = 2_000


def test_benchmark_smoke(tmp_path: Path, clean_provider_env: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL

    out = tmp_path / "result.json"
    code = run.main(["--rows", str(ROWS), "--no-baseline-limit", "--repeat", "1", "--sim-posts", "2",
                     "--stream-rows", "3000", "--data-dir", str(tmp_path), "--json", str(out),
                     "--prefect-api", str(PREFECT_API_URL.value())])
    result = json.loads(out.read_text())
    assert code == 0
    assert {"machine", "flow", "baseline", "simulator", "transform", "stream"} <= set(result)

    (flow,) = result["flow"]
    assert flow["status"] == "completed" and flow["balanced"]
    assert flow["rows"] == ROWS and sum(flow["outcomes"].values()) == ROWS
    assert set(flow["outcomes"]) == set(OUTCOMES)
    for outcome in ("loaded", "invalid", "duplicate", "suppressed"):  # every rule had work to do
        assert flow["outcomes"][outcome] > 0, outcome
    assert flow["wall_s"] > 0 and flow["leads_per_s"] > 0 and flow["peak_rss_mb"] > 0 and flow["cpu_s"] > 0
    assert flow["wall_runs_s"] == [flow["wall_s"]]
    assert {"Extract source", "Normalize and validate chunk", "Apply lead rules to chunk", "Push batch"} <= set(
        flow["stages"])
    assert flow["stages"]["Push batch"]["count"] == flow["batches"] >= 1

    (base,) = result["baseline"]
    assert base["rows"] == ROWS and not base["extrapolated"]
    assert sum(v for k, v in base["counts"].items() if k != "requests") == ROWS
    assert base["ratio"] == pytest.approx(base["wall_s"] / flow["wall_s"])

    for mode in ("sequential", "4_in_flight"):
        assert result["simulator"][mode]["requests_per_s"] > 0
    transform = result["transform"]
    assert transform["rows"] == ROWS
    assert {"normalize", "validate", "dedup", "timezones", "dnc", "window"} <= set(transform["stages"])
    assert transform["transform"]["leads_per_s"] > 0

    stream = result["stream"]
    assert stream["rows"] == 3_000 == sum(stream["outcomes"].values())
    assert stream["peak_rss_mb"] > 0
    assert "| 2,000 |" in run.table(result)
