"""Request bodies: one JSON object per row, assembled column by column from Arrow string pieces.

A row's text is one element-wise join of literal pieces (keys, quotes, commas, braces) and column
values: a column with a value on every row adds no pass of its own, a column with missing values
one (its ``,"key":value`` member, null where the value is missing and left out). The rows' texts,
which Arrow keeps end to end in one buffer, are the body. The bytes are those ``json.dumps`` writes
for the same records (``tests/test_payload_equivalence.py``), at a fraction of the CPU of building
one dict per row for orjson (benchmarks/README.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: A piece of a row's text: the same literal on every row, or one value per row.
Piece: TypeAlias = "str | pa.Array"


@dataclass(frozen=True)
class ByteSet:
    """ASCII bytes to look for: every byte below ``below``, and ``single`` ones."""

    below: int
    single: tuple[int, ...]


def byte_set(chars: str) -> ByteSet:
    """The bytes of these ASCII characters, for :func:`holds_any_byte`."""
    codes = sorted({ord(ch) for ch in chars})
    below = next((i for i in range(len(codes) + 1) if i == len(codes) or codes[i] != i), 0)
    return ByteSet(below=below, single=tuple(codes[below:]))


#: Bytes a JSON string cannot hold as they are (control characters, the quote, the backslash): as a
#: set for :func:`holds_any_byte`, and as the pattern that finds the values holding one.
_ESCAPED = byte_set("".join(map(chr, range(0x20))) + '"\\')
_ESCAPED_PATTERN = r'[\x00-\x1f"\\]'


def json_records(frame: pd.DataFrame, *, nested: dict[str, list[str]] | None = None,
                 drop_null: bool = True, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """A JSON array with one object per row of ``frame`` (between ``prefix`` and ``suffix``: a body
    is copied once, and a copy of megabytes costs milliseconds).

    Args:
        frame: columns named as the API fields, values already in the API's types (use
            nullable ``Int64`` for integers).
        nested: object fields made of several columns, e.g. ``{"callData": ["plan", "email"]}``;
            they come after the other fields, and are written (possibly as ``{}``) on every row.
        drop_null: omit keys whose value is null (also inside nested objects).
    """
    if not len(frame):
        return prefix + b"[]" + suffix
    nested = {name: cols for name, cols in (nested or {}).items() if cols}
    inner = {c for cols in nested.values() for c in cols}
    groups = [(name, _object(frame, cols, drop_null, "{", "}")) for name, cols in nested.items()]
    top = [c for c in frame.columns if c not in inner]
    rows = _joined(_object(frame, top, drop_null, "{", "},", groups), len(frame))
    return b"".join((prefix, b"[", _text(rows)[:-1], b"]", suffix))  # the last row's comma dropped


def _object(frame: pd.DataFrame, columns: list[Any], drop_null: bool, opening: str, closing: str,
            groups: list[tuple[str, list[Piece]]] | None = None) -> list[Piece]:
    """The pieces of one object per row: the columns' members, then the nested ``groups`` (name, pieces).

    Members after the first start with a comma. When the first may be left out, the members are
    joined here and a leading comma trimmed (one more pass); otherwise every piece goes into the
    caller's one join.
    """
    pieces: list[Piece] = []
    first_optional = False
    for column in columns:
        member = _member(frame, column, drop_null, lead="," if pieces else "")
        if member is not None:
            first_optional = first_optional or (not pieces and member.optional)
            pieces += member.pieces
    for name, group in groups or []:
        pieces += [("," if pieces else "") + _key(name), *group]
    if first_optional:
        return [opening, pc.utf8_ltrim(_joined(pieces, len(frame)), characters=","), closing]
    return [opening, *pieces, closing]


@dataclass
class _Member:
    """A member's text (``"key":value``) as pieces; an optional one is one array, null where the member
    is left out."""

    pieces: list[Piece]
    optional: bool


def _member(frame: pd.DataFrame, column: Any, drop_null: bool, lead: str) -> _Member | None:
    """``lead"column":value`` for each row; ``None`` if every value is missing and missing ones are left out."""
    key = lead + _key(column)
    text, quote = _values(frame[column])
    if not text.null_count:
        return _Member([key + quote, text, quote], optional=False)
    if not drop_null:
        quoted = pc.binary_join_element_wise(quote, text, quote, "") if quote else text
        return _Member([key, quoted.fill_null("null")], optional=False)
    if text.null_count == len(text):
        return None
    return _Member([pc.binary_join_element_wise(key + quote, text, quote, "")], optional=True)


def _values(series: pd.Series) -> tuple[pa.Array, str]:
    """A column's values as JSON texts (null where missing), and the quote each still needs (text that
    needs no escapes is quoted as it is joined: one pass, not two); types other than text, integers
    and booleans as pandas' JSON writer renders them."""
    arr = column_array(series)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    kind = arr.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        text = arr.cast(pa.string())
        if not holds_any_byte(text, _ESCAPED):
            return text, '"'
        return _escaped(text), ""
    if pa.types.is_integer(kind):
        return arr.cast(pa.string()), ""
    if pa.types.is_boolean(kind):
        return pc.if_else(arr, "true", "false"), ""
    if pa.types.is_null(kind):
        return pa.nulls(len(arr), pa.string()), ""
    values = json.loads(str(series.to_json(orient="values", force_ascii=False)))  # type: ignore[call-overload]
    return pa.array([None if v is None else orjson.dumps(v).decode() for v in values], pa.string()), ""


def _escaped(text: pa.Array) -> pa.Array:
    """Text values as JSON strings where some need escapes: only those are written one by one."""
    quoted = pc.binary_join_element_wise('"', text, '"', "")
    special = pc.fill_null(pc.match_substring_regex(text, _ESCAPED_PATTERN), False)
    escapes = [orjson.dumps(v).decode() for v in text.filter(special).to_pylist()]
    return pc.replace_with_mask(quoted, special, pa.array(escapes, pa.string()))


def holds_any_byte(text: pa.StringArray, chars: ByteSet) -> bool:
    """Whether any value of ``text`` holds a byte of ``chars`` (a look at the array's bytes, not a
    pattern matched value by value)."""
    _, offsets, data = text.buffers()
    if data is None:
        return False
    bounds = np.frombuffer(offsets, dtype=np.int32)[[text.offset, text.offset + len(text)]]
    view = np.frombuffer(data, dtype=np.uint8)[bounds[0]:bounds[1]]
    if not len(view):
        return False
    return bool((chars.below and view.min() < chars.below) or any((view == c).any() for c in chars.single))


def _joined(pieces: list[Piece], rows: int) -> pa.Array:
    """The pieces end to end on each row (a null value adds nothing); an array alone is itself."""
    merged: list[Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if isinstance(piece, str) and isinstance(last, str):
            merged[-1] = last + piece
        elif not isinstance(piece, str) or piece:
            merged.append(piece)
    arrays = [p for p in merged if not isinstance(p, str)]
    if not arrays:
        return pa.array(["".join(p for p in merged if isinstance(p, str))] * rows, pa.string())
    if len(merged) == 1:
        return arrays[0]
    return pc.binary_join_element_wise(*merged, "", null_handling="replace", null_replacement="")


def _key(name: Any) -> str:
    return orjson.dumps(str(name)).decode() + ":"


def _text(rows: pa.StringArray) -> memoryview:
    """The rows' texts end to end: a view of the bytes of the array's data buffer they span."""
    _, offsets, data = rows.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[[rows.offset, rows.offset + len(rows)]]
    return memoryview(data)[bounds[0]:bounds[1]]


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
