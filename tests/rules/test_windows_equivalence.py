"""The memoised, code-based window gate against the per-key code it replaced, on messy data."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas.columns import PHONE_E164, STATE, TZ_ZONES
from tasks.rules.tz_npa import npa_state
from tasks.rules.windows import (
    CALLING_RULES,
    HORIZON_DAYS,
    CallingRules,
    Window,
    load_calling_rules,
    window_gate,
)

_SEP = "\x1f"
Interval = tuple[datetime, datetime]


def _strictest(windows: Iterable[Window | None]) -> Window | None:
    ws = list(windows)
    if any(w is None for w in ws):
        return None
    start = max(w.start for w in ws if w is not None)
    end = min(w.end for w in ws if w is not None)
    return Window(start=start, end=end) if start < end else None


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


class OldGate:
    """The former gate: rules evaluated per key, pydantic windows per day, memo per call."""

    def __init__(self, rules: CallingRules, now: datetime) -> None:
        self.rules, self.now = rules, now
        self.days: list[date] = [now.date() + timedelta(days=d) for d in range(-1, HORIZON_DAYS + 1)]

    def intervals(self, zone: str, names: tuple[str, ...]) -> list[Interval]:
        tz, out = zoneinfo.ZoneInfo(zone), []
        for day in self.days:
            w = _strictest(self.rules.rules[n].window(day) for n in names)
            if w is not None:
                out.append((datetime.combine(day, w.start, tz).astimezone(UTC),
                            datetime.combine(day, w.end, tz).astimezone(UTC)))
        return out

    def check(self, key: str) -> tuple[bool, datetime | None]:
        zone_set, *regions = key.split(_SEP)
        zones = [z for z in zone_set.split("|") if _is_zone(z)] if zone_set else []
        names = self.rules.applicable(r for r in regions if r)
        allowed = reduce(_intersect, (self.intervals(z, names) for z in zones or self.rules.unknown_zones))
        for start, end in allowed:
            if start <= self.now < end:
                return True, None
            if start > self.now:
                return False, start
        return False, None


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype="string")
    return df[column].astype("string").fillna("")


def old_window_gate(df: pd.DataFrame, now: datetime, rules: CallingRules | None = None
                    ) -> tuple[pd.Series, pd.Series]:
    gate = OldGate(rules or load_calling_rules(), now.astimezone(UTC))
    phone_states = npa_state(df[PHONE_E164]).fillna("") if PHONE_E164 in df.columns else _text(df, PHONE_E164)
    key = _text(df, TZ_ZONES) + _SEP + phone_states + _SEP + _text(df, STATE).str.strip().str.upper()
    codes, uniques = pd.factorize(key)
    answers = [gate.check(str(k)) for k in uniques]
    ok = np.array([a[0] for a in answers], dtype=bool)
    nxt = pd.DatetimeIndex([a[1] for a in answers], dtype="datetime64[ns, UTC]")
    return pd.Series(ok[codes], index=df.index, dtype=bool), pd.Series(nxt.take(codes), index=df.index)


ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
         "Pacific/Honolulu", "America/Anchorage", "America/Vancouver", "America/Regina", "America/St_Johns",
         "America/Chicago|America/New_York", "America/Phoenix|America/Denver", "Asia/Tokyo|America/New_York",
         "not/a_zone", "America/New_York|bogus", "", "Etc/GMT+5", "Europe/London", "America/Havana"]
PHONES = ["+14015551234", "+12145551234", "+18015551234", "+12055551234", "+16045551234", "+12125551234",
          "+18505551234", "+17875551234", "+18095551234", "+447911123456", "+1850", "2125551234", ""]
STATES = ["RI", " tx ", "ut", "LA", "PA", "BC", "FL", "fl\t", "ZZ", "", " ", "r\x1fI", "ß"]
_ny = timezone(timedelta(hours=-5))

rows = st.tuples(st.one_of(st.none(), st.sampled_from(ZONES)), st.one_of(st.none(), st.sampled_from(PHONES)),
                 st.one_of(st.none(), st.sampled_from(STATES)))
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.sampled_from([UTC, _ny]))


def assert_same(df: pd.DataFrame, now: datetime, rules: CallingRules | None = None) -> None:
    ok, nxt = window_gate(df, now, rules)
    ref_ok, ref_nxt = old_window_gate(df, now, rules)
    pd.testing.assert_series_equal(ok, ref_ok)
    pd.testing.assert_series_equal(nxt, ref_nxt)


@pytest.mark.slow
@settings(max_examples=examples(150))
@given(data=st.lists(rows, max_size=25), now=moments, drop=st.sampled_from([None, PHONE_E164, STATE]))
def test_window_gate_matches_the_old_code(data: list[tuple[str | None, ...]], now: datetime,
                                          drop: str | None) -> None:
    df = pd.DataFrame(data, columns=[TZ_ZONES, PHONE_E164, STATE], dtype="string",
                      index=pd.Index(np.arange(len(data)) * 3)[::-1])
    if drop:
        df = df.drop(columns=drop)
    assert_same(df, now)
    assert_same(df.iloc[::2], now)  # a later chunk at the same moment: answered from the kept gate


@settings(max_examples=examples(25))
@given(data=st.lists(rows, min_size=1, max_size=10), now=moments)
def test_window_gate_keeps_rules_apart(tmp_path_factory: pytest.TempPathFactory,
                                       data: list[tuple[str | None, ...]], now: datetime) -> None:
    later = Path(tmp_path_factory.mktemp("rules")) / "rules.yaml"
    later.write_text(CALLING_RULES.read_text(encoding="utf-8").replace(
        'hours: {all: "08:00-21:00"}', 'hours: {all: "10:00-21:00"}', 1))
    df = pd.DataFrame(data, columns=[TZ_ZONES, PHONE_E164, STATE], dtype="string")
    for rules in (None, load_calling_rules(later), None):
        assert_same(df, now, rules)
