"""Dedup, DNC and the key frame give exactly what small per-row oracles give, on random data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from schemas.columns import ALT_PHONES, EXTERNAL_ID, OUTCOME, PHONE_E164, REASON, ROW
from schemas.marks import mark
from schemas.outcomes import Outcome
from tasks.rules.dedup import DUPLICATE_OF, KEY, find_duplicates, mark_duplicates
from tasks.rules.dnc import contains, suppress
from tasks.stages import dedup_keys

PHONES = ["+14158675309", "+12128675309", "+16138675309", "+442079460958", "+525555555555", "+18008675309"]


def kept_rows(groups: Mapping[int, Hashable | None], keep: str) -> dict[int, int]:
    """Row -> the row it duplicates, among rows with the same group (None: in no group)."""
    members: dict[Hashable, list[int]] = defaultdict(list)
    for row, group in groups.items():
        if group is not None:
            members[group].append(row)
    found = {}
    for rows in members.values():
        rows.sort()
        for row in rows:
            others = [r for r in rows if r != row]
            target = {"first": rows[0], "last": rows[-1]}.get(keep, others[0] if others else row)
            if target != row:
                found[row] = target
    return found


def duplicates_oracle(keys: pd.DataFrame, keep: str, by_external_id: bool) -> pd.DataFrame:
    """``find_duplicates`` one row at a time: the phone pass, then external ids among the rows it kept."""
    rows = keys[ROW].tolist()
    phones = kept_rows({r: k if k > 0 else None for r, k in zip(rows, keys[KEY].fillna(0), strict=True)}, keep)
    found = {row: (of, "same phone") for row, of in phones.items()}
    if by_external_id:
        ids = [None if pd.isna(v) or not str(v).strip() else str(v).strip() for v in keys[EXTERNAL_ID]]
        left = {r: i for r, i in zip(rows, ids, strict=True) if r not in phones}
        found.update({row: (of, "same external_id") for row, of in kept_rows(left, keep).items()})
    ordered = sorted(found.items())
    return pd.DataFrame({
        ROW: np.array([row for row, _ in ordered], dtype=np.int64),
        DUPLICATE_OF: np.array([of for _, (of, _) in ordered], dtype=np.int64),
        REASON: pd.array([f"duplicate of row {of} ({why})" for _, (of, why) in ordered], dtype="string"),
    })


def phone_number(e164: object) -> int:
    """The phone key of one E.164 value (0: none)."""
    return int(str(e164).lstrip("+")) if isinstance(e164, str) else 0


def suppress_oracle(df: pd.DataFrame, lists: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """``suppress`` one row at a time: every list holding the primary phone or an alternate."""
    reasons = []
    for primary, alts in zip(df[PHONE_E164], df[ALT_PHONES], strict=True):
        numbers = {phone_number(primary)}
        if isinstance(alts, str):
            numbers |= {phone_number(alt.strip()) for alt in alts.split("|") if alt.strip()}
        names = [name for name, keys in lists.items() if (numbers - {0}) & set(keys.tolist())]
        reasons.append(f"on do-not-call list ({', '.join(names)})" if names else None)
    reason = pd.Series(reasons, index=df.index, dtype="string")
    return mark(df, reason.notna(), Outcome.SUPPRESSED, reason)


@st.composite
def key_frames(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(0, 60))
    rows = draw(st.permutations(range(1, 3 * size + 1)))[:size]
    phones = draw(st.lists(st.integers(0, 8) | st.integers(0, 10**15), min_size=size, max_size=size))
    ids = draw(st.lists(st.sampled_from([None, "", " ", "a", " a", "b", "c "]), min_size=size, max_size=size))
    return pd.DataFrame({ROW: pd.array(rows, dtype="int64"), KEY: pd.array(phones, dtype="int64"),
                         EXTERNAL_ID: pd.array(ids, dtype="string")})


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None)
@given(key_frames(), st.sampled_from(["first", "last", "all"]), st.booleans())
def test_find_duplicates_matches_the_oracle(keys: pd.DataFrame, keep: str, by_id: bool) -> None:
    expected = duplicates_oracle(keys, keep, by_id)
    got = find_duplicates(keys, keep=keep, by_external_id=by_id)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got, expected)


@st.composite
def chunks(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(0, 40))
    number = st.sampled_from(PHONES) | st.none()
    alts = st.lists(st.sampled_from(PHONES), max_size=3).map(lambda a: "|".join(a) or None) | st.sampled_from(
        [" +14158675309 | +12128675309 ", "+14158675309||+16138675309"]
    )
    done = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    df = pd.DataFrame({
        ROW: pd.array(draw(st.permutations(range(1, size + 1))), dtype="int64"),
        PHONE_E164: pd.array(draw(st.lists(number, min_size=size, max_size=size)), dtype="string"),
        ALT_PHONES: pd.array(draw(st.lists(alts, min_size=size, max_size=size)), dtype="string"),
        OUTCOME: pd.array(["invalid" if d else None for d in done], dtype="string"),
        REASON: pd.array(["earlier" if d else None for d in done], dtype="string"),
        EXTERNAL_ID: pd.array(draw(st.lists(st.sampled_from(["x", None]), min_size=size, max_size=size)),
                              dtype="string"),
    })
    df.index = draw(st.permutations(range(500, 500 + size)))
    return df


@settings(max_examples=examples(200), deadline=None)
@given(chunks(), st.lists(st.sampled_from(PHONES), max_size=4), st.lists(st.sampled_from(PHONES), max_size=4))
def test_suppress_matches_the_oracle(df: pd.DataFrame, national: list[str], internal: list[str]) -> None:
    def keys(numbers: list[str]) -> np.ndarray:
        return np.unique(np.array([int(n[1:]) for n in numbers], dtype=np.int64))

    lists = {"national": keys(national), "internal": keys(internal)}
    pd.testing.assert_frame_equal(suppress(df, lists), suppress_oracle(df, lists))
    values = np.array([0, *keys(PHONES)[::-1], 5], dtype=np.int64)
    national = set(lists["national"].tolist())
    assert contains(lists["national"], values).tolist() == [v > 0 and v in national for v in values.tolist()]


@pytest.mark.slow
@settings(max_examples=examples(200), deadline=None)
@given(chunks(), st.sampled_from(["first", "last", "all"]))
def test_key_frame_and_marking_match_the_oracle(df: pd.DataFrame, keep: str) -> None:
    df[KEY] = pd.array([int(p[1:]) if isinstance(p, str) else 0 for p in df[PHONE_E164]], dtype="Int64")
    keys = dedup_keys(df)
    pending = df[df[OUTCOME].isna()]
    expected_keys = pd.DataFrame({ROW: pending[ROW].astype("int64"), KEY: pending[KEY].astype("int64"),
                                  EXTERNAL_ID: pending[EXTERNAL_ID].astype("string")})
    pd.testing.assert_frame_equal(keys, expected_keys)
    for dups in (find_duplicates(keys, keep=keep), find_duplicates(keys, keep=keep).iloc[::-1]):  # type: ignore[arg-type]
        reasons = df[ROW].map(dict(zip(dups[ROW], dups[REASON], strict=True))).astype("string")
        pd.testing.assert_frame_equal(mark_duplicates(df, dups), mark(df, reasons.notna(), "duplicate", reasons))
