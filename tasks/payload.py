"""Request bodies: one JSON object per row, written by orjson from each column's Python values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa


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
    records = _objects(frame, [c for c in frame.columns if c not in inner], drop_null)
    for name, cols in nested.items():
        for record, group in zip(records, _objects(frame, cols, drop_null), strict=True):
            record[name] = group
    return orjson.dumps(records)


def _objects(frame: pd.DataFrame, columns: Sequence[Any], drop_null: bool) -> list[dict[str, Any]]:
    """One dict per row of ``frame`` with these columns (a null left out when ``drop_null``)."""
    names = [str(c) for c in columns]
    rows = zip(*(python_values(frame[c]) for c in columns), strict=True) if names else repeat((), len(frame))
    if drop_null:
        return [{k: v for k, v in zip(names, row, strict=True) if v is not None} for row in rows]
    return [dict(zip(names, row, strict=True)) for row in rows]


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
