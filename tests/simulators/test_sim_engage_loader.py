"""The fast Engage Voice loader against the reference one, on messy random requests."""

from __future__ import annotations

import gc
import itertools
import re
import sys
from typing import Any

import engage_reference as ref
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators import engage_loader as fast
from simulators import engage_model
from simulators.engage_loader import ENUMS, Upload
from simulators.engage_model import EngageSimConfig, EngageState

ARABIC = "".join(chr(0x660 + d) for d in range(10))  # Arabic-Indic digits: \d and isdecimal
#: Decimal digits (ASCII, Arabic-Indic, fullwidth, NKo, mathematical) and digits that are not
#: decimal (superscripts, circled one): ``str.isdigit`` accepts the latter, ``\d`` does not.
DIGITS = ("0123456789" + ARABIC + "\uff10\uff19\u07c0\U0001d7ce\U0001d7d7"
          + "\u00b2\u00b3\u00b9\u2460")
#: Digits, roman eight, spaces of several kinds, pipes, plus signs and letters.
CHARS = DIGITS + "\u2167" + "+|- .\t\n\u00a0\u2003\u200b" + "aZ\u00e9"
VALID_PHONES = ["4155550100", "4155550101", " 4155550102 ", ARABIC[4:6] + "15555" + ARABIC[:3],
                "4155550100|4155550104"]
VALID_E164 = ["+14155550100", "+14155550105", "+447911123456", " +33612345678",
              "+1" + ARABIC[4:6] + "155550106", "+0123456789"]

messy_text = st.text(alphabet=CHARS, max_size=18)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False), messy_text,
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from("abc"), inner, max_size=3), max_leaves=6)
digit_runs = st.text(alphabet=DIGITS, min_size=10, max_size=10) | st.text(alphabet=DIGITS, max_size=11)
good_phones = st.one_of(st.sampled_from(VALID_PHONES), digit_runs,
                        st.lists(st.sampled_from(VALID_PHONES) | digit_runs, min_size=2, max_size=3)
                        .map("|".join))
phones = st.one_of(good_phones, messy_text, st.integers(4155550100, 4155550110), values)
good_e164s = st.one_of(
    st.sampled_from(VALID_E164),
    st.tuples(st.sampled_from(["+", "+1", " +", "+0", "1", "+" + ARABIC[1]]),
              st.text(alphabet=DIGITS, min_size=5, max_size=15)).map("".join),
)
e164s = st.one_of(good_e164s, messy_text.map(lambda t: "+" + t), values)
FIELDS = {
    "externId": st.one_of(st.sampled_from(["a", " b ", "", "  "]), values),
    "leadPhone": phones, "leadPhoneE164": e164s,
    "leadId": values, "id": values, "suppressed": values, "listId": values,
    "firstName": values, "extendedLeadData": values,
}


def _shuffled(required: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Leads with the required fields, any of the others, keys in random order."""
    optional = {k: v for k, v in FIELDS.items() if k not in required}
    return st.fixed_dictionaries(required, optional=optional).flatmap(
        lambda d: st.permutations(list(d.items())).map(dict)
    )


externs = st.sampled_from(["a", " b ", "c"])
lead = st.one_of(
    _shuffled({}),
    _shuffled({"externId": externs, "leadPhone": good_phones}),
    _shuffled({"externId": externs, "leadPhone": st.sampled_from(VALID_PHONES),
               "leadPhoneE164": e164s}),
    _shuffled({"externId": externs, "leadPhoneE164": e164s}),
)
leads = st.lists(st.one_of(lead, lead, lead, values), max_size=12)
handling = st.sampled_from([None, *ENUMS["duplicateHandling"]])
accept = st.one_of(st.none(), st.integers(0, 14))


def _normal(store: Any) -> list[Any]:
    """Stored leads (in order, keys in order) with the load time blanked, and the phone index."""
    out: list[Any] = []
    for lead_id, stored in store.leads.items():
        assert stored["loadedDts"] == stored["uploadDate"]
        out.append((lead_id, [(k, "T" if k in ("loadedDts", "uploadDate") else v)
                              for k, v in stored.items()]))
    return [out, [(key, list(ids)) for key, ids in store.by_phone.items()]]


@given(st.lists(st.tuples(leads, handling, accept), min_size=1, max_size=3))
def test_fast_loader_matches_reference(uploads: list[tuple[list[Any], str | None, int | None]]) -> None:
    new_store, old_store = fast.CampaignStore(), ref.RefStore()
    new_ids, old_ids = itertools.count(1), itertools.count(1)
    for number, (batch, dup, first) in enumerate(uploads):
        raw = orjson.dumps({"duplicateHandling": dup, "uploadLeads": batch})
        upload = Upload(1000 + number % 2, "list", 4001, "Renewals", 115793)
        new_body, old_body = orjson.loads(raw), orjson.loads(raw)
        new = fast.load_leads(new_store, new_body, new_body["uploadLeads"], upload, new_ids, first)
        old = ref.load_leads(old_store, old_body, old_body["uploadLeads"], upload, old_ids, first)
        assert new == old
        assert orjson.dumps(new) == orjson.dumps(old)
        assert _normal(new_store) == _normal(old_store)
        assert next(new_ids) == next(old_ids)


@given(st.one_of(lead, values))
def test_row_checks_match_reference(row: Any) -> None:
    assert fast.row_problem(row) == ref.row_problem(row)
    assert fast.row_data(row) == ref.row_data(row)


@given(st.text(alphabet=CHARS, max_size=40))
def test_phone_checks_match_the_regexes(text: str) -> None:
    assert fast.phone_ok(text) == all(ref.US_PHONE.fullmatch(p) for p in text.split("|"))
    assert fast.e164_ok(text) == bool(ref.E164.fullmatch(text))
    assert fast.e164_ok("+1" + text) == bool(ref.E164.fullmatch("+1" + text))


def test_isdecimal_is_the_regex_digit_class_for_every_code_point() -> None:
    digit = re.compile(r"\d")
    differ = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isdecimal() != bool(digit.fullmatch(c))]
    assert differ == []


def test_large_store_is_frozen_out_of_the_gc_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    state = EngageState(EngageSimConfig())
    store = state.campaigns.setdefault(("99990001", 4001), fast.CampaignStore())
    batch = [{"externId": f"e{i}", "leadPhone": f"415555{i:04d}"} for i in range(3)]
    fast.load_leads(store, {}, batch, Upload(1001, "list", 4001, "Renewals", 115793), state.ids)
    state.after_load()
    assert not state.froze
    monkeypatch.setattr(engage_model, "FREEZE_FROM", 3)
    state.after_load()
    assert state.froze and gc.get_freeze_count() > 0
    state.clear_leads()
    assert not state.froze and gc.get_freeze_count() == 0
