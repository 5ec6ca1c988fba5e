"""Request bodies: one JSON object per row, assembled column by column from Arrow string pieces.

Each column becomes the text of its members (``"key":value,``, empty where a missing value is
left out), a row's members are joined and their last comma dropped, and the rows' texts, which
Arrow keeps end to end in one buffer, are the body. The bytes are those ``json.dumps`` writes for
the same records (``tests/test_payload_equivalence.py``), at about a third of the CPU of building
one dict per row for orjson (benchmarks/README.md): at 1M NLPearl leads, 2 to 3 seconds of a
run's one busy core.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Bytes a JSON string cannot hold as they are (control characters, the quote, the backslash): as a
#: table for :func:`holds_any_byte`, and as the pattern that finds the values holding one.
_ESCAPED = np.zeros(256, dtype=bool)
_ESCAPED[[*range(0x20), ord('"'), ord("\\")]] = True
_ESCAPED_PATTERN = r'[\x00-\x1f"\\]'


def json_records(frame: pd.DataFrame, *, nested: dict[str, list[str]] | None = None,
                 drop_null: bool = True) -> bytes:
    """A JSON array with one object per row of ``frame``.

    Args:
        frame: columns named as the API fields, values already in the API's types (use
            nullable ``Int64`` for integers).
        nested: object fields made of several columns, e.g. ``{"callData": ["plan", "email"]}``;
            they come after the other fields, and are written (possibly as ``{}``) on every row.
        drop_null: omit keys whose value is null (also inside nested objects).
    """
    if not len(frame):
        return b"[]"
    nested = {name: cols for name, cols in (nested or {}).items() if cols}
    inner = {c for cols in nested.values() for c in cols}
    members = [_members(frame, c, drop_null) for c in frame.columns if c not in inner]
    for name, cols in nested.items():
        group = _object([_members(frame, c, drop_null) for c in cols], len(frame))
        members.append(pc.binary_join_element_wise(_key(name), group, ",", ""))
    rows = pc.binary_join_element_wise(_object(members, len(frame)), ",", "")
    return b"[" + _text(rows)[:-1] + b"]"  # the last row's comma dropped


def _members(frame: pd.DataFrame, column: Any, drop_null: bool) -> pa.Array:
    """``"column":value,`` for each row; where the value is missing ``""`` (or ``null`` unless ``drop_null``)."""
    key, values = _key(column), _values(frame[column])
    if isinstance(values, _Plain):  # quoted as it is joined: one pass, not two
        members = pc.binary_join_element_wise(key + '"', values.text, '",', "")
    else:
        members = pc.binary_join_element_wise(key, values, ",", "")
    return members.fill_null(f"{key}null," if not drop_null else "") if members.null_count else members


@dataclass
class _Plain:
    """Text values that need no escapes: a JSON string each once quoted."""

    text: pa.Array


def _values(series: pd.Series) -> pa.Array | _Plain:
    """A column's values as JSON texts (null where missing); types other than text, integers and
    booleans as pandas' JSON writer renders them."""
    arr = column_array(series)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    kind = arr.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        text = arr.cast(pa.string())
        if not holds_any_byte(text, _ESCAPED):
            return _Plain(text)
        return _escaped(text)
    if pa.types.is_integer(kind):
        return arr.cast(pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(arr, "true", "false")
    if pa.types.is_null(kind):
        return pa.nulls(len(arr), pa.string())
    values = json.loads(str(series.to_json(orient="values", force_ascii=False)))  # type: ignore[call-overload]
    return pa.array([None if v is None else orjson.dumps(v).decode() for v in values], pa.string())


def _escaped(text: pa.Array) -> pa.Array:
    """Text values as JSON strings where some need escapes: only those are written one by one."""
    quoted = pc.binary_join_element_wise('"', text, '"', "")
    special = pc.fill_null(pc.match_substring_regex(text, _ESCAPED_PATTERN), False)
    escapes = [orjson.dumps(v).decode() for v in text.filter(special).to_pylist()]
    return pc.replace_with_mask(quoted, special, pa.array(escapes, pa.string()))


def byte_set(chars: str) -> npt.NDArray[np.bool_]:
    """The lookup table of :func:`holds_any_byte` for these ASCII characters."""
    table = np.zeros(256, dtype=bool)
    table[[ord(ch) for ch in chars]] = True
    return table


def holds_any_byte(text: pa.StringArray, table: npt.NDArray[np.bool_]) -> bool:
    """Whether any value of ``text`` holds a byte marked in ``table`` (one look at the array's bytes, not a
    pattern matched value by value)."""
    _, offsets, data = text.buffers()
    if data is None:
        return False
    bounds = np.frombuffer(offsets, dtype=np.int32)[[text.offset, text.offset + len(text)]]
    return bool(table[np.frombuffer(data, dtype=np.uint8)[bounds[0]:bounds[1]]].any())


def _object(members: list[pa.Array], rows: int) -> pa.Array:
    """Each row's members as one JSON object: joined, the last one's comma dropped (a JSON value never
    ends with a comma), in braces."""
    if not members:
        return pa.array(["{}"] * rows, pa.string())
    joined = pc.utf8_rtrim(pc.binary_join_element_wise(*members, ""), characters=",")
    return pc.binary_join_element_wise("{", joined, "}", "")


def _key(name: Any) -> str:
    return orjson.dumps(str(name)).decode() + ":"


def _text(rows: pa.StringArray) -> bytes:
    """The rows' texts end to end: the bytes of the array's data buffer they span."""
    _, offsets, data = rows.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[[rows.offset, rows.offset + len(rows)]]
    return memoryview(data)[bounds[0]:bounds[1]].tobytes()


def column_array(series: pd.Series) -> pa.Array:
    """A column as one contiguous Arrow array (pandas may hold Arrow-backed columns in several chunks).

    pandas' Arrow-backed and masked arrays hand over their Arrow data directly (``__arrow_array__``,
    as ``pa.array`` would after slower checks); a single chunk is used as it is, without a copy.
    """
    to_arrow = getattr(series.array, "__arrow_array__", None)
    arr = to_arrow() if to_arrow is not None else pa.array(series, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr
