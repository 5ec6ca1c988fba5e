"""A run's write-back: the rows collected as the outcomes file is written, upserted once they are final.

Each settled chunk's outcome rows (those of the outcomes file) are kept with the lead's source key
in ``writeback.parquet`` beside the run's report. After the outcomes are final the file is upserted
into the target; a failure there changes nothing that was loaded: it is reported and the run is
recorded as owing its write-back, which the next run writing to the same target retries first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from schemas import columns as C
from schemas.columns import extra as extra_name
from schemas.errors import ConfigurationError
from schemas.options import expand_env
from schemas.outcomes import Outcome
from schemas.sources import SourceSpec, mask_url
from tasks.ledger import Ledger, utcnow
from tasks.masking import mask_text
from tasks.outcomes_file import OutcomeWriter, outcome_rows
from tasks.writeback import WriteBackError, WriteBackTarget, target_for, upsert_rows
from tasks.writeback_owed import Owed, OwedWriteBacks

log = logging.getLogger(__name__)
#: Environment variable naming the write-back table when the run's options do not (scheduled deployments).
TABLE_ENV = "LEADFLOW_WRITE_BACK"
#: Which row of a key seen twice in a run is written: the lead went to the dialer if any copy did.
_RANK = {Outcome.LOADED: 7, Outcome.REJECTED: 6, Outcome.FAILED: 5, Outcome.DEFERRED: 4, Outcome.SUPPRESSED: 3,
         Outcome.INVALID: 2, Outcome.DUPLICATE: 1}
_SCHEMA = pa.schema([("source_key", pa.string()), ("outcome", pa.string()), ("reason", pa.string()),
                     ("time_zone", pa.string()), ("loaded_at", pa.timestamp("us", tz="UTC"))])


def write_back_table(option: str | None) -> str | None:
    """The run's write-back table: the option, else ``LEADFLOW_WRITE_BACK``; none when both are empty."""
    return (option or os.environ.get(TABLE_ENV) or "").strip() or None


@dataclass
class WriteBackPlan:
    """Where this run writes back, and how its rows are found again."""

    target: WriteBackTarget
    rows_file: Path
    watermark: str | None
    key: str | None = None  #: the chunk column holding the source key, known from the first chunk
    rows: int = 0
    no_key: int = 0
    _writer: pq.ParquetWriter | None = field(default=None, repr=False)

    @classmethod
    def start(cls, source: SourceSpec, table: str | None, out_dir: Path) -> WriteBackPlan | None:
        """The plan of a run with a write-back table (``None`` without one).

        Raises:
            ConfigurationError: nothing can be written beside this source, or the name is not a table's.
        """
        if table is None:
            return None
        return cls(target_for(source, table), out_dir / "writeback.parquet", source.watermark_column)

    def check(self, columns: list[str]) -> None:
        """Choose the source key from the first chunk's columns: the external id, else the watermark column.

        Raises:
            ConfigurationError: the source has neither (rows nobody could join back to their lead).
        """
        if self.key is not None:
            return
        options = [C.EXTERNAL_ID] + ([extra_name(self.watermark)] if self.watermark else [])
        found = [c for c in options if c in columns]
        if not found:
            raise ConfigurationError(
                f"write-back to {self.target.describe()}: the source has no external id column (an ID, Lead ID, "
                "CRM ID ... header, or external_id in the mapping) and no watermark column to key its rows by")
        self.key = found[0]

    def add(self, df: pd.DataFrame, rows: pd.DataFrame) -> None:
        """Keep the write-back rows of a settled chunk (``rows`` its outcome rows)."""
        self.check(list(df.columns))
        key = df[self.key].astype("string") if self.key in df else pd.Series(pd.NA, index=df.index, dtype="string")
        loaded = rows["outcome"] == Outcome.LOADED
        frame = pd.DataFrame({
            "source_key": key.to_numpy(), "outcome": rows["outcome"].to_numpy(), "reason": rows["reason"].to_numpy(),
            "time_zone": rows["timezone"].to_numpy(),
            "loaded_at": pd.Series(pd.Timestamp(utcnow()), index=rows.index).where(loaded.fillna(False)).to_numpy()})
        table = pa.Table.from_pandas(frame, schema=_SCHEMA, preserve_index=False)
        if self._writer is None:
            self.rows_file.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.rows_file, _SCHEMA)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        """Finish the rows file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class KeyedOutcomeWriter(OutcomeWriter):
    """The outcomes file, and with a write-back plan the write-back rows beside it."""

    def __init__(self, path: str, plan: WriteBackPlan | None) -> None:
        super().__init__(path)
        self.plan = plan

    def record(self, df: pd.DataFrame) -> None:
        """Write the outcome rows of a settled chunk (and keep its write-back rows)."""
        rows = outcome_rows(df)
        self.write(rows)
        if self.plan is not None:
            self.plan.add(df, rows)

    def check_chunk(self, path: str) -> None:
        """Check a spooled chunk carries a source key before any lead is sent (see :meth:`WriteBackPlan.check`)."""
        if self.plan is not None and self.plan.key is None:
            self.plan.check(pa.ipc.open_file(path).schema.names)

    def close(self) -> None:
        super().close()
        if self.plan is not None:
            self.plan.close()


def rows_of(rows_file: str | Path, *, run_id: str, provider: str, campaign: str) -> tuple[pd.DataFrame, int]:
    """The rows a run writes back, one per source key (the most telling outcome of a key seen twice), and
    how many rows had no key."""
    frame = pq.read_table(rows_file).to_pandas()
    keyed = frame[frame["source_key"].notna()]
    rank = keyed["outcome"].map(_RANK).fillna(0)
    keyed = keyed.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")
    keyed = keyed.assign(provider=provider, campaign=campaign, run_id=run_id)
    return keyed, len(frame) - len(keyed)


def finish(plan: WriteBackPlan, ledger: Ledger, *, run_id: str, provider: str, campaign: str) -> dict[str, Any]:
    """Write what is owed to the plan's target (oldest first), then this run's rows; what happened.

    Never raises: a failure leaves this run (and any later one not yet written) owed in the ledger.
    """
    target, result = plan.target, {"target": plan.target.describe(), "status": "written", "rows": 0,
                                   "rows_without_key": 0, "retried": [], "error": None}
    try:
        plan.close()
        owed = OwedWriteBacks(ledger)
    except Exception as ex:  # the rows file or the ledger: nothing can be written or owed
        result.update(status="failed", error=_safe(target, ex))
        log.error("write-back to %s failed: %s", target.describe(), result["error"])
        return result
    failed: str | None = None
    try:
        queue = [o for o in owed.owed_to(target.key()) if o.run_id != run_id]
        queue.append(Owed(run_id, provider, campaign, str(plan.rows_file), 0))
        for item in queue:  # in order: after one fails, the later ones wait behind it
            if failed is None:
                failed = _write(target, owed, item, result, current=item.run_id == run_id)
            if failed is not None:
                owed.owe(item.run_id, target=target.key(), provider=item.provider, campaign=item.campaign,
                         rows_file=item.rows_file, error=failed)
    except Exception as ex:  # the ledger failed while recording what is owed: said, never raised
        result.update(status="failed", error=_safe(target, ex))
        log.error("write-back to %s failed: %s", target.describe(), result["error"])
        return result
    if failed is not None:
        result.update(status="owed", error=failed)
        log.error("write-back to %s failed (the load stands; the next run writing there retries it): %s",
                  target.describe(), failed)
    return result


def _write(target: WriteBackTarget, owed: OwedWriteBacks, item: Owed, result: dict[str, Any], *,
           current: bool) -> str | None:
    """Upsert one run's rows; the error, or ``None`` once written (and no longer owed)."""
    if not Path(item.rows_file).exists():
        if not current:
            log.warning("write-back of run %s dropped: its rows file %s is gone", item.run_id, item.rows_file)
            owed.paid(item.run_id)
        return None
    try:
        rows, no_key = rows_of(item.rows_file, run_id=item.run_id, provider=item.provider, campaign=item.campaign)
        written = upsert_rows(target, rows)
    except Exception as ex:  # whatever the target answered (a missing driver included), the load stands
        return _safe(target, ex)
    owed.paid(item.run_id)
    if current:
        result.update(rows=written, rows_without_key=no_key)
    else:
        result["retried"].append(item.run_id)
    return None


def _safe(target: WriteBackTarget, ex: BaseException) -> str:
    """An error message with no password of the target's URL, phones and e-mails masked."""
    text = mask_text(str(ex) if isinstance(ex, WriteBackError) else f"{type(ex).__name__}: {ex}")
    secrets = [target.location]
    try:
        expanded = expand_env(target.location)
        password = sa.make_url(expanded).password if target.kind == "sql" else None
        secrets += [expanded] + ([str(password)] if password else [])
    except (ValueError, sa.exc.ArgumentError):
        pass
    for secret in secrets:
        text = text.replace(secret, mask_url(secret) if "://" in secret else "***")
    return text
