"""Do-not-call: suppression on every phone of a lead, and the list readers (files and SQL)."""

from __future__ import annotations

import gzip
import logging
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from schemas.columns import ALT_PHONES, OUTCOME, PHONE_E164, REASON, ROW
from tasks.dnc_lists import DncError, load_dnc_file, load_dnc_lists, read_dnc_file, read_dnc_sql
from tasks.rules.dnc import suppress


def chunk(primary: list[str | None], alts: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({
        ROW: range(1, len(primary) + 1),
        PHONE_E164: pd.array(primary, dtype="string"),
        ALT_PHONES: pd.array(alts, dtype="string"),
        OUTCOME: pd.array([None] * len(primary), dtype="string"),
        REASON: pd.array([None] * len(primary), dtype="string"),
    })


def keys(*numbers: int) -> np.ndarray:
    return np.unique(np.array(numbers, dtype=np.int64))


def test_primary_and_alternate_phones_are_checked_against_every_list() -> None:
    df = chunk(
        ["+14158675309", "+12128675309", "+13108675309", "+16178675309", None],
        [None, "+16138675309|+17188675309", None, "+447700900123", None],
    )
    df.index = [50, 40, 30, 20, 10]
    out = suppress(df, {"national": keys(14158675309, 17188675309), "internal": keys(17188675309, 13108675309)})
    assert out.index.tolist() == [50, 40, 30, 20, 10]
    assert out[OUTCOME].tolist() == ["suppressed", "suppressed", "suppressed", pd.NA, pd.NA]
    assert out[REASON].tolist() == [
        "on do-not-call list (national)",
        "on do-not-call list (national, internal)",
        "on do-not-call list (internal)",
        pd.NA,
        pd.NA,
    ]


def test_only_pending_leads_are_suppressed() -> None:
    df = chunk(["+14158675309", "+14158675309"], [None, None])
    df.loc[0, OUTCOME] = "duplicate"
    df.loc[0, REASON] = "duplicate of row 9 (same phone)"
    out = suppress(df, {"national": keys(14158675309)})
    assert out[OUTCOME].tolist() == ["duplicate", "suppressed"]
    assert out[REASON].iloc[0] == "duplicate of row 9 (same phone)"


def test_empty_lists_and_unsorted_lists() -> None:
    df = chunk(["+14158675309"], [None])
    assert suppress(df, {"national": keys()})[OUTCOME].isna().all()
    assert suppress(df, {})[OUTCOME].isna().all()
    with pytest.raises(ValueError, match="sorted"):
        suppress(df, {"internal": np.array([14158675309, 12128675309], dtype=np.int64)})


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_registry_file_formats(tmp_path: Path) -> None:
    plain = write(tmp_path / "201.txt", "# area code 201\n2015550123\n\n201,5550124\n 201-555-0125 \n")
    assert load_dnc_file(plain).tolist() == [12015550123, 12015550124, 12015550125]
    changes = write(tmp_path / "changes.txt", "2015550123,A,20260101\n2125550100,D,20260102\n")
    assert load_dnc_file(changes).tolist() == [12015550123, 12125550100]


def test_bad_lines_are_counted_by_line_number_and_never_logged_by_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "dnc.txt", "2015550123\n12345\n\n# note\n2015550199\nnot a number\n")
    listed = read_dnc_file(path)
    assert listed.keys.tolist() == [12015550123, 12015550199]
    assert (listed.entries, listed.bad_lines) == (4, (2, 6))
    with caplog.at_level(logging.WARNING, logger="tasks.dnc_lists"):
        load_dnc_file(path)
    assert "2 skipped without a usable number (lines 2, 6)" in caplog.text
    assert "12345" not in caplog.text
    assert "2015550123" not in caplog.text


def test_internal_csv_with_a_phone_column(tmp_path: Path) -> None:
    path = write(tmp_path / "internal.csv", "Name,Phone Number,Added\nAda,+1 (415) 867-5309,2026-01-01\n"
                                          "Bob,+44 20 7946 0958,2026-02-01\nCy,,2026-03-01\n")
    listed = read_dnc_file(path)
    assert listed.keys.tolist() == [14158675309, 442079460958]
    assert listed.bad_lines == (4,)
    with pytest.raises(DncError, match=r"no phone column.*'Name', 'Added'"):
        read_dnc_file(write(tmp_path / "nophone.csv", "Name,Added\nAda,2026\n"))


def test_compressed_files_and_a_missing_file(tmp_path: Path) -> None:
    gz = tmp_path / "national.txt.gz"
    gz.write_bytes(gzip.compress(b"2015550123\n2125550100\n"))
    assert load_dnc_file(gz).tolist() == [12015550123, 12125550100]
    zipped = tmp_path / "national.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("201.txt", "201,5550123\n")
    assert load_dnc_file(zipped).tolist() == [12015550123]
    with pytest.raises(DncError, match=r"missing\.txt"):
        read_dnc_file(tmp_path / "missing.txt")


def test_named_sources_merge_into_one_list(tmp_path: Path) -> None:
    a = write(tmp_path / "201.txt", "2015550123\n")
    b = write(tmp_path / "212.txt", "2125550100\n2015550123\n")
    c = write(tmp_path / "ours.csv", "phone\n4158675309\n")
    lists = load_dnc_lists([f"national={a}", f"national={b}", str(c)])
    assert sorted(lists) == ["national", "ours"]
    assert lists["national"].tolist() == [12015550123, 12125550100]
    assert lists["ours"].tolist() == [14158675309]
    with pytest.raises(DncError, match="URL#table"):
        load_dnc_lists([], ["sqlite:///x.db"])


ENGINES = {
    "sqlite": None,
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}


@pytest.fixture(params=list(ENGINES))
def dnc_table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    url = ENGINES[request.param] or f"sqlite:///{tmp_path / 'dnc.db'}"
    table = f"Do Not Call {uuid.uuid4().hex[:8]}"
    meta = sa.MetaData()
    dnc = sa.Table(table, meta, sa.Column("id", sa.Integer), sa.Column("Phone", sa.String(40)))
    engine = sa.create_engine(url)
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(dnc.insert(), [{"id": 1, "Phone": "4158675309"}, {"id": 2, "Phone": None},
                                    {"id": 3, "Phone": "(212) 867-5309"}, {"id": 4, "Phone": "n/a"}])
    try:
        yield url, table
    finally:
        meta.drop_all(engine)
        engine.dispose()


def test_sql_table_and_query(dnc_table: tuple[str, str]) -> None:
    url, table = dnc_table
    listed = read_dnc_sql(url, table)
    assert listed.name == table
    assert listed.keys.tolist() == [12128675309, 14158675309]
    assert listed.entries == 3
    assert len(listed.bad_lines) == 1
    quote = "`" if url.startswith("mysql") else '"'
    query = f"select {quote}Phone{quote} from {quote}{table}{quote} where id = :id"
    assert read_dnc_sql(url, query, params={"id": 3}).keys.tolist() == [12128675309]
    lists = load_dnc_lists([], [f"internal={url}#{table}"])
    assert lists["internal"].tolist() == [12128675309, 14158675309]


def test_sql_errors_name_the_source_but_not_the_password() -> None:
    url = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:5432/test"
    with pytest.raises(DncError, match="no_such_table") as caught:
        read_dnc_sql(url, "no_such_table")
    assert "s3cret-pw" not in str(caught.value)
    assert "***" in str(caught.value)
    with pytest.raises(DncError) as caught:
        read_dnc_sql(url, "select phone from no_such_table")
    assert "s3cret-pw" not in str(caught.value)
