"""Text tests and edits for the schema checks: pyarrow kernels on ``string`` columns.

Each function gives what the pandas expression named in its docstring gives. On an Arrow-backed
``string`` Series (``pd.StringDtype("pyarrow")``, what validation casts every text column to) it
calls the same pyarrow kernel pandas would, without pandas' per-call machinery; on anything else
it runs the pandas expression itself, so a schema fed other dtypes behaves exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    if not pc.all(pc.equal(pc.is_null(left), pc.is_null(right))).as_py():
        return False
    return bool(pc.all(pc.equal(left, right)).as_py() is not False)


def strip(s: pd.Series) -> pd.Series:
    """``s.str.strip()`` (the values as they are if none starts or ends with a space or non-ASCII byte)."""
    if not is_arrow_text(s):
        return s.str.strip()
    values = arrow(s)
    return text_series(pc.utf8_trim_whitespace(values) if _may_trim(values) else values, s.index)


def upper(s: pd.Series) -> pd.Series:
    """``s.str.upper()`` (the ASCII kernel if every byte is ASCII: the same result)."""
    if not is_arrow_text(s):
        return s.str.upper()
    values = arrow(s)
    data, _ = byte_view(values)
    ascii_only = not len(data) or int(data.max()) < 0x80
    return text_series(pc.ascii_upper(values) if ascii_only else pc.utf8_upper(values), s.index)


def blank(s: pd.Series) -> Bools:
    """``s.str.strip().fillna("") == ""`` as a numpy array: missing, empty or only white space."""
    if not is_arrow_text(s):
        return np.asarray((s.str.strip().fillna("") == "").to_numpy(dtype=bool), dtype=bool)
    values = arrow(strip(s))
    _, offsets = byte_view(values)
    return np.asarray((np.diff(offsets) == 0) | ~nonnull(values), dtype=bool)


def _may_trim(values: Any) -> bool:
    """True unless every present value starts and ends with a printable ASCII byte (nothing to trim)."""
    data, offsets = byte_view(values)
    lengths = np.diff(offsets)
    filled = lengths > 0
    ends = np.concatenate([data[offsets[:-1][filled]], data[offsets[1:][filled] - 1]])
    return bool(np.any((ends <= 0x20) | (ends >= 0x7F)))


def _same_buffers(left: Any, right: Any) -> bool:
    """True if two arrays are views of the same memory (so hold the same values)."""
    if left.type != right.type or left.offset != right.offset or len(left) != len(right):
        return False
    pairs = zip(left.buffers(), right.buffers(), strict=True)
    return all((a is None and b is None) or (a is not None and b is not None and a.address == b.address
                                           and a.size == b.size) for a, b in pairs)


def fullmatch(s: pd.Series, pattern: str, missing: bool) -> Bools:
    """``s.str.fullmatch(pattern).fillna(missing)`` as a numpy array.

    pandas runs such a pattern (no ``$``, ``\\s``, ``\\d``, ``\\w``, ``\\b``, look-around or
    back-reference) as the RE2 pattern ``^(pattern)$``; other patterns take the pandas path.
    """
    if not is_arrow_text(s) or not _re2_safe(pattern):
        return np.asarray(s.str.fullmatch(pattern).fillna(missing).to_numpy(dtype=bool), dtype=bool)
    return bools(pc.match_substring_regex(arrow(s), f"^({pattern})$"), missing)


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
    if arr.null_count and bool(np.any(np.diff(offsets)[~nonnull(arr)])):
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
    valid: Bools = arr.is_valid().to_numpy(zero_copy_only=False)
    return valid
