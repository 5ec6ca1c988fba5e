"""From raw chunks to lead chunks: header clean-up, mapping, watermark filter, text columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas import columns as c
from schemas.columns import extra as extra_name
from schemas.outcomes import Outcome
from schemas.sources import MappingFile
from tasks.sources.errors import SourceError
from tasks.sources.frames import RawChunk, as_text
from tasks.sources.mapping import ColumnPlan, dedupe_headers, plan_columns
from tasks.sources.watermark import Watermark

_LISTED = 30
_NUL = "\x00"
#: Dtype of the outcome and reason of rows a source already found invalid.
_STRING = pd.StringDtype("pyarrow")


def _available(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


class Shaper:
    """Turns each raw chunk into a lead chunk with the same columns as the first one."""

    def __init__(
        self,
        *,
        source: str,
        mapping: dict[str, str] | None,
        mapping_file: MappingFile | None,
        watermark_column: str | None,
        watermark: Watermark,
        filter_rows: bool,
    ) -> None:
        self.source = source
        self.mapping = mapping
        self.mapping_file = mapping_file
        self.watermark_column = watermark_column
        self.watermark = watermark
        self.filter_rows = filter_rows
        self.names: list[str] | None = None
        self.plan: ColumnPlan | None = None
        self.notes: list[str] = []

    def _prepare(self, header: list[str]) -> ColumnPlan:
        names, self.notes = dedupe_headers(header)
        plan = plan_columns(names, self.mapping, self.mapping_file)
        for field, column in plan.missing.items():
            role = "custom field" if field.startswith(c.EXTRA_PREFIX) else f"lead field {field}"
            raise SourceError(
                self.source,
                f"mapped column ({role}) not found; available: {_available(names)}",
                column=column,
            )
        if c.PHONE not in plan.mapped:
            raise SourceError(
                self.source,
                "no phone column (a header such as Phone, Mobile, Cell or Telephone, or a mapping file "
                f"naming one); columns: {_available(names)}",
            )
        wm = self.watermark_column
        if wm is not None and wm not in names:
            # Warehouses fold unquoted names (Snowflake answers UPDATED_AT for updated_at): one header
            # equal but for case is the column.
            same = [n for n in names if n.casefold() == wm.casefold()]
            self.watermark_column = wm = same[0] if len(same) == 1 else wm
        if wm is not None and wm not in names:
            raise SourceError(
                self.source,
                f"watermark column not found; available: {_available(names)}",
                column=wm,
            )
        self.names = names
        self.plan = plan
        return plan

    def shape(self, raw: RawChunk) -> pd.DataFrame:
        """The lead chunk of ``raw``: ``row``, mapped lead fields, ``extra.<column>`` fields.

        Raises:
            SourceError: a mapped or watermark column is missing, or ``since`` does not fit.
        """
        plan = self.plan or self._prepare(raw.header)
        frame = raw.frame
        names = self.names or []
        frame.columns = pd.Index(names)
        rows = raw.rows
        used = {*plan.mapped.values(), *plan.extras}
        flaws = np.full(len(frame), None, dtype=object)
        for at, col, what in raw.flaws:
            if names[col] in used:
                flaws[at] = _join(flaws[at], f"column {names[col]!r}: {what}")
        wm = self.watermark_column
        if wm is not None:
            if self.filter_rows:
                try:
                    keep = self.watermark.newer(frame[wm]).to_numpy()
                except ValueError as exc:
                    raise SourceError(
                        self.source, f"since value does not fit the column: {exc}", column=wm
                    ) from None
                frame, rows, flaws = frame.loc[keep].reset_index(drop=True), rows[keep], flaws[keep]
            self.watermark.observe(frame[wm])
        out: dict[str, pd.Series] = {c.ROW: pd.Series(rows, dtype="int64")}
        columns = [*plan.mapped.items(), *((extra_name(col), col) for col in plan.extras)]
        for field, column in columns:
            text = as_text(frame[column])
            nul = _nul_rows(text)
            if nul is not None and nul.any():
                text = text.str.replace(_NUL, "\ufffd", regex=False)
                for pos in np.flatnonzero(nul).tolist():
                    flaws[pos] = _join(flaws[pos], f"column {column!r}: a NUL byte (shown as U+FFFD)")
            out[field] = text
        chunk = pd.DataFrame(out)
        bad = pd.notna(flaws)
        if bad.any():
            reasons = [None if flaw is None else f"row {row}, {flaw}" for row, flaw in zip(rows, flaws, strict=True)]
            chunk[c.OUTCOME] = pd.array([Outcome.INVALID if b else None for b in bad], dtype=_STRING)
            chunk[c.REASON] = pd.array(reasons, dtype=_STRING)
        return chunk


def _nul_rows(text: pd.Series) -> np.ndarray | None:
    """Which values hold a NUL byte; ``None`` (the common case, one byte search per column) when none does."""
    arr = pa.array(text.array)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if not any(ch.buffers()[2] is not None and ch.buffers()[2].to_pybytes().find(b"\x00") >= 0 for ch in chunks):
        return None
    found = pc.fill_null(pc.match_substring(arr, _NUL), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _join(before: str | None, more: str) -> str:
    return more if before is None else f"{before}; {more}"
