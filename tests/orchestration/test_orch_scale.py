"""The Dask variant prepares chunks on a Dask cluster and ends with the same outcomes as the default runner."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from orchhelp import EXPECTED, LEADS, Stack, write_leads

from benchmarks.dask_run import cluster_without_our_tmp
from schemas.options import LoadOptions, RunOptions
from schemas.sources import SourceSpec

pytestmark = [pytest.mark.server, pytest.mark.slow]


def options(tmp_path: Path, name: str, sim_url: str) -> RunOptions:
    return RunOptions(load=LoadOptions(base_url=sim_url, backoff_s=0.01),
                      ledger_url=f"sqlite:///{tmp_path / name}.db", output_dir=str(tmp_path / name))


def test_dask_variant_matches_the_default_runner(api_settings: Stack, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import LocalCluster

    from flows.load_leads import load_leads
    from flows.scale import ChunkDaskTaskRunner, dask_variant

    stack = api_settings
    monkeypatch.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    source = SourceSpec(location=str(write_leads(tmp_path / "leads.csv")), chunk_size=2)
    chunks = -(-len(LEADS) // 2)

    httpx.post(f"{stack.sim_url}/_sim/reset", timeout=10)
    default: dict[str, Any] = load_leads(source=source, provider="engage-voice", campaign="4003",
                                         options=options(tmp_path, "default", stack.sim_url))
    httpx.post(f"{stack.sim_url}/_sim/reset", timeout=10)
    with LocalCluster(n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None) as cluster:
        runner = ChunkDaskTaskRunner(address=cluster.scheduler_address)
        scaled = dask_variant(runner)(source=source, provider="engage-voice", campaign="4003",
                                      options=options(tmp_path, "dask", stack.sim_url))
        on_dask = sum(worker.state.executed_count for worker in cluster.workers.values())

    assert {k: v for k, v in scaled["outcomes"].items() if v} == EXPECTED
    assert scaled["outcomes"] == default["outcomes"]
    assert scaled["rows_read"] == default["rows_read"] == len(LEADS)
    assert on_dask == chunks


def test_dask_workers_that_do_not_share_the_flows_temporary_folder(api_settings: Stack, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import Client

    from flows.scale import ChunkDaskTaskRunner, dask_variant

    stack = api_settings
    monkeypatch.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    source = SourceSpec(location=str(write_leads(tmp_path / "leads.csv")), chunk_size=2)
    httpx.post(f"{stack.sim_url}/_sim/reset", timeout=10)
    far = options(tmp_path, "far", stack.sim_url)
    flow_tmp = tmp_path / "flow-tmp"  # the flow run's temporary folder (its spool goes there)
    flow_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(flow_tmp))
    with (tempfile.NamedTemporaryFile(prefix="leadflow-flow-side-") as ours,
          cluster_without_our_tmp({**os.environ, "PREFECT_API_URL": stack.api}, flow_tmp) as address,
          Client(address, timeout=60) as client):
        client.wait_for_workers(1, timeout=120)
        assert client.submit(os.path.exists, ours.name, pure=False).result() is False
        scaled = dask_variant(ChunkDaskTaskRunner(address=address))(
            source=source, provider="engage-voice", campaign="4003", options=far)
        on_dask = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())

    assert {k: v for k, v in scaled["outcomes"].items() if v} == EXPECTED
    assert scaled["rows_read"] == len(LEADS)
    assert on_dask >= -(-len(LEADS) // 2)
