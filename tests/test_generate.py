"""The messy lead generator: determinism, rates, formats, places, and the committed examples."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest
import yaml
import zipcodes

from benchmarks.generate import (
    BLOCK_ROWS,
    COLUMNS,
    EDGE_ROWS,
    PHONE_FORMATS,
    generate_leads,
    write_leads,
)
from benchmarks.generate_text import csv_text, table_of
from schemas.columns import INPUT_FIELDS
from schemas.sources import MappingFile

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CANADA = {"ON", "QC", "BC", "AB", "MB", "SK", "NS", "NL"}
SEPARATORS = re.compile(r"\s*[|;]\s*")
FORMAT_PATTERNS = {
    "({a}) {b}-{c:04}": r"\(\d{3}\) \d{3}-\d{4}",
    "+1 {a}.{b}.{c:04}": r"\+1 \d{3}\.\d{3}\.\d{4}",
    "{a}{b}{c:04}": r"\d{10}",
    "1-{a}-{b}-{c:04}": r"1-\d{3}-\d{3}-\d{4}",
    "{a} {b} {c:04}": r"\d{3} \d{3} \d{4}",
    "{a}-{b}-{c:04} x{x}": r"\d{3}-\d{3}-\d{4} x\d{1,3}",
    "{a}-{b}-{c:04}": r"\d{3}-\d{3}-\d{4}",
    "+1{a}{b}{c:04}": r"\+1\d{10}",
    "{a}.{b}.{c:04}": r"\d{3}\.\d{3}\.\d{4}",
}


def ten_digits(phone: str) -> str:
    """The 10-digit NANP number in one phone string, or "" when it has no such number."""
    phone = re.sub(r"\s*x\d+$", "", phone)
    if re.search(r"[A-Za-z]", phone):
        return ""
    digits = re.sub(r"\D", "", phone)
    digits = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    return digits if len(digits) == 10 else ""


def dialable(digits: str) -> bool:
    """Whether a 10-digit number is one a dialer may call: valid, no N11, not 555-01xx."""
    if not digits or digits[4:6] == "11" or digits[3:8] == "55501":
        return False
    return bool(phonenumbers.is_valid_number(phonenumbers.parse("+1" + digits)))


def phones_of(row_phone: object, row_other: object) -> list[str]:
    texts = [t for t in (row_phone, row_other) if isinstance(t, str)]
    return [p for t in texts for p in SEPARATORS.split(t)]


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    return generate_leads(20_000, seed=11)


@pytest.fixture(scope="module")
def primary(leads: pd.DataFrame) -> pd.Series:
    return leads["Phone Number"].fillna("").map(lambda s: ten_digits(SEPARATORS.split(s)[0]))


@pytest.fixture(scope="module")
def zip_states() -> dict[str, str]:
    records = zipcodes.list_all()  # type: ignore[no-untyped-call]
    return {z["zip_code"]: z["state"] for z in records}


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = generate_leads(3_000, seed=5)
    pd.testing.assert_frame_equal(first, generate_leads(3_000, seed=5))
    assert not first.equals(generate_leads(3_000, seed=6))


@pytest.mark.parametrize("n", [0, 1, 2_500])
def test_row_count_columns_and_string_cells(n: int) -> None:
    frame = generate_leads(n)
    assert list(frame.columns) == list(COLUMNS)
    assert list(frame.index) == list(range(n))
    assert all(isinstance(v, str) for v in frame.to_numpy().ravel() if not pd.isna(v))


def test_invalid_and_duplicate_rates_follow_the_arguments(
    leads: pd.DataFrame, primary: pd.Series
) -> None:
    ok = primary.map(dialable)
    assert 0.006 < 1 - ok.mean() < 0.015
    assert 0.04 < primary[ok].duplicated().mean() < 0.06
    clean = generate_leads(5_000, seed=11, dup_rate=0.0, invalid_rate=0.0)
    clean_primary = clean["Phone Number"].map(lambda s: ten_digits(SEPARATORS.split(s)[0]))
    assert clean_primary.map(dialable).all()
    assert clean_primary.duplicated().mean() < 0.002


def test_duplicates_are_reformatted_and_some_keep_their_lead_id(
    leads: pd.DataFrame, primary: pd.Series
) -> None:
    valid = primary[primary.map(dialable)]
    firsts = valid.drop_duplicates()
    row_of_first = pd.Series(firsts.index, index=firsts.to_numpy())
    dups = leads.loc[valid[valid.duplicated()].index]
    earlier = leads.loc[row_of_first.loc[valid[dups.index].to_numpy()].to_numpy()]
    assert (dups["Phone Number"].to_numpy() != earlier["Phone Number"].to_numpy()).mean() > 0.99
    same_id = (dups["Lead ID"].to_numpy() == earlier["Lead ID"].to_numpy()).mean()
    assert 0.25 < same_id < 0.55


def test_other_rates(leads: pd.DataFrame) -> None:
    email = leads["Email"]
    well_formed = email.dropna().str.fullmatch(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
    assert 0.006 < 1 - well_formed.mean() < 0.015
    assert 0.02 < email.isna().mean() < 0.04
    assert 0.002 < leads["Lead ID"].isna().mean() < 0.009
    assert 0.04 < leads["Time Zone"].notna().mean() < 0.08
    lists = leads["Other Phones"].fillna("").str.count(r"[|;]") >= 1
    lists |= leads["Phone Number"].fillna("").str.contains(r"[|;]")
    assert 0.065 < lists.mean() < 0.095


def test_every_phone_format_and_separator_is_present(leads: pd.DataFrame) -> None:
    assert set(FORMAT_PATTERNS) == set(PHONE_FORMATS)
    phones = [p for a, b in zip(leads["Phone Number"], leads["Other Phones"], strict=True)
              for p in phones_of(a, b)]
    seen = {fmt for p in phones for fmt, rx in FORMAT_PATTERNS.items() if re.fullmatch(rx, p)}
    assert seen == set(PHONE_FORMATS)
    joined = " ".join(leads["Other Phones"].dropna())
    assert all(sep in joined for sep in ("|", ";", " | "))


def test_area_codes_are_many_real_and_cover_every_zone(primary: pd.Series) -> None:
    npas = set(primary[primary != ""].str[:3])
    assert len(npas) >= 150
    split = {"850", "208", "605", "270", "541", "812", "423", "907", "928"}
    zones = {"907", "808", "787", "602", "415", "303", "312", "212", "604", "416", "671", "340"}
    assert split | zones <= npas
    ok = primary[primary.map(dialable)]
    assert (ok.str[3:6] == "555").mean() < 0.002


def test_zip_matches_state_and_has_the_usual_mess(
    leads: pd.DataFrame, zip_states: dict[str, str]
) -> None:
    state = leads["State"].str.strip().str.upper()
    zips = leads["ZIP"].fillna("")
    us = (zips != "") & ~state.isin(CANADA)
    five = zips[us].str.split("-").str[0].str.zfill(5)
    assert (five.map(zip_states) == state[us]).all()
    assert zips[~us & (zips != "")].str.fullmatch(r"[A-Z]\d[A-Z] \d[A-Z]\d").all()
    assert zips.str.fullmatch(r"\d{5}-\d{4}").mean() > 0.05
    assert zips.str.fullmatch(r"\d{3,4}").sum() > 50
    assert {"TX", "FL", "RI", "UT", "AL", "LA", "AK", "HI", "PR", "BC"} <= set(state)
    assert (leads["State"] != state).sum() > 100


def test_names_include_accents_and_non_latin_scripts(leads: pd.DataFrame) -> None:
    names = pd.concat([leads["First Name"], leads["Last Name"]])
    assert names.str.contains(r"[À-ɏ]").mean() > 0.03
    assert names.str.contains(r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff\u3040-\uffff]").any()


@pytest.mark.slow
def test_written_csv_reads_back_as_the_frame_across_blocks(tmp_path: Path) -> None:
    out = tmp_path / "leads.csv"
    n = BLOCK_ROWS + 500
    assert write_leads(out, n, seed=3, with_edge_rows=True) == n + len(EDGE_ROWS)
    back = pd.read_csv(out, dtype=str, keep_default_na=False, na_values=[""])
    expected = generate_leads(n, seed=3)
    pd.testing.assert_frame_equal(back.iloc[:n], expected, check_dtype=False)
    ids = back["Lead ID"].iloc[:n].dropna().str[2:].astype(int)
    assert ids.between(1, n).all()
    assert ids.nunique() > 0.95 * len(ids)
    edge = back.iloc[n:].fillna("")
    assert [tuple(r) for r in edge.itertuples(index=False)] == list(EDGE_ROWS)


def test_csv_quotes_only_the_cells_that_need_it() -> None:
    cells = ["plain", 'say "hi"', "two\nlines", "a, b", "", "Zoë"]
    table = table_of({"x": pa.array(cells), "y": pa.array(["1"] * len(cells))})
    expected = 'plain,1\n"say ""hi""",1\n"two\nlines",1\n"a, b",1\n,1\nZoë,1\n'
    assert csv_text(table) == expected


def test_examples_are_exactly_what_the_readme_command_writes(tmp_path: Path) -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    command = re.search(r"^python -m benchmarks\.generate .*$", readme, re.MULTILINE)
    assert command is not None
    args = command.group(0).replace("examples/", f"{tmp_path}/").split()[3:]
    subprocess.run([sys.executable, "-m", "benchmarks.generate", *args], cwd=ROOT, check=True,
                   capture_output=True)
    for name in ("leads.csv", "dnc.txt"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


def test_example_edge_rows_and_dnc_list() -> None:
    leads = pd.read_csv(EXAMPLES / "leads.csv", dtype=str, keep_default_na=False)
    assert len(leads) == 1_000 + len(EDGE_ROWS)
    text = (EXAMPLES / "leads.csv").read_text(encoding="utf-8")
    assert '"Smith, Jr."' in text
    phones = " ".join(leads["Phone Number"].iloc[-len(EDGE_ROWS):])
    for wanted in ("+1 415.592.0100", "+44 20", "(604)", "602.", "808 ", "1-907-", "787-"):
        assert wanted in phones
    primaries, seconds = set(), set()
    for a, b in zip(leads["Phone Number"], leads["Other Phones"], strict=True):
        numbers = [ten_digits(p) for p in phones_of(a, b)]
        primaries.add(numbers[0])
        seconds.update(numbers[1:])
    lines = (EXAMPLES / "dnc.txt").read_text().split()
    assert all(re.fullmatch(r"\d{10}|\d{3},\d{7}", line) for line in lines)
    assert any("," in line for line in lines)
    numbers = [line.replace(",", "") for line in lines]
    assert 15 <= sum(n in primaries for n in numbers) <= 25
    assert sum(n in seconds - primaries for n in numbers) >= 2


def test_example_mapping_names_real_columns_and_lead_fields() -> None:
    document = yaml.safe_load((EXAMPLES / "mapping.yaml").read_text(encoding="utf-8"))
    mapping = MappingFile.from_document(document)
    header = (EXAMPLES / "leads.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert set(mapping.fields) <= set(INPUT_FIELDS)
    assert set(mapping.fields.values()) | set(mapping.extra or []) == set(header)
