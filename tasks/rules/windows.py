"""Calling windows: whether each lead may be dialled now, and if not, when it may next be."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, reduce
from pathlib import Path
from typing import Any, Final

import holidays
import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from schemas.columns import PHONE_E164, STATE, TZ_ZONES
from tasks.rules.tz_npa import DATA_DIR, npa_state
from tasks.rules.tzdata_check import ensure_tzdata
from tasks.rules.zones import ZONE_SEP

ensure_tzdata()

#: The versioned rules file shipped with the code.
CALLING_RULES: Final = DATA_DIR / "calling_rules.yaml"
#: How far ahead the next eligible moment is searched for, in days.
HORIZON_DAYS: Final = 15
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUPS: Final = {"all": DAYS, "weekdays": DAYS[:5], "weekend": DAYS[5:]}
_EVERYONE: Final = "*"
_KEY_SEP: Final = "\x1f"

Interval = tuple[datetime, datetime]


class Window(BaseModel):
    """Local hours [start, end) in which calls are allowed."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError(f"window {value!r} is not HH:MM-HH:MM")
            return {"start": start.strip(), "end": end.strip()}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError(f"window {self.start}-{self.end} ends before it starts")
        return self


@cache
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year))


class HolidayBan(BaseModel):
    """No calls on the legal holidays of a country/subdivision, nor on extra dates."""

    country: str = "US"
    subdiv: str | None = None
    extra: tuple[date, ...] = ()

    def bans(self, day: date) -> bool:
        """Whether ``day`` (local date) is a no-call holiday."""
        return day in self.extra or day in _holiday_dates(self.country, self.subdiv, day.year)


class Rule(BaseModel):
    """One jurisdiction's calling hours by day of week, with its holiday ban."""

    applies_to: tuple[str, ...]
    hours: dict[str, Window | None]
    holidays: HolidayBan | None = None
    source: str = ""
    confidence: str = ""
    note: str = ""
    _week: tuple[Window | None, ...] = PrivateAttr(default=())

    @field_validator("hours")
    @classmethod
    def _known_days(cls, hours: dict[str, Window | None]) -> dict[str, Window | None]:
        unknown = set(hours) - set(DAYS) - set(_GROUPS)
        if unknown:
            raise ValueError(f"unknown day keys {sorted(unknown)}; use {DAYS} or {list(_GROUPS)}")
        return hours

    @model_validator(mode="after")
    def _resolve_week(self) -> Rule:
        week: dict[str, Window | None] = {}
        for key in ("all", "weekdays", "weekend", *DAYS):
            if key in self.hours:
                week.update(dict.fromkeys(_GROUPS.get(key, (key,)), self.hours[key]))
        missing = [d for d in DAYS if d not in week]
        if missing:
            raise ValueError(f"no hours (or null) for {missing}")
        self._week = tuple(week[d] for d in DAYS)
        return self

    def window(self, day: date) -> Window | None:
        """The window on local date ``day``, None when no calls are allowed."""
        if self.holidays is not None and self.holidays.bans(day):
            return None
        return self._week[day.weekday()]


class CallingRules(BaseModel):
    """The calling-time rules file: every rule, and the zones assumed for unknown leads."""

    version: str
    reviewed: date | None = None
    unknown_zones: tuple[str, ...] = Field(min_length=1)
    rules: dict[str, Rule]

    @field_validator("unknown_zones")
    @classmethod
    def _real_zones(cls, zones: tuple[str, ...]) -> tuple[str, ...]:
        for zone in zones:
            zoneinfo.ZoneInfo(zone)
        return zones

    def applicable(self, regions: Iterable[str]) -> tuple[str, ...]:
        """Names of the rules that hold for a lead tied to ``regions`` (state codes)."""
        wanted = {_EVERYONE, *regions}
        return tuple(name for name, rule in self.rules.items() if wanted & set(rule.applies_to))


def load_calling_rules(path: Path | str | None = None) -> CallingRules:
    """Read and validate a calling-rules YAML file (default: data/calling_rules.yaml).

    Args:
        path: the file; None for the shipped one (read once per process).

    Returns:
        The validated rules.

    Raises:
        pydantic.ValidationError: the file breaks the rules schema.
    """
    if path is None:
        return _shipped_rules()
    return CallingRules.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


@cache
def _shipped_rules() -> CallingRules:
    return load_calling_rules(CALLING_RULES)


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


class _Gate:
    """Allowed UTC intervals per (zone, rules), memoised for one gate call."""

    def __init__(self, rules: CallingRules, now: datetime) -> None:
        self.rules, self.now = rules, now
        self.days = [now.date() + timedelta(days=d) for d in range(-1, HORIZON_DAYS + 1)]
        self.memo: dict[tuple[str, tuple[str, ...]], list[Interval]] = {}

    def intervals(self, zone: str, names: tuple[str, ...]) -> list[Interval]:
        if (zone, names) not in self.memo:
            tz, out = zoneinfo.ZoneInfo(zone), []
            for day in self.days:
                w = _strictest(self.rules.rules[n].window(day) for n in names)
                if w is not None:
                    out.append((datetime.combine(day, w.start, tz).astimezone(UTC),
                                datetime.combine(day, w.end, tz).astimezone(UTC)))
            self.memo[zone, names] = out
        return self.memo[zone, names]

    def check(self, key: str) -> tuple[bool, datetime | None]:
        zone_set, *regions = key.split(_KEY_SEP)
        zones = [z for z in zone_set.split(ZONE_SEP) if _is_zone(z)] if zone_set else []
        names = self.rules.applicable(r for r in regions if r)
        allowed = reduce(_intersect, (self.intervals(z, names)
                                      for z in zones or self.rules.unknown_zones))
        for start, end in allowed:
            if start <= self.now < end:
                return True, None
            if start > self.now:
                return False, start
        return False, None


@cache
def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype="string")
    return df[column].astype("string").fillna("")


def window_gate(
    df: pd.DataFrame, now: datetime, rules: CallingRules | None = None
) -> tuple[pd.Series, pd.Series]:
    """Whether each lead is inside its calling window at ``now``, and when it next will be.

    A lead's window is the strictest of every rule that applies to it (federal, the state
    of its phone's area code, the state in STATE), and for a zone set the intersection
    over its zones (latest local start, earliest local end). Leads without a usable zone
    are held to all of ``rules.unknown_zones`` (the US zones from Hawaii to Eastern).
    Computed once per distinct (zones, phone state, address state), then spread back.

    Args:
        df: leads with TZ_ZONES, and optionally PHONE_E164 and STATE.
        now: the current moment, timezone-aware.
        rules: the calling rules (default: the shipped data/calling_rules.yaml).

    Returns:
        ``(callable_now, next_eligible)`` aligned with ``df``: a bool Series, and a UTC
        datetime Series with the next moment the lead may be called (NaT when callable
        now, or when no window opens within HORIZON_DAYS, e.g. a disjoint zone set).

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC)")
    gate = _Gate(rules or load_calling_rules(), now.astimezone(UTC))
    phone_states = (npa_state(df[PHONE_E164]).fillna("") if PHONE_E164 in df.columns
                    else _text(df, PHONE_E164))
    key = (_text(df, TZ_ZONES) + _KEY_SEP + phone_states + _KEY_SEP
           + _text(df, STATE).str.strip().str.upper())
    codes, uniques = pd.factorize(key)
    answers = [gate.check(str(k)) for k in uniques]
    ok = np.array([a[0] for a in answers], dtype=bool)
    nxt = pd.DatetimeIndex([a[1] for a in answers], dtype="datetime64[ns, UTC]")
    return (pd.Series(ok[codes], index=df.index, dtype=bool),
            pd.Series(nxt.take(codes), index=df.index))
