"""The transform stages on their own (no Prefect, no HTTP), and a large file streamed through them."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from benchmarks.baseline import NOW
from schemas.sources import CHUNK_ROWS

PROVIDER = "engage-voice"
T = TypeVar("T")


class Clock:
    """Seconds spent per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def time(self, stage: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn`` and add its duration to ``stage``."""
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
        return out


def _chunks(csv_path: str, chunk_size: int) -> Iterator[pd.DataFrame]:
    from schemas.sources import SourceSpec
    from tasks.sources import open_source

    yield from open_source(SourceSpec(location=csv_path, chunk_size=chunk_size))


def transform_stages(csv_path: str, dnc_path: str, chunk_size: int = CHUNK_ROWS) -> dict[str, Any]:
    """Time each transform stage over every chunk of a file, chunk by chunk as the flow does.

    Args:
        csv_path: the generated leads.
        dnc_path: a DNC file holding some of their numbers.
        chunk_size: rows per chunk (the source's default).

    Returns:
        ``rows``; per stage its ``seconds`` and ``leads_per_s``; ``transform`` (normalize,
        validate, dedup and time zones together) and ``all_rules`` (every stage but reading).
    """
    from schemas import columns as C
    from schemas.lead import validate_leads
    from schemas.options import RuleOptions
    from schemas.provider_rules import validate_for_provider
    from tasks.dnc_lists import load_dnc_lists
    from tasks.providers.registry import provider_class
    from tasks.rules.dedup import find_duplicates, mark_duplicates
    from tasks.rules.dnc import suppress
    from tasks.rules.phones import normalize_phones, phone_key
    from tasks.rules.timezones import assign_timezones
    from tasks.rules.windows import window_gate
    from tasks.stages import KEY, conform, dedup_keys

    rules = RuleOptions(dnc_files=[dnc_path])
    rules_of_provider = provider_class(PROVIDER).field_rules
    clock = Clock()
    raw: list[pd.DataFrame] = clock.time("read", list, _chunks(csv_path, chunk_size))
    prepared = []
    for chunk in raw:
        df = clock.time("normalize", lambda c: normalize_phones(conform(c), default_region="US"), chunk)
        df = clock.time("validate", lambda d: validate_for_provider(validate_leads(d), rules_of_provider), df)
        df[KEY] = clock.time("validate", phone_key, df[C.PHONE_E164]).astype("Int64")
        prepared.append(df)
    keys = clock.time("dedup", lambda: pd.concat([dedup_keys(d) for d in prepared], ignore_index=True))
    dups = clock.time("dedup", find_duplicates, keys, keep=rules.dedup_keep, by_external_id=False)
    dnc = clock.time("dnc", load_dnc_lists, rules.dnc_files, rules.dnc_sql)
    rows = outcomes = 0
    for df in prepared:
        rows += len(df)

        df = clock.time("dedup", mark_duplicates, df, dups)
        df = clock.time("dnc", suppress, df, dnc)
        df = clock.time("timezones", assign_timezones, df, rules.timezone_option)
        pending = df[C.OUTCOME].isna()
        clock.time("window", window_gate, df[pending], NOW)
        outcomes += int(df[C.OUTCOME].notna().sum())
    return _rates(clock.seconds, rows, decided=outcomes)


def _rates(seconds: dict[str, float], rows: int, **extra: Any) -> dict[str, Any]:
    stages = {k: {"seconds": v, "leads_per_s": rows / v if v else 0.0} for k, v in seconds.items()}
    out: dict[str, Any] = {"rows": rows, "stages": stages, **extra}
    for name, parts in (("transform", ("normalize", "validate", "dedup", "timezones")),
                        ("all_rules", ("normalize", "validate", "dedup", "dnc", "timezones", "window"))):
        total = sum(seconds.get(p, 0.0) for p in parts)
        out[name] = {"seconds": total, "leads_per_s": rows / total if total else 0.0}
    return out


def stream(csv_path: str, dnc_path: str, work_dir: str, chunk_size: int = CHUNK_ROWS) -> dict[str, Any]:
    """A large file through source, prepare, run-wide dedup, rules and the outcomes file, chunk by chunk.

    Only one chunk (plus the run's dedup keys) is in memory at a time; prepared chunks wait
    in the run's spool as in the flow. Leads that pass every rule count as ``loaded`` (a dry run).
    """
    from schemas import columns as C
    from schemas.options import RuleOptions
    from tasks.dnc_lists import load_dnc_lists
    from tasks.outcomes_file import OutcomeWriter, outcome_rows
    from tasks.rules.dedup import find_duplicates
    from tasks.spool import Spool
    from tasks.stages import RuleContext, apply_rules, dedup_keys, prepare

    rules = RuleOptions(dnc_files=[dnc_path], window_gate=True)
    clock = Clock()
    spool = Spool(work_dir)
    paths, keys = [], []
    start = time.perf_counter()
    try:
        for i, chunk in enumerate(_chunks(csv_path, chunk_size)):
            df = clock.time("prepare", prepare, chunk, rules, PROVIDER)
            keys.append(dedup_keys(df))
            paths.append(clock.time("spool", spool.write, f"prep-{i:05d}", df))
        dups = clock.time("dedup", find_duplicates, pd.concat(keys, ignore_index=True),
                          keep=rules.dedup_keep, by_external_id=False)
        del keys
        ctx = RuleContext(rules=rules, duplicates=dups, loaded=pd.DataFrame(), window_gate=True, now=NOW,
                          dnc=load_dnc_lists(rules.dnc_files, rules.dnc_sql))
        writer = OutcomeWriter(str(Path(tempfile.mkdtemp(dir=work_dir)) / "outcomes.csv"))
        for path in paths:
            df = clock.time("rules", apply_rules, clock.time("spool", Spool.read, path), ctx)
            df[C.OUTCOME] = df[C.OUTCOME].fillna("loaded")
            clock.time("outcomes", writer.write, outcome_rows(df))
        writer.close()
    finally:
        spool.cleanup()
    wall = time.perf_counter() - start
    counts = {k: int(v) for k, v in writer.counts.items()}
    return {"rows": writer.rows, "wall_s": wall, "leads_per_s": writer.rows / wall, "outcomes": counts,
            "stage_seconds": clock.seconds}
