"""The load flow: source -> prepare -> dedup -> rules -> provider batches -> outcomes and report."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Cancelled
from prefect.task_runners import ThreadPoolTaskRunner

from flows.choices import ProviderChoice
from flows.hooks import notify_failure, run_name, slug, tag_run
from flows.run_record import Recorded, fail_read_rows, finish, record_chunk, timed, write_error
from schemas.errors import ConfigurationError
from schemas.options import RunOptions
from schemas.sources import SourceSpec
from tasks import progress
from tasks.delivery.attempt import describe
from tasks.delivery.context import Delivery, RunContext
from tasks.delivery.loader import CHUNKS_IN_FLIGHT, ChunkLoader
from tasks.delivery.tasks import reconcile_unsettled
from tasks.dnc_lists import load_dnc_lists
from tasks.events import ProgressArtifact
from tasks.holds import Holds
from tasks.lease import CampaignBusyError, CampaignLease
from tasks.ledger import Ledger, cooldown_start, utcnow
from tasks.ledger_feedback import Feedback
from tasks.masking import mask_text
from tasks.memory import frozen_heap, limit_malloc_arenas
from tasks.pending import carried_chunk
from tasks.pipeline import Extracted, PreparedChunks, extract
from tasks.preflight import check_run_outputs
from tasks.providers.errors import AuthError, ProviderError
from tasks.providers.registry import create_provider, provider_class
from tasks.report import RunReport
from tasks.rules.dedup_stream import EMPTY as EMPTY_DUPLICATES
from tasks.spool import Spool
from tasks.stages import RuleContext
from tasks.stop import stop_handler_kept, stop_reason, stop_requested
from tasks.writeback_run import KeyedOutcomeWriter, WriteBackPlan, write_back_table

#: Chunks prepared (into the spool) beyond the one being ruled and sent. One: with two, more threads
#: shared the CPU and a 1M-lead run took more CPU and more time (benchmarks/README.md).
PREPARED_AHEAD = 1
#: Longest wait for the run's first request before the other chunks are prepared and sent anyway.
FIRST_REQUEST_WAIT_S = 10.0
#: Settled chunks waiting to be recorded before the flow waits for the oldest.
RECORDS_QUEUED = 1
#: Task threads: the chunk tasks ruling and sending, the preparation of the chunks ahead, and two for
#: retried batches.
TASK_THREADS = CHUNKS_IN_FLIGHT + PREPARED_AHEAD + 2


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
    plan = WriteBackPlan.start(source, write_back_table(opts.write_back), out_dir)  # refuses a target it cannot write
    plan = None if opts.load.dry_run else plan  # a dry run writes nothing back
    report = RunReport(run_id=run_id, provider=provider, campaign=campaign, account=account,
                       source=source.describe(), dry_run=opts.load.dry_run, started_at=utcnow())
    report.outcomes_file = opts.outcomes_path or str(out_dir / "outcomes.csv")
    writer = KeyedOutcomeWriter(report.outcomes_file, plan)
    spool = Spool()
    ctx = RunContext(source=source, delivery=Delivery.create(prov, ledger, opts.load, run_id=run_id) if prov else None,
                     ledger=ledger, opts=opts, spool=spool, writer=writer, report=report, now=now, window_gate=gate)
    ledger.start_run(run_id, provider=provider, account=account, campaign=campaign,
                     source=source.key(), dry_run=opts.load.dry_run)
    bar = ProgressArtifact(f"leadflow-{slug(provider)}-{slug(campaign)}-progress")
    progress.listen(bar)
    status = "crashed"
    try:
        with frozen_heap(), stop_handler_kept():
            status = _run(ctx)
    except ProviderError as exc:  # a call before any batch (sign-in, look-ups) was refused for good
        status = "failed"
        report.error = f"{provider}: {exc}" + (f"; {cls.what_to_check()}" if isinstance(exc, AuthError) else "")
        log.error("run %s stopped: %s", run_id, mask_text(report.error))
    except OSError as exc:  # the disk under the outcomes file filled up, or went read-only
        status = "failed"
        report.error = write_error(exc, report.outcomes_file)
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
        result = finish(report, writer, ledger, opts, out_dir, status, source.key())
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


def _run(ctx: RunContext) -> str:
    """Prepare the provider, take the campaign's lease, settle what earlier runs left unknown, then load."""
    delivery = ctx.delivery
    if delivery is None:
        return _load(ctx)
    prov, report = delivery.provider, ctx.report
    prov.calls = delivery.call_policy()
    prov.prepare()
    report.account = prov.account
    lease = CampaignLease(ctx.ledger, provider=prov.name, account=prov.account, campaign=prov.campaign,
                          run_id=ctx.run_id, wait_s=ctx.opts.load.lease_wait_s)
    try:
        lease.acquire()
    except CampaignBusyError as ex:
        report.error = str(ex)
        return "failed"
    try:
        reconcile_unsettled(delivery)
        return _load(ctx)
    finally:
        lease.release()


def _load(ctx: RunContext) -> str:
    """Read, prepare, rule and send (under the campaign's lease); the run's status."""
    source, prov, ledger, spool, writer, report, opts, now = (ctx.source, ctx.provider, ctx.ledger, ctx.spool,
                                                              ctx.writer, ctx.report, ctx.opts, ctx.now)
    provider, campaign, run_id = report.provider, report.campaign, report.run_id
    with timed(report, "dnc_lists"):
        dnc = load_dnc_lists(opts.rules.dnc_files, opts.rules.dnc_sql)
    since = None
    if source.watermark_column and not opts.full_refresh:
        since = ledger.get_watermark(source.key(), campaign)
    ex = Extracted()
    ship = ships_chunks()
    # The whole source is read before anything is sent (a source that fails sends nothing); chunks are
    # prepared one ahead, and each is ruled and sent by its chunk task.
    chunks = PreparedChunks(opts.rules, provider, spool, ahead=None if ship else PREPARED_AHEAD,
                            first_alone=not ship)
    with timed(report, "extract"):
        for item in extract(source, since, spool):
            if isinstance(item, Extracted):
                ex = item
            else:
                writer.check_chunk(item)  # a write-back needs a source key: refused before anything is sent
                chunks.add(Path(item).read_bytes() if ship else item)
    report.rows_read, report.notes = ex.rows_read, ex.notes
    progress.emit("read", ex.rows_read, ex.rows_read)
    if ex.error:
        chunks.wait()
        fail_read_rows(ex.paths, writer, ex.error)
        report.error = f"source error: {ex.error}"
        return "failed"
    if opts.pick_up_pending and not opts.load.dry_run:
        carried = carried_chunk(ledger, provider=provider, account=report.account, campaign=campaign,
                                run_id=run_id, now=now, first_row=report.rows_read + 1)
        if len(carried):
            report.rows_carried = len(carried)
            chunks.add(Spool.pack(carried) if ship else spool.write("carried", carried))
    with timed(report, "dedup"):
        scope = opts.rules.dedup_scope
        cool_from = cooldown_start(opts.rules.cooldown_days, now)
        loaded = (ledger.loaded_keys(provider=provider, campaign=campaign, scope=scope, since=cool_from)
                  if scope != "none" else pd.DataFrame())
        feedback = Feedback(ledger)  # what the dialers said: for every provider, whatever the scope
        internal, reached = feedback.dnc_list(), feedback.reached_since(cool_from)
    rules = RuleContext(rules=opts.rules, duplicates=EMPTY_DUPLICATES, loaded=loaded, window_gate=ctx.window_gate,
                        now=now, dnc=dnc, internal_dnc=internal, reached=reached)
    total = report.rows_read + report.rows_carried
    loader = ChunkLoader(ctx.delivery, count=progress.StageCount("load", total))
    done = 0  # chunks settled (they come back in order); a chunk's spool file goes once its task is back
    # Settled chunks are recorded in order on one thread of their own, while the next batches go out.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadflow-record") as recorder:
        recorded = Recorded()
        for i in range(len(chunks)):
            with timed(report, "prepare"):  # waiting for the chunk's preparation
                path = chunks.path(i)
            with timed(report, "dedup"):
                duplicates = chunks.duplicates(i)
            if chunks.failure is not None:  # a chunk's rows are failed: nothing more is sent
                loader.fail(chunks.failure)
            with timed(report, "load"):
                settled = loader.add(path, replace(rules, duplicates=duplicates), i)
                if i == 0:  # the first request goes out before other chunks share the CPU
                    loader.wait_first_request(FIRST_REQUEST_WAIT_S)
                    chunks.release()
                if i == len(chunks) - 1:
                    settled += loader.drain()
            for df, batches in settled:
                spool.discard(chunks.path(done))
                done += 1
                recorded.add(recorder.submit(record_chunk, df, batches, ctx))
            recorded.report(keep=RECORDS_QUEUED)
        recorded.report(keep=0)
    if loader.failure is not None:
        report.error = (f"a chunk failed ({describe(loader.failure)}): nothing more was sent; "
                        "leads not sent are failed")
        return "failed"
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
