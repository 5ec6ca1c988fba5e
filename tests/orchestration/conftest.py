"""One Prefect server on PostgreSQL per session, the deployments of prefect.yaml, a worker and the simulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from orchhelp import PG, QUEUES, WAIT_S, Stack, create_database, drop_database, free_port


@pytest.fixture(scope="session")
def engage_sim() -> Iterator[str]:
    from simulators.engage_voice import create_app
    from simulators.server import serve

    with serve(create_app()) as sim:
        yield sim.url


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, engage_sim: str) -> Iterator[Stack]:
    """Server (PostgreSQL), work pool and queues, ``prefect deploy --all``, one worker in the background."""
    from flows.server import ensure_server, stop_server

    root = tmp_path_factory.mktemp("orchestration")
    prefect_db, ledger_db = create_database("lf_prefect"), create_database("lf_ledger")
    port = free_port()
    server_env = {"PREFECT_HOME": str(root / "server-home"), "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "true",
                  "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://postgres@{PG}/{prefect_db}"}
    worker: subprocess.Popen[bytes] | None = None
    try:
        api = ensure_server(port, timeout_s=WAIT_S, env=server_env)
        home = (root / "home").resolve()
        landing = home / "landing"
        (landing / "engage-voice" / "4001").mkdir(parents=True)
        env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(root / "client-home"),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PYTHONTZPATH": "",
               "LEADFLOW_LANDING_DIR": str(landing)}
        st = Stack(api=api, env=env, home=home, landing=landing,
                   ledger_url=f"postgresql+psycopg://postgres@{PG}/{ledger_db}",
                   crm_url=f"sqlite:///{root / 'crm.db'}", sim_url=engage_sim)
        st.prefect("work-pool", "create", "leadflow-pool", "--type", "process")
        for queue in QUEUES:
            st.post("/work_pools/leadflow-pool/queues", {"name": queue, "concurrency_limit": 1})
        st.prefect("deploy", "--all")
        from tasks.ledger import Ledger

        Ledger(st.ledger_url).engine.dispose()
        worker_env = {**env, "LEADFLOW_HOME": str(home), "LEADFLOW_LEDGER_URL": st.ledger_url,
                      "LEADFLOW_CRM_URL": st.crm_url, "ENGAGE_VOICE_BASE_URL": engage_sim,
                      "ENGAGE_VOICE_API_TOKEN": "sim-engage-api-token", "PREFECT_WORKER_QUERY_SECONDS": "1",
                      "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
        queues = [arg for q in QUEUES for arg in ("--work-queue", q)]
        with (root / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "leadflow-pool", *queues],
                cwd=home, env=worker_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        yield st
    finally:
        _drain()
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        _reap_server(port)
        stop_server(port)
        drop_database(prefect_db)
        drop_database(ledger_db)


def _drain() -> None:
    """Hand this process's pending logs and events to the server while it still answers."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=10)
    APILogWorker.drain_all(timeout=10)


def _reap_server(port: int) -> None:
    """Stop the server this process started and wait for it, so that no zombie outlives the session."""
    from flows.server import STATE_DIR

    pid_file = STATE_DIR / f"server-{port}.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


@pytest.fixture
def api_settings(stack: Stack) -> Iterator[Stack]:
    """This process's Prefect client talks to the session server (inside any other harness).

    Event and log workers are drained on the way in and out: they keep the API URL they started with.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: stack.api}):
        _drain()
        yield stack
        _drain()
