"""Rate limits kept in the ledger hold across limiters (runs) that share it."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

from tasks.ledger import Ledger
from tasks.providers.base import RateWindow
from tasks.ratelimit import RateLimiter


def _worker(url: str, n: int, windows: tuple[RateWindow, ...], spacing: float, in_flight: int,
            hold_s: float, log: list[tuple[float, float]], lock: threading.Lock) -> None:
    limiter = RateLimiter(Ledger(url))  # its own engine and connections, as another run would have
    for _ in range(n):
        with limiter.slot("acct", windows, "acct:campaign", spacing, in_flight):
            start = time.time()
            time.sleep(hold_s)
            end = time.time()
        with lock:
            log.append((start, end))


def run_two(url: str, n: int, **kw: object) -> list[tuple[float, float]]:
    log: list[tuple[float, float]] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_worker, args=(url, n), kwargs={**kw, "log": log, "lock": lock})
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(log)


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

    import sqlalchemy as sa

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
