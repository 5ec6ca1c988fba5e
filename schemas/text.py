"""Text tests and edits for the schema checks: pyarrow kernels and numpy on ``string`` columns.

Each function gives what the pandas expression named in its docstring gives. On an Arrow-backed
``string`` Series (``pd.StringDtype("pyarrow")``, what validation casts every text column to) it
calls the same pyarrow kernel pandas would, without pandas' per-call machinery, or reads the
UTF-8 bytes with numpy where that is cheaper (a kernel pass costs some 20 ns a value); on anything
else it runs the pandas expression itself, so a schema fed other dtypes behaves exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: The dtype validation gives every text column.
STRING = pd.StringDtype("pyarrow")

Bools = npt.NDArray[np.bool_]
ByteArray = npt.NDArray[np.uint8]
IntArray = npt.NDArray[np.int64]


def is_arrow_text(s: pd.Series) -> bool:
    """True if ``s`` holds Arrow strings with ``<NA>`` for missing (the ``string`` dtype)."""
    return s.dtype == STRING and isinstance(s.array, pd.arrays.ArrowStringArray)


def arrow(s: pd.Series) -> Any:
    """The Arrow data of an Arrow-backed ``string`` Series as one array (no copy if in one chunk)."""
    values = pa.array(s.array)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def text_series(values: Any, index: pd.Index) -> pd.Series:
    """Arrow strings as a ``string`` Series on ``index``."""
    if isinstance(values, pa.ChunkedArray) and values.num_chunks != 1:
        values = values.combine_chunks()
    if values.type != pa.large_string():
        values = values.cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(values), index=index, copy=False)


def bools(values: Any, missing: bool) -> Bools:
    """An Arrow boolean result as numpy, ``missing`` where it is null."""
    return np.asarray(pc.fill_null(values, missing).to_numpy(zero_copy_only=False), dtype=bool)


def same(a: pd.Series, b: pd.Series) -> bool:
    """True if two ``string`` Series hold the same values, missing in the same places."""
    if not (is_arrow_text(a) and is_arrow_text(b)) or len(a) != len(b):
        return False
    left, right = arrow(a), arrow(b)
    if _same_buffers(left, right):
        return True
    (left_data, left_offsets), (right_data, right_offsets) = byte_view(left), byte_view(right)
    return (np.array_equal(nonnull(left), nonnull(right)) and np.array_equal(left_offsets, right_offsets)
            and np.array_equal(left_data, right_data))


def strip(s: pd.Series) -> pd.Series:
    """``s.str.strip()`` (the values as they are if trimming would change none)."""
    if not is_arrow_text(s):
        return s.str.strip()
    values = arrow(s)
    return text_series(pc.utf8_trim_whitespace(values) if _needs_trim(values) else values, s.index)


def upper(s: pd.Series) -> pd.Series:
    """``s.str.upper()`` (the ASCII kernel if every byte is ASCII, the values as they are if none is a-z)."""
    if not is_arrow_text(s):
        return s.str.upper()
    values = arrow(s)
    data, _ = byte_view(values)
    if len(data) and int(data.max()) >= 0x80:
        return text_series(pc.utf8_upper(values), s.index)
    lower = bool(np.any(data - np.uint8(ord("a")) < 26))  # uint8 arithmetic wraps below "a"
    return text_series(pc.ascii_upper(values) if lower else values, s.index)


def prepend(values: Any, counts: IntArray, char: str) -> Any:
    """Arrow strings: ``counts[i]`` copies of the ASCII ``char`` put before value ``i`` (0 for nulls)."""
    data, offsets = byte_view(values)
    grown = np.insert(data, np.repeat(offsets[:-1], counts), np.uint8(ord(char)))
    shifted = offsets + np.concatenate([[0], np.cumsum(counts)])
    valid = pa.py_buffer(np.packbits(nonnull(values), bitorder="little")) if values.null_count else None
    return pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(shifted), pa.py_buffer(grown), valid,
                                            values.null_count)


def blank(s: pd.Series) -> Bools:
    """``s.str.strip().fillna("") == ""`` as a numpy array: missing, empty or only white space."""
    if not is_arrow_text(s):
        return np.asarray((s.str.strip().fillna("") == "").to_numpy(dtype=bool), dtype=bool)
    values = arrow(strip(s))
    _, offsets = byte_view(values)
    return np.asarray((np.diff(offsets) == 0) | ~nonnull(values), dtype=bool)


def _needs_trim(values: Any) -> bool:
    """True if trimming white space would change a value.

    Only a value starting or ending with a byte outside printable ASCII (a space, a control or a
    non-ASCII character) can change; those few are trimmed to see.
    """
    data, offsets = byte_view(values)
    if not len(data):
        return False
    first = data.take(offsets[:-1], mode="clip")  # empty rows read a neighbour's byte: dropped below
    last = data.take(offsets[1:] - 1, mode="clip")
    outside = np.uint8(ord("~") - ord("!"))  # uint8 arithmetic wraps below "!"
    edge = (first - np.uint8(ord("!")) > outside) | (last - np.uint8(ord("!")) > outside)
    maybe = np.flatnonzero(edge & (np.diff(offsets) > 0))
    if not len(maybe):
        return False
    few = values.take(pa.array(maybe))
    trimmed = pc.utf8_trim_whitespace(few)
    return bool(pc.any(pc.not_equal(pc.binary_length(trimmed), pc.binary_length(few))).as_py())


def _same_buffers(left: Any, right: Any) -> bool:
    """True if two arrays are views of the same memory (so hold the same values)."""
    if left.type != right.type or left.offset != right.offset or len(left) != len(right):
        return False
    pairs = zip(left.buffers(), right.buffers(), strict=True)
    return all((a is None and b is None) or (a is not None and b is not None and a.address == b.address
                                           and a.size == b.size) for a, b in pairs)


class Shape(NamedTuple):
    """Strings of one of ``lengths`` ASCII characters, ``fixed`` ones at some positions (negative: from the end)."""

    lengths: tuple[int, ...]
    fixed: tuple[tuple[int, str], ...] = ()


class Layout(NamedTuple):
    """A regex each of whose matches has one of a few shapes, spelled out for matching on bytes.

    Every position a shape does not fix holds a character of the range ``fill`` (e.g. ``"09"``);
    no two shapes share a length.
    """

    pattern: str
    fill: str
    shapes: tuple[Shape, ...]


def fullmatch(s: pd.Series, pattern: str | Layout, missing: bool) -> Bools:
    """``s.str.fullmatch(pattern).fillna(missing)`` as a numpy array.

    pandas runs such a pattern (no ``$``, ``\\s``, ``\\d``, ``\\w``, ``\\b``, look-around or
    back-reference) as the RE2 pattern ``^(pattern)$``; other patterns take the pandas path. A
    :class:`Layout` is matched on the bytes of Arrow text, elsewhere as its pattern.
    """
    regex = pattern.pattern if isinstance(pattern, Layout) else pattern
    if not is_arrow_text(s) or not _re2_safe(regex):
        return np.asarray(s.str.fullmatch(regex).fillna(missing).to_numpy(dtype=bool), dtype=bool)
    values = arrow(s)
    if isinstance(pattern, Layout):
        matched = _match_layout(values, pattern)
        matched[~nonnull(values)] = missing
        return matched
    return bools(pc.match_substring_regex(values, f"^({regex})$"), missing)


def _match_layout(values: Any, layout: Layout) -> Bools:
    """True where a value has one of the layout's shapes (nulls: False).

    Every byte is tested against ``fill`` at once, the fixed positions are tested again on their
    own, and a row holding a byte that failed its test does not match. The characters allowed are
    ASCII, so a value with a non-ASCII character (bytes 0x80 and up) never matches.
    """
    data, offsets = byte_view(values)
    lengths = np.diff(offsets)
    shape_of = _shape_by_length(layout)
    which = shape_of[np.minimum(lengths, len(shape_of) - 1)]
    low, high = (np.uint8(ord(c)) for c in layout.fill)
    good = data - low <= high - low  # uint8 arithmetic wraps below ``low``
    for number, shape in enumerate(layout.shapes):
        rows = np.flatnonzero(which == number)
        starts, ends = offsets[rows], offsets[rows + 1]
        for position, allowed in shape.fixed:
            at = (starts if position >= 0 else ends) + position
            good[at] = _byte_table(allowed)[data[at]]
    return (which >= 0) & ~_rows_holding(offsets, np.flatnonzero(~good))


@cache
def _shape_by_length(layout: Layout) -> IntArray:
    """Index of the shape of each length (array index = length), -1 for none; the last entry is -1."""
    table = np.full(max(n for shape in layout.shapes for n in shape.lengths) + 2, -1, dtype=np.int64)
    for number, shape in enumerate(layout.shapes):
        shortest = min(shape.lengths)
        if (table[list(shape.lengths)] >= 0).any() or not all(-shortest <= p < shortest for p, _ in shape.fixed):
            raise ValueError(f"shape {number} of {layout.pattern!r} shares a length or fixes a position outside")
        table[list(shape.lengths)] = number
    table.flags.writeable = False
    return table


@cache
def _byte_table(chars: str) -> Bools:
    """True at the byte value of each of ``chars`` (ASCII)."""
    table = np.zeros(256, dtype=bool)
    table[list(chars.encode("ascii"))] = True
    table.flags.writeable = False
    return table


def _rows_holding(offsets: IntArray, at: IntArray) -> Bools:
    """True where row ``i`` (bytes ``offsets[i]`` to ``offsets[i + 1]``) holds one of the byte positions ``at``.

    ``at`` is ascending. The smaller side is searched: the positions among the row starts, or the
    row starts among the positions.
    """
    count = len(offsets) - 1
    if len(at) > count:
        found: Bools = np.diff(np.searchsorted(at, offsets)) > 0
        return found
    found = np.zeros(count, dtype=bool)
    found[np.searchsorted(offsets, at, side="right") - 1] = True
    return found


def longer_than(s: pd.Series, limit: int) -> Bools:
    """``(s.str.len() > limit).fillna(False)`` as a numpy array."""
    if not is_arrow_text(s):
        return np.asarray((s.str.len() > limit).fillna(False).to_numpy(dtype=bool), dtype=bool)
    # A value has no more characters than UTF-8 bytes: count characters only where the bytes exceed.
    values = arrow(s)
    _, offsets = byte_view(values)
    result = (np.diff(offsets) > limit) & nonnull(values)
    maybe = np.flatnonzero(result)
    if len(maybe):
        result[maybe] = bools(pc.greater(pc.utf8_length(values.take(pa.array(maybe))), limit), False)
    return result


def in_set(s: pd.Series, values: Iterable[str]) -> Bools:
    """``s.isin(values).fillna(False)`` as a numpy array (missing is never in the set)."""
    members = sorted(values)
    if not is_arrow_text(s):
        return np.asarray(s.isin(members).fillna(False).to_numpy(dtype=bool), dtype=bool)
    return bools(pc.is_in(arrow(s), value_set=pa.array(members, pa.large_string())), False)


def _re2_safe(pattern: str) -> bool:
    """True if pandas would hand ``pattern`` to RE2 unchanged (see :func:`fullmatch`)."""
    return "$" not in pattern and not any(f"\\{c}" in pattern for c in "sSdDwWbBZAuUNx0123456789")


def byte_view(arr: pa.LargeStringArray) -> tuple[ByteArray, IntArray]:
    """The UTF-8 bytes and offsets of ``arr`` (nulls read as empty): row ``i`` is ``data[o[i]:o[i + 1]]``."""
    data, offsets = _buffers(arr)
    if arr.null_count and len(data):
        nulls = np.flatnonzero(~nonnull(arr))
        if bool(np.any(offsets[nulls + 1] != offsets[nulls])):
            data, offsets = _buffers(pc.fill_null(arr, ""))
    return data, offsets


def _buffers(arr: pa.LargeStringArray) -> tuple[ByteArray, IntArray]:
    _, offsets_buf, data_buf = arr.buffers()
    if data_buf is None or len(arr) == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(len(arr) + 1, dtype=np.int64)
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def nonnull(arr: pa.Array) -> Bools:
    """True where ``arr`` holds a value."""
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    bitmap = arr.buffers()[0]
    if bitmap is None:  # a type without a validity bitmap (every value null)
        valid: Bools = arr.is_valid().to_numpy(zero_copy_only=False)
        return valid
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), count=arr.offset + len(arr), bitorder="little")
    return bits[arr.offset :].view(np.bool_)
