"""The providers the benchmark loads into, with their documented limits, and what a run's requests say.

Each simulator runs with its defaults, which are the documented limits: Engage Voice counts at most
30 loader requests in 10 s and 120 in 60 s per account, NLPearl documents no rate limit (leadflow
keeps one request in flight per Pearl), Voiso takes one import per campaign at a time, 2 s from the
end of one to the start of the next, at most 1,000 leads each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from benchmarks.baseline import CAMPAIGN, TOKEN
from simulators.engage_model import LOAD_MATCH as ENGAGE_LOAD
from simulators.engage_model import EngageSimConfig
from simulators.nlpearl import LOAD_MATCH as NLPEARL_LOAD
from simulators.voiso import LOAD_MATCH as VOISO_LOAD
from simulators.voiso import VoisoSimConfig

#: The first Pearl and the live campaign of the simulators' defaults.
PEARLS = ("6a27be5ae83373643a10ae34", "6a27be5ae83373643a10ae35")
VOISO_CAMPAIGN = "3"
#: Leads of the Voiso run. At 1,000 leads a request, 2 s apart, 1M leads would take 1,000 requests
#: and over 33 minutes of waiting alone; 20,000 (about 18 requests after the rules) shows the pacing.
VOISO_ROWS = 20_000


@dataclass(frozen=True)
class Target:
    """A provider as the benchmark loads into it."""

    label: str
    provider: str
    #: The simulator app (``module:function``), with its documented defaults.
    factory: str
    campaign: str
    env: dict[str, str]
    #: Pattern of the load route's path (the simulator's own).
    load_path: str
    #: Documented (requests, seconds) windows over the account's loads.
    windows: list[tuple[int, float]] = field(default_factory=list)
    #: Documented seconds from the end of one load to the start of the next (per campaign).
    spacing_s: float = 0.0
    #: Leads of its run at most (None: the benchmark's N).
    max_rows: int | None = None


ENGAGE = Target("Engage Voice", "engage-voice", "simulators.engage_voice:create_app", CAMPAIGN,
                {"ENGAGE_VOICE_API_TOKEN": TOKEN}, ENGAGE_LOAD, windows=EngageSimConfig().loader_windows)
NLPEARL = Target("NLPearl", "nlpearl", "simulators.nlpearl:create_app", PEARLS[0],
                 {"NLPEARL_ACCOUNT_ID": "sim-account", "NLPEARL_SECRET_KEY": "sim-secret"}, NLPEARL_LOAD)
VOISO = Target("Voiso", "voiso", "simulators.voiso:create_app", VOISO_CAMPAIGN, {"VOISO_API_KEY": "sim-voiso-key"},
               VOISO_LOAD, spacing_s=VoisoSimConfig().spacing_s, max_rows=VOISO_ROWS)
TARGETS = {t.provider: t for t in (ENGAGE, NLPEARL, VOISO)}


def window_floor(requests: int, windows: list[tuple[int, float]]) -> float:
    """Seconds from the first to the last of ``requests`` arrivals, each as early as the windows allow."""
    times: list[float] = []
    for i in range(requests):
        at = times[-1] if times else 0.0
        for limit, span in windows:
            if i >= limit:
                at = max(at, times[i - limit] + span)
        times.append(at)
    return times[-1] if times else 0.0


def most_at_once(records: list[dict[str, Any]]) -> int:
    """The most of these requests in flight at the same time (from their start and end times)."""
    events = sorted([(r["started"], 1) for r in records] + [(r["ended"] or r["started"], -1) for r in records],
                    key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def judge(target: Target, run: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """What the simulator saw of one run: busy time, overhead, requests over the limits and the floor.

    Args:
        target: the provider.
        run: ``profile_flow.run_flow``'s result (``wall_s``, ``started_at``).
        stats: ``profile_simulator.sim_stats`` right after the run.

    Returns:
        ``busy_s`` (time with a request in flight), ``overhead_s`` (wall - busy), ``sim_cpu_s``,
        ``load_requests``, ``most_in_flight`` (per campaign), ``over_limits`` (answers refusing a
        request as over a limit, and arrivals beyond a window), ``window_most``; for a limited
        provider ``floor_s`` (start-up, the limits' schedule of that many requests and one
        request's time) and ``wall_over_floor``; where the overhead went: ``before_first_s`` (the
        run's start to the first load request), ``after_last_s`` (the last answer to the run's end)
        and ``between_s`` (the rest: the provider idle between requests).
    """
    pattern = re.compile(target.load_path)
    loads = [r for r in stats["received"] if pattern.search(r["path"])]
    by_path: dict[str, list[dict[str, Any]]] = {}
    for r in loads:
        by_path.setdefault(r["path"], []).append(r)
    refused = {429, 409} if target.spacing_s else {429}
    over = sum(1 for r in loads if r["status"] in refused)
    window_most = []
    for key in (k for k in stats["limits"] if k.startswith("loader:")):
        for w in stats["limits"][key]["windows"]:
            window_most.append(f"{w['most']}/{w['limit']} in {w['span_s']:g} s")
            over += max(0, w["most"] - w["limit"])
    out: dict[str, Any] = {
        "busy_s": stats["busy_s"], "overhead_s": run["wall_s"] - stats["busy_s"], "sim_cpu_s": stats["cpu_s"],
        "load_requests": len(loads), "most_in_flight": max((most_at_once(rs) for rs in by_path.values()), default=0),
        "over_limits": over, "window_most": window_most, "statuses": stats["statuses"],
    }
    if loads:
        before = min(r["started"] for r in loads) - run["started_at"]
        after = run["started_at"] + run["wall_s"] - max(r["ended"] or r["started"] for r in stats["received"])
        out.update(before_first_s=before, after_last_s=after, between_s=out["overhead_s"] - before - after)
    if loads and (target.windows or target.spacing_s):
        durations = [(r["ended"] or r["started"]) - r["started"] for r in loads]
        startup = min(r["started"] for r in loads) - run["started_at"]
        per_path = max(len(rs) for rs in by_path.values())
        if target.windows:
            floor = window_floor(len(loads), target.windows) + sum(durations) / len(durations)
        else:
            floor = sum(durations) + (per_path - 1) * target.spacing_s
        out.update(startup_s=startup, floor_s=startup + floor, wall_over_floor=run["wall_s"] / (startup + floor))
    return out
