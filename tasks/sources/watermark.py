"""Incremental reads: comparing a watermark column with ``since`` and tracking its maximum.

Values are compared as numbers, as timestamps or as text. Typed columns (SQL, Parquet, JSON
numbers) keep their type; text columns are numbers when ``since`` (or, on a first read, every
value) is a number, ISO-8601 timestamps when it is one, text otherwise. Timestamps read from
text or objects compare in UTC (naive ones taken as UTC); typed timestamp columns keep their
zone. Rows whose watermark is missing or does not parse are never "newer" than ``since``.
``max_watermark`` is the largest value exactly as the source wrote it.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from tasks.sources.frames import as_text

Kind = Literal["number", "timestamp", "text"]


def _number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _timestamp(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    return pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)


def _kind_of_text(text: str) -> Kind:
    if not _number(pd.Series([text])).isna().iloc[0]:
        return "number"
    if not _timestamp(pd.Series([text])).isna().iloc[0]:
        return "timestamp"
    return "text"


def _native_kind(values: pd.Series) -> Kind | None:
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "text"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in ("integer", "floating", "decimal", "mixed-integer-float"):
        return "number"
    if inferred in ("datetime", "datetime64", "date"):
        return "timestamp"
    return None


def _align(stamp: pd.Timestamp, values: pd.Series) -> pd.Timestamp:
    aware = getattr(values.dtype, "tz", None) is not None
    if aware and stamp.tzinfo is None:
        return stamp.tz_localize("UTC")
    if not aware and stamp.tzinfo is not None:
        return stamp.tz_convert("UTC").tz_localize(None)
    return stamp


class Watermark:
    """Filters rows newer than ``since`` and remembers the largest watermark seen."""

    def __init__(self, since: str | None) -> None:
        self.since = since
        self.kind: Kind | None = None
        self._best: object = None
        self.max_text: str | None = None

    def _comparable(self, values: pd.Series) -> pd.Series:
        if self.kind is None:
            native = _native_kind(values)
            if native is not None:
                self.kind = native
            elif self.since is not None:
                self.kind = _kind_of_text(self.since)
            else:
                present = values.dropna()
                if present.empty:
                    return values
                if _number(present).notna().all():
                    self.kind = "number"
                elif _timestamp(present).notna().all():
                    self.kind = "timestamp"
                else:
                    self.kind = "text"
        if self.kind == "number":
            return _number(values)
        if self.kind == "timestamp":
            return _timestamp(values)
        return as_text(values)

    def newer(self, values: pd.Series) -> pd.Series:
        """Boolean mask of the rows whose watermark is greater than ``since`` (all if no since).

        Raises:
            ValueError: ``since`` cannot be read as the column's kind.
        """
        if self.since is None:
            return pd.Series(True, index=values.index)
        comparable = self._comparable(values)
        bound: object = self.since
        if self.kind == "number":
            bound = float(self.since)
        elif self.kind == "timestamp":
            bound = _align(pd.Timestamp(self.since), comparable)
        mask = comparable > bound
        return mask.fillna(False).astype(bool)

    def observe(self, values: pd.Series) -> None:
        """Note the largest watermark among ``values`` (the rows kept)."""
        comparable = self._comparable(values)
        valid = comparable.dropna()
        if valid.empty:
            return
        at = valid.sort_values().index[-1]
        top = comparable.loc[at]
        if self._best is None or top > self._best:
            self._best = top
            self.max_text = as_text(values.loc[[at]]).iloc[0]
