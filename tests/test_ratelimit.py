"""Rate limits kept in the ledger hold across limiters (runs) that share it."""

from __future__ import annotations

import itertools
import random
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tasks.ledger import Ledger
from tasks.providers.base import RateWindow
from tasks.ratelimit import RateLimiter


def _worker(url: str, n: int, windows: tuple[RateWindow, ...], spacing: float, in_flight: int,
            hold_s: float, log: list[tuple[float, float]], lock: threading.Lock, campaign: str = "campaign",
            jitter_s: float = 0.0) -> None:
    limiter = RateLimiter(Ledger(url))  # its own engine and connections, as another run would have
    for _ in range(n):
        with limiter.slot("acct", windows, f"acct:{campaign}", spacing, in_flight):
            start = time.time()
            time.sleep(hold_s + random.uniform(0, jitter_s))
            end = time.time()
        with lock:
            log.append((start, end))


def run_two(url: str, n: int, threads: int = 2, campaigns: int = 1, **kw: object) -> list[tuple[float, float]]:
    """``threads`` limiters sharing the ledger at ``url``, each taking ``n`` slots (over ``campaigns`` campaigns)."""
    log: list[tuple[float, float]] = []
    lock = threading.Lock()
    workers = [threading.Thread(target=_worker, args=(url, n),
                                kwargs={**kw, "log": log, "lock": lock, "campaign": f"c{i % campaigns}"})
               for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return sorted(log)




def most_in_any_span(arrivals: list[float], seconds: float) -> int:
    """The most arrivals in any ``seconds``-long span (as a dialer counting arrivals sees them)."""
    times = sorted(arrivals)
    return max((sum(1 for t in times[i:] if t < first + seconds) for i, first in enumerate(times)), default=0)


@pytest.mark.slow
def test_arrivals_stay_inside_the_window_with_requests_in_flight(ledger_url: str) -> None:
    """Four limiters (two campaigns of one account) with requests of uneven length in flight: wherever in
    its flight each request reaches the dialer, no 1 s span holds more than 5 arrivals; and the slots come
    as soon as the window allows (24 requests at 5 per second: the last may go at 4 s)."""
    started = time.time()
    log = run_two(ledger_url, 6, threads=4, campaigns=2, windows=(RateWindow(5, 1.0),), spacing=0.0,
                  in_flight=8, hold_s=0.0, jitter_s=0.15)
    wall = time.time() - started
    assert len(log) == 24
    rng = random.Random(7)
    for _ in range(200):
        assert most_in_any_span([rng.uniform(s, e) for s, e in log], 1.0) <= 5
    # the worst case for a count on arrival: early requests reach the dialer late, later ones at once
    middle = sorted(log)[len(log) // 2][0]
    assert most_in_any_span([e if s < middle else s for s, e in log], 1.0) <= 5
    assert wall < 4.0 * 1.15 + 0.15 * 5 + 1.0, wall


def test_a_request_of_a_killed_run_stops_counting_at_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tasks.ratelimit import _HOST, sends

    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    limiter = RateLimiter(ledger, request_timeout_s=600.0)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with ledger.engine.begin() as conn:
        conn.execute(sends.insert().values(key="k", holder=f"{_HOST}:{gone.pid}:x", granted=time.time(), ended=None))
    with limiter.slot("k", (RateWindow(1, 0.3),), "k:c", 0.0, 4, timeout_s=5.0) as waited:
        # the dead run's request ended when found dead: it counts 0.3 s from then, no longer
        assert 0.2 < waited < 1.0, waited


def test_sliding_window_is_shared_by_two_limiters(tmp_path: Path) -> None:
    log = run_two(f"sqlite:///{tmp_path / 'l.db'}", 4, windows=(RateWindow(3, 1.0),), spacing=0.0,
                  in_flight=8, hold_s=0.0)
    starts = [s for s, _ in log]
    assert len(starts) == 8
    for i in range(len(starts) - 3):
        assert starts[i + 3] - starts[i] >= 0.98, starts


def test_one_at_a_time_with_spacing_across_limiters(tmp_path: Path) -> None:
    log = run_two(f"sqlite:///{tmp_path / 'l.db'}", 2, windows=(), spacing=0.3, in_flight=1, hold_s=0.05)
    for (_, end), (start, _) in itertools.pairwise(log):
        assert start - end >= 0.29, log


def test_disabled_limiter_does_not_wait(tmp_path: Path) -> None:
    limiter = RateLimiter(Ledger(f"sqlite:///{tmp_path / 'l.db'}"), enabled=False)
    with limiter.slot("a", (RateWindow(1, 60.0),), "a:c", 10.0, 1) as waited:
        assert waited == 0.0


def test_a_killed_runs_lease_is_dropped_at_once(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tasks.ratelimit import _HOST, leases

    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    limiter = RateLimiter(ledger)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = f"{_HOST}:{os.getppid()}:other"
    with ledger.engine.begin() as conn:
        conn.execute(leases.insert().values(holder=f"{_HOST}:{gone.pid}:killed", key="k:c", expires=time.time() + 600))
    with limiter.slot("k", (), "k:c", 0.0, 1, timeout_s=2.0) as waited:
        assert waited < 1.0
    with ledger.engine.begin() as conn:
        conn.execute(leases.insert().values(holder=alive, key="k:c", expires=time.time() + 600))
    try:
        with limiter.slot("k", (), "k:c", 0.0, 1, timeout_s=0.5):
            raise AssertionError("a live holder's lease must be respected")
    except TimeoutError:
        pass
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(leases.c.holder)).scalars().all() == [alive]
