"""What the simulated dialers did with the leads they hold: deterministic, varied call results.

Not part of any vendor contract: the real dialers call leads over days; the simulators answer as
if each lead had been dialed once as soon as it was loaded. The result of a lead comes from a
hash of its phone's digits (``bucket``, 0-99) through a table of the provider's documented fields
(the share of each result is inferred, chosen to show every action). Tests and demos set one
lead's result through ``POST /_sim/dispositions``:

    {"leads": {"<externId, or the phone's digits or last ten digits>": {"leadState": "DO-NOT-CALL"}}}

The hashed results are off by default (a lead just added reads as loaded, nothing dialed yet, as
the documents suggest); ``"hashed": true`` turns them on, and so does ``LEADFLOW_SIM_DISPOSITIONS=hashed``
in the environment of the simulator (``leadflow simulate --dispositions`` sets it).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulators.common import json_response, read_json

#: Environment variable that turns the hashed results on when a simulator starts.
HASHED_ENV = "LEADFLOW_SIM_DISPOSITIONS"

#: (bucket upper bound, fields of the lead as the dialer shows them); the first bound above the bucket wins.
Table = Sequence[tuple[int, dict[str, Any]]]


def bucket(phone: str) -> int:
    """0-99 from the last ten digits of a phone: the same phone lands in the same bucket in every
    simulator, whether written with its country code (NLPearl) or without (Engage)."""
    digits = re.sub(r"\D", "", phone)[-10:]
    return int.from_bytes(hashlib.sha256(digits.encode()).digest()[:4], "big") % 100


class SimDispositions:
    """A dialer's results: the hashed table, and results set per lead."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.hashed = os.environ.get(HASHED_ENV, "").lower() == "hashed"
        #: Fields set per lead, by externId or phone digits.
        self.overrides: dict[str, dict[str, Any]] = {}

    def fields(self, external_id: str | None, phone: str) -> dict[str, Any]:
        """The result fields of one lead (empty: not dialed yet)."""
        digits = re.sub(r"\D", "", phone)
        for key in (external_id, digits, digits[-10:]):
            if key and key in self.overrides:
                return self.overrides[key]
        if not self.hashed:
            return {}
        at = bucket(phone)
        return next((fields for bound, fields in self.table if at < bound), {})


def disposition_routes(dispositions: SimDispositions) -> list[BaseRoute]:
    """``GET``/``POST /_sim/dispositions``: the results set per lead, and the switch of the hashed ones."""

    async def endpoint(request: Request) -> Response:
        if request.method == "POST":
            body = await read_json(request)
            leads = body.get("leads", {}) if isinstance(body, dict) else None
            if not isinstance(leads, dict) or not all(isinstance(v, dict) for v in leads.values()):
                return json_response({"error": "expected {'leads': {key: {field: value}}, 'hashed': bool}"}, 422)
            dispositions.overrides.update({str(k): v for k, v in leads.items()})
            dispositions.hashed = bool(body.get("hashed", dispositions.hashed))
        return json_response({"hashed": dispositions.hashed, "leads": dispositions.overrides})

    return [Route("/_sim/dispositions", endpoint, methods=["GET", "POST"])]


#: Engage Voice: ``leadState`` (the spec's enum), ``lastPassDisposition`` and ``leadPasses``; the
#: disposition texts are inferred (the documents list no system dispositions).
ENGAGE_TABLE: Table = (
    (10, {"leadState": "DO-NOT-CALL", "lastPassDisposition": "DNC", "leadPasses": 1}),
    (20, {"leadState": "DISCONNECTED", "lastPassDisposition": "DISCONNECTED", "leadPasses": 1}),
    (25, {"leadState": "INTERCEPT", "lastPassDisposition": "INTERCEPT", "leadPasses": 1}),
    (50, {"leadState": "COMPLETE", "lastPassDisposition": "ANSWER", "leadPasses": 1}),
    (70, {"leadState": "ACTIVE", "lastPassDisposition": "NO ANSWER", "leadPasses": 1}),
    (80, {"leadState": "ACTIVE", "lastPassDisposition": "ANSWERING MACHINE", "leadPasses": 2}),
)

#: NLPearl: the lead ``status`` codes of its documents (30 WrongCountryCode ... 150 Unreachable).
NLPEARL_TABLE: Table = (
    (10, {"status": 30}), (20, {"status": 150}), (45, {"status": 100}), (55, {"status": 110}),
    (65, {"status": 130}), (75, {"status": 70}), (85, {"status": 10}),
)


def engage_view(lead: dict[str, Any], dispositions: SimDispositions) -> dict[str, Any]:
    """A stored Engage lead as ``leadSearch`` shows it once dialed (``lastPassDts``: its load time)."""
    fields = dispositions.fields(lead.get("externId"), str(lead.get("leadPhone") or "").split("|")[0])
    if not fields:
        return lead
    return {**lead, "lastPassDts": lead.get("loadedDts"), **fields}


def nlpearl_view(lead: dict[str, Any], dispositions: SimDispositions) -> dict[str, Any]:
    """A stored NLPearl lead as "Get Lead Via External ID" shows it once called (one call, at its creation)."""
    fields = dispositions.fields(lead.get("externalId"), str(lead.get("phoneNumber") or ""))
    if not fields:
        return lead
    call = {"id": f"call-{lead['id']}", "startTime": lead.get("created"), "duration": 60}
    return {**lead, "callsId": [call["id"]], "lastCall": call, **fields}
