"""Engage Voice ``CampaignLead`` fields: which lead column fills which field, in the field's type.

Every input field of ``CampaignLead`` in the vendor spec (and the seeds' examples) can be filled:
the canonical columns fill their own fields (``first_name`` -> ``firstName`` ...), and a custom
field named like a ``CampaignLead`` field (any case, ``_`` or ``-`` ignored: ``mid_name``,
``GateKeeper``, ``aux_phone``) fills that field instead of going into ``extendedLeadData``.
``personaPhoneConfig.<label>`` custom fields fill ``personaPhoneConfig`` (one phone per persona
label). Phones in ``leadPhone`` (the first and the alternates, ``|``-joined) are all written as
the first is: 10 digits for +1 numbers, all digits with the country code for the others.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from schemas import columns as C
from schemas.provider_rules import FALSE_WORDS, TRUE_WORDS
from tasks.rules.phones import format_phone

#: Canonical columns and the fields they fill.
CANONICAL = {
    "firstName": C.FIRST_NAME, "lastName": C.LAST_NAME, "email": C.EMAIL,
    "address1": C.ADDRESS1, "address2": C.ADDRESS2, "city": C.CITY, "state": C.STATE, "zip": C.ZIP,
}
#: ``CampaignLead`` input fields sent as text (spec excerpt; ``auxData1..5`` are strings there).
TEXT_FIELDS = (
    "title", "firstName", "midName", "lastName", "suffix", "address1", "address2", "city", "state",
    "zip", "email", "gateKeeper", "auxData1", "auxData2", "auxData3", "auxData4", "auxData5",
    "auxPhone", "auxGreeting", "auxExternalUrl", "callerId", "leadTimezone", "liveAnswerMessage",
    "machAnswerMessage", "reserveAgent", "name", "sortCol",
)
#: Integer fields (int32, ``dupeKeyOverride`` int64).
INT_FIELDS = ("leadPriority", "maxPasses", "dupeKeyOverride")
#: Other typed fields: a boolean, and an array of integers (``|`` or ``,`` separated in a column).
BOOL_FIELDS = ("suppressed",)
INT_LIST_FIELDS = ("quotaTargetIds",)
PERSONA_PREFIX = "personaPhoneConfig."
#: Every field a custom field can fill, by its folded name.
BY_FOLDED = {re.sub(r"[_\-]", "", f).lower(): f for f in (*TEXT_FIELDS, *INT_FIELDS, *BOOL_FIELDS, *INT_LIST_FIELDS)}

#: A ``+1`` and ten digits at the start of a ``|``-separated part: written without the ``+1``.
_PLUS_ONE = re.compile(r"(?:^|(?<=\|))\+1(?=\d{10}(?:\||$))")


def lead_phone(batch: pd.DataFrame, with_alternates: bool) -> pd.Series:
    """``leadPhone``: the first phone, then (``with_alternates``) the others, ``|``-joined, all national."""
    phone = format_phone(batch[C.PHONE_E164], "national")
    if not with_alternates or C.ALT_PHONES not in batch:
        return phone
    alts = batch[C.ALT_PHONES].astype("string")
    alts = alts.str.replace(_PLUS_ONE, "", regex=True).str.replace("+", "", regex=False)
    return phone.where(alts.isna() | (alts == ""), phone + "|" + alts)


def field_of(column: str) -> str | None:
    """The ``CampaignLead`` field a custom-field column fills, if it names one."""
    name = column[len(C.EXTRA_PREFIX):]
    return BY_FOLDED.get(re.sub(r"[_\-]", "", name).lower())


def typed(field: str, values: pd.Series) -> pd.Series:
    """A column in the type of its field (text stays text)."""
    if field in INT_FIELDS:
        return pd.to_numeric(values, errors="coerce").round().astype("Int64")
    if field in BOOL_FIELDS:
        text = values.astype("string").str.strip().str.lower()
        return text.map(lambda v: True if v in TRUE_WORDS else False if v in FALSE_WORDS else pd.NA).astype("boolean")
    if field in INT_LIST_FIELDS:
        text = values.astype("string")
        return text.map(_int_list, na_action="ignore").astype(object)
    return values


def _int_list(text: Any) -> list[int] | None:
    parts = [p.strip() for p in re.split(r"[|,]", str(text)) if p.strip()]
    return [int(float(p)) for p in parts if re.fullmatch(r"\d+(\.0*)?", p)] or None


def persona_columns(batch: pd.DataFrame) -> dict[str, str]:
    """``personaPhoneConfig`` labels by custom-field column."""
    prefix = C.EXTRA_PREFIX + PERSONA_PREFIX
    return {c: c[len(prefix):] for c in batch.columns if isinstance(c, str) and c.startswith(prefix)}
