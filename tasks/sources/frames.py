"""Raw chunks as readers produce them, and turning any column into clean text."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: The text dtype of every lead and custom-field column: missing values are ``pd.NA``.
TEXT = pd.StringDtype()
_ARROW_TEXT = pd.StringDtype("pyarrow")
_MAX_EXACT_FLOAT = 2**53


@dataclass(frozen=True)
class RawChunk:
    """Rows as read: header names, positional columns ``0..n-1`` and their data-row numbers."""

    header: list[str]
    frame: pd.DataFrame
    rows: np.ndarray  # int64, 1-based data-row numbers in the source
    #: Values the reader had to change: (position in the chunk, column position, what was wrong).
    flaws: tuple[tuple[int, int, str], ...] = ()

    @classmethod
    def numbered(cls, header: list[str], frame: pd.DataFrame, first_row: int,
                 flaws: tuple[tuple[int, int, str], ...] = ()) -> RawChunk:
        """A chunk whose rows are numbered consecutively from ``first_row``."""
        frame.columns = pd.RangeIndex(frame.shape[1])
        rows = np.arange(first_row, first_row + len(frame), dtype=np.int64)
        return cls(header, frame.reset_index(drop=True), rows, flaws)


def text_value(value: object) -> str | None:
    """One native value as text (``None`` for missing); integral floats lose their ``.0``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        number = float(value)
        if number.is_integer() and abs(number) < _MAX_EXACT_FLOAT:
            return str(int(number))
        return repr(number)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _float_text(values: pd.Series) -> pd.Series:
    out = values.astype(TEXT)
    integral = values.notna() & (values % 1 == 0) & (values.abs() < _MAX_EXACT_FLOAT)
    if integral.any():
        out[integral] = values[integral].astype("int64").astype(TEXT)
    return out


def _plain(values: pd.Series) -> bool:
    dtype = values.dtype
    return (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
    )


def as_text(values: pd.Series) -> pd.Series:
    """``values`` as text: stripped of surrounding whitespace, empty strings and missing as NA."""
    dtype = values.dtype
    arrow = isinstance(values.array, pd.arrays.ArrowStringArray)
    if arrow and isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
        return _arrow_text(values)
    if isinstance(values.dtype, pd.StringDtype):
        text = values if values.dtype.na_value is pd.NA else values.astype(TEXT)
    elif pd.api.types.is_bool_dtype(values.dtype):
        text = values.map({True: "true", False: "false"}).astype(TEXT)
    elif pd.api.types.is_float_dtype(values.dtype):
        text = _float_text(values)
    elif _plain(values):
        text = values.astype(TEXT)
    else:
        text = values.map(text_value, na_action=None).astype(TEXT)
    text = text.str.strip()
    return text.mask(text == "")


def _arrow_text(values: pd.Series) -> pd.Series:
    """:func:`as_text` of Arrow-backed text in two Arrow kernels (what ``str.strip`` and ``mask`` do)."""
    arr = pa.array(values.array)
    trimmed = pc.utf8_trim_whitespace(arr)
    blank = pc.equal(trimmed, "")
    clean = pc.if_else(blank, pa.scalar(None, trimmed.type), trimmed)
    if isinstance(clean, pa.ChunkedArray):
        clean = clean.combine_chunks()
    return pd.Series(pd.arrays.ArrowStringArray(clean), index=values.index, name=values.name)


def arrow_frame(table: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    """An Arrow table as a DataFrame with positional columns; strings stay Arrow-backed."""
    names = [str(i) for i in range(table.num_columns)]
    frame = table.rename_columns(names).to_pandas(
        types_mapper={pa.string(): _ARROW_TEXT, pa.large_string(): _ARROW_TEXT}.get
    )
    frame.columns = pd.RangeIndex(table.num_columns)
    return cast(pd.DataFrame, frame)


def rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``size`` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending = rest.to_batches()
            count = rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)
