"""Request bodies: a JSON array of one object per row, assembled column by column with Arrow's string kernels.

Every column becomes one Arrow array of ``,"name":value`` members (empty where a null is left out);
one kernel call joins each row's members, and Python handles whole bodies only. Values are written as
orjson writes them: a text column with nothing to escape is quoted by the same join; a value that
needs escaping (``"``, ``\\`` or a control character), and every value of a type other than text,
integer or boolean, is written by orjson itself, one by one.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: What JSON escapes in a string (orjson leaves every other character as it is).
_ESCAPED = r'["\\\x00-\x1f]'
_TEXT = pa.large_string()


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
    nested = {name: cols for name, cols in (nested or {}).items() if cols}
    inner = {c for cols in nested.values() for c in cols}
    rows = len(frame)
    members = [_members(frame[c], c, drop_null) for c in frame.columns if c not in inner]
    for name, cols in nested.items():
        group = _objects(rows, [_members(frame[c], c, drop_null) for c in cols])
        members.append(pc.binary_join_element_wise(_text(f",{_key(name)}"), group, _text("")))
    body = pc.binary_join(pa.LargeListArray.from_arrays(pa.array([0, rows], pa.int64()), _objects(rows, members)),
                          _text(","))
    text: bytes = body[0].as_buffer().to_pybytes()
    return b"[" + text + b"]"


def _objects(rows: int, members: list[pa.Array]) -> pa.Array:
    """``{`` + each row's members + ``}``: the first member's leading comma becomes the brace."""
    joined = (pc.binary_join_element_wise(*members, _text("")) if members
              else pa.array([""] * rows, _TEXT))
    opened = pc.utf8_replace_slice(joined, start=0, stop=1, replacement="{")  # "" (no member) becomes "{"
    return pc.binary_join_element_wise(opened, _text("}"), _text(""))


def _members(series: pd.Series, name: Any, drop_null: bool) -> pa.Array:
    """``,"name":value`` for each row; empty where the value is null and ``drop_null``."""
    arr = _plain(column_array(series))
    head = _text(f",{_key(name)}")
    if pa.types.is_large_string(arr.type) and not pc.any(pc.match_substring_regex(arr, _ESCAPED)).as_py():
        out = pc.binary_join_element_wise(_text(f",{_key(name)}\""), arr, _text('"'), _text(""))
    else:
        out = pc.binary_join_element_wise(head, _json_values(arr, series), _text(""))
    if arr.null_count == 0:
        return out
    return pc.fill_null(out, _text("") if drop_null else _text(f",{_key(name)}null"))


def _plain(arr: pa.Array) -> pa.Array:
    """Dictionary columns decoded, text as 64-bit-offset strings."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string(arr.type):
        arr = arr.cast(_TEXT)
    return arr


def _json_values(arr: pa.Array, series: pd.Series) -> pa.Array:
    """Each value as JSON text, null where missing: integers and booleans by a kernel, the rest by orjson."""
    if pa.types.is_integer(arr.type):
        return arr.cast(_TEXT)
    if pa.types.is_boolean(arr.type):
        return pc.if_else(arr, _text("true"), _text("false"))
    plain = pa.types.is_large_string(arr.type) or pa.types.is_null(arr.type)
    values = arr.to_pylist() if plain else python_values(series)
    return pa.array([None if v is None else orjson.dumps(v).decode() for v in values], _TEXT)


def _key(name: Any) -> str:
    return orjson.dumps(str(name)).decode() + ":"


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _TEXT)


def python_values(series: pd.Series) -> list[Any]:
    """A column's values as Python objects, None where missing; other types as pandas' JSON writer renders them."""
    arr = column_array(series)
    kind = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    if (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
            or pa.types.is_boolean(kind) or pa.types.is_null(kind)):
        values: list[Any] = arr.to_pylist()
        return values
    return list(json.loads(str(series.to_json(orient="values", force_ascii=False))))  # type: ignore[call-overload]


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
