"""NLPearl lead lookups by external id (``GET .../Lead/External/{externalId}``), a few at a time: whether a
lead landed, and its ``status`` (what its last conversation came to)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx

from tasks.http import classify_status

#: Answers of a lookup that mean "no such lead" (the docs name 400; 404 is tolerated).
NOT_FOUND = frozenset({400, 404})


#: Lead ``status`` codes (the status of the lead's last conversation) and their names [F].
STATUS_NAMES = {1: "New", 10: "NeedRetry", 20: "InCallQueue", 30: "WrongCountryCode", 40: "OnCall",
                70: "VoiceMailLeft", 100: "Success", 110: "NotSuccessfull", 130: "Complete", 150: "Unreachable",
                500: "Error"}


def fetch_leads(call: Callable[[httpx.Request, str], httpx.Response], client: httpx.Client, outbound: str,
                ids: Sequence[str], concurrency: int) -> dict[str, dict[str, Any]]:
    """The ``LeadApiView`` of each external id among ``ids`` that NLPearl has a lead for.

    Args:
        call: sends a look-up (retried and rate limited: ``Provider.call``).
        client: the provider's client (thread-safe; its auth applies).
        outbound: ``/v2/Outbound/{pearlId}``.
        ids: external ids to look up.
        concurrency: lookups in flight at once.

    Raises:
        ProviderError: a lookup failed (classified like any other answer).
    """
    def fetch(external_id: str) -> dict[str, Any] | None:
        path = f"{outbound}/Lead/External/{quote(external_id, safe='')}"
        response = call(client.build_request("GET", path), "lookup")
        if response.status_code in NOT_FOUND:
            return None
        classify_status(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        return body if isinstance(body, dict) else {}

    if not ids:
        return {}
    with ThreadPoolExecutor(max_workers=min(concurrency, len(ids)), thread_name_prefix="nlpearl-lookup") as pool:
        return {i: lead for i, lead in zip(ids, pool.map(fetch, ids), strict=True) if lead is not None}


def find_external_ids(call: Callable[[httpx.Request, str], httpx.Response], client: httpx.Client, outbound: str,
                      ids: Sequence[str], concurrency: int) -> set[str]:
    """The external ids among ``ids`` that NLPearl has a lead for (:func:`fetch_leads`).

    Raises:
        ProviderError: a lookup failed (classified like any other answer).
    """
    return set(fetch_leads(call, client, outbound, ids, concurrency))
