"""JSON arrays of objects and JSON Lines, streamed object by object.

The columns are every key seen in the file, in order of first appearance (a first pass
collects them, so an optional key that first shows up late is still a column). Nested values
become JSON text. Blank lines in JSON Lines are skipped without a row number. Bytes that are
not UTF-8 inside a value flag that row (U+FFFD in their place); JSON nested deeper than
Python's parser allows (about 1,000 levels) is refused.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pandas as pd

from tasks.sources.csvfile import Opener
from tasks.sources.errors import SourceError
from tasks.sources.frames import RawChunk
from tasks.sources.limits import TooLargeError, limit
from tasks.sources.textio import (
    SAMPLE_BYTES,
    clean_bad_bytes,
    decoded_blocks,
    decoded_lines,
    has_bad_bytes,
    sniff_binary,
)

Records = Callable[[BinaryIO], Iterator[dict[str, object]]]
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"
_RAISE_RECORD = "LEADFLOW_MAX_RECORD_CHARS raises the bound"
_TOO_DEEP = "JSON nested deeper than the parser allows (about 1,000 levels)"


class _BadJsonError(Exception):
    """A record that is not a JSON object, or text that is not JSON."""


def _object(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _BadJsonError(f"expected a JSON object, found {type(value).__name__}")
    if not all(map(str.isascii, value)):
        return {clean_bad_bytes(k): v for k, v in value.items()}
    return value


def _flaw(value: object) -> bool:
    """Whether a value holds bytes that were not UTF-8 (nested values included)."""
    if isinstance(value, str):
        return has_bad_bytes(value)
    if isinstance(value, dict | list):
        return has_bad_bytes(json.dumps(value, ensure_ascii=False))
    return False


def _cleaned(value: object) -> object:
    if isinstance(value, str):
        return clean_bad_bytes(value)
    return clean_bad_bytes(json.dumps(value, ensure_ascii=False))


def _lines_records(encoding: str) -> Records:
    def records(stream: BinaryIO) -> Iterator[dict[str, object]]:
        for line in decoded_lines(stream, encoding):
            if line.strip():
                try:
                    yield _object(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise _BadJsonError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
                except RecursionError:
                    raise _BadJsonError(_TOO_DEEP) from None

    return records


def _array_records(encoding: str) -> Records:
    def records(stream: BinaryIO) -> Iterator[dict[str, object]]:
        blocks = decoded_blocks(stream, encoding)
        buf, pos = "", 0
        longest = limit("LEADFLOW_MAX_RECORD_CHARS")

        def more() -> bool:
            nonlocal buf, pos
            text = next(blocks, None)
            if text is None:
                return False
            if len(buf) - pos > longest:
                raise _BadJsonError(f"invalid JSON or an object over {longest:,} characters; {_RAISE_RECORD}")
            buf, pos = buf[pos:] + text, 0
            return True

        def token() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in _SPACE:
                    pos += 1
                if pos < len(buf) or not more():
                    return buf[pos] if pos < len(buf) else ""

        if token() != "[":
            raise _BadJsonError("a .json source must be an array of objects (or use JSON Lines)")
        pos += 1
        if token() == "]":
            return
        while True:
            token()
            start = pos
            try:
                value, pos = _DECODER.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if more():
                    continue
                raise _BadJsonError(f"invalid JSON ({exc.msg})") from None
            except RecursionError:
                raise _BadJsonError(_TOO_DEEP) from None
            if pos - start > longest:
                raise _BadJsonError(f"an object over {longest:,} characters; {_RAISE_RECORD}")
            yield _object(value)
            after = token()
            pos += 1
            if after == "]":
                return
            if after != ",":
                raise _BadJsonError("invalid JSON (expected ',' or ']' after an object)")

    return records


def read_json(
    opener: Opener, *, source: str, lines: bool, encoding: str | None, chunk_size: int
) -> Iterator[RawChunk]:
    """Stream a JSON array (``lines=False``) or JSON Lines file as raw chunks.

    Raises:
        SourceError: invalid JSON or an element that is not an object, with its row; binary
            data; an object or line over its bound.
    """
    codec = encoding or "utf-8-sig"
    if encoding is None:
        with opener() as stream:
            sample = stream.read(SAMPLE_BYTES)
        if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            codec = "utf-16"
        elif why := sniff_binary(sample):
            raise SourceError(source, why)
    records = (_lines_records if lines else _array_records)(codec)
    keys: dict[str, None] = {}
    try:
        for _, record in _numbered(opener, records, source):
            keys.update(dict.fromkeys(record))
    except SourceError:
        pass
    header = list(keys)
    batch: list[list[object]] = []
    flaws: list[tuple[int, int, str]] = []
    first = 1
    for _, record in _numbered(opener, records, source):
        values = [record.get(k) for k in header]
        for col, value in enumerate(values):
            if _flaw(value):
                flaws.append((len(batch), col, f"bytes that are not valid {codec} (set the source encoding)"))
                values[col] = _cleaned(value)
        batch.append(values)
        if len(batch) == chunk_size:
            yield _chunk(header, batch, first, flaws)
            first += len(batch)
            batch, flaws = [], []
    if batch:
        yield _chunk(header, batch, first, flaws)


def _numbered(
    opener: Opener,
    records: Records,
    source: str,
) -> Iterator[tuple[int, dict[str, object]]]:
    row = 0
    with opener() as stream:
        try:
            for row, record in enumerate(records(stream), start=1):
                yield row, record
        except (_BadJsonError, TooLargeError) as exc:
            raise SourceError(source, str(exc), row=row + 1) from None


def _chunk(header: list[str], batch: list[list[object]], first: int, flaws: list[tuple[int, int, str]]) -> RawChunk:
    frame = pd.DataFrame(batch, columns=range(len(header)), dtype=object)
    return RawChunk.numbered(header, frame, first, tuple(flaws))
