"""Dedup, DNC and the key frame give exactly what the straightforward reference (the old code) gives, on random data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rules_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.columns import ALT_PHONES, EXTERNAL_ID, OUTCOME, PHONE_E164, REASON, ROW
from tasks.rules.dedup import KEY, find_duplicates, mark_duplicates
from tasks.rules.dnc import contains, suppress
from tasks.stages import dedup_keys

PHONES = ["+14158675309", "+12128675309", "+16138675309", "+442079460958", "+525555555555", "+18008675309"]


@st.composite
def key_frames(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(0, 60))
    rows = draw(st.permutations(range(1, 3 * size + 1)))[:size]
    phones = draw(st.lists(st.integers(0, 8) | st.integers(0, 10**15), min_size=size, max_size=size))
    ids = draw(st.lists(st.sampled_from([None, "", " ", "a", " a", "b", "c "]), min_size=size, max_size=size))
    return pd.DataFrame({ROW: pd.array(rows, dtype="int64"), KEY: pd.array(phones, dtype="int64"),
                         EXTERNAL_ID: pd.array(ids, dtype="string")})


@settings(max_examples=300, deadline=None)
@given(key_frames(), st.sampled_from(["first", "last", "all"]), st.booleans())
def test_find_duplicates_matches_the_reference(keys: pd.DataFrame, keep: str, by_id: bool) -> None:
    expected = ref.find_duplicates(keys, keep=keep, by_external_id=by_id)  # type: ignore[arg-type]
    got = find_duplicates(keys, keep=keep, by_external_id=by_id)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got, expected)


@st.composite
def chunks(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(0, 40))
    number = st.sampled_from(PHONES) | st.none()
    alts = st.lists(st.sampled_from(PHONES), max_size=3).map(lambda a: "|".join(a) or None) | st.sampled_from(
        [" +14158675309 | +12128675309 ", "+14158675309||+16138675309"]
    )
    done = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    df = pd.DataFrame({
        ROW: pd.array(draw(st.permutations(range(1, size + 1))), dtype="int64"),
        PHONE_E164: pd.array(draw(st.lists(number, min_size=size, max_size=size)), dtype="string"),
        ALT_PHONES: pd.array(draw(st.lists(alts, min_size=size, max_size=size)), dtype="string"),
        OUTCOME: pd.array(["invalid" if d else None for d in done], dtype="string"),
        REASON: pd.array(["earlier" if d else None for d in done], dtype="string"),
        EXTERNAL_ID: pd.array(draw(st.lists(st.sampled_from(["x", None]), min_size=size, max_size=size)),
                              dtype="string"),
    })
    df.index = draw(st.permutations(range(500, 500 + size)))
    return df


@settings(max_examples=200, deadline=None)
@given(chunks(), st.lists(st.sampled_from(PHONES), max_size=4), st.lists(st.sampled_from(PHONES), max_size=4))
def test_suppress_matches_the_reference(df: pd.DataFrame, national: list[str], internal: list[str]) -> None:
    def keys(numbers: list[str]) -> np.ndarray:
        return np.unique(np.array([int(n[1:]) for n in numbers], dtype=np.int64))

    lists = {"national": keys(national), "internal": keys(internal)}
    pd.testing.assert_frame_equal(suppress(df, lists), ref.suppress(df, lists))
    values = np.array([0, *keys(PHONES)[::-1], 5], dtype=np.int64)
    assert contains(lists["national"], values).tolist() == ref.contains(lists["national"], values).tolist()


@settings(max_examples=200, deadline=None)
@given(chunks(), st.sampled_from(["first", "last", "all"]))
def test_key_frame_and_marking_match_the_reference(df: pd.DataFrame, keep: str) -> None:
    df[KEY] = pd.array([int(p[1:]) if isinstance(p, str) else 0 for p in df[PHONE_E164]], dtype="Int64")
    keys = dedup_keys(df)
    pending = df[df[OUTCOME].isna()]
    expected_keys = pd.DataFrame({ROW: pending[ROW].astype("int64"), KEY: pending[KEY].astype("int64"),
                                  EXTERNAL_ID: pending[EXTERNAL_ID].astype("string")})
    pd.testing.assert_frame_equal(keys, expected_keys)
    for dups in (find_duplicates(keys, keep=keep), find_duplicates(keys, keep=keep).iloc[::-1]):  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(mark_duplicates(df, dups), ref.mark_duplicates(df, dups))
