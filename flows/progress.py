"""Progress hooks: the CLI's progress bar listens; the flow reports stage and counts."""

from __future__ import annotations

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
