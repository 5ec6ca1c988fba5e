"""``make bench``'s result as markdown: the headline per provider, then the other measurements."""

from __future__ import annotations

from typing import Any

from benchmarks.limits import TARGETS

#: The documented limits each run had on, and the concurrency leadflow used.
LIMITS = {
    "engage-voice": "30 req/10 s and 120 req/60 s per account; 4 in flight",
    "nlpearl": "none documented; 1 in flight per Pearl",
    "voiso": "1 import at a time per campaign, 2 s apart, 1,000 leads each",
}
HEAD = ("| run | leads | limits on | wall s | provider busy s | overhead s (wall - busy) | floor s | wall / floor "
        "| load requests (over limits) | most in flight | peak RSS MB | CPU s leadflow / simulator |\n"
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def _row(label: str, run: dict[str, Any], limits: str) -> str:
    floor = f"{run['floor_s']:.1f}" if "floor_s" in run else "-"
    ratio = f"{run['wall_over_floor']:.2f}" if "wall_over_floor" in run else "-"
    runs = run.get("wall_runs_s") or [run["wall_s"]]
    walls = f"{run['wall_s']:.1f}" + (f" ({', '.join(f'{w:.1f}' for w in runs)})" if len(runs) > 1 else "")
    return (f"| {label} | {run['rows']:,} | {limits} | {walls} | {run['busy_s']:.1f} | **{run['overhead_s']:.1f}** | "
            f"{floor} | {ratio} | {run['load_requests']} ({run['over_limits']}) | {run['most_in_flight']} | "
            f"{run['peak_rss_mb']:,.0f} | {run['cpu_s']:.0f} / {run['sim_cpu_s']:.0f} |")


def table(result: dict[str, Any]) -> str:
    """Every measurement of ``result`` as markdown."""
    pin = result["pinning"]
    lines = [f"Machine: {result['machine']['cores']} CPUs ({result['machine']['cpu']}), load average at start "
             f"{', '.join(f'{x:.1f}' for x in result['machine']['load_avg'])}; simulators on CPU "
             f"{pin['simulator'] or 'any'}, leadflow and Prefect on {pin['leadflow'] or 'any'}; "
             f"`make bench` took {result.get('bench_s', 0) / 60:.1f} min.", "", HEAD]
    for run in result["providers"]:
        lines.append(_row(run["label"], run, LIMITS[run["provider"]]))
    if "nlpearl_two_cores" in result:
        lines.append(_row(result["nlpearl_two_cores"]["label"], result["nlpearl_two_cores"], LIMITS["nlpearl"]))
    if "baseline" in result:
        b = result["baseline"]
        b.setdefault("most_in_flight", 1)
        lines.append(_row("naive vendor-docs loader, Engage Voice", b,
                          f"{LIMITS['engage-voice'].split(';')[0]}; 1 in flight, 1 s after a 429"))
    if "dask" in result:
        lines.append(_row("Dask variant, NLPearl (worker blind to the flow's temp folder)", result["dask"],
                          LIMITS["nlpearl"]))
    lines += ["", "Where the overhead went (s): " + "; ".join(
        f"{r['label']}: {r['before_first_s']:.1f} before the first request, {r['between_s']:.1f} with the provider "
        f"idle between requests, {r['after_last_s']:.1f} after the last answer"
        for r in result["providers"] if "before_first_s" in r)]
    outcomes = ("; ".join(f"{r['label']}: " + ", ".join(f"{k} {v:,}" for k, v in r["outcomes"].items() if v)
                          for r in result["providers"]))
    lines += ["", f"Outcomes: {outcomes}"]
    if "baseline" in result:
        lines.append("Naive loader: " + ", ".join(f"{k} {v:,}" for k, v in result["baseline"]["counts"].items()))
    if "several" in result:
        lines += _several(result["several"])
    if "stream" in result:
        s = result["stream"]
        lines += ["", f"Stream: {s['rows']:,} rows in {s['wall_s']:.1f} s ({s['leads_per_s']:,.0f} leads/s, "
                      f"{s['cpu_s']:.0f} CPU s), **peak RSS {s['peak_rss_mb']:,.0f} MB**; stages (s): "
                      + ", ".join(f"{k} {v:.1f}" for k, v in s["stage_seconds"].items())]
    if "simulator" in result:
        sim = result["simulator"]
        lines += ["", f"Engage simulator alone ({sim['lead_per_request']:,}-lead posts, {sim['posts']} posts, "
                      "rate windows off):", ""]
        lines += [f"- {mode}: {m['ms_per_request']:.0f} ms/request wall, busy {m['busy_ms_per_request']:.0f} ms, "
                  f"CPU {m['cpu_ms_per_request']:.0f} ms" for mode, m in sim.items() if isinstance(m, dict)]
    return "\n".join(lines)


def _several(sev: dict[str, Any]) -> list[str]:
    lines = ["", f"Four campaigns at once ({sev['rows_per_campaign']:,} leads each, one process each, one SQLite "
                 f"ledger): **{sev['wall_s']:.1f} s** first start to last end, leadflow CPU {sev['cpu_s']:.0f} s, "
                 f"simulators CPU {sev['sim_cpu_s']:.0f} s (busy: " + ", ".join(
                     f"{TARGETS[p].label} {b:.1f} s" for p, b in sev["busy_s"].items())
             + f"); Engage account windows, most arrivals seen: {', '.join(sev['window_most'])}.", ""]
    lines += [f"- {r['label']}: {r['wall_s']:.1f} s, {r['load_requests']} requests ({r['over_limits']} over the "
              f"limits), at most {r['most_in_flight']} in flight, peak RSS {r['peak_rss_mb']:,.0f} MB, "
              f"balanced: {r['balanced']}" for r in sev["runs"]]
    return lines
