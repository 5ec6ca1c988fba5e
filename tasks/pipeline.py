"""The Prefect tasks of a load run: chunk- and batch-sized, never one per lead."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.options import RuleOptions
from schemas.sources import SourceSpec
from tasks.ledger import Ledger
from tasks.load import deliver_batch
from tasks.providers.base import Provider
from tasks.providers.errors import RetriableProviderError
from tasks.ratelimit import RateLimiter
from tasks.rules.dedup import find_duplicates
from tasks.sources import SourceError, open_source
from tasks.spool import Spool
from tasks.stages import RuleContext, apply_rules, dedup_keys, prepare


@dataclass
class Extracted:
    """What extraction left in the spool."""

    paths: list[str] = field(default_factory=list)
    rows_read: int = 0
    max_watermark: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


# DataFrames are inputs: never hash them for caching (NO_CACHE everywhere below).
@task(name="Extract source", cache_policy=NO_CACHE)
def extract(source: SourceSpec, since: str | None, spool: Spool) -> Iterator[str | Extracted]:
    """Read the source chunk by chunk into the spool; a source error keeps what was read.

    Yields each chunk's spool path as soon as it is written (so the caller can start preparing
    it while the next is read), then, last, the :class:`Extracted` summary.
    """
    out = Extracted()
    try:
        reader = open_source(source, since=since)
        for i, chunk in enumerate(reader):
            out.paths.append(spool.write(f"raw-{i:05d}", chunk))
            out.rows_read += len(chunk)
            yield out.paths[-1]
    except SourceError as ex:
        out.error = str(ex)
        yield out
        return
    out.max_watermark = reader.max_watermark
    out.notes = list(reader.notes)
    yield out


@task(name="Normalize and validate chunk", cache_policy=NO_CACHE)
def prepare_chunk(path: str, rules: RuleOptions, provider: str, spool: Spool, name: str) -> tuple[str, pd.DataFrame]:
    """Phones, schema and provider rules on one chunk; returns its path and dedup keys."""
    df = prepare(Spool.read(path), rules, provider)
    return spool.write(name, df), dedup_keys(df)


@task(name="Find in-run duplicates", cache_policy=NO_CACHE)
def run_duplicates(keys: list[pd.DataFrame], rules: RuleOptions) -> pd.DataFrame:
    """Duplicates across the whole run (all chunks), by phone and optionally external id."""
    frame = pd.concat(keys, ignore_index=True) if keys else pd.DataFrame(columns=["row", "phone_key", "external_id"])
    return find_duplicates(frame, keep=rules.dedup_keep, by_external_id=rules.dedup_by_external_id)


@task(name="Apply lead rules to chunk", cache_policy=NO_CACHE)
def rules_chunk(path: str, ctx: RuleContext, spool: Spool, name: str) -> str:
    """Dedup, DNC, time zones and windows on one chunk."""
    return spool.write(name, apply_rules(Spool.read(path), ctx))


def _retry_only_transient(task: object, task_run: object, state: object) -> bool:
    """Retry a batch only for transient provider errors (429, 5xx, timeouts, resets)."""
    try:
        state.result()  # type: ignore[attr-defined]
    except RetriableProviderError:
        return True
    except Exception:
        return False
    return False


@task(name="Push batch", cache_policy=NO_CACHE, retry_condition_fn=_retry_only_transient)
def push_batch(provider: Provider, ledger: Ledger, limiter: RateLimiter, batch: pd.DataFrame,
               batch_id: str, max_wait_s: float, run_id: str) -> pd.DataFrame:
    """Record the batch as sending (first attempt), then send it, resuming what the ledger says is
    unsettled; per-lead results."""
    ledger.open_batch(batch_id, run_id=run_id, provider=provider.name, account=provider.account,
                      campaign=provider.campaign, batch=batch, exist_ok=True)
    return deliver_batch(provider, ledger, limiter, batch, batch_id, max_wait_s=max_wait_s)
