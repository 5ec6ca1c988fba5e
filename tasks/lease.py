"""One run per campaign at a time: a lease in the ledger, renewed while its run lives.

Any entry point (command line, deployment, a script calling the flow) takes the lease of its
provider, account and campaign before it looks up or sends anything, so two runs never send the
same leads side by side, and a run never reconciles the batches another live run has out. A
crashed run's lease ends when it expires (``LEASE_TTL_S`` after its last heartbeat), or at once
when its process is known to be gone (same host, no such process).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from types import TracebackType

import sqlalchemy as sa

from tasks.ledger import Ledger, create_tables, metadata
from tasks.ratelimit import dead_here, this_process
from tasks.stop import pause

log = logging.getLogger(__name__)

campaign_leases = sa.Table(
    "lf_campaign_leases", metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("taken_at", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
)

#: Seconds a lease lives without a heartbeat (how long a crashed run on another host blocks the next).
LEASE_TTL_S = 60.0
#: Seconds between heartbeats.
HEARTBEAT_S = 10.0
#: Seconds between tries while waiting for a busy campaign.
RETRY_S = 1.0


class CampaignBusyError(Exception):
    """Another live run holds the campaign's lease."""


class CampaignLease:
    """The lease of one campaign for one run; a context manager that takes, renews and frees it."""

    def __init__(self, ledger: Ledger, *, provider: str, account: str | None, campaign: str, run_id: str,
                 wait_s: float = 0.0, ttl_s: float = LEASE_TTL_S, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.ledger, self.run_id, self.wait_s = ledger, run_id, wait_s
        self.ttl_s, self.heartbeat_s = ttl_s, heartbeat_s
        self.key = f"{provider}|{account or '-'}|{campaign}"
        self.what = f"{provider} campaign {campaign}" + (f" (account {account})" if account else "")
        self.holder = this_process()
        self.lost = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        create_tables(ledger.engine, [campaign_leases])

    def __enter__(self) -> CampaignLease:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lease, waiting up to ``wait_s`` for another run to end; then renew it in the background.

        Raises:
            CampaignBusyError: another live run still holds it.
        """
        started = time.monotonic()
        while True:
            other = self._try_take()
            if other is None:
                break
            if time.monotonic() - started >= self.wait_s:
                since = datetime.fromtimestamp(other.taken_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                raise CampaignBusyError(
                    f"{self.what} is being loaded by run {other.run_id} ({other.holder}, since {since}); "
                    "one run per campaign at a time: try again when it ends"
                    + (f" (waited {self.wait_s:.0f} s)" if self.wait_s else " (or wait for it with --wait SECONDS)"))
            pause(min(RETRY_S, max(self.wait_s - (time.monotonic() - started), 0.05)))
        self._beat = threading.Thread(target=self._heartbeat, name="leadflow-lease", daemon=True)
        self._beat.start()

    def _try_take(self) -> sa.Row[tuple[str, str, str, float, float]] | None:
        """Take the lease if it is free, expired, ours, or held by a dead process here; else its holder."""
        for _ in range(3):
            now = time.time()
            mine = {"run_id": self.run_id, "holder": self.holder, "taken_at": now, "expires": now + self.ttl_s}
            t = campaign_leases.c
            with self.ledger.begin() as c:
                taken = c.execute(campaign_leases.update().where(
                    t.key == self.key, sa.or_(t.expires < now, t.run_id == self.run_id)).values(**mine)).rowcount
            if taken:
                return None
            try:
                with self.ledger.begin() as c:
                    c.execute(campaign_leases.insert().values(key=self.key, **mine))
                return None
            except sa.exc.IntegrityError:
                pass
            with self.ledger.engine.connect() as c:
                other = c.execute(sa.select(campaign_leases).where(t.key == self.key)).one_or_none()
            if other is None:
                continue
            if not dead_here(other.holder):
                return other
            with self.ledger.begin() as c:
                c.execute(campaign_leases.delete().where(t.key == self.key, t.holder == other.holder))
        raise CampaignBusyError(f"{self.what}: the lease keeps changing hands; try again")

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.renew()
            except sa.exc.SQLAlchemyError as ex:  # the next beat tries again; the lease lasts ttl_s
                log.warning("lease of %s not renewed: %s", self.what, type(ex).__name__)

    def renew(self) -> None:
        """Push the lease's expiry on; notes (``lost``) when another run has taken it meanwhile."""
        t = campaign_leases.c
        with self.ledger.begin() as c:
            kept = c.execute(campaign_leases.update().where(t.key == self.key, t.run_id == self.run_id)
                             .values(expires=time.time() + self.ttl_s)).rowcount
        if not kept and not self.lost:
            self.lost = True
            log.warning("the lease of %s was taken by another run", self.what)

    def release(self) -> None:
        """Stop the heartbeat and free the lease (if it is still ours)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(5.0)
            self._beat = None
        t = campaign_leases.c
        with self.ledger.begin() as c:
            c.execute(campaign_leases.delete().where(t.key == self.key, t.run_id == self.run_id))
