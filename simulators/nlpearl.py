"""NLPearl API simulator: ``Leads/Add`` with ASP.NET-style problem bodies, lead lookup and search."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from tzlocal.windows_tz import win_tz

from simulators.app import SimApp, note_leads, run_load
from simulators.common import (
    PARTIAL_REASON,
    Fault,
    SimState,
    accepted_count,
    bearer_token,
    json_response,
    read_json,
    retry_headers,
)
from simulators.dispositions import NLPEARL_TABLE, SimDispositions, disposition_routes, nlpearl_view

__all__ = ["NLPearlPearlSpec", "NLPearlSimConfig", "create_app"]

LOAD_MATCH = r"/Leads/Add$"
#: How to sign in, printed by ``leadflow simulate``.
SIGN_IN = "Authorization: Bearer sim-account:sim-secret; pearl 6a27be5ae83373643a10ae34"
E164 = re.compile(r"\+[1-9]\d{6,14}")
LENIENT_PHONE = re.compile(r"\+?\d{4,15}")
#: Windows time-zone IDs accepted as ``timeZoneId`` (CLDR names plus NLPearl's newer spelling).
WINDOWS_ZONES = frozenset(win_tz) | {"Türkiye Standard Time"}
PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
}
#: Properties of ``LeadsToAddApi`` and ``LeadToAddApi``; both schemas say ``additionalProperties: false``.
BATCH_PROPERTIES = frozenset({"leads"})
LEAD_PROPERTIES = frozenset({"phoneNumber", "externalId", "timeZoneId", "callData"})
TITLES = {400: "One or more validation errors occurred.", 404: "Not Found",
          429: "Too Many Requests"}


class NLPearlPearlSpec(BaseModel):
    """A Pearl (outbound agent) the simulator knows."""

    id: str
    name: str
    type: int = 2
    time_zone: str = "Eastern Standard Time"


def _default_pearls() -> list[NLPearlPearlSpec]:
    return [NLPearlPearlSpec(id="6a27be5ae83373643a10ae34", name="Simulated Outbound"),
            NLPearlPearlSpec(id="6a27be5ae83373643a10ae35", name="Simulated Renewals")]


class NLPearlSimConfig(BaseModel):
    """NLPearl simulator settings; no rate limit is documented, so ``add_windows`` is empty."""

    account_id: str = "sim-account"
    secret_key: SecretStr = SecretStr("sim-secret")
    pearls: list[NLPearlPearlSpec] = Field(default_factory=_default_pearls)
    #: Phones must be E.164 with "+"; False accepts 4 to 15 digits with or without it.
    strict: bool = True
    #: On a 400 for some leads, store the valid ones (False: store none).
    partial_mode: bool = True
    #: How a 400 names a lead's field (the document does not say; inferred from ASP.NET Core):
    #: ``leads[3].phoneNumber``, ``Leads[3].PhoneNumber`` (model validation) or ``$.leads[3].phoneNumber``.
    error_key_style: Literal["camel", "pascal", "json_path"] = "camel"
    #: "reject" refuses a lead whose externalId the Pearl already has (or earlier in the batch).
    duplicates: Literal["allow", "reject"] = "reject"
    max_leads: int = 50_000
    rate_limits: bool = True
    #: (requests, seconds) windows per Pearl on Leads/Add; none documented, none by default.
    add_windows: list[tuple[int, float]] = []


class NLPearlState(SimState[NLPearlSimConfig]):
    """Leads per Pearl, indexed by external ID."""

    def __init__(self, config: NLPearlSimConfig) -> None:
        super().__init__(config, LOAD_MATCH)
        self.counter = itertools.count(1)
        self.clear_leads()

    def clear_leads(self) -> None:
        """Forget every lead."""
        self.leads: dict[str, list[dict[str, Any]]] = {}
        self.by_external: dict[str, dict[str, dict[str, Any]]] = {}
        self.dispositions = SimDispositions(NLPEARL_TABLE)

    def leads_view(self) -> dict[str, list[dict[str, Any]]]:
        """Leads per Pearl ID."""
        return self.leads

    def store(self, pearl: NLPearlPearlSpec, leads: list[dict[str, Any]]) -> list[str]:
        """Store valid leads and return their new IDs (24 hex digits, like ObjectIds)."""
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        stamp = f"{int(time.time()):08x}"
        stored_leads = self.leads.setdefault(pearl.id, [])
        by_external = self.by_external.setdefault(pearl.id, {})
        ids = []
        for lead in leads:
            stored = {
                "id": f"{stamp}{next(self.counter):016x}", "externalId": lead.get("externalId"),
                "phoneNumber": lead["phoneNumber"],
                "timeZone": lead.get("timeZoneId") or pearl.time_zone, "status": 1,
                "created": created, "callsId": [], "lastCall": None,
                "callData": lead.get("callData") or {}, "collectedData": {},
            }
            stored_leads.append(stored)
            if stored["externalId"] is not None:
                by_external[stored["externalId"]] = stored
            ids.append(stored["id"])
        return ids


def problem(status: int, errors: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """An ASP.NET Core (Validation)ProblemDetails response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPES.get(status, PROBLEM_TYPES[400]),
        "title": TITLES.get(status, "An error occurred while processing your request."),
        "status": status, "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
    }
    if errors is not None:
        body["errors"] = errors
    response = json_response(body, status, headers)
    response.headers["content-type"] = "application/problem+json; charset=utf-8"
    return response


def unknown_properties(body: Any, single: bool = False) -> dict[str, list[str]]:
    """Errors for properties the schemas forbid (``additionalProperties: false``).

    The document names only the 400 ``ValidationProblemDetails``; the rest is inferred from
    ASP.NET Core (System.Text.Json with unmapped members disallowed): the body fails to bind as a
    whole, so nothing is stored, and each property is named by its JSON path, e.g.
    ``$.leads[0].firstName``. Names are matched exactly (ASP.NET may ignore case: unknown).

    Args:
        body: a ``LeadsToAddApi`` body, or one ``LeadToAddApi`` when ``single``.
        single: the body is one lead (``POST .../Lead``).
    """
    errors: dict[str, list[str]] = {}

    def check(value: Any, allowed: frozenset[str], path: str, schema: str) -> None:
        for name in value if isinstance(value, dict) else ():
            if name not in allowed:
                errors[f"{path}.{name}"] = [f"The JSON property '{name}' could not be mapped to any .NET "
                                            f"member contained in type '{schema}'."]

    if single:
        check(body, LEAD_PROPERTIES, "$", "LeadToAddApi")
        return errors
    check(body, BATCH_PROPERTIES, "$", "LeadsToAddApi")
    leads = body.get("leads") if isinstance(body, dict) else None
    for index, lead in enumerate(leads if isinstance(leads, list) else []):
        check(lead, LEAD_PROPERTIES, f"$.leads[{index}]", "LeadToAddApi")
    return errors


def lead_errors(lead: Any, prefix: str, strict: bool) -> dict[str, list[str]]:
    """Validation errors of one ``LeadToAddApi``, keyed like ``leads[3].phoneNumber``."""
    if not isinstance(lead, dict):
        return {prefix or "$": ["The lead must be a JSON object."]}
    dot = f"{prefix}." if prefix else ""
    errors: dict[str, list[str]] = {}
    phone = lead.get("phoneNumber")
    if not isinstance(phone, str) or not phone:
        errors[f"{dot}phoneNumber"] = ["The PhoneNumber field is required."]
    elif not (E164 if strict else LENIENT_PHONE).fullmatch(phone):
        errors[f"{dot}phoneNumber"] = ["The PhoneNumber field is not a valid phone number."]
    external = lead.get("externalId")
    if external is not None and not isinstance(external, str):
        errors[f"{dot}externalId"] = ["The ExternalId field must be a string."]
    zone = lead.get("timeZoneId")
    if zone is not None and zone not in WINDOWS_ZONES:
        errors[f"{dot}timeZoneId"] = [f"The time zone '{zone}' is not supported."]
    data = lead.get("callData")
    if data is not None and not (
        isinstance(data, dict) and all(isinstance(v, str) for v in data.values())
    ):
        errors[f"{dot}callData"] = ["The CallData field must map strings to strings."]
    return errors


def _validate_batch(
    state: NLPearlState, pearl: NLPearlPearlSpec, leads: list[Any], fault: Fault | None
) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Errors per lead and the leads that passed, applying duplicates and a partial fault."""
    errors: dict[str, list[str]] = {}
    valid: list[dict[str, Any]] = []
    known = state.by_external.get(pearl.id, {})
    seen: set[str] = set()
    accept = None
    if fault is not None and fault.partial is not None:
        accept = accepted_count(len(leads), fault.partial)
    for index, lead in enumerate(leads):
        prefix = f"leads[{index}]"
        found = lead_errors(lead, prefix, state.config.strict)
        external = lead.get("externalId") if not found else None
        if not found and state.config.duplicates == "reject" and external is not None:
            if external in known or external in seen:
                found[f"{prefix}.externalId"] = [f"A lead with externalId '{external}' already exists."]
            seen.add(external)
        if not found and accept is not None and index >= accept:
            found[prefix] = [PARTIAL_REASON]
        errors.update(found)
        if not found:
            valid.append(lead)
    return errors, valid


async def _add_leads(
    state: NLPearlState, request: Request, pearl: NLPearlPearlSpec, fault: Fault | None
) -> Response:
    try:
        body = await read_json(request)
    except ValueError:
        return problem(400, {"$": ["The JSON value could not be converted to LeadsToAddApi."]})
    unknown = unknown_properties(body)
    if unknown:
        return problem(400, unknown)
    leads = body.get("leads") if isinstance(body, dict) else None
    if not isinstance(leads, list):
        return problem(400, {"leads": ["The Leads field is required."]})
    note_leads(request, len(leads))
    if len(leads) > state.config.max_leads:
        limit = state.config.max_leads
        return problem(400, {"leads": [f"The field Leads must have at most {limit} items."]})
    if fault is not None and fault.whole_batch_400 and leads:
        return problem(400, {"leads[0].phoneNumber": ["The PhoneNumber field is invalid."]})
    errors, valid = _validate_batch(state, pearl, leads, fault)
    if not errors or state.config.partial_mode:
        state.store(pearl, valid)
    return problem(400, styled(errors, state.config.error_key_style)) if errors else json_response(True)


def styled(errors: dict[str, list[str]], style: str) -> dict[str, list[str]]:
    """``errors`` with their keys written in one of the inferred styles."""
    if style == "json_path":
        return {f"$.{key}": value for key, value in errors.items()}
    if style == "pascal":
        return {".".join(part[:1].upper() + part[1:] for part in key.split(".")): value
                for key, value in errors.items()}
    return errors


PearlHandler = Callable[[Request, NLPearlPearlSpec], Awaitable[Response]]


def _authorized(
    state: NLPearlState, handler: PearlHandler
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with the Bearer check and the Pearl lookup (the first Pearl if none)."""

    async def endpoint(request: Request) -> Response:
        expected = f"{state.config.account_id}:{state.config.secret_key.get_secret_value()}"
        if bearer_token(request) != expected:
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        pearl_id = request.path_params.get("pearlId")
        pearl = next((p for p in state.config.pearls if pearl_id in (None, p.id)), None)
        return problem(404) if pearl is None else await handler(request, pearl)

    return endpoint


def _lead_routes(state: NLPearlState) -> list[BaseRoute]:
    async def add_leads(request: Request, pearl: NLPearlPearlSpec) -> Response:
        if state.config.rate_limits and not state.limiter.allow(pearl.id, state.config.add_windows):
            return problem(429)
        return await run_load(
            request, state.faults, lambda fault: _add_leads(state, request, pearl, fault),
            lambda status, after: problem(status, None, retry_headers(after)),
        )

    async def add_lead(request: Request, pearl: NLPearlPearlSpec) -> Response:
        try:
            lead = await read_json(request)
        except ValueError:
            lead = None
        errors = unknown_properties(lead, single=True) or lead_errors(lead, "", state.config.strict)
        if errors:
            return problem(400, errors)
        return json_response({"leadId": state.store(pearl, [lead])[0]})

    async def by_external(request: Request, pearl: NLPearlPearlSpec) -> Response:
        external = request.path_params["externalId"]
        lead = state.by_external.get(pearl.id, {}).get(external)
        if lead is None:
            return problem(400, {"externalId": [f"No lead with externalId '{external}'."]})
        return json_response(nlpearl_view(lead, state.dispositions))

    async def by_id(request: Request, pearl: NLPearlPearlSpec) -> Response:
        lead_id = request.path_params["leadId"]
        lead = next((x for x in state.leads.get(pearl.id, []) if x["id"] == lead_id), None)
        return problem(400, {"leadId": ["Lead not found."]}) if lead is None else json_response(lead)

    async def search(request: Request, pearl: NLPearlPearlSpec) -> Response:
        try:
            query = await read_json(request)
            skip, limit = int(query.get("skip") or 0), int(query.get("limit") or 100)
        except (ValueError, TypeError, AttributeError):
            return problem(400, {"$": ["The search request is invalid."]})
        text, statuses = str(query.get("searchInput") or ""), query.get("statuses") or []
        found = [
            lead for lead in (nlpearl_view(x, state.dispositions) for x in state.leads.get(pearl.id, []))
            if (not statuses or lead["status"] in statuses)
            and (not text or text in lead["phoneNumber"] or text in (lead["externalId"] or ""))
        ]
        return json_response({"count": len(found), "results": found[skip:skip + limit]})

    async def pearls(request: Request, pearl: NLPearlPearlSpec) -> Response:
        view = [{"id": p.id, "name": p.name, "type": p.type} for p in state.config.pearls]
        if "pearlId" in request.path_params:
            return json_response(next(v for v in view if v["id"] == pearl.id))
        return json_response(view)

    async def account(request: Request, _: NLPearlPearlSpec) -> Response:
        return json_response({"name": "Simulated Account", "totalAgents": len(state.config.pearls),
                              "creditBalance": 1000.0, "status": 1, "remainingMinutes": 10000})

    outbound = "/v2/Outbound/{pearlId}"
    routes: list[tuple[str, PearlHandler, list[str]]] = [
        (outbound + "/Leads/Add", add_leads, ["POST"]),
        (outbound + "/Lead", add_lead, ["POST"]),
        (outbound + "/Lead/External/{externalId}", by_external, ["GET"]),
        (outbound + "/Lead/{leadId}", by_id, ["GET"]),
        (outbound + "/Leads", search, ["POST"]),
        ("/v2/Pearl", pearls, ["GET"]),
        ("/v2/Pearl/{pearlId}", pearls, ["GET"]),
        ("/v1/Account", account, ["GET"]),
    ]
    return [Route(path, _authorized(state, handler), methods=methods)
            for path, handler, methods in routes]


def create_app(config: NLPearlSimConfig | None = None) -> Starlette:
    """Build the NLPearl simulator app.

    Args:
        config: settings; the defaults give Pearls 6a27be5ae83373643a10ae34 and ...35.

    Returns:
        The Starlette app, with the ``/_sim/`` control routes.
    """
    state = NLPearlState(config or NLPearlSimConfig())
    return SimApp(state, _lead_routes(state) + disposition_routes(state.dispositions))
