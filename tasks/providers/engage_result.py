"""Reading Engage Voice answers: the ``LeadListProcessingResult`` of a load, and ``leadSearch`` results.

Documented (spec): the counters ``leadsSupplied``, ``leadsAccepted``, ``leadsInserted`` and the
``rejectedRows`` (``{message, rowData}``) of a load; with ``duplicateHandling`` the dialer drops
duplicates (seed 002: ``REMOVE_ALL_EXISTING`` drops a new lead whose phone an earlier such load
holds, ``REMOVE_FROM_LIST`` drops repeats inside the upload). Inferred, and read leniently:

- ``rowData`` of a JSON load: a rejected row is matched to the first unmatched lead whose
  ``externId`` (else phone) is among its values; a list, an object or comma-separated text.
- ``leadsAccepted - leadsInserted`` counts the leads the dialer dropped as duplicates; which
  ones is not said, so the leads are looked up (``leadSearch`` by ``externIds``): those found
  with their phone landed, the others were dropped. A missing ``leadsInserted`` means none was.
- ``leadSearch`` answers (declared only ``type: object``): a list of leads, or an object holding
  it under one of ``RESULT_KEYS``; paged with ``page`` (from 0) and ``maxRows``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx
import numpy as np
import pandas as pd

from schemas import columns as C
from schemas.outcomes import Outcome
from tasks.http import classify_status, short_body
from tasks.providers.base import documented_json, result_frame
from tasks.providers.errors import AmbiguousDeliveryError

#: Fields of which a ``LeadListProcessingResult`` has at least one.
RESULT_FIELDS = frozenset({"leadsSupplied", "leadsAccepted", "leadsInserted", "rejectedRows", "processingResult"})
#: Keys under which a ``leadSearch`` object answer may hold its leads (inferred).
RESULT_KEYS = ("results", "leads", "content", "data", "items", "records", "campaignLeads")
#: ``maxRows`` of a ``leadSearch`` page, and ids per search.
SEARCH_ROWS = 500
RETAIN = "RETAIN_ALL"
#: Leads a look-up says landed: (externId, first phone as sent).
Landed = set[tuple[str, str]]


def load_result(response: httpx.Response) -> dict[str, Any]:
    """The answer's ``LeadListProcessingResult``.

    Raises:
        AmbiguousDeliveryError: a 2xx answer without one (the leads may have landed).
    """
    try:
        result = response.json()
    except ValueError:
        result = None
    if not isinstance(result, dict) or not RESULT_FIELDS & result.keys():
        raise AmbiguousDeliveryError(f"engage-voice answered {response.status_code} without a "
                                     f"LeadListProcessingResult: {short_body(response)}", status=response.status_code)
    return result


def _count(result: dict[str, Any], name: str, default: int) -> int:
    value = result.get(name)
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _row_values(row_data: Any) -> list[str]:
    if isinstance(row_data, dict):
        row_data = list(row_data.values())
    elif isinstance(row_data, str):
        row_data = row_data.split(",")
    elif not isinstance(row_data, list):
        return []
    return [str(v).strip() for v in row_data if v is not None]


def match_rejected(rows: Any, extern: pd.Series, phone: pd.Series) -> tuple[pd.Series, list[str]]:
    """Each lead's rejection message (<NA> if none) and the messages no lead could be matched to."""
    reasons = pd.Series(pd.NA, index=range(len(extern)), dtype="string")
    unmatched: list[str] = []
    if not isinstance(rows, list) or not rows:
        return reasons, unmatched
    ext, ph = extern.fillna("").tolist(), phone.fillna("").tolist()
    by_ext: dict[str, list[int]] = {}
    by_phone: dict[str, list[int]] = {}
    for i, (e, p) in enumerate(zip(ext, ph, strict=True)):
        by_ext.setdefault(e, []).append(i)
        by_phone.setdefault(p.split("|", 1)[0], []).append(i)
    taken: set[int] = set()
    for row in rows:
        row = row if isinstance(row, dict) else {"message": row}
        message = str(row.get("message") or "rejected by engage-voice")
        values = _row_values(row.get("rowData"))
        hit = next((i for index in (by_ext, by_phone) for v in values for i in index.get(v, ()) if i not in taken
                    and v), None)
        if hit is None:
            unmatched.append(message)
            continue
        taken.add(hit)
        reasons.iloc[hit] = message
    return reasons, unmatched


def settle_load(batch: pd.DataFrame, result: dict[str, Any], lead_phone: Callable[[], pd.Series], handling: str,
                lookup: Callable[[str, list[str]], Landed]) -> pd.DataFrame:
    """Per-lead outcomes of a load's result.

    Args:
        batch: the leads as sent, in request order.
        result: the ``LeadListProcessingResult``.
        lead_phone: each lead's ``leadPhone`` as sent (called only when some lead was not inserted).
        handling: the request's ``duplicateHandling``.
        lookup: the campaign's leads with the given ``externIds`` or ``leadPhoneNumbers``
            (called only when the counters say some leads were not inserted).

    Leads that did not land are dropped duplicates, or rejected leads no ``rejectedRows`` entry
    could be matched to; when the answer has both, a lead whose phone the campaign holds is the
    duplicate.
    """
    n = len(batch)
    rows = result.get("rejectedRows")
    if not rows and _count(result, "leadsInserted", _count(result, "leadsAccepted", n)) >= n:
        return result_frame(batch, Outcome.LOADED, None)  # the usual answer: every lead inserted
    extern = (batch[C.EXTERNAL_ID].astype("string") if C.EXTERNAL_ID in batch
              else pd.Series(pd.NA, index=batch.index, dtype="string")).reset_index(drop=True)
    phone = lead_phone().astype("string").reset_index(drop=True)
    first = phone.fillna("").str.split("|", n=1).str[0]
    rejected, unmatched = match_rejected(rows, extern, phone)
    open_ = rejected.isna().to_numpy()
    accepted = _count(result, "leadsAccepted", n - len(unmatched) - int((~open_).sum()))
    inserted = _count(result, "leadsInserted", accepted)
    outcome = np.where(open_, Outcome.LOADED, Outcome.REJECTED).astype(object)
    reason = ("engage-voice: " + rejected).to_numpy(dtype=object)
    missing = int(open_.sum()) - inserted
    if accepted <= 0 and missing > 0:
        status = result.get("processingStatus") or result.get("message") or "not accepted"
        outcome[open_], reason[open_] = Outcome.REJECTED, f"engage-voice: {status}"
    elif missing > 0:
        dropped = max(accepted - inserted, 0)
        absent = open_.copy()
        if missing < int(open_.sum()):
            landed = lookup("externIds", extern[open_].dropna().unique().tolist())
            found = np.array([(e, p) in landed for e, p in zip(extern.fillna(""), first, strict=True)])
            absent &= ~found
            absent |= open_ & _repeats(extern, first, max(missing - int(absent.sum()), 0), found)
        duplicate = absent if not unmatched else np.zeros(n, dtype=bool)
        if unmatched and dropped:
            held = {p for _, p in lookup("leadPhoneNumbers", first[absent].unique().tolist())}
            duplicate = absent & first.isin(held).to_numpy()
        outcome[duplicate], reason[duplicate] = _dropped(handling)
        rest = absent & ~duplicate
        outcome[rest] = Outcome.REJECTED
        reason[rest] = "engage-voice: " + "; ".join(sorted(set(unmatched)))[:500] if unmatched else _dropped(RETAIN)[1]
    reason[outcome == Outcome.LOADED] = None
    return result_frame(batch, pd.Series(outcome), pd.Series(reason, dtype="string"))


def _repeats(extern: pd.Series, first: pd.Series, count: int, found: np.ndarray) -> np.ndarray:
    """The last ``count`` found leads repeating an earlier lead's externId and phone (one landed for both)."""
    out = np.zeros(len(extern), dtype=bool)
    if count:
        again = pd.DataFrame({"e": extern.fillna(""), "p": first}).duplicated().to_numpy() & found
        out[np.flatnonzero(again)[-count:]] = True
    return out


def _dropped(handling: str) -> tuple[str, str]:
    """Outcome and reason of an accepted lead the dialer did not insert."""
    if handling == "REMOVE_ALL_EXISTING":
        return Outcome.DUPLICATE, ("engage-voice: dropped by duplicateHandling=REMOVE_ALL_EXISTING "
                             "(a lead with this phone is already in the campaign)")
    if handling == "REMOVE_FROM_LIST":
        return Outcome.DUPLICATE, ("engage-voice: dropped by duplicateHandling=REMOVE_FROM_LIST "
                             "(its phone repeats an earlier lead of the upload)")
    return Outcome.REJECTED, "engage-voice: accepted but not inserted (leadsInserted below leadsAccepted)"


def search_items(data: Any) -> list[dict[str, Any]]:
    """The leads of a ``leadSearch`` answer, whichever inferred shape it has."""
    if isinstance(data, dict):
        data = next((data[k] for k in RESULT_KEYS if isinstance(data.get(k), list)), [])
    return [x for x in data if isinstance(x, dict)] if isinstance(data, list) else []


def search_leads(call: Callable[[httpx.Request], httpx.Response], client: httpx.Client, path: str,
                 criteria: dict[str, Any]) -> list[dict[str, Any]]:
    """Every lead ``leadSearch`` finds, page by page (stops at a short page or one adding nothing new);
    each page sent with ``call`` (the provider's rate-limited, retried look-up).

    Raises:
        ProviderError: a search failed (classified like any other answer; an undocumented body is unknown).
    """
    out: list[dict[str, Any]] = []
    seen: set[Any] = set()
    page = 0
    while True:
        request = client.build_request("POST", path, params={"page": page, "maxRows": SEARCH_ROWS}, json=criteria)
        response = call(request)
        classify_status(response)
        items = search_items(documented_json("engage-voice", response, "a lead search result",
                                             lambda data: isinstance(data, (list, dict))))
        keys = [x.get("leadId", id(x)) for x in items]
        new = [x for x, k in zip(items, keys, strict=True) if k not in seen]
        seen.update(keys)
        out += new
        if len(items) < SEARCH_ROWS or not new:
            return out
        page += 1


def landed_pairs(items: Iterable[dict[str, Any]]) -> Landed:
    """(externId, first phone) of each lead a search found."""
    return {(str(x.get("externId") or ""), str(x.get("leadPhone") or "").split("|", 1)[0]) for x in items}
