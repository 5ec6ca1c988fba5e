"""The naive loader a user would write from the vendor docs: one dict per lead, phonenumbers per row.

Two variants, so the benchmark can report both:

- ``rules="all"`` does the flow's job, each rule the plain per-row way: phone validity, the
  lead fields' shapes, dedup by E.164, the DNC file, a time zone per number and the federal
  calling window, then one request per 5,000 leads.
- ``rules="phones"`` only parses phones and dedups (the original baseline, less work than the flow).
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import phonenumbers
from phonenumbers import timezone as phone_timezone

#: The simulator's permanent API token (sent as X-Auth-Token) and its default account and campaign.
TOKEN = "sim-engage-api-token"
ACCOUNT = "99990001"
CAMPAIGN = "4001"
#: The run's clock: a Wednesday 18:00 UTC, when nearly every US and Canadian lead may be called.
NOW = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)
#: Leads per POST, the size the Engage docs' examples use.
BATCH = 5_000
#: Seconds the naive loader waits after a 429 before sending the same request again.
THROTTLED_WAIT_S = 1.0
LOAD_PATH = f"/voice/api/v1/admin/accounts/{ACCOUNT}/campaigns/{CAMPAIGN}/leadLoader/direct"
_FIELDS = {"firstName": "First Name", "lastName": "Last Name", "email": "Email", "address1": "Address",
           "city": "City", "state": "State", "zip": "ZIP"}

#: The ``rules`` values of :func:`run_baseline`.
RULES = ("all", "phones")

# The shapes the flow's Lead schema checks (schemas/lead.py), copied so the baseline stands alone;
# tests/test_baseline.py checks they stay the same.
EMAIL_PATTERN = r"[^@ \t\r\n]+@[^@ \t\r\n.]+(?:\.[^@ \t\r\n.]+)*\.[A-Za-z]{2,}"
US_ZIP_PATTERN = r"[0-9]{5}(?:-[0-9]{4})?"
CA_POSTAL_PATTERN = r"[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] ?[0-9][ABCEGHJ-NPRSTV-Z][0-9]"
SHORT_ZIP_PATTERN = r"[0-9]{3,4}(?:-[0-9]{4})?"
CA_PROVINCES = frozenset({"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"})
TEXT_MAX = 100
EMAIL_MAX = 254
ADDRESS_MAX = 255
_EMAIL = re.compile(EMAIL_PATTERN)
_STATE = re.compile(r"[A-Z]{2}")
_US_ZIP = re.compile(US_ZIP_PATTERN)
_CA_POSTAL = re.compile(CA_POSTAL_PATTERN)
_SHORT_ZIP = re.compile(SHORT_ZIP_PATTERN)
#: Columns held to ``TEXT_MAX`` characters (external id, names, city).
_SHORT_TEXT = ("Lead ID", "First Name", "Last Name", "City")
#: The federal (TCPA) calling window in the called party's local time: start included, end excluded.
CALL_START, CALL_END = clock(8, 0), clock(21, 0)
#: What phonenumbers answers for a number it cannot place.
UNKNOWN_ZONE = "Etc/Unknown"


def _post(client: httpx.Client, leads: list[dict[str, Any]], counts: Counter[str]) -> None:
    """One request; on a 429 (over the documented rate limits) wait a second and send it again."""
    body = {"listState": "ACTIVE", "duplicateHandling": "REMOVE_ALL_EXISTING", "timeZoneOption": "NPA_NXX",
            "dialPriority": "NORMAL", "description": "naive baseline", "uploadLeads": leads}
    content = json.dumps(body)
    while (response := client.post(LOAD_PATH, content=content,
                                    headers={"Content-Type": "application/json"})).status_code == 429:
        counts["throttled"] += 1
        time.sleep(THROTTLED_WAIT_S)
    response.raise_for_status()
    result = response.json()
    counts["loaded"] += int(result["leadsAccepted"])
    counts["rejected"] += len(result.get("rejectedRows") or [])
    counts["requests"] += 1


def read_dnc(path: Path) -> set[str]:
    """The numbers of a registry-style DNC file as E.164 strings, read once.

    Lines hold 10 digits or ``NPA,NUMBER`` (the number first on each line otherwise); blank
    lines, ``#`` comments, a header and lines without a number phonenumbers can parse are skipped.
    """
    numbers: set[str] = set()
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split(",")]
            raw = fields[0]
            if len(fields) > 1 and len(raw) == 3 and raw.isdigit():
                raw += fields[1]
            try:
                number = phonenumbers.parse(raw, "US")
            except phonenumbers.NumberParseException:
                continue
            numbers.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return numbers


def _valid_fields(row: Mapping[str, str]) -> bool:
    """Whether the row's fields pass the flow's Lead schema checks (after its trimming and padding)."""
    email = (row.get("Email") or "").strip()
    if email and (len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email)):
        return False
    state = (row.get("State") or "").strip().upper()
    if state and not _STATE.fullmatch(state):
        return False
    zip_code = (row.get("ZIP") or "").strip().upper()
    if zip_code:
        if _SHORT_ZIP.fullmatch(zip_code):  # a spreadsheet dropped its leading zeros
            head, sep, tail = zip_code.partition("-")
            zip_code = head.zfill(5) + sep + tail
        postal = _CA_POSTAL.fullmatch(zip_code) is not None
        # A US ZIP outside Canada, a Canadian postal code in Canada (a province as the state).
        if not (postal or _US_ZIP.fullmatch(zip_code)) or postal != (state in CA_PROVINCES):
            return False
    if any(len((row.get(col) or "").strip()) > TEXT_MAX for col in _SHORT_TEXT):
        return False
    return len(row.get("Address") or "") <= ADDRESS_MAX


def run_baseline(csv_path: Path, base_url: str, *, limit: int | None = None, rules: str = "all",
                 dnc_path: Path | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Load a lead CSV into the Engage Voice simulator the naive way, and time it.

    Every row ends with exactly one count (``invalid``, ``duplicate``, ``suppressed``,
    ``deferred``, or ``loaded``/``rejected`` as the simulator answers); ``requests`` counts posts.

    Args:
        csv_path: a file written by ``benchmarks.generate``.
        base_url: the simulator's base URL.
        limit: read at most this many rows.
        rules: ``"all"``: phones, field shapes, dedup, DNC, time zone and calling window per row;
            ``"phones"``: phones and dedup only.
        dnc_path: the DNC file (``"all"`` only; none: nothing is suppressed). Reading it is timed.
        now: the clock for the calling window (default: the flow benchmark's, a Wednesday 18:00 UTC).

    Returns:
        ``rows``, ``wall_s``, ``leads_per_s``, the outcome ``counts`` and the ``rules`` used.

    Raises:
        ValueError: if ``rules`` is not one of ``RULES``.
    """
    if rules not in RULES:
        raise ValueError(f"rules must be one of {RULES}, not {rules!r}")
    full = rules == "all"
    if now is None:
        now = NOW
    counts: Counter[str] = Counter()
    zones: dict[str, ZoneInfo] = {}
    rows = 0
    start = time.perf_counter()
    dnc = read_dnc(dnc_path) if full and dnc_path is not None else set()
    with httpx.Client(base_url=base_url, headers={"X-Auth-Token": TOKEN}, timeout=120.0) as client, \
            csv_path.open(newline="", encoding="utf-8") as fh:
        seen: set[str] = set()
        batch: list[dict[str, Any]] = []
        for row in csv.DictReader(fh):
            if limit is not None and rows >= limit:
                break
            rows += 1
            try:
                number = phonenumbers.parse(row["Phone Number"], "US")
            except phonenumbers.NumberParseException:
                counts["invalid"] += 1
                continue
            if not phonenumbers.is_valid_number(number) or (full and not _valid_fields(row)):
                counts["invalid"] += 1
                continue
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if e164 in seen:
                counts["duplicate"] += 1
                continue
            seen.add(e164)
            if full:
                if e164 in dnc:
                    counts["suppressed"] += 1
                    continue
                name = phone_timezone.time_zones_for_number(number)[0]
                if name == UNKNOWN_ZONE:
                    counts["deferred"] += 1
                    continue
                zone = zones.get(name)
                if zone is None:
                    zone = zones[name] = ZoneInfo(name)
                if not CALL_START <= now.astimezone(zone).time() < CALL_END:
                    counts["deferred"] += 1
                    continue
            lead = {"externId": row["Lead ID"], "leadPhone": str(number.national_number)}
            lead.update({api: row[col] for api, col in _FIELDS.items() if row[col]})
            batch.append(lead)
            if len(batch) == BATCH:
                _post(client, batch, counts)
                batch = []
        if batch:
            _post(client, batch, counts)
    wall = time.perf_counter() - start
    return {"rows": rows, "wall_s": wall, "leads_per_s": rows / wall if wall else 0.0, "counts": dict(counts),
            "rules": rules}
