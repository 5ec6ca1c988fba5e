"""First attempts are pipelined: while batch k's answer is being written to the ledger, request k+1 is
already at the dialer; and every batch is still recorded ``sending`` before its request goes out.

No timing is measured: the ledger below is a real one that, while it settles batch k, waits for the
simulator to receive request k+1. On a serial path that request cannot come before the settle ends,
so the wait runs out and the test fails.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from relhelp import PEARL, SimView

from schemas import columns as C
from schemas.options import LoadOptions
from tasks.delivery.context import Delivery
from tasks.delivery.pipelined import first_attempts
from tasks.ledger import Ledger
from tasks.providers.registry import create_provider
from tasks.rules.phones import phone_key
from tasks.stop import clear_stop, request_stop

#: Seconds a settle waits for the next request (a serial path waits this long per batch, then fails).
WAIT_S = 10.0
BATCHES, SIZE = 4, 3


class WatchingLedger(Ledger):
    """A ledger noting, for each batch, whether the next request reached the simulator while the batch
    was being settled, and whether the batch was recorded before its own request arrived."""

    def __init__(self, url: str, view: SimView) -> None:
        super().__init__(url)
        self.view = view
        self.next_seen: dict[str, bool] = {}
        self.opened_before_sent: dict[str, bool] = {}
        self.settle_threads: set[str] = set()

    def open_batch(self, batch_id: str, **kwargs: object) -> None:  # type: ignore[override]
        self.opened_before_sent[batch_id] = self._loads() <= _index(batch_id)
        super().open_batch(batch_id, **kwargs)  # type: ignore[arg-type]

    def settle_leads(self, batch_id: str, results: pd.DataFrame) -> None:
        k = _index(batch_id)
        self.settle_threads.add(threading.current_thread().name)
        if k < BATCHES - 1:
            deadline = time.monotonic() + WAIT_S
            while self._loads() < k + 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            self.next_seen[batch_id] = self._loads() >= k + 2
        super().settle_leads(batch_id, results)

    def _loads(self) -> int:
        return sum(1 for r in list(self.view.app.sim.received.records) if r["method"] == "POST")


def _index(batch_id: str) -> int:
    return int(batch_id.rsplit("-", 1)[1])


def _batches() -> list[tuple[str, pd.DataFrame]]:
    out = []
    for k in range(BATCHES):
        rows = range(k * SIZE + 1, (k + 1) * SIZE + 1)
        e164 = pd.Series([f"+1415555{1000 + r:04d}" for r in rows], dtype="string")
        frame = pd.DataFrame({C.ROW: rows, C.PHONE_E164: e164, "phone_key": phone_key(e164),
                              C.EXTERNAL_ID: pd.Series([f"P{r}" for r in rows], dtype="string")})
        out.append((f"pipe-{k}", frame))
    return out


def _delivery(view: SimView, ledger: Ledger) -> Delivery:
    load = LoadOptions(base_url=view.url, batch_size=SIZE, rate_limits=False)
    provider = create_provider("nlpearl", campaign=PEARL, account=None, load=load)
    assert Delivery.create(provider, ledger, load, run_id="r").in_flight == 1  # NLPearl: one request at a time
    return Delivery.create(provider, ledger, load, run_id="r")


def test_the_next_request_is_out_while_an_answer_is_settled(sims: dict[str, SimView], tmp_path: Path) -> None:
    view = sims["nlpearl"]
    ledger = WatchingLedger(f"sqlite:///{tmp_path / 'l.db'}", view)
    attempts = first_attempts(_delivery(view, ledger), _batches())

    assert [a.error for a in attempts] == [None] * BATCHES
    assert all((a.results is not None and (a.results[C.OUTCOME] == "loaded").all()) for a in attempts)
    assert ledger.next_seen == {f"pipe-{k}": True for k in range(BATCHES - 1)}
    assert ledger.opened_before_sent == {f"pipe-{k}": True for k in range(BATCHES)}
    assert threading.current_thread().name not in ledger.settle_threads
    assert sorted(view.stored_keys()) == sorted(f"P{r}" for r in range(1, BATCHES * SIZE + 1))


class StoppingLedger(Ledger):
    """Asks the run to stop once the second batch's answer is settled, noting how many requests the
    simulator had received by then (the sender may run ahead of the settles)."""

    def __init__(self, url: str, view: SimView) -> None:
        super().__init__(url)
        self.view = view
        self.posts_at_stop: int | None = None

    def settle_leads(self, batch_id: str, results: pd.DataFrame) -> None:
        super().settle_leads(batch_id, results)
        if batch_id == "pipe-1":
            self.posts_at_stop = sum(1 for r in list(self.view.app.sim.received.records) if r["method"] == "POST")
            request_stop("test")


def test_a_stop_sends_nothing_more_and_every_batch_ends_once(sims: dict[str, SimView], tmp_path: Path) -> None:
    view = sims["nlpearl"]
    ledger = StoppingLedger(f"sqlite:///{tmp_path / 'l.db'}", view)
    try:
        attempts = first_attempts(_delivery(view, ledger), _batches())
    finally:
        clear_stop()
    assert [a.batch_id for a in attempts] == [f"pipe-{k}" for k in range(BATCHES)]
    assert attempts[0].error is None and attempts[1].error is None
    sent = len(view.stored_keys()) // SIZE
    # At most one request went after the stop: the one whose send had begun (its body was ready).
    assert ledger.posts_at_stop is not None and 2 <= sent <= min(ledger.posts_at_stop + 1, BATCHES)
    assert all(a.error is not None for a in attempts[sent:])
    for a in attempts[sent:]:  # recorded or not, none of these leads was sent
        leads = ledger.batch_leads(a.batch_id)
        assert not (leads["status"] == "loaded").any()


@pytest.mark.slow
def test_the_idle_benchmark_runs_both_paths() -> None:
    from benchmarks.pipeline_idle import main

    for args in ([], ["--serial"]):
        out = main(["--rows", "2000", "--batch-size", "500", "--repeat", "1", *args])
        run = out["runs"][0]
        assert (run["loaded"], run["requests"]) == (2000, 4)
        assert 0 < run["busy_s"] <= run["wall_s"] and run["idle_s"] >= 0
