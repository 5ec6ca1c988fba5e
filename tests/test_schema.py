"""The Lead schema and the per-provider payload rules: every failing column named in the reason."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas import columns as C
from schemas.lead import validate_leads
from schemas.provider_rules import ProviderRules, validate_for_provider
from tasks.providers.registry import provider_class

GOOD: dict[str, Any] = {
    C.ROW: 1,
    C.PHONE_E164: "+14158675309",
    C.EXTERNAL_ID: "L-1",
    C.FIRST_NAME: "Ada",
    C.LAST_NAME: "Lovelace",
    C.EMAIL: "ada@example.org",
    C.ADDRESS1: "1 Main St",
    C.CITY: "Springfield",
    C.STATE: "CA",
    C.ZIP: "94105",
    C.COUNTRY: None,
    C.PRIORITY: "5",
}
#: One bad value per column, and the message it must produce.
BAD: dict[str, tuple[str, str]] = {
    C.EXTERNAL_ID: ("x" * 101, "external_id: longer than 100 characters"),
    C.FIRST_NAME: ("A" * 101, "first_name: longer than 100 characters"),
    C.LAST_NAME: ("L" * 101, "last_name: longer than 100 characters"),
    C.EMAIL: ("ada@example", "email: not a valid e-mail address"),
    C.ADDRESS1: ("a" * 256, "address1: longer than 255 characters"),
    C.CITY: ("c" * 101, "city: longer than 100 characters"),
    C.STATE: ("California", "state: not a 2-letter code"),
    C.ZIP: ("94105-12", "zip: not a 5-digit ZIP"),
    C.PRIORITY: ("1001", "priority: not a whole number from 1 to 1000"),
}


def leads(*rows: dict[str, Any], pending: bool = True) -> pd.DataFrame:
    """A normalized chunk: GOOD values overridden per row, strings as ``string``, rows 1..n."""
    records = [{**GOOD, C.ROW: i + 1, **row} for i, row in enumerate(rows)]
    df = pd.DataFrame(records)
    df = df.astype({c: "string" for c in df.columns if c != C.ROW}).astype({C.ROW: "int64"})
    if pending:
        df[C.OUTCOME] = pd.array([None] * len(df), dtype="string")
        df[C.REASON] = pd.array([None] * len(df), dtype="string")
    return df


def test_valid_leads_pass_and_are_tidied() -> None:
    df = leads({C.STATE: " ny ", C.ZIP: " 2134 "}, {C.ZIP: "660-2999", C.FIRST_NAME: "  Ada "}, {})
    out = validate_leads(df)
    assert out[C.OUTCOME].isna().all()
    assert out[C.STATE].tolist() == ["NY", "CA", "CA"]
    assert out[C.ZIP].tolist() == ["02134", "00660-2999", "94105"]
    assert out[C.FIRST_NAME].tolist() == ["Ada", "Ada", "Ada"]


@pytest.mark.parametrize("column", list(BAD))
def test_each_failing_column_is_named(column: str) -> None:
    value, message = BAD[column]
    out = validate_leads(leads({}, {column: value}, {}))
    assert out[C.OUTCOME].tolist() == [pd.NA, "invalid", pd.NA]
    assert out[C.REASON].tolist() == [pd.NA, message, pd.NA]


def test_every_failure_of_a_row_is_listed_in_column_order() -> None:
    out = validate_leads(leads({C.ZIP: "ABCDE", C.EMAIL: "nope", C.PRIORITY: "0"}))
    assert out[C.REASON].iloc[0] == (
        "email: not a valid e-mail address; zip: not a 5-digit ZIP; "
        "priority: not a whole number from 1 to 1000"
    )


@pytest.mark.parametrize(
    ("zip_code", "country", "reason"),
    [
        ("94105-1234", None, pd.NA),
        ("K1A 0B1", "CA", pd.NA),
        ("k1a0b1", " canada ", pd.NA),
        ("K1A 0B1", None, "zip: postal code does not match the country"),
        ("94105", "CA", "zip: postal code does not match the country"),
        ("941O5", None, "zip: not a 5-digit ZIP"),
    ],
)
def test_zip_codes_and_canadian_postal_codes(zip_code: str, country: str | None, reason: object) -> None:
    out = validate_leads(leads({C.ZIP: zip_code, C.COUNTRY: country}))
    assert out[C.REASON].tolist() == [reason]


@pytest.mark.parametrize(("priority", "ok"), [("1", True), ("1000", True), ("12.0", True), ("0", False),
                                              ("1001", False), ("-3", False), ("1e2", False), ("", False)])
def test_priority_is_a_whole_number_from_1_to_1000(priority: str, ok: bool) -> None:
    out = validate_leads(leads({C.PRIORITY: priority}))
    assert out[C.OUTCOME].isna().iloc[0] == ok


def test_rows_already_decided_are_not_validated_or_changed() -> None:
    df = leads({C.EMAIL: "bad", C.STATE: " ny"}, {C.EMAIL: "bad"})
    df.loc[0, C.OUTCOME] = "invalid"
    df.loc[0, C.REASON] = "phone: missing"
    out = validate_leads(df)
    assert out[C.REASON].tolist() == ["phone: missing", "email: not a valid e-mail address"]
    assert out[C.STATE].tolist() == [" ny", "CA"]


def test_reasons_land_on_the_right_rows_whatever_the_index() -> None:
    df = leads({}, {C.EMAIL: "bad"}, {}, {C.STATE: "x"})
    df.index = [30, 30, 10, 20]
    df.loc[df[C.ROW] == 1, C.OUTCOME] = "duplicate"
    out = validate_leads(df)
    assert out.index.tolist() == [30, 30, 10, 20]
    assert out[C.OUTCOME].tolist() == ["duplicate", "invalid", pd.NA, "invalid"]
    assert out[C.REASON].tolist() == [
        pd.NA, "email: not a valid e-mail address", pd.NA, "state: not a 2-letter code",
    ]


def test_optional_columns_may_be_absent_but_the_phone_may_not() -> None:
    df = leads({}, {C.PHONE_E164: "+1415"})[[C.ROW, C.PHONE_E164]]
    out = validate_leads(df)
    assert out[C.REASON].tolist() == [pd.NA, "phone_e164: not an E.164 number"]
    with pytest.raises(ValueError, match="phone_e164"):
        validate_leads(df.drop(columns=[C.PHONE_E164]))


@pytest.mark.slow
@settings(max_examples=examples(30), deadline=None)
@given(st.lists(st.sets(st.sampled_from(sorted(BAD))), min_size=1, max_size=8))
def test_reason_names_exactly_the_bad_columns(bad_sets: list[set[str]]) -> None:
    rows = [{c: BAD[c][0] for c in bad} for bad in bad_sets]
    out = validate_leads(leads(*rows))
    for (_, row), bad in zip(out.iterrows(), bad_sets, strict=True):
        expected = {BAD[c][1] for c in bad}
        got = set() if pd.isna(row[C.REASON]) else set(row[C.REASON].split("; "))
        assert got == expected
        assert (row[C.OUTCOME] == "invalid") if bad else pd.isna(row[C.OUTCOME])
    assert len(out) == len(bad_sets)
    assert np.array_equal(out[C.ROW].to_numpy(), np.arange(1, len(bad_sets) + 1))


def provider_leads(**columns: list[Any]) -> pd.DataFrame:
    count = len(next(iter(columns.values())))
    df = leads(*({} for _ in range(count)))
    for name, values in columns.items():
        df[name] = pd.array(values, dtype="string") if all(isinstance(v, str | None) for v in values) else values
    return df


def test_engage_voice_requires_an_external_id() -> None:
    df = provider_leads(**{C.EXTERNAL_ID: ["L-1", " ", None]})
    out = validate_for_provider(df, provider_class("engage-voice").field_rules)
    assert out[C.REASON].tolist() == [pd.NA] + ["external_id: required by engage-voice"] * 2
    assert validate_for_provider(df, provider_class("voiso").field_rules)[C.OUTCOME].isna().all()


def test_voiso_priority_and_context_header_keys() -> None:
    df = provider_leads(**{
        C.PRIORITY: ["1000", "1001", None, "7"],
        C.extra("X-Call-Context"): ["promo", None, "x", None],
        C.extra("X-Bad Key"): [None, None, "v", None],
        C.extra("Score"): ["1", "2", "3", "4"],
    })
    out = validate_for_provider(df, provider_class("voiso").field_rules)
    assert out[C.REASON].tolist() == [
        pd.NA,
        "priority: not a whole number from 1 to 1000 for voiso",
        "context_headers: 'X-Bad Key' is not a valid SIP header name",
        pd.NA,
    ]


def test_nlpearl_call_data_values_become_strings_and_keys_are_checked() -> None:
    df = provider_leads(**{
        C.extra("score"): [1.0, 2.5, np.nan],
        C.extra("visits"): pd.array([3, None, 4], dtype="Int64"),
        C.extra("vip"): [True, False, True],
        C.extra("bad\tkey"): [None, "x", None],
        C.extra("note"): ["n" * 1001, "ok", None],
    })
    out = validate_for_provider(df, provider_class("nlpearl").field_rules)
    assert out[C.extra("score")].tolist() == ["1", "2.5", pd.NA]
    assert out[C.extra("visits")].tolist() == ["3", pd.NA, "4"]
    assert out[C.extra("vip")].tolist() == ["True", "False", "True"]
    assert all(str(out[c].dtype) == "string" for c in C.extra_columns(out.columns))
    assert out[C.REASON].tolist() == [
        "extra.note: longer than 1000 characters for nlpearl",
        "extra.bad\tkey: key 'bad\\tkey' is not allowed by nlpearl",
        pd.NA,
    ]


def test_provider_rules_touch_only_pending_leads_and_unknown_providers_check_nothing() -> None:
    df = provider_leads(**{C.EXTERNAL_ID: [None, None]})
    df.loc[0, C.OUTCOME] = "duplicate"
    out = validate_for_provider(df, provider_class("engage-voice").field_rules)
    assert out[C.OUTCOME].tolist() == ["duplicate", "invalid"]
    assert validate_for_provider(df, ProviderRules("some-new-dialer"))[C.OUTCOME].tolist() == ["duplicate", pd.NA]


def test_a_canadian_province_without_a_country_means_canada() -> None:
    out = validate_leads(leads({C.ZIP: "B3H 4R2", C.STATE: "NS"}, {C.ZIP: "94105", C.STATE: "NS"}))
    assert out[C.REASON].tolist() == [pd.NA, "zip: postal code does not match the country"]
