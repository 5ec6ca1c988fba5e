"""JSON arrays of objects and JSON Lines, streamed object by object.

The columns are every key seen in the file, in order of first appearance (a first pass
collects them, so an optional key that first shows up late is still a column). Nested values
become JSON text. Blank lines in JSON Lines are skipped without a row number.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pandas as pd

from tasks.sources.csvfile import Opener
from tasks.sources.errors import SourceError
from tasks.sources.frames import RawChunk
from tasks.sources.textio import UndecodableBytesError, decoded_blocks, decoded_lines

Records = Callable[[BinaryIO], Iterator[dict[str, object]]]
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"
#: Largest single JSON object read from an array before giving up on it.
MAX_OBJECT_CHARS = 16 << 20


class _BadJsonError(Exception):
    """A record that is not a JSON object, or text that is not JSON."""


def _object(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _BadJsonError(f"expected a JSON object, found {type(value).__name__}")
    return value


def _lines_records(encoding: str) -> Records:
    def records(stream: BinaryIO) -> Iterator[dict[str, object]]:
        for line in decoded_lines(stream, encoding):
            if line.strip():
                try:
                    yield _object(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise _BadJsonError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None

    return records


def _array_records(encoding: str) -> Records:
    def records(stream: BinaryIO) -> Iterator[dict[str, object]]:
        blocks = decoded_blocks(stream, encoding)
        buf, pos = "", 0

        def more() -> bool:
            nonlocal buf, pos
            text = next(blocks, None)
            if text is None:
                return False
            if len(buf) - pos > MAX_OBJECT_CHARS:
                raise _BadJsonError(f"invalid JSON or an object over {MAX_OBJECT_CHARS} characters")
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
            try:
                value, pos = _DECODER.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if more():
                    continue
                raise _BadJsonError(f"invalid JSON ({exc.msg})") from None
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
        SourceError: invalid JSON or an element that is not an object, with its row.
    """
    codec = encoding or "utf-8-sig"
    records = (_lines_records if lines else _array_records)(codec)
    keys: dict[str, None] = {}
    try:
        for _, record in _numbered(opener, records, source):
            keys.update(dict.fromkeys(record))
    except SourceError:
        pass
    header = list(keys)
    batch: list[list[object]] = []
    first = 1
    for _, record in _numbered(opener, records, source):
        batch.append([record.get(k) for k in header])
        if len(batch) == chunk_size:
            yield _chunk(header, batch, first)
            first += len(batch)
            batch = []
    if batch:
        yield _chunk(header, batch, first)


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
        except _BadJsonError as exc:
            raise SourceError(source, str(exc), row=row + 1) from None
        except UndecodableBytesError as exc:
            raise SourceError(
                source, f"cannot decode as {exc.encoding} at byte offset {exc.offset}", row=row + 1
            ) from None


def _chunk(header: list[str], batch: list[list[object]], first: int) -> RawChunk:
    frame = pd.DataFrame(batch, columns=range(len(header)), dtype=object)
    return RawChunk.numbered(header, frame, first)
