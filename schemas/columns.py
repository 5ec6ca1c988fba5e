"""Names of the canonical lead columns that every stage reads and writes.

A chunk is a pandas DataFrame. Sources produce ``ROW`` plus whatever the mapping gives
(the canonical input fields below and ``extra.<name>`` custom fields); the rules add the
derived columns; every stage that drops a lead sets ``OUTCOME`` and ``REASON`` instead of
deleting the row, so each input row keeps exactly one outcome.
"""

from __future__ import annotations

from typing import Final

#: 1-based data-row number in the source (the header is not counted).
ROW: Final = "row"

# Canonical input fields (after the column mapping). All strings, missing as <NA>.
EXTERNAL_ID: Final = "external_id"
PHONE: Final = "phone"  #: raw primary phone field; may hold several numbers ("a | b")
PHONES: Final = "phones"  #: raw additional phones field, same separators
FIRST_NAME: Final = "first_name"
LAST_NAME: Final = "last_name"
EMAIL: Final = "email"
ADDRESS1: Final = "address1"
ADDRESS2: Final = "address2"
CITY: Final = "city"
STATE: Final = "state"
ZIP: Final = "zip"
COUNTRY: Final = "country"
TIMEZONE: Final = "timezone"  #: explicit zone given by the source (IANA, Windows, EST, UTC-5)
PRIORITY: Final = "priority"

INPUT_FIELDS: Final = (
    EXTERNAL_ID, PHONE, PHONES, FIRST_NAME, LAST_NAME, EMAIL, ADDRESS1, ADDRESS2,
    CITY, STATE, ZIP, COUNTRY, TIMEZONE, PRIORITY,
)

#: Prefix of custom-field columns carried through to provider custom fields.
EXTRA_PREFIX: Final = "extra."

# Derived by the rules.
PHONE_E164: Final = "phone_e164"  #: primary phone, E.164 with "+"
ALT_PHONES: Final = "alt_phones"  #: other valid phones of the lead, E.164, "|"-joined
PHONE_REGION: Final = "phone_region"  #: ISO region of the primary phone ("US", "CA", ...)
TZ_ZONES: Final = "tz_zones"  #: candidate IANA zones, "|"-joined (a split area code gives several)
TZ_SOURCE: Final = "tz_source"  #: NPA_NXX, ZIPCODE, EXPLICIT or NOT_APPLICABLE
NEXT_ELIGIBLE: Final = "next_eligible_at"  #: UTC time the calling window next opens (deferred)

# Outcome bookkeeping.
OUTCOME: Final = "outcome"
REASON: Final = "reason"


def extra(name: str) -> str:
    """Column name of the custom field ``name``."""
    return f"{EXTRA_PREFIX}{name}"


def extra_columns(columns: object) -> list[str]:
    """The custom-field columns among ``columns``, in order."""
    return [c for c in columns if isinstance(c, str) and c.startswith(EXTRA_PREFIX)]  # type: ignore[attr-defined]
