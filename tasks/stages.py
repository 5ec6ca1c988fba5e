"""The per-chunk stages of a run: prepare (normalize, validate) and rules (dedup, DNC, zones, windows).

Each stage is a plain function over one chunk (a DataFrame); ``tasks/pipeline_tasks.py`` wraps
them as Prefect tasks. Rows are never dropped: a stage that stops a lead sets its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas import columns as C
from schemas.lead import validate_leads
from schemas.marks import mark
from schemas.options import RuleOptions
from schemas.outcomes import Outcome
from schemas.provider_rules import validate_for_provider
from tasks.providers.registry import provider_class
from tasks.rules.dedup import already_loaded, mark_duplicates
from tasks.rules.dnc import suppress
from tasks.rules.feedback import cool_down_reached, suppress_internal
from tasks.rules.phone_text import large_strings, place, string_series
from tasks.rules.phones import normalize_phones, phone_key
from tasks.rules.timezones import assign_timezones
from tasks.rules.windows import window_gate

KEY = "phone_key"
KEY_COLUMNS = [C.ROW, KEY, C.EXTERNAL_ID]


def conform(chunk: pd.DataFrame) -> pd.DataFrame:
    """Add every canonical input field the source lacks (as missing) and the outcome columns."""
    missing = [col for col in (*C.INPUT_FIELDS, C.OUTCOME, C.REASON) if col not in chunk.columns]
    out = chunk.copy(deep=False)  # copy-on-write: the caller's frame never changes
    na = pd.arrays.ArrowStringArray(pa.nulls(len(chunk), pa.string()))
    for col in missing:
        out[col] = na
    out[C.ROW] = out[C.ROW].astype("int64")
    return out.reset_index(drop=True)


def prepare(chunk: pd.DataFrame, rules: RuleOptions, provider: str) -> pd.DataFrame:
    """Normalize phones, validate the schema and the rules of the provider named ``provider``; adds ``phone_key``."""
    df = conform(chunk)
    df = normalize_phones(df, default_region=rules.default_region, allow_fictional=rules.allow_fictional)
    df = validate_leads(df)
    df = validate_for_provider(df, provider_class(provider).field_rules)
    key = phone_key(df[C.PHONE_E164])
    df[KEY] = key.astype("Int64") if key.isna().any() else key.astype("int64")
    return df


def dedup_keys(df: pd.DataFrame) -> pd.DataFrame:
    """The compact key frame of the still-pending leads of a prepared chunk."""
    pending = df.loc[df[C.OUTCOME].isna().to_numpy(dtype=bool), KEY_COLUMNS]
    return pd.DataFrame({C.ROW: pending[C.ROW].astype("int64"), KEY: pending[KEY].astype("int64"),
                         C.EXTERNAL_ID: pending[C.EXTERNAL_ID].astype("string")})


@dataclass
class RuleContext:
    """Everything the rules need besides the chunk."""

    rules: RuleOptions
    duplicates: pd.DataFrame  #: in-run duplicates: row, duplicate_of, reason
    loaded: pd.DataFrame  #: ledger rows in the dedup scope (phone_key, provider, campaign, loaded_at, run_id)
    dnc: dict[str, np.ndarray] = field(default_factory=dict)
    #: the internal do-not-call list (``Feedback.dnc_list``) and the phones reached within the cooldown
    internal_dnc: pd.DataFrame = field(default_factory=pd.DataFrame)
    reached: pd.DataFrame = field(default_factory=pd.DataFrame)
    window_gate: bool = True
    now: datetime | None = None


def apply_rules(df: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """In-run dedup, ledger dedup, DNC lists, the internal DNC list, reached phones, time zones and the
    calling-window gate, in that order."""
    df = mark_duplicates(df.copy(deep=False), ctx.duplicates)  # copy-on-write: the caller's frame never changes
    if len(ctx.loaded):
        df = already_loaded(df, ctx.loaded)
    if ctx.dnc:
        df = suppress(df, ctx.dnc)
    if len(ctx.internal_dnc):
        df = suppress_internal(df, ctx.internal_dnc)
    if len(ctx.reached):
        df = cool_down_reached(df, ctx.reached, ctx.rules.cooldown_days)
    df = assign_timezones(df, ctx.rules.timezone_option)
    if ctx.window_gate:
        pending = df[C.OUTCOME].isna().to_numpy(dtype=bool)
        if pending.any() and ctx.now is not None:
            # Only the columns the gate reads, on every row (cheaper than gathering the pending ones); the
            # answers of the pending rows count.
            gated = df[[c for c in (C.TZ_ZONES, C.STATE, C.PHONE_E164) if c in df.columns]]
            callable_now, next_at = window_gate(gated, ctx.now)
            later = pending & ~callable_now.to_numpy(dtype=bool)
            df[C.NEXT_ELIGIBLE] = next_at.astype("datetime64[ns, UTC]").where(pending)
            # Reasons for the deferred rows only (mark sets no other): few times to format.
            deferred = np.flatnonzero(later)
            when = df[C.NEXT_ELIGIBLE].iloc[deferred].dt.strftime("%Y-%m-%d %H:%M UTC")
            reason = large_strings(("outside calling window; next eligible " + when).astype("string"))
            df = mark(df, later, Outcome.DEFERRED, string_series(place(len(df), [(deferred, reason)]), df.index))
    return df
