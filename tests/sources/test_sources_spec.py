"""SourceSpec: JSON-friendly, masked passwords, stable keys."""

from __future__ import annotations

import pydantic
import pytest

from schemas.sources import SourceSpec, mask_url
from tasks.sources import SourceError, open_source

URL = "postgresql+psycopg://leads:s3cr%40t/x@db.example.com:5432/crm?sslmode=require"


def test_password_never_shows() -> None:
    spec = SourceSpec(location=URL, table="leads")
    for text in (repr(spec), str(spec), spec.key(), spec.describe()):
        assert "s3cr" not in text
    assert spec.describe() == (
        "postgresql+psycopg://leads:***@db.example.com:5432/crm?sslmode=require table leads"
    )
    assert spec.key() == "postgresql+psycopg://leads@db.example.com:5432/crm?sslmode=require#table=leads"


def test_secret_query_values_are_masked() -> None:
    assert mask_url("snowflake://u@acct/db?password=abc&warehouse=w") == (
        "snowflake://u@acct/db?password=***&warehouse=w"
    )
    assert mask_url("/data/leads.csv") == "/data/leads.csv"
    assert mask_url("file:///data/a:b@c.csv") == "file:///data/a:b@c.csv"


def test_key_is_stable_and_tells_queries_apart() -> None:
    a = SourceSpec(location="sqlite:///x.db", query="select *\n from t where a = :a",
                   params={"a": 1})
    b = SourceSpec(location="sqlite:///x.db", query="select * from t  where a = :a",
                   params={"a": 1})
    c = SourceSpec(location="sqlite:///x.db", query="select * from t where a = :a",
                   params={"a": 2})
    assert a.key() == b.key() != c.key()
    assert SourceSpec(location="leads.csv").key() == "leads.csv"


def test_round_trips_as_json() -> None:
    spec = SourceSpec(location="leads.xlsx", sheet=1, mapping={"phone": "Cell"},
                      watermark_column="updated")
    assert SourceSpec.model_validate_json(spec.model_dump_json()) == spec


def test_rejects_unknown_fields_and_bad_values() -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown lead field"):
        SourceSpec(location="x.csv", mapping={"phoen": "Phone"})
    with pytest.raises(pydantic.ValidationError):
        SourceSpec(location="x.csv", delimiter=";;")
    with pytest.raises(pydantic.ValidationError):
        SourceSpec(location="x.csv", chunk_size=0)


def test_error_text_masks_password(tmp_path: object) -> None:
    with pytest.raises(SourceError) as info:
        list(open_source(SourceSpec(location="s3://key:supersecret@bucket/leads.csv")))
    assert "supersecret" not in str(info.value)


def test_public_names_and_json_schema() -> None:
    import tasks.sources as sources

    assert set(sources.__all__) == {
        "SourceError", "SourceReader", "auto_mapping", "load_mapping_file", "open_source"
    }
    assert all(hasattr(sources, name) for name in sources.__all__)
    schema = SourceSpec.model_json_schema()["properties"]
    assert {"location", "table", "query", "params", "mapping", "watermark_column"} <= set(schema)
