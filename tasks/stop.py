"""Stopping a run on request (Ctrl-C, SIGTERM): no new batch starts, and every wait ends early.

A stop is process-wide: the command line sets it from its signal handler; the load machinery
checks it before each batch is recorded and sent, and waits (backoff, Retry-After, rate-limit
slots, look-up grace periods) through :func:`pause`, which ends at once when a stop comes.
Requests already out are left to finish or time out; what they were is in the ledger.
"""

from __future__ import annotations

import contextvars
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

T = TypeVar("T")

#: Seconds requests already out get, after a stop, to be answered before the run stops awaiting them.
STOP_GRACE_S = 6.0

_STOP = threading.Event()
_REASON: list[str] = []
_STOPPED_AT: list[float] = []
SignalHandler = Callable[[int, FrameType | None], None]
_HANDLER: list[SignalHandler] = []


class RunStoppedError(Exception):
    """The run was asked to stop before this step; nothing further was sent."""


class AnswerNotAwaitedError(RunStoppedError):
    """The run stopped while a request was out: its leads stay ``sending`` and the next run looks them up."""


def request_stop(reason: str) -> None:
    """Ask the run in this process to stop (safe to call from a signal handler)."""
    if not _STOP.is_set():
        _REASON[:] = [reason]
        _STOPPED_AT[:] = [time.monotonic()]
    _STOP.set()


def stop_requested() -> bool:
    """True once a stop was asked for."""
    return _STOP.is_set()


def stop_reason() -> str:
    """Why the run was stopped (empty when it was not)."""
    return _REASON[0] if _STOP.is_set() and _REASON else ""


def check_stop() -> None:
    """Raise :class:`RunStoppedError` if a stop was asked for."""
    if _STOP.is_set():
        raise RunStoppedError(f"not sent: the run was stopped ({stop_reason()})")


def pause(seconds: float) -> None:
    """Sleep ``seconds``, or less if a stop comes (then :class:`RunStoppedError` is raised)."""
    if seconds > 0:
        _STOP.wait(seconds)
    check_stop()


def stop_grace_over() -> bool:
    """True once a stop was asked for ``STOP_GRACE_S`` seconds ago or more: requests still out are
    no longer awaited."""
    return _STOP.is_set() and bool(_STOPPED_AT) and time.monotonic() - _STOPPED_AT[0] >= STOP_GRACE_S


def clear_stop() -> None:
    """Forget a stop (a new run starts in the same process)."""
    _STOP.clear()
    _REASON.clear()
    _STOPPED_AT.clear()


def until_stopped(work: Callable[[], T], name: str) -> T:
    """Run ``work`` on a thread of its own and return what it returns (or raise what it raises).

    After a stop, ``work`` gets ``STOP_GRACE_S`` seconds to finish (a request out is answered or
    times out); then it is no longer awaited, so the run can end while the thread finishes in the
    background (a daemon thread: it does not hold the process up at exit).

    Raises:
        AnswerNotAwaitedError: the run stopped and ``work`` did not finish within the grace period.
    """
    box: dict[str, object] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as ex:  # handed to the waiting thread
            box["error"] = ex
        finally:
            done.set()

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(target,), name=name, daemon=True).start()
    while not done.wait(0.2):
        if stop_grace_over():
            raise AnswerNotAwaitedError(f"answer not awaited: the run was stopped ({stop_reason()})")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def set_stop_handler(handler: SignalHandler | None) -> None:
    """The command line's SIGINT/SIGTERM handler, to be kept while a flow runs (None: forget it)."""
    _HANDLER[:] = [handler] if handler is not None else []


@contextmanager
def stop_handler_kept() -> Iterator[None]:
    """Within a flow run, give SIGTERM back to the command line's handler, if it installed one.

    Prefect's flow engine takes SIGTERM over for the run (to crash or cancel it at once); a run
    started from ``leadflow run`` is stopped as on Ctrl-C instead. Elsewhere (a deployment's
    worker cancelling a run) Prefect's handling stays.
    """
    if not _HANDLER or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _HANDLER[0])
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
