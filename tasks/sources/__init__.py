"""Sources: files, SQL databases and warehouses, read in chunks."""

from __future__ import annotations

from tasks.sources.errors import SourceError
from tasks.sources.mapping import auto_mapping
from tasks.sources.reader import SourceReader, load_mapping_file, open_source

__all__ = ["SourceError", "SourceReader", "auto_mapping", "load_mapping_file", "open_source"]
