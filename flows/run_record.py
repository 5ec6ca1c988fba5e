"""What a load run writes: its settled chunks (outcomes file, leads kept for later), and its end
(report, ledger, publication); and the per-stage timing of the report."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from schemas import columns as C
from schemas.options import RunOptions
from schemas.outcomes import Outcome
from tasks.delivery.context import RunContext
from tasks.ledger import Ledger, utcnow
from tasks.pending import save_pending
from tasks.publish import publish
from tasks.report import RunReport
from tasks.spool import Spool
from tasks.stages import conform
from tasks.writeback_run import KeyedOutcomeWriter
from tasks.writeback_run import finish as write_back


class Recorded:
    """Chunks being recorded (the loader reports progress batch by batch as answers come in)."""

    def __init__(self) -> None:
        self.pending: deque[Future[int]] = deque()

    def add(self, future: Future[int]) -> None:
        self.pending.append(future)

    def report(self, *, keep: int) -> None:
        """Take the chunks recorded so far, in order (raising a recording error), waiting for the oldest
        while more than ``keep`` are queued (settled chunks must not pile up in memory; 0 waits for all)."""
        while self.pending and (len(self.pending) > keep or self.pending[0].done()):
            self.pending.popleft().result()


def record_chunk(df: pd.DataFrame, batches: int, ctx: RunContext) -> int:
    """A settled chunk: its deferred and failed leads kept for a later run, its outcomes written."""
    report = ctx.report
    report.batches += batches
    with timed(report, "record"):
        save_pending(ctx.ledger, df, provider=report.provider, account=report.account, campaign=report.campaign,
                     run_id=report.run_id, retry_at=ctx.now + timedelta(minutes=5))
        ctx.writer.record(df)
    return len(df)


@contextmanager
def timed(report: RunReport, stage: str) -> Iterator[None]:
    """Add the wall time of a block to the report's per-stage breakdown."""
    start = time.perf_counter()
    try:
        yield
    finally:
        report.stage_seconds[stage] = report.stage_seconds.get(stage, 0.0) + time.perf_counter() - start


def fail_read_rows(paths: list[str], writer: KeyedOutcomeWriter, error: str) -> None:
    """A source error: every row already read is recorded as failed, none is loaded."""
    for path in paths:
        df = conform(Spool.read(path))
        df[C.OUTCOME] = Outcome.FAILED
        df[C.REASON] = f"not loaded: the source failed later ({error})"
        writer.record(df)


def write_error(exc: OSError, path: str | None) -> str:
    return (f"cannot write {exc.filename or path}: {exc.strerror or exc}; the ledger holds what was sent"
            " (leadflow report), and a rerun sends nothing twice")


def finish(report: RunReport, writer: KeyedOutcomeWriter, ledger: Ledger, opts: RunOptions, out_dir: Path,
            status: str, source_key: str) -> dict[str, Any]:
    """Close the outcomes file, write report.json, record the run's end in the ledger and publish it.

    A file that cannot be written (a full disk) fails the run with one line instead of leaving it
    recorded as running: the ledger, which holds what was sent, is written last.
    """
    try:
        writer.close()
    except OSError as exc:
        status, report.error = "failed", report.error or write_error(exc, str(writer.path))
    if writer.plan is not None:
        report.write_back = write_back(writer.plan, ledger, run_id=report.run_id, provider=report.provider,
                                       campaign=report.campaign)
    counts = {k: int(v) for k, v in writer.counts.items()}
    report.outcomes = {**report.outcomes, **counts}
    report.status = "unbalanced" if status == "completed" and not report.balanced() else status
    report.finished_at = utcnow()
    try:
        report.write(opts.report_path or str(out_dir / "report.json"))
    except OSError as exc:
        report.status, report.error = "failed", report.error or write_error(exc, exc.filename)
    if report.status == "completed" and report.watermark:
        ledger.set_watermark(source_key, report.campaign, report.watermark, report.run_id)
    ledger.finish_run(report.run_id, status=report.status, rows_read=report.rows_read,
                      outcomes=report.outcomes, report_path=report.report_file)
    publish(report, writer.samples)
    return report.as_dict()
