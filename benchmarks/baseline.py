"""The naive loader a user would write from the vendor docs: one dict per lead, phonenumbers per row."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import phonenumbers

#: The simulator's permanent API token (sent as X-Auth-Token) and its default account and campaign.
TOKEN = "sim-engage-api-token"
ACCOUNT = "99990001"
CAMPAIGN = "4001"
#: Leads per POST, the size the Engage docs' examples use.
BATCH = 5_000
LOAD_PATH = f"/voice/api/v1/admin/accounts/{ACCOUNT}/campaigns/{CAMPAIGN}/leadLoader/direct"
_FIELDS = {"firstName": "First Name", "lastName": "Last Name", "email": "Email", "address1": "Address",
           "city": "City", "state": "State", "zip": "ZIP"}


def _post(client: httpx.Client, leads: list[dict[str, Any]], counts: Counter[str]) -> None:
    body = {"listState": "ACTIVE", "duplicateHandling": "REMOVE_ALL_EXISTING", "timeZoneOption": "NPA_NXX",
            "dialPriority": "NORMAL", "description": "naive baseline", "uploadLeads": leads}
    response = client.post(LOAD_PATH, content=json.dumps(body), headers={"Content-Type": "application/json"})
    response.raise_for_status()
    result = response.json()
    counts["loaded"] += int(result["leadsAccepted"])
    counts["rejected"] += len(result.get("rejectedRows") or [])
    counts["requests"] += 1


def run_baseline(csv_path: Path, base_url: str, *, limit: int | None = None) -> dict[str, Any]:
    """Load a lead CSV into the Engage Voice simulator the naive way, and time it.

    Args:
        csv_path: a file written by ``benchmarks.generate``.
        base_url: the simulator's base URL.
        limit: read at most this many rows.

    Returns:
        ``rows``, ``wall_s``, ``leads_per_s`` and the outcome ``counts``.
    """
    counts: Counter[str] = Counter()
    rows = 0
    start = time.perf_counter()
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
            if not phonenumbers.is_valid_number(number):
                counts["invalid"] += 1
                continue
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if e164 in seen:
                counts["duplicate"] += 1
                continue
            seen.add(e164)
            lead = {"externId": row["Lead ID"], "leadPhone": str(number.national_number)}
            lead.update({api: row[col] for api, col in _FIELDS.items() if row[col]})
            batch.append(lead)
            if len(batch) == BATCH:
                _post(client, batch, counts)
                batch = []
        if batch:
            _post(client, batch, counts)
    wall = time.perf_counter() - start
    return {"rows": rows, "wall_s": wall, "leads_per_s": rows / wall if wall else 0.0, "counts": dict(counts)}
