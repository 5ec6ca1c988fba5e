"""Publishing a run to Prefect: table, markdown and sample artifacts, and events."""

from __future__ import annotations

import logging
import os

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from schemas.outcomes import Outcome
from tasks.events import campaign_resource
from tasks.outcomes_file import SAMPLED
from tasks.report import RunReport, markdown_summary, sample_rows

log = logging.getLogger(__name__)
#: Set to 1 to mask every phone- or e-mail-like part of external ids in artifacts (CRM ids stay readable
#: by default; an id that is itself a phone number or an e-mail is always masked).
MASK_IDS_ENV = "LEADFLOW_MASK_EXTERNAL_IDS"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:60]


def publish(report: RunReport, samples: pd.DataFrame) -> None:
    """Artifacts and a ``leadflow.run.completed`` event; failures here never fail the run.

    Args:
        report: the run's report.
        samples: outcome rows (the outcomes file's columns) to show masked as examples.
    """
    key = _slug(f"leadflow-{report.provider}-{report.campaign}")
    try:
        create_table_artifact(
            key=f"{key}-outcomes",
            table=[{"outcome": k, "leads": v} for k, v in report.outcomes.items()],
            description=f"Outcomes of run {report.run_id}: {report.total} leads, "
                        f"{'balanced' if report.balanced() else 'NOT balanced'}; every lead's outcome is in"
                        f" {report.outcomes_file}, the report in {report.report_file}",
        )
        create_markdown_artifact(key=f"{key}-summary", markdown=markdown_summary(report),
                                 description="leadflow run summary")
        shown = sample_rows(samples.astype("string"), SAMPLED,
                            strict_ids=os.environ.get(MASK_IDS_ENV, "").lower() in ("1", "true", "yes"))
        if len(shown):
            records = [{str(k): v for k, v in r.items()} for r in shown.astype(object).fillna("").to_dict("records")]
            create_table_artifact(key=f"{key}-samples", table=records,
                                  description="Masked examples of invalid, rejected and failed leads")
        emit_event(
            event="leadflow.run.completed",
            resource=campaign_resource(report.provider, report.campaign, rejection_rate=_rate(report),
                                       status=report.status),
            payload={"run_id": report.run_id, "status": report.status, "rows_read": report.rows_read,
                     "rows_carried": report.rows_carried, "outcomes": report.outcomes,
                     "rejection_rate": _rate(report), "dry_run": report.dry_run},
        )
    except Exception as ex:
        log.warning("could not publish run artifacts: %s", type(ex).__name__)


def _rate(report: RunReport) -> float:
    sent = report.outcomes.get(Outcome.LOADED, 0) + report.outcomes.get(Outcome.REJECTED, 0)
    return round(report.outcomes.get(Outcome.REJECTED, 0) / sent, 4) if sent else 0.0
