"""The run's spool: chunks kept as Arrow IPC (Feather, LZ4) files between stages, so memory stays bounded."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

#: LZ4 Arrow IPC writes 2-5x and reads 2x faster than snappy Parquet, at the size of uncompressed Parquet.
COMPRESSION = "lz4"
#: A chunk as tasks take it: its spool path, or its Arrow IPC bytes when the task may run on another
#: machine (a Dask worker does not see the flow's temporary folder).
Chunk = str | bytes


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
    def read(chunk: Chunk) -> pd.DataFrame:
        """Load a stored chunk (by its path) or a shipped one (its bytes)."""
        return pd.read_feather(io.BytesIO(chunk) if isinstance(chunk, bytes) else chunk)

    @staticmethod
    def pack(frame: pd.DataFrame) -> bytes:
        """A chunk as Arrow IPC bytes, to ship to a worker that cannot read the spool."""
        sink = pa.BufferOutputStream()
        feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), sink, compression=COMPRESSION)
        return bytes(sink.getvalue().to_pybytes())

    def keep(self, name: str, chunk: Chunk) -> str:
        """The spool path of a chunk: a shipped one is written to the spool first."""
        if isinstance(chunk, str):
            return chunk
        target = self.path / f"{name}.arrow"
        target.write_bytes(chunk)
        return str(target)

    def cleanup(self) -> None:
        """Remove the spool."""
        shutil.rmtree(self.path, ignore_errors=True)
