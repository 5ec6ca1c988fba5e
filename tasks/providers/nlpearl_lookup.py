"""NLPearl lead lookups by external id (``GET .../Lead/External/{externalId}``), a few at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx

from tasks.http import classify_status

#: Answers of a lookup that mean "no such lead" (the docs name 400; 404 is tolerated).
NOT_FOUND = frozenset({400, 404})


def find_external_ids(call: Callable[[httpx.Request, str], httpx.Response], client: httpx.Client, outbound: str,
                      ids: Sequence[str], concurrency: int) -> set[str]:
    """The external ids among ``ids`` that NLPearl has a lead for.

    Args:
        call: sends a look-up (retried and rate limited: ``Provider.call``).
        client: the provider's client (thread-safe; its auth applies).
        outbound: ``/v2/Outbound/{pearlId}``.
        ids: external ids to look up.
        concurrency: lookups in flight at once.

    Raises:
        ProviderError: a lookup failed (classified like any other answer).
    """
    def exists(external_id: str) -> bool:
        path = f"{outbound}/Lead/External/{quote(external_id, safe='')}"
        response = call(client.build_request("GET", path), "lookup")
        if response.status_code in NOT_FOUND:
            return False
        classify_status(response)
        return True

    if not ids:
        return set()
    with ThreadPoolExecutor(max_workers=min(concurrency, len(ids)), thread_name_prefix="nlpearl-lookup") as pool:
        return {i for i, hit in zip(ids, pool.map(exists, ids), strict=True) if hit}
