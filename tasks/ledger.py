"""The ledger: runs, batches and their leads, pending (deferred/failed) leads and watermarks.

SQLAlchemy Core over SQLite by default and PostgreSQL in production. Each batch is recorded
before it is sent (its leads with status ``sending``) and settled after the answer, so a crash
or a rerun finds batches whose fate is unknown and reconciles them instead of loading twice.
A batch's leads are one record of arrays (tasks/ledger_leads.py), not a row each.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine

from schemas import columns as C
from schemas.errors import ConfigurationError
from tasks.ledger_file import check_sqlite_ledger, write_lock
from tasks.ledger_leads import LEAD_COLUMNS, ints, lead_arrays, leads_frame, sending, settle, texts, with_status
from tasks.ledger_legacy import move_legacy_leads

metadata = sa.MetaData()

runs = sa.Table(
    "lf_runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("account", sa.String(100)),
    sa.Column("campaign", sa.String(100), nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("rows_read", sa.Integer),
    sa.Column("outcomes", sa.Text),
    sa.Column("report_path", sa.Text),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

batches = sa.Table(
    "lf_batches", metadata,
    sa.Column("batch_id", sa.String(80), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("account", sa.String(100)),
    sa.Column("campaign", sa.String(100), nullable=False),
    sa.Column("lead_count", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # sending | settled
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("detail", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_lf_batches_recent", "provider", "campaign", "created_at"),
)

# A batch's leads, one record per batch: JSON arrays with a value per lead in the batch's order
# (tasks/ledger_leads.py). The fixed part is written once; the statuses sit apart because settling
# rewrites them whole, and SQLite rewrites a whole record to change one of its columns.
_ARRAY = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
batch_leads = sa.Table(
    "lf_batch_leads", metadata,
    sa.Column("batch_id", sa.String(80), primary_key=True),
    sa.Column("rows", _ARRAY, nullable=False),  # source row numbers
    sa.Column("phone_keys", _ARRAY, nullable=False),
    sa.Column("external_ids", _ARRAY, nullable=False),  # text or null
)

batch_statuses = sa.Table(
    "lf_batch_statuses", metadata,
    sa.Column("batch_id", sa.String(80), primary_key=True),
    sa.Column("statuses", _ARRAY, nullable=False),  # sending | loaded | rejected | failed
    sa.Column("reasons", _ARRAY, nullable=False),  # text or null
)

#: A batch's whole record.
_records = batch_leads.join(batch_statuses, batch_statuses.c.batch_id == batch_leads.c.batch_id)

pending = sa.Table(
    "lf_pending", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("account", sa.String(100)),
    sa.Column("campaign", sa.String(100), nullable=False),
    sa.Column("phone_key", sa.BigInteger, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),  # deferred | failed
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lead", sa.Text, nullable=False),  # the canonical lead fields, JSON
    sa.Column("origin", sa.String(120), nullable=False),  # "<run_id>#<row>"
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("taken_by", sa.String(64)),
    sa.Index("ix_lf_pending_due", "provider", "campaign", "taken_by", "due_at"),
)

watermarks = sa.Table(
    "lf_watermarks", metadata,
    sa.Column("source", sa.String(500), primary_key=True),
    sa.Column("campaign", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


def recent_leads(c: Connection, since: datetime, *where: Any, statuses: tuple[str, ...]) -> pd.DataFrame:
    """The leads of the batches recorded since ``since`` (and matching ``where``, on ``lf_batches``) whose status
    is one of ``statuses``: ``phone_key``, ``external_id``, and their batch's ``provider``, ``campaign``,
    ``run_id`` and ``created_at`` as ``loaded_at`` (a lead's send time), in the order they were recorded."""
    q = (sa.select(batches.c.provider, batches.c.campaign, batches.c.created_at, batches.c.run_id,
                   batch_leads.c.phone_keys, batch_leads.c.external_ids, batch_statuses.c.statuses)
         .select_from(batches.join(_records, batch_leads.c.batch_id == batches.c.batch_id))
         .where(batches.c.created_at >= since, *where).order_by(batches.c.created_at, batches.c.batch_id))
    frames = []
    for provider, campaign, created_at, run_id, keys, external_ids, status in c.execute(q):
        keep = with_status(status, statuses)
        frames.append(pd.DataFrame({"phone_key": ints(keys)[keep], "external_id": texts(external_ids)[keep],
                                    "provider": provider, "campaign": campaign,
                                    "loaded_at": _aware(created_at), "run_id": run_id}))
    columns = ["phone_key", "external_id", "provider", "campaign", "loaded_at", "run_id"]
    if not frames:
        return pd.DataFrame({k: pd.Series(dtype="int64" if k == "phone_key" else object) for k in columns})
    return pd.concat(frames, ignore_index=True)[columns]


def utcnow() -> datetime:
    """The current time, UTC, aware."""
    return datetime.now(UTC)


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Ledger:
    """The state store of every run, batch and loaded lead."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or sa.create_engine(url, future=True, pool_pre_ping=True)
        path = _sqlite_file(self.engine)
        if path is not None:
            check_sqlite_ledger(path)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            _private_file(path)
        try:
            create_tables(self.engine)
        except sa.exc.SQLAlchemyError as ex:
            shown = self.engine.url.render_as_string(hide_password=True)
            first = str(getattr(ex, "orig", None) or ex).splitlines()[0]
            raise ConfigurationError(f"cannot open the ledger {shown}: {first}") from None
        move_legacy_leads(self.engine, self.begin, batch_leads, batch_statuses)
        if path is not None:
            for suffix in ("-wal", "-shm"):
                if Path(f"{path}{suffix}").exists():
                    os.chmod(f"{path}{suffix}", 0o600)

    def __repr__(self) -> str:
        return f"Ledger({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction (SQLite: one writer at a time per process, queued here, not in SQLite's busy wait)."""
        with write_lock(self.engine), self.engine.begin() as conn:
            yield conn

    # runs ---------------------------------------------------------------------------------
    def start_run(self, run_id: str, *, provider: str, account: str | None, campaign: str,
                  source: str, dry_run: bool) -> None:
        """Record that a run started."""
        with self.begin() as c:
            c.execute(runs.insert().values(
                run_id=run_id, provider=provider, account=account, campaign=campaign, source=source,
                status="running", dry_run=dry_run, started_at=utcnow()))

    def finish_run(self, run_id: str, *, status: str, rows_read: int, outcomes: dict[str, int],
                   report_path: str | None) -> None:
        """Record how a run ended."""
        with self.begin() as c:
            c.execute(runs.update().where(runs.c.run_id == run_id).values(
                status=status, rows_read=rows_read, outcomes=json.dumps(outcomes),
                report_path=report_path, finished_at=utcnow()))

    def list_runs(self, limit: int = 20, run_id: str | None = None) -> list[dict[str, Any]]:
        """Past runs, newest first."""
        q = sa.select(runs).order_by(runs.c.started_at.desc()).limit(limit)
        if run_id:
            q = sa.select(runs).where(runs.c.run_id.startswith(run_id))
        with self.engine.connect() as c:
            out = [dict(r._mapping) for r in c.execute(q)]
        for r in out:
            r["outcomes"] = json.loads(r["outcomes"]) if r["outcomes"] else {}
        return out

    # batches -------------------------------------------------------------------------------
    def open_batch(self, batch_id: str, *, run_id: str, provider: str, account: str | None,
                   campaign: str, batch: pd.DataFrame, exist_ok: bool = False) -> None:
        """Record a batch and its leads as ``sending`` before the request goes out.

        With ``exist_ok``, a batch already recorded (a retried attempt) is left as it is.
        """
        now = utcnow()
        fixed, status = lead_arrays(batch), sending(len(batch))
        with self.begin() as c:
            if exist_ok and c.execute(sa.select(batches.c.batch_id).where(batches.c.batch_id == batch_id)).first():
                return
            c.execute(batches.insert().values(
                batch_id=batch_id, run_id=run_id, provider=provider, account=account, campaign=campaign,
                lead_count=len(batch), status="sending", attempts=0, created_at=now, updated_at=now))
            c.execute(batch_leads.insert().values(batch_id=batch_id, **fixed))
            c.execute(batch_statuses.insert().values(batch_id=batch_id, **status))

    def note_attempt(self, batch_id: str, detail: str) -> None:
        """Count one more send attempt of a batch."""
        with self.begin() as c:
            c.execute(batches.update().where(batches.c.batch_id == batch_id).values(
                attempts=batches.c.attempts + 1, detail=detail[:2000], updated_at=utcnow()))

    def settle_leads(self, batch_id: str, results: pd.DataFrame) -> None:
        """Record the final status (``outcome``, ``reason``) of some leads (``row``) of a batch.

        The batch is settled once none of its leads is still ``sending``.
        """
        this = batches.c.batch_id == batch_id
        with self.begin() as c:
            # A write first: it takes SQLite's write lock (or the batch's row lock) before the read,
            # so no other writer changes the statuses between the read and the write below.
            c.execute(batches.update().where(this).values(status=batches.c.status))
            found = c.execute(sa.select(batch_leads.c.rows, batch_statuses.c.statuses, batch_statuses.c.reasons)
                              .select_from(_records).where(batch_leads.c.batch_id == batch_id)).one_or_none()
            if found is None:
                return
            changed, still_sending = settle(*found, results)
            c.execute(batch_statuses.update().where(batch_statuses.c.batch_id == batch_id).values(**changed))
            if not still_sending:
                c.execute(batches.update().where(this).values(status="settled", updated_at=utcnow()))

    def batch_state(self, batch_id: str) -> tuple[int, str | None]:
        """How many attempts of the batch failed so far, and the note the last one left."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(batches.c.attempts, batches.c.detail)
                            .where(batches.c.batch_id == batch_id)).one_or_none()
        if row is None:
            raise KeyError(f"unknown batch {batch_id}")
        return int(row[0]), row[1]

    def batch_detail(self, batch_id: str) -> str | None:
        """The note left by the batch's last failed attempt."""
        with self.engine.connect() as c:
            return c.execute(sa.select(batches.c.detail).where(batches.c.batch_id == batch_id)).scalar_one_or_none()

    def batch_age_s(self, batch_id: str) -> float:
        """Seconds since the batch was recorded or its last attempt noted (when its request went out)."""
        with self.engine.connect() as c:
            at = c.execute(sa.select(batches.c.updated_at).where(batches.c.batch_id == batch_id)).scalar_one()
        return float((utcnow() - _aware(at)).total_seconds())

    def unsettled_batches(self, provider: str, account: str | None, campaign: str) -> list[str]:
        """Batches recorded as sending whose answer never came back (a crash or a kill)."""
        q = sa.select(batches.c.batch_id).where(
            batches.c.provider == provider, batches.c.campaign == campaign,
            batches.c.status == "sending").order_by(batches.c.created_at)
        if account is not None:
            q = q.where(batches.c.account == account)
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(q)]

    def batch_leads(self, batch_id: str) -> pd.DataFrame:
        """The leads of a batch as recorded (row, phone_key, external_id, status, reason), by row."""
        q = (sa.select(batch_leads.c.rows, batch_leads.c.phone_keys, batch_leads.c.external_ids,
                       batch_statuses.c.statuses, batch_statuses.c.reasons)
             .select_from(_records).where(batch_leads.c.batch_id == batch_id))
        with self.engine.connect() as c:
            found = c.execute(q).one_or_none()
        if found is None:
            return pd.DataFrame({k: pd.Series(dtype="int64" if k in ("row", "phone_key") else object)
                                 for k in LEAD_COLUMNS})
        return leads_frame(*found)

    # cross-run dedup -------------------------------------------------------------------------
    def loaded_keys(self, *, provider: str, campaign: str, scope: str, since: datetime) -> pd.DataFrame:
        """Leads loaded (or possibly loaded) within the cooldown, for the dedup scope."""
        where = []
        if scope in ("campaign", "provider"):
            where.append(batches.c.provider == provider)
        if scope == "campaign":
            where.append(batches.c.campaign == campaign)
        with self.engine.connect() as c:
            found = recent_leads(c, since, *where, statuses=("loaded", "sending"))
        return found[["phone_key", "provider", "campaign", "loaded_at", "run_id"]]

    # pending (deferred / failed) -------------------------------------------------------------
    def save_pending(self, *, provider: str, account: str | None, campaign: str, run_id: str,
                     frame: pd.DataFrame, lead_columns: list[str]) -> int:
        """Keep deferred and failed leads (their fields, due time and origin) for a later run."""
        if frame.empty:
            return 0
        payload = frame[lead_columns].astype(object).where(frame[lead_columns].notna(), None)
        due = frame["due_at"]
        records = [
            {"provider": provider, "account": account, "campaign": campaign, "phone_key": int(k),
             "outcome": str(o), "due_at": _aware(d.to_pydatetime()), "attempts": int(a),
             "lead": json.dumps(lead, default=str), "origin": str(orig), "taken_by": None}
            for k, o, d, a, orig, lead in zip(
                frame["phone_key"], frame[C.OUTCOME], due, frame["attempts"], frame["origin"],
                payload.to_dict("records"), strict=True)
        ]
        with self.begin() as c:
            c.execute(pending.insert(), records)
        return len(records)

    def take_due(self, *, provider: str, account: str | None, campaign: str, run_id: str,
                 now: datetime, limit: int = 1_000_000) -> pd.DataFrame:
        """Claim the pending leads now due; each is then owned by this run."""
        with self.begin() as c:
            q = sa.select(pending).where(
                pending.c.provider == provider, pending.c.campaign == campaign,
                pending.c.taken_by.is_(None), pending.c.due_at <= now).limit(limit)
            if c.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = [dict(r._mapping) for r in c.execute(q)]
            if rows:
                c.execute(pending.update().where(pending.c.id.in_([r["id"] for r in rows]))
                          .values(taken_by=run_id))
        return pd.DataFrame(rows, columns=[c.name for c in pending.columns])

    def pending_counts(self, provider: str, campaign: str) -> dict[str, int]:
        """Deferred and failed leads still waiting, by outcome."""
        q = (sa.select(pending.c.outcome, sa.func.count()).where(
            pending.c.provider == provider, pending.c.campaign == campaign,
            pending.c.taken_by.is_(None)).group_by(pending.c.outcome))
        with self.engine.connect() as c:
            return {str(o): int(n) for o, n in c.execute(q)}

    # watermarks --------------------------------------------------------------------------------
    def get_watermark(self, source: str, campaign: str) -> str | None:
        """The stored watermark of a source for a campaign."""
        q = sa.select(watermarks.c.value).where(watermarks.c.source == source,
                                               watermarks.c.campaign == campaign)
        with self.engine.connect() as c:
            return c.execute(q).scalar_one_or_none()

    def set_watermark(self, source: str, campaign: str, value: str, run_id: str) -> None:
        """Store the watermark after a successful run."""
        with self.begin() as c:
            c.execute(watermarks.delete().where(watermarks.c.source == source,
                                                watermarks.c.campaign == campaign))
            c.execute(watermarks.insert().values(source=source, campaign=campaign, value=value,
                                                 run_id=run_id, updated_at=utcnow()))


def _sqlite_file(engine: Engine) -> Path | None:
    """The database file of a file-backed SQLite engine."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return Path(engine.url.database)


def _private_file(path: Path) -> None:
    """Create the SQLite file owner-only (it holds full lead data), with its folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
    except OSError as ex:
        raise ConfigurationError(f"cannot open the ledger {path}: {ex.strerror}") from None


def create_tables(engine: Engine, tables: list[sa.Table] | None = None) -> None:
    """Create the ledger's tables if missing; tolerates another run creating them at the same moment."""
    for attempt in range(5):
        try:
            metadata.create_all(engine, tables=tables)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))


def cooldown_start(days: int, now: datetime | None = None) -> datetime:
    """The earliest load time that still counts for dedup."""
    return (now or utcnow()) - timedelta(days=days)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
