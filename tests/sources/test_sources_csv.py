"""CSV and other delimited files: encodings, delimiters, compression, chunks."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sourcehelp import read_all, read_frame

from schemas import columns as c

ROWS = [["1", "Ann", "555-0101"], ["2", "Zoë", "555-0102"], ["3", "Renée", "555-0103"]]


def _text(sep: str = ",") -> str:
    lines = [sep.join(["id", "first_name", "phone"])] + [sep.join(r) for r in ROWS]
    return "\n".join(lines) + "\n"


def _check(frame: pd.DataFrame) -> None:
    assert frame[c.ROW].tolist() == [1, 2, 3]
    assert frame[c.FIRST_NAME].tolist() == ["Ann", "Zoë", "Renée"]
    assert frame[c.PHONE].tolist() == ["555-0101", "555-0102", "555-0103"]


def test_chunks_are_text_with_continuous_row_numbers(leads_csv: Path) -> None:
    reader, chunks = read_all(leads_csv, chunk_size=2)
    assert [len(ch) for ch in chunks] == [2, 2, 1]
    frame = pd.concat(chunks, ignore_index=True)
    assert frame[c.ROW].tolist() == [1, 2, 3, 4, 5]
    assert frame[c.ROW].dtype == "int64"
    assert list(frame.columns) == [c.ROW, c.EXTERNAL_ID, c.PHONE, c.FIRST_NAME, "extra.Notes"]
    assert all(isinstance(frame[col].dtype, pd.StringDtype) for col in frame.columns[1:])
    assert frame[c.FIRST_NAME].iloc[0] == "Ann"
    assert frame[c.PHONE].isna().tolist() == [False, True, False, False, False]
    assert frame["extra.Notes"].isna().sum() == 3
    assert reader.rows_read == 5
    assert reader.columns_mapped == {
        c.EXTERNAL_ID: "Lead ID", c.PHONE: "Phone Number", c.FIRST_NAME: "First Name"
    }
    assert reader.extras == ["Notes"]
    assert all(list(ch.columns) == list(chunks[0].columns) for ch in chunks)


def test_leading_zeros_and_long_numbers_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "z.csv"
    path.write_text("zip,phone\n02134,15551234567\n00501,0044207946\n")
    frame = read_frame(path)
    assert frame[c.ZIP].tolist() == ["02134", "00501"]
    assert frame[c.PHONE].tolist() == ["15551234567", "0044207946"]


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(_text(sep), encoding="utf-8")
    _check(read_frame(path))


def test_given_delimiter_and_tsv_format(tmp_path: Path) -> None:
    path = tmp_path / "leads.tsv"
    path.write_text(_text("\t"))
    _check(read_frame(path))
    other = tmp_path / "leads.dat"
    other.write_text(_text("|"))
    _check(read_frame(other, format="csv", delimiter="|"))


@pytest.mark.parametrize(
    ("encoding", "given"),
    [("utf-8", None), ("utf-8-sig", None), ("utf-16", None), ("cp1252", None),
     ("latin-1", "latin-1"), ("utf-8-sig", "utf-8")],
)
def test_encodings(tmp_path: Path, encoding: str, given: str | None) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(_text().encode(encoding))
    frame = read_frame(path, encoding=given)
    _check(frame)
    assert c.EXTERNAL_ID in frame.columns


def test_quoted_newlines_and_quotes(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,phone,note\n1,555,"two\nlines, and a ""quote"""\n2,556,plain\n')
    frame = read_frame(path)
    assert frame["extra.note"].tolist() == ['two\nlines, and a "quote"', "plain"]
    assert frame[c.ROW].tolist() == [1, 2]


def test_quoted_newlines_in_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes('id,phone,note\n1,555,"caf\xe9\nbar"\n2,556,x\n'.encode("cp1252"))
    frame = read_frame(path)
    assert frame["extra.note"].tolist() == ["café\nbar", "x"]


def test_gzip_and_zip(tmp_path: Path) -> None:
    gz = tmp_path / "leads.csv.gz"
    gz.write_bytes(gzip.compress(_text().encode()))
    _check(read_frame(gz))
    zipped = tmp_path / "leads.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("export/leads.tsv", _text("\t"))
    _check(read_frame(zipped))


def test_file_url(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(_text())
    _check(read_frame(path.as_uri()))


def test_empty_lines_are_skipped_without_numbers(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("id,phone\n1,5\n\n2,6\n")
    assert read_frame(path)[c.ROW].tolist() == [1, 2]


def test_careful_path_chunks_match_fast_path(tmp_path: Path) -> None:
    rows = "".join(f"{i},555{i:07d},Zoë\n" for i in range(1, 26))
    fast, slow = tmp_path / "fast.csv", tmp_path / "slow.csv"
    fast.write_text("id,phone,first_name\n" + rows, encoding="utf-8")
    slow.write_bytes(("id,phone,first_name\n" + rows).encode("cp1252"))
    a, b = read_all(fast, chunk_size=10)[1], read_all(slow, chunk_size=10)[1]
    assert [len(x) for x in a] == [len(x) for x in b] == [10, 10, 5]
    pd.testing.assert_frame_equal(pd.concat(a), pd.concat(b))


def test_large_file_streams_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    n = 120_000
    with path.open("w") as out:
        out.write("id,phone\n")
        out.writelines(f"{i},1555{i:07d}\n" for i in range(1, n + 1))
    reader, chunks = read_all(path, chunk_size=50_000)
    assert [len(ch) for ch in chunks] == [50_000, 50_000, 20_000]
    assert chunks[1][c.ROW].iloc[0] == 50_001
    assert chunks[2][c.PHONE].iloc[-1] == f"1555{n:07d}"
    assert reader.rows_read == n


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_fields_beyond_the_csv_module_limit_use_the_fast_path(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "wide.csv"
    note = "x" * 200_000
    path.write_text(sep.join(["id", "phone", "note"]) + "\n" + sep.join(["1", "555", note]) + "\n")
    assert read_frame(path)["extra.note"].str.len().tolist() == [200_000]
