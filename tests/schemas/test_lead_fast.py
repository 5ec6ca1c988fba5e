"""The fast validate path: recorded answers on fixed messy chunks, and the same answers row by row.

``lead_golden.json`` holds what lead and provider validation answer on the chunks of ``lead_golden.py``
(checked, when recorded, against the plain pandera path the fast one replaced: pandas string methods in
the checks, the whole schema run on the pending rows). The property tests feed random chunks (bad
e-mails, long text, bad ZIPs/states/priorities, Canadian postal codes, NA everywhere, absent optional
columns, other dtypes, rows already decided, odd indexes) and check that a chunk gets exactly what
each of its rows gets alone.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import lead_golden as golden
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas import columns as C
from schemas import text
from schemas.lead import EMAIL_PATTERN, US_ZIP_PATTERN, validate_leads
from schemas.marks import choose_strings, combine_reasons, mark
from schemas.provider_rules import validate_for_provider

MESSY = golden.MESSY
ODD = st.text(alphabet=MESSY, max_size=12)


def _values(*samples: str, long: int = 0) -> st.SearchStrategy[str | None]:
    """Missing, one of ``samples``, messy text, or (if ``long``) text around that length."""
    options: list[st.SearchStrategy[str | None]] = [st.none(), st.sampled_from(samples), ODD]
    if long:
        options.append(st.integers(long - 2, long + 2).map(lambda n: "x" * n))
    return st.one_of(*options)


FIELDS = {c: _values(*samples, long=limit) for c, (samples, limit) in golden.SAMPLES.items() if c not in golden.RARE}
OPTIONAL = [c for c in FIELDS if c != C.PHONE_E164]


@st.composite
def chunks(draw: st.DrawFn) -> pd.DataFrame:
    """A normalized chunk, messy in every way validation must survive."""
    n = draw(st.integers(0, 25))
    present = [C.PHONE_E164] + [c for c in OPTIONAL if draw(st.booleans()) or c.startswith("extra.")]
    df = pd.DataFrame({C.ROW: np.arange(1, n + 1, dtype=np.int64)})
    if n and draw(st.integers(0, 9)) == 0:
        df.loc[0, C.ROW] = 0  # fails ge(1)
    for col in present:
        df[col] = pd.array(draw(st.lists(FIELDS[col], min_size=n, max_size=n)), dtype="string")
    decided = draw(st.lists(st.sampled_from([None, None, None, "duplicate", "invalid"]), min_size=n, max_size=n))
    df[C.OUTCOME] = pd.array(decided, dtype="string")
    df[C.REASON] = pd.array([None if d is None else f"earlier: {d}" for d in decided], dtype="string")
    if n and draw(st.booleans()):
        df.index = pd.Index(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)))  # duplicates too
    other = draw(st.sampled_from([None, C.FIRST_NAME, C.ZIP, C.STATE, C.COUNTRY]))
    if other in df.columns:  # a text column in another dtype; validation casts it
        df[other] = df[other].astype(draw(st.sampled_from(["object", "str"])))
    return df


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.parametrize("part", range(len(golden.CHUNKS)))
def test_validation_gives_the_recorded_answers(part: int) -> None:
    recorded = golden.recorded()[part]
    chunk = golden.chunk_of(recorded)
    assert chunk == golden.corpus()[part]
    assert golden.answers(chunk) == [answers for _, answers in recorded["rows"]]


PROVIDERS = golden.PROVIDERS


def pieces(df: pd.DataFrame, cuts: list[int]) -> list[pd.DataFrame]:
    """``df`` cut before each position of ``cuts``."""
    bounds = [0, *sorted(set(cuts)), len(df)]
    return [df.iloc[a:b] for a, b in pairwise(bounds) if b > a]


@pytest.mark.slow
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks(), st.lists(st.integers(0, 25), max_size=3))
def test_a_chunk_gets_what_its_pieces_get(df: pd.DataFrame, cuts: list[int]) -> None:
    before = df.copy()
    got = validate_leads(df)
    _same(df, before)
    assert got.index.equals(df.index) and list(got.columns) == list(df.columns)
    assert got[C.OUTCOME].dtype == "string" and got[C.REASON].dtype == "string"
    parts = [validate_leads(part) for part in pieces(df, [c for c in cuts if c < len(df)])]
    if parts:
        pd.testing.assert_frame_equal(pd.concat(parts), got, check_dtype=False)
    for provider in PROVIDERS:
        rules = golden.field_rules(provider)
        whole = validate_for_provider(got, rules)
        assert whole.index.equals(got.index)
        if parts:
            pd.testing.assert_frame_equal(pd.concat([validate_for_provider(part, rules) for part in parts]), whole,
                                          check_dtype=False)


def test_a_missing_phone_column_is_a_frame_error() -> None:
    df = pd.DataFrame({C.ROW: [1], C.EMAIL: pd.array(["x"], dtype="string")})
    with pytest.raises(ValueError) as got:
        validate_leads(df)
    assert str(got.value) == "the leads frame does not fit the Lead schema: Lead: column_in_dataframe (phone_e164)"


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=MESSY, max_size=8)), max_size=30),
       st.sampled_from(["string", "str", "object"]))
def test_text_helpers_match_the_pandas_expressions(values: list[str | None], dtype: str) -> None:
    s = pd.Series(values, dtype=dtype, index=np.arange(len(values)) * 3)
    pd.testing.assert_series_equal(text.strip(s), s.str.strip())
    pd.testing.assert_series_equal(text.upper(s), s.str.upper())
    for pattern in (EMAIL_PATTERN, "[A-Z]{2}", US_ZIP_PATTERN, r"\.0*$", r"\s+"):
        for missing in (True, False):
            want = s.str.fullmatch(pattern).fillna(missing).to_numpy(dtype=bool)
            assert np.array_equal(text.fullmatch(s, pattern, missing), want), pattern
    assert np.array_equal(text.longer_than(s, 3), (s.str.len() > 3).fillna(False).to_numpy(dtype=bool))
    assert np.array_equal(text.in_set(s, {"A", "zz", " "}), s.isin(["A", "zz", " "]).fillna(False).to_numpy(dtype=bool))


def reasons_oracle(checks: list[tuple[np.ndarray, str]], count: int) -> list[str | None]:
    """Per row: the messages of the failed checks joined by "; ", or None."""
    return ["; ".join(message for mask, message in checks if mask[i]) or None for i in range(count)]


@settings(max_examples=examples(100), deadline=None)
@given(st.integers(0, 30).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.booleans(), min_size=n, max_size=n), max_size=5),
    st.lists(st.one_of(st.none(), st.sampled_from(["duplicate", "invalid"])), min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), ODD), min_size=n, max_size=n),
    st.booleans(),
)))
def test_outcome_helpers_match_per_row_oracles(case: tuple[Any, ...]) -> None:
    masks, decided, old, shuffled = case
    n = len(decided)
    index = pd.Index(np.arange(n)[::-1] if shuffled else np.arange(n))
    checks = [(np.array(m, dtype=bool), f"check {i}") for i, m in enumerate(masks)]
    got = combine_reasons(checks, index)
    assert got.index.equals(index) and got.dtype == "string"
    assert golden.plain(got) == reasons_oracle(checks, n)
    df = pd.DataFrame({C.OUTCOME: pd.array(decided, dtype="string"), "x": 1}, index=index)
    hit = np.array([i % 2 == 0 for i in range(n)], dtype=bool)
    for outcome, reason in (("invalid", got), ("suppressed", "dnc")):
        marked = mark(df, hit, outcome, reason)
        assert marked.index.equals(index) and list(marked.columns) == [C.OUTCOME, "x", C.REASON]
        why = golden.plain(reason) if isinstance(reason, pd.Series) else [reason] * n
        take = [hit[i] and decided[i] is None for i in range(n)]
        assert golden.plain(marked[C.OUTCOME]) == [outcome if take[i] else decided[i] for i in range(n)]
        assert golden.plain(marked[C.REASON]) == [why[i] if take[i] else None for i in range(n)]
        assert marked["x"].tolist() == [1] * n
    previous = pd.Series(old, dtype="object", index=index)
    chosen = choose_strings(hit, got, previous)
    assert chosen.index.equals(index) and chosen.dtype == "string"
    assert golden.plain(chosen) == [golden.plain(got)[i] if hit[i] else old[i] for i in range(n)]
