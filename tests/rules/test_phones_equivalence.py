"""The Arrow/numpy phone code: the recorded answers on a fixed messy corpus, and the same answers row by row.

``phone_golden.json`` holds what the code answers on the corpus of ``phone_golden.py`` (checked, when
recorded, against the straightforward code the Arrow version replaced). The property tests feed random
chunks and check that a chunk gets exactly what each of its rows gets alone, so no vectorised step
mixes rows up, whatever their order, index or neighbours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import phone_golden as golden
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas.columns import ALT_PHONES, OUTCOME, PHONE, PHONE_E164, PHONE_REGION, PHONES, REASON, ROW
from tasks.rules import phone_items
from tasks.rules.phones import normalize_phones, parse_numbers, phone_key

NPAS, FOREIGN, JUNK = golden.NPAS, golden.FOREIGN, golden.JUNK


@st.composite
def nanp_number(draw: st.DrawFn) -> str:
    npa = draw(st.sampled_from(NPAS))
    nxx = draw(st.sampled_from(["555", "911", "411", "067", "234", "867"]) | st.from_regex(r"[0-9]{3}", fullmatch=True))
    line = draw(st.sampled_from(["0150", "0199", "0200", "5309"]) | st.from_regex(r"[0-9]{4}", fullmatch=True))
    style = draw(st.sampled_from(golden.STYLES))
    prefix = draw(st.sampled_from(golden.PREFIXES))
    number = prefix + style.format(a=npa, b=nxx, c=line)
    if draw(st.booleans()):
        number = number[: draw(st.integers(0, len(number)))]
    return number + draw(st.sampled_from(golden.SUFFIXES))


numbers = nanp_number() | st.sampled_from(FOREIGN + JUNK) | st.text(alphabet="0123456789 +-().x#|;,/", max_size=16)


@st.composite
def field(draw: st.DrawFn) -> str | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    parts = draw(st.lists(numbers, min_size=1, max_size=4))
    seps = draw(st.lists(st.sampled_from(golden.SEPARATORS), min_size=len(parts), max_size=len(parts)))
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


@pytest.mark.parametrize("name", list(golden.OPTIONS))
def test_parse_numbers_gives_the_recorded_answers(name: str) -> None:
    entries = golden.recorded()["parse_numbers"]
    got = golden.parse_answers([value for value, _ in entries], golden.OPTIONS[name])
    assert got == [answers[name] for _, answers in entries]


@pytest.mark.parametrize("name", golden.NORMALIZE_WITH)
def test_normalize_phones_gives_the_recorded_answers(name: str) -> None:
    entries = golden.recorded()["normalize_phones"]
    got = golden.normalize_answers([row for row, _ in entries], golden.OPTIONS[name])
    assert got == [answers[name] for _, answers in entries]


def test_the_recorded_corpus_is_the_generated_one() -> None:
    data, inputs = golden.recorded(), golden.corpus()
    assert [value for value, _ in data["parse_numbers"]] == inputs["numbers"]
    assert [row for row, _ in data["normalize_phones"]] == inputs["rows"]


ADDED = [PHONE_E164, ALT_PHONES, PHONE_REGION, OUTCOME, REASON]


def one_by_one(df: pd.DataFrame, options: dict[str, object]) -> pd.DataFrame:
    """``normalize_phones`` on each row alone, put together again."""
    rows = [normalize_phones(df.iloc[[i]], **options)[ADDED] for i in range(len(df))]  # type: ignore[arg-type]
    together = pd.concat(rows) if rows else pd.DataFrame(columns=ADDED, index=df.index)
    return together.astype("string")


@pytest.mark.slow
@settings(max_examples=examples(60), deadline=None)
@given(chunks(), OPTIONS)
def test_a_chunk_gets_what_each_row_gets_alone(df: pd.DataFrame, options: dict[str, object]) -> None:
    got = normalize_phones(df, **options)  # type: ignore[arg-type]
    assert got.index.equals(df.index)
    pd.testing.assert_frame_equal(got.drop(columns=ADDED), df.drop(columns=[OUTCOME, REASON], errors="ignore"))
    pd.testing.assert_frame_equal(got[ADDED].astype("string"), one_by_one(df, options))


@settings(max_examples=examples(60), deadline=None)
@given(chunks(), OPTIONS)
def test_alternates_match_without_the_short_cut(df: pd.DataFrame, options: dict[str, object]) -> None:
    """The repeat check by sorting (used when a lead has many numbers) gives the same alternates."""
    expected = normalize_phones(df, **options)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(phone_items, "MAX_LAG", 0)
        pd.testing.assert_frame_equal(normalize_phones(df, **options), expected)  # type: ignore[arg-type]


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(numbers | st.none(), max_size=30), OPTIONS)
def test_parse_numbers_gives_each_value_what_it_gets_alone(values: list[str | None],
                                                           options: dict[str, object]) -> None:
    raw = pd.Series(values, dtype="string", index=np.arange(len(values)) * 3)
    got = parse_numbers(raw, **options)  # type: ignore[arg-type]
    assert got.index.equals(raw.index)
    for i in range(len(raw)):
        alone = parse_numbers(raw.iloc[[i]], **options)  # type: ignore[arg-type]
        assert got.iloc[i].tolist() == alone.iloc[0].tolist()
    valid = got["e164"].dropna()
    assert phone_key(valid).tolist() == [int(v[1:]) for v in valid]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.from_regex(r"\+?[0-9]{1,18}", fullmatch=True) | st.none() | numbers, max_size=20))
def test_phone_key_is_the_number_without_its_leading_plus(values: list[str | None]) -> None:
    e164 = pd.Series(values, dtype="string")
    try:
        keys = [0 if v is None else int(v.lstrip("+")) for v in values]
        assert all(key < 2**63 for key in keys)
    except (ValueError, AssertionError):
        with pytest.raises((ValueError, TypeError, OverflowError)):
            phone_key(e164)
        return
    assert phone_key(e164).tolist() == keys


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.text(alphabet="ab |;,/\u00e9\u2603 ", max_size=10) | st.none(), max_size=8), st.integers(0, 2))
def test_split_at_separators_matches_the_regex_split(values: list[str | None], start: int) -> None:
    arr = pa.array(values, pa.large_string()).slice(min(start, len(values)))
    present = arr.filter(arr.is_valid())
    parents, pieces = phone_items.split_at_separators(present)
    lists = pc.split_pattern_regex(present, phone_items.SEPARATORS)
    assert parents.tolist() == pc.list_parent_indices(lists).to_pylist()
    assert pieces.to_pylist() == pc.list_flatten(lists).to_pylist()
