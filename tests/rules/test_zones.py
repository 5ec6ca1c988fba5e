"""Explicit zone parsing and IANA to Windows / Engage zone names."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pandas as pd
import pytest
from tzlocal.windows_tz import tz_win, win_tz

from tasks.rules.tz_npa import PREFIX_TABLE
from tasks.rules.zones import (
    CANADA_2026_FALLBACKS,
    CANADA_2026_WINDOWS_ZONES,
    NLPEARL_WINDOWS_ZONES,
    engage_timezone,
    parse_explicit_zone,
    to_windows_zone,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("America/Denver", "America/Denver"),
        ("america/new_york", "America/New_York"),
        ("US/Eastern", "US/Eastern"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("us mountain standard time", "America/Phoenix"),
        ("(UTC-07:00) Arizona", "America/Phoenix"),
        ("(UTC-05:00) Eastern Time (US & Canada)", "America/New_York"),
        ("EST", "America/New_York"),
        ("edt", "America/New_York"),
        ("ET", "America/New_York"),
        ("CST", "America/Chicago"),
        ("CT", "America/Chicago"),
        ("MST", "America/Denver"),
        ("MT", "America/Denver"),
        ("PST", "America/Los_Angeles"),
        (" pt ", "America/Los_Angeles"),
        ("AKST", "America/Anchorage"),
        ("HST", "Pacific/Honolulu"),
        ("AST", "America/Halifax|America/Puerto_Rico"),
        ("NST", "America/St_Johns"),
        ("UTC-5", "Etc/GMT+5"),
        ("-05:00", "Etc/GMT+5"),
        ("-0500", "Etc/GMT+5"),
        ("GMT-7", "Etc/GMT+7"),
        ("UTC+3", "Etc/GMT-3"),
        ("UTC", "Etc/UTC"),
        ("+00:00", "Etc/UTC"),
        ("-03:30", None),
        ("UTC-15", None),
        ("Mars/Olympus", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_explicit_zone(raw: str | None, expected: str | None) -> None:
    out = parse_explicit_zone(pd.Series([raw], dtype="string"))
    assert out.tolist() == [expected if expected else pd.NA]
    if expected:
        for zone in expected.split("|"):
            zoneinfo.ZoneInfo(zone)


def test_fixed_offsets_have_the_offset_they_say() -> None:
    for text, hours in [("UTC-5", -5), ("GMT+9", 9), ("-10:00", -10)]:
        zone = parse_explicit_zone(pd.Series([text])).iloc[0]
        offset = datetime(2026, 7, 1, tzinfo=zoneinfo.ZoneInfo(zone)).utcoffset()
        assert offset == timedelta(hours=hours)


def test_parse_keeps_index_and_repeats() -> None:
    s = pd.Series(["EST", "EST", None, "PST"], index=[4, 4, 2, 0])
    out = parse_explicit_zone(s)
    assert out.index.tolist() == [4, 4, 2, 0]
    assert out.tolist() == ["America/New_York", "America/New_York", pd.NA, "America/Los_Angeles"]


def test_allow_list_ids_are_real_windows_zones() -> None:
    known = set(win_tz) | set(tz_win.values())
    assert known >= NLPEARL_WINDOWS_ZONES | CANADA_2026_WINDOWS_ZONES
    assert not NLPEARL_WINDOWS_ZONES & CANADA_2026_WINDOWS_ZONES
    assert 18 <= len(NLPEARL_WINDOWS_ZONES) <= 25


@pytest.mark.parametrize("new_id", sorted(CANADA_2026_WINDOWS_ZONES))
def test_canadian_fallbacks_keep_the_offset_all_year(new_id: str) -> None:
    fallback = CANADA_2026_FALLBACKS[new_id]
    assert fallback in NLPEARL_WINDOWS_ZONES
    here, there = zoneinfo.ZoneInfo(win_tz[new_id]), zoneinfo.ZoneInfo(win_tz[fallback])
    for month in range(1, 13):
        moment = datetime(2027, month, 1, 12)
        assert moment.replace(tzinfo=here).utcoffset() == moment.replace(tzinfo=there).utcoffset()


def test_to_windows_zone() -> None:
    zones = pd.Series(["America/Vancouver", "America/Edmonton", "America/Winnipeg",
                       "America/Chicago|America/New_York", "America/Phoenix", "Pacific/Honolulu",
                       "America/Puerto_Rico", "Europe/Istanbul", None])
    assert to_windows_zone(zones).tolist() == [
        "US Mountain Standard Time", "Canada Central Standard Time", "SA Pacific Standard Time",
        "Central Standard Time", "US Mountain Standard Time", "Hawaiian Standard Time",
        "SA Western Standard Time", pd.NA, pd.NA,
    ]
    newer = to_windows_zone(zones[:3], allowed=NLPEARL_WINDOWS_ZONES | CANADA_2026_WINDOWS_ZONES)
    assert newer.tolist() == [
        "British Columbia Standard Time", "Alberta Standard Time", "Manitoba Standard Time",
    ]
    assert to_windows_zone(zones[:1], fallbacks={}).isna().all()


def test_every_zone_of_the_prefix_table_has_an_allowed_windows_id() -> None:
    table = pd.read_csv(PREFIX_TABLE, dtype=str, keep_default_na=False)
    zones = pd.Series(sorted({z for s in table["zones"] for z in s.split("|")}))
    out = to_windows_zone(zones)
    assert not out.isna().any(), zones[out.isna()].tolist()
    assert set(out) <= NLPEARL_WINDOWS_ZONES


def test_engage_timezone_is_the_first_iana_zone() -> None:
    zones = pd.Series(["America/Chicago|America/New_York", "America/Denver", None])
    assert engage_timezone(zones).tolist() == ["America/Chicago", "America/Denver", pd.NA]
