"""One run per campaign at a time: the lease in the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest

from tasks.lease import CampaignBusyError, CampaignLease, campaign_leases
from tasks.ledger import Ledger

#: Tests that wait for a lease to be released, to expire or to be renewed: they run in real time.
real_time = pytest.mark.slow


def lease(url: str, run_id: str, campaign: str = "4001", **kw: float) -> CampaignLease:
    """A lease as a separate run would take it (its own engine)."""
    return CampaignLease(Ledger(url), provider="engage-voice", account="99990001", campaign=campaign,
                         run_id=run_id, **kw)


def test_a_second_run_is_refused_while_the_first_holds_the_campaign(ledger_url: str) -> None:
    first = lease(ledger_url, "run-a")
    first.acquire()
    second = lease(ledger_url, "run-b")
    with pytest.raises(CampaignBusyError, match=r"engage-voice campaign 4001 .*run run-a.*one run per campaign"):
        second.acquire()
    with lease(ledger_url, "run-c", campaign="4002"):  # another campaign is free
        pass
    first.release()
    with second, pytest.raises(CampaignBusyError, match="run-b"):
        lease(ledger_url, "run-d").acquire()


@real_time
def test_a_waiting_run_starts_when_the_first_ends(ledger_url: str) -> None:
    first = lease(ledger_url, "run-a")
    first.acquire()
    threading.Timer(1.0, first.release).start()
    started = time.monotonic()
    with lease(ledger_url, "run-b", wait_s=20.0):
        assert 0.8 < time.monotonic() - started < 10


@real_time
def test_a_crashed_runs_lease_expires(ledger_url: str) -> None:
    crashed = lease(ledger_url, "run-a", ttl_s=1.5, heartbeat_s=60.0)
    crashed.acquire()  # not renewed within the test: its process is alive but stuck
    try:
        with pytest.raises(CampaignBusyError):
            lease(ledger_url, "run-b").acquire()
        started = time.monotonic()
        with lease(ledger_url, "run-b", wait_s=20.0):
            assert time.monotonic() - started < 10
    finally:
        crashed.release()  # ends its heartbeat thread; the lease is no longer its own


def test_a_killed_process_frees_its_lease_at_once(ledger_url: str) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    ledger = Ledger(ledger_url)
    lease(ledger_url, "probe").release()  # creates the table
    with ledger.begin() as c:
        c.execute(campaign_leases.insert().values(
            key="engage-voice|99990001|4001", run_id="run-killed", holder=f"{socket.gethostname()}:{dead.pid}",
            taken_at=time.time(), expires=time.time() + 3600))
    with lease(ledger_url, "run-b"):
        pass


@real_time
def test_the_heartbeat_keeps_a_long_run_s_lease(ledger_url: str) -> None:
    with lease(ledger_url, "run-a", ttl_s=1.0, heartbeat_s=0.2):
        time.sleep(2.0)
        with pytest.raises(CampaignBusyError, match="run-a"):
            lease(ledger_url, "run-b").acquire()
