"""The hold flow: puts a campaign on hold (the high-rejection trigger of prefect.yaml runs it)."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.choices import ProviderChoice
from schemas.options import RunOptions
from tasks.holds import Holds
from tasks.ledger import Ledger


@flow(name="hold-campaign", validate_parameters=True)
def hold_campaign(provider: ProviderChoice, campaign: str, reason: str = "put on hold",
                  ledger_url: str | None = None) -> str:
    """Put a campaign on hold: its runs send nothing until ``leadflow hold lift`` (any entry point).

    Args:
        provider: the dialer.
        campaign: the provider's campaign id.
        reason: why, shown by every held run and by ``leadflow hold list``.
        ledger_url: the ledger the load runs share (default LEADFLOW_LEDGER_URL).
    """
    holds = Holds(Ledger(RunOptions(ledger_url=ledger_url).resolved_ledger_url()))
    hold = holds.put(provider, campaign, reason, set_by=f"flow run {flow_run.name or 'hold-campaign'}")
    get_run_logger().warning(hold.message())
    return hold.message()
