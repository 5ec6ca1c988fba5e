"""Files: local paths and fsspec URLs, plain, gzip or single-member zip, of every format.

Local paths and ``file://`` URLs work out of the box. ``s3://bucket/leads.csv`` needs the
``s3fs`` package and ``gs://bucket/leads.csv`` needs ``gcsfs`` (credentials as those libraries
find them: environment, instance roles, config files). The format comes from the name
(``.csv .txt .tsv .tab .xlsx .xlsm .parquet .pq .json .jsonl .ndjson``, optionally followed by
``.gz``; a ``.zip`` holding one file uses that file's name) unless ``format`` says otherwise.
"""

from __future__ import annotations

import gzip
import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import BinaryIO, cast

import fsspec

from schemas.sources import SourceSpec
from tasks.sources.binary import read_excel, read_parquet
from tasks.sources.csvfile import Opener, read_delimited
from tasks.sources.errors import SourceError
from tasks.sources.frames import RawChunk
from tasks.sources.jsonfile import read_json
from tasks.sources.limits import Unpacked

EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "excel",
    ".xlsm": "excel", ".parquet": "parquet", ".pq": "parquet", ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
}
_REMOTE_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
                    "abfs": "adlfs"}


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_regular(fs: fsspec.AbstractFileSystem, path: str, source: str) -> None:
    """Refuse a local path that is not a regular file (a FIFO would block, ``/dev/zero`` never ends).

    Raises:
        SourceError: the path is missing, or a folder, pipe, device or socket.
    """
    if "file" not in fs.protocol:
        if not fs.exists(path):
            raise SourceError(source, "file not found")
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SourceError(source, "file not found") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise SourceError(source, f"not a regular file ({kind})")


def _suffix(name: str) -> str:
    return PurePosixPath(name.split("?", 1)[0]).suffix.lower()


def _stem(name: str) -> str:
    path = name.split("?", 1)[0]
    return path[: -len(_suffix(path))] if _suffix(path) else path


class FileSource:
    """One file source: checks that it exists and knows how to open and decode it."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.source = spec.describe()
        self.compression = {".gz": "gzip", ".zip": "zip"}.get(_suffix(spec.location))
        self.member: str | None = None
        self.size: int | None = None  #: packed bytes, for the compression-ratio bound
        self._check_exists()
        self.format = self._format()

    def _check_exists(self) -> None:
        try:
            fs, path = fsspec.core.url_to_fs(self.spec.location)
            check_regular(fs, path, self.source)
            self.size = fs.size(path)
        except ImportError:
            protocol = self.spec.location.split("://", 1)[0]
            package = _REMOTE_PACKAGES.get(protocol, f"the fsspec driver for {protocol}://")
            raise SourceError(self.source, f"reading {protocol}:// needs {package} installed"
                              ) from None
        except (ValueError, OSError) as exc:
            raise SourceError(self.source, f"cannot open: {type(exc).__name__}") from None
        if self.compression == "zip":
            self.member = self._zip_member()

    def _zip_member(self) -> str:
        try:
            with fsspec.open(self.spec.location, "rb") as raw, zipfile.ZipFile(raw) as archive:
                members = [i for i in archive.infolist() if not i.is_dir()]
        except zipfile.BadZipFile:
            raise SourceError(self.source, "not a valid zip file") from None
        if len(members) != 1:
            raise SourceError(
                self.source, f"a .zip source must hold exactly one file, found {len(members)}"
            )
        self.size = members[0].compress_size
        return members[0].filename

    def _format(self) -> str:
        if self.spec.format != "auto":
            return self.spec.format
        name = self.member if self.member is not None else self.spec.location
        if self.compression == "gzip":
            name = _stem(name)
        found = EXTENSIONS.get(_suffix(name))
        if found is None:
            raise SourceError(
                self.source,
                f"unknown format {_suffix(name) or '(no extension)'!r}; set format to one of "
                "csv, tsv, excel, parquet, json, jsonl",
            )
        return found

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """A fresh binary stream of the (decompressed) file."""
        with fsspec.open(self.spec.location, "rb") as raw:
            if self.compression == "gzip":
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    yield cast(BinaryIO, Unpacked(cast(BinaryIO, unzipped), self.size))
            elif self.member is not None:
                with zipfile.ZipFile(raw) as archive, archive.open(self.member) as inner:
                    yield cast(BinaryIO, Unpacked(cast(BinaryIO, inner), self.size))
            else:
                yield cast(BinaryIO, raw)

    def chunks(self) -> Iterator[RawChunk]:
        """Raw chunks of at most ``chunk_size`` rows, in file order."""
        opener: Opener = self.open
        spec = self.spec
        if self.format in ("csv", "tsv"):
            delimiter = spec.delimiter or ("\t" if self.format == "tsv" else None)
            yield from read_delimited(
                opener, source=self.source, delimiter=delimiter, encoding=spec.encoding,
                chunk_size=spec.chunk_size,
            )
        elif self.format == "excel":
            yield from read_excel(opener, source=self.source, sheet=spec.sheet,
                                  chunk_size=spec.chunk_size)
        elif self.format == "parquet":
            yield from read_parquet(opener, source=self.source, chunk_size=spec.chunk_size)
        else:
            yield from read_json(opener, source=self.source, lines=self.format == "jsonl",
                                 encoding=spec.encoding, chunk_size=spec.chunk_size)
