"""The one error a source raises: it names the source, the row and the column."""

from __future__ import annotations

import pydantic
import yaml


class SourceError(Exception):
    """A source could not be read; the message names where ("leads.csv, row 12, column 'x'").

    Attributes:
        source: masked description of the source (never a password).
        row: 1-based data row number, when the problem is in one row.
        column: source column name, when the problem is in one column.
        detail: what went wrong.
    """

    def __init__(
        self, source: str, detail: str, *, row: int | None = None, column: str | None = None
    ) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.detail = detail
        where = [source]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {detail}")

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.source, self.detail, self.row, self.column))


def _rebuild(source: str, detail: str, row: int | None, column: str | None) -> SourceError:
    return SourceError(source, detail, row=row, column=column)


def one_line(exc: BaseException) -> str:
    """An error as one line: each pydantic error as ``field: message``, a YAML error with its place."""
    if isinstance(exc, pydantic.ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
