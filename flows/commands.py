"""What each ``leadflow`` subcommand does (kept apart from argument parsing)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.outcomes import OUTCOMES, Outcome
from tasks.masking import mask_text

console = Console(stderr=False)
err = Console(stderr=True)
#: Exit code of ``leadflow run`` when the campaign is on hold (nothing was sent).
HELD = 4
#: Loggers of Prefect's flow and task runs (they print a traceback when a run fails).
PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class QuietExpected(logging.Filter):
    """Drops the traceback of errors the CLI explains itself in one line (bad source, bad config)."""

    def __init__(self, expected: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and isinstance(exc, self.expected):
            record.exc_info = None
            record.exc_text = None
            record.msg = f"{type(exc).__name__}: %s"
            record.args = (mask_text(str(exc)),)
        return True


def outcome_table(result: dict[str, Any]) -> Table:
    """The outcome counts of a run as a table."""
    table = Table(min_width=48, title=f"{result['provider']} campaign {result['campaign']}"
                  + (" (dry run)" if result.get("dry_run") else ""))
    table.add_column("outcome")
    table.add_column("leads", justify="right")
    for name in OUTCOMES:
        table.add_row(name, str(result["outcomes"].get(name, 0)))
    total = sum(result["outcomes"].values())
    table.add_row("[bold]total[/bold]", f"[bold]{total}[/bold]")
    return table


#: Exit code of a run stopped by each signal (128 + its number, as shells report it).
STOP_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


@contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """While the block runs, SIGINT and SIGTERM ask the run to stop (``tasks.stop``) instead of
    raising in the middle of it; a second signal ends the process at once (every batch out is in
    the ledger as sending, so the next run looks it up). Yields the signals received."""
    from tasks.stop import clear_stop, request_stop, set_stop_handler

    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        got.append(signum)
        if len(got) > 1:
            os.write(2, b"leadflow: stopped at once (second signal); the next run looks up what was out\n")
            os._exit(STOP_EXIT.get(signal.Signals(signum), 130))
        request_stop(_SIGNAL_NAMES.get(signal.Signals(signum), f"signal {signum}"))

    clear_stop()
    previous = {sig: signal.signal(sig, handle) for sig in STOP_EXIT}
    set_stop_handler(handle)
    try:
        yield got
    finally:
        set_stop_handler(None)
        for sig, old in previous.items():
            signal.signal(sig, old)
        clear_stop()


def shield_local_server() -> None:
    """Start Prefect's temporary local server (used when no PREFECT_API_URL is set) with SIGINT
    blocked in it: a terminal's Ctrl-C goes to the whole process group, and the run, stopping in
    order, still needs that server. It stops when leadflow exits (Prefect terminates it)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    from prefect.server.api.server import SubprocessASGIServer

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # inherited by the server process
    try:
        SubprocessASGIServer().start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _nothing_delivered(outcomes: dict[str, int]) -> bool:
    """Every lead meant for the provider failed: none loaded, none even rejected."""
    return (outcomes.get(Outcome.FAILED, 0) > 0 and not outcomes.get(Outcome.LOADED, 0)
            and not outcomes.get(Outcome.REJECTED, 0))


def run(args: argparse.Namespace) -> int:
    """``leadflow run``; its exit codes are ``flows.cli.EXIT_CODES``."""
    from prefect.exceptions import CancelledRun
    from pydantic import ValidationError

    from flows.cli_logs import Terminal, quiet_prefect
    from flows.load_leads import SourceFailedError, load_leads
    from flows.run_params import build_run
    from schemas.errors import ConfigurationError
    from tasks import progress
    from tasks.providers.errors import ProviderError
    from tasks.sources import SourceError

    try:
        params = build_run(args)
    except (ValidationError, ValueError, ConfigurationError) as ex:
        err.print(f"[red]leadflow: invalid options:[/red] {escape(mask_text(str(ex)))}", soft_wrap=True)
        return 2
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True)
    ids: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in ids:
            ids[stage] = bar.add_task({"read": "reading", "load": "loading"}.get(stage, stage), total=total)
        bar.update(ids[stage], completed=done, total=total)

    expected = (ConfigurationError, SourceFailedError, SourceError, ProviderError)
    quiet = QuietExpected(expected)
    terminal = Terminal(err)
    progress.listen(update)
    for name in PREFECT_RUN_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
    with stop_on_signals() as signals:
        try:
            shield_local_server()
            with quiet_prefect(terminal, verbose=args.verbose), bar:
                result = load_leads(**params)
        except expected as ex:
            terminal.say(str(ex), "red")
            return 2
        except CancelledRun as ex:  # the campaign is on hold (the run's state says why)
            terminal.say(str(ex), "yellow")
            return HELD
        finally:
            progress.forget(update)
            for name in PREFECT_RUN_LOGGERS:
                logging.getLogger(name).removeFilter(quiet)
    outcomes = result["outcomes"]
    if result.get("status") == "stopped":
        sig = signal.Signals(signals[0]) if signals else signal.SIGINT
        err.print(f"leadflow: stopped by {_SIGNAL_NAMES[sig]}: {outcomes.get('loaded', 0)} loaded, "
                  f"{outcomes.get('failed', 0)} not sent or unanswered (kept for the next run); "
                  f"outcomes: {result['outcomes_file']}", soft_wrap=True, highlight=False)
        return STOP_EXIT[sig]
    console.print(outcome_table(result))
    console.print(f"report: {result['report_file']}")
    console.print(f"outcomes: {result['outcomes_file']}")
    if result.get("write_back"):
        write_back_line(result["write_back"])
    if not result.get("balanced"):
        err.print("[red]leadflow: outcome counts do not add up to the rows read[/red]")
        return 3
    if _nothing_delivered(outcomes):
        err.print(f"[red]leadflow: nothing could be delivered: {outcomes['failed']} leads failed "
                  "(kept for the next run; see the outcomes file)[/red]", soft_wrap=True)
        return 1
    return 0 if result.get("status") == "completed" else 1


def write_back_line(wb: dict[str, Any]) -> None:
    """Say where the outcomes were written back, or that the write-back is owed (the load stands)."""
    retried = f" (and {len(wb['retried'])} earlier run(s) owed there)" if wb.get("retried") else ""
    if wb["status"] == "written":
        console.print(f"write-back: {wb['rows']} rows into {escape(wb['target'])}{retried}", soft_wrap=True)
        return
    err.print(f"[yellow]leadflow: write-back to {escape(wb['target'])} {wb['status']}: "
              f"{escape(mask_text(str(wb['error'])))}; the load stands, the next run writing there retries it"
              "[/yellow]", soft_wrap=True)


def hold(args: argparse.Namespace) -> int:
    """``leadflow hold put|lift|list``: the campaigns whose runs send nothing."""
    from schemas.options import RunOptions
    from tasks.holds import Holds
    from tasks.ledger import Ledger

    holds = Holds(Ledger(RunOptions(ledger_url=args.ledger).resolved_ledger_url()))
    if args.action == "list":
        found = holds.all(provider=args.provider, campaign=args.campaign)
        for h in found:
            console.print(h.message(), soft_wrap=True, highlight=False)
        if not found:
            console.print("no campaign is on hold")
        return 0
    if not (args.provider and args.campaign):
        err.print(f"[red]leadflow: hold {args.action} needs --provider and --campaign[/red]")
        return 2
    if args.action == "put":
        console.print(holds.put(args.provider, args.campaign, args.reason, set_by=f"cli:{_user()}").message(),
                      soft_wrap=True, highlight=False)
        return 0
    if holds.lift(args.provider, args.campaign):
        console.print(f"{args.provider} campaign {args.campaign}: hold lifted; its next run loads as usual")
        return 0
    err.print(f"leadflow: {args.provider} campaign {args.campaign} was not on hold")
    return 1


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def campaigns(args: argparse.Namespace) -> int:
    """``leadflow campaigns``: the campaigns (or pearls) the credentials can load into."""
    from schemas.errors import ConfigurationError
    from schemas.options import LoadOptions
    from tasks.providers.errors import ProviderError
    from tasks.providers.registry import create_provider

    try:
        prov = create_provider(args.provider, campaign="0", account=args.account,
                               load=LoadOptions(base_url=args.base_url))
        items = prov.list_campaigns()
    except (ConfigurationError, ProviderError) as ex:
        err.print(f"[red]leadflow: {escape(str(ex))}[/red]")
        return 2
    table = Table(title=f"{args.provider} campaigns")
    keys = sorted({k for item in items for k in item})
    for k in keys:
        table.add_column(k)
    for item in items:
        table.add_row(*[str(item.get(k, "")) for k in keys])
    console.print(table)
    return 0


def simulate(args: argparse.Namespace) -> int:
    """``leadflow simulate``: the simulator of every registered provider in the foreground until Ctrl-C."""
    from schemas.errors import ConfigurationError
    from simulators.dispositions import HASHED_ENV
    from simulators.server import run_simulators

    try:
        plan = simulator_plan(args.port)
    except ConfigurationError as ex:
        err.print(f"[red]leadflow: {escape(str(ex))}[/red]")
        return 2
    if getattr(args, "dispositions", False):
        os.environ[HASHED_ENV] = "hashed"
    run_simulators(plan)
    return 0


def simulator_plan(ports: list[str]) -> list[tuple[str, str, int]]:
    """Name, app factory and port of each registered provider's simulator; ``NAME=PORT`` items override ports.

    Raises:
        ConfigurationError: an item is not ``NAME=PORT`` or names no provider with a simulator.
    """
    from schemas.errors import ConfigurationError
    from tasks.providers.registry import providers

    plan = {cls.name: (cls.name, cls.simulator, cls.simulator_port) for cls in providers().values() if cls.simulator}
    for item in ports:
        name, _, port = item.partition("=")
        if name not in plan or not port.isdigit():
            raise ConfigurationError(f"--port {item!r}: expected NAME=PORT with NAME one of {', '.join(plan)}")
        plan[name] = (name, plan[name][1], int(port))
    return list(plan.values())


def report(args: argparse.Namespace) -> int:
    """``leadflow report [RUN_ID]``: past runs from the ledger, one line each (a table on wide terminals)."""
    from schemas.errors import ConfigurationError
    from schemas.options import RunOptions
    from tasks.ledger import Ledger

    try:
        ledger = Ledger(RunOptions(ledger_url=args.ledger).resolved_ledger_url())
    except ConfigurationError as ex:
        err.print(f"leadflow: {escape(mask_text(str(ex)))}", soft_wrap=True, highlight=False)
        return 2
    runs = ledger.list_runs(limit=args.limit, run_id=args.run_id)
    if args.run_id and not runs:
        err.print(f"leadflow: no run {escape(args.run_id)} in the ledger {escape(repr(ledger))}; "
                  "`leadflow report` lists the recent ones", soft_wrap=True, highlight=False)
        return 1
    if args.run_id:
        console.print_json(json.dumps(runs[0], default=str))
        return 0
    if not runs:
        console.print("no runs in the ledger yet")
        return 0
    if console.width >= WIDE:
        console.print(runs_table(runs))
        return 0
    for r in runs:
        counts = ", ".join(f"{r['outcomes'][o]} {o}" for o in OUTCOMES if r["outcomes"].get(o))
        console.print(f"[bold]{r['run_id'][:8]}[/bold] {str(r['started_at'])[:16]} {escape(r['provider'])}"
                      f" {escape(r['campaign'])} [bold]{r['status']}[/bold]", highlight=False)
        console.print(f"  read {r['rows_read'] or 0}" + (f": {counts}" if counts else ""), highlight=False)
    return 0


#: Terminal width from which ``leadflow report`` shows one table row per run.
WIDE = 140


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """Recent runs as a table with a column per outcome."""
    table = Table(title="leadflow runs")
    for col in ("run", "started", "provider", "campaign", "status", "read", *OUTCOMES):
        table.add_column(col, justify="right" if col in ("read", *OUTCOMES) else "left")
    for r in runs:
        table.add_row(r["run_id"][:8], str(r["started_at"])[:16], r["provider"], r["campaign"], r["status"],
                      str(r["rows_read"] or 0), *[str(r["outcomes"].get(o, 0)) for o in OUTCOMES])
    return table


def watch(args: argparse.Namespace) -> int:
    """``leadflow watch DIR``: emit ``leadflow.source.landed`` for each complete new file."""
    from flows.watch import api_configured
    from flows.watch import watch as watch_folder
    from tasks.events import emit_source_landed

    if not api_configured():
        err.print("[red]leadflow: set PREFECT_API_URL to the Prefect server that should get the events[/red]")
        return 2

    def announce(location: str, **fields: Any) -> None:
        emit_source_landed(location, **fields)
        console.print(f"landed: {location} ({fields.get('size')} bytes, {fields.get('fmt')})", soft_wrap=True,
                      highlight=False)

    try:
        watch_folder(args.directory, args.pattern, args.stable_seconds, once=args.once, state_file=args.state,
                     emit=announce)
    except NotADirectoryError as ex:
        err.print(f"[red]leadflow: {ex}[/red]")
        return 2
    except KeyboardInterrupt:
        pass
    return 0
