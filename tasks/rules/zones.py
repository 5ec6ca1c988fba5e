"""Explicit time-zone strings to IANA names, and IANA zones to the dialers' zone formats."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Collection, Mapping
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from tzlocal.windows_tz import tz_win, win_tz

from tasks.rules.tzdata_check import ensure_tzdata

ensure_tzdata()

#: Separator of the zones of a zone set ("America/Chicago|America/New_York").
ZONE_SEP: Final = "|"

#: Windows zone IDs NLPearl is known to take for NANP leads (its ``timeZoneId``).
NLPEARL_WINDOWS_ZONES: Final = frozenset({
    "Eastern Standard Time", "US Eastern Standard Time", "Central Standard Time",
    "Canada Central Standard Time", "Mountain Standard Time", "US Mountain Standard Time",
    "Pacific Standard Time", "Alaskan Standard Time", "Aleutian Standard Time",
    "Hawaiian Standard Time", "Atlantic Standard Time", "Newfoundland Standard Time",
    "SA Western Standard Time", "SA Pacific Standard Time", "Yukon Standard Time",
    "Turks And Caicos Standard Time", "Central America Standard Time",
    "West Pacific Standard Time", "UTC-11", "UTC-09", "UTC-08", "UTC",
})

#: Windows IDs added in 2026 for Canada's permanent-time provinces (CLDR/tzlocal 5.4+).
CANADA_2026_WINDOWS_ZONES: Final = frozenset({
    "British Columbia Standard Time", "Alberta Standard Time", "Manitoba Standard Time",
})

#: Offset-equivalent older IDs for the 2026 Canadian IDs: same UTC offset, no DST.
CANADA_2026_FALLBACKS: Final[Mapping[str, str]] = {
    "British Columbia Standard Time": "US Mountain Standard Time",
    "Alberta Standard Time": "Canada Central Standard Time",
    "Manitoba Standard Time": "SA Pacific Standard Time",
}

_EASTERN, _CENTRAL = "America/New_York", "America/Chicago"
_MOUNTAIN, _PACIFIC = "America/Denver", "America/Los_Angeles"
_ALASKA, _HAWAII, _UTC = "America/Anchorage", "Pacific/Honolulu", "Etc/UTC"
#: Abbreviations and everyday names, lower case. "AST" is a set: Atlantic Canada or Puerto Rico.
ZONE_ALIASES: Final[Mapping[str, str]] = {
    **dict.fromkeys(("est", "edt", "et", "eastern", "eastern time",
                     "eastern time (us & canada)"), _EASTERN),
    **dict.fromkeys(("cst", "cdt", "ct", "central", "central time",
                     "central time (us & canada)"), _CENTRAL),
    **dict.fromkeys(("mst", "mdt", "mt", "mountain", "mountain time",
                     "mountain time (us & canada)"), _MOUNTAIN),
    **dict.fromkeys(("pst", "pdt", "pt", "pacific", "pacific time",
                     "pacific time (us & canada)"), _PACIFIC),
    **dict.fromkeys(("akst", "akdt", "akt", "alaska", "alaska time"), _ALASKA),
    **dict.fromkeys(("hst", "hast", "hawaii", "hawaii time"), _HAWAII),
    **dict.fromkeys(("hadt", "hat"), "America/Adak"),
    **dict.fromkeys(("adt", "at", "atlantic", "atlantic time", "atlantic time (canada)"),
                    "America/Halifax"),
    "ast": "America/Halifax|America/Puerto_Rico",
    **dict.fromkeys(("nst", "ndt", "nt", "newfoundland", "newfoundland time"),
                    "America/St_Johns"),
    "arizona": "America/Phoenix",
    "saskatchewan": "America/Regina",
    "indiana (east)": "America/Indiana/Indianapolis",
    "chst": "Pacific/Guam",
    "sst": "Pacific/Pago_Pago",
    **dict.fromkeys(("utc", "gmt", "z", "zulu", "coordinated universal time"), _UTC),
}

_OFFSET = re.compile(r"(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?")
_DISPLAY = re.compile(r"\(\s*(?:utc|gmt)\s*([+-]\s*\d{1,2}(?::?\d{2})?)?\s*\)\s*(.*)")


def unique_values(
    values: pd.Series, fn: Callable[[pd.Series], pd.Series]
) -> npt.NDArray[np.object_]:
    """Apply ``fn`` to the distinct non-missing values only; the answers as an object array.

    Args:
        values: any Series; missing values stay missing (None).
        fn: maps a Series of distinct values to a Series of the same length.

    Returns:
        An object array aligned with ``values`` (None where missing or unanswered).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    answers = fn(pd.Series(uniques))
    table = np.full(len(answers) + 1, None, dtype=object)
    table[:-1] = answers.to_numpy(dtype=object)
    table[:-1][answers.isna().to_numpy()] = None
    out: npt.NDArray[np.object_] = table[codes]
    return out


def map_unique(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """:func:`unique_values` as a "string" Series aligned with ``values``."""
    return pd.Series(unique_values(values, fn), index=values.index, dtype="string")


def elementwise(fn: Callable[[str], str | None]) -> Callable[[pd.Series], pd.Series]:
    """A per-value function over strings as a Series function (for the distinct values)."""
    return lambda u: pd.Series([fn(str(v)) for v in u], index=u.index, dtype=object)


@cache
def _iana_names() -> Mapping[str, str]:
    names = zoneinfo.available_timezones() - {"Factory", "localtime", "posixrules"}
    return {n.lower(): n for n in names}


@cache
def _windows_names() -> Mapping[str, str]:
    return {w.lower(): z for w, z in win_tz.items()}


def _fixed_offset(sign: str, hours: str, minutes: str | None) -> str | None:
    h = int(hours)
    if (minutes and int(minutes)) or h > 14 or (sign == "-" and h > 12):
        return None
    if h == 0:
        return _UTC
    return f"Etc/GMT{'+' if sign == '-' else '-'}{h}"


@cache
def parse_zone(text: str) -> str | None:
    """One explicit zone string as an IANA zone (or zone set), or None if unrecognised.

    Args:
        text: an IANA name, a Windows ID, an abbreviation or a UTC offset, any case.

    Returns:
        The IANA name; fixed offsets as ``Etc/GMT+5`` style (POSIX sign: UTC-5 is Etc/GMT+5).
    """
    key = " ".join(text.split()).lower()
    if key in ZONE_ALIASES:
        return ZONE_ALIASES[key]
    if key in _iana_names():
        return _iana_names()[key]
    if key in _windows_names():
        return _windows_names()[key]
    if m := _OFFSET.fullmatch(key):
        return _fixed_offset(*m.groups())
    if m := _DISPLAY.fullmatch(key):
        offset, name = m.groups()
        named = parse_zone(name) if name else None
        return named or (parse_zone(offset) if offset else _UTC)
    return None


def parse_explicit_zone(s: pd.Series) -> pd.Series:
    """Explicit zone strings (IANA, Windows, abbreviations, UTC offsets) to IANA zones.

    Accepted: IANA names ("America/Denver", any case), Windows IDs ("Pacific Standard
    Time"), Windows display names ("(UTC-07:00) Arizona"), abbreviations (EST, EDT, CST,
    MST, PST, AKST, HST, AST, NST, ET, CT, MT, PT, ...) and offsets ("UTC-5", "-05:00",
    "GMT-7"). Abbreviations name the zone, not the offset: "EST" in July is still New
    York. "AST" gives the set Halifax|Puerto_Rico (the same in winter, an hour apart in
    summer). Offsets with minutes (e.g. "-03:30") have no Etc zone and give <NA>.

    Args:
        s: the source's time-zone column.

    Returns:
        A "string" Series of IANA zones (or zone sets), <NA> where not recognised.
    """
    return map_unique(s, elementwise(parse_zone))


def first_zone(zones: pd.Series) -> pd.Series:
    """The first zone of each zone set."""
    return map_unique(zones, elementwise(lambda z: z.split(ZONE_SEP)[0]))


def windows_zone(
    zone: str,
    allowed: Collection[str] = NLPEARL_WINDOWS_ZONES,
    fallbacks: Mapping[str, str] = CANADA_2026_FALLBACKS,
) -> str | None:
    """The Windows ID of one IANA zone (first of a set), restricted to ``allowed``."""
    win = tz_win.get(zone.split(ZONE_SEP)[0])
    if win in allowed:
        return win
    fallback = fallbacks.get(win) if win else None
    return fallback if fallback in allowed else None


def to_windows_zone(
    zones: pd.Series,
    *,
    allowed: Collection[str] = NLPEARL_WINDOWS_ZONES,
    fallbacks: Mapping[str, str] = CANADA_2026_FALLBACKS,
) -> pd.Series:
    """IANA zones (or zone sets: the first zone counts) to Windows zone IDs for NLPearl.

    Uses CLDR's mapping (``tzlocal.windows_tz.tz_win``). An ID outside ``allowed`` is
    replaced by its fallback (if that is allowed) or <NA>. By default the 2026 Canadian
    IDs ("British Columbia Standard Time", ...) are not allowed, since NLPearl has not
    confirmed them, and map to the older ID with the same UTC offset and no DST; pass
    ``allowed=NLPEARL_WINDOWS_ZONES | CANADA_2026_WINDOWS_ZONES`` once it does.

    Args:
        zones: TZ_ZONES values.
        allowed: Windows IDs the dialer accepts.
        fallbacks: replacement for an ID the dialer does not accept.

    Returns:
        A "string" Series of Windows IDs, <NA> where there is no acceptable one.
    """
    return map_unique(zones, elementwise(lambda z: windows_zone(z, allowed, fallbacks)))


def engage_timezone(zones: pd.Series) -> pd.Series:
    """The value for Engage Voice's ``leadTimezone``: the IANA name of the first zone.

    RingCentral does not document the format of ``leadTimezone``; IANA names are what its
    examples and the Lead Loader's EXPLICIT option suggest. Confirm against a tenant.

    Args:
        zones: TZ_ZONES values.

    Returns:
        A "string" Series of IANA names, <NA> where the zone is unknown.
    """
    return first_zone(zones)
