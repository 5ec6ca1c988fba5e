"""The byte-level text helpers against the pandas expressions they stand for, on messy strings."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas import lead, text

ALPHABET = "09123+-/:AZKaz \t\n\x0b\x1c\u00a0\u2003\u00e9\u0660\uff10x@."
SAMPLES = ["+14158675309", "+1234567", "+0123456789", "+1234567890123456", "94105", "94105-1234", "660", "660-2999",
           "K1A 0B1", "K1A0B1", "D1A 0B1", "K1A-0B1", "k1a 0b1", "CA", "ny", " CA", "x" * 101, "\u00e9" * 60,
           "+1415867530/", "9410:", "94105-12", "66/-2999", "+\u0661234567"]
VALUES = st.lists(st.one_of(st.none(), st.sampled_from(SAMPLES), st.text(alphabet=ALPHABET, max_size=18)),
                  max_size=40)
PATTERNS = [lead.E164_PATTERN, "[A-Z]{2}", lead.US_ZIP_PATTERN, lead.CA_POSTAL_PATTERN, lead.POSTAL_PATTERN,
            lead.SHORT_ZIP_PATTERN]


def _series(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype=text.STRING).iloc[1:]  # a sliced array: offsets not starting at 0


@settings(max_examples=examples(150), deadline=None)
@given(VALUES, st.booleans())
def test_patterns_match_as_python_re(values: list[str | None], missing: bool) -> None:
    """The schema's patterns run by Arrow (RE2) on Arrow text, by Python's ``re`` on objects: the same answers."""
    s = _series(values)
    for pattern in PATTERNS:
        expected = s.astype(object).str.fullmatch(pattern).fillna(missing).to_numpy(dtype=bool)
        assert (text.fullmatch(s, pattern, missing) == expected).all(), pattern


@settings(max_examples=examples(300), deadline=None)
@given(VALUES, st.booleans())
def test_layouts_match_as_their_patterns(values: list[str | None], missing: bool) -> None:
    """The fixed-shape patterns matched on bytes give the answers of Python's ``re`` on the pattern."""
    s = _series(values)
    for layout in (lead.E164, lead.STATE, lead.US_ZIP, lead.CA_POSTAL, lead.POSTAL, lead.SHORT_ZIP):
        expected = s.astype(object).str.fullmatch(layout.pattern).fillna(missing).to_numpy(dtype=bool)
        assert (text.fullmatch(s, layout, missing) == expected).all(), layout.pattern


@settings(max_examples=examples(150), deadline=None)
@given(VALUES, st.integers(0, 12))
def test_trim_upper_length_blank_as_pandas(values: list[str | None], limit: int) -> None:
    s = _series(values)
    plain = s.astype(object)
    assert text.strip(s).astype(object).equals(plain.str.strip())
    assert text.upper(s).astype(object).equals(plain.str.upper())
    assert (text.longer_than(s, limit) == (plain.str.len() > limit).fillna(False).to_numpy(dtype=bool)).all()
    assert (text.blank(s) == (plain.str.strip().fillna("") == "").to_numpy(dtype=bool)).all()
    assert text.same(s, text.strip(s)) == plain.fillna("\0").equals(plain.str.strip().fillna("\0"))
