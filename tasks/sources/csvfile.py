"""Delimited text files: pyarrow's streaming CSV reader, with the csv module as the careful path.

UTF-8 files go through ``pyarrow.csv.open_csv`` (every column read as a string, quoted newlines
allowed). Other encodings, and any file pyarrow stops on, are read with the ``csv`` module; when
pyarrow fails mid-file the careful path takes over after the rows already produced, so a bad
line is reported with its data-row number (and, for bad bytes, the byte offset).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from tasks.sources.errors import SourceError
from tasks.sources.frames import TEXT, RawChunk, arrow_frame, rebatch
from tasks.sources.textio import (
    SAMPLE_BYTES,
    UTF8,
    UndecodableBytesError,
    decode_sample,
    decoded_lines,
    resolve_encoding,
    sniff_delimiter,
)

Opener = Callable[[], AbstractContextManager[BinaryIO]]

#: Bytes pyarrow parses at a time; about 10-20k typical lead rows.
BLOCK_BYTES = 4 << 20


def read_delimited(
    opener: Opener,
    *,
    source: str,
    delimiter: str | None,
    encoding: str | None,
    chunk_size: int,
) -> Iterator[RawChunk]:
    """Stream a delimited text file as raw chunks of at most ``chunk_size`` rows.

    Args:
        opener: returns a fresh binary (decompressed) stream of the file each time it is called.
        source: masked description, for errors.
        delimiter: the field separator; ``None`` sniffs it from the first 64 KiB.
        encoding: the codec; ``None`` detects it (see :func:`resolve_encoding`).
        chunk_size: maximum rows per chunk.

    Raises:
        SourceError: unknown encoding, undecodable bytes, a row with the wrong number of fields.
    """
    with opener() as stream:
        sample = stream.read(SAMPLE_BYTES)
    try:
        codec = resolve_encoding(encoding, sample)
    except LookupError:
        raise SourceError(source, f"unknown encoding {encoding!r}") from None
    text = decode_sample(sample, codec)
    sep = delimiter or sniff_delimiter(text)
    header = next(csv.reader(text.splitlines(), delimiter=sep), None)
    done = 0
    if codec in UTF8 and header:
        try:
            for chunk in _fast(opener, header, sep, chunk_size):
                done += len(chunk.frame)
                yield chunk
            return
        except (pa.ArrowInvalid, UnicodeDecodeError):
            pass
    yield from _careful(opener, source=source, sep=sep, codec=codec, chunk_size=chunk_size,
                        skip=done)


def _fast(opener: Opener, header: list[str], sep: str, chunk_size: int) -> Iterator[RawChunk]:
    with opener() as stream:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
            ),
        )
        names = reader.schema.names
        if len(names) != len(header) or not all(
            pa.types.is_string(t) for t in reader.schema.types
        ):
            raise pa.ArrowInvalid("header differs from the sample's")
        first = 1
        held: pa.Table | None = None
        for table in rebatch(reader, chunk_size):
            if held is not None:
                yield RawChunk.numbered(list(names), arrow_frame(held), first)
                first += held.num_rows
            held = table
        if held is not None:
            if _open_quote_at_end(held):
                raise pa.ArrowInvalid("the last field may hold an unterminated quote")
            yield RawChunk.numbered(list(names), arrow_frame(held), first)


def _open_quote_at_end(table: pa.Table) -> bool:
    """Whether the last row ends in a line break, as pyarrow leaves an unclosed final quote."""
    last = table.slice(table.num_rows - 1).to_pylist()[0].values()
    return any(isinstance(v, str) and v.endswith(("\n", "\r")) for v in last)


def _careful(
    opener: Opener, *, source: str, sep: str, codec: str, chunk_size: int, skip: int
) -> Iterator[RawChunk]:
    with opener() as stream:
        records = csv.reader(decoded_lines(stream, codec), delimiter=sep, strict=True)
        row = 0
        header: list[str] | None = None
        batch: list[list[str]] = []
        try:
            for record in records:
                if not record:
                    continue
                if header is None:
                    header = record
                    continue
                row += 1
                if len(record) != len(header):
                    raise SourceError(
                        source,
                        f"expected {len(header)} fields, found {len(record)} "
                        f"(line {records.line_num})",
                        row=row,
                    )
                if row <= skip:
                    continue
                batch.append(record)
                if len(batch) == chunk_size:
                    yield _chunk(header, batch, row - len(batch) + 1)
                    batch = []
        except UndecodableBytesError as exc:
            raise SourceError(
                source,
                f"cannot decode as {exc.encoding} at byte offset {exc.offset} "
                "(set the source encoding)",
                row=row + 1,
            ) from None
        except csv.Error as exc:
            raise SourceError(
                source, f"malformed CSV ({exc}) at line {records.line_num}", row=row + 1
            ) from None
    if header is not None and batch:
        yield _chunk(header, batch, row - len(batch) + 1)


def _chunk(header: list[str], batch: list[list[str]], first: int) -> RawChunk:
    frame = pd.DataFrame(batch, dtype=TEXT)
    return RawChunk.numbered(header, frame, first)
