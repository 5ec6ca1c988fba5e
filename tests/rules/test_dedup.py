"""Duplicates within a run (keep first/last/all, by external id, across chunks) and against the ledger."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas.columns import EXTERNAL_ID, OUTCOME, PHONE_E164, REASON, ROW
from tasks.rules.dedup import DUPLICATE_OF, KEY, already_loaded, find_duplicates

KEEPS = ("first", "last", "all")


def key_frame(phones: list[int], ids: list[str | None] | None = None, rows: list[int] | None = None) -> pd.DataFrame:
    rows = rows if rows is not None else list(range(1, len(phones) + 1))
    ids = ids if ids is not None else [None] * len(phones)
    return pd.DataFrame({ROW: pd.array(rows, dtype="int64"), KEY: pd.array(phones, dtype="int64"),
                         EXTERNAL_ID: pd.array(ids, dtype="string")})


def test_keep_first_last_and_all() -> None:
    keys = key_frame([10, 20, 10, 0, 10, 0, 30])
    first = find_duplicates(keys, keep="first")
    assert first[ROW].tolist() == [3, 5]
    assert first[DUPLICATE_OF].tolist() == [1, 1]
    assert first["reason"].tolist() == ["duplicate of row 1 (same phone)"] * 2
    last = find_duplicates(keys, keep="last")
    assert last[ROW].tolist() == [1, 3]
    assert last[DUPLICATE_OF].tolist() == [5, 5]
    every = find_duplicates(keys, keep="all")
    assert every[ROW].tolist() == [1, 3, 5]
    assert every[DUPLICATE_OF].tolist() == [3, 1, 1]


def test_by_external_id_among_the_rows_the_phone_pass_kept() -> None:
    keys = key_frame([10, 20, 10, 40, 50], ["a", "b", "c", " b ", ""])
    dups = find_duplicates(keys, by_external_id=True)
    assert dups[ROW].tolist() == [3, 4]
    assert dups["reason"].tolist() == [
        "duplicate of row 1 (same phone)", "duplicate of row 2 (same external_id)",
    ]
    assert find_duplicates(keys)[ROW].tolist() == [3]


def test_order_of_chunks_does_not_matter() -> None:
    chunk_a = key_frame([10, 20, 30], rows=[1, 2, 3])
    chunk_b = key_frame([30, 10, 40], rows=[4, 5, 6])
    forward = find_duplicates(pd.concat([chunk_a, chunk_b], ignore_index=True))
    backward = find_duplicates(pd.concat([chunk_b, chunk_a], ignore_index=True))
    pd.testing.assert_frame_equal(forward, backward)
    assert forward[ROW].tolist() == [4, 5]
    assert forward[DUPLICATE_OF].tolist() == [3, 1]


def test_empty_key_frame_and_bad_keep() -> None:
    empty = find_duplicates(pd.DataFrame(columns=[ROW, KEY, EXTERNAL_ID]))
    assert empty.columns.tolist() == [ROW, DUPLICATE_OF, "reason"]
    assert empty.empty
    with pytest.raises(ValueError, match="keep"):
        find_duplicates(key_frame([1]), keep="most")  # type: ignore[arg-type]


runs = st.lists(
    st.tuples(st.integers(0, 6), st.sampled_from([None, "", "a", "b", "c", "d"])), min_size=0, max_size=40
)


@settings(max_examples=examples(150), deadline=None)
@given(runs, st.sampled_from(KEEPS), st.booleans(), st.randoms(use_true_random=False))
def test_accounting_and_idempotence(
    leads: list[tuple[int, str | None]], keep: str, by_id: bool, rnd: object
) -> None:
    rows = list(range(1, len(leads) + 1))
    rnd.shuffle(rows)  # type: ignore[attr-defined]
    keys = key_frame([p for p, _ in leads], [i for _, i in leads], rows)
    dups = find_duplicates(keys, keep=keep, by_external_id=by_id)  # type: ignore[arg-type]
    assert dups[ROW].is_unique
    assert set(dups[ROW]) <= set(rows)
    assert set(dups[DUPLICATE_OF]) <= set(rows)
    assert (dups[ROW] != dups[DUPLICATE_OF]).all()
    kept = keys[~keys[ROW].isin(dups[ROW])]
    assert len(kept) + len(dups) == len(keys)
    assert find_duplicates(kept, keep=keep, by_external_id=by_id).empty  # type: ignore[arg-type]
    phones = kept.loc[kept[KEY] > 0, KEY]
    assert phones.is_unique
    if by_id:
        ids = kept[EXTERNAL_ID].str.strip()
        assert ids[ids.notna() & (ids != "")].is_unique


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(st.integers(0, 5), max_size=40), st.sampled_from(KEEPS))
def test_which_rows_are_kept(phones: list[int], keep: str) -> None:
    keys = key_frame(phones)
    dups = find_duplicates(keys, keep=keep)  # type: ignore[arg-type]
    groups = keys[keys[KEY] > 0].groupby(KEY)[ROW]
    if keep == "first":
        expected_kept = set(groups.min())
    elif keep == "last":
        expected_kept = set(groups.max())
    else:
        counts = keys[KEY].map(keys[KEY].value_counts())
        expected_kept = set(keys.loc[(keys[KEY] > 0) & (counts == 1), ROW])
    dropped = set(dups[ROW])
    assert dropped == set(keys.loc[keys[KEY] > 0, ROW]) - expected_kept
    same = keys.set_index(ROW)[KEY]
    assert all(same[r] == same[o] for r, o in zip(dups[ROW], dups[DUPLICATE_OF], strict=True))
    if keep != "all":
        assert set(dups[DUPLICATE_OF]) <= expected_kept


def chunk(e164: list[str | None], outcome: list[str | None] | None = None) -> pd.DataFrame:
    return pd.DataFrame({ROW: range(1, len(e164) + 1), PHONE_E164: pd.array(e164, dtype="string"),
                         OUTCOME: pd.array(outcome or [None] * len(e164), dtype="string"),
                         REASON: pd.array([None] * len(e164), dtype="string")})


def test_already_loaded_marks_pending_leads_with_the_latest_load() -> None:
    loaded = pd.DataFrame({
        KEY: [14158675309, 14158675309, 12128675309],
        "provider": ["voiso", "voiso", "nlpearl"],
        "campaign": ["spring", "summer", "c-9"],
        "loaded_at": pd.to_datetime(["2026-03-01T10:00Z", "2026-06-02T23:30Z", "2026-05-05T00:00Z"], utc=True),
        "run_id": ["r-1", "r-2", "r-3"],
    })
    df = chunk(["+14158675309", "+13108675309", None, "+12128675309"], [None, None, None, "invalid"])
    out = already_loaded(df, loaded)
    assert out[OUTCOME].tolist() == ["duplicate", pd.NA, pd.NA, "invalid"]
    assert out[REASON].iloc[0] == "already loaded to voiso/summer on 2026-06-02 (run r-2)"
    assert already_loaded(df, loaded.iloc[:0])[OUTCOME].tolist() == [pd.NA, pd.NA, pd.NA, "invalid"]
