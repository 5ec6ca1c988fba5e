"""Phone normalization: the NANP fast path, phonenumbers for the rest, multi-phone fields, reasons."""

from __future__ import annotations

import pandas as pd
import phonenumbers as pn
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas.columns import ALT_PHONES, OUTCOME, PHONE, PHONE_E164, PHONE_REGION, PHONES, REASON, ROW
from tasks.rules.nanp import NANP_REGION_NAMES, NPA_REGION_CODE
from tasks.rules.phones import format_phone, normalize_phones, parse_numbers, phone_key


def parse(values: list[str | None], **options: object) -> pd.DataFrame:
    return parse_numbers(pd.Series(values, dtype="string"), **options)  # type: ignore[arg-type]


def chunk(phone: list[str | None], phones: list[str | None] | None = None) -> pd.DataFrame:
    df = pd.DataFrame({ROW: range(1, len(phone) + 1), PHONE: pd.array(phone, dtype="string")})
    if phones is not None:
        df[PHONES] = pd.array(phones, dtype="string")
    return df


@pytest.mark.parametrize(
    ("raw", "e164", "region"),
    [
        ("(415) 867-5309", "+14158675309", "US"),
        ("+1 415.867.5309", "+14158675309", "US"),
        ("4158675309", "+14158675309", "US"),
        ("1-415-867-5309", "+14158675309", "US"),
        ("14158675309", "+14158675309", "US"),
        ("415-867-5309 x123", "+14158675309", "US"),
        ("415 867 5309 ext. 12", "+14158675309", "US"),
        ("(415) 867-5309 Extension 7", "+14158675309", "US"),
        ("+1 (415) 867-5309 #4", "+14158675309", "US"),
        ("001 415 867 5309", "+14158675309", "US"),
        ("  415.867.5309  ", "+14158675309", "US"),
        ("613-867-5309", "+16138675309", "CA"),
        ("876-867-5309", "+18768675309", "JM"),
        ("800-867-5309", "+18008675309", "US"),
        ("+44 20 7946 0958", "+442079460958", "GB"),
        ("+52 55 5555 5555", "+525555555555", "MX"),
        ("011 44 20 7946 0958", "+442079460958", "GB"),
    ],
)
def test_valid_formats(raw: str, e164: str, region: str) -> None:
    got = parse([raw]).iloc[0]
    assert (got["e164"], got["region"], got["problem"]) == (e164, region, pd.NA)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("12345", "too short"),
        ("415-867-53", "too short"),
        ("415-867-53090", "too long"),
        ("+1 415 867 530", "too short"),
        ("999-867-5309", "unassigned area code 999"),
        ("900-867-5309", "unassigned area code 900"),
        ("211-867-5309", "N11 area code"),
        ("415-911-5309", "N11 exchange"),
        ("415-411-5309", "N11 exchange"),
        ("015-867-5309", "invalid area code"),
        ("415-067-5309", "invalid exchange"),
        ("415-555-0150", "fictional 555-01xx"),
        ("+1 415 555 0199", "fictional 555-01xx"),
        ("abc", "no digits"),
        ("+44 12", "too short"),
    ],
)
def test_invalid_numbers_say_why(raw: str, problem: str) -> None:
    got = parse([raw]).iloc[0]
    assert got["problem"] == problem
    assert pd.isna(got["e164"])
    assert pd.isna(got["region"])


def test_fictional_numbers_allowed_on_request() -> None:
    got = parse(["415-555-0150", "415-555-0200"], allow_fictional=True)
    assert got["e164"].tolist() == ["+14155550150", "+14155550200"]
    assert parse(["415-555-0200"])["e164"].iloc[0] == "+14155550200"


def test_default_region_applies_to_numbers_without_country_code() -> None:
    gb = parse(["020 7946 0958", "(415) 867-5309", "+1 415 867 5309"], default_region="GB")
    assert gb["e164"].tolist() == ["+442079460958", pd.NA, "+14158675309"]
    assert gb["problem"].iloc[1] == "not a valid GB number"
    assert parse(["020 7946 0958"])["problem"].iloc[0] == "too long"
    with pytest.raises(ValueError, match="default_region"):
        parse(["4158675309"], default_region="XX")


def test_allowed_regions_rejects_other_regions() -> None:
    got = parse(["876-867-5309", "415-867-5309", "+44 20 7946 0958"], allowed_regions={"US", "CA"})
    assert got["e164"].tolist() == [pd.NA, "+14158675309", pd.NA]
    assert got["problem"].tolist() == ["region JM not allowed", pd.NA, "region GB not allowed"]


def test_result_keeps_the_input_index() -> None:
    raw = pd.Series(["4158675309", "+44 20 7946 0958", "x"], index=[7, 3, 9], dtype="string")
    got = parse_numbers(raw)
    assert got.index.tolist() == [7, 3, 9]
    assert got["e164"].tolist() == ["+14158675309", "+442079460958", pd.NA]


def test_area_code_allow_list_comes_from_metadata() -> None:
    def region(npa: int) -> str | None:
        code = NPA_REGION_CODE[npa]
        return None if code < 0 else NANP_REGION_NAMES[code]

    assert [region(n) for n in (415, 212, 613, 876, 787, 800, 999, 900, 555, 211)] == [
        "US", "US", "CA", "JM", "PR", "US", None, None, None, None,
    ]


@settings(max_examples=examples(300), deadline=None)
@given(npa=st.integers(200, 999), nxx=st.integers(200, 999), line=st.integers(0, 9999))
def test_fast_path_agrees_with_phonenumbers(npa: int, nxx: int, line: int) -> None:
    number = f"{npa}{nxx}{line:04d}"
    got = parse([number]).iloc[0]
    parsed = pn.parse(number, "US")
    if pd.notna(got["e164"]):
        assert got["e164"] == pn.format_number(parsed, pn.PhoneNumberFormat.E164)
        if pn.is_valid_number(parsed):
            assert got["region"] == pn.region_code_for_number(parsed)
    if NPA_REGION_CODE[npa] < 0:
        assert got["problem"].startswith(("unassigned", "N11"))


def test_normalize_phones_primary_alternates_and_region() -> None:
    df = chunk(
        ["4158675309 | 2128675309; 4158675309", "12 | 3108675309", "99", "(415) 867-5309"],
        ["3108675309/ 12", None, "6138675309, 4158675309", None],
    )
    out = normalize_phones(df)
    assert out[PHONE_E164].tolist() == ["+14158675309", "+13108675309", "+16138675309", "+14158675309"]
    assert out[ALT_PHONES].tolist() == ["+12128675309|+13108675309", pd.NA, "+14158675309", pd.NA]
    assert out[PHONE_REGION].tolist() == ["US", "US", "CA", "US"]
    assert out[OUTCOME].isna().all()
    assert str(out[PHONE_E164].dtype) == str(out[ALT_PHONES].dtype) == "string"


def test_leads_without_a_valid_phone_are_invalid_with_the_column_and_values() -> None:
    df = chunk(["12345", "1 | 415-911-5309", None, "  ", "12345"], [None, None, None, None, "99"])
    out = normalize_phones(df)
    assert out[OUTCOME].tolist() == ["invalid"] * 5
    assert out[REASON].tolist() == [
        "phone: no valid number ('12345': too short)",
        "phone: no valid number ('1': too short; '415-911-5309': N11 exchange)",
        "phone: missing",
        "phone: missing",
        "phone: no valid number ('12345': too short); phones: no valid number ('99': too short)",
    ]


def test_only_pending_rows_are_marked_and_no_row_is_dropped() -> None:
    df = chunk(["12345", "12345", "4158675309"])
    df.index = [10, 11, 12]
    df[OUTCOME] = pd.array(["duplicate", None, None], dtype="string")
    df[REASON] = pd.array(["earlier stage", None, None], dtype="string")
    out = normalize_phones(df)
    assert out.index.tolist() == [10, 11, 12]
    assert out[OUTCOME].tolist() == ["duplicate", "invalid", pd.NA]
    assert out[REASON].tolist() == ["earlier stage", "phone: no valid number ('12345': too short)", pd.NA]
    assert df[OUTCOME].tolist() == ["duplicate", pd.NA, pd.NA]


def test_a_chunk_without_phone_columns_is_all_missing() -> None:
    out = normalize_phones(pd.DataFrame({ROW: [1, 2]}))
    assert out[REASON].tolist() == ["phone: missing", "phone: missing"]
    assert len(normalize_phones(chunk([]))) == 0


def test_phone_key_and_formats() -> None:
    e164 = pd.Series(["+14158675309", None, "+442079460958"], dtype="string", index=[4, 5, 6])
    key = phone_key(e164)
    assert key.dtype == "int64"
    assert key.index.tolist() == [4, 5, 6]
    assert key.tolist() == [14158675309, 0, 442079460958]
    assert format_phone(e164, "e164").tolist() == ["+14158675309", pd.NA, "+442079460958"]
    assert format_phone(e164, "digits").tolist() == ["14158675309", pd.NA, "442079460958"]
    assert format_phone(e164, "national").tolist() == ["4158675309", pd.NA, "442079460958"]
    with pytest.raises(ValueError, match="format"):
        format_phone(e164, "pretty")  # type: ignore[arg-type]
