"""Rate limits that hold across concurrent runs: sliding windows and spacing kept in the ledger.

Every run that shares a ledger (SQLite file or PostgreSQL) shares these limits, so two runs for
the same Engage account never exceed 30 requests in 10 s together, and two runs for the same
Voiso campaign never overlap or come closer than 2 s.

How a window is kept (a scheduler, not a back-off): the dialer counts a request when it
*arrives*, and leadflow cannot know that instant. It knows two bounds: the request arrives no
earlier than the moment its slot was granted (``granted``; the body is built and sent after)
and no later than the moment its answer came back (``ended``; NULL while it is in flight).
A slot is granted at ``now`` only if fewer than ``max_requests`` earlier requests of the
account are still in flight or ended after ``now - seconds - WINDOW_MARGIN_S``. That is enough
whatever the network and the dialer's own processing add: take any ``seconds``-long span of
arrivals and the request in it granted last; every other one in the span arrived after the
span's start, so it ended after ``granted - seconds`` of the last one and was counted when
the last one was granted, so the span holds at most ``max_requests`` arrivals. The price is
one request's duration per window (the answer time is counted, not the arrival), which with
small bodies is tens of milliseconds per 10 s. A request is never counted by when its slot
was granted alone: with several in flight, bodies built at different speeds arrive bunched
and cross the window edge (a dialer counting arrivals answers 429).

A request whose run was killed mid-flight ends, for the count, when its process is found dead
(it cannot arrive later than that) or, on another host, when its lease runs out. Grants are
serialised by a row lock on the account's and the campaign's rows of ``lf_rate_keys`` (the
database lock on SQLite), taken in that order. Times are wall-clock seconds (``time.time()``),
so runs on several hosts sharing a PostgreSQL ledger need synchronised clocks (NTP); the
margin covers clock granularity, not clock skew between hosts.

Spacing (Voiso: 2 s from the end of one request to the start of the next per campaign) and
requests in flight per campaign are kept in the same transaction: the campaign's leases
(``lf_rate_leases``) and the end of its last request (``lf_rate_keys.last_end``).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks.ledger import Ledger, create_tables, metadata
from tasks.providers.base import RateWindow
from tasks.stop import pause

sends = sa.Table(
    "lf_rate_sends", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, index=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("granted", sa.Float, nullable=False),
    sa.Column("ended", sa.Float, nullable=True),
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
#: Seconds added to every window and spacing (clock granularity between leadflow's and the dialer's count).
WINDOW_MARGIN_S = 0.05
#: This process, as named in the leases it holds (so a rerun can drop the leases of a killed run).
_HOST = socket.gethostname()
#: Poll interval while waiting for a slot.
POLL_S = 0.05


class RateLimiter:
    """Account-wide sliding windows (counted on arrival) plus per-campaign in-flight and spacing limits."""

    def __init__(self, ledger: Ledger, *, enabled: bool = True, request_timeout_s: float = 60.0) -> None:
        self.engine = ledger.engine
        self.enabled = enabled
        self.lease_s = request_timeout_s + LEASE_MARGIN_S
        create_tables(self.engine, [sends, leases, spacing])

    @contextmanager
    def slot(self, account_key: str, windows: tuple[RateWindow, ...], campaign_key: str,
             min_spacing_s: float, max_in_flight: int, timeout_s: float = 3600.0) -> Iterator[float]:
        """Wait for a request slot; yields the seconds waited. The request runs inside.

        The slot is granted as soon as the limits allow (never after a refusal); leaving the
        block records when the answer came back, which frees the slot and starts the spacing.
        """
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
            pause(min(max(wait, POLL_S / 5), 5.0))
        try:
            yield time.monotonic() - started
        finally:
            self._release(holder, campaign_key, min_spacing_s, bool(windows))

    def _try_acquire(self, holder: str, account_key: str, windows: tuple[RateWindow, ...],
                     campaign_key: str, min_spacing_s: float, max_in_flight: int) -> float:
        """Take the slot (0.0) or say how long to wait before asking again."""
        try:
            with self.engine.begin() as c:
                if windows:
                    _lock(c, f"window:{account_key}")
                last_end = _lock(c, campaign_key)
                now = time.time()
                wait = self._campaign_wait(c, campaign_key, now, last_end, min_spacing_s, max_in_flight)
                if wait <= 0 and windows:
                    wait = self._window_wait(c, account_key, windows, now)
                if wait > 0:
                    return wait
                if windows:
                    c.execute(sends.insert().values(key=account_key, holder=holder, granted=now, ended=None))
                c.execute(leases.insert().values(holder=holder, key=campaign_key, expires=now + self.lease_s))
                return 0.0
        except sa.exc.IntegrityError:  # two runs created the same lock row at once: ask again
            return POLL_S

    def _campaign_wait(self, c: Connection, campaign_key: str, now: float, last_end: float,
                       min_spacing_s: float, max_in_flight: int) -> float:
        holders = c.execute(sa.select(leases.c.holder).where(
            leases.c.key == campaign_key, leases.c.expires > now)).scalars().all()
        dead = [h for h in holders if dead_here(h)]
        if dead:
            c.execute(leases.delete().where(leases.c.holder.in_(dead)))
        if len(holders) - len(dead) >= max_in_flight:
            return POLL_S
        # The dialer's request ends when it has sent the answer, a little after leadflow has read it.
        spaced = last_end + min_spacing_s + WINDOW_MARGIN_S
        if min_spacing_s and now < spaced:
            return spaced - now
        return 0.0

    def _window_wait(self, c: Connection, account_key: str, windows: tuple[RateWindow, ...], now: float) -> float:
        """Seconds until every window has room for one more arrival (see the module docstring)."""
        longest = max(w.seconds for w in windows) + WINDOW_MARGIN_S
        c.execute(sends.delete().where(sends.c.key == account_key, sends.c.ended < now - longest - 1))
        open_ = c.execute(sa.select(sends.c.id, sends.c.holder, sends.c.granted).where(
            sends.c.key == account_key, sends.c.ended.is_(None))).all()
        for row in open_:  # requests that can no longer arrive: their run died, or their lease ran out
            if dead_here(row.holder):
                c.execute(sends.update().where(sends.c.id == row.id).values(ended=now))
            elif row.granted + self.lease_s < now:
                c.execute(sends.update().where(sends.c.id == row.id).values(ended=row.granted + self.lease_s))
        ends = c.execute(sa.select(sends.c.ended).where(
            sends.c.key == account_key, sa.or_(sends.c.ended.is_(None), sends.c.ended > now - longest))).scalars().all()
        in_flight = sum(1 for e in ends if e is None)
        done = sorted(e for e in ends if e is not None)
        wait = 0.0
        for w in windows:
            span = w.seconds + WINDOW_MARGIN_S
            recent = [e for e in done if e > now - span]
            over = in_flight + len(recent) - w.max_requests
            if over < 0:
                continue
            if in_flight >= w.max_requests:
                return POLL_S  # the window is full of requests still out: wait for answers
            wait = max(wait, recent[over] + span - now)
        return wait

    def _release(self, holder: str, campaign_key: str, min_spacing_s: float, counted: bool) -> None:
        with self.engine.begin() as c:
            now = time.time()
            if counted:
                c.execute(sends.update().where(sends.c.holder == holder).values(ended=now))
            c.execute(leases.delete().where(leases.c.holder == holder))
            if min_spacing_s:
                c.execute(spacing.update().where(spacing.c.key == campaign_key).values(last_end=now))


def _lock(c: Connection, key: str) -> float:
    """Take the write lock of ``key``'s row (a row lock on PostgreSQL, the database lock on SQLite).

    Returns the row's ``last_end`` (the end of the key's last request, for spacing).
    """
    updated = c.execute(spacing.update().where(spacing.c.key == key).values(last_end=spacing.c.last_end)).rowcount
    if not updated:
        c.execute(spacing.insert().values(key=key, last_end=0.0))
    return float(c.execute(sa.select(spacing.c.last_end).where(spacing.c.key == key)).scalar_one())


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
