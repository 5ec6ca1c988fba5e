"""One Prefect server on PostgreSQL per session, the deployments of prefect.yaml, a worker and the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from orchhelp import PG, QUEUES, Stack, create_database, drain, drop_database, running_stack


@pytest.fixture(scope="session")
def engage_sim() -> Iterator[str]:
    from simulators.engage_voice import create_app
    from simulators.server import serve

    with serve(create_app()) as sim:
        yield sim.url


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, engage_sim: str) -> Iterator[Stack]:
    """Server (PostgreSQL), work pool and queues, ``prefect deploy --all``, one worker in the background."""
    prefect_db, ledger_db = create_database("lf_prefect"), create_database("lf_ledger")
    try:
        with running_stack(tmp_path_factory.mktemp("orchestration"), engage_sim, (*QUEUES, "control", "dispositions"),
                           database_url=f"postgresql+asyncpg://postgres@{PG}/{prefect_db}",
                           ledger_url=f"postgresql+psycopg://postgres@{PG}/{ledger_db}") as st:
            yield st
    finally:
        drop_database(prefect_db)
        drop_database(ledger_db)


@pytest.fixture
def api_settings(stack: Stack) -> Iterator[Stack]:
    """This process's Prefect client talks to the session server (inside any other harness).

    Event and log workers are drained on the way in and out: they keep the API URL they started with.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: stack.api}):
        drain()
        yield stack
        drain()
