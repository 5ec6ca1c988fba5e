"""Opening a source: one reader that yields lead chunks and reports what it read."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import fsspec
import pandas as pd
import pydantic
import yaml

from schemas.sources import MappingFile, SourceSpec, mask_url
from tasks.sources.errors import SourceError, one_line
from tasks.sources.files import FileSource, check_regular
from tasks.sources.frames import RawChunk
from tasks.sources.limits import TooLargeError
from tasks.sources.shape import Shaper
from tasks.sources.sql import SqlSource
from tasks.sources.watermark import Watermark


class _Raw(Protocol):
    source: str

    def chunks(self) -> Iterator[RawChunk]: ...


def load_mapping_file(location: str) -> MappingFile:
    """Read a YAML mapping file (a path or fsspec URL).

    Raises:
        SourceError: the file is missing or not a valid mapping.
    """
    where = mask_url(location)
    try:
        fs, path = fsspec.core.url_to_fs(location)
        try:
            check_regular(fs, path, where)
        except SourceError as exc:
            detail = "mapping file not found" if exc.detail == "file not found" else f"mapping file is {exc.detail}"
            raise SourceError(where, detail) from None
        with fsspec.open(location, "rt", encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
        return MappingFile.from_document(document)
    except FileNotFoundError:
        raise SourceError(where, "mapping file not found") from None
    except (yaml.YAMLError, ValueError, pydantic.ValidationError) as exc:
        raise SourceError(where, f"invalid mapping file: {one_line(exc)}") from None


class SourceReader:
    """Iterable of lead chunks (each at most ``chunk_size`` rows); read it once.

    After (or during) iteration: ``rows_read`` counts the rows yielded, ``max_watermark`` is
    the largest watermark among them as text (``None`` when no rows or no watermark column),
    ``columns_mapped`` maps lead fields to source columns, ``extras`` lists the source columns
    carried as ``extra.<name>`` fields and ``notes`` says which headers were renamed.
    """

    def __init__(self, spec: SourceSpec, raw: _Raw, *, since: str | None, filter_rows: bool
                 ) -> None:
        self.spec = spec
        self.source = raw.source
        self._raw = raw
        self._since = since
        mapping_file = load_mapping_file(spec.mapping_file) if spec.mapping_file else None
        self._watermark = Watermark(since)
        self._shaper = Shaper(
            source=self.source, mapping=spec.mapping, mapping_file=mapping_file,
            watermark_column=spec.watermark_column, watermark=self._watermark,
            filter_rows=filter_rows and since is not None,
        )
        self._started = False
        self.rows_read = 0
        self.rows_scanned = 0

    @property
    def max_watermark(self) -> str | None:
        """Largest watermark value among the rows read, as text."""
        return self._watermark.max_text

    @property
    def columns_mapped(self) -> dict[str, str]:
        """Lead field -> source column."""
        return dict(self._shaper.plan.mapped) if self._shaper.plan else {}

    @property
    def extras(self) -> list[str]:
        """Source columns carried as custom fields."""
        return list(self._shaper.plan.extras) if self._shaper.plan else []

    @property
    def notes(self) -> list[str]:
        """Header renames and similar remarks about the source."""
        return list(self._shaper.notes)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        if self._started:
            raise RuntimeError("a SourceReader can be iterated only once")
        self._started = True
        try:
            for raw in self._raw.chunks():
                self.rows_scanned += len(raw.frame)
                chunk = self._shaper.shape(raw)
                if len(chunk):
                    self.rows_read += len(chunk)
                    yield chunk
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(self.source, f"cannot read: {type(exc).__name__}") from None
        except TooLargeError as exc:
            raise SourceError(self.source, str(exc)) from None
        if self.rows_scanned == 0 and (self._since is None or not self.spec.is_sql):
            raise SourceError(self.source, "no data rows")


def open_source(spec: SourceSpec, *, since: str | None = None) -> SourceReader:
    """Open ``spec`` for reading in chunks.

    Args:
        spec: where and how to read.
        since: with ``spec.watermark_column``, read only rows whose watermark is greater.

    Returns:
        a :class:`SourceReader`; iterating it yields the chunks.

    Raises:
        SourceError: the source cannot be opened (missing file, unknown format, missing
            database driver); errors found while reading are raised during iteration.
    """
    if spec.is_sql:
        return SourceReader(spec, SqlSource(spec, since=since), since=since, filter_rows=False)
    return SourceReader(spec, FileSource(spec), since=since, filter_rows=True)
