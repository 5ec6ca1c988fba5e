"""Bounds on what a source may make the reader hold, each raised by an environment variable.

======================================  ==========  ================================================
variable                                default     what it bounds
======================================  ==========  ================================================
``LEADFLOW_MAX_FIELD_CHARS``            1048576     characters in one field of a CSV/TSV file
``LEADFLOW_MAX_RECORD_CHARS``           16777216    characters in one line of text, one JSON object
``LEADFLOW_MAX_DECOMPRESSED_BYTES``     17179869184 bytes a ``.gz`` or ``.zip`` source unpacks to
``LEADFLOW_MAX_COMPRESSION_RATIO``      200         unpacked / packed size, once past 64 MiB
======================================  ==========  ================================================

A source over a bound is refused with one error naming the variable to raise. JSON nested deeper
than Python's parser allows (about 1,000 levels) is refused too; that bound cannot be raised.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from tasks.sources.errors import SourceError

#: Unpacked bytes always allowed, whatever the compression ratio.
RATIO_FREE_BYTES = 64 << 20
_DEFAULTS = {
    "LEADFLOW_MAX_FIELD_CHARS": 1 << 20,
    "LEADFLOW_MAX_RECORD_CHARS": 16 << 20,
    "LEADFLOW_MAX_DECOMPRESSED_BYTES": 16 << 30,
    "LEADFLOW_MAX_COMPRESSION_RATIO": 200,
}


def limit(name: str) -> int:
    """The bound ``name`` (one of the variables above): the environment's value, else the default.

    Raises:
        SourceError: the variable is set to something else than a positive whole number.
    """
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return _DEFAULTS[name]
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SourceError(name, f"must be a positive whole number, not {raw!r}")
    return value


class TooLargeError(Exception):
    """A bound was passed; the message says which and how to raise it."""


class Unpacked:
    """A decompressing stream that stops once it has produced more than the bounds allow."""

    def __init__(self, stream: BinaryIO, packed_size: int | None) -> None:
        self._stream = stream
        self._produced = 0
        cap = limit("LEADFLOW_MAX_DECOMPRESSED_BYTES")
        ratio = limit("LEADFLOW_MAX_COMPRESSION_RATIO")
        self._cap, self._cap_name = cap, "LEADFLOW_MAX_DECOMPRESSED_BYTES"
        if packed_size is not None and max(RATIO_FREE_BYTES, packed_size * ratio) < cap:
            self._cap, self._cap_name = max(RATIO_FREE_BYTES, packed_size * ratio), "LEADFLOW_MAX_COMPRESSION_RATIO"

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._produced += len(data)
        if self._produced > self._cap:
            raise TooLargeError(f"unpacks to more than {self._cap:,} bytes (a compression bomb?); "
                                f"{self._cap_name} raises the bound")
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._stream.seekable())

    def close(self) -> None:
        self._stream.close()

    @property
    def closed(self) -> bool:
        return bool(self._stream.closed)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
