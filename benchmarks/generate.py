"""Realistic, messy CRM-export lead files (and a matching DNC list) for demos, tests and benchmarks."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Final, NamedTuple, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import benchmarks.generate_data as ref
from benchmarks.generate_text import Arr, Field, csv_text, render, render_choice, table_of, text, where

__all__ = [
    "BLOCK_ROWS", "COLUMNS", "EDGE_ROWS", "INVALID_FORMATS", "PHONE_FORMATS", "Block", "edge_rows",
    "generate_leads", "iter_blocks", "main", "write_leads",
]

COLUMNS: Final = (
    "Lead ID", "First Name", "Last Name", "Phone Number", "Other Phones", "Email", "Address",
    "City", "State", "ZIP", "Time Zone", "Lead Source", "Product Interest", "Score",
)
#: Rows generated per block; a block is the unit of randomness, duplication and streaming.
BLOCK_ROWS: Final = 100_000
#: Hand-written edge cases appended by ``--edge-rows`` (after the generated rows).
EDGE_ROWS: Final = ref.EDGE_ROWS
#: Phone formats, as templates over npa ``a``, exchange ``b``, line ``c`` and extension ``x``.
PHONE_FORMATS: Final = (
    "({a}) {b}-{c:04}", "+1 {a}.{b}.{c:04}", "{a}{b}{c:04}", "1-{a}-{b}-{c:04}", "{a} {b} {c:04}",
    "{a}-{b}-{c:04} x{x}", "{a}-{b}-{c:04}", "+1{a}{b}{c:04}", "{a}.{b}.{c:04}",
)
_FORMAT_P: Final = (0.20, 0.05, 0.25, 0.08, 0.07, 0.03, 0.20, 0.07, 0.05)
#: Invalid primary phones: missing, too short, letters, N11 exchange, fictional 555-01xx.
INVALID_FORMATS: Final = (
    "", "{b}-{c:04}", "N/A", "{a}-{b}-TBD", "{a}-{n11}-{c:04}", "{a}-555-01{y:02}",
)
_SEPARATORS: Final = ("|", "|", "|", "|", ";", " | ")


class Block(NamedTuple):
    """One generated block: the lead rows (missing values null) and DNC lines drawn from them."""

    table: pa.Table
    dnc: list[str]


def _in_group(rng: np.random.Generator, start: Arr, count: Arr, group: Arr) -> Arr:
    return start[group] + (rng.random(len(group)) * count[group]).astype(np.int64)


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> pa.Array:
    return ref.pool(values).take(rng.integers(0, len(values), n))


def _phone(rng: np.random.Generator, ac: Arr) -> dict[str, Arr]:
    """Parts of plausible numbers: no N11 or 950/958/959 exchange, rarely 555, never 555-01xx."""
    n = len(ac)
    nxx = rng.integers(200, 1000, n)
    nxx = np.where(nxx % 100 == 11, nxx + 1, nxx)
    nxx = np.where(np.isin(nxx, (950, 958, 959)), nxx + 10, nxx)
    nxx = np.where((nxx == 555) & (rng.random(n) < 0.8), 556, nxx)
    npa = ref.tables().npa[ac]
    for code, allowed in ref.tables().exchanges.items():
        rows = np.flatnonzero(npa == code)
        nxx[rows] = allowed[rng.integers(0, len(allowed), len(rows))]
    line = rng.integers(0, 10_000, n)
    line = np.where((nxx == 555) & (line // 100 == 1), line + 100, line)
    return {"a": npa, "b": nxx, "c": line, "x": rng.integers(1, 1000, n),
            "fmt": rng.choice(len(PHONE_FORMATS), n, p=_FORMAT_P)}


def _duplicate(rng: np.random.Generator, dup: Arr, clean: Arr,
               parts: Sequence[dict[str, Arr]]) -> Arr:
    """Copy each duplicate row's parts from an earlier clean row; return the source rows."""
    rows = np.flatnonzero(dup)
    before = np.searchsorted(clean, rows)
    dup[rows[before == 0]] = False
    rows, before = rows[before > 0], before[before > 0]
    src = clean[(rng.random(len(rows)) * before).astype(np.int64)]
    for part in parts:
        for values in part.values():
            values[rows] = values[src]
    return src


def _block(index: int, start: int, n: int, *, seed: int, dup_rate: float,
           invalid_rate: float, dnc_rate: float) -> Block:
    """Rows ``start``..``start + n - 1``, drawn from their own stream ``(seed, index)``."""
    rng, t = np.random.default_rng([seed, index]), ref.tables()
    ac = rng.integers(0, len(t.npa), n)
    same_ac = rng.random((3, n)) < 0.5
    phones = [_phone(rng, ac)] + [
        _phone(rng, np.where(same_ac[k], ac, rng.integers(0, len(t.npa), n))) for k in range(3)
    ]
    addr_ac = np.where(rng.random(n) < 0.88, ac, t.us_codes[rng.integers(0, len(t.us_codes), n)])
    name_cls = rng.choice(3, n, p=ref.NAME_CLASS_P)
    c = {
        "addr_ac": addr_ac, "zip": _in_group(rng, t.zip_start, t.zip_count, t.state[addr_ac]),
        "multi": rng.choice(5, n, p=(0.90, 0.02, 0.04, 0.02, 0.02)),
        "sep": rng.integers(0, len(_SEPARATORS), n),
        "first": _in_group(rng, *ref.names(ref.FIRST_NAMES)[2:], name_cls),
        "last": _in_group(rng, *ref.names(ref.LAST_NAMES)[2:], name_cls),
        "email": rng.integers(0, len(ref.LOCAL_PARTS), n), "domain": rng.integers(0, len(ref.DOMAINS), n),
        "email_n": rng.integers(1, 100, n), "street_no": rng.integers(1, 10_000, n),
        "street": rng.integers(0, len(ref.STREETS), n), "suffix": rng.integers(0, len(ref.SUFFIXES), n),
        "unit": rng.choice(len(ref.UNITS), n, p=(0.9, 0.03, 0.03, 0.02, 0.02)),
        "unit_no": rng.integers(1, 400, n), "id": np.arange(start + 1, start + n + 1),
    }
    u = rng.random(n)
    dup, invalid = u < dup_rate, (u >= dup_rate) & (u < dup_rate + invalid_rate)
    old_fmt = phones[0]["fmt"].copy()
    src = _duplicate(rng, dup, np.flatnonzero(~dup & ~invalid), [c, *phones])
    rows = np.flatnonzero(dup)
    shift = rng.integers(1, len(PHONE_FORMATS), len(rows))
    phones[0]["fmt"][rows] = (old_fmt[src] + shift) % len(PHONE_FORMATS)
    c["id"][rows] = np.where(rng.random(len(rows)) < 0.4, c["id"][rows], rows + start + 1)
    columns = {
        **_phone_columns(rng, phones, c, invalid), **_person_columns(rng, c),
        **_place_columns(rng, c),
        "Lead ID": where(rng.random(n) < 0.005, "", render("L-{i:07}", {"i": c["id"]})),
        "Lead Source": _pick(rng, ref.SOURCES, n), "Product Interest": _pick(rng, ref.PRODUCTS, n),
        "Score": where(rng.random(n) < 0.04, "", text(rng.integers(0, 101, n))),
    }
    dnc = _dnc_lines(np.random.default_rng([seed, index, 1]), phones, c, ~dup & ~invalid, dnc_rate)
    return Block(table_of({name: columns[name] for name in COLUMNS}), dnc)


def _phone_columns(rng: np.random.Generator, phones: list[dict[str, Arr]], c: dict[str, Arr],
                   invalid: Arr) -> dict[str, pa.Array]:
    n, multi = len(invalid), c["multi"]
    needed = (np.ones(n, bool), multi > 0, (multi == 2) | (multi == 3), multi == 3)
    shown = [render_choice(PHONE_FORMATS, np.where(m, p["fmt"], -1), p)
             for m, p in zip(needed, phones, strict=True)]
    sep = ref.pool(_SEPARATORS).take(c["sep"])
    two = pc.binary_join_element_wise(shown[1], sep, shown[2], "")
    three = pc.binary_join_element_wise(two, sep, shown[3], "")
    other = where(multi == 1, shown[1], where(multi == 2, two, where(multi == 3, three, "")))
    primary = where(multi == 4, pc.binary_join_element_wise(shown[0], sep, shown[1], ""), shown[0])
    bad = {**phones[0], "n11": rng.integers(2, 10, n) * 100 + 11, "y": rng.integers(0, 100, n)}
    kind = np.where(invalid, rng.integers(0, len(INVALID_FORMATS), n), -1)
    primary = where(invalid, render_choice(INVALID_FORMATS, kind, bad), primary)
    return {"Phone Number": primary, "Other Phones": where(invalid, "", other)}


def _person_columns(rng: np.random.Generator, c: dict[str, Arr]) -> dict[str, pa.Array]:
    first_pool, first_slugs, _, _ = ref.names(ref.FIRST_NAMES)
    last_pool, last_slugs, _, _ = ref.names(ref.LAST_NAMES)
    n = len(c["first"])
    r = rng.random((3, n))
    first, last = first_pool.take(c["first"]), last_pool.take(c["last"])
    first = where(r[0] < 0.03, pc.utf8_upper(first),
                  where(r[0] > 0.98, pc.binary_join_element_wise(" ", first, ""), first))
    last = where(r[0] < 0.03, pc.utf8_upper(last), where(r[1] < 0.02, pc.utf8_lower(last), last))
    slug = first_slugs.take(c["first"])
    parts: dict[str, Field] = {
        "f": slug, "l": last_slugs.take(c["last"]), "i": pc.utf8_slice_codeunits(slug, 0, 1),
        "n": c["email_n"], "d": ref.pool(ref.DOMAINS).take(c["domain"])}
    parts["e"] = render_choice(ref.LOCAL_PARTS, c["email"], parts)
    email = render("{e}@{d}", parts)
    kind = np.where((r[2] >= 0.03) & (r[2] < 0.04), rng.integers(0, len(ref.BAD_EMAILS), n), -1)
    email = where(kind >= 0, render_choice(ref.BAD_EMAILS, kind, parts),
                  where(r[2] > 0.98, pc.utf8_upper(email), email))
    return {"First Name": first, "Last Name": last, "Email": where(r[2] < 0.03, "", email)}


def _place_columns(rng: np.random.Generator, c: dict[str, Arr]) -> dict[str, pa.Array]:
    t, n, z = ref.tables(), len(c["zip"]), c["zip"]
    r = rng.random((6, n))
    address = render("{no} {street} {suffix}{unit}", {
        "no": c["street_no"], "street": ref.pool(ref.STREETS).take(c["street"]),
        "suffix": ref.pool(ref.SUFFIXES).take(c["suffix"]),
        "unit": render_choice(ref.UNITS, c["unit"], {"u": c["unit_no"]})})
    city, state = t.zip_city.take(z), t.state_names.take(t.state[c["addr_ac"]])
    zip_code = t.zip_code.take(z)
    plus4 = render("{z}-{p:04}", {"z": zip_code, "p": rng.integers(0, 10_000, n)})
    zip_code = where((r[0] < 0.10) & t.zip_us[z], plus4, zip_code)
    lost = (r[1] < 0.35) & t.zip_zero[z]
    zip_code = where(r[2] < 0.01, "", where(lost, pc.utf8_ltrim(zip_code, "0"), zip_code))
    zone = t.zone_names.take(t.zone[c["addr_ac"]] * 4 + rng.integers(0, 4, n))
    return {
        "Address": where(r[3] < 0.01, "", address),
        "City": where(r[4] < 0.02, pc.utf8_upper(city), city),
        "State": where(r[4] > 0.97, pc.utf8_lower(state), state),
        "ZIP": zip_code, "Time Zone": where(r[5] < 0.06, zone, ""),
    }


def _dnc_lines(rng: np.random.Generator, phones: list[dict[str, Arr]], c: dict[str, Arr],
               ok: Arr, rate: float) -> list[str]:
    """Registry lines: ~``rate`` of clean rows (primary or second phone), plus half as many decoys."""
    if rate <= 0:
        return []
    r = rng.random((2, len(ok)))
    first = np.flatnonzero(ok & (r[0] < rate * 0.8))
    second = np.flatnonzero(ok & (c["multi"] > 0) & (r[1] < rate * 2))
    decoys = _phone(rng, rng.integers(0, len(ref.tables().npa), len(first) // 2))
    lines = pa.concat_arrays([
        render("{a},{b}{c:04}", phones[0], first), render("{a},{b}{c:04}", phones[1], second),
        render("{a},{b}{c:04}", decoys)])
    short = rng.random(len(lines)) < 0.85
    return sorted(where(short, pc.replace_substring(lines, ",", ""), lines).to_pylist())


def iter_blocks(n: int, *, seed: int = 7, dup_rate: float = 0.05, invalid_rate: float = 0.01,
                dnc_rate: float = 0.0) -> Iterator[Block]:
    """Generate ``n`` leads block by block, so memory stays bounded whatever ``n`` is.

    Args:
        n: Number of rows in all.
        seed: Seed; the same seed and ``n`` give the same rows, block for block.
        dup_rate: Share of rows repeating an earlier lead's phone (reformatted) in the same block.
        invalid_rate: Share of rows whose primary phone is missing or unusable.
        dnc_rate: Share of clean rows whose number (sometimes a second phone) goes on the DNC list.

    Yields:
        One ``Block`` per ``BLOCK_ROWS`` rows (the last one may be shorter).
    """
    for index, start in enumerate(range(0, n, BLOCK_ROWS)):
        yield _block(index, start, min(BLOCK_ROWS, n - start), seed=seed, dup_rate=dup_rate,
                     invalid_rate=invalid_rate, dnc_rate=dnc_rate)


def generate_leads(n: int, *, seed: int = 7, dup_rate: float = 0.05,
                   invalid_rate: float = 0.01) -> pd.DataFrame:
    """A messy CRM export of ``n`` leads: the ``COLUMNS`` headers, all strings, missing as NaN.

    Args:
        n: Number of rows.
        seed: Seed; the same arguments always give the same frame.
        dup_rate: Share of rows repeating an earlier lead's phone, reformatted.
        invalid_rate: Share of rows whose primary phone is missing or unusable.

    Returns:
        The leads, indexed 0..n-1: the rows ``python -m benchmarks.generate`` writes.
    """
    blocks = iter_blocks(n, seed=seed, dup_rate=dup_rate, invalid_rate=invalid_rate)
    empty = table_of({name: pa.array([], pa.string()) for name in COLUMNS})
    tables = [b.table for b in blocks] or [empty]
    frame: pd.DataFrame = pa.concat_tables(tables).to_pandas()
    return frame


def edge_rows() -> pa.Table:
    """The hand-written ``EDGE_ROWS`` as a table with the ``COLUMNS`` headers."""
    return table_of({name: pa.array([row[i] for row in EDGE_ROWS]) for i, name in enumerate(COLUMNS)})


def write_leads(out: Path, n: int, *, seed: int = 7, dup_rate: float = 0.05,
                invalid_rate: float = 0.01, with_edge_rows: bool = False,
                dnc: Path | None = None, dnc_rate: float = 0.02) -> int:
    """Stream ``n`` generated leads (plus the edge rows if asked) to a UTF-8 CSV file.

    Args:
        out: CSV file to write.
        n: Number of generated rows.
        seed: Seed of the generator.
        dup_rate: Share of duplicate rows.
        invalid_rate: Share of rows with an unusable primary phone.
        with_edge_rows: Append ``EDGE_ROWS`` after the generated rows.
        dnc: If given, also write a registry-style DNC file here.
        dnc_rate: Share of clean rows whose number goes on the DNC list.

    Returns:
        The number of data rows written.
    """
    rows = 0
    with out.open("w", encoding="utf-8", newline="") as fh, _optional(dnc) as dnc_fh:
        fh.write(",".join(COLUMNS) + "\n")
        for block in iter_blocks(n, seed=seed, dup_rate=dup_rate, invalid_rate=invalid_rate,
                                 dnc_rate=dnc_rate if dnc else 0.0):
            fh.write(csv_text(block.table))
            rows += block.table.num_rows
            if dnc_fh is not None:
                dnc_fh.writelines(f"{line}\n" for line in block.dnc)
        if with_edge_rows:
            fh.write(csv_text(edge_rows()))
            rows += len(EDGE_ROWS)
    return rows


def _optional(path: Path | None) -> AbstractContextManager[TextIO | None]:
    return path.open("w", encoding="utf-8", newline="") if path else nullcontext()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.generate --rows N --out PATH [--seed S]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__)
    parser.add_argument("--rows", type=int, required=True, help="number of generated rows")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dup-rate", type=float, default=0.05)
    parser.add_argument("--invalid-rate", type=float, default=0.01)
    parser.add_argument("--edge-rows", action="store_true", help="append the hand-written edge rows")
    parser.add_argument("--dnc", type=Path, help="also write a registry-style DNC file here")
    parser.add_argument("--dnc-rate", type=float, default=0.02)
    args = parser.parse_args(argv)
    rows = write_leads(args.out, args.rows, seed=args.seed, dup_rate=args.dup_rate,
                       invalid_rate=args.invalid_rate, with_edge_rows=args.edge_rows,
                       dnc=args.dnc, dnc_rate=args.dnc_rate)
    print(f"wrote {rows} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
