"""Events and progress for observers: source landed, batch loaded, run labels, progress artifacts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.events import Event, emit_event
from prefect.events.worker import EventsWorker

from schemas.sources import mask_url

log = logging.getLogger(__name__)

#: Event a watcher, sensor or upstream system sends when a source is ready to load.
SOURCE_LANDED = "leadflow.source.landed"
#: Event sent after each provider batch has its outcomes.
BATCH_LOADED = "leadflow.batch.loaded"
#: Event the load flow sends at the end of a run (tasks/publish.py).
RUN_COMPLETED = "leadflow.run.completed"
#: Resource label carrying a run's rejection rate as fixed-width text (``0.1234``), for triggers.
RATE_LABEL = "leadflow.rejection-rate"
#: Resource label carrying a run's final status.
STATUS_LABEL = "leadflow.run.status"
#: Resource labels naming the provider and campaign of run and batch events (the hold trigger reads them).
PROVIDER_LABEL = "leadflow.provider"
CAMPAIGN_LABEL = "leadflow.campaign"
#: Resource label telling file sources from SQL sources.
KIND_LABEL = "leadflow.source.kind"
#: File extensions and the SourceSpec format each one means.
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "excel", ".xlsm": "excel",
           ".xls": "excel", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "jsonl",
           ".ndjson": "jsonl"}


def format_of(path: str) -> str:
    """The ``SourceSpec.format`` for a file name (``auto`` when the extension is unknown)."""
    dot = path.rfind(".")
    return FORMATS.get(path[dot:].lower(), "auto") if dot >= 0 else "auto"


def source_resource(key: str, *, kind: str = "file") -> dict[str, str]:
    """The resource of a source event: ``leadflow.source.<key>`` with its kind as a label."""
    return {"prefect.resource.id": f"leadflow.source.{key}", "prefect.resource.name": mask_url(key),
            KIND_LABEL: kind}


def source_landed_event(location: str, *, size: int | None = None, fmt: str | None = None,
                        kind: str = "file", key: str | None = None, **extra: Any) -> dict[str, Any]:
    """The ``leadflow.source.landed`` event as JSON (what the watcher emits and upstream systems POST).

    Args:
        location: the path or URL the triggered run reads (no literal passwords: use ``${NAME}``).
        size: bytes (files) or rows (SQL) that are ready.
        fmt: the SourceSpec format; from the extension when omitted.
        kind: ``file`` or ``sql``.
        key: the resource key; ``location`` when omitted.
        **extra: more payload fields (``table``, ``watermark_column``, ...).
    """
    payload: dict[str, Any] = {"location": location, "size": size,
                               "format": fmt or (format_of(location) if kind == "file" else "auto"), **extra}
    return {"event": SOURCE_LANDED, "resource": source_resource(key or location, kind=kind), "payload": payload}


def emit_source_landed(location: str, **fields: Any) -> Event | None:
    """Emit ``leadflow.source.landed`` (fields as in :func:`source_landed_event`); None when not sent."""
    spec = source_landed_event(location, **fields)
    return emit_event(spec["event"], resource=spec["resource"], payload=spec["payload"])


def emit_batch_loaded(provider: str, campaign: str, run_id: str, batch_id: str,
                      counts: Mapping[str, int]) -> Event | None:
    """Emit ``leadflow.batch.loaded`` for one provider batch; never raises.

    Args:
        provider: the provider name.
        campaign: the campaign id.
        run_id: the flow run id.
        batch_id: the ledger's batch id.
        counts: leads of the batch per outcome (``loaded``, ``rejected``, ``failed``).
    """
    clean = {str(k): int(v) for k, v in counts.items()}
    try:
        return emit_event(
            BATCH_LOADED, resource=campaign_resource(provider, campaign),
            related=[{"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run"}],
            payload={"run_id": run_id, "batch_id": batch_id, "counts": clean, "leads": sum(clean.values())},
        )
    except Exception as ex:
        log.warning("could not emit %s: %s", BATCH_LOADED, type(ex).__name__)
        return None


def format_rate(rate: float) -> str:
    """A rate in [0, 1] as fixed-width text, so that prefix patterns compare like numbers."""
    return f"{min(max(rate, 0.0), 1.0):.4f}"


def campaign_resource(provider: str, campaign: str, *, rejection_rate: float | None = None,
                      status: str | None = None) -> dict[str, str]:
    """The resource of run and batch events: ``leadflow.campaign.<provider>.<campaign>`` plus labels.

    Triggers cannot compare payload values; a run's rejection rate and status as labels let an
    automation match them (see :func:`rate_at_least`).
    """
    resource = {"prefect.resource.id": f"leadflow.campaign.{provider}.{campaign}",
                "prefect.resource.name": f"{provider} {campaign}", PROVIDER_LABEL: provider,
                CAMPAIGN_LABEL: campaign}
    if rejection_rate is not None:
        resource[RATE_LABEL] = format_rate(rejection_rate)
    if status is not None:
        resource[STATUS_LABEL] = status
    return resource


def rate_at_least(threshold: float) -> list[str]:
    """Label patterns matching every :func:`format_rate` value >= ``threshold`` (hundredths).

    Example: ``rate_at_least(0.15)`` -> ``["0.15*", ..., "0.19*", "0.2*", ..., "0.9*", "1*"]``.

    Raises:
        ValueError: the threshold is not in [0, 1] or has more than two decimals.
    """
    hundredths = round(threshold * 100)
    if not 0 <= hundredths <= 100 or abs(hundredths - threshold * 100) > 1e-6:
        raise ValueError("threshold must be in [0, 1] with at most two decimals")
    if hundredths == 100:
        return ["1*"]
    tenth = -(-hundredths // 10)
    return ([f"0.{h:02d}*" for h in range(hundredths, tenth * 10)]
            + [f"0.{t}*" for t in range(tenth, 10)] + ["1*"])


class ProgressArtifact:
    """A progress listener ``(stage, done, total)`` that keeps one Prefect progress artifact current.

    Register it with ``tasks.progress.listen`` for the length of a run; ``key`` must be lowercase
    letters, digits and dashes. Failures to reach the server are logged, never raised.
    """

    def __init__(self, key: str, stages: tuple[str, ...] = ("read", "load")) -> None:
        self.key = key
        self.stages = stages
        self.artifact_id: UUID | None = None
        self.last = -1.0
        self.every_s = 1.0
        self.updated_at = -1e9
        self._lock = threading.Lock()

    def percent(self, stage: str, done: int, total: int) -> float:
        """Overall percent: each stage is an equal share."""
        index = self.stages.index(stage) if stage in self.stages else len(self.stages) - 1
        share = done / total if total else 1.0
        return round(100.0 * (index + min(share, 1.0)) / len(self.stages), 1)

    def __call__(self, stage: str, done: int, total: int) -> None:
        value = self.percent(stage, done, total)
        now = time.monotonic()
        # Batch senders report every batch, from several threads: the server hears at most one update a
        # second (and the end), and a sender never waits for another's update, except to report the end.
        if value == self.last or (value < 100.0 and now - self.updated_at < self.every_s):
            return
        if not self._lock.acquire(blocking=value >= 100.0):
            return
        try:
            self.updated_at = now
            description = f"{stage}: {done} of {total}"
            if self.artifact_id is None:
                created = create_progress_artifact(value, key=self.key, description=description)
                self.artifact_id = created if isinstance(created, UUID) else None
            else:
                update_progress_artifact(self.artifact_id, value, description=description)
            self.last = value
        except Exception as ex:
            log.warning("could not update the progress artifact: %s", type(ex).__name__)
        finally:
            self._lock.release()


def flush_events(timeout_s: float = 10.0) -> None:
    """Wait until events emitted by this process have been handed to the server."""
    EventsWorker.drain_all(timeout=timeout_s)
