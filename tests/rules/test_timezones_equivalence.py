"""The vectorised ZIP and time-zone code against the straightforward code it replaced, on messy data."""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas.columns import PHONE_E164, TIMEZONE, TZ_SOURCE, TZ_ZONES, ZIP
from tasks.rules.timezones import FALLBACK, NOT_APPLICABLE, _plan, assign_timezones
from tasks.rules.tz_npa import nanp_npa_nxx, npa_zone_values
from tasks.rules.tz_zip import ZIP_TABLE, _zip_numbers, zip5, zip_zones
from tasks.rules.zones import parse_zone

ROOT = Path(__file__).resolve().parents[2]
_OLD_ZIP = r"^(\d{3,5})(?:-?\d{4})?(?:\.0)?$"


@cache
def shipped_table() -> dict[str, str]:
    with ZIP_TABLE.open(newline="", encoding="utf-8") as fh:
        return {row["zip"]: row["zones"] for row in csv.DictReader(fh)}


def old_zip5(values: pd.Series) -> pd.Series:
    """The former zip5: pandas' str.extract with Python's re."""
    raw = values.astype("string").str.strip()
    return raw.str.extract(_OLD_ZIP, expand=False).str.zfill(5)


def old_zip_zones(values: pd.Series) -> list[object]:
    table = shipped_table()
    return [table.get(z, pd.NA) if isinstance(z, str) else pd.NA for z in old_zip5(values)]


def old_assign(df: pd.DataFrame, option: str, fallback: str | None = None) -> pd.DataFrame:
    """The former assign_timezones: object arrays, one finder after the other."""
    finders: dict[str, tuple[str, Callable[[pd.Series], list[object]]]] = {
        "EXPLICIT": (TIMEZONE, lambda s: [parse_zone(str(v)) if pd.notna(v) else None for v in s]),
        "ZIPCODE": (ZIP, old_zip_zones),
        "NPA_NXX": (PHONE_E164, lambda s: list(npa_zone_values(s))),
    }
    option = option.upper()
    order, fallback_zone = _plan(option, fallback)
    zones = np.full(len(df), None, dtype=object)
    source = np.full(len(df), NOT_APPLICABLE if option == NOT_APPLICABLE else None, dtype=object)
    for name in order:
        column, finder = finders[name]
        todo = np.flatnonzero(pd.isna(zones))
        if column not in df.columns or not len(todo):
            continue
        found = pd.Series(finder(df[column].iloc[todo]), dtype=object).to_numpy(copy=True)
        found[pd.isna(found)] = None
        hit = ~pd.isna(found)
        zones[todo[hit]] = found[hit]
        source[todo[hit]] = name
    if fallback_zone is not None:
        unset = pd.isna(zones)
        zones[unset] = fallback_zone
        source[unset] = FALLBACK
    return df.assign(**{TZ_ZONES: pd.Series(zones, index=df.index, dtype="string"),
                        TZ_SOURCE: pd.Series(source, index=df.index, dtype="string")})


DIGITS = "0123456789"
ODD_DIGITS = "\u0663\u0664\uff11\u09e9"  # Arabic-Indic, full-width and Bengali digits
real_zips = st.sampled_from(sorted(shipped_table()))
digit_runs = st.text(st.sampled_from(DIGITS), min_size=0, max_size=10)
pieces = st.one_of(
    real_zips, real_zips.map(lambda z: z.lstrip("0")), digit_runs,
    st.sampled_from(["-", ".0", ".", ".1", ".00", "0", " ", "\t", "\n", "\u00a0", "\u2003", "\x1c", "a", "+", "é"]),
    st.text(st.sampled_from(DIGITS + ODD_DIGITS + "-. "), max_size=6),
)
zip_text = st.lists(pieces, max_size=4).map("".join)
zip_shapes = st.from_regex(r"\A\s?[0-9]{2,6}[-.]?[0-9]{3,5}(\.0|\.|0)?\s?\Z")
zip_values = st.one_of(st.none(), zip_text, zip_shapes, real_zips.map(lambda z: f"{z}-{z[:4]}"))


@pytest.mark.slow
@settings(max_examples=examples(300))
@given(st.lists(zip_values, max_size=40), st.integers(0, 3))
def test_zip_zones_match_the_old_regex_code(values: list[str | None], shift: int) -> None:
    s = pd.Series(values, index=np.arange(len(values)) * 2 + shift, dtype="string")
    assert zip_zones(s).tolist() == old_zip_zones(s)
    assert zip5(s).tolist() == old_zip5(s).tolist()
    numbers = [int(z) if isinstance(z, str) and z.isascii() else 0 for z in old_zip5(s)]
    assert _zip_numbers(s).tolist() == numbers
    assert zip5(s).index.equals(s.index)


@settings(max_examples=examples(100))
@given(st.lists(st.one_of(st.none(), st.integers(0, 10**9), st.floats(0, 10**6), st.just(float("nan"))),
                max_size=20))
def test_numeric_zips_match(values: list[float | None]) -> None:
    s = pd.Series(values, dtype=object)
    assert zip_zones(s).tolist() == old_zip_zones(s)


zones_text = st.one_of(st.none(), st.sampled_from([
    "EST", "cst", " Pacific Standard Time ", "UTC-5", "-03:30", "America/Denver", "Mars/Olympus", "AST",
    "(UTC-07:00) Arizona", "", "gmt+14", "utc+15"]))
phones = st.one_of(st.none(), st.sampled_from(["+12125551234", "+18502221234", "+447911123456", "+1850",
                                               "2125551234", "+18095551234", "+19075811234"]),
                   st.text(st.sampled_from("+1234567890"), max_size=12))


@pytest.mark.slow
@settings(max_examples=examples(200))
@given(
    rows=st.lists(st.tuples(phones, zip_values, zones_text), max_size=30),
    option=st.sampled_from(["AUTO", "npa_nxx", "ZIPCODE", "EXPLICIT", "NOT_APPLICABLE"]),
    fallback=st.sampled_from([None, "NPA_NXX", "zipcode", "ET", "America/Chicago"]),
    drop=st.sampled_from([None, PHONE_E164, ZIP, TIMEZONE]),
)
def test_assign_timezones_matches_the_old_code(rows: list[tuple[str | None, ...]], option: str,
                                               fallback: str | None, drop: str | None) -> None:
    if option == "NOT_APPLICABLE":
        fallback = None
    df = pd.DataFrame(rows, columns=[PHONE_E164, ZIP, TIMEZONE], dtype="string",
                      index=pd.Index(range(len(rows)))[::-1])
    if drop:
        df = df.drop(columns=drop)
    pd.testing.assert_frame_equal(assign_timezones(df, option, fallback=fallback),
                                  old_assign(df, option, fallback))


def test_shipped_zip_table_equals_a_fresh_build() -> None:
    spec = importlib.util.spec_from_file_location("build_zip_tz", ROOT / "data" / "build_zip_tz.py")
    assert spec is not None
    assert spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    assert builder.main(["--check"]) == 0
    assert len(shipped_table()) > 40_000


def old_nanp_npa_nxx(e164: pd.Series) -> npt.NDArray[np.int64]:
    """The former nanp_npa_nxx: an Arrow regex, a slice and a cast."""
    arr = pa.array(e164, type=pa.large_string(), from_pandas=True)
    ok = pc.fill_null(pc.match_substring_regex(arr, r"^\+1\d{10}$"), False)
    digits = pc.utf8_slice_codeunits(pc.if_else(ok, arr, "+1000000"), 2, 8)
    out = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    return np.where(ok.to_numpy(zero_copy_only=False), out, -1)


phone_text = st.lists(st.one_of(
    st.sampled_from(["+1", "+", "1", "+44", " ", "\n", "-", "\u0663", "\uff11", "é", "/", ":"]),
    st.text(st.sampled_from(DIGITS), min_size=1, max_size=11)), max_size=4).map("".join)
phone_values = st.one_of(
    st.none(), phone_text, st.from_regex(r"\A\+1[0-9]{10}\Z"),
    st.lists(st.sampled_from("0123456789/:"), min_size=10, max_size=10).map(lambda c: "+1" + "".join(c)),
    st.from_regex(r"\A\+1[0-9]{8}[\u00e9\u0663]\Z"))


@pytest.mark.slow
@settings(max_examples=examples(300))
@given(st.lists(phone_values, max_size=40), st.integers(0, 3))
def test_nanp_npa_nxx_matches_the_old_regex_code(values: list[str | None], start: int) -> None:
    s = pd.Series(values, dtype="string")
    for part in (s, s.iloc[start:], s.iloc[::2], s[s.notna()]):
        assert nanp_npa_nxx(part).tolist() == old_nanp_npa_nxx(part).tolist()
