"""What the dialers said about loaded leads, kept in the ledger: dispositions and the internal do-not-call list.

``lf_dispositions`` holds the latest disposition of each phone per provider and campaign (a sync
replaces it); ``lf_dnc`` the phones no later run may send to any provider, each with the reason
(``dnc`` or ``bad_number``) and where it came from (provider, campaign, state and disposition).
A phone stays on the list once there: a later sync does not take it off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection

from tasks.ledger import Ledger, batches, create_tables, metadata, recent_leads, utcnow

dispositions = sa.Table(
    "lf_dispositions", metadata,
    sa.Column("provider", sa.String(40), primary_key=True),
    sa.Column("campaign", sa.String(100), primary_key=True),
    sa.Column("phone_key", sa.BigInteger, primary_key=True),
    sa.Column("account", sa.String(100)),
    sa.Column("external_id", sa.String(200)),
    sa.Column("state", sa.String(100)),
    sa.Column("disposition", sa.String(200)),
    sa.Column("passes", sa.Integer),
    sa.Column("action", sa.String(20), nullable=False),  # dnc | bad_number | reached | none
    sa.Column("disposition_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sync_id", sa.String(64), nullable=False),
    sa.Index("ix_lf_dispositions_action", "action", "disposition_at"),
)

dnc = sa.Table(
    "lf_dnc", metadata,
    sa.Column("phone_key", sa.BigInteger, primary_key=True),
    sa.Column("reason", sa.String(20), nullable=False),  # dnc | bad_number
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("campaign", sa.String(100), nullable=False),
    sa.Column("state", sa.String(100)),
    sa.Column("disposition", sa.String(200)),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sync_id", sa.String(64), nullable=False),
)

#: Columns of the frame ``record`` takes.
RECORD_COLUMNS = ("phone_key", "external_id", "state", "disposition", "passes", "action", "disposition_at")
#: Rows per statement.
CHUNK = 5_000


class Feedback:
    """Dispositions and the internal do-not-call list of a ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.engine = ledger.engine
        self.ledger = ledger
        create_tables(self.engine, [dispositions, dnc])

    def loaded_since(self, *, provider: str, account: str | None, campaign: str, since: datetime) -> pd.DataFrame:
        """The leads loaded into a campaign since ``since``: ``phone_key`` and ``external_id`` (the latest load of
        each external id; leads without one too, with ``external_id`` empty)."""
        where = [batches.c.provider == provider, batches.c.campaign == campaign]
        if account not in (None, "", "~"):
            where.append(batches.c.account == account)
        with self.engine.connect() as c:
            frame = recent_leads(c, since, *where, statuses=("loaded",))[["phone_key", "external_id"]]
        frame["phone_key"] = frame["phone_key"].astype("int64")
        frame["external_id"] = frame["external_id"].astype("string")
        with_id = frame[frame["external_id"].notna()].drop_duplicates("external_id", keep="last")
        return pd.concat([with_id, frame[frame["external_id"].isna()]], ignore_index=True)

    def record(self, frame: pd.DataFrame, *, provider: str, account: str | None, campaign: str,
               sync_id: str) -> int:
        """Keep each phone's disposition (``RECORD_COLUMNS``; it replaces the phone's earlier one in the
        campaign) and put the ``dnc`` and ``bad_number`` phones on the internal list; the phones newly listed."""
        now = utcnow()
        frame = frame.drop_duplicates("phone_key", keep="last")
        at = pd.to_datetime(frame["disposition_at"], utc=True).fillna(pd.Timestamp(now))  # none known: now
        rows = [
            {"provider": provider, "campaign": campaign, "phone_key": int(k), "account": account,
             "external_id": _text(e), "state": _text(s, 100), "disposition": _text(d, 200),
             "passes": None if pd.isna(p) else int(p), "action": str(a), "disposition_at": t.to_pydatetime(),
             "synced_at": now, "sync_id": sync_id}
            for k, e, s, d, p, a, t in zip(frame["phone_key"], frame["external_id"], frame["state"],
                                           frame["disposition"], frame["passes"], frame["action"], at, strict=True)]
        listed = [{"phone_key": r["phone_key"], "reason": r["action"], "provider": provider, "campaign": campaign,
                   "state": r["state"], "disposition": r["disposition"], "added_at": now, "sync_id": sync_id}
                  for r in rows if r["action"] in ("dnc", "bad_number")]
        added = 0
        with self.ledger.begin() as c:
            for start in range(0, len(rows), CHUNK):
                _upsert(c, dispositions, rows[start:start + CHUNK], ("provider", "campaign", "phone_key"))
            for start in range(0, len(listed), CHUNK):
                added += _insert_new(c, listed[start:start + CHUNK])
        return added

    def dnc_list(self) -> pd.DataFrame:
        """The internal do-not-call list: ``phone_key``, ``reason``, ``provider``, ``campaign``, ``state``,
        ``disposition``, ``added_at``."""
        cols = ["phone_key", "reason", "provider", "campaign", "state", "disposition", "added_at"]
        with self.engine.connect() as c:
            frame = pd.DataFrame(list(map(tuple, c.execute(sa.select(*(dnc.c[k] for k in cols))).all())),
                                 columns=cols)
        frame["phone_key"] = frame["phone_key"].astype("int64")
        return frame

    def reached_since(self, since: datetime) -> pd.DataFrame:
        """Phones some provider reached since ``since``: ``phone_key``, ``provider``, ``campaign``, ``state``,
        ``disposition``, ``disposition_at`` (the latest reach of each phone)."""
        cols = ["phone_key", "provider", "campaign", "state", "disposition", "disposition_at"]
        q = (sa.select(*(dispositions.c[k] for k in cols))
             .where(dispositions.c.action == "reached", dispositions.c.disposition_at >= since)
             .order_by(dispositions.c.disposition_at))
        with self.engine.connect() as c:
            frame = pd.DataFrame(list(map(tuple, c.execute(q).all())), columns=cols)
        frame["phone_key"] = frame["phone_key"].astype("int64")
        frame["disposition_at"] = pd.to_datetime(frame["disposition_at"], utc=True)
        return frame.drop_duplicates("phone_key", keep="last").reset_index(drop=True)

    def campaign_dispositions(self, provider: str, campaign: str) -> pd.DataFrame:
        """The dispositions kept for a campaign (``RECORD_COLUMNS`` and ``sync_id``)."""
        cols = [*RECORD_COLUMNS, "sync_id"]
        q = sa.select(*(dispositions.c[k] for k in cols)).where(
            dispositions.c.provider == provider, dispositions.c.campaign == campaign)
        with self.engine.connect() as c:
            return pd.DataFrame(list(map(tuple, c.execute(q).all())), columns=cols)


def _text(value: Any, limit: int = 200) -> str | None:
    return None if value is None or pd.isna(value) else str(value)[:limit]


def _upsert(c: Connection, table: sa.Table, rows: list[dict[str, Any]], key: tuple[str, ...]) -> None:
    """Insert ``rows``, replacing the rows with the same ``key`` (SQLite and PostgreSQL: ON CONFLICT)."""
    if not rows:
        return
    if c.dialect.name in ("mysql", "mariadb"):  # ON DUPLICATE KEY UPDATE: one batched statement, as below
        mine = mysql.insert(table)
        c.execute(mine.on_duplicate_key_update(
            {col.name: mine.inserted[col.name] for col in table.columns if col.name not in key}), rows)
        return
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[c.dialect.name]
    stmt = dialect.insert(table)
    update = {col.name: stmt.excluded[col.name] for col in table.columns if col.name not in key}
    c.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=update), rows)


def _insert_new(c: Connection, rows: list[dict[str, Any]]) -> int:
    """Put the phones of ``rows`` on the internal list unless they are on it already; how many were new."""
    known = set(c.execute(sa.select(dnc.c.phone_key).where(dnc.c.phone_key.in_([r["phone_key"] for r in rows])))
                .scalars())
    new = [r for r in rows if r["phone_key"] not in known]
    new = list({r["phone_key"]: r for r in new}.values())
    if not new:
        return 0
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(c.dialect.name)
    stmt = (dialect.insert(dnc).on_conflict_do_nothing(index_elements=["phone_key"]) if dialect
            else dnc.insert().prefix_with("IGNORE"))  # MySQL/MariaDB: a phone listed meanwhile is kept
    c.execute(stmt, new)
    return len(new)
