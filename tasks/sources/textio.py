"""Text files: guessing the encoding and the delimiter, and decoding with byte offsets."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from typing import BinaryIO

SAMPLE_BYTES = 1 << 16
_BLOCK_BYTES = 1 << 20
_DELIMITERS = ",;\t|"
UTF8 = ("utf-8", "utf-8-sig")


class UndecodableBytesError(Exception):
    """Bytes at ``offset`` (from the start of the decompressed file) are not ``encoding``."""

    def __init__(self, encoding: str, offset: int) -> None:
        self.encoding = encoding
        self.offset = offset
        super().__init__(f"not valid {encoding} at byte offset {offset}")


def resolve_encoding(given: str | None, sample: bytes) -> str:
    """The codec to read with: ``given`` (a BOM still wins for UTF-8), or detected from a sample.

    Detection: UTF-8 BOM -> ``utf-8-sig``; UTF-16 BOM -> ``utf-16``; a sample that decodes as
    UTF-8 -> ``utf-8``; anything else -> ``cp1252``.

    Raises:
        LookupError: ``given`` is not a known codec.
    """
    if given is not None:
        name = codecs.lookup(given).name
        if name in UTF8:
            return "utf-8-sig" if sample.startswith(codecs.BOM_UTF8) else name
        return name
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode_sample(sample: bytes, encoding: str) -> str:
    """The sample as text, cut at its last complete line."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    cut = text.rfind("\n")
    return text if cut < 0 else text[: cut + 1]


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample, among ``, ; TAB |``; a comma when nothing fits."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def decoded_blocks(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """Text of ``stream`` in blocks of about a megabyte, decoded strictly.

    The text before a bad byte is yielded first, then :class:`UndecodableBytesError` is raised.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    while True:
        block = stream.read(_BLOCK_BYTES)
        final = not block
        buffered = len(decoder.getstate()[0])
        try:
            text = decoder.decode(block, final=final)
        except UnicodeDecodeError as exc:
            good = exc.object[: exc.start]
            if good:
                yield codecs.decode(good, encoding)
            raise UndecodableBytesError(encoding, offset - buffered + exc.start) from None
        offset += len(block)
        if text:
            yield text
        if final:
            return


def decoded_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """Lines of ``stream`` (ending in ``\\n`` except perhaps the last), decoded strictly.

    Lines before a bad byte are all yielded first, then :class:`UndecodableBytesError` is raised.
    """
    pending = ""
    for text in decoded_blocks(stream, encoding):
        pending += text
        if "\n" in pending:
            lines = pending.split("\n")
            pending = lines[-1]
            for line in lines[:-1]:
                yield line + "\n"
    if pending:
        yield pending
