"""The dialer's documented limits set the pace: sent as soon as they allow, never past them.

Each simulator runs with its documented limits on (its defaults) and leadflow with its documented
concurrency; the simulator's own request log (arrival and end of each request, as it counts
them) is the judge: no 429 or 409, no window exceeded, and the wall time close to the floor
the limits set for that many requests.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from relhelp import CAMPAIGNS, SimView, assert_balanced, leads_file, run_options

from flows.load_leads import load_leads
from tasks.providers.engage_voice import EngageVoice
from tasks.providers.voiso import Voiso

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

#: Wall time allowed over the floor: 15 % plus the flow's own start-up and wind-down.
SLACK = 0.15
START_UP_S = 8.0


def floor_s(requests: int, windows: list[tuple[int, float]]) -> float:
    """When the last of ``requests`` can arrive at the earliest, under sliding ``windows`` (count, seconds)."""
    arrivals: list[float] = []
    for _ in range(requests):
        at = arrivals[-1] if arrivals else 0.0
        for count, seconds in windows:
            if len(arrivals) >= count:
                at = max(at, arrivals[-count] + seconds)
        arrivals.append(at)
    return arrivals[-1] if arrivals else 0.0


def most_in_any_span(arrivals: list[float], seconds: float) -> int:
    """The most arrivals in any ``seconds``-long span."""
    times = sorted(arrivals)
    return max((sum(1 for t in times[i:] if t < first + seconds) for i, first in enumerate(times)), default=0)


def most_at_once(records: list[dict[str, Any]]) -> int:
    """The most requests the simulator held at one time."""
    edges = sorted([(r["started"], 1) for r in records] + [(r["ended"], -1) for r in records])
    return max(itertools.accumulate(step for _, step in edges), default=0)


def load(view: SimView, tmp: Path, leads: int, batch_size: int) -> tuple[dict[str, Any], float]:
    """One load into ``view`` with the provider's documented limits and concurrency; the result and wall time."""
    source = leads_file(tmp / "leads.csv", leads)
    opts = run_options(tmp, view.url, batch_size=batch_size)
    assert opts.load.rate_limits and opts.load.concurrency is None
    started = time.monotonic()
    result = load_leads(source=source, provider=view.name, campaign=CAMPAIGNS[view.name], options=opts)
    return result, time.monotonic() - started


def test_engage_voice_goes_as_fast_as_its_windows_allow_and_never_past_them(
        sims: dict[str, SimView], tmp_path: Path) -> None:
    """100 requests of 5 leads, four in flight, against 30 / 10 s and 120 / 60 s counted on arrival."""
    view = sims["engage-voice"]
    windows = [(int(n), float(s)) for n, s in view.app.sim.config.loader_windows]
    assert windows == [(30, 10.0), (120, 60.0)]  # the documented limits, on
    assert view.app.sim.config.rate_limits
    assert [(w.max_requests, w.seconds) for w in EngageVoice.limits.rate_windows] == windows
    requests = 100
    result, wall = load(view, tmp_path, requests * 5, 5)
    assert_balanced(result, requests * 5)
    assert result["outcomes"]["loaded"] == requests * 5, result["outcomes"]
    loads = view.load_requests()
    assert [r["status"] for r in loads] == [200] * requests  # no 429: nothing sent past a window
    arrivals = [r["started"] for r in loads]
    for count, seconds in windows:
        assert most_in_any_span(arrivals, seconds) <= count, (count, seconds)
    floor = floor_s(requests, windows)  # 30 s: 30 at 0, 10 and 20 s, the last 10 at 30 s
    assert max(arrivals) - min(arrivals) <= floor * (1 + SLACK) + 1.0, (max(arrivals) - min(arrivals), floor)
    assert wall <= floor * (1 + SLACK) + START_UP_S, (wall, floor)


def test_voiso_one_request_at_a_time_two_seconds_apart_as_soon_as_allowed(
        sims: dict[str, SimView], tmp_path: Path) -> None:
    """8 requests to one campaign: never two at once, each at least 2 s after the previous one ended."""
    view = sims["voiso"]
    assert view.app.sim.config.rate_limits and view.app.sim.config.spacing_s == Voiso.limits.min_spacing_s == 2.0
    requests = 8
    result, wall = load(view, tmp_path, requests * 3, 3)
    assert_balanced(result, requests * 3)
    assert result["outcomes"]["loaded"] == requests * 3, result["outcomes"]
    loads = view.load_requests()
    assert [r["status"] for r in loads] == [view.app.sim.config.success_status] * requests  # no 409 or 429
    assert most_at_once(loads) == 1
    gaps = [b["started"] - a["ended"] for a, b in itertools.pairwise(sorted(loads, key=lambda r: r["started"]))]
    assert min(gaps) >= 2.0, gaps
    busy = sum(r["ended"] - r["started"] for r in loads)
    floor = (requests - 1) * 2.0 + busy
    assert wall <= floor * (1 + SLACK) + START_UP_S, (wall, floor)
