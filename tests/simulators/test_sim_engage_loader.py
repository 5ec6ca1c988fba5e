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


def _normal(store: Any) -> list[Any]:
    """Stored leads (in order, keys in order) with the load time blanked, and the phone index."""
    out: list[Any] = []
    for lead_id, stored in store.leads.items():
        assert stored["loadedDts"] == stored["uploadDate"]
        out.append((lead_id, [(k, "T" if k in ("loadedDts", "uploadDate") else v)
                              for k, v in stored.items()]))
    if isinstance(store, fast.CampaignStore):  # one lead ID is kept as an int, several as a tuple
        return [out, [(key, list(store.ids(key))) for key in store.by_phone]]
    return [out, [(key, list(ids)) for key, ids in store.by_phone.items()]]


@pytest.mark.slow
@given(st.lists(st.tuples(leads, handling, accept), min_size=1, max_size=3))
def test_fast_loader_matches_reference(uploads: list[tuple[list[Any], str | None, int | None]]) -> None:
    new_store, old_store = fast.CampaignStore(), ref.RefStore()
    new_ids, old_ids = fast.LeadIds(1), itertools.count(1)
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


# Requests the loader takes whole (checks by column, rewrite deferred until the leads are read).
ten_digits = st.sampled_from(["4155550100", "4155550101", "4155550102", ARABIC[4:6] + "15555" + ARABIC[:3]]) | \
    st.text(alphabet=DIGITS, min_size=10, max_size=10)
piped = st.lists(ten_digits, min_size=2, max_size=3).map("|".join)
plain_lead = st.one_of(
    _shuffled({"externId": externs, "leadPhone": ten_digits, "leadPhoneE164": st.none() | good_e164s}),
    _shuffled({"externId": externs, "leadPhone": piped, "leadPhoneE164": st.none() | good_e164s}),
    _shuffled({"externId": externs | messy_text, "leadPhone": ten_digits}),
    ten_digits.flatmap(lambda phone: _shuffled({"externId": externs, "leadPhone": st.just(phone),
                                                "leadPhoneE164": st.just("+1" + phone)})),
)
plain_batch = st.one_of(st.lists(plain_lead, min_size=1, max_size=8),
                        st.lists(st.one_of(plain_lead, plain_lead, lead), min_size=1, max_size=8))
UPLOAD = Upload(1001, "list", 4001, "Renewals", 115793)


def _plain(row: Any) -> bool:
    """What ``plain_keys`` promises, one row at a time."""
    if not isinstance(row, dict):
        return False
    extern, phone, e164 = row.get("externId"), row.get("leadPhone"), row.get("leadPhoneE164")
    return (type(extern) is str and bool(extern.strip()) and type(phone) is str
            and all(len(part) == 10 and part.isdecimal() for part in phone.split("|"))
            and (e164 is None or (type(e164) is str and bool(ref.E164.fullmatch(e164)))))


def _plain_leads(start: int, count: int) -> list[dict[str, Any]]:
    return [{"id": 7, "externId": f" e{i} ", "leadPhone": f"415555{i:04d}", "leadPhoneE164": f"+1415555{i:04d}",
             "suppressed": i % 2} for i in range(start, start + count)]


@pytest.mark.slow
@given(st.lists(st.tuples(plain_batch, handling, accept), min_size=1, max_size=4), st.booleans())
def test_deferred_loads_match_reference(uploads: list[tuple[list[Any], str | None, int | None]], look: bool) -> None:
    """Whole-request loads among per-lead ones, their leads read after each load or only at the end."""
    new_store, old_store = fast.CampaignStore(), ref.RefStore()
    new_ids, old_ids = fast.LeadIds(1), itertools.count(1)
    for number, (batch, dup, first) in enumerate(uploads):
        raw = orjson.dumps({"duplicateHandling": dup, "uploadLeads": batch})
        upload = Upload(1000 + number % 2, "list", 4001, "Renewals", 115793)
        new_body, old_body = orjson.loads(raw), orjson.loads(raw)
        new = fast.load_leads(new_store, new_body, new_body["uploadLeads"], upload, new_ids, first)
        old = ref.load_leads(old_store, old_body, old_body["uploadLeads"], upload, old_ids, first)
        assert orjson.dumps(new) == orjson.dumps(old)
        assert len(new_store) == len(old_store.leads)
        if look:
            assert _normal(new_store) == _normal(old_store)
        assert next(new_ids) == next(old_ids)
    assert _normal(new_store) == _normal(old_store)


@given(st.lists(st.one_of(plain_lead, lead, values), min_size=1, max_size=6))
def test_plain_keys_only_for_leads_the_row_check_takes_as_they_are(rows: list[Any]) -> None:
    keys = fast.plain_keys(rows)
    assert (keys is not None) == all(map(_plain, rows))
    for row, key in zip(rows, keys or [], strict=False):
        assert key == row["leadPhone"].split("|")[0]
        assert fast._check(row) == (None, key, row["externId"].strip(), row["leadPhone"])
        assert ref.row_problem(row) == (None, key)


@pytest.mark.parametrize("second", [None, "", "+14155550001", "+1"])
def test_plain_keys_refuses_a_nul_inside_one_e164(second: str | None) -> None:
    rows = _plain_leads(0, 2)
    rows[0]["leadPhoneE164"] = "+14155550000\x00+14155550001"
    rows[1]["leadPhoneE164"] = second
    assert fast.plain_keys(rows) is None
    assert fast._check(rows[0])[0] == fast.INVALID_PHONE


def test_plain_request_is_stored_as_sent_until_read() -> None:
    store, ids = fast.CampaignStore(), fast.LeadIds(1)
    batch = _plain_leads(0, 3)
    sent = orjson.loads(orjson.dumps(batch))
    result = fast.load_leads(store, {}, batch, UPLOAD, ids)
    assert (result["leadsInserted"], result["rejectedRows"], len(store), ids.next_id) == (3, [], 3, 4)
    assert len(store.pending) == 1 and batch == sent
    assert store.by_phone == {"4155550000": 1, "4155550001": 2, "4155550002": 3}
    old_store = ref.RefStore()
    ref.load_leads(old_store, {}, sent, UPLOAD, itertools.count(1))
    assert _normal(store) == _normal(old_store)
    assert not store.pending and store.leads[1]["externId"] == "e0" and "id" not in store.leads[1]


def test_request_with_alternate_phones_is_taken_whole_and_keyed_by_the_first() -> None:
    store, ids = fast.CampaignStore(), fast.LeadIds(1)
    batch = _plain_leads(0, 3)
    batch[1]["leadPhone"] += "|2125550199|3125550198"
    sent = orjson.loads(orjson.dumps(batch))
    result = fast.load_leads(store, {}, batch, UPLOAD, ids)
    assert (result["leadsInserted"], result["rejectedRows"], len(store.pending)) == (3, [], 1)
    assert store.by_phone == {"4155550000": 1, "4155550001": 2, "4155550002": 3}
    old_store = ref.RefStore()
    ref.load_leads(old_store, {}, sent, UPLOAD, itertools.count(1))
    assert _normal(store) == _normal(old_store)
    assert store.leads[2]["leadPhone"] == "4155550001|2125550199|3125550198"


def test_known_or_repeated_phone_leaves_the_index_and_ids_as_they_were() -> None:
    store, ids = fast.CampaignStore(), fast.LeadIds(1)
    fast.load_leads(store, {}, _plain_leads(0, 2), UPLOAD, ids)
    fields = fast._upload_fields(UPLOAD, "now")
    before = list(store.by_phone.items())
    known = _plain_leads(5, 2) + _plain_leads(1, 1)
    assert not store.defer(known, [lead["leadPhone"] for lead in known], ids, fields)
    repeated = _plain_leads(7, 2) + _plain_leads(7, 1)
    assert not store.defer(repeated, [lead["leadPhone"] for lead in repeated], ids, fields)
    assert list(store.by_phone.items()) == before and ids.next_id == 3 and len(store.pending) == 1


def test_duplicates_after_a_deferred_load_settle_it_first() -> None:
    store, ids = fast.CampaignStore(), fast.LeadIds(1)
    old_store, old_ids = ref.RefStore(), itertools.count(1)
    for handling_option, batch in [(None, _plain_leads(0, 3)), ("REMOVE_ALL_EXISTING", _plain_leads(1, 1)),
                                   ("RETAIN_ALL", _plain_leads(2, 2)), ("REMOVE_ALL_EXISTING", _plain_leads(3, 2))]:
        body = {"duplicateHandling": handling_option}
        new = fast.load_leads(store, body, orjson.loads(orjson.dumps(batch)), UPLOAD, ids)
        old = ref.load_leads(old_store, body, batch, UPLOAD, old_ids)
        assert new == old
    assert _normal(store) == _normal(old_store)
    assert store.by_phone["4155550002"] == (3, 5)


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
