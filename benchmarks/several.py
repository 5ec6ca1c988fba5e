"""Several campaigns at once on one machine: four flow runs started together into two providers.

Two Engage Voice campaigns of one account (they share its documented windows: 30 requests in 10 s,
120 in 60 s, whatever the campaign) and two NLPearl Pearls (one request in flight each), each run
a process of its own, all sharing one SQLite ledger, which is where their rate limits are kept.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.harness import dataset, in_child
from benchmarks.limits import ENGAGE, NLPEARL, PEARLS, Target, judge
from benchmarks.profile_simulator import reset, sim_stats, simulator

#: The four campaigns: provider, campaign and the seed of its leads (each campaign its own file).
CAMPAIGNS: tuple[tuple[Target, str], ...] = ((ENGAGE, "4001"), (ENGAGE, "4002"), (NLPEARL, PEARLS[0]),
                                             (NLPEARL, PEARLS[1]))


def several(rows: int, seed: int, data_dir: Path, work: Path, sim_cpus: set[int] | None) -> dict[str, Any]:
    """Run the four campaigns together; total wall and CPU time, and each campaign's limits as the dialer saw them.

    Returns:
        ``runs`` (each run's result, with ``over_limits`` and ``most_in_flight`` for its campaign),
        ``wall_s`` (first start to last end), ``cpu_s`` (the four processes), ``sim_cpu_s``,
        ``busy_s`` per simulator, and the Engage account's ``window_most``.
    """
    ledger = f"sqlite:///{work / 'several-ledger.db'}"
    with ExitStack() as stack:
        urls = {t.provider: stack.enter_context(simulator(t.factory, sim_cpus)) for t in (ENGAGE, NLPEARL)}
        for url in urls.values():
            reset(url)
        with ThreadPoolExecutor(len(CAMPAIGNS)) as pool:
            futures = []
            for i, (target, campaign) in enumerate(CAMPAIGNS):
                csv_path, dnc_path = dataset(rows, seed + i, data_dir)
                futures.append(pool.submit(
                    in_child, "benchmarks.profile_flow.run_flow", str(csv_path), str(dnc_path),
                    urls[target.provider], str(work), provider=target.provider, campaign=campaign, env=target.env,
                    ledger_url=ledger, stages=False))
            runs = [f.result() for f in futures]
        stats = {provider: sim_stats(url) for provider, url in urls.items()}
    for (target, campaign), run in zip(CAMPAIGNS, runs, strict=True):
        mine = replace(target, load_path=target.load_path.replace("[^/]+", campaign) if "[^/]+" in target.load_path
                       else f"/{campaign}.*{target.load_path}")
        judged = judge(mine, run, stats[target.provider])
        run.update(label=f"{target.label} {campaign}", over_limits=judged["over_limits"],
                   most_in_flight=judged["most_in_flight"], load_requests=judged["load_requests"])
    return {
        "rows_per_campaign": rows, "runs": runs,
        "wall_s": max(r["ended_at"] for r in runs) - min(r["started_at"] for r in runs),
        "cpu_s": sum(r["cpu_s"] for r in runs), "sim_cpu_s": sum(s["cpu_s"] for s in stats.values()),
        "busy_s": {p: s["busy_s"] for p, s in stats.items()},
        "window_most": judge(ENGAGE, runs[0], stats[ENGAGE.provider])["window_most"],
    }
