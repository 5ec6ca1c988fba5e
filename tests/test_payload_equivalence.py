"""Request bodies: the fast paths of ``json_records`` write the same bytes as the plain Arrow path."""

from __future__ import annotations

import json

import pandas as pd
import payload_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.payload import json_records

TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(['a', 'é', '"', '\\', '\n', '\x01', ' ', '0', '😀']),
                                     max_size=5))


@st.composite
def frames(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    rows = draw(st.integers(1, 12))
    cols = draw(st.integers(1, 5))
    data: dict[str, pd.Series] = {}
    for c in range(cols):
        kind = draw(st.sampled_from(["text", "plain", "int", "bool"]))
        if kind == "int":
            data[f"c{c}"] = pd.Series(draw(st.lists(st.one_of(st.none(), st.integers(-9, 10**12)),
                                                   min_size=rows, max_size=rows)), dtype="Int64")
        elif kind == "bool":
            data[f"c{c}"] = pd.Series(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=rows, max_size=rows)),
                                      dtype="boolean")
        else:
            values = st.one_of(st.none(), st.sampled_from(["x", "Ada", "12 Main St", ""])) if kind == "plain" else TEXT
            data[f"c{c}"] = pd.Series(draw(st.lists(values, min_size=rows, max_size=rows)), dtype="string")
    frame = pd.DataFrame(data)
    start = draw(st.integers(0, rows - 1))
    frame = frame.iloc[start:]  # sliced Arrow arrays, as batches of a chunk are
    names = list(frame.columns)
    nested = {"data": names[draw(st.integers(0, len(names))):]}
    return frame, nested


@settings(max_examples=400, deadline=None)
@given(frames(), st.booleans())
def test_json_records_bytes_match_the_plain_arrow_path(case: tuple[pd.DataFrame, dict[str, list[str]]],
                                                       drop_null: bool) -> None:
    frame, nested = case
    got = json_records(frame, nested=nested, drop_null=drop_null)
    assert got == ref.json_records(frame, nested=nested, drop_null=drop_null)
    assert len(json.loads(got)) == len(frame)
