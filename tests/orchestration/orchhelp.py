"""Helpers of the orchestration tests: the server stack, polling, databases and the sample leads."""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from docblocks import commands, readme_block

REPO = Path(__file__).resolve().parents[2]
PG = "127.0.0.1:5432"
#: Seconds a test waits for a run, a trigger or a worker before it gives up.
WAIT_S = 180.0
#: Queues of prefect.yaml whose runs the test worker executes (the sensors queue stays idle).
QUEUES = ("engage-voice-4001", "engage-voice-4002", "adhoc")
#: The do-not-call list every load deployment applies (LEADFLOW_DNC_FILE at deploy time): one number
#: that none of LEADS has, so the expected counts stay as they are.
DNC_NUMBERS = ["3125550142"]
#: Six leads: four to load, one invalid phone, one duplicate of the first.
LEADS = [
    {"Lead ID": "L1", "First Name": "Ada", "Phone Number": "(415) 867-5309", "State": "CA", "ZIP": "94105"},
    {"Lead ID": "L2", "First Name": "Alan", "Phone Number": "+1 212.736.4410", "State": "NY", "ZIP": "10001"},
    {"Lead ID": "L3", "First Name": "Grace", "Phone Number": "4158675309", "State": "CA", "ZIP": "94105"},
    {"Lead ID": "L4", "First Name": "Edsger", "Phone Number": "12345", "State": "TX", "ZIP": "75001"},
    {"Lead ID": "L5", "First Name": "Barbara", "Phone Number": "617-253-1000", "State": "MA", "ZIP": "02139"},
    {"Lead ID": "L6", "First Name": "Frances", "Phone Number": "907-786-1800", "State": "AK", "ZIP": "99508"},
]
EXPECTED = {"loaded": 4, "invalid": 1, "duplicate": 1}


def write_leads(path: Path, age_s: float = 60.0) -> Path:
    """The six leads as a CSV file, last modified ``age_s`` ago (complete, for the watcher)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(LEADS[0]))
        writer.writeheader()
        writer.writerows(LEADS)
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_log(port: int) -> Path:
    """The log file ``flows.server.ensure_server`` writes for the server on ``port``."""
    from flows.server import STATE_DIR

    return (STATE_DIR / f"server-{port}.log").resolve()


#: A log record of the server: it starts with its time (``00:15:19.165 | ERROR | ...``).
_RECORD = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \| ", re.MULTILINE)
#: SQLite refusing a write while another holds the file: a server on SQLite (the default) meets it when
#: its services write at once (marking runs late while the scheduler inserts); the service's next loop
#: does the write. Transient, unlike a service that fails every loop.
_SQLITE_BUSY = "sqlite3.OperationalError) database is locked"


def assert_no_server_tracebacks(log: Path) -> None:
    """Fail when the server logged a traceback (its background services fail without an API error),
    other than SQLite's transient ``database is locked``."""
    text = log.read_text(errors="replace") if log.exists() else ""
    starts = [m.start() for m in _RECORD.finditer(text)] or [0]
    records = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    failing = [r for r in records if "Traceback (most recent call last)" in r and _SQLITE_BUSY not in r]
    if failing:
        first = failing[0]
        pytest.fail(f"the Prefect server logged a traceback ({log}):\n{first[:3000]}")


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = WAIT_S, every_s: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail the test with ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(every_s)


def create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"postgresql+psycopg://postgres@{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    admin.dispose()
    return name


def drop_database(name: str) -> None:
    admin = sa.create_engine(f"postgresql+psycopg://postgres@{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@dataclass
class Stack:
    """The running pieces a server test talks to."""

    api: str
    env: dict[str, str]
    home: Path
    landing: Path
    ledger_url: str
    crm_url: str
    sim_url: str
    server_log: Path

    def prefect(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the ``prefect`` CLI against the test server from the repository root."""
        done = subprocess.run([sys.executable, "-m", "prefect", *args], cwd=REPO, env={**self.env, **env},
                              capture_output=True, text=True, timeout=WAIT_S, check=False)
        if check and done.returncode:
            pytest.fail(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def shell(self, command: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a shell command (a documented one, as written) from the repository root; fail on error."""
        done = subprocess.run(["bash", "-c", command], cwd=REPO, env={**self.env, **env}, capture_output=True,
                              text=True, timeout=WAIT_S, check=False)
        if done.returncode:
            pytest.fail(f"{command} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.api}{path}", timeout=30).raise_for_status().json()

    def post(self, path: str, body: Any) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body, timeout=30).raise_for_status()
        return response.json() if response.content else None

    def deployment(self, name: str, flow: str = "load-leads") -> dict[str, Any]:
        return self.get(f"/deployments/name/{flow}/{name}")  # type: ignore[no-any-return]

    def runs_of(self, deployment_id: str) -> list[dict[str, Any]]:
        return self.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}},  # type: ignore[no-any-return]
                                               "sort": "EXPECTED_START_TIME_ASC", "limit": 50})

    def run(self, run_id: str) -> dict[str, Any]:
        return self.get(f"/flow_runs/{run_id}")  # type: ignore[no-any-return]

    def ledger_run(self, run_id: str) -> dict[str, Any]:
        """The ledger's record of a load run (rows read, outcomes, status)."""
        from tasks.ledger import Ledger

        rows = Ledger(self.ledger_url).list_runs(run_id=run_id)
        assert rows, f"run {run_id} is not in the ledger"
        return rows[0]

    def finished(self, run_id: str) -> dict[str, Any]:
        """Wait for a flow run to end; fail unless it completed."""
        run = wait_for(lambda: (r := self.run(run_id))["state_type"] in ("COMPLETED", "FAILED", "CRASHED",
                                                                         "CANCELLED") and r,
                       f"flow run {run_id}")
        if run["state_type"] != "COMPLETED":
            pytest.fail(f"flow run {run_id} ended {run['state_type']}: {run['state']['message']}")
        return run  # type: ignore[no-any-return]


def seed_crm(url: str, extra: dict[str, Any] | None = None) -> None:
    """The CRM table the nightly and sensor deployments read: the six leads (once), plus ``extra``."""
    engine = sa.create_engine(url)
    insert = sa.text("insert into crm_leads values (:id, :n, :p, :s, :z, :u)")
    with engine.begin() as conn:
        conn.execute(sa.text("create table if not exists crm_leads (id text, first_name text, phone text,"
                             " state text, zip text, updated_at integer)"))
        if not conn.execute(sa.text("select count(*) from crm_leads")).scalar():
            for i, lead in enumerate(LEADS, start=1):
                conn.execute(insert, {"id": lead["Lead ID"], "n": lead["First Name"], "p": lead["Phone Number"],
                                      "s": lead["State"], "z": lead["ZIP"], "u": i})
        if extra:
            conn.execute(insert, extra)
    engine.dispose()


@contextmanager
def running_stack(root: Path, sim_url: str, queues: tuple[str, ...], *, database_url: str | None,
                  ledger_url: str) -> Iterator[Stack]:
    """A Prefect server (on ``database_url``, or SQLite in its home), the pool and queues of prefect.yaml,
    ``prefect deploy --all`` and a process worker on ``queues``; stopped on the way out.

    Leaving, it fails the test session when the server logged a traceback: a server that fails in its
    background services (the scheduler, triggers) answers the API all the same.
    """
    from flows.server import ensure_server, stop_server

    port = free_port()
    server_log(port).unlink(missing_ok=True)
    server_env = {"PREFECT_HOME": str(root / "server-home"), "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "true"}
    if database_url:
        server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    worker: subprocess.Popen[bytes] | None = None
    try:
        api = ensure_server(port, timeout_s=WAIT_S, env=server_env)
        home = (root / "home").resolve()
        landing = home / "landing"
        (landing / "engage-voice" / "4001").mkdir(parents=True)
        dnc = home / "dnc.txt"
        dnc.write_text("\n".join(DNC_NUMBERS) + "\n")
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # prefect, leadflow
        env = {**os.environ, "PATH": path, "PREFECT_API_URL": api, "PREFECT_HOME": str(root / "client-home"),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PYTHONTZPATH": "",
               "LEADFLOW_LANDING_DIR": str(landing), "LEADFLOW_DNC_FILE": str(dnc)}
        st = Stack(api=api, env=env, home=home, landing=landing, ledger_url=ledger_url,
                   crm_url=f"sqlite:///{root / 'crm.db'}", sim_url=sim_url, server_log=server_log(port))
        # The README's deployment block as written (its variables come from ``env``; the worker is below).
        for command in commands(readme_block("prefect deploy --all")):
            if not command.startswith(("export ", "prefect worker start")):
                st.shell(command)
        from tasks.ledger import Ledger

        Ledger(st.ledger_url).engine.dispose()
        worker_env = {**env, "LEADFLOW_HOME": str(home), "LEADFLOW_LEDGER_URL": st.ledger_url,
                      "LEADFLOW_CRM_URL": st.crm_url, "ENGAGE_VOICE_BASE_URL": sim_url,
                      "ENGAGE_VOICE_API_TOKEN": "sim-engage-api-token", "PREFECT_WORKER_QUERY_SECONDS": "1",
                      "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
        queue_args = [arg for q in queues for arg in ("--work-queue", q)]
        with (root / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "leadflow-pool", *queue_args],
                cwd=home, env=worker_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        yield st
    finally:
        drain()
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        _reap_server(port)
        stop_server(port)
    assert_no_server_tracebacks(server_log(port))


def drain() -> None:
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
