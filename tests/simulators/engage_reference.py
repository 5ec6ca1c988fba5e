"""The Engage Voice loader as first written (regexes, a copy per stored lead): the reference the
fast loader in ``simulators.engage_loader`` is checked against."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulators.common import PARTIAL_REASON
from simulators.engage_loader import (
    DEFAULTS,
    INVALID_PHONE,
    INVALID_ROW,
    MISSING_EXTERN_ID,
    MISSING_PHONE,
    Upload,
)

US_PHONE = re.compile(r"\d{10}")
E164 = re.compile(r"\+[1-9]\d{6,14}")


@dataclass
class RefStore:
    """Leads by ID and lead IDs by duplicate key, in lists."""

    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_phone: dict[str, list[int]] = field(default_factory=dict)
    #: Keys of leads loaded with REMOVE_ALL_EXISTING.
    exclusive: set[str] = field(default_factory=set)

    def add(self, lead: dict[str, Any], key: str) -> None:
        self.leads[lead["leadId"]] = lead
        self.by_phone.setdefault(key, []).append(lead["leadId"])


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()


def row_problem(lead: Any) -> tuple[str | None, str]:
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
    if not isinstance(lead, dict):
        return ["", ""]
    return [_text(lead.get("externId")), _text(lead.get("leadPhone") or lead.get("leadPhoneE164"))]


def _stored(lead: dict[str, Any], upload: Upload, lead_id: int, now: str) -> dict[str, Any]:
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
    store: RefStore, body: dict[str, Any], leads: list[Any], upload: Upload,
    lead_ids: Iterator[int], accept_first: int | None = None, now: str | None = None,
) -> dict[str, Any]:
    handling = body.get("duplicateHandling") or DEFAULTS["duplicateHandling"]
    now = now or datetime.now(UTC).isoformat(timespec="milliseconds")
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
        # Seed 002: REMOVE_FROM_LIST drops repeats inside the upload; REMOVE_ALL_EXISTING drops a
        # lead whose phone an earlier REMOVE_ALL_EXISTING load (or lead of this one) holds.
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
    return {
        "leadsSupplied": len(leads), "leadsAccepted": accepted, "leadsInserted": inserted,
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
