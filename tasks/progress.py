"""Progress hooks: the CLI's progress bar and the run's progress artifact listen; the run reports stage and counts."""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, int, int], None]
_LISTENERS: list[Listener] = []


def listen(listener: Listener) -> None:
    """Receive ``(stage, done, total)`` updates from runs in this process."""
    _LISTENERS.append(listener)


def forget(listener: Listener) -> None:
    """Stop receiving updates."""
    if listener in _LISTENERS:
        _LISTENERS.remove(listener)


def emit(stage: str, done: int, total: int) -> None:
    """Report progress to every listener."""
    for listener in list(_LISTENERS):
        listener(stage, done, total)


class StageCount:
    """Leads done in one stage, added from any thread (batch senders); every step is emitted, so a bar
    moves batch by batch rather than chunk by chunk."""

    def __init__(self, stage: str, total: int) -> None:
        self.stage, self.total, self.done = stage, total, 0
        self._lock = threading.Lock()
        emit(stage, 0, total)

    def add(self, leads: int) -> None:
        """Count ``leads`` more as done."""
        if leads <= 0:
            return
        with self._lock:
            self.done += leads
            done = self.done
        emit(self.stage, done, self.total)
