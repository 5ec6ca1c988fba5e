"""Write-backs owed: runs whose write-back failed, kept in the ledger until a later run writes them.

A row names the run, the target (its key: no password), the file holding the rows to write and the
last error. A later run writing back to the same target first writes what is owed to it, oldest
first, so an older run's outcome never lands over a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from tasks.ledger import Ledger, utcnow

metadata = sa.MetaData()

owed = sa.Table(
    "lf_writeback_owed", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("target", sa.Text, nullable=False),  # WriteBackTarget.key(): no password
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("campaign", sa.String(100), nullable=False),
    sa.Column("rows_file", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Owed:
    """One run's write-back not yet written."""

    run_id: str
    provider: str
    campaign: str
    rows_file: str
    attempts: int


class OwedWriteBacks:
    """The owed write-backs of one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.engine = ledger.engine
        metadata.create_all(self.engine, checkfirst=True)

    def owe(self, run_id: str, *, target: str, provider: str, campaign: str, rows_file: str, error: str) -> None:
        """Record (or update) that ``run_id``'s rows are owed to ``target``."""
        now = utcnow()
        with self.engine.begin() as c:
            done = c.execute(owed.update().where(owed.c.run_id == run_id).values(
                error=error, attempts=owed.c.attempts + 1, updated_at=now)).rowcount
            if not done:
                c.execute(owed.insert().values(run_id=run_id, target=target, provider=provider, campaign=campaign,
                                               rows_file=rows_file, error=error, attempts=1,
                                               created_at=now, updated_at=now))

    def owed_to(self, target: str) -> list[Owed]:
        """What is owed to ``target``, oldest first."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(owed.c.run_id, owed.c.provider, owed.c.campaign, owed.c.rows_file,
                                       owed.c.attempts)
                             .where(owed.c.target == target).order_by(owed.c.created_at, owed.c.run_id)).all()
        return [Owed(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    def paid(self, run_id: str) -> None:
        """``run_id``'s rows were written (or can never be: their file is gone)."""
        with self.engine.begin() as c:
            c.execute(owed.delete().where(owed.c.run_id == run_id))
