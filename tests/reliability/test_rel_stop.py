"""Ctrl-C and SIGTERM on a real ``leadflow run`` against a slow simulator, and two runs of one campaign at once.

A stopped run takes no new batch, lets the requests out finish (or stops awaiting them after a
few seconds), records exactly what was sent, and exits within 10 s with one line and no
traceback; the next single run completes, and the simulator holds every lead exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from relhelp import CAMPAIGNS, CREDENTIALS, SimView, assert_stored_once, lead_rows, write_csv

from flows.cli import main
from simulators import engage_voice
from simulators.app import SimApp
from simulators.server import serve
from tasks.ledger import Ledger, batches

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

LEADS = 30  # ten batches of 3, four in flight at a time
LEADFLOW = Path(sys.executable).with_name("leadflow")


@pytest.fixture
def engage(clean_provider_env: pytest.MonkeyPatch) -> Iterator[SimView]:
    """A fresh Engage simulator on loopback, and its credentials in this process's environment."""
    for key, value in CREDENTIALS.items():
        clean_provider_env.setenv(key, value)
    app = engage_voice.create_app()
    assert isinstance(app, SimApp)
    with serve(app) as running:
        view = SimView("engage-voice", running.url, app)
        yield view
        view.faults()
        view.wait_idle(60)


def cli_args(view: SimView, tmp: Path, name: str) -> list[str]:
    return ["run", "--source", str(tmp / "leads.csv"), "--provider", "engage-voice",
            "--campaign", CAMPAIGNS["engage-voice"], "--base-url", view.url, "--ledger", f"sqlite:///{tmp / 'l.db'}",
            "--batch-size", "3", "--output-dir", str(tmp / "out"), "--outcomes", str(tmp / f"{name}.csv"),
            "--report", str(tmp / f"{name}.json"), "--provider-option", "duplicate_handling=RETAIN_ALL",
            "--max-attempts", "2"]


def start_cli(view: SimView, tmp: Path, name: str, *, temporary_server: bool = False) -> subprocess.Popen[str]:
    """``leadflow run`` in a subprocess (a session of its own), on this session's Prefect server, or
    with ``temporary_server`` on Prefect's temporary local server, as a new user would run it."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, **CREDENTIALS, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    if temporary_server:
        env.pop("PREFECT_API_URL")
        env["PREFECT_HOME"] = str(tmp / "prefect-home")
    return subprocess.Popen([str(LEADFLOW), *cli_args(view, tmp, name)], env=env, cwd=tmp, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def wait_for(check: object, limit_s: float = 90.0) -> None:
    deadline = time.monotonic() + limit_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stop_and_time(proc: subprocess.Popen[str], sig: signal.Signals, *, group: bool = False) -> tuple[float, str]:
    """Send ``sig`` (to the process group, as a terminal does, with ``group``); seconds until the process
    ended, and its stderr."""
    sent = time.monotonic()
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"still running 30 s after {sig.name}: {err[-2000:]}")
    return time.monotonic() - sent, err


def ledger_status(tmp: Path) -> dict[str, str]:
    """Ledger status of each lead recorded, by external id."""
    ledger = Ledger(f"sqlite:///{tmp / 'l.db'}")
    with ledger.engine.connect() as c:
        batch_ids = [str(b) for b in c.execute(sa.select(batches.c.batch_id)).scalars()]
    status: dict[str, str] = {}
    for batch_id in batch_ids:
        recorded = ledger.batch_leads(batch_id)
        status.update(zip(recorded["external_id"].astype(str), recorded["status"].astype(str), strict=True))
    return status


def assert_recorded_exactly(view: SimView, tmp: Path) -> None:
    """Every lead the simulator holds is recorded as sent (loaded, or sending: unknown), and every lead
    recorded as loaded is held."""
    status = ledger_status(tmp)
    held = set(view.stored_keys())
    assert held <= {k for k, s in status.items() if s in ("loaded", "sending")}, (held, status)
    assert {k for k, s in status.items() if s == "loaded"} <= held


def rerun_completes(view: SimView, tmp: Path, capfd: pytest.CaptureFixture[str]) -> None:
    view.faults()
    capfd.readouterr()
    assert main(cli_args(view, tmp, "rerun")) == 0, capfd.readouterr().err[-2000:]
    view.wait_idle()
    assert_stored_once(view, [f"L{i}" for i in range(LEADS)])


STOPS = {"ctrl-c": (signal.SIGINT, False), "sigterm": (signal.SIGTERM, False),
         "terminal ctrl-c, temporary server": (signal.SIGINT, True)}


@pytest.mark.parametrize(("sig", "temporary"), STOPS.values(), ids=STOPS.keys())
def test_a_stopped_run_exits_promptly_and_the_next_run_completes(engage: SimView, tmp_path: Path, sig: signal.Signals,
                                                                 temporary: bool,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    write_csv(tmp_path / "leads.csv", lead_rows(LEADS))
    engage.faults({"delay_s": 2.0, "times": 1000})
    proc = start_cli(engage, tmp_path, "stopped", temporary_server=temporary)
    wait_for(lambda: len(engage.load_requests()) >= 4 or proc.poll() is not None, 180)
    time.sleep(0.5)
    took, err = stop_and_time(proc, sig, group=temporary)
    assert proc.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], err[-3000:]
    assert took < 10, f"took {took:.1f} s"
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("leadflow:")]
    assert len(lines) == 1 and "stopped by" in lines[0], err[-3000:]
    engage.wait_idle()
    sent = len(engage.load_requests())
    assert sent < LEADS // 3, "the run should have stopped before sending every batch"
    assert_recorded_exactly(engage, tmp_path)
    rerun_completes(engage, tmp_path, capfd)


def test_a_request_still_out_after_the_grace_is_not_awaited_and_looked_up_next_time(
        engage: SimView, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    write_csv(tmp_path / "leads.csv", lead_rows(LEADS))
    engage.faults({"delay_s": 12.0, "times": 1000})  # stored 12 s after it arrives, long after the stop
    proc = start_cli(engage, tmp_path, "stuck")
    wait_for(lambda: len(engage.load_requests()) >= 1 or proc.poll() is not None)
    time.sleep(0.5)
    took, err = stop_and_time(proc, signal.SIGINT)
    assert proc.returncode == 130, err[-3000:]
    assert took < 10, f"took {took:.1f} s"
    assert "Traceback" not in err
    status = ledger_status(tmp_path)
    assert "sending" in status.values()  # unknown: the next run looks these up
    engage.wait_idle(60)
    stored = set(engage.stored_keys())
    assert stored and stored <= {k for k, s in status.items() if s == "sending"}
    rerun_completes(engage, tmp_path, capfd)


def test_two_runs_of_one_campaign_at_once_the_second_exits_2(engage: SimView, tmp_path: Path,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    write_csv(tmp_path / "leads.csv", lead_rows(LEADS))
    engage.faults({"delay_s": 1.0, "times": 1000})
    proc = start_cli(engage, tmp_path, "first")
    wait_for(lambda: len(engage.load_requests()) >= 1 or proc.poll() is not None)
    capfd.readouterr()
    assert main(cli_args(engage, tmp_path, "second")) == 2
    err = capfd.readouterr().err
    assert "is being loaded by run" in err and "Traceback" not in err, err[-2000:]
    _, first_err = proc.communicate(timeout=120)
    assert proc.returncode == 0, first_err[-3000:]
    engage.wait_idle()
    assert_stored_once(engage, [f"L{i}" for i in range(LEADS)])


def test_a_run_that_could_deliver_nothing_exits_1(engage: SimView, tmp_path: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    write_csv(tmp_path / "leads.csv", lead_rows(4))
    engage.faults({"status": 503, "times": 1000})
    capfd.readouterr()
    assert main([*cli_args(engage, tmp_path, "down"), "--max-attempts", "1"]) == 1
    err = capfd.readouterr().err
    assert "nothing could be delivered: 4 leads failed" in err and "Traceback" not in err
    engage.faults()
    assert main(cli_args(engage, tmp_path, "up")) == 0  # the failed leads were kept, and now land
    engage.wait_idle()
    assert_stored_once(engage, [f"L{i}" for i in range(4)])
