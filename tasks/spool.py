"""The run's spool: chunks kept as Arrow IPC (Feather, LZ4) files between stages, so memory stays bounded."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

#: LZ4 Arrow IPC writes 2-5x and reads 2x faster than snappy Parquet, at the size of uncompressed Parquet.
COMPRESSION = "lz4"


class Spool:
    """A folder of numbered chunks (Arrow IPC files), removed when the run ends."""

    def __init__(self, root: str | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="leadflow-spool-", dir=root))

    def write(self, name: str, frame: pd.DataFrame) -> str:
        """Store a chunk; returns its path."""
        target = self.path / f"{name}.arrow"
        feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), target, compression=COMPRESSION)
        return str(target)

    @staticmethod
    def read(path: str) -> pd.DataFrame:
        """Load a stored chunk."""
        return pd.read_feather(path)

    def cleanup(self) -> None:
        """Remove the spool."""
        shutil.rmtree(self.path, ignore_errors=True)
