"""Every SourceError names the source, and the row and column where it can."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest
from sourcehelp import read_all, read_frame

from schemas import columns as c
from schemas.sources import SourceSpec
from tasks.sources import SourceError, open_source


def _error(location: Path | str, **options: object) -> SourceError:
    with pytest.raises(SourceError) as info:
        read_all(location, **options)
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    err = _error(tmp_path / "nope.csv")
    assert str(err) == f"{tmp_path / 'nope.csv'}: file not found"
    assert err.row is None
    assert err.column is None


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "leads.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    err = _error(path)
    assert "unknown format '.xls'" in str(err)
    assert str(path) in str(err)


def test_ragged_row_names_the_row_and_keeps_earlier_chunks(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    lines = [f"{i},555{i:07d}" for i in range(1, 1043)]
    lines[1041] += ",oops"
    path.write_text("id,phone\n" + "\n".join(lines) + "\n")
    reader = open_source(SourceSpec(location=str(path), chunk_size=500))
    got: list[pd.DataFrame] = []
    with pytest.raises(SourceError) as info:
        got.extend(reader)
    assert info.value.row == 1042
    assert str(info.value).startswith(f"{path}, row 1042: expected 2 fields, found 3")
    assert sum(len(ch) for ch in got) == 1000
    assert got[-1][c.ROW].iloc[-1] == 1000


def test_ragged_row_in_quoted_file_counts_records_not_lines(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text('id,note\n1,"a\nb"\n2,"c\nd"\n3,x,y\n')
    assert _error(path).row == 3


def test_bad_bytes_make_their_row_invalid_naming_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    head = "id,phone,first_name\n" + "".join(f"{i},555,Zoë\n" for i in range(1, 10_001))
    path.write_bytes(head.encode() + b"10001,555,Ren\xe9\n10002,555,Al\n")
    frame = read_frame(path, chunk_size=3000)
    assert frame[c.ROW].tolist() == list(range(1, 10_003))
    bad = frame[frame[c.OUTCOME].notna()]
    assert bad[c.ROW].tolist() == [10_001]
    assert bad[c.REASON].tolist() == [
        "row 10001, column 'first_name': bytes that are not valid utf-8 (set the source encoding)"]
    assert bad[c.FIRST_NAME].tolist() == ["Ren\ufffd"]
    assert frame[c.FIRST_NAME].iloc[0] == "Zoë"


def test_unknown_encoding(tmp_path: Path, leads_csv: Path) -> None:
    assert "unknown encoding 'klingon'" in str(_error(leads_csv, encoding="klingon"))


def test_missing_mapped_column_lists_available(leads_csv: Path) -> None:
    err = _error(leads_csv, mapping={c.PHONE: "Mobile"})
    assert err.column == "Mobile"
    assert str(err).startswith(f"{leads_csv}, column 'Mobile': mapped column (lead field phone)")
    assert "'Lead ID', 'First Name', 'Phone Number', 'Notes'" in str(err)


def test_missing_watermark_column(leads_csv: Path) -> None:
    err = _error(leads_csv, watermark_column="updated_at")
    assert err.column == "updated_at"
    assert "watermark column not found" in str(err)


@pytest.mark.parametrize("content", ["", "id,phone\n", "id,phone\n\n\n"])
def test_no_data_rows(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    assert str(_error(path)) == f"{path}: no data rows"


def test_duplicate_and_empty_headers_are_renamed_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("Phone,Phone,,Phone_2\n1,2,3,4\n")
    reader, chunks = read_all(path)
    assert list(chunks[0].columns) == [c.ROW, c.PHONE, "extra.Phone_3", "extra.column_3",
                                       "extra.Phone_2"]
    assert reader.notes == [
        "duplicate header 'Phone' at position 2 renamed to 'Phone_3'",
        "empty header '' at position 3 renamed to 'column_3'",
    ]


def test_unterminated_quote(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,note\n1,ok\n2,"never closed\n')
    err = _error(path)
    assert err.row == 2
    assert "malformed CSV" in str(err)


def test_error_pickles_with_its_attributes() -> None:
    err = SourceError("leads.csv", "bad", row=3, column="phone")
    back = pickle.loads(pickle.dumps(err))
    assert (back.source, back.row, back.column, str(back)) == (
        "leads.csv", 3, "phone", "leads.csv, row 3, column 'phone': bad"
    )


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv.gz"
    path.write_bytes(b"not gzip at all")
    assert "cannot read" in str(_error(path))
