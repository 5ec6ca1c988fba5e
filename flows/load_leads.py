"""The load flow: source -> prepare -> dedup -> rules -> provider batches -> outcomes and report."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.states import Cancelled
from prefect.task_runners import ThreadPoolTaskRunner

from flows.batches import ChunkLoader, answer_grace_s, call_policy, reconcile_unsettled
from flows.choices import ProviderChoice
from flows.hooks import notify_failure, run_name, slug, tag_run
from schemas import columns as C
from schemas.errors import ConfigurationError
from schemas.options import RunOptions
from schemas.sources import SourceSpec
from tasks import progress
from tasks.dnc_lists import load_dnc_lists
from tasks.events import ProgressArtifact
from tasks.holds import Holds
from tasks.lease import CampaignBusyError, CampaignLease
from tasks.ledger import Ledger, cooldown_start, utcnow
from tasks.masking import mask_text
from tasks.memory import frozen_heap, limit_malloc_arenas
from tasks.pending import carried_chunk, save_pending
from tasks.pipeline import Extracted, extract, prepare_chunk, rules_chunk, run_duplicates
from tasks.preflight import check_run_outputs
from tasks.providers.base import Provider
from tasks.providers.errors import AuthError, ProviderError
from tasks.providers.registry import create_provider, provider_class
from tasks.publish import publish
from tasks.report import OutcomeWriter, RunReport, outcome_rows
from tasks.spool import Spool
from tasks.stages import RuleContext, conform
from tasks.stop import stop_handler_kept, stop_reason, stop_requested

#: Chunks whose rules run while earlier chunks are being loaded (each held in memory until its turn).
RULES_AHEAD = 2
#: Settled chunks waiting to be recorded before the flow waits for the oldest.
RECORDS_QUEUED = 2
#: Task threads: the chunk tasks sending batches (2) and retried batches beside the rules of the chunks ahead.
TASK_THREADS = 4 + RULES_AHEAD


@flow(name="load-leads", validate_parameters=True, flow_run_name=run_name,
      on_failure=[notify_failure], on_crashed=[notify_failure],
      task_runner=ThreadPoolTaskRunner(max_workers=TASK_THREADS))  # type: ignore[arg-type]
def load_leads(source: SourceSpec, provider: ProviderChoice, campaign: str, account: str | None = None,
               options: RunOptions = RunOptions()) -> dict[str, Any]:
    """Load leads from a source into one provider campaign; every lead gets one outcome.

    Args:
        source: where the leads are (file, URL, SQL database or warehouse) and how to read them.
        provider: the dialer: ``engage-voice``, ``nlpearl``, ``voiso`` or another registered provider.
        campaign: the provider's campaign (Engage campaign id, NLPearl pearl id, Voiso campaign id).
        account: Engage sub-account id (``~`` or empty: resolved from the credentials).
        options: rules, load settings, ledger and output locations.

    Returns:
        The run's report as a dict. When the campaign is on hold the run ends in a ``Held`` state (type
        Cancelled) and sends nothing; a caller of the flow function gets ``prefect.exceptions.CancelledRun``.
    """
    opts = options or RunOptions()
    limit_malloc_arenas()  # before the run's threads allocate: they would each get an arena
    log = get_run_logger()
    run_id = str(flow_run.id or uuid.uuid4())
    tag_run(provider, campaign)
    now = opts.now or utcnow()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    cls = provider_class(provider)
    gate = opts.rules.window_gate if opts.rules.window_gate is not None else not cls.limits.enforces_calling_windows
    prov = None if opts.load.dry_run else create_provider(provider, campaign=campaign, account=account, load=opts.load)
    check_run_outputs(opts)
    try:
        ledger_url = opts.resolved_ledger_url()
    except ValueError as ex:
        raise ConfigurationError(f"ledger: {ex}") from None
    ledger = Ledger(ledger_url)
    hold = Holds(ledger).get(provider, campaign)
    if hold is not None:
        ledger.start_run(run_id, provider=provider, account=account, campaign=campaign,
                         source=source.key(), dry_run=opts.load.dry_run)
        ledger.finish_run(run_id, status="held", rows_read=0, outcomes={}, report_path=None)
        log.warning("nothing sent: %s", hold.message())
        return Cancelled(name="Held", message=f"nothing sent: {hold.message()}")  # type: ignore[return-value]
    out_dir = Path(opts.output_dir) / run_id
    report = RunReport(run_id=run_id, provider=provider, campaign=campaign, account=account,
                       source=source.describe(), dry_run=opts.load.dry_run, started_at=utcnow())
    report.outcomes_file = opts.outcomes_path or str(out_dir / "outcomes.csv")
    writer = OutcomeWriter(report.outcomes_file)
    spool = Spool()
    ledger.start_run(run_id, provider=provider, account=account, campaign=campaign,
                     source=source.key(), dry_run=opts.load.dry_run)
    bar = ProgressArtifact(f"leadflow-{slug(provider)}-{slug(campaign)}-progress")
    progress.listen(bar)
    status = "crashed"
    try:
        with frozen_heap(), stop_handler_kept():
            status = _run(source, prov, ledger, spool, writer, report, opts, now=now, gate=gate)
    except ProviderError as exc:  # a call before any batch (sign-in, look-ups) was refused for good
        status = "failed"
        report.error = f"{provider}: {exc}" + (f"; {cls.what_to_check()}" if isinstance(exc, AuthError) else "")
        log.error("run %s stopped: %s", run_id, mask_text(report.error))
    except OSError as exc:  # the disk under the outcomes file filled up, or went read-only
        status = "failed"
        report.error = _write_error(exc, report.outcomes_file)
        log.error("run %s stopped: %s", run_id, mask_text(report.error))
    except BaseException as exc:
        report.error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ConfigurationError):  # a setting that cannot work (a do-not-call file missing)
            status = "failed"
        log.error("run %s stopped: %s", run_id, mask_text(report.error))
        raise
    finally:
        progress.forget(bar)
        spool.cleanup()
        if prov is not None:
            prov.client.close()
        result = _finish(report, writer, ledger, opts, out_dir, status, source.key())
    log.info(summary_line(result))
    if result["status"] == "failed":
        raise RunFailedError(report.error or "the run failed")
    return result  # "stopped" is returned too: every lead has its outcome, and the caller says so


def summary_line(result: dict[str, Any]) -> str:
    """One line that says how a run ended and where its files are."""
    counts = ", ".join(f"{n} {k}" for k, n in result["outcomes"].items() if n) or "no leads"
    return (f"{result['provider']} campaign {result['campaign']}: {result['status']}, {result['rows_read']} read"
            f" ({counts}); report {result['report_file']}, outcomes {result['outcomes_file']}")


class RunFailedError(RuntimeError):
    """The run ended early with every lead accounted for: the source failed, or the provider refused the
    credentials. The report and the outcomes file are written; ``report.error`` says why."""


#: The name the source failure had first; kept for callers that catch it.
SourceFailedError = RunFailedError


def _run(source: SourceSpec, prov: Provider | None, ledger: Ledger, spool: Spool, writer: OutcomeWriter,
         report: RunReport, opts: RunOptions, *, now: datetime, gate: bool) -> str:
    """Prepare the provider, take the campaign's lease, settle what earlier runs left unknown, then load."""
    if prov is None:
        return _load(source, prov, ledger, spool, writer, report, opts, now=now, gate=gate)
    prov.calls = call_policy(prov, ledger, opts)
    prov.prepare()
    report.account = prov.account
    lease = CampaignLease(ledger, provider=prov.name, account=prov.account, campaign=prov.campaign,
                          run_id=report.run_id, wait_s=opts.load.lease_wait_s)
    try:
        lease.acquire()
    except CampaignBusyError as ex:
        report.error = str(ex)
        return "failed"
    try:
        reconcile_unsettled(prov, ledger, answer_grace_s(opts))
        return _load(source, prov, ledger, spool, writer, report, opts, now=now, gate=gate)
    finally:
        lease.release()


def _load(source: SourceSpec, prov: Provider | None, ledger: Ledger, spool: Spool, writer: OutcomeWriter,
          report: RunReport, opts: RunOptions, *, now: datetime, gate: bool) -> str:
    """Read, prepare, rule and send (under the campaign's lease); the run's status."""
    provider, campaign, run_id = report.provider, report.campaign, report.run_id
    with timed(report, "dnc_lists"):
        dnc = load_dnc_lists(opts.rules.dnc_files, opts.rules.dnc_sql)
    since = None
    if source.watermark_column and not opts.full_refresh:
        since = ledger.get_watermark(source.key(), campaign)
    prepared: list[Any] = []
    ex = Extracted()
    ship = ships_chunks()
    with timed(report, "extract"):
        for item in extract(source, since, spool):
            if isinstance(item, Extracted):
                ex = item
            else:
                chunk = Path(item).read_bytes() if ship else item
                prepared.append(prepare_chunk.submit(chunk, opts.rules, provider, spool, f"prep-{len(prepared):05d}"))
    report.rows_read, report.notes = ex.rows_read, ex.notes
    progress.emit("read", ex.rows_read, ex.rows_read)
    if ex.error:
        wait(prepared)
        _fail_read_rows(ex.paths, writer, ex.error)
        report.error = f"source error: {ex.error}"
        return "failed"
    if opts.pick_up_pending and not opts.load.dry_run:
        carried = carried_chunk(ledger, provider=provider, account=report.account, campaign=campaign,
                                run_id=run_id, now=now, first_row=report.rows_read + 1)
        if len(carried):
            report.rows_carried = len(carried)
            chunk = Spool.pack(carried) if ship else spool.write("carried", carried)
            prepared.append(prepare_chunk.submit(chunk, opts.rules, provider, spool, f"prep-{len(prepared):05d}"))
    with timed(report, "prepare"):
        done = [f.result() for f in prepared]
        results = [(spool.keep(f"prep-{i:05d}", out), keys) for i, (out, keys) in enumerate(done)]
    with timed(report, "dedup"):
        dups = run_duplicates([k for _, k in results], opts.rules)
        scope = opts.rules.dedup_scope
        loaded = (ledger.loaded_keys(provider=provider, campaign=campaign, scope=scope,
                                     since=cooldown_start(opts.rules.cooldown_days, now))
                  if scope != "none" else pd.DataFrame())
    ctx = RuleContext(rules=opts.rules, duplicates=dups, loaded=loaded, window_gate=gate, now=now, dnc=dnc)
    total = report.rows_read + report.rows_carried
    loader = ChunkLoader(prov, ledger, opts, run_id=run_id, count=progress.StageCount("load", total))
    ruled = _RulesAhead([path for path, _ in results], ctx)
    # Settled chunks are recorded in order on one thread of their own, while the next batches go out.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadflow-record") as recorder:
        recorded = _Recorded()
        for i in range(len(results)):
            with timed(report, "rules"):
                # Once stopped, no rules run on the chunks left: their open leads are not sent either.
                df = Spool.read(results[i][0]) if stop_requested() else ruled.take(i)
            with timed(report, "load"):
                settled = loader.add(df, i)
                if i == len(results) - 1:
                    settled += loader.drain()
            for df, batches in settled:
                recorded.add(recorder.submit(_record, df, batches, report, ledger, writer, now=now))
            recorded.report(keep=RECORDS_QUEUED)
        recorded.report(keep=0)
    if prov is not None and prov.refused is not None:
        report.error = f"{prov.name} refused the credentials: {prov.refused}; {type(prov).what_to_check()}"
        return "failed"
    if stop_requested():
        report.error = f"stopped ({stop_reason()}): leads not sent are failed and kept for the next run"
        return "stopped"
    if ex.max_watermark and not opts.load.dry_run:
        report.watermark = ex.max_watermark
    return "completed"


def ships_chunks() -> bool:
    """Whether the run's task runner may run chunk tasks on machines that do not see its spool."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return bool(getattr(ctx.task_runner if ctx else None, "ships_chunks", False))


class _RulesAhead:
    """The rules task of each chunk, started ``RULES_AHEAD`` chunks before the chunk is loaded."""

    def __init__(self, paths: list[str], ctx: RuleContext) -> None:
        self.paths, self.ctx = paths, ctx
        self.futures: dict[int, Any] = {}
        for i in range(min(RULES_AHEAD, len(paths))):
            self._submit(i)

    def _submit(self, i: int) -> None:
        self.futures[i] = rules_chunk.submit(self.paths[i], self.ctx)

    def take(self, i: int) -> pd.DataFrame:
        """Chunk ``i`` with the rules applied (waits for its task), starting a later chunk's."""
        if i + RULES_AHEAD < len(self.paths):
            self._submit(i + RULES_AHEAD)
        ruled: pd.DataFrame = self.futures.pop(i).result()
        return ruled


class _Recorded:
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


def _record(df: pd.DataFrame, batches: int, report: RunReport, ledger: Ledger, writer: OutcomeWriter, *,
            now: datetime) -> int:
    """A settled chunk: its deferred and failed leads kept for a later run, its outcomes written."""
    report.batches += batches
    with timed(report, "record"):
        save_pending(ledger, df, provider=report.provider, account=report.account, campaign=report.campaign,
                     run_id=report.run_id, retry_at=now + timedelta(minutes=5))
        writer.write(outcome_rows(df))
    return len(df)


@contextmanager
def timed(report: RunReport, stage: str) -> Iterator[None]:
    """Add the wall time of a block to the report's per-stage breakdown."""
    start = time.perf_counter()
    try:
        yield
    finally:
        report.stage_seconds[stage] = report.stage_seconds.get(stage, 0.0) + time.perf_counter() - start


def _fail_read_rows(paths: list[str], writer: OutcomeWriter, error: str) -> None:
    """A source error: every row already read is recorded as failed, none is loaded."""
    for path in paths:
        df = conform(Spool.read(path))
        df[C.OUTCOME] = "failed"
        df[C.REASON] = f"not loaded: the source failed later ({error})"
        writer.write(outcome_rows(df))


def _write_error(exc: OSError, path: str | None) -> str:
    return (f"cannot write {exc.filename or path}: {exc.strerror or exc}; the ledger holds what was sent"
            " (leadflow report), and a rerun sends nothing twice")


def _finish(report: RunReport, writer: OutcomeWriter, ledger: Ledger, opts: RunOptions, out_dir: Path,
            status: str, source_key: str) -> dict[str, Any]:
    """Close the outcomes file, write report.json, record the run's end in the ledger and publish it.

    A file that cannot be written (a full disk) fails the run with one line instead of leaving it
    recorded as running: the ledger, which holds what was sent, is written last.
    """
    try:
        writer.close()
    except OSError as exc:
        status, report.error = "failed", report.error or _write_error(exc, str(writer.path))
    counts = {k: int(v) for k, v in writer.counts.items()}
    report.outcomes = {**report.outcomes, **counts}
    report.status = "unbalanced" if status == "completed" and not report.balanced() else status
    report.finished_at = utcnow()
    try:
        report.write(opts.report_path or str(out_dir / "report.json"))
    except OSError as exc:
        report.status, report.error = "failed", report.error or _write_error(exc, exc.filename)
    if report.status == "completed" and report.watermark:
        ledger.set_watermark(source_key, report.campaign, report.watermark, report.run_id)
    ledger.finish_run(report.run_id, status=report.status, rows_read=report.rows_read,
                      outcomes=report.outcomes, report_path=report.report_file)
    publish(report, writer.path)
    return report.as_dict()
