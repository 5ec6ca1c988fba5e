"""Rate limits that hold across concurrent runs: sliding windows and spacing kept in the ledger.

Every run that shares a ledger (SQLite file or PostgreSQL) shares these limits, so two runs for
the same Engage account never exceed 30 requests in 10 s together, and two runs for the same
Voiso campaign never overlap or come closer than 2 s.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tasks.ledger import Ledger, create_tables, metadata
from tasks.providers.base import RateWindow
from tasks.stop import pause

events = sa.Table(
    "lf_rate_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
)
leases = sa.Table(
    "lf_rate_leases", metadata,
    sa.Column("holder", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(200), nullable=False, index=True),
    sa.Column("expires", sa.Float, nullable=False),
)
spacing = sa.Table(
    "lf_rate_keys", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("last_end", sa.Float, nullable=False),
)

#: How long a lease outlives the request's own time limit (a crashed holder frees its slot after this).
LEASE_MARGIN_S = 30.0
#: This process, as named in the leases it holds (so a rerun can drop the leases of a killed run).
_HOST = socket.gethostname()
#: Poll interval while waiting for a slot.
POLL_S = 0.05


class RateLimiter:
    """Account-wide sliding windows plus per-campaign in-flight and spacing limits."""

    def __init__(self, ledger: Ledger, *, enabled: bool = True, request_timeout_s: float = 60.0) -> None:
        self.engine = ledger.engine
        self.enabled = enabled
        self.lease_s = request_timeout_s + LEASE_MARGIN_S
        create_tables(self.engine, [events, leases, spacing])

    @contextmanager
    def slot(self, account_key: str, windows: tuple[RateWindow, ...], campaign_key: str,
             min_spacing_s: float, max_in_flight: int, timeout_s: float = 3600.0) -> Iterator[float]:
        """Wait for a request slot; yields the seconds waited. The request runs inside."""
        if not self.enabled:
            yield 0.0
            return
        holder = f"{this_process()}:{uuid.uuid4().hex}"
        started = time.monotonic()
        while True:
            wait = self._try_acquire(holder, account_key, windows, campaign_key, min_spacing_s, max_in_flight)
            if wait <= 0:
                break
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"no request slot for {account_key} within {timeout_s:.0f} s")
            pause(min(max(wait, POLL_S), 5.0))
        try:
            yield time.monotonic() - started
        finally:
            self._release(holder, campaign_key, min_spacing_s)

    def _try_acquire(self, holder: str, account_key: str, windows: tuple[RateWindow, ...],
                     campaign_key: str, min_spacing_s: float, max_in_flight: int) -> float:
        with self.engine.begin() as c:
            now = time.time()
            # Take the write lock first (a row lock on PostgreSQL, the database lock on SQLite).
            updated = c.execute(spacing.update().where(spacing.c.key == campaign_key)
                                .values(last_end=spacing.c.last_end)).rowcount
            if not updated:
                c.execute(spacing.insert().values(key=campaign_key, last_end=0.0))
            last_end = float(c.execute(sa.select(spacing.c.last_end).where(spacing.c.key == campaign_key)).scalar_one())
            holders = c.execute(sa.select(leases.c.holder).where(
                leases.c.key == campaign_key, leases.c.expires > now)).scalars().all()
            dead = [h for h in holders if dead_here(h)]
            if dead:
                c.execute(leases.delete().where(leases.c.holder.in_(dead)))
            held = len(holders) - len(dead)
            if held >= max_in_flight:
                return POLL_S
            if min_spacing_s and now < last_end + min_spacing_s:
                return last_end + min_spacing_s - now
            wait = 0.0
            for w in windows:
                recent = c.execute(sa.select(events.c.at).where(
                    events.c.key == account_key, events.c.at > now - w.seconds).order_by(events.c.at)).scalars().all()
                if len(recent) >= w.max_requests:
                    wait = max(wait, recent[len(recent) - w.max_requests] + w.seconds - now)
            if wait > 0:
                return wait
            c.execute(events.insert().values(key=account_key, at=now))
            c.execute(leases.insert().values(holder=holder, key=campaign_key, expires=now + self.lease_s))
            longest = max((w.seconds for w in windows), default=0.0)
            c.execute(events.delete().where(events.c.key == account_key, events.c.at < now - longest - 1))
            return 0.0

    def _release(self, holder: str, campaign_key: str, min_spacing_s: float) -> None:
        with self.engine.begin() as c:
            c.execute(leases.delete().where(leases.c.holder == holder))
            if min_spacing_s:
                c.execute(spacing.update().where(spacing.c.key == campaign_key).values(last_end=time.time()))


def this_process() -> str:
    """This process as named in the leases it takes: ``host:pid``."""
    return f"{_HOST}:{os.getpid()}"


def dead_here(holder: str) -> bool:
    """A lease taken on this host by a process that no longer exists (a killed run)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
