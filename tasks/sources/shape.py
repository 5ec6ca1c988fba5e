"""From raw chunks to lead chunks: header clean-up, mapping, watermark filter, text columns."""

from __future__ import annotations

import pandas as pd

from schemas import columns as c
from schemas.columns import extra as extra_name
from schemas.sources import MappingFile
from tasks.sources.errors import SourceError
from tasks.sources.frames import RawChunk, as_text
from tasks.sources.mapping import ColumnPlan, dedupe_headers, plan_columns
from tasks.sources.watermark import Watermark

_LISTED = 30


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
        wm = self.watermark_column
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
        frame.columns = pd.Index(self.names or [])
        rows = raw.rows
        wm = self.watermark_column
        if wm is not None:
            if self.filter_rows:
                try:
                    keep = self.watermark.newer(frame[wm]).to_numpy()
                except ValueError as exc:
                    raise SourceError(
                        self.source, f"since value does not fit the column: {exc}", column=wm
                    ) from None
                frame, rows = frame.loc[keep].reset_index(drop=True), rows[keep]
            self.watermark.observe(frame[wm])
        out: dict[str, pd.Series] = {c.ROW: pd.Series(rows, dtype="int64")}
        for field, column in plan.mapped.items():
            out[field] = as_text(frame[column])
        for column in plan.extras:
            out[extra_name(column)] = as_text(frame[column])
        return pd.DataFrame(out)
