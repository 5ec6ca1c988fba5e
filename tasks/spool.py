"""The run's spool: chunks kept as Arrow IPC (Feather) files between stages, so memory stays bounded.

A spool holds lead data, so it must not outlive its run. The run removes it when it ends; a run
that was killed cannot, so each spool holds a lock on its ``.owner`` file for as long as its process
lives, and every new spool first removes the spools in the same folder whose lock nobody holds
(the kernel drops a lock when its process dies, however it died).
"""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

#: Spooled chunks are not compressed: a 50,000-lead chunk is written in 6-8 ms and read in 3-5 ms, against
#: 24 and 13-14 ms with LZ4 (about 1 s of CPU per 1M leads, raw and prepared chunks), at twice the size
#: (12-16 MB); each is removed once its chunk is sent (:meth:`Spool.discard`), so the spool holds about
#: the source's size while it is read, as the LZ4 spool that kept every chunk to the end did.
COMPRESSION = "uncompressed"
#: Shipped chunks cross the network to another machine: LZ4 halves their bytes.
SHIPPED_COMPRESSION = "lz4"
#: A chunk as tasks take it: its spool path, or its Arrow IPC bytes when the task may run on another
#: machine (a Dask worker does not see the flow's temporary folder).
Chunk = str | bytes
PREFIX = "leadflow-spool-"
OWNER = ".owner"
#: A spool without an owner file (left by an older version, or still being made) is removed after this long.
UNOWNED_AGE_S = 24 * 3600.0


def _held_by_someone(owner: Path) -> bool:
    """Whether a live process holds the lock on ``owner``."""
    try:
        fd = os.open(owner, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _dead(spool: Path) -> bool:
    """Whether no live process owns ``spool``."""
    owner = spool / OWNER
    try:
        if owner.exists():
            return not _held_by_someone(owner)
        return time.time() - spool.stat().st_mtime > UNOWNED_AGE_S
    except OSError:
        return False


def remove_dead_spools(root: str | None = None) -> list[Path]:
    """Remove the spools under ``root`` (default: the temporary folder) whose run is gone; returns them."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if path.is_dir() and _dead(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class Spool:
    """A folder of numbered chunks (Arrow IPC files), removed when the run ends, or by a later run."""

    def __init__(self, root: str | None = None) -> None:
        remove_dead_spools(root)
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
        # Locked under another name first: a sweep never sees an owner file nobody holds yet.
        self._owner: int | None = os.open(self.path / f"{OWNER}-new", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._owner, fcntl.LOCK_EX)
        os.rename(self.path / f"{OWNER}-new", self.path / OWNER)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_owner": None}  # the lock stays with the process that made the spool

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
        feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), sink, compression=SHIPPED_COMPRESSION)
        return bytes(sink.getvalue().to_pybytes())

    def keep(self, name: str, chunk: Chunk) -> str:
        """The spool path of a chunk: a shipped one is written to the spool first."""
        if isinstance(chunk, str):
            return chunk
        target = self.path / f"{name}.arrow"
        target.write_bytes(chunk)
        return str(target)

    def discard(self, *chunks: Chunk) -> None:
        """Remove chunks of this spool that are no longer needed (paths elsewhere, and bytes, are left alone)."""
        for chunk in chunks:
            if isinstance(chunk, str) and Path(chunk).parent == self.path:
                Path(chunk).unlink(missing_ok=True)

    def cleanup(self) -> None:
        """Remove the spool."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None
