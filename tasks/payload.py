"""Request bodies built column-wise with Arrow string kernels: no Python dict (or string) per lead."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Control characters JSON requires escaped (rare in lead data: such columns take the slow path).
_CONTROL = r"[\x00-\x1f]"


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
    if len(frame) == 0:
        return b"[]"
    nested = {k: v for k, v in (nested or {}).items() if v}
    inner = {c for cols in nested.values() for c in cols}
    parts = [_members(frame, [c for c in frame.columns if c not in inner], drop_null)]
    for name, cols in nested.items():
        body = _object(_members(frame, cols, drop_null))
        parts.append(pc.binary_join_element_wise(f",{_key(name)}:", body, ""))
    records = _object(_concat(parts))
    offsets = pa.array([0, len(records)], pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, records), ",")[0]
    data = bytes(pc.cast(joined, pa.binary()).as_buffer().to_pybytes())
    return b"[" + data + b"]"


def _members(frame: pd.DataFrame, columns: list[str], drop_null: bool) -> pa.Array:
    """``,"key":value`` for each column, concatenated per row (nulls left out or written as null)."""
    fragments = [_fragment(frame[col], col, drop_null) for col in columns]
    if not fragments:
        return pa.array([""] * len(frame), pa.string())
    if len(fragments) == 1:
        return fragments[0].fill_null("")
    return pc.binary_join_element_wise(*fragments, "", null_handling="replace", null_replacement="")


def _fragment(series: pd.Series, col: str, drop_null: bool) -> pa.Array:
    """``,"key":value`` of one column per row; null where the value is missing and left out."""
    prefix = f",{_key(col)}:"
    plain = _plain_text(series) if drop_null else None
    if plain is not None:
        return pc.binary_join_element_wise(prefix + '"', plain, '"', "")
    value = _json_values(series)
    if not drop_null:
        value = value.fill_null("null")
    return pc.binary_join_element_wise(prefix, value, "")


def _plain_text(series: pd.Series) -> pa.Array | None:
    """A text column as ``string`` if none of its values needs escaping in JSON (else None)."""
    arr = column_array(series)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    text = arr.cast(pa.string())
    _, offsets, data = text.buffers()
    if data is None or offsets is None:
        return text
    bounds = np.frombuffer(offsets, dtype=np.int32)[text.offset:text.offset + len(text) + 1]
    raw = np.frombuffer(data, dtype=np.uint8)[bounds[0]:bounds[-1]] if len(bounds) else np.empty(0, np.uint8)
    special = (raw < 0x20) | (raw == 0x22) | (raw == 0x5C)
    return None if special.any() else text


def _concat(fragments: list[pa.Array]) -> pa.Array:
    return fragments[0] if len(fragments) == 1 else pc.binary_join_element_wise(*fragments, "")


def _object(members: pa.Array) -> pa.Array:
    """``{`` + members without their leading comma + ``}``."""
    return pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(members, 1), "}", "")


def column_array(series: pd.Series) -> pa.Array:
    """A column as one contiguous Arrow array (pandas may hold Arrow-backed columns in several chunks)."""
    arr = pa.array(series, from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _key(name: str) -> str:
    return json.dumps(str(name), ensure_ascii=False)


def _json_values(series: pd.Series) -> pa.Array:
    """Each value as JSON text (string), null where the value is missing."""
    arr = column_array(series)
    kind = arr.type
    if pa.types.is_dictionary(kind):
        arr, kind = arr.dictionary_decode(), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = arr.cast(pa.string())
        if not pc.any(pc.match_substring_regex(text, _CONTROL)).as_py():
            text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
            return pc.binary_join_element_wise('"', text, '"', "")
    elif pa.types.is_integer(kind):
        return arr.cast(pa.string())
    elif pa.types.is_boolean(kind):
        return pc.if_else(arr, "true", "false").cast(pa.string())
    elif pa.types.is_null(kind):
        return pa.nulls(len(arr), pa.string())
    return _json_values_slow(series)


def _json_values_slow(series: pd.Series) -> pa.Array:
    """Other types (floats, dates, strings with control characters) as pandas' JSON writer renders them."""
    values = json.loads(str(series.to_json(orient="values", force_ascii=False)))  # type: ignore[call-overload]
    return pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string())
