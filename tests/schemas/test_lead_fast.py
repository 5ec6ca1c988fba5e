"""The fast validate path against the plain one it replaced, on random messy chunks.

The references (``ref_*.py``) are the modules as they were before the fast path: pandas string
methods in the checks, the whole ``LEAD_SCHEMA.validate(lazy=True)`` run (dtype checks included)
on the pending rows, the original reason building and marking. The frames mix bad e-mails, long
text, bad ZIPs/states/priorities, Canadian postal codes, NA everywhere, absent optional columns,
extra columns, other dtypes, rows already decided and odd indexes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import ref_lead
import ref_outcomes
import ref_provider_rules
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import columns as C
from schemas import text
from schemas.lead import validate_leads
from schemas.marks import choose_strings, combine_reasons, mark
from schemas.provider_rules import PROVIDER_RULES, validate_for_provider

MESSY = "aZz09 @.-+_\t\n\r\x0b\x1c\u00a0\u2003\u00df\u00e9\u0660\uff10"
ODD = st.text(alphabet=MESSY, max_size=12)


SAMPLES: dict[int, tuple[str, ...]] = {}


def _values(*samples: str, long: int = 0) -> st.SearchStrategy[str | None]:
    """Missing, one of ``samples``, messy text, or (if ``long``) text around that length."""
    options: list[st.SearchStrategy[str | None]] = [st.none(), st.sampled_from(samples), ODD]
    if long:
        options.append(st.integers(long - 2, long + 2).map(lambda n: "x" * n))
        samples = (*samples, *("x" * n for n in range(long - 2, long + 3)))
    strategy = st.one_of(*options)
    SAMPLES[id(strategy)] = samples
    return strategy


FIELDS: dict[str, st.SearchStrategy[str | None]] = {
    C.PHONE_E164: _values("+14158675309", "+442071838750", "+0123456789", "+1415", "14158675309", " +14158675309",
                          "+14158675309\n", "+1234567890123456"),
    C.EXTERNAL_ID: _values("L-1", " L-2 ", "", "  ", long=100),
    C.FIRST_NAME: _values("Ada", "  Ada ", "\u00e9mile", long=100),
    C.LAST_NAME: _values("Lovelace", " x", long=100),
    C.EMAIL: _values("ada@example.org", " ada@example.org ", "ada@example", "a b@c.de", "a@b.c0", "a@@b.com",
                     "ada@example.org\n", "x@y.\u00e9\u00e9", "user@sub.example.co.uk", long=254),
    C.ADDRESS1: _values("1 Main St", long=255),
    C.ADDRESS2: _values("Apt 2", long=255),
    C.CITY: _values("Springfield", " Halifax ", long=100),
    C.STATE: _values("CA", " ny ", "ns", "NS", "on", "California", "C", "\u00df\u00df", "qc\n"),
    C.ZIP: _values("94105", "94105-1234", "660", "660-2999", " 2134 ", "2134-1", "k1a0b1", "K1A 0B1", " b3h 4r2 ",
                   "941O5", "", "94105\n", "D1A 0B1", "\uff10\uff10660"),
    C.COUNTRY: _values("CA", " canada ", "can", "US", "USA", "Mexico"),
    C.PRIORITY: _values("1", "1000", "12.0", "12.00", "0", "1001", "-3", "1e2", "", "5\n", "5.0\n", "\u0665",
                        "99999"),
    C.extra("note"): _values("n", long=255),
    C.extra("X-Call-Context"): _values("promo", long=255),
}
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


def _run(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except ValueError as exc:
        return "error", str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks())
def test_validate_leads_matches_the_plain_pandera_path(df: pd.DataFrame) -> None:
    before = df.copy()
    got, want = _run(validate_leads, df), _run(ref_lead.validate_leads, df)
    _same(df, before)
    assert got[0] == want[0]
    if got[0] == "error":
        assert got[1] == want[1]
        return
    _same(got[1], want[1])
    for provider in [*PROVIDER_RULES, "some-new-dialer"]:
        _same(validate_for_provider(got[1], provider), ref_provider_rules.validate_for_provider(want[1], provider))


def test_a_missing_phone_column_is_the_same_error() -> None:
    df = pd.DataFrame({C.ROW: [1], C.EMAIL: pd.array(["x"], dtype="string")})
    with pytest.raises(ValueError, match="phone_e164") as got:
        validate_leads(df)
    with pytest.raises(ValueError, match="phone_e164") as want:
        ref_lead.validate_leads(df)
    assert str(got.value) == str(want.value)


def test_a_big_chunk_matches_too() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    messy = ["".join(rng.choice(list(MESSY), size=rng.integers(0, 10))) for _ in range(40)]
    pool = {c: [None, *SAMPLES[id(FIELDS[c])], *messy] for c in FIELDS}
    df = pd.DataFrame({C.ROW: np.arange(1, n + 1, dtype=np.int64)})
    for col, values in pool.items():
        df[col] = pd.array([values[i] for i in rng.integers(0, len(values), n)], dtype="string")
    df[C.OUTCOME] = pd.array(np.where(rng.random(n) < 0.1, "invalid", None), dtype="string")
    df[C.REASON] = df[C.OUTCOME]
    _same(validate_leads(df), ref_lead.validate_leads(df))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=MESSY, max_size=8)), max_size=30),
       st.sampled_from(["string", "str", "object"]))
def test_text_helpers_match_the_pandas_expressions(values: list[str | None], dtype: str) -> None:
    s = pd.Series(values, dtype=dtype, index=np.arange(len(values)) * 3)
    pd.testing.assert_series_equal(text.strip(s), s.str.strip())
    pd.testing.assert_series_equal(text.upper(s), s.str.upper())
    for pattern in (ref_lead.EMAIL_PATTERN, "[A-Z]{2}", ref_lead.US_ZIP_PATTERN, r"\.0*$", r"\s+"):
        for missing in (True, False):
            want = s.str.fullmatch(pattern).fillna(missing).to_numpy(dtype=bool)
            assert np.array_equal(text.fullmatch(s, pattern, missing), want), pattern
    assert np.array_equal(text.longer_than(s, 3), (s.str.len() > 3).fillna(False).to_numpy(dtype=bool))
    assert np.array_equal(text.in_set(s, {"A", "zz", " "}), s.isin(["A", "zz", " "]).fillna(False).to_numpy(dtype=bool))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 30).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.booleans(), min_size=n, max_size=n), max_size=5),
    st.lists(st.one_of(st.none(), st.sampled_from(["duplicate", "invalid"])), min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), ODD), min_size=n, max_size=n),
    st.booleans(),
)))
def test_outcome_helpers_match_the_plain_ones(case: tuple[Any, ...]) -> None:
    masks, decided, old, shuffled = case
    n = len(decided)
    index = pd.Index(np.arange(n)[::-1] if shuffled else np.arange(n))
    checks = [(np.array(m, dtype=bool), f"check {i}") for i, m in enumerate(masks)]
    got = combine_reasons(checks, index)
    pd.testing.assert_series_equal(got, ref_outcomes.combine_reasons(checks, index))
    df = pd.DataFrame({C.OUTCOME: pd.array(decided, dtype="string"), "x": 1}, index=index)
    hit = np.array([i % 2 == 0 for i in range(n)], dtype=bool)
    _same(mark(df, hit, "invalid", got), ref_outcomes.mark(df, hit, "invalid", got))
    _same(mark(df, hit, "suppressed", "dnc"), ref_outcomes.mark(df, hit, "suppressed", "dnc"))
    previous = pd.Series(old, dtype="object", index=index)
    pd.testing.assert_series_equal(choose_strings(hit, got, previous), ref_outcomes.choose_strings(hit, got, previous))
