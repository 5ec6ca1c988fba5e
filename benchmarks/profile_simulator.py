"""A simulator in its own process (optionally on its own CPU), its stats, and the Engage one's throughput alone."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from typing import Any

import httpx

from benchmarks.baseline import LOAD_PATH, TOKEN

#: Seconds to wait for the simulator process to come up.
STARTUP_S = 60.0


#: The Engage Voice simulator with its rate windows off (only for the simulator-alone throughput).
UNLIMITED_ENGAGE = "benchmarks.profile_simulator:unlimited_engage"


def unlimited_engage() -> Any:
    """The Engage Voice simulator app with its rate windows off."""
    from simulators.engage_model import EngageSimConfig
    from simulators.engage_voice import create_app

    return create_app(EngageSimConfig(rate_limits=False))


def _host(factory: str, cpus: set[int] | None, queue: mp.Queue[str], stop: Event, nice: int | None) -> None:
    from simulators.server import load_app, serve

    if cpus:
        os.sched_setaffinity(0, cpus)
    if nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, nice)  # before the server's threads start: they inherit it
    app, _ = load_app(factory)
    with serve(app) as sim:
        queue.put(sim.url)
        stop.wait()


@contextmanager
def simulator(factory: str = UNLIMITED_ENGAGE, cpus: set[int] | None = None, nice: int | None = None) -> Iterator[str]:
    """Run a simulator app (``module:function``, its documented defaults) in a child process; yields its URL.

    A separate process keeps the simulator's CPU and memory out of the measured process, as a
    real dialer API would be; ``cpus`` pins it to those CPUs (its own core, away from leadflow);
    ``nice`` sets its scheduling priority (negative: before other processes on its CPUs; needs root).
    """
    ctx = mp.get_context("spawn")
    queue: mp.Queue[str] = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=_host, args=(factory, cpus, queue, stop, nice), name=factory, daemon=True)
    proc.start()
    try:
        yield queue.get(timeout=STARTUP_S)
    finally:
        stop.set()
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)


def reset(base_url: str) -> None:
    """Forget every lead the simulator holds, its request log and its stats."""
    httpx.post(f"{base_url}/_sim/reset", timeout=60.0).raise_for_status()


def sim_stats(base_url: str) -> dict[str, Any]:
    """The simulator's ``/_sim/stats`` and its request log (``/_sim/received``)."""
    stats: dict[str, Any] = httpx.get(f"{base_url}/_sim/stats", timeout=60.0).json()
    stats["received"] = httpx.get(f"{base_url}/_sim/received", timeout=60.0).json()
    return stats


def _bodies(count: int, size: int) -> list[bytes]:
    """Distinct ``size``-lead requests shaped like leadflow's (distinct phones throughout)."""
    out = []
    for b in range(count):
        leads = [{"externId": f"S-{b}-{i}", "leadPhone": f"{2025550000 + b * size + i + 1_000_000:010d}",
                  "leadPhoneE164": f"+1{2025550000 + b * size + i + 1_000_000:010d}", "firstName": "Ada",
                  "lastName": "Lovelace", "email": f"ada{i}@example.com", "address1": "12 Main St",
                  "city": "Springfield", "state": "IL", "zip": "62701",
                  "extendedLeadData": {"Lead Source": "web", "Score": "42"}} for i in range(size)]
        body = {"description": "simulator alone", "listState": "ACTIVE", "duplicateHandling": "REMOVE_ALL_EXISTING",
                "timeZoneOption": "NPA_NXX", "dialPriority": "NORMAL", "dncTags": [], "uploadLeads": leads}
        out.append(json.dumps(body).encode())
    return out


def measure_simulator(base_url: str, *, posts: int = 40, size: int = 5_000, in_flight: int = 4) -> dict[str, Any]:
    """Requests/s and leads/s of the simulator for ``size``-lead posts, one at a time and ``in_flight``.

    Args:
        base_url: the simulator's base URL.
        posts: requests per measurement.
        size: leads per request.
        in_flight: concurrent requests in the second measurement (the Engage provider's default).

    Returns:
        Per mode: ``requests_per_s``, ``leads_per_s``, ``ms_per_request``, and the simulator's own
        ``busy_ms_per_request`` and ``cpu_ms_per_request`` (``/_sim/stats``).
    """
    bodies = _bodies(posts, size)
    out: dict[str, Any] = {"lead_per_request": size, "posts": posts}
    with httpx.Client(base_url=base_url, headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json"},
                      timeout=120.0, limits=httpx.Limits(max_connections=in_flight)) as client:

        def post(body: bytes) -> None:
            client.post(LOAD_PATH, content=body).raise_for_status()

        for mode, workers in (("sequential", 1), (f"{in_flight}_in_flight", in_flight)):
            reset(base_url)
            start = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(post, bodies))
            wall = time.perf_counter() - start
            stats = httpx.get(f"{base_url}/_sim/stats", timeout=60.0).json()
            out[mode] = {"requests_per_s": posts / wall, "leads_per_s": posts * size / wall,
                         "ms_per_request": 1000 * wall / posts, "busy_ms_per_request": 1000 * stats["busy_s"] / posts,
                         "cpu_ms_per_request": 1000 * stats["cpu_s"] / posts}
    reset(base_url)
    return out
