"""Shared fixtures: one Prefect test server per session (per xdist worker), env hygiene, Hypothesis profiles."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from profiles import load_profile

# Hypothesis profiles "dev" and "ci": see tests/profiles.py.
load_profile()

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PYTHONTZPATH"] = ""


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server and database for flow tests (started once per session, so once per worker).

    Flow runs in this process send no Prefect heartbeats: the heartbeat thread sleeps in one-second
    steps and each run waits for it to notice the end (half a second a run, on average), while
    nothing here watches for crashed runs. Runs in subprocesses and on the server stack keep them.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), \
            prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def clean_provider_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No provider credentials or base URLs leak in from the machine's environment."""
    for name in list(os.environ):
        if name.startswith(("ENGAGE_VOICE_", "NLPEARL_", "VOISO_", "LEADFLOW_")):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the session's server stack (tests/orchestration) share one xdist worker.

    With ``--dist loadgroup`` (``make test``) the PostgreSQL-backed server, its worker and deployments
    then start once, not once per worker; every other test goes to whichever worker is free.
    """
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("server-stack"))


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh ledger database of each kind: a SQLite file, and a new database on the machine's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    name = f"lf_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'create database "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
