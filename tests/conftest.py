"""Shared fixtures: one Prefect test server for the whole session, loopback simulators, env hygiene."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# CI runs the same examples every time (a failure there is reproducible, not a new draw) and, on a
# busy 2-core machine, judges no example by its speed.
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PYTHONTZPATH"] = ""


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server and database for flow tests (started once per session)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def clean_provider_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No provider credentials or base URLs leak in from the machine's environment."""
    for name in list(os.environ):
        if name.startswith(("ENGAGE_VOICE_", "NLPEARL_", "VOISO_", "LEADFLOW_")):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch
