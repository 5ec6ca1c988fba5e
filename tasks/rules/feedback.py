"""What the dialers said about earlier leads, applied to a chunk: the internal do-not-call list and reached phones.

Both match a lead's primary phone (``phone_key``): a bad alternate number does not keep the lead
from its good primary one. Reasons name the list or the disposition and where it came from, never the phone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.marks import mark
from schemas.outcomes import Outcome
from tasks.rules.phones import primary_keys

KEY = "phone_key"
#: Words of each reason of the internal list.
LISTED_AS = {"dnc": "asked not to be called", "bad_number": "bad number"}


def disposition_text(state: pd.Series, disposition: pd.Series) -> pd.Series:
    """``<state>/<disposition>`` of each lead (either alone when the other is missing; NA when both are)."""
    state, disposition = state.astype("string").fillna(""), disposition.astype("string").fillna("")
    text = (state + "/" + disposition).str.strip("/")
    return text.mask(text == "")


def _source(found: pd.DataFrame, when: str) -> pd.Series:
    """``<provider>/<campaign> <state>[/<disposition>] on <date>`` of each row."""
    what = disposition_text(found["state"], found["disposition"]).fillna("(no state)")
    date = pd.to_datetime(found[when], utc=True, errors="coerce").dt.strftime("%Y-%m-%d").astype("string")
    return (found["provider"].astype("string") + "/" + found["campaign"].astype("string") + " "
            + what + " on " + date.fillna("an unknown date"))


def _match(df: pd.DataFrame, table: pd.DataFrame, reasons: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Which leads' primary phones are in ``table`` (unique ``phone_key``), and their reasons."""
    key = primary_keys(df)
    wanted = key.to_numpy(dtype=np.int64)
    at = pd.Index(table[KEY].astype("int64")).get_indexer(pd.Index(wanted))
    hit = (at >= 0) & (wanted > 0)
    found = pd.Series(reasons.array.take(np.where(hit, at, -1), allow_fill=True), index=df.index, dtype="string")
    return hit, found


def suppress_internal(df: pd.DataFrame, listed: pd.DataFrame) -> pd.DataFrame:
    """Mark pending leads whose phone is on the internal do-not-call list ``suppressed``.

    Args:
        df: A chunk with ``phone_key`` (or ``phone_e164``).
        listed: The list (``Feedback.dnc_list``): ``phone_key`` (unique), ``reason`` (``dnc`` or
            ``bad_number``), ``provider``, ``campaign``, ``state``, ``disposition``, ``added_at``.

    Returns:
        The chunk; matching leads get a reason such as ``"on the internal do-not-call list: bad number
        (engage-voice/4001 DISCONNECTED/DISCONNECTED on 2026-12-06)"``.
    """
    if listed.empty:
        return df
    why = listed["reason"].map(LISTED_AS).fillna(listed["reason"]).astype("string")
    reasons = "on the internal do-not-call list: " + why + " (" + _source(listed, "added_at") + ")"
    hit, found = _match(df, listed, reasons.reset_index(drop=True))
    return mark(df, hit, Outcome.SUPPRESSED, found)


def cool_down_reached(df: pd.DataFrame, reached: pd.DataFrame, days: int) -> pd.DataFrame:
    """Mark pending leads whose phone a provider reached within the cooldown ``duplicate``.

    Args:
        df: A chunk with ``phone_key`` (or ``phone_e164``).
        reached: ``Feedback.reached_since`` the cooldown's start: ``phone_key`` (unique), ``provider``,
            ``campaign``, ``state``, ``disposition``, ``disposition_at``.
        days: The cooldown, for the reason.

    Returns:
        The chunk; matching leads get a reason such as ``"reached by engage-voice/4001 COMPLETE/ANSWER
        on 2026-12-06 (cooldown 30 days, every provider)"``.
    """
    if reached.empty:
        return df
    reasons = "reached by " + _source(reached, "disposition_at") + f" (cooldown {days} days, every provider)"
    hit, found = _match(df, reached, reasons.reset_index(drop=True))
    return mark(df, hit, Outcome.DUPLICATE, found)
