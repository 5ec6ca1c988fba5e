"""Schedules fire: ``prefect deploy --all`` on a fresh server yields scheduled runs, and a worker runs them.

Both servers a deployment may have: the default one on SQLite, and the PostgreSQL-backed one of the
session's stack. Nothing here shortens the server's own loops: the settings are a user's defaults.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from orchhelp import Stack, running_stack, seed_crm, wait_for

pytestmark = [pytest.mark.server, pytest.mark.slow]

#: The deployments of prefect.yaml that carry a schedule, with the flow each one runs.
SCHEDULED = {"engage-4001-nightly": "load-leads", "engage-4002-nightly": "load-leads",
             "watch-landing": "watch-landing", "sense-crm-leads": "sense-new-rows",
             "engage-4001-dispositions": "sync-dispositions"}
#: How long after ``prefect deploy --all`` every scheduled deployment must have runs waiting.
WITHIN_S = 60.0


def scheduled_runs(stack: Stack, deployment: str) -> list[dict[str, Any]]:
    dep = stack.deployment(deployment, SCHEDULED[deployment])
    return [r for r in stack.runs_of(dep["id"]) if r["auto_scheduled"] and r["state_type"] == "SCHEDULED"]


def assert_every_schedule_fires(stack: Stack, deployed_at: float) -> None:
    for name in SCHEDULED:
        left = max(WITHIN_S - (time.monotonic() - deployed_at), 1.0)
        runs = wait_for(lambda name=name: scheduled_runs(stack, name), f"scheduled runs of {name}", timeout_s=left)
        # Runs nobody took are Late (still SCHEDULED); the schedule keeps runs ahead all the same.
        assert any(datetime.fromisoformat(r["expected_start_time"]) > datetime.now(UTC) for r in runs), name


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory, engage_sim: str) -> Iterator[tuple[Stack, float]]:
    """A fresh server on its default SQLite database; the worker takes the sensors' queue."""
    root: Path = tmp_path_factory.mktemp("schedules-sqlite")
    with running_stack(root, engage_sim, ("sensors",), database_url=None,
                       ledger_url=f"sqlite:///{root / 'ledger.db'}") as stack:
        yield stack, time.monotonic()


def test_on_sqlite_every_schedule_fires_and_the_worker_runs_a_scheduled_run(
        sqlite_stack: tuple[Stack, float]) -> None:
    stack, deployed_at = sqlite_stack
    assert_every_schedule_fires(stack, deployed_at)

    # watch-landing runs every minute: its next run comes due while the test waits, and the worker takes it.
    dep = stack.deployment("watch-landing", "watch-landing")
    done = wait_for(lambda: [r for r in stack.runs_of(dep["id"])
                             if r["auto_scheduled"] and r["state_type"] == "COMPLETED"],
                    "a scheduled watch-landing run to complete", timeout_s=150)
    assert done[0]["parameters"]["directory"] == str(stack.landing)


def test_on_postgresql_the_nightly_schedules_fire_and_a_worker_completes_one(stack: Stack) -> None:
    assert_every_schedule_fires(stack, deployed_at=time.monotonic())
    nightly = scheduled_runs(stack, "engage-4001-nightly")
    assert {r["name"] for r in nightly} and all(r["parameters"]["campaign"] == "4001" for r in nightly)

    # The next one is tomorrow at 02:00 New York time: bring that run forward, the worker does the rest.
    # The nightly reads the CRM incrementally and the stack is shared: whatever ran before, one new row
    # (above every other test's watermark) is there for this run to read.
    first = min(nightly, key=lambda r: r["expected_start_time"])
    seed_crm(stack.crm_url, {"id": "S1", "n": "Edsger", "p": "617-253-1000", "s": "MA", "z": "02139", "u": 5000})
    now = datetime.now(UTC).isoformat()
    stack.post(f"/flow_runs/{first['id']}/set_state",
               {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": now}}, "force": True})
    run = stack.finished(first["id"])

    assert run["auto_scheduled"] is True
    record = stack.ledger_run(first["id"])
    assert record["status"] == "completed" and record["rows_read"] >= 1
    engine = sa.create_engine(stack.crm_url)  # the nightly run wrote each lead it read back into the CRM
    with engine.connect() as conn:
        mine = conn.execute(sa.text("select source_key from leadflow_outcomes where campaign = '4001'"
                                    " and run_id = :r"), {"r": first["id"]}).scalars().all()
    engine.dispose()
    assert len(mine) == record["rows_read"] and "S1" in mine
