"""Engage Voice direct lead loading: request validation, duplicate handling and the result body."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulators.common import PARTIAL_REASON

ENUMS: dict[str, tuple[str, ...]] = {
    "dialPriority": ("IMMEDIATE", "NORMAL"),
    "duplicateHandling": ("RETAIN_ALL", "REMOVE_ALL_EXISTING", "REMOVE_FROM_LIST"),
    "listState": (
        "ACTIVE", "PAUSED", "PENDING_DNC", "LOADING", "DELETED", "READY", "CALLBACKS",
        "CALLBACKS_AGENT", "DUPLICATES_NOT_MERGED", "DUPLICATES_NOT_MOVED", "ARCHIVED",
    ),
    "timeZoneOption": ("NPA_NXX", "ZIPCODE", "EXPLICIT", "COUNTRY", "NOT_APPLICABLE"),
}
DEFAULTS = {
    "dialPriority": "NORMAL", "duplicateHandling": "RETAIN_ALL",
    "listState": "ACTIVE", "timeZoneOption": "NOT_APPLICABLE",
}

MISSING_EXTERN_ID = "externId is required"
MISSING_PHONE = "leadPhone is required"
INVALID_PHONE = "Invalid phone number"
INVALID_ROW = "Invalid lead record"


class LoadRequestError(ValueError):
    """The request as a whole is malformed (answered with 400)."""


class TooManyLeadsError(LoadRequestError):
    """The request carries more leads than ``max_leads_per_request`` (answered with 413)."""


@dataclass
class CampaignStore:
    """The leads of one campaign, indexed by their duplicate key (the primary phone).

    ``by_phone`` holds tuples of lead IDs: the cyclic GC stops tracking tuples of ints, so a
    million keys add nothing to a full collection.
    """

    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_phone: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def add(self, lead: dict[str, Any], key: str) -> None:
        """Store a lead under its duplicate key."""
        lead_id = lead["leadId"]
        self.leads[lead_id] = lead
        self.by_phone[key] = (*self.by_phone.get(key, ()), lead_id)

    def remove_phone(self, key: str) -> list[dict[str, Any]]:
        """Delete every lead with this duplicate key and return them."""
        return [self.leads.pop(lead_id) for lead_id in self.by_phone.pop(key, ())]


@dataclass(frozen=True)
class Upload:
    """Where a validated upload goes: list identity and campaign labels."""

    list_id: int
    list_desc: str
    campaign_id: int
    campaign_name: str
    dial_group_id: int


def check_request(body: Any, max_leads: int | None) -> list[Any]:
    """Validate a ``LeadListProcessingRequest`` and return its ``uploadLeads``.

    Raises:
        LoadRequestError: on a non-object body or a bad enum value.
        TooManyLeadsError: when there are more than ``max_leads`` leads.
    """
    if not isinstance(body, dict):
        raise LoadRequestError("Request body must be a LeadListProcessingRequest object")
    for name, allowed in ENUMS.items():
        value = body.get(name)
        if value is not None and value not in allowed:
            raise LoadRequestError(
                f"Cannot deserialize value of type `{name}` from String \"{value}\": "
                f"not one of the values accepted for Enum class: [{', '.join(allowed)}]"
            )
    leads = body.get("uploadLeads") or []
    if not isinstance(leads, list):
        raise LoadRequestError("uploadLeads must be an array of CampaignLead")
    if max_leads is not None and len(leads) > max_leads:
        raise TooManyLeadsError(f"Too many leads in one request: {len(leads)} > {max_leads}")
    return leads


def _text(value: Any) -> str:
    if type(value) is str:
        return value.strip()
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()


def phone_ok(phone: str) -> bool:
    r"""Every ``|``-separated part matches ``\d{10}`` (ten Unicode decimal digits, like ``re``)."""
    if len(phone) == 10:
        return phone.isdecimal()
    parts = phone.split("|")
    return all(len(part) == 10 for part in parts) and "".join(parts).isdecimal()


def e164_ok(e164: str) -> bool:
    r"""``e164`` matches ``\+[1-9]\d{6,14}`` (``str.isdecimal`` is exactly ``re``'s ``\d``)."""
    return 8 <= len(e164) <= 16 and e164[0] == "+" and "1" <= e164[1] <= "9" and e164[2:].isdecimal()


def _check(lead: Any) -> tuple[str | None, str, str, str]:
    """The rejection reason (None if fine), duplicate key, externId text and leadPhone text."""
    if not isinstance(lead, dict):
        return INVALID_ROW, "", "", ""
    extern, phone, e164 = lead.get("externId"), lead.get("leadPhone"), lead.get("leadPhoneE164")
    # ``_text`` inlined for the usual str values: this runs once per lead.
    extern = extern.strip() if type(extern) is str else _text(extern)
    phone = phone.strip() if type(phone) is str else _text(phone)
    e164 = e164.strip() if type(e164) is str else _text(e164)
    if not extern:
        return MISSING_EXTERN_ID, "", extern, phone
    if phone:
        if len(phone) == 10 and phone.isdecimal():  # ``phone_ok`` for one phone, inlined
            key = phone
        elif phone_ok(phone):
            key = phone.split("|", 1)[0]
        else:
            return INVALID_PHONE, "", extern, phone
        if e164 and not e164_ok(e164):
            return INVALID_PHONE, "", extern, phone
        return None, key, extern, phone
    if not e164:
        return MISSING_PHONE, "", extern, phone
    if not e164_ok(e164):
        return INVALID_PHONE, "", extern, phone
    return None, e164[2:] if e164.startswith("+1") and len(e164) == 12 else e164, extern, phone


def row_problem(lead: Any) -> tuple[str | None, str]:
    """Why a lead is rejected (None if it is fine) and its duplicate key."""
    problem, key, _, _ = _check(lead)
    return problem, key


def row_data(lead: Any) -> list[str]:
    """The ``rowData`` of a rejected row: externId and phone as sent."""
    if not isinstance(lead, dict):
        return ["", ""]
    return [_text(lead.get("externId")), _text(lead.get("leadPhone") or lead.get("leadPhoneE164"))]


def _upload_fields(upload: Upload, now: str) -> dict[str, Any]:
    """The fields every stored lead of an upload gets after its leadId, externId and leadPhone."""
    return {
        "leadState": "READY", "listId": upload.list_id, "listDesc": upload.list_desc,
        "campaignId": upload.campaign_id, "campaignName": upload.campaign_name,
        "dialGroupId": upload.dial_group_id, "loadedDts": now, "uploadDate": now, "leadPasses": 0,
    }


def _adopt(lead: dict[str, Any], lead_id: int, extern: str, phone: str, fields: dict[str, Any]) -> None:
    """Turn an accepted request lead into its stored form, in place.

    The keys end in the order a copy without ``leadId``/``id``, updated with the simulator's
    fields, would have: existing keys keep their place, new ones go last in the order set here.
    """
    lead.pop("leadId", None)
    lead.pop("id", None)
    suppressed = bool(lead.get("suppressed"))
    lead["leadId"] = lead_id
    lead["externId"] = extern
    lead["leadPhone"] = phone
    lead.update(fields)
    lead["suppressed"] = suppressed


def load_leads(
    store: CampaignStore,
    body: dict[str, Any],
    leads: list[Any],
    upload: Upload,
    lead_ids: Iterator[int],
    accept_first: int | None = None,
) -> dict[str, Any]:
    """Apply validated leads to a campaign and build the ``LeadListProcessingResult``.

    Accepted lead dicts are stored themselves, changed in place (the request is not kept).

    Args:
        store: the campaign's leads, updated in place.
        body: the request (for the enum options).
        leads: its ``uploadLeads``.
        upload: the list record the leads join.
        lead_ids: source of new lead IDs.
        accept_first: if set, only leads before this index may be accepted (partial fault).

    Returns:
        The result body.
    """
    handling = body.get("duplicateHandling") or DEFAULTS["duplicateHandling"]
    fields = _upload_fields(upload, datetime.now(UTC).isoformat(timespec="milliseconds"))
    limit = len(leads) if accept_first is None else accept_first
    rejected: list[dict[str, Any]] = []
    accepted = inserted = deleted = 0
    by_id, by_phone = store.leads, store.by_phone
    for index, lead in enumerate(leads):
        problem, key, extern, phone = _check(lead)
        if problem is None and index >= limit:
            problem = PARTIAL_REASON
        if problem is not None:
            rejected.append({"message": problem, "rowData": row_data(lead)})
            continue
        accepted += 1
        known = by_phone.get(key)
        if known is not None:
            if handling == "REMOVE_FROM_LIST":
                continue
            if handling == "REMOVE_ALL_EXISTING":
                removed = store.remove_phone(key)
                same_list = sum(1 for old in removed if old["listId"] == upload.list_id)
                inserted -= same_list
                deleted += len(removed) - same_list
                known = None
        lead_id = next(lead_ids)
        _adopt(lead, lead_id, extern, phone, fields)
        # ``store.add`` inlined (once per lead).
        by_id[lead_id] = lead
        by_phone[key] = (lead_id,) if known is None else (*known, lead_id)
        inserted += 1
    return {
        "leadsSupplied": len(leads), "leadsAccepted": accepted, "leadsInserted": inserted,
        "leadsConverted": inserted, "deletedCount": deleted, "hasDeletedLeads": deleted > 0,
        "dncReturnedCount": 0, "dncUploadCount": 0, "internalDncCount": 0, "whitelistCount": 0,
        "quotaCount": 0, "failedAgentAssignment": 0,
        "listState": body.get("listState") or DEFAULTS["listState"],
        "timeZoneOption": body.get("timeZoneOption") or DEFAULTS["timeZoneOption"],
        "processingResult": "OK",
        "processingStatus": "DEFAULT_NOT_A_FAILURE" if accepted else "NO_LEADS_PASSED_VALIDATION",
        "message": None if accepted else "No leads passed validation",
        "uploadFileName": None, "rejectedRows": rejected,
    }
