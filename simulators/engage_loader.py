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
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
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


class LeadIds:
    """Lead IDs handed out in order (an iterator), whose next block can be looked at first."""

    def __init__(self, start: int = 1) -> None:
        self.next_id = start

    def __iter__(self) -> LeadIds:
        return self

    def __next__(self) -> int:
        lead_id = self.next_id
        self.next_id += 1
        return lead_id

    def peek(self, count: int) -> list[int]:
        """The next ``count`` IDs, still unused (:meth:`claim` takes them)."""
        return list(range(self.next_id, self.next_id + count))

    def claim(self, count: int) -> None:
        """Mark the next ``count`` IDs used."""
        self.next_id += count


class CampaignStore:
    """The leads of one campaign, indexed by their duplicate key (the primary phone).

    ``by_phone`` maps a key to its lead ID, or to a tuple of them when several leads share it
    (an int adds no object and the cyclic GC tracks neither). :meth:`ids` reads either form.

    A request whose leads are all plainly valid and new (see :func:`load_leads`) is deferred:
    its keys are indexed at once, but its lead dicts are kept as they came and turned into their
    stored form, and put in ``stored``, only when something reads or adds leads one by one
    (:attr:`leads`, the per-lead path of :func:`load_leads`), in
    :meth:`settle`. A load that is never looked at (a benchmark, most of a run) so costs no
    per-lead Python work. Settling before any other change keeps ``stored`` in load order.
    """

    def __init__(self) -> None:
        #: Leads by ID in load order, deferred ones excepted (see :meth:`settle`).
        self.stored: dict[int, dict[str, Any]] = {}
        self.by_phone: dict[str, int | tuple[int, ...]] = {}
        #: Deferred requests: their lead dicts, lead IDs and upload fields.
        self.pending: list[tuple[list[dict[str, Any]], list[int], dict[str, Any]]] = []
        self.pending_count = 0
        #: Duplicate keys of leads loaded with ``REMOVE_ALL_EXISTING`` (they block later such loads).
        self.exclusive: set[str] = set()

    def __len__(self) -> int:
        return len(self.stored) + self.pending_count

    @property
    def leads(self) -> dict[int, dict[str, Any]]:
        """Every stored lead by ID, in its stored form."""
        if self.pending:
            self.settle()
        return self.stored

    def ids(self, key: str) -> tuple[int, ...]:
        """The IDs of the leads stored under a duplicate key, oldest first."""
        known = self.by_phone.get(key, ())
        return (known,) if isinstance(known, int) else known

    def add(self, lead: dict[str, Any], key: str) -> None:
        """Store a lead under its duplicate key."""
        if self.pending:
            self.settle()
        lead_id = lead["leadId"]
        self.stored[lead_id] = lead
        known = self.by_phone.get(key)
        self.by_phone[key] = lead_id if known is None else (*self.ids(key), lead_id)

    def defer(self, leads: list[dict[str, Any]], keys: list[str], lead_ids: LeadIds,
              fields: dict[str, Any]) -> bool:
        """Store accepted leads under keys that must all be new, leaving their rewrite to :meth:`settle`.

        One ``setdefault`` per key both checks and indexes it. If a key is already stored or
        repeats in ``keys``, the keys just added are taken out again (the index is as before,
        in the same order) and nothing is stored.

        Args:
            leads: the request's leads, all plainly valid (:func:`plain_keys`).
            keys: their duplicate keys, in order.
            lead_ids: where their IDs come from (taken only if they are stored).
            fields: the upload's fields for :func:`_adopt`.

        Returns:
            Whether the leads were stored.
        """
        new = lead_ids.peek(len(keys))
        by_phone = self.by_phone
        got = list(map(by_phone.setdefault, keys, new))
        if got != new:
            for key, old, mine in zip(keys, got, new, strict=True):
                if old is mine:
                    del by_phone[key]
            return False
        lead_ids.claim(len(new))
        self.pending.append((leads, new, fields))
        self.pending_count += len(new)
        return True

    def settle(self) -> None:
        """Turn every deferred lead into its stored form (what :func:`load_leads` would have made)."""
        stored = self.stored
        for leads, lead_ids, fields in self.pending:
            for lead, lead_id in zip(leads, lead_ids, strict=True):
                _adopt(lead, lead_id, lead["externId"].strip(), lead["leadPhone"], fields)
            stored.update(zip(lead_ids, leads, strict=True))
        self.pending.clear()
        self.pending_count = 0


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


#: Valid E.164 numbers joined by NUL (never part of one): ``e164_ok`` for a whole request at once.
_E164_RUN = re.compile(r"\+[1-9]\d{6,14}(?:\x00\+[1-9]\d{6,14})*")


def plain_keys(leads: list[Any]) -> list[str] | None:
    """The duplicate keys of a request whose every lead is plainly valid, else None.

    Plainly valid: a dict whose ``externId`` is a str with more than white space, whose
    ``leadPhone`` is phones of ten decimal digits joined by ``|`` (one, usually) and whose
    ``leadPhoneE164`` is missing (None) or a str that is a valid E.164 number as it is.
    :func:`_check` accepts such a lead with its first phone as key, its ``leadPhone`` as text
    and its stripped ``externId``. The checks run over whole columns (``map`` and ``join`` in
    C, :func:`phone_ok` only for the leads with several phones): a value of another type makes
    one of them raise TypeError.
    """
    get = dict.get
    try:
        externs: list[Any] = list(map(get, leads, repeat("externId")))
        phones: list[Any] = list(map(get, leads, repeat("leadPhone")))
        e164s: list[Any] = list(map(get, leads, repeat("leadPhoneE164")))
        if not all(map(str.strip, externs)):
            return None
        if set(map(len, phones)) != {10}:
            if not all(type(phone) is str and phone_ok(phone) for phone in phones if len(phone) != 10):
                return None
            phones = [phone[:10] for phone in phones]  # the first of several phones
        if not "".join(phones).isdecimal():
            return None
        if None in e164s:
            e164s = [e164 for e164 in e164s if e164 is not None]
        joined = "\x00".join(e164s)
    except TypeError:
        return None
    if len(e164s) == len(phones) and joined == "+1" + "\x00+1".join(phones):
        return phones  # every E.164 number is +1 and the (valid) national phone: valid
    if e164s and (joined.count("\x00") != len(e164s) - 1 or _E164_RUN.fullmatch(joined) is None):
        return None
    return phones


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
    """The ``rowData`` of a rejected row: externId and phone as sent.

    Inferred: the spec types ``rowData`` as ``string[]`` and says no more for JSON loads
    (``rejected_row_data`` in the settings varies it).
    """
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
    lead_ids: LeadIds,
    accept_first: int | None = None,
) -> dict[str, Any]:
    """Apply validated leads to a campaign and build the ``LeadListProcessingResult``.

    Accepted lead dicts are stored themselves, changed in place (the request is not kept). When
    every lead is plainly valid (:func:`plain_keys`) and no key is already stored or repeated,
    the checks run column-wise and the rewrite is deferred (:meth:`CampaignStore.defer`).

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
    exclusive = handling == "REMOVE_ALL_EXISTING"
    fields = _upload_fields(upload, datetime.now(UTC).isoformat(timespec="milliseconds"))
    limit = len(leads) if accept_first is None else accept_first
    if leads and limit >= len(leads):
        keys = plain_keys(leads)
        # Every lead valid, accepted and new: no duplicate handling applies.
        if keys is not None and store.defer(leads, keys, lead_ids, fields):
            if exclusive:
                store.exclusive.update(keys)
            return _result(body, len(leads), len(leads), len(leads), rejected=[])
    if store.pending:
        store.settle()
    rejected: list[dict[str, Any]] = []
    accepted = inserted = 0
    by_id, by_phone = store.stored, store.by_phone
    in_list: set[str] = set()
    for index, lead in enumerate(leads):
        problem, key, extern, phone = _check(lead)
        if problem is None and index >= limit:
            problem = PARTIAL_REASON
        if problem is not None:
            rejected.append({"message": problem, "rowData": row_data(lead)})
            continue
        accepted += 1
        if handling == "REMOVE_FROM_LIST":
            if key in in_list:
                continue
            in_list.add(key)
        elif exclusive:
            if key in store.exclusive:
                continue
            store.exclusive.add(key)
        lead_id = next(lead_ids)
        _adopt(lead, lead_id, extern, phone, fields)
        # ``store.add`` inlined (once per lead).
        by_id[lead_id] = lead
        known = by_phone.get(key)
        if known is None:
            by_phone[key] = lead_id
        else:
            by_phone[key] = (known, lead_id) if isinstance(known, int) else (*known, lead_id)
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
