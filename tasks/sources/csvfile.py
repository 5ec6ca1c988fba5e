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
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tasks.sources.errors import SourceError
from tasks.sources.frames import TEXT, RawChunk, arrow_frame, rebatch
from tasks.sources.limits import TooLargeError, limit
from tasks.sources.textio import (
    SAMPLE_BYTES,
    UTF8,
    clean_bad_bytes,
    decode_sample,
    decoded_lines,
    has_bad_bytes,
    resolve_encoding,
    sniff_binary,
    sniff_delimiter,
    utf8_in_western,
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

    Bytes the codec cannot decode, and UTF-8 text in a file read as cp1252, are not read as
    something else: the value keeps U+FFFD in their place and the row is flagged (``flaws``).

    Raises:
        SourceError: unknown encoding, binary data, a row with the wrong number of fields, a
            field or line over its bound.
    """
    with opener() as stream:
        sample = stream.read(SAMPLE_BYTES)
    try:
        codec = resolve_encoding(encoding, sample)
    except LookupError:
        raise SourceError(source, f"unknown encoding {encoding!r}") from None
    why = sniff_binary(sample) if encoding is None and codec in ("utf-8", "cp1252") else None
    if why:
        raise SourceError(source, why)
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
            pass  # the careful path reads on from the rows already produced, and says what is wrong
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
        widest = limit("LEADFLOW_MAX_FIELD_CHARS")
        for table in rebatch(reader, chunk_size):
            if any((pc.max(pc.binary_length(col)).as_py() or 0) > widest for col in table.columns):
                raise pa.ArrowInvalid("a field may be over the bound (in bytes; the careful path counts characters)")
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
    csv.field_size_limit(limit("LEADFLOW_MAX_FIELD_CHARS"))
    with opener() as stream:
        lines = decoded_lines(stream, codec)
        records = csv.reader(lines, delimiter=sep, strict=True)
        row = 0
        header: list[str] | None = None
        batch: list[list[str]] = []
        flaws: list[tuple[int, int, str]] = []
        try:
            for record in records:
                if not record:
                    continue
                if header is None:
                    header = [clean_bad_bytes(name) for name in record]
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
                if not all(map(str.isascii, record)):
                    record = _checked(record, codec, len(batch), flaws)
                batch.append(record)
                if len(batch) == chunk_size:
                    yield _chunk(header, batch, row - len(batch) + 1, flaws)
                    batch, flaws = [], []
        except TooLargeError as exc:
            raise SourceError(source, str(exc), row=row + 1) from None
        except csv.Error as exc:
            bound = "; LEADFLOW_MAX_FIELD_CHARS raises the bound" if "field limit" in str(exc) else ""
            raise SourceError(
                source, f"malformed CSV ({exc}) at line {records.line_num}{bound}", row=row + 1
            ) from None
    if header is not None and batch:
        yield _chunk(header, batch, row - len(batch) + 1, flaws)


def _checked(record: list[str], codec: str, at: int, flaws: list[tuple[int, int, str]]) -> list[str]:
    """``record`` with undecodable bytes replaced by U+FFFD; each changed or mojibake field noted."""
    out = []
    for col, value in enumerate(record):
        if has_bad_bytes(value):
            flaws.append((at, col, f"bytes that are not valid {codec} (set the source encoding)"))
            value = clean_bad_bytes(value)
        elif utf8_in_western(value, codec):
            flaws.append((at, col, f"UTF-8 text in a file read as {codec} (mixed encodings)"))
        out.append(value)
    return out


def _chunk(header: list[str], batch: list[list[str]], first: int, flaws: list[tuple[int, int, str]]) -> RawChunk:
    frame = pd.DataFrame(batch, dtype=TEXT)
    return RawChunk.numbered(header, frame, first, tuple(flaws))
