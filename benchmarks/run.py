"""``make bench``: the real flow at each N against the simulator, the naive baseline, stages and a stream."""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty
from typing import Any

from benchmarks.profile_simulator import reset, simulator

PKG = "benchmarks"
OUT = Path(__file__).parent / "out"
#: Environment of every process of the benchmark (as ``make`` sets it, plus quieter Prefect logs).
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PYTHONTZPATH": "",
         "PREFECT_LOGGING_LEVEL": "WARNING"}
#: Rows the baseline reads at most by default; its time beyond is extrapolated linearly.
BASELINE_LIMIT = 100_000
#: Largest N the transform stages are timed at.
TRANSFORM_MAX = 1_000_000
#: Rows of the untimed first flow run on a fresh Prefect server (its first run is seconds slower).
WARMUP_ROWS = 2_000


def dataset(rows: int, seed: int, folder: Path = OUT) -> tuple[Path, Path]:
    """The generated leads CSV and its DNC file for ``rows`` and ``seed``, cached in ``folder``."""
    from benchmarks.generate import write_leads

    folder.mkdir(parents=True, exist_ok=True)
    csv_path, dnc_path = folder / f"leads-{rows}-s{seed}.csv", folder / f"dnc-{rows}-s{seed}.txt"
    if not (csv_path.exists() and dnc_path.exists()):
        part_csv, part_dnc = csv_path.with_suffix(".part"), dnc_path.with_suffix(".part")
        write_leads(part_csv, rows, seed=seed, dnc=part_dnc, dnc_rate=0.02)
        part_dnc.replace(dnc_path)
        part_csv.replace(csv_path)
    return csv_path, dnc_path


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


def _child(target: str, args: tuple[Any, ...], kwargs: dict[str, Any], queue: mp.Queue[dict[str, Any]]) -> None:
    module, name = target.rsplit(".", 1)
    try:
        result = dict(getattr(importlib.import_module(module), name)(*args, **kwargs))
    except BaseException as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(peak_rss_mb=usage.ru_maxrss / 1024, cpu_s=usage.ru_utime + usage.ru_stime)
    queue.put(result)


def in_child(target: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run ``module.function(*args, **kwargs)`` in a fresh process; its result, ``peak_rss_mb`` and ``cpu_s``.

    Raises:
        RuntimeError: the function raised (the message names the exception) or the process died.
    """
    ctx = mp.get_context("spawn")
    queue: mp.Queue[dict[str, Any]] = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, kwargs, queue), name=target)
    proc.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{target} died (exit code {proc.exitcode})") from None
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{target} failed: {result['error']}")
    return result


def repeated(times: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The best of ``times`` runs (by wall time), with every run's wall time and the spread."""
    runs = [run() for _ in range(max(times, 1))]
    best = dict(min(runs, key=lambda r: float(r["wall_s"])))
    walls = [float(r["wall_s"]) for r in runs]
    best.update(wall_runs_s=walls, spread_s=max(walls) - min(walls),
                peak_rss_runs_mb=[float(r["peak_rss_mb"]) for r in runs])
    return best


def others_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's other children: the Prefect server and the simulator.

    They share the machine's cores with the measured flow, so their time is part of the story.
    """
    import psutil

    out = {"prefect_server": 0.0, "simulator": 0.0}
    for child in psutil.Process().children(recursive=True):
        try:
            times, cmd = child.cpu_times(), " ".join(child.cmdline())
        except psutil.Error:
            continue
        out["prefect_server" if "prefect" in cmd else "simulator"] += times.user + times.system
    return out


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem, 1), "python": platform.python_version(),
            "platform": platform.platform(), "load_avg": os.getloadavg()}


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement the options ask for, as one JSON-ready result."""
    work = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    result: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "machine": machine(),
                              "seed": args.seed, "repeat": args.repeat, "flow": [], "baseline": [],
                              "baseline_phones": []}
    try:
        with prefect_api(args.prefect_api) if args.rows else nullcontext(), simulator() as url:
            if args.sim_posts:
                result["simulator"] = in_child(f"{PKG}.profile_simulator.measure_simulator", url, posts=args.sim_posts)
            if args.rows and args.warmup:
                result["warmup"] = _warmup(url, args, work)
            for rows in args.rows:
                csv_path, dnc_path = dataset(rows, args.seed, args.data_dir)

                def flow_once(c: Path = csv_path, d: Path = dnc_path) -> dict[str, Any]:
                    reset(url)
                    before = others_cpu()
                    out = in_child(f"{PKG}.profile_flow.run_flow", str(c), str(d), url, str(work))
                    after = others_cpu()
                    out["others_cpu_s"] = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
                    return out

                flow = repeated(args.repeat, flow_once)
                result["flow"].append(flow)
                if not args.skip_baseline:
                    result["baseline"].append(_baseline(csv_path, dnc_path, url, rows, args, flow, "all"))
                    result["baseline_phones"].append(_baseline(csv_path, dnc_path, url, rows, args, flow, "phones"))
            if args.rows and not args.skip_transform:
                rows = min(max(args.rows), TRANSFORM_MAX)
                csv_path, dnc_path = dataset(rows, args.seed, args.data_dir)
                result["transform"] = repeated(args.repeat, lambda: _timed_transform(csv_path, dnc_path))
        if args.stream_rows:
            csv_path, dnc_path = dataset(args.stream_rows, args.seed, args.data_dir)
            result["stream"] = in_child(f"{PKG}.profile_stages.stream", str(csv_path), str(dnc_path), str(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["finished_at"] = datetime.now(UTC).isoformat()
    return result


def _timed_transform(csv_path: Path, dnc_path: Path) -> dict[str, Any]:
    out = in_child(f"{PKG}.profile_stages.transform_stages", str(csv_path), str(dnc_path))
    out["wall_s"] = out["transform"]["seconds"]
    return out


def _warmup(url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One small flow run, not timed: a fresh Prefect server's first flow run is seconds slower than the next."""
    csv_path, dnc_path = dataset(WARMUP_ROWS, args.seed, args.data_dir)
    reset(url)
    out = in_child(f"{PKG}.profile_flow.run_flow", str(csv_path), str(dnc_path), url, str(work))
    return {"rows": out["rows"], "wall_s": out["wall_s"]}


def _baseline(csv_path: Path, dnc_path: Path, url: str, rows: int, args: argparse.Namespace, flow: dict[str, Any],
              rules: str) -> dict[str, Any]:
    """The naive baseline with every rule (``all``, best of ``--repeat``) or phones and dedup only (one run)."""
    limit = None if args.baseline_limit <= 0 else min(rows, args.baseline_limit)

    def once() -> dict[str, Any]:
        reset(url)
        return in_child(f"{PKG}.baseline.run_baseline", csv_path, url, limit=limit, rules=rules, dnc_path=dnc_path)

    out = repeated(args.repeat if rules == "all" else 1, once)
    out["extrapolated"] = out["rows"] < rows
    out["wall_s_at_n"] = out["wall_s"] * rows / out["rows"]
    out["ratio"] = out["wall_s_at_n"] / flow["wall_s"]
    reset(url)
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--rows", type=int, action="append", help="leads per flow run (repeatable; default 100000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best and the spread are kept")
    p.add_argument("--baseline-limit", type=int, default=BASELINE_LIMIT,
                   help="rows the naive baseline reads at most; beyond, its time is extrapolated linearly")
    p.add_argument("--no-baseline-limit", dest="baseline_limit", action="store_const", const=0,
                   help="run the baseline on every row")
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument("--skip-transform", action="store_true")
    p.add_argument("--no-warmup", dest="warmup", action="store_false",
                   help=f"skip the untimed {WARMUP_ROWS:,}-row flow run before the timed ones")
    p.add_argument("--sim-posts", type=int, default=40, help="5,000-lead posts to time the simulator alone (0: skip)")
    p.add_argument("--stream-rows", type=int, default=0, help="also stream a file of this many rows (e.g. 5000000)")
    p.add_argument("--prefect-api", help="use this Prefect API instead of starting a temporary server")
    p.add_argument("--data-dir", type=Path, default=OUT, help="generated files (cached) and results")
    p.add_argument("--json", type=Path, help="result file (default <data-dir>/results-<time>.json)")
    args = p.parse_args(argv)
    args.rows = args.rows or ([] if args.stream_rows else [100_000])
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON result; exit 1 if a run did not balance."""
    args = parse_args(argv)
    with environ({k: os.environ.get(k, v) for k, v in QUIET.items()}):
        result = benchmark(args)
    path = args.json or args.data_dir / f"results-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(table(result))
    print(f"\nresult: {path}")
    ok = all(f["balanced"] and f["status"] == "completed" for f in result["flow"])
    return 0 if ok else 1


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def table(result: dict[str, Any]) -> str:
    """The result as markdown (the shape of the README's tables)."""
    lines = _flow_lines(result) if result["flow"] else []
    if "simulator" in result:
        sim = result["simulator"]
        lines += ["", f"Simulator alone ({sim['lead_per_request']:,}-lead posts, {sim['posts']} posts):", ""]
        lines += [f"- {mode}: {m['requests_per_s']:.1f} requests/s, {m['leads_per_s']:,.0f} leads/s, "
                  f"{m['ms_per_request']:.0f} ms/request" for mode, m in sim.items() if isinstance(m, dict)]
    if "transform" in result:
        t = result["transform"]
        lines += ["", f"Transform stages alone at N={t['rows']:,} (no Prefect, no HTTP; best of "
                      f"{len(t['wall_runs_s'])}), leads/s:", ""]
        lines += [f"- {name}: {s['leads_per_s']:,.0f} ({s['seconds']:.2f} s)" for name, s in t["stages"].items()]
        lines += [f"- **{name}**: {t[name]['leads_per_s']:,.0f} ({t[name]['seconds']:.2f} s)"
                  for name in ("transform", "all_rules")]
    if "stream" in result:
        s = result["stream"]
        lines += ["", f"Stream: {s['rows']:,} rows in {s['wall_s']:.1f} s ({s['leads_per_s']:,.0f} leads/s, "
                      f"{s['cpu_s']:.0f} CPU s), peak RSS {_mb(s['peak_rss_mb'])}; stages (s): "
                      + ", ".join(f"{k} {v:.1f}" for k, v in s["stage_seconds"].items())]
    return "\n".join(lines)


def _base_cell(baselines: list[dict[str, Any]], i: int) -> str:
    if i >= len(baselines):
        return "-"
    b = baselines[i]
    extrapolated = f" (extrapolated from {b['rows']:,})" if b["extrapolated"] else ""
    return f"{b['wall_s_at_n']:.1f}{extrapolated} ({b['ratio']:.2f}x)"


def _flow_lines(result: dict[str, Any]) -> list[str]:
    lines = ["| N | wall s (best; runs) | leads/s | CPU s | peak RSS | outcomes | naive baseline s: every rule "
             "(speed-up) | naive baseline s: phones and dedup only (speed-up) |",
             "|---:|---|---:|---:|---:|---|---:|---:|"]
    for i, f in enumerate(result["flow"]):
        runs = ", ".join(f"{w:.1f}" for w in f["wall_runs_s"])
        outcomes = " ".join(f"{k} {v}" for k, v in f["outcomes"].items() if v)
        bases = [_base_cell(result.get(key) or [], i) for key in ("baseline", "baseline_phones")]
        lines.append(f"| {f['rows']:,} | {f['wall_s']:.1f} ({runs}) | {f['leads_per_s']:,.0f} | {f['cpu_s']:.0f} | "
                     f"{_mb(f['peak_rss_mb'])} | {outcomes} | {bases[0]} | {bases[1]} |")
    for f in result["flow"]:
        lines += ["", f"Stages at N={f['rows']:,}, best run (Prefect task runs: count, span, summed run time):", ""]
        lines += [f"- {name}: {s['count']:.0f} runs, span {s['span_s']:.2f} s, sum {s['sum_s']:.2f} s"
                  for name, s in f["stages"].items()]
        if f.get("others_cpu_s"):
            lines.append("- CPU s of the other processes on the machine meanwhile: " + ", ".join(
                f"{k.replace('_', ' ')} {v:.1f}" for k, v in f["others_cpu_s"].items()))
        if f["report_stage_seconds"]:
            lines.append("- report.stage_seconds: " + ", ".join(
                f"{k} {v:.2f} s" for k, v in f["report_stage_seconds"].items()))
    return lines


if __name__ == "__main__":
    raise SystemExit(main())

