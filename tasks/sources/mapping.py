"""Column mapping: which source column feeds which lead field, and what is kept as custom fields.

Header names are compared after lower-casing and dropping everything but letters and digits
("Phone Number", "phone_number" and "PhoneNumber" are all ``phonenumber``). A name that
starts with ``lead`` also matches without it ("leadPhone", "leadTimezone"). Known names:

============  ===============================================================================
lead field    source headers
============  ===============================================================================
phone         Phone, Phone Number, PhoneNumber, Phone No, Mobile, Mobile Phone, Mobile Number,
              Cell, Cell Phone, Telephone, Tel, Primary Phone, Contact Number
phones        Phones, Other Phones, Additional Phones, Alt Phone(s), Alternate Phone(s)
external_id   ID, External ID, externId, Lead ID, CRM ID, Record ID
first_name    First Name, firstName, fname, Given Name, First
last_name     Last Name, lastName, lname, Surname, Family Name, Last
email         Email, E-mail, Email Address
address1      Address, Street, Street Address, Address 1, Address Line 1
address2      Address 2, Address Line 2, Street 2
city          City, Town
state         State, ST, Province, Region, State/Province
zip           ZIP, Zip Code, Postal Code, Postcode, Postal
country       Country, Country Code
timezone      Timezone, Time Zone, TZ
priority      Priority
============  ===============================================================================

When two headers match one field, the earlier alias in this table wins, then the earlier
column; the other stays a custom field. An explicit mapping (``SourceSpec.mapping``, then the
mapping file) overrides the automatic one field by field.

Duplicate header names are renamed, not refused: the second ``Phone`` becomes ``Phone_2``,
the third ``Phone_3`` (skipping names already taken); an empty header at position 7 becomes
``column_7``. Each rename is reported in ``SourceReader.notes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from schemas import columns as c
from schemas.columns import extra as extra_name
from schemas.sources import MappingFile

ALIASES: dict[str, tuple[str, ...]] = {
    c.PHONE: (
        "phone", "phonenumber", "phoneno", "mobile", "mobilephone", "mobilenumber", "cell",
        "cellphone", "telephone", "tel", "primaryphone", "contactnumber",
    ),
    c.PHONES: (
        "phones", "otherphones", "additionalphones", "altphone", "altphones", "alternatephone",
        "alternatephones",
    ),
    c.EXTERNAL_ID: ("id", "externalid", "externid", "leadid", "crmid", "recordid"),
    c.FIRST_NAME: ("firstname", "fname", "givenname", "first"),
    c.LAST_NAME: ("lastname", "lname", "surname", "familyname", "last"),
    c.EMAIL: ("email", "emailaddress"),
    c.ADDRESS1: ("address", "street", "streetaddress", "address1", "addressline1"),
    c.ADDRESS2: ("address2", "addressline2", "street2"),
    c.CITY: ("city", "town"),
    c.STATE: ("state", "st", "province", "region", "stateprovince"),
    c.ZIP: ("zip", "zipcode", "postalcode", "postcode", "postal"),
    c.COUNTRY: ("country", "countrycode"),
    c.TIMEZONE: ("timezone", "tz"),
    c.PRIORITY: ("priority",),
}

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_LEAD_PREFIX = "lead"


def normalize_header(name: str) -> str:
    """``name`` lower-cased with everything but letters and digits removed."""
    return _NOT_ALNUM.sub("", name.lower())


def _rank(name: str, field_name: str) -> int | None:
    key = normalize_header(name)
    aliases = ALIASES[field_name]
    if key in aliases:
        return aliases.index(key)
    if key.startswith(_LEAD_PREFIX) and key[len(_LEAD_PREFIX):] in aliases:
        return len(aliases) + aliases.index(key[len(_LEAD_PREFIX):])
    return None


def auto_mapping(columns: list[str]) -> dict[str, str]:
    """Guess the lead field of each header from common names (see the module docstring).

    Args:
        columns: source header names, in order.

    Returns:
        lead field -> source column, for the fields that some header matched.
    """
    found: dict[str, str] = {}
    taken: set[str] = set()
    for field_name in ALIASES:
        ranked = [
            (rank, pos, name)
            for pos, name in enumerate(columns)
            if name not in taken and (rank := _rank(name, field_name)) is not None
        ]
        if ranked:
            name = min(ranked)[2]
            found[field_name] = name
            taken.add(name)
    return found


def dedupe_headers(names: list[str]) -> tuple[list[str], list[str]]:
    """Make header names unique and non-empty, deterministically.

    Returns:
        the new names, and one note per rename.
    """
    out: list[str] = []
    notes: list[str] = []
    used = {n.strip() for n in names if n.strip()}
    seen: set[str] = set()
    for pos, raw in enumerate(names, start=1):
        name = raw.strip()
        new = name
        if not name:
            new = f"column_{pos}"
        elif name in seen:
            k = 2
            while f"{name}_{k}" in used:
                k += 1
            new = f"{name}_{k}"
        if new != raw:
            reason = "empty header" if not name else "duplicate header" if name in seen else ""
            if reason:
                notes.append(f"{reason} {raw!r} at position {pos} renamed to {new!r}")
        used.add(new)
        seen.add(new)
        out.append(new)
    return out, notes


@dataclass(frozen=True)
class ColumnPlan:
    """How source columns become chunk columns."""

    mapped: dict[str, str]  #: lead field -> source column, in INPUT_FIELDS order
    extras: list[str]  #: source columns kept as ``extra.<name>``, in source order
    missing: dict[str, str] = field(default_factory=dict)  #: field -> absent source column


def plan_columns(
    columns: list[str],
    explicit: dict[str, str] | None,
    mapping_file: MappingFile | None = None,
) -> ColumnPlan:
    """Resolve the explicit mapping, the mapping file and the automatic guess over ``columns``.

    Args:
        columns: unique source header names.
        explicit: lead field -> source column from the spec; overrides everything.
        mapping_file: the parsed mapping file, if any.

    Returns:
        the plan; ``missing`` lists explicitly mapped columns the source lacks (and columns
        named in the file's ``extra`` list, keyed ``extra.<name>``).
    """
    mf = mapping_file or MappingFile()
    chosen = {**mf.fields, **(explicit or {})}
    present = set(columns)
    missing = {f: col for f, col in chosen.items() if col not in present}
    if mf.extra is not None:
        missing.update({extra_name(x): x for x in mf.extra if x not in present})
    reserved = set(chosen.values()) | set(mf.ignore) | set(mf.extra or ())
    guessed = auto_mapping([col for col in columns if col not in reserved])
    merged = {**guessed, **{f: col for f, col in chosen.items() if col in present}}
    mapped: dict[str, str] = {f: merged[f] for f in c.INPUT_FIELDS if f in merged}
    used = set(mapped.values()) | set(mf.ignore)
    keep = set(mf.extra) if mf.extra is not None else present
    extras = [col for col in columns if col not in used and col in keep]
    return ColumnPlan(mapped=mapped, extras=extras, missing=missing)
