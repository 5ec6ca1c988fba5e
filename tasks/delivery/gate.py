"""The run's bound on load requests in flight, handing each free place to the oldest batch waiting.

Two chunks' batches are out side by side (the next chunk's first body is ready before the last one's
batches end). Taken in turn, their batches would interleave and both chunks would end together,
leaving the connection idle while the flow adds the next chunk; oldest first, a chunk ends while
the next one is still sending.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class OrderedGate:
    """At most ``limit`` holders; a free place goes to the waiter with the lowest key (batch ids sort
    chunk by chunk, batch by batch); ``slot()`` without a key comes before them all (a retried batch)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.held = max(limit, 1), 0
        self.waiting: list[tuple[str, int]] = []
        self.turns = itertools.count()
        self.changed = threading.Condition()
        #: Set once a first holder got its place (the run's first request is going out).
        self.opened = threading.Event()

    @contextmanager
    def slot(self, key: str = "") -> Iterator[None]:
        """Hold a place while the block runs; waits for one, lowest key first."""
        self._acquire(key)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, key: str) -> None:
        ticket = (key, next(self.turns))
        with self.changed:
            heapq.heappush(self.waiting, ticket)
            while self.held >= self.limit or self.waiting[0] != ticket:
                self.changed.wait()
            heapq.heappop(self.waiting)
            self.held += 1
            self.changed.notify_all()  # the next waiter may fit too
        self.opened.set()

    def _release(self) -> None:
        with self.changed:
            self.held -= 1
            self.changed.notify_all()
