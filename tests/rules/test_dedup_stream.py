"""In-run duplicates chunk by chunk: what each chunk gets is what the whole-run search finds for its rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas.columns import EXTERNAL_ID, ROW
from tasks.rules.dedup import KEY, find_duplicates
from tasks.rules.dedup_stream import FirstSeenDuplicates, SortedKeys, WholeRunDuplicates

#: Few phones and ids, so that rows collide within and across chunks.
PHONE = st.sampled_from([0, 2125550101, 2125550102, 4155550103, 3035550104])
IDENT = st.one_of(st.none(), st.sampled_from(["", " ", "a", "b", " a ", "c"]))


@st.composite
def chunked_runs(draw: st.DrawFn) -> list[pd.DataFrame]:
    """A run's key frames, chunk by chunk: rows rising across chunks, shuffled within one, some skipped."""
    row, chunks = 1, []
    for _ in range(draw(st.integers(1, 5))):
        size = draw(st.integers(0, 8))
        rows = []
        for _ in range(size):
            row += draw(st.integers(1, 3))  # rows already settled (invalid) leave gaps
            rows.append(row)
        rows = draw(st.permutations(rows))
        chunks.append(pd.DataFrame({
            ROW: pd.array(rows, dtype="int64"),
            KEY: pd.array([draw(PHONE) for _ in rows], dtype="int64"),
            EXTERNAL_ID: pd.array([draw(IDENT) for _ in rows], dtype="string")}))
    return chunks


def _same(got: list[pd.DataFrame], whole: pd.DataFrame) -> None:
    parts = [g for g in got if len(g)]
    joined = pd.concat(parts, ignore_index=True).sort_values(ROW, ignore_index=True) if parts else whole.iloc[:0]
    assert joined[ROW].tolist() == whole[ROW].tolist()
    assert joined["duplicate_of"].tolist() == whole["duplicate_of"].tolist()
    assert joined["reason"].astype(str).tolist() == whole["reason"].astype(str).tolist()


@settings(max_examples=examples(150), deadline=None)
@given(chunked_runs(), st.booleans())
def test_first_seen_chunk_by_chunk_equals_the_whole_run(chunks: list[pd.DataFrame], by_id: bool) -> None:
    stream = FirstSeenDuplicates(by_external_id=by_id)
    got = [stream.add(c) for c in chunks]
    for chunk, found in zip(chunks, got, strict=True):
        assert set(found[ROW]) <= set(chunk[ROW])  # each chunk gets its own rows only
    _same(got, find_duplicates(pd.concat(chunks, ignore_index=True), keep="first", by_external_id=by_id))


@pytest.mark.parametrize("keep", ["last", "all"])
@settings(max_examples=examples(50), deadline=None)
@given(chunks=chunked_runs(), by_id=st.booleans())
def test_last_and_all_wait_for_the_whole_run(keep: str, chunks: list[pd.DataFrame], by_id: bool) -> None:
    asked: list[int] = []

    def all_keys() -> list[pd.DataFrame]:
        asked.append(1)
        return chunks

    stream = WholeRunDuplicates(all_keys, keep=keep, by_external_id=by_id)
    got = [stream.add(c) for c in chunks]
    assert len(asked) == 1
    _same(got, find_duplicates(pd.concat(chunks, ignore_index=True), keep=keep, by_external_id=by_id))  # type: ignore[arg-type]


def test_a_later_chunk_names_the_row_of_an_earlier_one() -> None:
    stream = FirstSeenDuplicates(by_external_id=True)
    first = pd.DataFrame({ROW: [1, 2], KEY: [2125550101, 0], EXTERNAL_ID: pd.array(["a", "x"], dtype="string")})
    later = pd.DataFrame({ROW: [7, 9], KEY: [2125550101, 4155550103], EXTERNAL_ID: pd.array(["b", " x "],
                                                                                          dtype="string")})
    assert stream.add(first).empty
    found = stream.add(later)
    assert found[ROW].tolist() == [7, 9]
    assert found["reason"].tolist() == ["duplicate of row 1 (same phone)", "duplicate of row 2 (same external_id)"]


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3), max_size=6), max_size=5), st.lists(st.integers(-4, 4), max_size=6))
def test_sorted_keys_find_every_place_of_a_key(adds: list[list[int]], wanted: list[int]) -> None:
    index, held, place = SortedKeys(), [], 0
    for keys in adds:
        places = list(range(place, place + len(keys)))
        index.add(np.array(keys, dtype=np.int64), np.array(places, dtype=np.int64))
        held += zip(keys, places, strict=True)
        place += len(keys)
    got = sorted(index.places_of(np.array(wanted, dtype=np.int64)).tolist())
    assert got == sorted(p for k, p in held if k in set(wanted))
