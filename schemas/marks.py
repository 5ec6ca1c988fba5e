"""The one place that records a row's outcome: only on rows still pending, never deleting any."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.columns import OUTCOME, REASON
from schemas.outcomes import OUTCOMES, Outcome

#: Separator between the messages of several failed checks in one reason.
REASON_SEPARATOR = "; "

Mask = pd.Series | npt.NDArray[np.bool_]
#: Arrow-backed strings with ``<NA>`` for missing: the dtype of ``outcome`` and ``reason``.
STRING = pd.StringDtype("pyarrow")


def with_outcome_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with ``outcome`` and ``reason`` string columns, adding them as all-NA.

    Args:
        df: A chunk.

    Returns:
        A shallow copy of ``df`` that has both columns with the ``string`` dtype.
    """
    out = df.copy(deep=False)
    for col in (OUTCOME, REASON):
        if col not in out.columns:
            out[col] = pd.Series(pd.NA, index=out.index, dtype="string")
        elif out[col].dtype != "string":
            out[col] = out[col].astype("string")
    return out


def pending(df: pd.DataFrame) -> pd.Series:
    """Boolean Series: True where the row has no outcome yet."""
    if OUTCOME not in df.columns:
        return pd.Series(True, index=df.index, dtype=bool)
    return df[OUTCOME].isna()


def mark(
    df: pd.DataFrame, mask: Mask, outcome: Outcome | str, reason: str | pd.Series
) -> pd.DataFrame:
    """Set ``outcome`` and ``reason`` on the rows of ``mask`` that are still pending.

    Rows that already have an outcome keep it; no row is ever removed.

    Args:
        df: A chunk; ``outcome``/``reason`` columns are added if missing.
        mask: Boolean Series aligned with ``df`` (or an array of ``len(df)``) of rows to mark.
        outcome: One of :class:`schemas.outcomes.Outcome`.
        reason: One reason for all marked rows, or a Series aligned with ``df``.

    Returns:
        A new DataFrame with the marks applied.

    Raises:
        ValueError: If ``outcome`` is not a known outcome or ``mask`` has the wrong length.
    """
    if str(outcome) not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
    out = with_outcome_columns(df)
    hit = _as_array(mask, out.index) & out[OUTCOME].isna().to_numpy(dtype=bool)
    if not hit.any():
        return out
    if isinstance(reason, pd.Series) and not reason.index.equals(out.index):
        reason = reason.reindex(out.index)
    out[OUTCOME] = choose_strings(hit, str(outcome), out[OUTCOME])
    out[REASON] = choose_strings(hit, reason, out[REASON])
    return out


def combine_reasons(
    checks: Iterable[tuple[Mask, str]], index: pd.Index, sep: str = REASON_SEPARATOR
) -> pd.Series:
    """Join the messages of every failed check per row, in the order given.

    Args:
        checks: Pairs of (rows that failed, message for those rows).
        index: Index of the rows.
        sep: What goes between two messages.

    Returns:
        A ``string`` Series on ``index``: the messages joined by ``sep``, NA where none failed.
    """
    masks = [(_as_array(mask, index), message) for mask, message in checks]
    failed = np.zeros(len(index), dtype=bool)
    for mask, _ in masks:
        failed |= mask
    at = np.flatnonzero(failed)
    missing = pa.scalar(None, pa.large_string())
    parts = [
        pc.if_else(pa.array(mask[at], pa.bool_()), pa.scalar(message, pa.large_string()), missing)
        for mask, message in masks
        if mask.any()
    ]
    if parts:
        joined = pc.binary_join_element_wise(*parts, pa.scalar(sep, pa.large_string()), null_handling="skip")
    else:
        joined = pa.array([], pa.large_string())
    positions = np.full(len(index), -1, dtype=np.int64)
    positions[at] = np.arange(len(at))
    reason = pc.take(joined, pa.array(positions, mask=positions < 0))
    return pd.Series(pd.arrays.ArrowStringArray(reason), index=index, copy=False)


def choose_strings(condition: npt.NDArray[np.bool_], new: str | pd.Series, old: pd.Series) -> pd.Series:
    """``new`` where ``condition`` holds, else ``old``, as a ``string`` Series on ``old``'s index.

    ``new`` is one value or a Series aligned with ``old`` (fast: one Arrow ``if_else``).
    """
    chosen = pc.if_else(
        pa.array(condition, pa.bool_()),
        _arrow(new) if isinstance(new, pd.Series) else pa.scalar(new, pa.large_string()),
        _arrow(old),
    )
    return pd.Series(pd.arrays.ArrowStringArray(chosen), index=old.index, copy=False)


def place_strings(at: npt.NDArray[np.int64], values: pd.Series, old: pd.Series) -> pd.Series:
    """``old`` with the rows at positions ``at`` (ascending) replaced by ``values``, in order.

    Args:
        at: Ascending positions in ``old``, one per value.
        values: The new values (their index is ignored).
        old: The values kept elsewhere.

    Returns:
        A ``string`` Series on ``old``'s index.
    """
    if len(at) == len(old):
        placed = _arrow(values)
    else:
        positions = np.full(len(old), -1, dtype=np.int64)
        positions[at] = np.arange(len(at))
        hit = positions >= 0
        spread = pc.take(_arrow(values), pa.array(positions, mask=~hit))
        placed = pc.if_else(pa.array(hit, pa.bool_()), spread, _arrow(old))
    return pd.Series(pd.arrays.ArrowStringArray(placed), index=old.index, copy=False)


def _arrow(values: pd.Series) -> pa.Array:
    """The values of a Series as one Arrow ``large_string`` array."""
    arr = pa.array((values if values.dtype == STRING else values.astype(STRING)).array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def _as_array(mask: Mask, index: pd.Index) -> npt.NDArray[np.bool_]:
    """Mask as a numpy bool array aligned with ``index`` (NA counts as False)."""
    if isinstance(mask, pd.Series):
        aligned = mask if mask.index.equals(index) else mask.reindex(index)
        values = aligned.fillna(False).to_numpy(dtype=bool)
    else:
        values = np.asarray(mask, dtype=bool)
    if len(values) != len(index):
        raise ValueError(f"mask has {len(values)} values for {len(index)} rows")
    return values


def find_rows(keys: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> tuple[
        npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """For each of ``values``, the position in ``keys`` of an equal key (the first in key order), and whether one is.

    ``keys`` may come in any order (sorted once here unless already sorted); where a value has no
    equal key its position is meaningless (``hit`` is False). One binary search per value.
    """
    if len(keys) == 0:
        return np.zeros(len(values), dtype=np.intp), np.zeros(len(values), dtype=bool)
    order = None if bool(np.all(keys[1:] >= keys[:-1])) else np.argsort(keys, kind="stable")
    ordered = keys if order is None else keys[order]
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    hit: npt.NDArray[np.bool_] = ordered[at] == values
    return (at if order is None else order[at]), hit
