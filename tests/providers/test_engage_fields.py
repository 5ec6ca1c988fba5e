"""Engage Voice lead fields: every documented ``CampaignLead`` input field can be filled, in its type."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from providerhelp import Sim, deliver, lead_batch, phones

from schemas import columns as C
from schemas.errors import ConfigurationError
from tasks.ledger import Ledger
from tasks.providers import engage_fields
from tasks.providers.base import Provider

#: Custom-field names as a source might spell them, and the field each fills.
CUSTOM = {
    "title": ("title", "Dr."), "mid_name": ("midName", "John"), "Suffix": ("suffix", "Jr."),
    "gatekeeper": ("gateKeeper", "Some one"), "aux_data_1": ("auxData1", "30"), "auxPhone": ("auxPhone", "8888888888"),
    "aux_greeting": ("auxGreeting", "hi"), "aux-external-url": ("auxExternalUrl", "https://crm.example/1"),
    "caller_id": ("callerId", "4155550199"), "max_passes": ("maxPasses", 3),
    "dupe_key_override": ("dupeKeyOverride", 7),
    "live_answer_message": ("liveAnswerMessage", "live"), "mach_answer_message": ("machAnswerMessage", "machine"),
    "reserve_agent": ("reserveAgent", "980"), "name": ("name", "J. Malfetti"), "sort_col": ("sortCol", "a"),
    "suppressed": ("suppressed", False), "quota_target_ids": ("quotaTargetIds", [1, 2]),
}
RAW = {"max_passes": "3", "dupe_key_override": "7.0", "suppressed": "no", "quota_target_ids": "1|2"}


#: Input fields of ``CampaignLead`` in the vendor spec excerpt (read-only, enum and object fields left out).
SPEC_INPUT_FIELDS = {
    "address1", "address2", "auxData1", "auxData2", "auxData3", "auxData4", "auxData5", "auxExternalUrl",
    "auxGreeting", "auxPhone", "callerId", "city", "dupeKeyOverride", "email", "extendedLeadData", "externId",
    "firstName", "gateKeeper", "lastName", "leadPhone", "leadPhoneE164", "leadPriority", "leadTimezone",
    "liveAnswerMessage", "machAnswerMessage", "maxPasses", "midName", "name", "personaPhoneConfig",
    "quotaTargetIds", "reserveAgent", "sortCol", "state", "suffix", "suppressed", "title", "zip",
}


def test_every_documented_input_field_has_a_mapping() -> None:
    written = {"externId", "leadPhone", "leadPhoneE164", "extendedLeadData", "personaPhoneConfig"}
    assert SPEC_INPUT_FIELDS - written == set(engage_fields.BY_FOLDED.values())


def test_custom_fields_named_like_lead_fields_fill_them(start_sim: Callable[[str], Sim],
                                                        make_provider: Callable[..., Provider], ledger: Ledger) -> None:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim)
    prov.prepare()
    extras = {C.extra(name): [RAW.get(name, str(value))] for name, (_, value) in CUSTOM.items()}
    extras |= {C.extra("plan"): ["gold"], C.extra("personaPhoneConfig.Mobile"): ["4155550177"]}
    batch = lead_batch(phones(1), first_name=["Jeff"], **extras)
    body = json.loads(prov.build_request(batch).content)
    lead = body["uploadLeads"][0]
    for field, value in CUSTOM.values():
        assert lead[field] == value, field
    assert lead["extendedLeadData"] == {"plan": "gold"}
    assert lead["personaPhoneConfig"] == {"Mobile": "4155550177"}
    assert lead["firstName"] == "Jeff"
    assert set(deliver(prov, ledger, batch)["outcome"]) == {"loaded"}
    stored = sim.leads()["accounts"]["99990001"]["4001"][0]
    assert (stored["midName"], stored["gateKeeper"], stored["quotaTargetIds"]) == ("John", "Some one", [1, 2])


def test_a_custom_field_fills_the_gaps_of_a_canonical_one(make_provider: Callable[..., Provider]) -> None:
    prov = make_provider("engage-voice", None, env={"ENGAGE_VOICE_API_TOKEN": "t"})
    batch = lead_batch(phones(2), first_name=["Ada", None], **{C.extra("First_Name"): ["x", "Grace"]})
    assert prov.lead_frame(batch)["firstName"].tolist() == ["Ada", "Grace"]


def test_a_custom_field_may_not_take_a_field_leadflow_writes(make_provider: Callable[..., Provider]) -> None:
    prov = make_provider("engage-voice", None, env={"ENGAGE_VOICE_API_TOKEN": "t"})
    with pytest.raises(ConfigurationError, match="leadPhone"):
        prov.lead_frame(lead_batch(phones(1), **{C.extra("leadPhone"): ["1"]}))


@pytest.mark.parametrize(("first", "alternates", "lead_phone"), [
    ("+14155550100", "+14155550101", "4155550100|4155550101"),
    ("+14155550100", "+442071234567|+12125550100", "4155550100|442071234567|2125550100"),
    ("+442071234567", "+14155550101", "442071234567|4155550101"),
    ("+14155550100", None, "4155550100"),
])
def test_alternate_phones_are_written_like_the_first(first: str, alternates: str | None, lead_phone: str,
                                                     make_provider: Callable[..., Provider]) -> None:
    prov = make_provider("engage-voice", None, env={"ENGAGE_VOICE_API_TOKEN": "t"})
    batch = lead_batch([first], **{C.ALT_PHONES: [alternates]})
    assert prov.lead_frame(batch)["leadPhone"].tolist() == [lead_phone]
