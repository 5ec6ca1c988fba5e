"""Engage Voice direct lead loading: request validation, duplicate handling and the result body.

Duplicates follow the newer document (seed 002; the older 001 said otherwise), keyed on the first
``leadPhone``: ``REMOVE_ALL_EXISTING`` drops a new lead whose phone a lead loaded earlier into the
campaign *with REMOVE_ALL_EXISTING* holds; ``REMOVE_FROM_LIST`` drops a lead whose phone an
earlier lead of the same upload holds (earlier uploads do not count); ``RETAIN_ALL`` keeps all.
A dropped lead counts in ``leadsAccepted`` but not in ``leadsInserted`` and is not in
``rejectedRows`` (the document gives no per-lead trace of it). Inferred: inside one
``REMOVE_ALL_EXISTING`` upload the first lead with a phone is kept and later ones dropped (the
document speaks of existing leads only); ``deletedCount`` stays 0 (002 deletes nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
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

US_PHONE = re.compile(r"\d{10}")
E164 = re.compile(r"\+[1-9]\d{6,14}")


class LoadRequestError(ValueError):
    """The request as a whole is malformed (answered with 400)."""


class TooManyLeadsError(LoadRequestError):
    """The request carries more leads than ``max_leads_per_request`` (answered with 413)."""


class CampaignStore:
    """The leads of one campaign by ID, and their IDs by duplicate key (the primary phone)."""

    def __init__(self) -> None:
        self.leads: dict[int, dict[str, Any]] = {}
        self.by_phone: dict[str, list[int]] = {}
        #: Duplicate keys of leads loaded with ``REMOVE_ALL_EXISTING`` (they block later such loads).
        self.exclusive: set[str] = set()

    def __len__(self) -> int:
        return len(self.leads)

    def ids(self, key: str) -> tuple[int, ...]:
        """The IDs of the leads stored under a duplicate key, oldest first."""
        return tuple(self.by_phone.get(key, ()))

    def add(self, lead: dict[str, Any], key: str) -> None:
        """Store a lead under its duplicate key."""
        self.leads[lead["leadId"]] = lead
        self.by_phone.setdefault(key, []).append(lead["leadId"])


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
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()


def row_problem(lead: Any) -> tuple[str | None, str]:
    """Why a lead is rejected (None if it is fine) and its duplicate key.

    ``leadPhone`` is ten digits, or several joined by ``|`` (alternate phones; the first is the
    key); ``leadPhoneE164`` is E.164. Without ``leadPhone`` the E.164 number is the key (without
    ``+1`` for a NANP number).
    """
    if not isinstance(lead, dict):
        return INVALID_ROW, ""
    phone, e164 = _text(lead.get("leadPhone")), _text(lead.get("leadPhoneE164"))
    if not _text(lead.get("externId")):
        return MISSING_EXTERN_ID, ""
    if not phone and not e164:
        return MISSING_PHONE, ""
    if phone and not all(US_PHONE.fullmatch(part) for part in phone.split("|")):
        return INVALID_PHONE, ""
    if e164 and not E164.fullmatch(e164):
        return INVALID_PHONE, ""
    if phone:
        return None, phone.split("|", 1)[0]
    return None, e164[2:] if e164.startswith("+1") and len(e164) == 12 else e164


def row_data(lead: Any) -> list[str]:
    """The ``rowData`` of a rejected row: externId and phone as sent.

    Inferred: the spec types ``rowData`` as ``string[]`` and says no more for JSON loads
    (``rejected_row_data`` in the settings varies it).
    """
    if not isinstance(lead, dict):
        return ["", ""]
    return [_text(lead.get("externId")), _text(lead.get("leadPhone") or lead.get("leadPhoneE164"))]


def _stored(lead: dict[str, Any], upload: Upload, lead_id: int, now: str) -> dict[str, Any]:
    """An accepted lead as the simulator keeps it: the request's fields and the list's."""
    stored = {key: value for key, value in lead.items() if key not in ("leadId", "id")}
    stored.update(
        leadId=lead_id, externId=_text(lead.get("externId")),
        leadPhone=_text(lead.get("leadPhone")), leadState="READY",
        listId=upload.list_id, listDesc=upload.list_desc, campaignId=upload.campaign_id,
        campaignName=upload.campaign_name, dialGroupId=upload.dial_group_id,
        loadedDts=now, uploadDate=now, leadPasses=0, suppressed=bool(lead.get("suppressed")),
    )
    return stored


def load_leads(
    store: CampaignStore,
    body: dict[str, Any],
    leads: list[Any],
    upload: Upload,
    lead_ids: Iterator[int],
    accept_first: int | None = None,
) -> dict[str, Any]:
    """Check each lead, apply the duplicate handling, store the accepted ones and build the result.

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
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    rejected: list[dict[str, Any]] = []
    accepted = inserted = 0
    in_list: set[str] = set()
    for index, lead in enumerate(leads):
        problem, key = row_problem(lead)
        if problem is None and accept_first is not None and index >= accept_first:
            problem = PARTIAL_REASON
        if problem is not None:
            rejected.append({"message": problem, "rowData": row_data(lead)})
            continue
        accepted += 1
        if handling == "REMOVE_FROM_LIST":
            if key in in_list:
                continue
            in_list.add(key)
        elif handling == "REMOVE_ALL_EXISTING":
            if key in store.exclusive:
                continue
            store.exclusive.add(key)
        store.add(_stored(lead, upload, next(lead_ids), now), key)
        inserted += 1
    return _result(body, len(leads), accepted, inserted, rejected=rejected)


def _result(
    body: dict[str, Any], supplied: int, accepted: int, inserted: int, *, rejected: list[dict[str, Any]],
) -> dict[str, Any]:
    """The ``LeadListProcessingResult`` of a load.

    Documented: the field names and types (spec) and the all-accepted example (``processingResult``
    "OK"). Inferred: ``processingStatus`` ``NO_LEADS_PASSED_VALIDATION`` and its ``message`` when
    nothing was accepted (still HTTP 200), the zero DNC, quota and agent counters, and
    ``leadsConverted`` equal to ``leadsInserted``.
    """
    return {
        "leadsSupplied": supplied, "leadsAccepted": accepted, "leadsInserted": inserted,
        "leadsConverted": inserted, "deletedCount": 0, "hasDeletedLeads": False,
        "dncReturnedCount": 0, "dncUploadCount": 0, "internalDncCount": 0, "whitelistCount": 0,
        "quotaCount": 0, "failedAgentAssignment": 0,
        "listState": body.get("listState") or DEFAULTS["listState"],
        "timeZoneOption": body.get("timeZoneOption") or DEFAULTS["timeZoneOption"],
        "processingResult": "OK",
        "processingStatus": "DEFAULT_NOT_A_FAILURE" if accepted else "NO_LEADS_PASSED_VALIDATION",
        "message": None if accepted else "No leads passed validation",
        "uploadFileName": None, "rejectedRows": rejected,
    }
