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
    """On Prefect's console handler: print nothing; pass a run's warnings to the current terminal."""

    def __init__(self) -> None:
        super().__init__()
        self.terminal: Terminal | None = None
        self.verbose = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose:
            return True
        if self.terminal and record.levelno == logging.WARNING and record.name.startswith(RUN_LOGGERS):
            self.terminal.say(record.getMessage(), "yellow")
        return False


_QUIET = _Quiet()


@contextmanager
def quiet_prefect(terminal: Terminal, *, verbose: bool = False) -> Iterator[Terminal]:
    """Keep Prefect's console output out of the terminal from here on; the run's warnings go to
    ``terminal`` while the block runs. The filter stays for the rest of the process: Prefect's
    teardown at exit (a temporary server stopping, events still queued) prints nothing either."""
    for handler in logging.getLogger().handlers:
        if type(handler).__name__ == "PrefectConsoleHandler" and _QUIET not in handler.filters:
            handler.addFilter(_QUIET)
    _QUIET.terminal, _QUIET.verbose = terminal, verbose
    try:
        yield terminal
    finally:
        _QUIET.terminal = None
