"""What every load run carries on the Prefect server: its name, its tags, and a word when it fails.

- Names say what ran: ``engage-voice-4001-2026-12-06T07:00Z`` (provider, campaign, scheduled start in UTC).
- Tags ``<provider>`` and ``campaign-<id>`` go on every run, however it was started (schedule, UI,
  event, CLI), so runs filter by campaign in the UI and in concurrency limits.
- A failed or crashed run is told through a Prefect notification block when ``LEADFLOW_NOTIFY_BLOCK``
  names one (``slack-webhook/ops``, ``custom-webhook/pager``, ...). A hook never fails a run.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import FlowRun, State
from prefect.runtime import flow_run as current_run

from tasks.masking import mask_text

log = logging.getLogger(__name__)

#: Environment variable naming the notification block (``<block-type-slug>/<block-name>``).
NOTIFY_BLOCK_ENV = "LEADFLOW_NOTIFY_BLOCK"


def slug(text: str) -> str:
    """Lowercase letters, digits and dashes (at most 40): for run names, tags and artifact keys."""
    return "".join(ch if ch.isalnum() else "-" for ch in str(text).lower()).strip("-")[:40] or "none"


def run_name() -> str:
    """The flow run's name, from its parameters and scheduled start."""
    params: dict[str, Any] = current_run.parameters or {}
    start = current_run.scheduled_start_time or datetime.now(UTC)
    when = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{slug(params.get('provider', 'load'))}-{slug(params.get('campaign', ''))}-{when}"


def run_tags(provider: str, campaign: str) -> list[str]:
    """The tags that name a run's provider and campaign (as prefect.yaml's deployments write them)."""
    return [slug(provider), f"campaign-{slug(campaign)}"]


def tag_run(provider: str, campaign: str) -> None:
    """Add the provider and campaign tags to the current flow run on the server; never raises."""
    run_id = current_run.id
    if run_id is None:
        return
    tags = sorted({*(current_run.tags or []), *run_tags(provider, campaign)})
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            client.update_flow_run(run_id, tags=tags)
    except Exception as ex:  # a run loads its leads whether or not its tags could be set
        log.warning("could not tag the flow run: %s", type(ex).__name__)


def notify_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Send a failed or crashed run's state through the configured notification block; never raises."""
    name = os.environ.get(NOTIFY_BLOCK_ENV, "").strip()
    if not name:
        return
    params = flow_run.parameters or {}
    subject = (f"leadflow: {params.get('provider', '?')} campaign {params.get('campaign', '?')}"
               f" run {flow_run.name} {(state.name or 'failed').lower()}")
    body = f"{subject}\n{mask_text(state.message or '')}\nflow run id: {flow_run.id}"
    try:
        from prefect.blocks.core import Block

        block: Any = Block.load(name)
        block.notify(body=body, subject=subject)
    except Exception as ex:
        log.warning("could not send the failure notification through %s: %s", name, type(ex).__name__)
