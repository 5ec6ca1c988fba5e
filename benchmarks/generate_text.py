"""Vectorized text for the lead generator: templates over columns, and CSV without pandas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from string import Formatter
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Arr: TypeAlias = np.ndarray[Any, Any]
Field: TypeAlias = Arr | pa.Array


def render(template: str, fields: Mapping[str, Field], rows: Arr | None = None) -> pa.Array:
    """``template`` filled from ``fields`` (integers padded per the spec), for ``rows`` or all."""
    parts: list[Any] = []
    n = len(rows) if rows is not None else len(next(iter(fields.values())))
    for literal, name, spec, _ in Formatter().parse(template):
        parts += [literal] if literal else []
        if name:
            value = fields[name]
            if isinstance(value, np.ndarray):
                parts.append(text(value if rows is None else value[rows], int(spec or 0)))
            else:
                parts.append(value if rows is None else value.take(rows))
    if not any(isinstance(p, pa.Array) for p in parts):
        return pa.repeat(pa.scalar("".join(parts), pa.string()), n)
    return pc.binary_join_element_wise(*parts, "")


def render_choice(templates: Sequence[str], choice: Arr, fields: Mapping[str, Field]) -> pa.Array:
    """Row i rendered with ``templates[choice[i]]``; rows with choice -1 are empty."""
    order = np.argsort(choice, kind="stable")
    ends = np.cumsum(np.bincount(choice + 1, minlength=len(templates) + 1))
    pieces = [pa.repeat(pa.scalar("", pa.string()), int(ends[0]))]
    pieces += [render(template, fields, order[ends[k]:ends[k + 1]])
               for k, template in enumerate(templates)]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return pa.concat_arrays(pieces).take(inverse)


def text(values: Arr, width: int = 0) -> pa.Array:
    """Integers as strings, zero-padded to ``width`` when given."""
    out = pc.cast(pa.array(values), pa.string())
    return pc.utf8_lpad(out, width, padding="0") if width else out


def where(cond: Arr, yes: Any, no: Any) -> pa.Array:
    """``yes`` where ``cond`` holds, else ``no`` (arrays or scalars)."""
    return pc.if_else(pa.array(cond), yes, no)


def table_of(columns: Mapping[str, pa.Array]) -> pa.Table:
    """A table of ``columns`` in their order, with empty strings as nulls."""
    null = pa.scalar(None, pa.string())
    return pa.table({name: pc.if_else(pc.equal(values, ""), null, values)
                     for name, values in columns.items()})


def csv_text(table: pa.Table) -> str:
    """Rows of ``table`` as CSV text: minimal quoting, nulls empty, ``\\n`` line ends."""
    cells = []
    for column in table.columns:
        cell = pc.fill_null(column, "").combine_chunks()
        special = _special_rows(cell)
        if special.any():
            quoted = pc.replace_substring(cell.filter(special), '"', '""')
            quoted = pc.binary_join_element_wise('"', quoted, '"', "")
            cell = pc.replace_with_mask(cell, pa.array(special), quoted)
        cells.append(cell)
    lines = pc.binary_join_element_wise(*cells, ",")
    return "".join(f"{line}\n" for line in lines.to_pylist())


def _special_rows(cell: pa.Array) -> Arr:
    """Rows whose UTF-8 bytes hold a comma, a double quote or a line break."""
    _, offsets, data = cell.buffers()
    bounds = np.frombuffer(offsets, np.int32)[cell.offset:cell.offset + len(cell) + 1]
    raw = np.frombuffer(data, np.uint8)[bounds[0]:bounds[-1]] if data else np.zeros(0, np.uint8)
    hits = np.flatnonzero(np.isin(raw, np.frombuffer(b',"\r\n', np.uint8))) + bounds[0]
    special = np.zeros(len(cell), bool)
    special[np.searchsorted(bounds, hits, side="right") - 1] = True
    return special
