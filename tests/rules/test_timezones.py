"""Area-code, ZIP and explicit time zones of leads, and the shipped prefix tables."""

from __future__ import annotations

import importlib.util
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from schemas.columns import PHONE_E164, TIMEZONE, TZ_SOURCE, TZ_ZONES, ZIP
from tasks.rules.timezones import (
    assign_timezones,
    ensure_tzdata,
    npa_state,
    npa_zones,
    zip_zones,
)
from tasks.rules.tz_npa import PREFIX_TABLE, STATE_TABLE

ROOT = Path(__file__).resolve().parents[2]
CHICAGO, EASTERN = "America/Chicago", "America/New_York"
CT_ET = f"{CHICAGO}|{EASTERN}"


def offset_hours(zone: str, when: datetime) -> float:
    delta = when.replace(tzinfo=zoneinfo.ZoneInfo(zone)).utcoffset()
    assert delta is not None
    return delta / timedelta(hours=1)


def zones_of(*phones: str | None) -> list[object]:
    return npa_zones(pd.Series(phones, dtype="string")).tolist()


def test_tzdata_is_the_2026_wheel_even_after_pointing_at_system_files() -> None:
    zoneinfo.reset_tzpath(to=["/usr/share/zoneinfo"])
    zoneinfo.ZoneInfo.clear_cache()
    ensure_tzdata()
    assert zoneinfo.TZPATH == ()
    assert offset_hours("America/Vancouver", datetime(2026, 12, 15, 12)) == -7
    assert offset_hours("America/Edmonton", datetime(2026, 12, 15, 12)) == -6
    assert offset_hours("America/Winnipeg", datetime(2026, 12, 15, 12)) == -5


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+18504321234", CHICAGO),  # Pensacola
        ("+18502221234", CT_ET),  # Tallahassee: NXX not listed, so the split set
        ("+14485551234", CT_ET),  # 850 overlay copies the set
        ("+12083451234", "America/Denver"),  # Boise
        ("+12088821234", "America/Los_Angeles"),  # Moscow, ID
        ("+12085551234", "America/Boise|America/Los_Angeles"),
        ("+19865551234", "America/Boise|America/Los_Angeles"),
        ("+16053421234", "America/Denver"),  # Rapid City
        ("+16053361234", CHICAGO),  # Sioux Falls
        ("+16059991234", "America/Chicago|America/Denver"),
        ("+12705551234", CT_ET),
        ("+13645551234", CT_ET),
        ("+16025551234", "America/Phoenix"),
        ("+19286741234", "America/Denver|America/Phoenix"),  # Navajo Nation
        ("+18085551234", "Pacific/Honolulu"),
        ("+19075811234", "America/Anchorage"),  # Unalaska, not Honolulu
        ("+17875551234", "America/Puerto_Rico"),
        ("+16045551234", "America/Vancouver"),
        ("+13065551234", "America/Regina"),
        ("+14745551234", "America/Regina"),
        ("+18676671234", "America/Whitehorse"),
        ("+18795551234", "America/St_Johns|America/Goose_Bay"),
    ],
)
def test_npa_zones(phone: str, expected: str) -> None:
    assert zones_of(phone) == [expected]


def test_npa_zones_unknowns_and_index() -> None:
    phones = pd.Series(["+447911123456", None, "+1850", "2125551234", "+12125551234"],
                       index=[9, 9, 3, 2, 1], dtype="string")
    out = npa_zones(phones)
    assert out.index.tolist() == [9, 9, 3, 2, 1]
    assert str(out.dtype) == "string"
    assert out.isna().tolist() == [True, True, True, True, False]
    assert npa_zones(pd.Series([], dtype="string")).tolist() == []


def test_npa_state() -> None:
    phones = ["+18505551234", "+16045551234", "+14165551234", "+17875551234",
              "+18095551234", "+447911123456", None, "+18675551234"]
    states = npa_state(pd.Series(phones, dtype="string")).tolist()
    assert states == ["FL", "BC", "ON", "PR", pd.NA, pd.NA, pd.NA, "NT"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("02134", EASTERN),
        ("2134", EASTERN),  # leading zero lost
        ("02134-1234", EASTERN),
        ("021341234", EASTERN),
        (" 2134.0 ", EASTERN),
        ("36867", CT_ET),  # Phenix City, AL: officially Central, de facto Eastern
        ("89883", "America/Los_Angeles|America/Denver"),  # West Wendover, NV
        ("86045", "America/Phoenix|America/Denver"),  # Tuba City (Navajo DST)
        ("99634", "America/Anchorage"),  # zipcodes' zone is the string "Napakiak"
        ("96799", "Pacific/Pago_Pago"),
        ("00901", "America/Puerto_Rico"),
        ("09000", None),  # military
        ("99999", None),
        ("ABCDE", None),
        (None, None),
    ],
)
def test_zip_zones(raw: str | None, expected: str | None) -> None:
    out = zip_zones(pd.Series([raw], dtype="string"))
    assert out.tolist() == [expected if expected else pd.NA]


def test_zip_zones_numeric_input() -> None:
    assert zip_zones(pd.Series([2134, 90210])).tolist() == [EASTERN, "America/Los_Angeles"]


def leads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            PHONE_E164: ["+18504321234", "+12125551234", "+13105551234", None, "+447911123456"],
            ZIP: ["36867", None, "bad", "98101", None],
            TIMEZONE: [None, "CST", None, None, None],
        },
        index=[5, 5, 7, 8, 9],
    ).astype("string")


@pytest.mark.parametrize(
    ("option", "zones", "sources"),
    [
        ("NPA_NXX", [CHICAGO, EASTERN, "America/Los_Angeles", None, None],
         ["NPA_NXX", "NPA_NXX", "NPA_NXX", None, None]),
        ("ZIPCODE", [CT_ET, None, None, "America/Los_Angeles", None],
         ["ZIPCODE", None, None, "ZIPCODE", None]),
        ("EXPLICIT", [None, CHICAGO, None, None, None], [None, "EXPLICIT", None, None, None]),
        ("auto", [CT_ET, CHICAGO, "America/Los_Angeles", "America/Los_Angeles", None],
         ["ZIPCODE", "EXPLICIT", "NPA_NXX", "ZIPCODE", None]),
        ("NOT_APPLICABLE", [None] * 5, ["NOT_APPLICABLE"] * 5),
    ],
)
def test_assign_timezones_options(option: str, zones: list[str | None],
                                  sources: list[str | None]) -> None:
    df = leads()
    out = assign_timezones(df, option)
    assert out.index.tolist() == [5, 5, 7, 8, 9]
    assert out[TZ_ZONES].tolist() == [z if z else pd.NA for z in zones]
    assert out[TZ_SOURCE].tolist() == [s if s else pd.NA for s in sources]
    assert TZ_ZONES not in df.columns


def test_assign_timezones_fallbacks() -> None:
    by_option = assign_timezones(leads(), "ZIPCODE", fallback="NPA_NXX")
    assert by_option[TZ_SOURCE].tolist() == ["ZIPCODE", "NPA_NXX", "NPA_NXX", "ZIPCODE", pd.NA]
    by_zone = assign_timezones(leads(), "EXPLICIT", fallback="ET")
    assert by_zone[TZ_ZONES].tolist() == [EASTERN, CHICAGO, EASTERN, EASTERN, EASTERN]
    assert by_zone[TZ_SOURCE].tolist()[2:] == ["FALLBACK"] * 3


def test_assign_timezones_missing_columns_and_errors() -> None:
    only_phone = pd.DataFrame({PHONE_E164: ["+12125551234"]}, dtype="string")
    assert assign_timezones(only_phone, "AUTO")[TZ_SOURCE].tolist() == ["NPA_NXX"]
    assert assign_timezones(only_phone, "ZIPCODE")[TZ_ZONES].isna().all()
    with pytest.raises(ValueError, match="unknown time-zone option"):
        assign_timezones(only_phone, "AREA_CODE")
    with pytest.raises(ValueError, match="neither an option nor a known time zone"):
        assign_timezones(only_phone, "ZIPCODE", fallback="Mars/Olympus")
    with pytest.raises(ValueError, match="NOT_APPLICABLE"):
        assign_timezones(only_phone, "NOT_APPLICABLE", fallback="ET")


def test_prefix_table_zones_are_real_and_splits_are_sets() -> None:
    table = pd.read_csv(PREFIX_TABLE, dtype=str, keep_default_na=False)
    assert table["prefix"].is_unique
    assert table["prefix"].str.fullmatch(r"[2-9]\d{2,5}").all()
    for zones in set(table["zones"]):
        for zone in zones.split("|"):
            zoneinfo.ZoneInfo(zone)
    splits = table[table["split_flag"] == "True"]
    assert {"850", "448", "208", "986", "270", "364", "605", "928"} <= set(splits["prefix"])
    assert splits["zones"].str.contains("|", regex=False).all()
    states = pd.read_csv(STATE_TABLE, dtype=str, keep_default_na=False)
    assert states["state"].str.fullmatch(r"[A-Z]{2}").all()


def test_builder_reproduces_committed_tables() -> None:
    spec = importlib.util.spec_from_file_location("build_nanp_tz", ROOT / "data" / "build_nanp_tz.py")
    assert spec is not None
    assert spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    assert builder.main(["--check"]) == 0
