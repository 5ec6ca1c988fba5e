"""Helpers for the source tests: open a spec and read it whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from schemas.sources import SourceSpec
from tasks.sources import SourceReader, open_source


def read_all(location: str | Path, since: str | None = None, **options: Any
             ) -> tuple[SourceReader, list[pd.DataFrame]]:
    """Open a source and collect every chunk."""
    reader = open_source(SourceSpec(location=str(location), **options), since=since)
    return reader, list(reader)


def read_frame(location: str | Path, **options: Any) -> pd.DataFrame:
    """All chunks of a source in one frame."""
    _, chunks = read_all(location, **options)
    return pd.concat(chunks, ignore_index=True)
