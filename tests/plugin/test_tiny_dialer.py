"""Tiny Dialer, added by the documented steps only: offered by the CLI, started by `leadflow simulate`,
and loaded into over loopback by `leadflow run`, every lead with its outcome."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tiny_dialer import ON_LIST
from tiny_dialer_sim import create_app

from flows.cli import main
from flows.commands import simulator_plan
from schemas import columns as C
from schemas.options import LoadOptions
from simulators.server import serve
from tasks.delivery.attempt import deliver_batch
from tasks.delivery.context import Delivery
from tasks.ledger import Ledger
from tasks.providers.errors import AmbiguousDeliveryError
from tasks.providers.registry import create_provider, provider_names

HERE = Path(__file__).resolve().parent
LEADFLOW = Path(sys.executable).with_name("leadflow")
REGISTER = {"LEADFLOW_PROVIDERS": "tiny_dialer:TinyDialer"}

LEADS = """Lead ID,First Name,Last Name,Phone Number
T-1,Ann,Lee,9175290246
T-2,Bob,Lee,(917) 529-0246
T-3,Carol,Diaz,12345
T-4,Bartholomew-Maximilian,Oduya,7579260689
T-5,Mallory,Stone,937.453.5552
T-6,Dave,Hill,+1 315.769.0986
T-7,,Kim,901-975-2629
T-8,Erin,Cho,+19366045639
"""
#: Per row: the outcome, and a piece of its reason.
EXPECTED = {
    1: ("loaded", None),
    2: ("duplicate", ""),
    3: ("invalid", "phone"),
    4: ("invalid", "first_name: longer than 20 characters for tiny-dialer"),
    5: ("rejected", "blocked by the dialer"),
    6: ("duplicate", ON_LIST),
    7: ("invalid", "first_name: required by tiny-dialer"),
    8: ("loaded", None),
}


@pytest.fixture
def registered(clean_provider_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Tiny Dialer registered through the environment, as a user without a package would."""
    for key, value in REGISTER.items():
        clean_provider_env.setenv(key, value)
    return clean_provider_env


def test_the_cli_offers_it_and_simulate_would_start_it(registered: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert provider_names() == ["engage-voice", "nlpearl", "voiso", "tiny-dialer"]
    with pytest.raises(SystemExit) as done:
        main(["run", "--help"])
    assert done.value.code == 0
    assert "tiny-dialer" in re.search(r"--provider \{([^}]*)\}", capsys.readouterr().out).group(1).split(",")
    assert ("tiny-dialer", "tiny_dialer_sim:create_app", 8799) in simulator_plan([])
    assert ("tiny-dialer", "tiny_dialer_sim:create_app", 0) in simulator_plan(["tiny-dialer=0"])


@pytest.fixture
def child_env(registered: pytest.MonkeyPatch, prefect_harness: None) -> dict[str, str]:
    """The environment of a `leadflow` process: the registration, this folder importable, the test server."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PYTHONPATH": str(HERE), "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "TINY_DIALER_API_KEY": "sim-tiny-key"}


@pytest.fixture
def simulate(child_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`leadflow simulate` on free ports; the URL of each simulator by provider name."""
    ports = [arg for name in provider_names() for arg in ("--port", f"{name}=0")]
    process = subprocess.Popen([str(LEADFLOW), "simulate", *ports], stdout=subprocess.PIPE, text=True, env=child_env)
    try:
        assert process.stdout is not None
        urls: dict[str, str] = {}
        while (line := process.stdout.readline()) and not line.startswith("Press Ctrl-C"):
            if found := re.match(r"(\S+)\s+(http://\S+)", line):
                urls[found.group(1)] = found.group(2)
        assert line, "leadflow simulate exited early"
        yield urls
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_a_run_loads_a_small_csv_into_it(simulate: dict[str, str], child_env: dict[str, str],
                                         tmp_path: Path) -> None:
    assert set(simulate) == {"engage-voice", "nlpearl", "voiso", "tiny-dialer"}
    url = simulate["tiny-dialer"]
    httpx.post(f"{url}/_sim/config", json={"on_list": ["+13157690986"]}).raise_for_status()
    source = tmp_path / "leads.csv"
    source.write_text(LEADS, encoding="utf-8")
    report, outcomes = tmp_path / "report.json", tmp_path / "outcomes.csv"
    run = subprocess.run(
        [str(LEADFLOW), "run", "--source", str(source), "--provider", "tiny-dialer", "--campaign", "list-7",
         "--base-url", url, "--report", str(report), "--outcomes", str(outcomes),
         "--ledger", f"sqlite:///{tmp_path / 'ledger.db'}", "--output-dir", str(tmp_path / "out")],
        env=child_env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr

    rows = pd.read_csv(outcomes, dtype={"reason": "string"}).set_index("row")
    assert sorted(rows.index) == sorted(EXPECTED)
    for row, (outcome, reason) in EXPECTED.items():
        got = rows.loc[row]
        assert got["outcome"] == outcome, (row, got.to_dict())
        assert (pd.isna(got["reason"]) if reason is None else reason in str(got["reason"])), (row, got.to_dict())
    counts = json.loads(report.read_text())["outcomes"]
    assert {k: v for k, v in counts.items() if v} == {"loaded": 2, "duplicate": 2, "invalid": 3, "rejected": 1}

    stored = httpx.get(f"{url}/_sim/leads").json()
    assert stored == {"list-7": [{"phone": "+19175290246", "name": "Ann"}, {"phone": "+19366045639", "name": "Erin"}]}
    received = httpx.get(f"{url}/_sim/received").json()
    assert [r["leads"] for r in received] == [2, 2]  # rows 1, 5, 6 and 8 are sent, two a request


def test_its_resend_rule_counts_an_already_there_answer_after_no_answer_as_loaded(
        registered: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registered.setenv("TINY_DIALER_API_KEY", "sim-tiny-key")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    batch = pd.DataFrame({C.ROW: [1, 2], C.PHONE_E164: pd.array(["+19175290246", "+19366045639"], dtype="string"),
                          "phone_key": pd.array(["19175290246", "19366045639"], dtype="string"),
                          C.EXTERNAL_ID: pd.array([None, None], dtype="string"),
                          C.FIRST_NAME: pd.array(["Ann", "Erin"], dtype="string")})
    with serve(create_app()) as sim:
        tiny = create_provider("tiny-dialer", campaign="list-7", account=None,
                               load=LoadOptions(base_url=sim.url, verify_tls=False))
        httpx.post(f"{sim.url}/_sim/faults", json={"plan": [{"drop": True, "after_store": True}]}).raise_for_status()
        ledger.open_batch("b1", run_id="r1", provider=tiny.name, account=None, campaign="list-7", batch=batch)
        ctx = Delivery.create(tiny, ledger, LoadOptions(answer_grace_s=0.0, rate_limits=False), run_id="r1")
        with pytest.raises(AmbiguousDeliveryError):
            deliver_batch(ctx, batch, "b1")
        again = deliver_batch(ctx, batch, "b1")
        stored = httpx.get(f"{sim.url}/_sim/leads").json()
    # The list answered "exists" to both resent leads: without the class's rule they would be duplicates.
    assert again[C.OUTCOME].tolist() == ["loaded", "loaded"]
    assert len(stored["list-7"]) == 2
