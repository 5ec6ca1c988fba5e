"""Ledgers made before 2026-12-07 kept a row per lead in ``lf_leads``; opening one moves them into the
per-batch records once.

Batch by batch, each in its own transaction: the batch's lead rows are read, its record written,
and the rows deleted, so a move cut short resumes where it stopped, and a worker moving the same
ledger at the same moment finds the batch gone (PostgreSQL and MySQL lock the rows being moved).
The emptied table stays; it may be dropped once every worker runs this version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tasks.ledger_leads import lead_arrays, status_arrays

legacy_leads = sa.Table(  # its own metadata: new ledgers do not get the table
    "lf_leads", sa.MetaData(),
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("batch_id", sa.String(80), nullable=False),
    sa.Column("row", sa.BigInteger, nullable=False),
    sa.Column("phone_key", sa.BigInteger, nullable=False),
    sa.Column("external_id", sa.String(200)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
)
#: Batches looked up at a time.
STEP = 200


def move_legacy_leads(engine: Engine, begin: Callable[[], AbstractContextManager[Connection]],
                      batch_leads: sa.Table, batch_statuses: sa.Table) -> int:
    """Move every batch's ``lf_leads`` rows into its records (``batch_leads``, ``batch_statuses``);
    how many batches were moved. ``begin`` opens a writing transaction."""
    if not sa.inspect(engine).has_table(legacy_leads.name):
        return 0
    moved = 0
    for batch_ids in _batch_ids(engine):
        for batch_id in batch_ids:
            with begin() as c:
                q = (sa.select(legacy_leads.c.row, legacy_leads.c.phone_key, legacy_leads.c.external_id,
                               legacy_leads.c.status, legacy_leads.c.reason)
                     .where(legacy_leads.c.batch_id == batch_id).order_by(legacy_leads.c.id))
                if c.dialect.name != "sqlite":
                    q = q.with_for_update()
                rows = pd.DataFrame(list(map(tuple, c.execute(q).all())),
                                    columns=["row", "phone_key", "external_id", "status", "reason"])
                if rows.empty:  # moved meanwhile by another worker
                    continue
                done = c.execute(sa.select(batch_leads.c.batch_id).where(batch_leads.c.batch_id == batch_id)).first()
                if done is None:
                    c.execute(batch_leads.insert().values(batch_id=batch_id, **lead_arrays(rows)))
                    c.execute(batch_statuses.insert().values(
                        batch_id=batch_id, **status_arrays(rows["status"], rows["reason"])))
                c.execute(legacy_leads.delete().where(legacy_leads.c.batch_id == batch_id))
                moved += 1
    return moved


def _batch_ids(engine: Engine) -> Iterator[list[str]]:
    """The batches still holding rows in ``lf_leads``, ``STEP`` at a time, until none is left."""
    q = sa.select(legacy_leads.c.batch_id).distinct().limit(STEP)
    while True:
        with engine.connect() as c:
            found = [str(r[0]) for r in c.execute(q)]
        if not found:
            return
        yield found
