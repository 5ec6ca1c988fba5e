"""The run's spool: chunks kept as Parquet files between stages, so memory stays bounded."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd


class Spool:
    """A folder of numbered Parquet chunks, removed when the run ends."""

    def __init__(self, root: str | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="leadflow-spool-", dir=root))

    def write(self, name: str, frame: pd.DataFrame) -> str:
        """Store a chunk; returns its path."""
        target = self.path / f"{name}.parquet"
        frame.to_parquet(target, index=False)
        return str(target)

    @staticmethod
    def read(path: str) -> pd.DataFrame:
        """Load a stored chunk."""
        return pd.read_parquet(path)

    def cleanup(self) -> None:
        """Remove the spool."""
        shutil.rmtree(self.path, ignore_errors=True)
