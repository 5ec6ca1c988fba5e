"""Excel workbooks (openpyxl, read-only) and Parquet files (pyarrow, batch by batch)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from tasks.sources.csvfile import Opener
from tasks.sources.errors import SourceError
from tasks.sources.frames import RawChunk, arrow_frame, rebatch, text_value


def _worksheet(book: Any, sheet: str | int | None, source: str) -> Any:
    names = list(book.sheetnames)
    if not names:
        raise SourceError(source, "the workbook has no sheets")
    if sheet is None:
        return book.worksheets[0]
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        return book.worksheets[sheet]
    if isinstance(sheet, str) and sheet in names:
        return book[sheet]
    raise SourceError(source, f"no sheet {sheet!r}; the workbook has {', '.join(map(repr, names))}")


def read_excel(
    opener: Opener, *, source: str, sheet: str | int | None, chunk_size: int
) -> Iterator[RawChunk]:
    """Stream one sheet of an ``.xlsx`` workbook; the first non-empty row is the header.

    Data rows are numbered from the row under the header, so ``row`` N is sheet row
    header + N; blank rows are skipped but keep their numbers. Cells keep their values
    (numbers, dates), the text comes later.

    Raises:
        SourceError: not a workbook, no such sheet, a value right of the last header.
    """
    with opener() as stream:
        try:
            book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError):
            raise SourceError(source, "not a valid .xlsx workbook") from None
        try:
            yield from _sheet_chunks(_worksheet(book, sheet, source), source, chunk_size)
        finally:
            book.close()


def _sheet_chunks(ws: Any, source: str, chunk_size: int) -> Iterator[RawChunk]:
    cells = ws.iter_rows(values_only=True)
    header: list[str] | None = None
    width = 0
    row = 0
    batch: list[tuple[object, ...]] = []
    numbers: list[int] = []
    for values in cells:
        if header is None:
            filled = [i for i, v in enumerate(values) if v is not None]
            if filled:
                width = filled[-1] + 1
                header = [text_value(v) or "" for v in values[:width]]
            continue
        row += 1
        if all(v is None for v in values):
            continue
        beyond = [i for i, v in enumerate(values[width:], start=width) if v is not None]
        if beyond:
            letter = get_column_letter(beyond[0] + 1)
            raise SourceError(source, f"value in column {letter}, right of the last header",
                              row=row)
        batch.append(tuple(values[:width]) + (None,) * (width - len(values)))
        numbers.append(row)
        if len(batch) == chunk_size:
            yield _chunk(header, batch, numbers)
            batch, numbers = [], []
    if header is not None and batch:
        yield _chunk(header, batch, numbers)


def _chunk(header: list[str], batch: list[tuple[object, ...]], numbers: list[int]) -> RawChunk:
    frame = pd.DataFrame(batch, columns=range(len(header)), dtype=object)
    return RawChunk(header, frame, np.asarray(numbers, dtype=np.int64))


def read_parquet(opener: Opener, *, source: str, chunk_size: int) -> Iterator[RawChunk]:
    """Stream a Parquet file batch by batch, keeping column types until the text step.

    Raises:
        SourceError: not a Parquet file.
    """
    with opener() as stream:
        try:
            parquet = pq.ParquetFile(stream)
        except (pa.ArrowInvalid, OSError):
            raise SourceError(source, "not a valid Parquet file") from None
        header = list(parquet.schema_arrow.names)
        first = 1
        for table in rebatch(parquet.iter_batches(batch_size=chunk_size), chunk_size):
            yield RawChunk.numbered(header, arrow_frame(table), first)
            first += table.num_rows
