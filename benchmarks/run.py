"""``make bench``: the real flow into each provider's simulator with its documented limits on, and beside it
the naive baseline, several campaigns at once, a Dask run, a 10M-row stream and the simulator alone."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import OUT, dataset, in_child
from benchmarks.limits import ENGAGE, TARGETS, Target, judge
from benchmarks.profile_simulator import reset, sim_stats, simulator

PKG = "benchmarks"
#: Environment of every process of the benchmark (as ``make`` sets it, plus quieter Prefect logs).
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PYTHONTZPATH": "",
         "PREFECT_LOGGING_LEVEL": "WARNING"}
#: The simulator's scheduling priority in the two-CPU NLPearl run (below 0: ahead of the flow on its CPU).
SIM_NICE = -10
#: Rows of the untimed first flow run on a fresh Prefect server (its first run is seconds slower).
WARMUP_ROWS = 2_000


@contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by the child processes) for the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def prefect_api(url: str | None) -> Iterator[None]:
    """Use ``url``, or start a temporary Prefect server once (not timed) for every child process."""
    if url:
        with environ({"PREFECT_API_URL": url}):
            yield
        return
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120), environ({"PREFECT_API_URL": str(PREFECT_API_URL.value())}):
        yield


def repeated(times: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The best of ``times`` runs (by wall time), with every run's wall time and the spread."""
    runs = [run() for _ in range(max(times, 1))]
    best = dict(min(runs, key=lambda r: float(r["wall_s"])))
    walls = [float(r["wall_s"]) for r in runs]
    best.update(wall_runs_s=walls, spread_s=max(walls) - min(walls),
                peak_rss_runs_mb=[float(r["peak_rss_mb"]) for r in runs])
    return best


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem, 1), "python": platform.python_version(),
            "platform": platform.platform(), "load_avg": os.getloadavg()}


def pinning(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """CPUs for the simulators (the last one) and for everything else, or no pinning (fewer than 2 CPUs)."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return {cpus[-1]}, set(cpus[:-1])


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement the options ask for, as one JSON-ready result."""
    work = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    sim_cpus, flow_cpus = pinning(args.pin)
    if flow_cpus:
        os.sched_setaffinity(0, flow_cpus)  # the Prefect server and every flow process inherit it
    result: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "machine": machine(), "seed": args.seed,
                              "repeat": args.repeat, "rows": args.rows, "providers": [],
                              "pinning": {"simulator": sorted(sim_cpus or []), "leadflow": sorted(flow_cpus or [])}}
    try:
        with prefect_api(args.prefect_api):
            for name in args.providers:
                result["providers"].append(_provider(TARGETS[name], args, work, sim_cpus))
            if args.two_cores and sim_cpus and "nlpearl" in args.providers and can_raise_priority():
                result["nlpearl_two_cores"] = _two_cores(args, work, sim_cpus, flow_cpus or set())
            if args.baseline:
                result["baseline"] = _baseline(args, work, sim_cpus)
            if args.several_rows:
                from benchmarks.several import several

                result["several"] = several(args.several_rows, args.seed, args.data_dir, work, sim_cpus)
            if args.dask_rows:
                result["dask"] = _dask(args, work, sim_cpus)
        if args.sim_posts:
            with simulator(cpus=sim_cpus) as url:
                result["simulator"] = in_child(f"{PKG}.profile_simulator.measure_simulator", url, posts=args.sim_posts)
        if args.stream_rows:
            csv_path, dnc_path = dataset(args.stream_rows, args.seed, args.data_dir)
            result["stream"] = in_child(f"{PKG}.profile_stages.stream", str(csv_path), str(dnc_path), str(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["finished_at"] = datetime.now(UTC).isoformat()
    return result


def can_raise_priority() -> bool:
    """Whether this process may give a child a higher scheduling priority (a negative nice needs root)."""
    return os.geteuid() == 0


def _two_cores(args: argparse.Namespace, work: Path, sim_cpus: set[int], flow_cpus: set[int]) -> dict[str, Any]:
    """NLPearl again with the flow free to use every CPU; the simulator keeps its own and goes first on it.

    A user's worker has every core of its machine while the dialer runs elsewhere. Here the simulator
    stays pinned to its CPU at a higher priority, so it never waits for leadflow (its busy time is
    what it is alone), and the flow (not the Prefect server, still on the others) uses whatever of
    that CPU the simulator leaves.
    """
    os.sched_setaffinity(0, flow_cpus | sim_cpus)
    try:
        out = _provider(TARGETS["nlpearl"], args, work, sim_cpus, nice=SIM_NICE)
    finally:
        os.sched_setaffinity(0, flow_cpus)
    out["label"] = "NLPearl, the flow on both CPUs (the simulator first on its own)"
    return out


def _provider(target: Target, args: argparse.Namespace, work: Path, sim_cpus: set[int] | None,
              nice: int | None = None) -> dict[str, Any]:
    """The flow into one provider's simulator (documented limits on): best of ``--repeat`` runs when unlimited.

    A rate-limited run is set by its floor, so it runs once.
    """
    rows = min(args.rows, target.max_rows or args.rows)
    csv_path, dnc_path = dataset(rows, args.seed, args.data_dir)
    with simulator(target.factory, sim_cpus, nice) as url:
        if args.warmup:
            _warmup(url, target, args, work)

        def once() -> dict[str, Any]:
            reset(url)
            out = in_child(f"{PKG}.profile_flow.run_flow", str(csv_path), str(dnc_path), url, str(work),
                           provider=target.provider, campaign=target.campaign, env=target.env)
            out.update(judge(target, out, sim_stats(url)), label=target.label)
            return out

        limited = bool(target.windows or target.spacing_s)
        return repeated(1 if limited else args.repeat, once)


def _warmup(url: str, target: Target, args: argparse.Namespace, work: Path) -> None:
    """One small flow run, not timed: a fresh Prefect server's first flow run is seconds slower than the next."""
    csv_path, dnc_path = dataset(WARMUP_ROWS, args.seed, args.data_dir)
    reset(url)
    in_child(f"{PKG}.profile_flow.run_flow", str(csv_path), str(dnc_path), url, str(work),
             provider=target.provider, campaign=target.campaign, env=target.env, stages=False)


def _baseline(args: argparse.Namespace, work: Path, sim_cpus: set[int] | None) -> dict[str, Any]:
    """The naive vendor-docs loader into Engage Voice with its documented limits on (it waits 1 s after a 429)."""
    csv_path, dnc_path = dataset(args.rows, args.seed, args.data_dir)
    with simulator(ENGAGE.factory, sim_cpus) as url:
        reset(url)
        out = in_child(f"{PKG}.baseline.run_baseline", csv_path, url, rules="all", dnc_path=dnc_path)
        out["started_at"] = time.time() - out["wall_s"]
        out.update(judge(ENGAGE, out, sim_stats(url)))
    return out


def _dask(args: argparse.Namespace, work: Path, sim_cpus: set[int] | None) -> dict[str, Any]:
    """The Dask variant into NLPearl, its one worker unable to see the flow's temporary folder."""
    target = TARGETS["nlpearl"]
    csv_path, dnc_path = dataset(args.dask_rows, args.seed, args.data_dir)
    with simulator(target.factory, sim_cpus) as url:
        reset(url)
        out = in_child(f"{PKG}.dask_run.run_dask", str(csv_path), str(dnc_path), url, str(work),
                       provider=target.provider, campaign=target.campaign, env=target.env)
        out.update(judge(target, out, sim_stats(url)))
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000, help="leads per provider run (Voiso: at most 20,000)")
    p.add_argument("--provider", dest="providers", action="append", choices=sorted(TARGETS),
                   help="providers to run (repeatable; default all)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=2, help="runs into an unlimited provider (best and spread kept)")
    p.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the naive baseline")
    p.add_argument("--several-rows", type=int, default=250_000,
                   help="leads per campaign of the 4-campaign run (0: skip)")
    p.add_argument("--dask-rows", type=int, default=250_000, help="leads of the Dask run (0: skip)")
    p.add_argument("--stream-rows", type=int, default=10_000_000, help="rows of the streamed file (0: skip)")
    p.add_argument("--sim-posts", type=int, default=40, help="5,000-lead posts to time the simulator alone (0: skip)")
    p.add_argument("--no-warmup", dest="warmup", action="store_false",
                   help=f"skip the untimed {WARMUP_ROWS:,}-row flow run before each provider's")
    p.add_argument("--no-pin", dest="pin", action="store_false",
                   help="do not run the simulators on a CPU of their own")
    p.add_argument("--no-two-cores", dest="two_cores", action="store_false",
                   help="skip the NLPearl run with the flow on every CPU (it needs pinning and root)")
    p.add_argument("--prefect-api", help="use this Prefect API instead of starting a temporary server")
    p.add_argument("--data-dir", type=Path, default=OUT, help="generated files (cached) and results")
    p.add_argument("--json", type=Path, help="result file (default <data-dir>/results-<time>.json)")
    args = p.parse_args(argv)
    args.providers = args.providers or list(TARGETS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables and write the JSON result; exit 1 if a run did not balance."""
    from benchmarks.tables import table

    args = parse_args(argv)
    start = time.perf_counter()
    with environ({k: os.environ.get(k, v) for k, v in QUIET.items()}):
        result = benchmark(args)
    result["bench_s"] = time.perf_counter() - start
    path = args.json or args.data_dir / f"results-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(table(result))
    print(f"\nresult: {path}")
    runs = [*result["providers"], *result.get("several", {}).get("runs", [])]
    runs += [result["nlpearl_two_cores"]] if "nlpearl_two_cores" in result else []
    runs += [result["dask"]] if "dask" in result else []
    ok = all(f["balanced"] and f["status"] == "completed" and not f["over_limits"] for f in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())



