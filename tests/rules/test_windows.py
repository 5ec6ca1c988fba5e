"""Calling windows: federal, state and Canadian hours, holidays, zone sets and the next opening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas.columns import PHONE_E164, STATE, TZ_ZONES
from tasks.rules.windows import CALLING_RULES, load_calling_rules, window_gate

NY, CHI, DEN, PHX = "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def gate(now: datetime, zones: str | None, phone: str | None = None,
         state: str | None = None) -> tuple[bool, datetime | None]:
    df = pd.DataFrame({TZ_ZONES: [zones], PHONE_E164: [phone], STATE: [state]}, dtype="string")
    ok, nxt = window_gate(df, now)
    when = nxt.iloc[0]
    return bool(ok.iloc[0]), None if pd.isna(when) else when.to_pydatetime()


@pytest.mark.parametrize(
    ("now", "zones", "phone", "state", "expected"),
    [
        # New York on Tue 2026-11-24 (EST, UTC-5): 7 am local waits for 8 am that day.
        (utc(2026, 11, 24, 12, 0), NY, "+12125551234", None, (False, utc(2026, 11, 24, 13))),
        (utc(2026, 11, 24, 13, 0), NY, "+12125551234", None, (True, None)),
        (utc(2026, 11, 25, 1, 59), NY, "+12125551234", None, (True, None)),
        (utc(2026, 11, 25, 2, 0), NY, "+12125551234", None, (False, utc(2026, 11, 25, 13))),
        # DST starts Sun 2026-03-08: 8 am is 13:00 UTC on Saturday, 12:00 UTC on Sunday.
        (utc(2026, 3, 7, 12, 30), NY, None, None, (False, utc(2026, 3, 7, 13))),
        (utc(2026, 3, 8, 11, 0), NY, None, None, (False, utc(2026, 3, 8, 12))),
        (utc(2026, 3, 8, 12, 30), NY, None, None, (True, None)),
        # DST ends Sun 2026-11-01: 8 am is 12:00 UTC on Saturday, 13:00 UTC on Sunday.
        (utc(2026, 10, 31, 12, 30), NY, None, None, (True, None)),
        (utc(2026, 11, 1, 12, 30), NY, None, None, (False, utc(2026, 11, 1, 13))),
        # Arizona keeps MST in July while Denver is on MDT.
        (utc(2026, 7, 15, 14, 30), PHX, "+16025551234", None, (False, utc(2026, 7, 15, 15))),
        (utc(2026, 7, 15, 14, 30), DEN, "+13035551234", None, (True, None)),
        # Navajo Nation: both zones must be past 8 am.
        (utc(2026, 7, 15, 14, 30), f"{PHX}|{DEN}", "+19286741234", None,
         (False, utc(2026, 7, 15, 15))),
        # Hawaii (UTC-10), Alaska (AKST, UTC-9), Puerto Rico (UTC-4 all year).
        (utc(2026, 11, 24, 17, 30), "Pacific/Honolulu", None, None, (False, utc(2026, 11, 24, 18))),
        (utc(2026, 11, 24, 16, 30), "America/Anchorage", None, None,
         (False, utc(2026, 11, 24, 17))),
        (utc(2026, 7, 15, 11, 30), "America/Puerto_Rico", None, None,
         (False, utc(2026, 7, 15, 12))),
        # Split 850 (Tallahassee unknown NXX): 8 am Central, 8 pm Eastern (Florida rule).
        (utc(2026, 11, 24, 13, 30), f"{CHI}|{NY}", "+18502221234", None,
         (False, utc(2026, 11, 24, 14))),
        (utc(2026, 11, 25, 1, 30), f"{CHI}|{NY}", "+18502221234", None,
         (False, utc(2026, 11, 25, 14))),
        (utc(2026, 11, 25, 1, 30), CHI, "+18504321234", None, (True, None)),
        # Texas: 9 am on weekdays, noon on Sundays.
        (utc(2026, 11, 24, 14, 30), CHI, "+12145551234", None, (False, utc(2026, 11, 24, 15))),
        (utc(2026, 11, 29, 16, 0), CHI, "+12145551234", None, (False, utc(2026, 11, 29, 18))),
        (utc(2026, 11, 29, 18, 0), CHI, "+12145551234", None, (True, None)),
        # Rhode Island: Saturday 10-17, no Sunday, weekdays from 9.
        (utc(2026, 11, 28, 15, 30), NY, "+14015551234", None, (True, None)),
        (utc(2026, 11, 28, 22, 30), NY, "+14015551234", None, (False, utc(2026, 11, 30, 14))),
        (utc(2026, 11, 29, 16, 0), NY, "+14015551234", None, (False, utc(2026, 11, 30, 14))),
        # ...also when only the address is in RI.
        (utc(2026, 11, 29, 16, 0), NY, "+12125551234", " ri ", (False, utc(2026, 11, 30, 14))),
        # Utah Pioneer Day (Fri 2026-07-24): next is Saturday 8 am MDT.
        (utc(2026, 7, 24, 18, 0), DEN, "+18015551234", None, (False, utc(2026, 7, 25, 14))),
        (utc(2026, 7, 23, 18, 0), DEN, "+18015551234", None, (True, None)),
        # Alabama Confederate Memorial Day (Mon 2026-04-27).
        (utc(2026, 4, 27, 17, 0), CHI, "+12055551234", None, (False, utc(2026, 4, 28, 13))),
        (utc(2026, 4, 28, 17, 0), CHI, "+12055551234", None, (True, None)),
        # Kentucky from 10 am.
        (utc(2026, 11, 24, 15, 30), CHI, "+12705551234", None, (False, utc(2026, 11, 24, 16))),
        # Canada (CRTC): Vancouver is UTC-7 in December 2026; weekdays from 9, weekends 10-18.
        (utc(2026, 12, 14, 15, 30), "America/Vancouver", "+16045551234", None,
         (False, utc(2026, 12, 14, 16))),
        (utc(2026, 12, 14, 16, 0), "America/Vancouver", "+16045551234", None, (True, None)),
        (utc(2026, 12, 13, 1, 30), "America/Vancouver", "+16045551234", None,
         (False, utc(2026, 12, 13, 17))),
        (utc(2026, 12, 14, 14, 30), "America/Regina", "+13065551234", None,
         (False, utc(2026, 12, 14, 15))),
        # No zone: every US zone from Hawaii to Eastern must be open (8 am HST .. 9 pm EST).
        (utc(2026, 11, 24, 17, 0), None, None, None, (False, utc(2026, 11, 24, 18))),
        (utc(2026, 11, 24, 18, 0), "not/a_zone", None, None, (True, None)),
        # A zone set with no common window (Rhode Island hours, 14 hours apart) finds nothing.
        (utc(2026, 11, 24, 18, 0), "Asia/Tokyo|America/New_York", None, "RI", (False, None)),
    ],
)
def test_window_gate(now: datetime, zones: str | None, phone: str | None, state: str | None,
                     expected: tuple[bool, datetime | None]) -> None:
    assert gate(now, zones, phone, state) == expected


def test_window_gate_aligns_with_the_frame() -> None:
    df = pd.DataFrame({TZ_ZONES: [NY, "Pacific/Honolulu", NY]}, index=[7, 7, 3], dtype="string")
    ok, nxt = window_gate(df, utc(2026, 11, 24, 15))
    assert ok.index.tolist() == [7, 7, 3]
    assert ok.tolist() == [True, False, True]
    assert str(nxt.dtype) == "datetime64[ns, UTC]"
    assert nxt.tolist()[1] == pd.Timestamp("2026-11-24 18:00", tz="UTC")
    empty_ok, empty_next = window_gate(df.iloc[:0], utc(2026, 11, 24, 15))
    assert empty_ok.empty
    assert empty_next.empty
    with pytest.raises(ValueError, match="timezone-aware"):
        window_gate(df, datetime(2026, 11, 24, 15))


def test_rules_are_data(tmp_path: Path) -> None:
    text = CALLING_RULES.read_text(encoding="utf-8")
    later = tmp_path / "rules.yaml"
    later.write_text(text.replace('hours: {all: "08:00-21:00"}', 'hours: {all: "10:00-21:00"}', 1))
    df = pd.DataFrame({TZ_ZONES: [NY]}, dtype="string")
    now = utc(2026, 11, 24, 14)
    assert window_gate(df, now)[0].tolist() == [True]
    assert window_gate(df, now, load_calling_rules(later))[0].tolist() == [False]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('{all: "08:00-21:00"}', '{all: "21:00-08:00"}', "ends before it starts"),
        ('{all: "08:00-21:00"}', '{weekdays: "08:00-21:00"}', "no hours"),
        ('{all: "08:00-21:00"}', '{everyday: "08:00-21:00"}', "unknown day keys"),
        ('applies_to: ["FL"]', "applies_to: [ON]", "valid string"),
    ],
)
def test_bad_rules_files_are_rejected(tmp_path: Path, old: str, new: str, message: str) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(CALLING_RULES.read_text(encoding="utf-8").replace(old, new, 1))
    with pytest.raises(pydantic.ValidationError, match=message):
        load_calling_rules(bad)


ZONE_SETS = [NY, CHI, DEN, PHX, "America/Los_Angeles", "Pacific/Honolulu", "America/Anchorage",
             "America/Vancouver", f"{CHI}|{NY}", f"{PHX}|{DEN}", None]
PHONES = ["+14015551234", "+12145551234", "+18015551234", "+12055551234", "+16045551234",
          "+12125551234", None]


@settings(max_examples=examples(150), deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                     timezones=st.just(UTC)),
    zones=st.sampled_from(ZONE_SETS),
    phone=st.sampled_from(PHONES),
    state=st.sampled_from(["RI", "TX", "UT", "LA", "PA", "BC", None]),
)
def test_next_eligible_is_future_and_callable(now: datetime, zones: str | None, phone: str | None,
                                              state: str | None) -> None:
    ok, nxt = gate(now, zones, phone, state)
    if ok:
        assert nxt is None
        return
    assert nxt is not None
    assert nxt > now
    assert gate(nxt, zones, phone, state) == (True, None)
    assert not gate(nxt - timedelta(seconds=1), zones, phone, state)[0]
