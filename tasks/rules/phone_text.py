"""Byte-level helpers over Arrow strings: what each row holds, found with numpy instead of regex passes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.text import byte_view

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ByteArray = npt.NDArray[np.uint8]
ByteTest = Callable[[ByteArray], BoolArray]

#: Longest digit string :func:`digit_keys` turns into an ``int64``.
MAX_KEY_DIGITS = 18


def large_strings(values: Any) -> pa.LargeStringArray:
    """``values`` (Series, pandas array, Arrow array or chunked array) as one ``large_string`` array."""
    if isinstance(values, pd.Series):
        values = values.array
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    result: pa.LargeStringArray = arr.cast(pa.large_string())
    return result


def string_series(values: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """A pandas ``string`` Series (Arrow-backed, NA for nulls) over an Arrow string array."""
    return pd.Series(pd.arrays.ArrowStringArray(values.cast(pa.large_string())), index=index)


def any_of(chars: bytes) -> ByteTest:
    """A byte test: True for each byte of ``chars`` (compared, faster than a lookup table)."""

    def test(data: ByteArray) -> BoolArray:
        found = np.zeros(len(data), dtype=bool)
        for char in chars:
            found |= data == char
        return found

    return test


def rows_with(arr: pa.LargeStringArray, test: ByteTest) -> BoolArray:
    """True where the row holds at least one byte passing ``test`` (nulls: False)."""
    data, offsets = byte_view(arr)
    hits = np.flatnonzero(test(data))
    if len(hits) == 0:
        return np.zeros(len(arr), dtype=bool)
    counts = np.searchsorted(hits, offsets)
    found: BoolArray = np.diff(counts) > 0
    return found


def first_byte_is(arr: pa.LargeStringArray, char: str) -> BoolArray:
    """True where the row starts with the ASCII character ``char`` (nulls and empty rows: False)."""
    data, offsets = byte_view(arr)
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    first = data[np.minimum(starts, max(len(data) - 1, 0))] if len(data) else np.zeros(len(starts), np.uint8)
    found: BoolArray = nonempty & (first == ord(char))
    return found


def group_join(values: pa.Array, groups: IntArray, sep: str) -> tuple[IntArray, pa.Array]:
    """Join ``values`` by ``sep`` per run of equal ``groups`` (sorted, so each group is one run).

    Returns:
        The distinct groups (in order) and, for each, its values joined in order.
    """
    if len(groups) == 0:
        return groups, pa.array([], pa.large_string())
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    offsets = pa.array(np.r_[starts, len(groups)].astype(np.int64))
    lists = pa.LargeListArray.from_arrays(offsets, values.cast(pa.large_string()))
    return groups[starts], pc.binary_join(lists, pa.scalar(sep, pa.large_string()))


def place(count: int, parts: Sequence[tuple[IntArray, pa.Array]]) -> pa.Array:
    """A ``large_string`` array of ``count`` rows: each part's values at its positions, else null."""
    index = np.full(count, -1, dtype=np.int64)
    arrays, start = [], 0
    for positions, values in parts:
        index[positions] = np.arange(start, start + len(positions))
        arrays.append(values.cast(pa.large_string()))
        start += len(positions)
    if not arrays:
        return pa.nulls(count, pa.large_string())
    return pa.concat_arrays(arrays).take(pa.array(index, mask=index < 0))


def concat(*parts: str | pa.Array) -> pa.Array:
    """Row-wise concatenation of strings and string arrays (null if any part is null)."""
    args = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p.cast(pa.large_string()) for p in parts]
    return pc.binary_join_element_wise(*args, pa.scalar("", pa.large_string()))
