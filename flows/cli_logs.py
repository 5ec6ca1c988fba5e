"""The terminal of ``leadflow run``: the CLI's own lines and bars, Prefect's log lines kept out of them.

Prefect prints every log record of a run to the terminal (its console handler on the root logger),
straight through the progress bars, and a failed run's error three ways (the task, the flow, the
engine). While the CLI runs a flow, that handler prints nothing; the run's warnings are shown once
each, above the bars, and its errors are left to the CLI, which explains them in one line. Every
record still reaches the Prefect server (its API handler is untouched). ``--verbose`` keeps
Prefect's own output instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from tasks.masking import mask_text

#: Loggers whose warnings are the run's own (flow and task run loggers).
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class Terminal:
    """What has been shown, so that no message is printed twice."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.shown: set[str] = set()

    def say(self, text: str, style: str = "") -> None:
        """Print ``leadflow: <text>`` once (masked); a repeat is dropped."""
        text = mask_text(text.strip())
        if text in self.shown:
            return
        self.shown.add(text)
        line = f"leadflow: {escape(text)}"
        self.console.print(f"[{style}]{line}[/{style}]" if style else line, soft_wrap=True, highlight=False)


class _Quiet(logging.Filter):
    """On Prefect's console handler: print nothing; pass a run's warnings to the terminal."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__()
        self.terminal = terminal

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.name.startswith(RUN_LOGGERS):
            self.terminal.say(record.getMessage(), "yellow")
        return False


@contextmanager
def quiet_prefect(terminal: Terminal, *, verbose: bool = False) -> Iterator[Terminal]:
    """Keep Prefect's console output out of the terminal for the length of the block."""
    handlers = [h for h in logging.getLogger().handlers if type(h).__name__ == "PrefectConsoleHandler"]
    quiet = _Quiet(terminal)
    if not verbose:
        for handler in handlers:
            handler.addFilter(quiet)
    try:
        yield terminal
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
