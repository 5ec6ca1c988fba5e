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
    if not pc.all(pc.equal(pc.is_null(left), pc.is_null(right))).as_py():
        return False
    return bool(pc.all(pc.equal(left, right)).as_py() is not False)


def strip(s: pd.Series) -> pd.Series:
    """``s.str.strip()``."""
    if not is_arrow_text(s):
        return s.str.strip()
    return text_series(pc.utf8_trim_whitespace(arrow(s)), s.index)


def upper(s: pd.Series) -> pd.Series:
    """``s.str.upper()``."""
    if not is_arrow_text(s):
        return s.str.upper()
    return text_series(pc.utf8_upper(arrow(s)), s.index)


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
    return bools(pc.greater(pc.utf8_length(arrow(s)), limit), False)


def in_set(s: pd.Series, values: Iterable[str]) -> Bools:
    """``s.isin(values).fillna(False)`` as a numpy array (missing is never in the set)."""
    members = sorted(values)
    if not is_arrow_text(s):
        return np.asarray(s.isin(members).fillna(False).to_numpy(dtype=bool), dtype=bool)
    return bools(pc.is_in(arrow(s), value_set=pa.array(members, pa.large_string())), False)


def _re2_safe(pattern: str) -> bool:
    """True if pandas would hand ``pattern`` to RE2 unchanged (see :func:`fullmatch`)."""
    return "$" not in pattern and not any(f"\\{c}" in pattern for c in "sSdDwWbBZAuUNx0123456789")
