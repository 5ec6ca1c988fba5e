"""Time zone of each lead: from an explicit zone, the ZIP code or the phone's area code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from schemas.columns import PHONE_E164, TIMEZONE, TZ_SOURCE, TZ_ZONES, ZIP
from tasks.rules.tz_npa import npa_state, npa_zone_values, npa_zones
from tasks.rules.tz_zip import zip_zone_values, zip_zones
from tasks.rules.tzdata_check import ensure_tzdata
from tasks.rules.zones import elementwise, parse_zone, unique_values

__all__ = [
    "FALLBACK", "OPTIONS", "SOURCES", "assign_timezones", "ensure_tzdata", "npa_state",
    "npa_zones", "zip_zones",
]

ensure_tzdata()

NPA_NXX: Final = "NPA_NXX"
ZIPCODE: Final = "ZIPCODE"
EXPLICIT: Final = "EXPLICIT"
NOT_APPLICABLE: Final = "NOT_APPLICABLE"
AUTO: Final = "AUTO"
#: TZ_SOURCE of leads that got the caller's fallback zone.
FALLBACK: Final = "FALLBACK"
OPTIONS: Final = (AUTO, NPA_NXX, ZIPCODE, EXPLICIT, NOT_APPLICABLE)
SOURCES: Final = (NPA_NXX, ZIPCODE, EXPLICIT, NOT_APPLICABLE, FALLBACK)

_Finder = Callable[[pd.Series], npt.NDArray[np.object_]]
_FINDERS: Final[dict[str, tuple[str, _Finder]]] = {
    EXPLICIT: (TIMEZONE, lambda s: unique_values(s, elementwise(parse_zone))),
    ZIPCODE: (ZIP, zip_zone_values),
    NPA_NXX: (PHONE_E164, npa_zone_values),
}
_AUTO_ORDER: Final = (EXPLICIT, ZIPCODE, NPA_NXX)


def _plan(option: str, fallback: str | None) -> tuple[tuple[str, ...], str | None]:
    if option not in OPTIONS:
        raise ValueError(f"unknown time-zone option {option!r}; expected one of {OPTIONS}")
    order = _AUTO_ORDER if option == AUTO else () if option == NOT_APPLICABLE else (option,)
    if fallback is None:
        return order, None
    if option == NOT_APPLICABLE:
        raise ValueError("a fallback makes no sense with NOT_APPLICABLE")
    if fallback.upper() in _FINDERS:
        return (*order, fallback.upper()), None
    zone = parse_zone(fallback)
    if zone is None:
        raise ValueError(f"fallback {fallback!r} is neither an option nor a known time zone")
    return order, zone


def assign_timezones(df: pd.DataFrame, option: str, *, fallback: str | None = None) -> pd.DataFrame:
    """Add the candidate zones (TZ_ZONES) and where they came from (TZ_SOURCE) to leads.

    Options: ``NPA_NXX`` (area code of PHONE_E164), ``ZIPCODE`` (ZIP), ``EXPLICIT``
    (TIMEZONE parsed by :func:`parse_explicit_zone`), ``AUTO`` (explicit, else ZIP, else
    area code) and ``NOT_APPLICABLE`` (no zones; TZ_SOURCE is NOT_APPLICABLE). A missing
    input column counts as all <NA>. ``fallback`` is tried for leads still without a
    zone: another option name (e.g. ZIPCODE with fallback NPA_NXX), or a zone string
    (e.g. "America/New_York") given to all of them with TZ_SOURCE ``FALLBACK``.

    Leads whose zone cannot be found keep <NA> in both columns: the caller decides what
    to do with them (``window_gate`` treats them as anywhere in the continental US).

    Args:
        df: leads with PHONE_E164, ZIP and TIMEZONE (any may be absent).
        option: one of ``OPTIONS`` (case-insensitive).
        fallback: an option or a zone for leads the option leaves without a zone.

    Returns:
        A copy of ``df`` with the "string" columns TZ_ZONES ("|"-joined IANA zones) and
        TZ_SOURCE.

    Raises:
        ValueError: unknown option, or a fallback that is neither an option nor a zone.
    """
    option = option.upper()
    order, fallback_zone = _plan(option, fallback)
    zones = np.full(len(df), None, dtype=object)
    source = np.full(len(df), NOT_APPLICABLE if option == NOT_APPLICABLE else None, dtype=object)
    for name in order:
        column, finder = _FINDERS[name]
        todo = np.flatnonzero(pd.isna(zones))
        if column not in df.columns or not len(todo):
            continue
        found = finder(df[column].iloc[todo])
        hit = ~pd.isna(found)
        zones[todo[hit]] = found[hit]
        source[todo[hit]] = name
    if fallback_zone is not None:
        unset = pd.isna(zones)
        zones[unset] = fallback_zone
        source[unset] = FALLBACK
    return df.assign(**{
        TZ_ZONES: pd.Series(zones, index=df.index, dtype="string"),
        TZ_SOURCE: pd.Series(source, index=df.index, dtype="string"),
    })
