"""Column mapping: automatic guesses, explicit overrides, mapping files."""

from __future__ import annotations

from pathlib import Path

import pytest
from sourcehelp import read_all

from schemas import columns as c
from schemas.sources import MappingFile
from tasks.sources import SourceError, auto_mapping
from tasks.sources.mapping import dedupe_headers, plan_columns


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Phone", c.PHONE), ("Phone Number", c.PHONE), ("phone_number", c.PHONE),
        ("PhoneNumber", c.PHONE), ("leadPhone", c.PHONE), ("Mobile", c.PHONE),
        ("Cell", c.PHONE), ("Telephone", c.PHONE), ("Tel", c.PHONE),
        ("Primary Phone", c.PHONE), ("Phones", c.PHONES), ("Other Phones", c.PHONES),
        ("Additional Phones", c.PHONES), ("Alt Phone", c.PHONES), ("Alt Phones", c.PHONES),
        ("id", c.EXTERNAL_ID), ("external_id", c.EXTERNAL_ID), ("externId", c.EXTERNAL_ID),
        ("Lead ID", c.EXTERNAL_ID), ("lead_id", c.EXTERNAL_ID), ("CRM ID", c.EXTERNAL_ID),
        ("Record ID", c.EXTERNAL_ID), ("First Name", c.FIRST_NAME), ("firstName", c.FIRST_NAME),
        ("fname", c.FIRST_NAME), ("given name", c.FIRST_NAME), ("Last Name", c.LAST_NAME),
        ("lastName", c.LAST_NAME), ("Surname", c.LAST_NAME), ("Email", c.EMAIL),
        ("E-mail", c.EMAIL), ("Email Address", c.EMAIL), ("Address", c.ADDRESS1),
        ("Street", c.ADDRESS1), ("Address 1", c.ADDRESS1), ("address_line1", c.ADDRESS1),
        ("Address 2", c.ADDRESS2), ("address_line2", c.ADDRESS2), ("City", c.CITY),
        ("State", c.STATE), ("ST", c.STATE), ("Province", c.STATE), ("Region", c.STATE),
        ("ZIP", c.ZIP), ("Zip Code", c.ZIP), ("Postal Code", c.ZIP), ("Postcode", c.ZIP),
        ("Country", c.COUNTRY), ("Timezone", c.TIMEZONE), ("Time Zone", c.TIMEZONE),
        ("TZ", c.TIMEZONE), ("leadTimezone", c.TIMEZONE), ("Priority", c.PRIORITY),
    ],
)
def test_common_headers(header: str, field: str) -> None:
    assert auto_mapping([header, "Unrelated"]) == {field: header}


def test_best_alias_wins_then_first_column() -> None:
    assert auto_mapping(["Mobile", "Phone", "Cell"]) == {c.PHONE: "Phone"}
    assert auto_mapping(["Cell", "Mobile"]) == {c.PHONE: "Mobile"}
    assert auto_mapping(["tel", "TEL"]) == {c.PHONE: "tel"}
    assert auto_mapping(["Notes", "Campaign"]) == {}


def test_explicit_mapping_overrides_and_rest_is_guessed() -> None:
    plan = plan_columns(["Phone", "Cell", "First Name", "Notes"], {c.PHONE: "Cell"})
    assert plan.mapped == {c.PHONE: "Cell", c.FIRST_NAME: "First Name"}
    assert plan.extras == ["Phone", "Notes"]


def test_mapping_file_extra_and_ignore() -> None:
    mf = MappingFile.from_document(
        {"phone": "Tel #", "extra": ["Campaign"], "ignore": ["First Name"]}
    )
    plan = plan_columns(["Tel #", "First Name", "Campaign", "Junk", "City"], None, mf)
    assert plan.mapped == {c.PHONE: "Tel #", c.CITY: "City"}
    assert plan.extras == ["Campaign"]
    spec_wins = plan_columns(["Tel #", "Phone"], {c.PHONE: "Phone"}, mf)
    assert spec_wins.mapped == {c.PHONE: "Phone"}


def test_mapping_file_through_the_reader(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text("phone: 'Tel #'\nextra: [Campaign]\nignore: [Junk]\n")
    path = tmp_path / "leads.csv"
    path.write_text("Tel #,Campaign,Junk,Other\n555,spring,x,y\n")
    reader, chunks = read_all(path, mapping_file=str(tmp_path / "map.yaml"))
    assert list(chunks[0].columns) == [c.ROW, c.PHONE, "extra.Campaign"]
    assert reader.columns_mapped == {c.PHONE: "Tel #"}
    assert reader.extras == ["Campaign"]


def test_mapping_file_errors(tmp_path: Path, leads_csv: Path) -> None:
    with pytest.raises(SourceError, match="mapping file not found"):
        read_all(leads_csv, mapping_file=str(tmp_path / "none.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("phoen: Phone\n")
    with pytest.raises(SourceError, match="unknown lead field"):
        read_all(leads_csv, mapping_file=str(bad))
    extra = tmp_path / "extra.yaml"
    extra.write_text("extra: [Campaign]\n")
    with pytest.raises(SourceError, match=r"column 'Campaign': mapped column \(custom field\)"):
        read_all(leads_csv, mapping_file=str(extra))


def test_one_column_can_feed_two_fields(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("Phone\n555\n")
    _, chunks = read_all(path, mapping={c.EXTERNAL_ID: "Phone", c.PHONE: "Phone"})
    assert chunks[0][c.EXTERNAL_ID].tolist() == chunks[0][c.PHONE].tolist() == ["555"]


def test_dedupe_headers_is_deterministic() -> None:
    names, notes = dedupe_headers(["a", "a", "a", " ", "a_2"])
    assert names == ["a", "a_3", "a_4", "column_4", "a_2"]
    assert len(notes) == 3
