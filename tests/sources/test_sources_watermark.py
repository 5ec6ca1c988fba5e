"""Incremental file reads: only rows newer than the last watermark, row numbers kept."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sourcehelp import read_all

from schemas import columns as c
from tasks.sources import SourceError


def _write(path: Path, stamps: list[str]) -> None:
    body = "".join(f"{i},555{i:04d},{s}\n" for i, s in enumerate(stamps, start=1))
    path.write_text("id,phone,updated\n" + body)


def test_second_read_returns_only_newer_rows(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    _write(path, ["2024-01-01T10:00:00", "2024-01-03T10:00:00", "2024-01-02T10:00:00"])
    first, _ = read_all(path, watermark_column="updated")
    assert first.max_watermark == "2024-01-03T10:00:00"
    _write(path, ["2024-01-01T10:00:00", "2024-01-03T10:00:00", "2024-01-02T10:00:00",
                  "2024-01-04T08:00:00", "", "2024-01-03T09:00:00", "2024-01-05T00:00:00"])
    second, chunks = read_all(path, since=first.max_watermark, watermark_column="updated",
                              chunk_size=2)
    frame = pd.concat(chunks)
    assert frame[c.ROW].tolist() == [4, 7]
    assert frame[c.EXTERNAL_ID].tolist() == ["4", "7"]
    assert second.rows_read == 2
    assert second.max_watermark == "2024-01-05T00:00:00"
    third, chunks = read_all(path, since=second.max_watermark, watermark_column="updated")
    assert chunks == []
    assert (third.rows_read, third.max_watermark) == (0, None)


def test_numbers_compare_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    _write(path, ["9", "10", "100", "11"])
    first, _ = read_all(path, watermark_column="updated")
    assert first.max_watermark == "100"
    _, chunks = read_all(path, since="10", watermark_column="updated")
    assert pd.concat(chunks)[c.ROW].tolist() == [3, 4]


def test_text_watermarks_and_aware_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    _write(path, ["b", "a", "c"])
    assert read_all(path, watermark_column="updated")[0].max_watermark == "c"
    _write(path, ["2024-01-01T10:00:00+01:00", "2024-01-01T09:30:00Z"])
    reader, chunks = read_all(path, since="2024-01-01T09:15:00+00:00", watermark_column="updated")
    assert pd.concat(chunks)[c.ROW].tolist() == [2]
    assert reader.max_watermark == "2024-01-01T09:30:00Z"


def test_since_that_does_not_fit_the_column(tmp_path: Path) -> None:
    path = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"phone": ["1"], "n": [5]}), path)
    with pytest.raises(SourceError) as info:
        read_all(path, since="yesterday", watermark_column="n")
    assert info.value.column == "n"
