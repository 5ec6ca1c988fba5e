"""The Prefect tasks that read and prepare a load run's leads: chunk-sized, never one per lead
(delivery's are in ``tasks/delivery/``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.options import RuleOptions
from schemas.sources import SourceSpec
from tasks.rules.dedup import find_duplicates
from tasks.sources import SourceError, open_source
from tasks.spool import Chunk, Spool
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
def prepare_chunk(chunk: Chunk, rules: RuleOptions, provider: str, spool: Spool,
                  name: str) -> tuple[Chunk, pd.DataFrame]:
    """Phones, schema and provider rules on one chunk; returns it (as it came: a spool path, or bytes
    when shipped to a worker on another machine) and its dedup keys."""
    df = prepare(Spool.read(chunk), rules, provider)
    return (Spool.pack(df) if isinstance(chunk, bytes) else spool.write(name, df)), dedup_keys(df)


@task(name="Find in-run duplicates", cache_policy=NO_CACHE)
def run_duplicates(keys: list[pd.DataFrame], rules: RuleOptions) -> pd.DataFrame:
    """Duplicates across the whole run (all chunks), by phone and optionally external id."""
    frame = pd.concat(keys, ignore_index=True) if keys else pd.DataFrame(columns=["row", "phone_key", "external_id"])
    return find_duplicates(frame, keep=rules.dedup_keep, by_external_id=rules.dedup_by_external_id)


@task(name="Apply lead rules to chunk", cache_policy=NO_CACHE)
def rules_chunk(path: str, ctx: RuleContext) -> pd.DataFrame:
    """Dedup, DNC, time zones and windows on one chunk; the chunk itself, not spooled (the flow
    takes it a few chunks later, so at most that many are held)."""
    return apply_rules(Spool.read(path), ctx)
