"""The Engage Voice loader of the simulator: row checks, duplicate handling, counts that add up."""

from __future__ import annotations

import gc
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators import engage_loader as loader
from simulators import engage_model
from simulators.common import gc_paused
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


UPLOAD = Upload(1001, "list", 4001, "Renewals", 115793)


def _leads(start: int, count: int, phone: str = "415555{:04d}") -> list[dict[str, Any]]:
    return [{"externId": f"e{i}", "leadPhone": phone.format(i), "id": 9} for i in range(start, start + count)]


@given(st.lists(st.tuples(leads, handling, accept), min_size=1, max_size=3))
def test_every_lead_is_accepted_or_rejected_and_every_insert_is_stored_under_its_key(
        uploads: list[tuple[list[Any], str | None, int | None]]) -> None:
    store, ids = loader.CampaignStore(), itertools.count(1)
    for batch, dup, first in uploads:
        before = len(store)
        result = loader.load_leads(store, {"duplicateHandling": dup}, batch, UPLOAD, ids, first)
        assert result["leadsSupplied"] == len(batch) == result["leadsAccepted"] + len(result["rejectedRows"])
        assert len(store) - before == result["leadsInserted"] <= result["leadsAccepted"]
        if first is not None:
            assert result["leadsAccepted"] <= first
    for key in store.by_phone:
        for lead_id in store.ids(key):
            assert loader.row_problem(store.leads[lead_id]) == (None, key)


@pytest.mark.parametrize(("lead", "problem", "key"), [
    ({"externId": " a ", "leadPhone": " 4155550100 "}, None, "4155550100"),
    ({"externId": "a", "leadPhone": "4155550100|2125550199"}, None, "4155550100"),
    ({"externId": "a", "leadPhone": "4155550100|212555019"}, loader.INVALID_PHONE, ""),
    ({"externId": "a", "leadPhone": ARABIC[4:6] + "15555" + ARABIC[:3]}, None, ARABIC[4:6] + "15555" + ARABIC[:3]),
    ({"externId": "a", "leadPhoneE164": "+14155550100"}, None, "4155550100"),
    ({"externId": "a", "leadPhoneE164": "+447911123456"}, None, "+447911123456"),
    ({"externId": "a", "leadPhone": "4155550100", "leadPhoneE164": "+0123456789"}, loader.INVALID_PHONE, ""),
    ({"externId": "  ", "leadPhone": "4155550100"}, loader.MISSING_EXTERN_ID, ""),
    ({"externId": "a"}, loader.MISSING_PHONE, ""),
    (["a"], loader.INVALID_ROW, ""),
])
def test_row_checks(lead: Any, problem: str | None, key: str) -> None:
    assert loader.row_problem(lead) == (problem, key)


def test_stored_lead_takes_the_list_fields_and_drops_the_request_ids() -> None:
    store = loader.CampaignStore()
    batch = _leads(0, 2)
    batch[1]["leadPhone"] += "|2125550199"
    result = loader.load_leads(store, {}, batch, UPLOAD, itertools.count(1))
    assert (result["leadsInserted"], result["rejectedRows"]) == (2, [])
    assert store.by_phone == {"4155550000": [1], "4155550001": [2]}
    assert store.leads[2]["leadPhone"] == "4155550001|2125550199" and "id" not in store.leads[2]
    assert list(store.leads[1])[:3] == ["externId", "leadPhone", "leadId"]
    assert store.leads[1]["listId"] == 1001 and store.leads[1]["suppressed"] is False


def test_duplicate_handling_as_seed_002_says() -> None:
    store, ids = loader.CampaignStore(), itertools.count(1)
    for handling_option, batch in [(None, _leads(0, 3)), ("REMOVE_ALL_EXISTING", _leads(1, 1)),
                                   ("RETAIN_ALL", _leads(2, 2)), ("REMOVE_ALL_EXISTING", _leads(3, 2)),
                                   ("REMOVE_FROM_LIST", _leads(0, 1) + _leads(0, 1)),
                                   ("REMOVE_ALL_EXISTING", _leads(1, 2))]:
        loader.load_leads(store, {"duplicateHandling": handling_option}, batch, UPLOAD, ids)
    # Earlier loads of other handlings do not block REMOVE_ALL_EXISTING; its own earlier loads do
    # (0001 on the last load; 0002, loaded before with RETAIN_ALL only, goes in); REMOVE_FROM_LIST
    # drops repeats inside the upload only.
    assert store.ids("4155550001") == (2, 4) and store.ids("4155550002") == (3, 5, 10)
    assert store.ids("4155550003") == (6, 7) and store.ids("4155550004") == (8,)
    assert store.ids("4155550000") == (1, 9)


def test_large_store_is_frozen_out_of_the_gc_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    state = EngageState(EngageSimConfig())
    store = state.campaigns.setdefault(("99990001", 4001), loader.CampaignStore())
    batch = [{"externId": f"e{i}", "leadPhone": f"415555{i:04d}"} for i in range(3)]
    loader.load_leads(store, {}, batch, UPLOAD, state.ids)
    state.after_load()
    assert not state.froze
    monkeypatch.setattr(engage_model, "FREEZE_FROM", 3)
    state.after_load()
    assert state.froze and gc.get_freeze_count() > 0
    state.clear_leads()
    assert not state.froze and gc.get_freeze_count() == 0


def _fail_with_gc_paused() -> None:
    with gc_paused():
        assert not gc.isenabled()
        raise RuntimeError


def test_gc_paused_turns_the_collector_back_on_only_if_it_was_on() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        _fail_with_gc_paused()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
