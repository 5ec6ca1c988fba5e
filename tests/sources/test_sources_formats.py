"""Excel, Parquet, JSON and JSON Lines files."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sourcehelp import read_all, read_frame

from schemas import columns as c
from schemas.sources import SourceSpec
from tasks.sources import SourceError, open_source

WHEN = dt.datetime(2024, 1, 2, 3, 4)


def _workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Summary"
    first.append(["Total", 2])
    sheet = book.create_sheet("Leads")
    sheet.append([])
    sheet.append(["Phone", "First Name", "ZIP", "Updated", None])
    sheet.append([5551234567, "Ann", "02134", WHEN])
    sheet.append([])
    sheet.append(["555-0102", " Bob ", 2134.0, None])
    book.save(path)


def test_excel_sheet_by_name_and_index(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    _workbook(path)
    for sheet in ("Leads", 1):
        reader, chunks = read_all(path, sheet=sheet, chunk_size=1)
        frame = pd.concat(chunks, ignore_index=True)
        assert frame[c.ROW].tolist() == [1, 3]
        assert frame[c.PHONE].tolist() == ["5551234567", "555-0102"]
        assert frame[c.FIRST_NAME].tolist() == ["Ann", "Bob"]
        assert frame[c.ZIP].tolist() == ["02134", "2134"]
        assert frame["extra.Updated"].tolist()[0] == "2024-01-02 03:04:00"
        assert reader.rows_read == 2
    with pytest.raises(SourceError, match="no data rows"):
        read_all(path)


def test_excel_errors(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    _workbook(path)
    with pytest.raises(SourceError, match="no sheet 'Nope'; the workbook has 'Summary', 'Leads'"):
        read_all(path, sheet="Nope")
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    with pytest.raises(SourceError, match=r"not a valid \.xlsx workbook"):
        read_all(bad)
    book = openpyxl.load_workbook(path)
    book["Leads"]["G5"] = "stray"
    book.save(path)
    with pytest.raises(SourceError) as info:
        read_all(path, sheet="Leads")
    assert info.value.row == 3
    assert "column G, right of the last header" in str(info.value)


def test_parquet_keeps_values_and_streams_batches(tmp_path: Path) -> None:
    path = tmp_path / "leads.parquet"
    table = pa.table({
        "id": pa.array([1, 2, None, 4, 5], pa.int64()),
        "phone": ["5550001", "5550002", "5550003", None, "5550005"],
        "score": [1.5, 2.0, None, 4.0, 5.25],
        "updated": pa.array([WHEN + dt.timedelta(days=i) for i in range(5)], pa.timestamp("us")),
    })
    pq.write_table(table, path, row_group_size=2)
    reader, chunks = read_all(path, chunk_size=3, watermark_column="updated")
    assert [len(ch) for ch in chunks] == [3, 2]
    frame = pd.concat(chunks, ignore_index=True)
    assert frame[c.ROW].tolist() == [1, 2, 3, 4, 5]
    assert frame[c.EXTERNAL_ID].tolist()[:3] == ["1", "2", pd.NA]
    assert frame["extra.score"].tolist()[:2] == ["1.5", "2"]
    assert reader.max_watermark == "2024-01-06 03:04:00"
    newer, chunks = read_all(path, since="2024-01-04 03:04:00", watermark_column="updated")
    assert pd.concat(chunks)[c.ROW].tolist() == [4, 5]
    assert newer.max_watermark == "2024-01-06 03:04:00"


def test_json_array_and_lines(tmp_path: Path) -> None:
    records = [
        {"id": 1, "phone": 5551234567, "tags": ["a", "b"]},
        {"id": 2, "phone": "555-0102", "email": "b@example.com", "big": 12345678901234567890},
    ]
    array = tmp_path / "leads.json"
    array.write_text(json.dumps(records, indent=2))
    lines = tmp_path / "leads.ndjson"
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    for path in (array, lines):
        frame = read_frame(path, chunk_size=1)
        assert frame[c.ROW].tolist() == [1, 2]
        assert frame[c.PHONE].tolist() == ["5551234567", "555-0102"]
        assert frame[c.EMAIL].tolist() == [pd.NA, "b@example.com"]
        assert frame["extra.tags"].tolist() == ['["a", "b"]', pd.NA]
        assert frame["extra.big"].tolist() == [pd.NA, "12345678901234567890"]


def test_json_compressed(tmp_path: Path) -> None:
    gz = tmp_path / "leads.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"phone": "1"}\n{"phone": "2"}\n'))
    assert read_frame(gz)[c.PHONE].tolist() == ["1", "2"]
    zipped = tmp_path / "leads.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("leads.json", '[{"phone": "3"}]')
    assert read_frame(zipped)[c.PHONE].tolist() == ["3"]


@pytest.mark.parametrize(
    ("name", "content", "row", "message"),
    [
        ("a.json", '[{"phone": "1"}, {"phone": 2,}]', 2, "invalid JSON"),
        ("a.json", '[{"phone": "1"}, 7]', 2, "expected a JSON object, found int"),
        ("a.json", '{"phone": "1"}', 1, "must be an array of objects"),
        ("a.jsonl", '{"phone": "1"}\n{"phone": \n', 2, "invalid JSON"),
        ("a.json", "[]", None, "no data rows"),
    ],
)
def test_json_errors(tmp_path: Path, name: str, content: str, row: int | None,
                     message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SourceError, match=message) as info:
        read_all(path)
    assert info.value.row == row


def test_json_error_keeps_earlier_chunks(tmp_path: Path) -> None:
    path = tmp_path / "leads.jsonl"
    path.write_text("".join(f'{{"phone": "{i}"}}\n' for i in range(1, 6)) + "oops\n")
    got: list[pd.DataFrame] = []
    with pytest.raises(SourceError) as info:
        got.extend(open_source(SourceSpec(location=str(path), chunk_size=2)))
    assert info.value.row == 6
    assert sum(len(ch) for ch in got) == 4


def test_format_override(tmp_path: Path) -> None:
    path = tmp_path / "export.data"
    path.write_text('{"phone": "1"}\n')
    assert read_frame(path, format="jsonl")[c.PHONE].tolist() == ["1"]
