"""The Arrow/numpy phone code gives exactly what the straightforward reference (the old code) gives, on messy data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import phones_reference as ref
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.columns import OUTCOME, PHONE, PHONES, REASON, ROW
from tasks.rules import phone_items
from tasks.rules.phones import normalize_phones, parse_numbers, phone_key

NPAS = ["415", "212", "613", "876", "787", "671", "340", "800", "999", "900", "211", "555", "015", "120"]
FOREIGN = [
    "+44 20 7946 0958", "+52 55 5555 5555", "020 7946 0958", "+61 2 9876 5432", "+39 06 1234 5678",
    "+800 1234 5678", "011 44 20 7946 0958", "+44 12", "+999 123", "+49 30 901820", "0044 20 7946 0958",
]
JUNK = ["N/A", "TBD", "abc", "", "  ", "+", "++1", "x", "#", "()", "\u00a0", "\t", "☎", "\uff15\uff15\uff15", "1" * 25]


@st.composite
def nanp_number(draw: st.DrawFn) -> str:
    npa = draw(st.sampled_from(NPAS))
    nxx = draw(st.sampled_from(["555", "911", "411", "067", "234", "867"]) | st.from_regex(r"[0-9]{3}", fullmatch=True))
    line = draw(st.sampled_from(["0150", "0199", "0200", "5309"]) | st.from_regex(r"[0-9]{4}", fullmatch=True))
    style = draw(st.sampled_from(["{a}{b}{c}", "({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "{a} {b} {c}"]))
    prefix = draw(st.sampled_from(["", "", "1", "1-", "+1 ", "+1", "001 ", "011 ", "+", "+44 ", "  "]))
    number = prefix + style.format(a=npa, b=nxx, c=line)
    if draw(st.booleans()):
        number = number[: draw(st.integers(0, len(number)))]
    suffixes = ["", "", " x123", " ext. 12", " Extension 7", " #4", "x", " x1234567", "\t", " ", "7"]
    suffix = draw(st.sampled_from(suffixes))
    return number + suffix


numbers = nanp_number() | st.sampled_from(FOREIGN + JUNK) | st.text(alphabet="0123456789 +-().x#|;,/", max_size=16)


@st.composite
def field(draw: st.DrawFn) -> str | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    parts = draw(st.lists(numbers, min_size=1, max_size=4))
    seps = draw(st.lists(st.sampled_from(["|", " | ", ";", ", ", "/", "/ "]), min_size=len(parts), max_size=len(parts)))
    return "".join(p + s for p, s in zip(parts, seps, strict=True))[: -len(seps[-1])] if len(parts) > 1 else parts[0]


@st.composite
def chunks(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(0, 30))
    phone = draw(st.lists(field(), min_size=size, max_size=size))
    df = pd.DataFrame({ROW: range(1, size + 1), PHONE: pd.array(phone, dtype="string")})
    if draw(st.booleans()):
        df[PHONES] = pd.array(draw(st.lists(field() | st.none(), min_size=size, max_size=size)), dtype="string")
    if draw(st.booleans()):
        done = draw(st.lists(st.booleans(), min_size=size, max_size=size))
        df[OUTCOME] = pd.array(["duplicate" if d else None for d in done], dtype="string")
        df[REASON] = pd.array(["earlier" if d else None for d in done], dtype="string")
    df.index = draw(st.permutations(range(100, 100 + size)))
    return df


OPTIONS = st.fixed_dictionaries({
    "default_region": st.sampled_from(["US", "CA", "GB"]),
    "allowed_regions": st.sampled_from([None, {"US", "CA"}, {"GB"}]),
    "allow_fictional": st.booleans(),
})


@settings(max_examples=150, deadline=None)
@given(chunks(), OPTIONS)
def test_normalize_phones_matches_the_reference(df: pd.DataFrame, options: dict[str, object]) -> None:
    expected = ref.normalize_phones(df, **options)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(normalize_phones(df, **options), expected)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(chunks(), OPTIONS)
def test_alternates_match_without_the_short_cut(df: pd.DataFrame, options: dict[str, object]) -> None:
    """The repeat check by sorting (used when a lead has many numbers) gives the same alternates."""
    expected = ref.normalize_phones(df, **options)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(phone_items, "MAX_LAG", 0)
        pd.testing.assert_frame_equal(normalize_phones(df, **options), expected)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.lists(numbers | st.none(), max_size=30), OPTIONS)
def test_parse_numbers_matches_the_reference(values: list[str | None], options: dict[str, object]) -> None:
    raw = pd.Series(values, dtype="string", index=np.arange(len(values)) * 3)
    expected = ref.parse_numbers(raw, **options)  # type: ignore[arg-type]
    got = parse_numbers(raw, **options)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got, expected)
    valid = got["e164"].dropna()
    pd.testing.assert_series_equal(phone_key(valid), ref.phone_key(valid))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"\+?[0-9]{1,18}", fullmatch=True) | st.none() | numbers, max_size=20))
def test_phone_key_matches_the_reference(values: list[str | None]) -> None:
    e164 = pd.Series(values, dtype="string")
    try:
        expected = ref.phone_key(e164)
    except (ValueError, TypeError, OverflowError) as exc:
        with pytest.raises(type(exc)):
            phone_key(e164)
        return
    pd.testing.assert_series_equal(phone_key(e164), expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab |;,/\u00e9\u2603 ", max_size=10) | st.none(), max_size=8), st.integers(0, 2))
def test_split_at_separators_matches_the_regex_split(values: list[str | None], start: int) -> None:
    arr = pa.array(values, pa.large_string()).slice(min(start, len(values)))
    present = arr.filter(arr.is_valid())
    parents, pieces = phone_items.split_at_separators(present)
    lists = pc.split_pattern_regex(present, phone_items.SEPARATORS)
    assert parents.tolist() == pc.list_parent_indices(lists).to_pylist()
    assert pieces.to_pylist() == pc.list_flatten(lists).to_pylist()
