"""Text files: guessing the encoding and the delimiter, and decoding with byte offsets."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from typing import BinaryIO

from tasks.sources.limits import TooLargeError, limit

SAMPLE_BYTES = 1 << 16
_BLOCK_BYTES = 1 << 20
_DELIMITERS = ",;\t|"
UTF8 = ("utf-8", "utf-8-sig")
#: Single-byte codecs in which UTF-8 text would read as mojibake ("RenÃ©") instead of failing.
WESTERN = ("cp1252", "latin-1", "iso8859-1", "iso8859-15")
#: Share of control bytes (other than tab, CR, LF, FF) above which a sample is binary, not text.
_BINARY_SHARE = 0.08
_CONTROL = bytes(range(9)) + bytes(range(14, 32))
_BAD_BYTE = re.compile("[\udc80-\udcff]")


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


def sniff_binary(sample: bytes) -> str | None:
    """Why ``sample`` (the first bytes of a file without a BOM) cannot be read as text, if it cannot.

    UTF-16 without a byte-order mark shows as a NUL byte in every other position; other binary
    data as many control bytes.
    """
    pairs = len(sample) // 2
    if pairs >= 2:
        even, odd = sample[0: pairs * 2: 2].count(0), sample[1: pairs * 2: 2].count(0)
        for nuls, other, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
            if nuls >= 0.4 * pairs and other <= 0.05 * pairs:
                return f"looks like UTF-16 without a byte-order mark; set the encoding to {name}"
    if sample and sum(sample.count(b) for b in _CONTROL) > _BINARY_SHARE * len(sample):
        return "binary data, not a text file"
    return None


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
    """Text of ``stream`` in blocks of about a megabyte; each byte the codec cannot decode becomes a
    lone surrogate (U+DC80-U+DCFF) for the reader to find (see :func:`has_bad_bytes`)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="surrogateescape")
    while True:
        block = stream.read(_BLOCK_BYTES)
        text = decoder.decode(block, final=not block)
        if text:
            yield text
        if not block:
            return


def decoded_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """Lines of ``stream`` (ending in ``\\n`` except perhaps the last), decoded as
    :func:`decoded_blocks` does.

    Raises:
        TooLargeError: a line is longer than ``LEADFLOW_MAX_RECORD_CHARS``.
    """
    longest = limit("LEADFLOW_MAX_RECORD_CHARS")
    pending = ""
    for text in decoded_blocks(stream, encoding):
        pending += text
        if "\n" in pending:
            lines = pending.split("\n")
            pending = lines[-1]
            for line in lines[:-1]:
                yield line + "\n"
        if len(pending) > longest:
            raise TooLargeError(f"a line longer than {longest:,} characters; "
                                "LEADFLOW_MAX_RECORD_CHARS raises the bound")
    if pending:
        yield pending


def has_bad_bytes(text: str) -> bool:
    """Whether ``text`` holds bytes the codec could not decode (lone surrogates)."""
    return not text.isascii() and _BAD_BYTE.search(text) is not None


def clean_bad_bytes(text: str) -> str:
    """``text`` with each undecodable byte replaced by U+FFFD."""
    return _BAD_BYTE.sub("\ufffd", text)


def utf8_in_western(text: str, codec: str) -> bool:
    """Whether ``text``, read with a single-byte ``codec``, was really UTF-8 (it would be mojibake)."""
    if text.isascii() or codec not in WESTERN:
        return False
    try:
        return not text.encode(codec, "surrogateescape").decode("utf-8").isascii()
    except UnicodeError:
        return False
