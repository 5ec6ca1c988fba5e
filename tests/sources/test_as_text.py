"""``as_text`` on Arrow-backed text (two Arrow kernels) equals the pandas strip-and-mask it replaces."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from tasks.sources.frames import TEXT, as_text

CHARS = st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\x00", "a", "é", "0", "-"])


def reference(values: pd.Series) -> pd.Series:
    text = values.astype(TEXT).str.strip()
    return text.mask(text == "")


@settings(max_examples=examples(300))
@given(st.lists(st.one_of(st.none(), st.text(alphabet=CHARS, max_size=6)), max_size=40))
def test_arrow_text_matches_strip_and_mask(values: list[str | None]) -> None:
    series = pd.Series(values, dtype=pd.StringDtype("pyarrow"), index=pd.RangeIndex(3, 3 + len(values)), name="c")
    pd.testing.assert_series_equal(as_text(series), reference(series))


def test_chunked_arrow_text_is_one_clean_column() -> None:
    parts = [pd.Series([" a ", ""], dtype="string"), pd.Series([None, "\tb"], dtype="string")]
    series = pd.concat(parts, ignore_index=True)
    assert as_text(series).tolist() == ["a", pd.NA, pd.NA, "b"]
