"""Holds: a campaign on hold gets nothing sent, whichever entry point starts its run.

A hold is a row in the ledger, so every run that shares the ledger sees it: scheduled and event-
triggered deployments, runs from the UI and the CLI alike. The high-rejection trigger of
prefect.yaml sets one; an operator lifts it with ``leadflow hold lift``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from tasks.ledger import Ledger, _aware, create_tables, metadata, utcnow

holds = sa.Table(
    "lf_holds", metadata,
    sa.Column("provider", sa.String(40), primary_key=True),
    sa.Column("campaign", sa.String(100), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("set_by", sa.String(200), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Hold:
    """A campaign on hold: why, who set it, since when."""

    provider: str
    campaign: str
    reason: str
    set_by: str
    set_at: datetime

    def lift_command(self) -> str:
        """The command that lifts this hold."""
        return f"leadflow hold lift --provider {self.provider} --campaign {self.campaign}"

    def message(self) -> str:
        """One line for logs, the run's state and the CLI."""
        return (f"{self.provider} campaign {self.campaign} is on hold since {self.set_at:%Y-%m-%d %H:%M} UTC"
                f" ({self.set_by}: {self.reason}); lift it with: {self.lift_command()}")


class Holds:
    """The holds kept in a ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        create_tables(ledger.engine, [holds])

    def put(self, provider: str, campaign: str, reason: str, *, set_by: str) -> Hold:
        """Put a campaign on hold (a hold already there is replaced: the newest reason stands)."""
        hold = Hold(provider, campaign, reason.strip() or "no reason given", set_by, utcnow())
        with self.ledger.begin() as c:
            c.execute(holds.delete().where(holds.c.provider == provider, holds.c.campaign == campaign))
            c.execute(holds.insert().values(provider=provider, campaign=campaign, reason=hold.reason,
                                            set_by=set_by, set_at=hold.set_at))
        return hold

    def lift(self, provider: str, campaign: str) -> bool:
        """Lift a campaign's hold; False when there was none."""
        with self.ledger.begin() as c:
            gone = c.execute(holds.delete().where(holds.c.provider == provider, holds.c.campaign == campaign))
        return bool(gone.rowcount)

    def get(self, provider: str, campaign: str) -> Hold | None:
        """The campaign's hold, if any."""
        found = self.all(provider=provider, campaign=campaign)
        return found[0] if found else None

    def all(self, *, provider: str | None = None, campaign: str | None = None) -> list[Hold]:
        """Holds, oldest first, optionally of one provider or campaign."""
        query = sa.select(holds).order_by(holds.c.set_at)
        if provider is not None:
            query = query.where(holds.c.provider == provider)
        if campaign is not None:
            query = query.where(holds.c.campaign == campaign)
        with self.ledger.engine.connect() as c:
            rows = c.execute(query).mappings().all()
        return [Hold(r["provider"], r["campaign"], r["reason"], r["set_by"], _aware(r["set_at"])) for r in rows]
