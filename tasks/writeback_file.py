"""Write-back into a CSV or Parquet file beside a file source: read, merged by key, replaced atomically.

The new file is written next to the old one and renamed over it, so a reader sees the old rows or
the new ones, never half a file. Rows of other keys stay as they were; a row whose key comes again
takes the new values of the frame's columns (a column of ``KEEP_WHEN_NULL`` keeps its old value
when the new one is missing) and keeps its other columns.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.writeback_sql import WriteBackError
from tasks.writeback_target import COLUMNS, FILE_FORMATS, KEEP_WHEN_NULL, KEY, WriteBackTarget

_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def _schema() -> pa.Schema:
    return pa.schema([(c, pa.timestamp("us", tz="UTC") if k == "time" else pa.string()) for c, k in COLUMNS.items()])


def read_file(path: Path) -> pd.DataFrame:
    """The rows of a write-back file (every column of ``COLUMNS``; text as strings, times as UTC)."""
    if not path.exists():
        return _typed(pd.DataFrame(columns=list(COLUMNS)))
    if FILE_FORMATS.get(path.suffix.lower()) == "parquet":
        frame = pq.read_table(path).to_pandas()
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    unknown = sorted(set(KEY) - set(frame.columns))
    if unknown:
        raise WriteBackError(f"{path} is not a write-back file: no column(s) {', '.join(unknown)}")
    return _typed(frame.reindex(columns=list(COLUMNS)))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        time = COLUMNS.get(col) == "time"
        out[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601") if time else frame[col].astype("string")
    return out


def upsert_file(target: WriteBackTarget, frame: pd.DataFrame) -> int:
    """Merge ``frame`` into the target file by key and replace it atomically; rows written.

    Raises:
        WriteBackError: the file cannot be read or written.
    """
    path = Path(target.location)
    try:
        old = read_file(path).set_index(list(KEY))
        new = _typed(frame).set_index(list(KEY))
        before = old.reindex(new.index)
        merged = pd.DataFrame(index=new.index)
        for col in old.columns:
            if col not in new.columns:
                merged[col] = before[col]
            else:
                merged[col] = new[col].fillna(before[col]) if col in KEEP_WHEN_NULL else new[col]
        rows = _typed(pd.concat([old[~old.index.isin(new.index)], merged]).reset_index()[list(COLUMNS)])
        _replace(path, rows)
    except (OSError, ValueError, pa.ArrowException) as ex:
        raise WriteBackError(f"{path}: {type(ex).__name__}: {ex}") from None
    return len(frame)


def _replace(path: Path, rows: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if FILE_FORMATS.get(path.suffix.lower()) == "parquet":
                pq.write_table(pa.Table.from_pandas(rows, schema=_schema(), preserve_index=False), fh)
            else:
                text = rows.copy()
                for col, kind in COLUMNS.items():
                    if kind == "time":
                        text[col] = rows[col].dt.strftime(_TIME)
                fh.write(text.to_csv(index=False).encode("utf-8"))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_write_back_file(path: Path) -> bool:
    """Whether ``path`` is a write-back file (its columns are exactly ``COLUMNS``), so a folder watcher can
    leave it alone when it lies beside the files it announces."""
    kind = FILE_FORMATS.get(path.suffix.lower())
    try:
        if kind == "csv":
            with path.open("rb") as fh:
                return fh.readline().decode("utf-8", "replace").strip().split(",") == list(COLUMNS)
        if kind == "parquet":
            return list(pq.read_schema(path).names) == list(COLUMNS)
    except (OSError, pa.ArrowException):
        return False
    return False
