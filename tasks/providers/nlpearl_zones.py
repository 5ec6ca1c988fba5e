"""NLPearl ``timeZoneId``: the Windows id of a lead's IANA zone, for every zone CLDR can place.

Ids come from CLDR's table as ``tzlocal.windows_tz`` ships it. IANA names the table lacks (links
and retired names: ``GMT``, ``US/East-Indiana``, ``Europe/Uzhgorod``, the POSIX-style
``EST5EDT``...) are first turned into a name it has with the same tzdata rules. Only zones with
no Windows counterpart at all (``Antarctica/Troll``) get none and take the Pearl's default.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from functools import cache
from typing import Final

import pandas as pd
from tzlocal.windows_tz import tz_win

from tasks.rules.zones import CANADA_2026_WINDOWS_ZONES, ZONE_SEP, elementwise, map_unique, to_windows_zone

#: Ids NLPearl takes: every Windows id of CLDR's table. The 2026 Canadian ids are not yet
#: confirmed by NLPearl: they are sent as the older id with the same offset
#: (``tasks.rules.zones.CANADA_2026_FALLBACKS``).
WINDOWS_ZONES: Final = frozenset(tz_win.values()) - CANADA_2026_WINDOWS_ZONES
#: Where NLPearl's document spells an id otherwise than CLDR (its example "Türkiye Standard Time").
DOCUMENTED_SPELLING: Final[Mapping[str, str]] = {"Turkey Standard Time": "Türkiye Standard Time"}
#: POSIX-style names that tzdata 2024b made links, whose older data differs from their targets'.
POSIX_LINKS: Final[Mapping[str, str]] = {
    "EST5EDT": "America/New_York", "CST6CDT": "America/Chicago",
    "MST7MDT": "America/Denver", "PST8PDT": "America/Los_Angeles",
}


@cache
def known_name(zone: str) -> str:
    """``zone``, or a name with the same tzdata rules that CLDR's table has."""
    if zone in tz_win:
        return zone
    if zone in POSIX_LINKS:
        return POSIX_LINKS[zone]
    data = _tzdata(zone)
    return _by_data().get(data, zone) if data is not None else zone


def _tzdata(zone: str) -> bytes | None:
    path = importlib.resources.files("tzdata").joinpath("zoneinfo", *zone.split("/"))
    return path.read_bytes() if path.is_file() else None


@cache
def _by_data() -> dict[bytes, str]:
    """The first (alphabetical) name in CLDR's table for each distinct tzdata file."""
    out: dict[bytes, str] = {}
    for name in sorted(tz_win):
        data = _tzdata(name)
        if data is not None:
            out.setdefault(data, name)
    return out


def time_zone_ids(zones: pd.Series) -> pd.Series:
    """``timeZoneId`` of each lead: the Windows id of its first zone, <NA> where there is none."""
    first = map_unique(zones, elementwise(lambda z: known_name(z.split(ZONE_SEP)[0])))
    return to_windows_zone(first, allowed=WINDOWS_ZONES).replace(DOCUMENTED_SPELLING)
