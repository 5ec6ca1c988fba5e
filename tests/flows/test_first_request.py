"""The run's first request goes out before the other chunks are prepared and ruled, so nothing shares
its CPU; a first chunk with nothing to send, or a run that cannot send, does not hold the others up."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prefect import flow

from flows.load_leads import FIRST_REQUEST_WAIT_S, load_leads
from schemas.options import LoadOptions, RuleOptions, RunOptions
from schemas.sources import SourceSpec
from simulators.engage_voice import create_app
from simulators.server import serve
from tasks.delivery.loader import first_request_or_end
from tasks.pipeline import PreparedChunks
from tasks.sources import open_source
from tasks.spool import Spool

pytestmark = pytest.mark.usefixtures("prefect_harness")

HEADER = ["Lead ID", "Phone Number", "State", "ZIP"]


def _write(path: Path, rows: list[list[str]]) -> SourceSpec:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        out.writerows(rows)
    return SourceSpec(location=str(path), chunk_size=3)


def _valid(first: int, count: int) -> list[list[str]]:
    return [[f"L{i}", f"212555{1000 + i}", "NY", "10001"] for i in range(first, first + count)]


def test_the_wait_ends_when_the_first_request_goes_out() -> None:
    opened, task = threading.Event(), Future[None]()
    threading.Timer(0.1, opened.set).start()
    start = time.monotonic()
    assert first_request_or_end(opened, task, timeout_s=5.0)
    assert time.monotonic() - start < 2.0


def test_the_wait_ends_when_the_first_chunk_task_ends_without_sending() -> None:
    opened = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        task = pool.submit(time.sleep, 0.1)
        start = time.monotonic()
        assert not first_request_or_end(opened, task, timeout_s=5.0)
        assert time.monotonic() - start < 2.0


def test_the_wait_is_bounded() -> None:
    start = time.monotonic()
    assert not first_request_or_end(threading.Event(), Future[None](), timeout_s=0.2)
    assert 0.2 <= time.monotonic() - start < 2.0


def test_only_the_first_chunk_is_prepared_until_released(tmp_path: Path) -> None:
    source = _write(tmp_path / "leads.csv", _valid(1, 12))

    @flow
    def probe() -> list[int]:
        spool = Spool(str(tmp_path))
        chunks = PreparedChunks(RuleOptions(), "engage-voice", spool, ahead=2, first_alone=True)
        for i, chunk in enumerate(open_source(source)):
            chunks.add(spool.write(f"raw-{i:05d}", chunk))
        seen = [len(chunks.futures)]
        chunks.path(0)
        seen.append(len(chunks.futures))
        chunks.release()
        chunks.path(1)
        seen.append(len(chunks.futures))
        chunks.wait()
        return seen

    assert probe() == [1, 1, 4]  # then chunk 1 and two ahead of it


def test_a_chunk_asked_for_is_prepared_while_the_others_are_held(tmp_path: Path) -> None:
    """``keep="last"`` asks for every chunk's keys before anything is sent: nothing may wait for a release."""
    source = _write(tmp_path / "leads.csv", _valid(1, 9))

    @flow
    def probe() -> int:
        spool = Spool(str(tmp_path))
        chunks = PreparedChunks(RuleOptions(dedup_keep="last"), "engage-voice", spool, ahead=2, first_alone=True)
        for i, chunk in enumerate(open_source(source)):
            chunks.add(spool.write(f"raw-{i:05d}", chunk))
        found = chunks.duplicates(0)
        return len(found) + len(chunks.paths)

    assert probe() == 3


@pytest.fixture
def engage(clean_provider_env: pytest.MonkeyPatch) -> Iterator[str]:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", "sim-engage-api-token")
    with serve(create_app()) as sim:
        yield sim.url


def test_a_first_chunk_with_nothing_to_send_does_not_hold_the_run(tmp_path: Path, engage: str) -> None:
    rows = [[f"L{i}", "12345", "NY", "10001"] for i in range(1, 4)] + _valid(4, 7)  # chunk 1: bad phones
    source = _write(tmp_path / "leads.csv", rows)
    options = RunOptions(rules=RuleOptions(window_gate=False), load=LoadOptions(base_url=engage),
                         ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}", output_dir=str(tmp_path / "out"))
    start = time.monotonic()
    result = load_leads(source=source, provider="engage-voice", campaign="4001", options=options)
    assert time.monotonic() - start < FIRST_REQUEST_WAIT_S
    assert result["status"] == "completed" and result["balanced"]
    assert result["outcomes"]["invalid"] == 3 and result["outcomes"]["loaded"] == 7
    accounts = httpx.get(f"{engage}/_sim/leads").json()["accounts"]
    assert sum(len(leads) for campaigns in accounts.values() for leads in campaigns.values()) == 7
