"""Reference copy of tasks/rules/outcomes.py before the fast path (mark, combine_reasons, choose_strings)."""

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
    reason = pd.Series(pd.NA, index=pd.RangeIndex(len(at)), dtype="string")
    for mask, message in masks:
        hit = mask[at]
        if hit.any():
            reason[hit] = (reason[hit] + sep + message).fillna(message)
    positions = np.full(len(index), -1, dtype=np.int64)
    positions[at] = np.arange(len(at))
    return pd.Series(reason.array.take(positions, allow_fill=True), index=index)


def choose_strings(condition: npt.NDArray[np.bool_], new: str | pd.Series, old: pd.Series) -> pd.Series:
    """``new`` where ``condition`` holds, else ``old``, as a ``string`` Series on ``old``'s index.

    ``new`` is one value or a Series aligned with ``old`` (fast: one Arrow ``if_else``).
    """
    chosen = pc.if_else(
        pa.array(condition, pa.bool_()),
        _arrow(new) if isinstance(new, pd.Series) else pa.scalar(new, pa.large_string()),
        _arrow(old),
    )
    return pd.Series(pd.arrays.ArrowStringArray(chosen), index=old.index)


def _arrow(values: pd.Series) -> pa.Array:
    """The values of a Series as one Arrow ``large_string`` array."""
    arr = pa.array(values.astype("string").array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


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
