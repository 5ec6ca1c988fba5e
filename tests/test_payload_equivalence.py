"""Request bodies: ``json_records`` writes the bytes ``json.dumps`` writes for the same records."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from tasks.payload import json_records

TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(['a', 'é', '"', '\\', '\n', '\x01', ' ', '0', '😀']),
                                     max_size=5))
#: Values longer than 12 bytes are not stored inline in Arrow string views (the pieces point into a buffer).
LONG = st.one_of(st.none(), st.text(alphabet=st.sampled_from(['a', 'é', ' ', '0', '😀', '"']), min_size=10,
                                    max_size=40))
PLAIN = st.one_of(st.none(), st.sampled_from(["x", "Ada", "12 Main St", "", "laurawright76@comcast.net"]))
NAMES = ["c", "firstName", "extended Lead Data source", 'quo"te', "é😀", "a\\b", "0"]


def oracle(frame: pd.DataFrame, *, nested: dict[str, list[str]] | None = None, drop_null: bool = True) -> bytes:
    """The records as Python dicts through ``json.dumps``; values as pandas' JSON writer gives them."""
    groups = {name: cols for name, cols in (nested or {}).items() if cols}
    inner = {c for cols in groups.values() for c in cols}
    values = {c: json.loads(str(frame[c].to_json(orient="values", force_ascii=False)))  # type: ignore[call-overload]
              for c in frame.columns}

    def members(columns: list[str], i: int) -> dict[str, object]:
        return {c: values[c][i] for c in columns if not (drop_null and values[c][i] is None)}

    top = [c for c in frame.columns if c not in inner]
    records = [{**members(top, i), **{name: members(cols, i) for name, cols in groups.items()}}
               for i in range(len(frame))]
    return json.dumps(records, ensure_ascii=False, separators=(",", ":")).encode()


@st.composite
def frames(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    rows = draw(st.integers(1, 12))
    cols = draw(st.integers(1, 5))
    data: dict[str, pd.Series] = {}
    for c in range(cols):
        name = f"{draw(st.sampled_from(NAMES))}{c}"
        kind = draw(st.sampled_from(["text", "plain", "long", "python", "category", "int", "bool"]))
        if kind == "int":
            data[name] = pd.Series(draw(st.lists(st.one_of(st.none(), st.integers(-9, 10**12)),
                                                 min_size=rows, max_size=rows)), dtype="Int64")
        elif kind == "bool":
            data[name] = pd.Series(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=rows, max_size=rows)),
                                   dtype="boolean")
        else:
            values = {"text": TEXT, "long": LONG}.get(kind, PLAIN)
            dtype = {"python": "string[python]", "category": "category"}.get(kind, "string")
            data[name] = pd.Series(draw(st.lists(values, min_size=rows, max_size=rows)), dtype=dtype)
    frame = pd.DataFrame(data)
    start = draw(st.integers(0, rows - 1))
    frame = frame.iloc[start:]  # sliced Arrow arrays, as batches of a chunk are
    names = list(frame.columns)
    nested = {draw(st.sampled_from(["data", "extendedLeadData", 'o"dd'])): names[draw(st.integers(0, len(names))):]}
    return frame, nested


@pytest.mark.slow
@settings(max_examples=examples(400), deadline=None)
@given(frames(), st.booleans())
def test_json_records_bytes_match_json_dumps(case: tuple[pd.DataFrame, dict[str, list[str]]],
                                                       drop_null: bool) -> None:
    frame, nested = case
    got = json_records(frame, nested=nested, drop_null=drop_null)
    assert got == oracle(frame, nested=nested, drop_null=drop_null)
    assert len(json.loads(got)) == len(frame)


def _lead_frame(rows: int) -> pd.DataFrame:
    """Lead-shaped columns: some never null, some often null, one always null, long and short values."""
    ids = pd.Series([f"L-{i:07d}" for i in range(rows)], dtype="string")
    email = pd.Series([None if i % 7 == 0 else f"someone.with.a.long.name{i}@example.com" for i in range(rows)],
                      dtype="string")
    return pd.DataFrame({
        "externId": ids, "leadPhone": pd.Series([f"93930{i:05d}" for i in range(rows)], dtype="string"),
        "email": email, "address2": pd.Series([None] * rows, dtype="string"),
        "zip": pd.Series([None if i % 3 else "00934" for i in range(rows)], dtype="string"),
        "Lead Source": pd.Series(["Facebook Ads", "Google Ads"] * (rows // 2) + ["x"] * (rows % 2), dtype="string"),
        "Score": pd.Series([None if i % 5 == 0 else i for i in range(rows)], dtype="Int64"),
    })


@pytest.mark.parametrize("drop_null", [True, False])
@pytest.mark.parametrize("rows", [1, 2, 1000])
def test_lead_shaped_frames_match(rows: int, drop_null: bool) -> None:
    frame = _lead_frame(rows).iloc[rows // 3:]
    nested = {"extendedLeadData": ["Lead Source", "Score"]}
    got = json_records(frame, nested=nested, drop_null=drop_null)
    assert got == oracle(frame, nested=nested, drop_null=drop_null)
    assert len(json.loads(got)) == len(frame)


@pytest.mark.parametrize("drop_null", [True, False])
def test_other_column_types_match(drop_null: bool) -> None:
    """Columns in several Arrow chunks, with 32- and 64-bit offsets, and the types of the general path."""
    chunked = pd.arrays.ArrowExtensionArray(pa.chunked_array([["a", None, "a long value of the first chunk"],
                                                              ['b"', "c"]]))
    frame = pd.DataFrame({
        "chunked": pd.Series(chunked),
        "chunked_plain": pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([["x", "y"], [None, "z", "w"]]))),
        "short": pd.Series(pd.arrays.ArrowExtensionArray(pa.array(["a", "b", None, "d", "a string over 12 B"]))),
        "object": pd.Series(["x", None, "tab\there", "ok", "é"], dtype=object),
        "float": pd.Series([1.5, None, 2.0, -0.25, 1e20]),
        "when": pd.Series(pd.to_datetime(["2024-01-02T00:00:00", None, "2024-03-04T05:06:00", "2024-01-01T00:00:00",
                                          "2025-12-31T00:00:00"], format="ISO8601")),
        "flag": pd.Series([True, None, False, True, None], dtype="boolean"),
        "none": pd.Series([None] * 5, dtype="string"),
    })
    nested = {"callData": ["float", "none", "flag"], "meta": ["when"]}
    for part in (frame, frame.iloc[2:]):
        got = json_records(part, nested=nested, drop_null=drop_null)
        assert got == oracle(part, nested=nested, drop_null=drop_null)
        assert len(json.loads(got)) == len(part)


def test_frames_without_members_match() -> None:
    frame = pd.DataFrame(index=range(3))
    assert json_records(frame) == oracle(frame) == b"[{},{},{}]"
    nulls = pd.DataFrame({"a": pd.Series([None, None], dtype="string")})
    assert json_records(nulls, nested={"d": ["a"]}) == oracle(nulls, nested={"d": ["a"]})
    assert json_records(nulls.iloc[:0]) == b"[]"
