"""The bound on load requests in flight: never more holders than its limit, a free place to the oldest batch."""

from __future__ import annotations

import threading
import time

from tasks.delivery.gate import OrderedGate


def _waiters(gate: OrderedGate, keys: list[str], order: list[str], hold_s: float = 0.0) -> list[threading.Thread]:
    def take(key: str) -> None:
        with gate.slot(key):
            order.append(key)
            time.sleep(hold_s)

    threads = [threading.Thread(target=take, args=(k,)) for k in keys]
    for t in threads:
        t.start()
        time.sleep(0.02)  # each is waiting before the next comes
    return threads


def test_a_free_place_goes_to_the_lowest_key_waiting_not_to_the_first_come() -> None:
    gate, order = OrderedGate(1), []
    with gate.slot("run-00001-00000"):
        threads = _waiters(gate, ["run-00002-00000", "run-00001-00003", "run-00001-00001", "run-00003-00000"], order)
        assert order == []  # all wait while the place is held
    for t in threads:
        t.join(5)
    assert order == ["run-00001-00001", "run-00001-00003", "run-00002-00000", "run-00003-00000"]


def test_never_more_holders_than_the_limit_and_a_retry_goes_first() -> None:
    gate, order, most, inside = OrderedGate(2), [], [0], [0]
    lock = threading.Lock()

    def note(key: str) -> None:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        order.append(key)
        time.sleep(0.03)
        with lock:
            inside[0] -= 1

    def batch(key: str) -> None:
        with gate.slot(key):
            note(key)

    def retried() -> None:
        with gate.slot():  # a retried batch holds a place without a key: before every batch waiting
            note("retry")

    threads = [threading.Thread(target=batch, args=(f"k{i:02d}",)) for i in range(6)]
    with gate.slot("a"), gate.slot("b"):
        for t in threads:
            t.start()
        time.sleep(0.1)
        threads.append(threading.Thread(target=retried))
        threads[-1].start()
        time.sleep(0.1)
        assert order == []
    for t in threads:
        t.join(5)
    assert most[0] <= 2
    assert set(order[:2]) == {"retry", "k00"}  # the two places freed together: the retry and the lowest key
    assert order[2:] == ["k01", "k02", "k03", "k04", "k05"]
