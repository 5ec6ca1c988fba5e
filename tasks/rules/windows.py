"""Calling windows: whether each lead may be dialled now, and if not, when it may next be."""

from __future__ import annotations

import threading
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, reduce
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from schemas.columns import PHONE_E164, STATE, TZ_ZONES
from tasks.rules.calling_rules import (
    CALLING_RULES,
    DAYS,
    CallingRules,
    HolidayBan,
    Rule,
    Window,
    load_calling_rules,
)
from tasks.rules.tz_npa import nanp_npa_nxx, state_lookup
from tasks.rules.tzdata_check import ensure_tzdata
from tasks.rules.zones import ZONE_SEP

__all__ = [
    "CALLING_RULES", "DAYS", "HORIZON_DAYS", "CallingRules", "HolidayBan", "Rule", "Window",
    "load_calling_rules", "window_gate",
]

ensure_tzdata()

#: How far ahead the next eligible moment is searched for, in days.
HORIZON_DAYS: Final = 15
_KEY_SEP: Final = "\x1f"
_NAT: Final = np.iinfo(np.int64).min
#: Gates kept for later chunks, most recently used last.
_KEPT_GATES: Final = 8
#: Lead keys remembered per gate (free-text STATE values could make them many); then forgotten.
_MAX_KEYS: Final = 200_000

Interval = tuple[datetime, datetime]


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
    """Everything one (rules, now) pair decides, memoised for every chunk of a run.

    Each rule's window per day, the allowed UTC intervals per (zone, rule names), and the
    answer per distinct lead key (zone set, phone state, address state). Concurrent callers
    may compute an entry twice; both get the same value.
    """

    def __init__(self, rules: CallingRules, now: datetime) -> None:
        self.rules, self.now = rules, now
        self.days = [now.date() + timedelta(days=d) for d in range(-1, HORIZON_DAYS + 1)]
        self._hours: dict[str, list[tuple[time, time] | None]] = {}
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._intervals: dict[tuple[str, tuple[str, ...]], list[Interval]] = {}
        self._local: dict[tuple[str, date, time, time], Interval] = {}
        self._decisions: dict[tuple[str, tuple[str, ...]], tuple[bool, int]] = {}
        self._answers: dict[str, tuple[bool, int]] = {}

    def _rule_hours(self, name: str) -> list[tuple[time, time] | None]:
        """The (start, end) of a rule on each of ``days``, None where it allows no calls."""
        if name not in self._hours:
            rule = self.rules.rules[name]
            self._hours[name] = [None if (w := rule.window(day)) is None else (w.start, w.end)
                                 for day in self.days]
        return self._hours[name]

    def intervals(self, zone: str, names: tuple[str, ...]) -> list[Interval]:
        """The UTC intervals in which every rule of ``names`` allows calls in ``zone``."""
        if (zone, names) not in self._intervals:
            out = []
            hours = [self._rule_hours(n) for n in names]
            for i, day in enumerate(self.days):
                windows = [h[i] for h in hours]
                if any(w is None for w in windows):
                    continue
                start = max(w[0] for w in windows if w is not None)
                end = min(w[1] for w in windows if w is not None)
                if start < end:
                    out.append(self._utc(zone, day, start, end))
            self._intervals[zone, names] = out
        return self._intervals[zone, names]

    def _utc(self, zone: str, day: date, start: time, end: time) -> Interval:
        """Local [start, end) on ``day`` in ``zone`` as UTC (the same hours recur across rule sets)."""
        key = (zone, day, start, end)
        if key not in self._local:
            tz = _zone_info(zone)
            self._local[key] = (datetime.combine(day, start, tz).astimezone(UTC),
                                datetime.combine(day, end, tz).astimezone(UTC))
        return self._local[key]

    def _applicable(self, regions: tuple[str, ...]) -> tuple[str, ...]:
        if regions not in self._names:
            if len(self._names) >= _MAX_KEYS:
                self._names.clear()
            self._names[regions] = self.rules.applicable(regions)
        return self._names[regions]

    def _decide(self, zone_set: str, names: tuple[str, ...]) -> tuple[bool, int]:
        if (zone_set, names) not in self._decisions:
            zones = [z for z in zone_set.split(ZONE_SEP) if _is_zone(z)] if zone_set else []
            allowed = reduce(_intersect, (self.intervals(z, names)
                                          for z in zones or self.rules.unknown_zones))
            decision = False, _NAT
            for start, end in allowed:
                if start <= self.now < end:
                    decision = True, _NAT
                    break
                if start > self.now:
                    decision = False, pd.Timestamp(start).value
                    break
            self._decisions[zone_set, names] = decision
        return self._decisions[zone_set, names]

    def answer(self, key: str) -> tuple[bool, int]:
        """Whether a lead with ``key`` may be called now, and its next moment in ns (or NaT)."""
        if key not in self._answers:
            zone_set, *regions = key.split(_KEY_SEP)
            names = self._applicable(tuple(r for r in regions if r))
            if len(self._answers) >= _MAX_KEYS:
                self._answers.clear()
            self._answers[key] = self._decide(zone_set, names)
        return self._answers[key]


_gates: dict[tuple[str, datetime], _Gate] = {}
_gates_lock = threading.Lock()


def _gate(rules: CallingRules, now: datetime) -> _Gate:
    """The gate of (rules, now), kept across calls: the flow gates every chunk at the same ``now``."""
    key = (rules.model_dump_json(), now)
    with _gates_lock:
        gate = _gates.pop(key, None) or _Gate(rules, now)
        _gates[key] = gate
        while len(_gates) > _KEPT_GATES:
            del _gates[next(iter(_gates))]
    return gate


@cache
def _zone_info(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@cache
def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _codes(df: pd.DataFrame, column: str,
           clean: Callable[[pd.Series], pd.Series] | None = None) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Codes of a column's text (0: missing or no column) and the text of each code ("" for 0)."""
    if column not in df.columns:
        return np.zeros(len(df), dtype=np.int64), [""]
    codes, uniques = pd.factorize(df[column].astype("string"), use_na_sentinel=True)
    text = pd.Series(uniques, dtype="string")
    return codes.astype(np.int64) + 1, ["", *(clean(text) if clean else text).tolist()]


@cache
def _npa_state_codes() -> tuple[npt.NDArray[np.int64], list[str]]:
    """A code per area code (index 1000: none) for its state, and the state of each code ("" for 0)."""
    states = ["" if s is None else str(s) for s in state_lookup()]
    text = ["", *sorted(set(states) - {""})]
    code = {s: i for i, s in enumerate(text)}
    return np.array([code[s] for s in states] + [0], dtype=np.int64), text


def _phone_state_codes(df: pd.DataFrame) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Codes of the state of each lead's phone area code (0: none), and the state of each code."""
    by_npa, text = _npa_state_codes()
    if PHONE_E164 not in df.columns:
        return np.zeros(len(df), dtype=np.int64), text
    idx = nanp_npa_nxx(df[PHONE_E164])
    return by_npa[np.where(idx >= 0, idx // 1000, 1000)], text


def window_gate(
    df: pd.DataFrame, now: datetime, rules: CallingRules | None = None
) -> tuple[pd.Series, pd.Series]:
    """Whether each lead is inside its calling window at ``now``, and when it next will be.

    A lead's window is the strictest of every rule that applies to it (federal, the state
    of its phone's area code, the state in STATE), and for a zone set the intersection
    over its zones (latest local start, earliest local end). Leads without a usable zone
    are held to all of ``rules.unknown_zones`` (the US zones from Hawaii to Eastern).
    Computed once per distinct (zones, phone state, address state) and ``now``, kept for
    later calls with the same rules and ``now`` (the chunks of a run), then spread back.

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
    gate = _gate(rules or load_calling_rules(), now.astimezone(UTC))
    zones, zone_text = _codes(df, TZ_ZONES)
    states, state_text = _codes(df, STATE, lambda s: s.str.strip().str.upper())
    phones, phone_text = _phone_state_codes(df)
    n_phone, n_state = len(phone_text), len(state_text)
    codes, combos = pd.factorize((zones * n_phone + phones) * n_state + states)
    zone_of, rest = np.divmod(combos, n_phone * n_state)
    phone_of, state_of = np.divmod(rest, n_state)
    answers = [gate.answer(f"{zone_text[z]}{_KEY_SEP}{phone_text[p]}{_KEY_SEP}{state_text[s]}")
               for z, p, s in zip(zone_of.tolist(), phone_of.tolist(), state_of.tolist(), strict=True)]
    ok = np.array([a[0] for a in answers], dtype=bool)
    nxt = np.array([a[1] for a in answers], dtype=np.int64)
    return (pd.Series(ok[codes], index=df.index, dtype=bool),
            pd.Series(nxt[codes].view("M8[ns]"), index=df.index).dt.tz_localize("UTC"))
