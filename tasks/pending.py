"""Deferred and failed leads kept between runs: saved after a run, picked up by the next."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from schemas import columns as C
from schemas.outcomes import Outcome
from tasks.ledger import Ledger

#: Columns saved with a pending lead (its input fields; the rules run again when it comes back).
SAVED = [*C.INPUT_FIELDS]


def save_pending(ledger: Ledger, df: pd.DataFrame, *, provider: str, account: str | None, campaign: str,
                 run_id: str, retry_at: datetime) -> int:
    """Keep this chunk's deferred leads (due when their window opens) and failed leads (due at ``retry_at``)."""
    keep = df[df[C.OUTCOME].isin([Outcome.DEFERRED, Outcome.FAILED]) & df["phone_key"].notna()]
    if keep.empty:
        return 0
    frame = keep.copy()
    due = pd.Series(pd.Timestamp(retry_at), index=frame.index)
    if C.NEXT_ELIGIBLE in frame:
        due = frame[C.NEXT_ELIGIBLE].where(frame[C.OUTCOME] == Outcome.DEFERRED, due).fillna(pd.Timestamp(retry_at))
    frame["due_at"] = pd.to_datetime(due, utc=True)
    frame["attempts"] = frame["pending_attempts"] + 1 if "pending_attempts" in frame else 1
    origin = frame["origin"] if "origin" in frame else pd.Series(run_id, index=frame.index)
    source_row = frame["source_row"] if "source_row" in frame else frame[C.ROW]
    frame["origin"] = origin.astype(str).where(origin.astype(str) != "source", run_id) + "#" + source_row.astype(str)
    extras = C.extra_columns(frame.columns)
    return ledger.save_pending(provider=provider, account=account, campaign=campaign, run_id=run_id,
                               frame=frame, lead_columns=[c for c in SAVED if c in frame] + extras)


def carried_chunk(ledger: Ledger, *, provider: str, account: str | None, campaign: str, run_id: str,
                  now: datetime, first_row: int) -> pd.DataFrame:
    """The pending leads now due, as a chunk.

    They are numbered on from ``first_row`` (after the rows read from the source); ``source_row``
    and ``origin`` keep where each came from for the outcomes file.
    """
    taken = ledger.take_due(provider=provider, account=account, campaign=campaign, run_id=run_id, now=now)
    if taken.empty:
        return taken
    leads = pd.DataFrame.from_records([json.loads(x) for x in taken["lead"]])
    for col in leads.columns:
        leads[col] = leads[col].astype("string")
    origin = taken["origin"].str.rsplit("#", n=1)
    leads.insert(0, C.ROW, range(first_row, first_row + len(leads)))
    leads[C.ROW] = leads[C.ROW].astype("int64")
    leads["source_row"] = origin.str[1].astype("int64").to_numpy()
    leads["origin"] = ("carried from run " + origin.str[0] + " (" + taken["outcome"] + ")").to_numpy()
    leads["pending_attempts"] = taken["attempts"].astype("int64").to_numpy()
    return leads
