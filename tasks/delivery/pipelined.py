"""First attempts at a chunk's batches, pipelined: while one request is out, the next body is ready
and the last answer is being settled, so the connection does not wait for leadflow.

Three stages, each on its own thread(s), joined by bounded queues (at most as many batches
waiting between two stages as requests may be in flight, so memory stays bounded, and a crash
leaves at most that many batches recorded ``sending`` that were not sent: the next run looks
them up like any unanswered request):

1. **open**: the batch is recorded ``sending`` in the ledger, then its request body is built.
   A batch is recorded before its request goes out, as on the serial path (docs/delivery.md);
2. **send** (as many threads as requests in flight): in a slot of the run's bound on requests in
   flight and of the rate limiter, the request goes out and its answer is classified;
3. **settle**: the per-lead results are read and written to the ledger, while the next request
   is already out.

A stop ends every stage's wait: batches not yet sent fail ``not sent`` (kept for the next run);
a request still out after ``STOP_GRACE_S`` is no longer awaited (its leads stay ``sending``, the
next run looks them up). After a refused credential, no further batch is sent. Anything but a
plain answer (a batch refused as a whole, to be split) is handled by the serial code of
``attempt.py`` on the sending thread, holding its slot.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pandas as pd

from tasks.delivery.attempt import Answer, as_recorded, open_batch, send_part, settle_answer, settled_covers
from tasks.delivery.attempt import settled_results as read_back
from tasks.delivery.context import Delivery
from tasks.progress import StageCount
from tasks.providers.errors import AuthError, BatchRefusedError
from tasks.stop import AnswerNotAwaitedError, check_stop, stop_grace_over, stop_reason

#: Seconds between two looks at the stop signal while a stage waits.
POLL_S = 0.2


@dataclass
class Attempt:
    """The first attempt at one batch: its per-lead results, or the error it ended with."""

    batch_id: str
    batch: pd.DataFrame
    results: pd.DataFrame | None = None
    error: BaseException | None = None


@dataclass
class _Opened:
    """A batch recorded ``sending``, its request built."""

    index: int
    request: httpx.Request


@dataclass
class _Sent:
    """A batch whose request was answered (or ended with an error)."""

    index: int
    answer: Answer


_END = object()


class Pipeline:
    """The first attempts at one chunk's batches (see the module's docstring)."""

    def __init__(self, ctx: Delivery, batches: list[tuple[str, pd.DataFrame]], count: StageCount | None) -> None:
        self.ctx, self.batches, self.count = ctx, batches, count
        self.senders = max(min(len(batches), ctx.in_flight), 1)
        #: Batches recorded but not yet taken by a sender: at most one per request in flight (a crash
        #: leaves no more than that recorded ``sending`` without having been sent).
        self.ahead = threading.Semaphore(self.senders)
        self.opened: queue.Queue[object] = queue.Queue()
        self.answered: queue.Queue[object] = queue.Queue(maxsize=self.senders)
        self.attempts: list[Attempt | None] = [None] * len(batches)
        self.lock = threading.Lock()
        self.all_done = threading.Event()
        self.refused = threading.Event()
        self.closed = False

    def run(self) -> list[Attempt]:
        """Every batch's attempt, in order; those still out when a stop's grace ran out are not awaited."""
        if not self.batches:
            return []
        self._start(self._open, "open")
        for n in range(self.senders):
            self._start(self._send, f"send-{n}")
        self._start(self._settle, "settle")
        while not self.all_done.wait(POLL_S):
            if stop_grace_over():
                break
        with self.lock:
            self.closed = True  # an answer coming later is not awaited, nor counted
            attempts = list(self.attempts)
        for i, one in enumerate(attempts):
            if one is None:
                attempts[i] = Attempt(*self.batches[i], error=AnswerNotAwaitedError(
                    f"answer not awaited: the run was stopped ({stop_reason()})"))
                if self.count is not None:
                    self.count.add(len(self.batches[i][1]))
        return [one for one in attempts if one is not None]

    def _start(self, stage: Callable[[], None], name: str) -> None:
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(stage,), name=f"leadflow-{name}", daemon=True).start()

    def _done(self, index: int, results: pd.DataFrame | None = None, error: BaseException | None = None) -> None:
        batch_id, batch = self.batches[index]
        with self.lock:
            if self.closed:
                return
            self.attempts[index] = Attempt(batch_id, batch, results, error)
            if all(a is not None for a in self.attempts):
                self.all_done.set()
        if self.count is not None:
            self.count.add(len(batch))

    def _put(self, into: queue.Queue[object], item: object) -> None:
        """Hand ``item`` on, waiting while the next stage is ``senders`` batches behind."""
        while True:
            try:
                into.put(item, timeout=POLL_S)
                return
            except queue.Full:
                if stop_grace_over():
                    return

    def _get(self, source: queue.Queue[object]) -> object:
        """The next item of the stage before, or the end once a stop's grace ran out."""
        while True:
            try:
                return source.get(timeout=POLL_S)
            except queue.Empty:
                if stop_grace_over():
                    return _END

    def _open(self) -> None:
        ctx = self.ctx
        try:
            for i, (batch_id, batch) in enumerate(self.batches):
                if self.refused.is_set():
                    self._done(i, error=AuthError(f"{ctx.provider.name}: refused credential, not sent"))
                    continue
                while not self.ahead.acquire(timeout=POLL_S):
                    if stop_grace_over():
                        return
                try:
                    check_stop()
                    open_batch(ctx, batch, batch_id)
                    request = ctx.provider.build_request(batch)
                except BaseException as ex:
                    self.ahead.release()
                    self._done(i, error=ex)
                    continue
                self.opened.put(_Opened(i, request))
        finally:
            for _ in range(self.senders):
                self.opened.put(_END)

    def _send(self) -> None:
        ctx = self.ctx
        while (item := self._get(self.opened)) is not _END:
            assert isinstance(item, _Opened)
            self.ahead.release()
            batch_id, batch = self.batches[item.index]
            if self.refused.is_set():
                self._done(item.index, error=AuthError(f"{ctx.provider.name}: refused credential, not sent"))
                continue
            try:
                with ctx.gate.slot(batch_id):  # oldest batch first: one chunk ends while the next sends
                    answer = send_part(ctx, batch, item.request)
                    if isinstance(answer, AuthError):
                        self.refused.set()
                    if isinstance(answer, BatchRefusedError) and len(batch) > 1:
                        self._done(item.index, *self._serially(batch_id, batch, answer))
                        continue
            except BaseException as ex:
                self._done(item.index, error=ex)
                continue
            self._put(self.answered, _Sent(item.index, answer))
        self._put(self.answered, _END)

    def _settle(self) -> None:
        ends = 0
        while ends < self.senders and not stop_grace_over():
            item = self._get(self.answered)
            if item is _END:
                ends += 1
                continue
            assert isinstance(item, _Sent)
            batch_id, batch = self.batches[item.index]
            self._done(item.index, *self._serially(batch_id, batch, item.answer))

    def _serially(self, batch_id: str, batch: pd.DataFrame,
                  answer: Answer) -> tuple[pd.DataFrame | None, BaseException | None]:
        """What ``answer`` decides for the batch (its split halves sent again on this thread)."""
        settled: list[pd.DataFrame] = []
        try:
            settle_answer(self.ctx, batch, batch_id, answer, settled, resend=False)
        except BaseException as ex:
            return None, ex
        if settled_covers(settled, batch):
            return as_recorded(settled, batch), None
        return read_back(self.ctx.ledger, batch_id), None


def first_attempts(ctx: Delivery, batches: list[tuple[str, pd.DataFrame]],
                   count: StageCount | None = None) -> list[Attempt]:
    """The first attempt at each batch, pipelined; in the batches' order."""
    return Pipeline(ctx, batches, count).run()
