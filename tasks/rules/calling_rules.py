"""The calling-time rules file: hours per jurisdiction and day of week, holiday bans, unknown zones."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Any, Final

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from tasks.rules.tz_npa import DATA_DIR
from tasks.rules.tzdata_check import ensure_tzdata

ensure_tzdata()

#: The versioned rules file shipped with the code.
CALLING_RULES: Final = DATA_DIR / "calling_rules.yaml"
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUPS: Final = {"all": DAYS, "weekdays": DAYS[:5], "weekend": DAYS[5:]}
_EVERYONE: Final = "*"


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
