"""Voiso API v4 simulator: scoped keys, campaign discovery and ``POST /campaigns/{id}/leads``."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulators.app import SimApp, note_leads, run_load
from simulators.common import (
    Fault,
    SimState,
    accepted_count,
    bearer_token,
    json_response,
    read_json,
    retry_headers,
)

__all__ = ["VoisoCampaignSpec", "VoisoKeySpec", "VoisoSimConfig", "create_app"]

LOAD_MATCH = r"/api/v4/campaigns/[^/]+/leads$"
#: How to sign in, printed by ``leadflow simulate``.
SIGN_IN = "Authorization: Bearer sim-voiso-key (read-only: sim-voiso-readonly); campaigns 3, 4"
PHONE = re.compile(r"[1-9]\d{7,14}")
HEADER_KEY = re.compile(r"X-[A-Za-z0-9\-_.!~*+]+")
MANAGE, READ = "campaigns.manage", "campaigns.read"


class VoisoCampaignSpec(BaseModel):
    """A campaign the simulator knows."""

    id: int
    name: str
    status: str = "active"
    strategy: str = "simple"
    live: bool = True


class VoisoKeySpec(BaseModel):
    """A generated API key and its scopes."""

    key: SecretStr
    scopes: list[str]


def _default_keys() -> list[VoisoKeySpec]:
    return [
        VoisoKeySpec(key=SecretStr("sim-voiso-key"), scopes=[MANAGE, READ]),
        VoisoKeySpec(key=SecretStr("sim-voiso-readonly"), scopes=[READ]),
    ]


def _default_campaigns() -> list[VoisoCampaignSpec]:
    return [
        VoisoCampaignSpec(id=3, name="Summer Outreach Campaign"),
        VoisoCampaignSpec(id=4, name="Winter Draft Campaign", status="draft", live=False),
    ]


class VoisoSimConfig(BaseModel):
    """Voiso simulator settings."""

    keys: list[VoisoKeySpec] = Field(default_factory=_default_keys)
    campaigns: list[VoisoCampaignSpec] = Field(default_factory=_default_campaigns)
    #: False switches off the per-campaign import guard (for benchmarks).
    rate_limits: bool = True
    #: Seconds after an import into a campaign before the next one is taken.
    spacing_s: float = 2.0
    #: Status for a refused overlapping or too-early import.
    busy_status: Literal[409, 429] = 409
    success_status: Literal[200, 201] = 201
    max_leads: int = 1000
    #: Seconds an import holds its campaign busy before answering.
    import_time_s: float = 0.0
    #: False lets phone numbers carry a leading "+".
    strict: bool = True
    #: Answer to a lead import into a campaign that is not live. Inferred: the v4 document gives
    #: neither the status (409 "conflicts with the current state" or 422) nor the text; the
    #: legacy API said "Campaign type should be live".
    not_live_status: Literal[409, 422] = 409
    not_live_text: str = "is not live"


class VoisoState(SimState[VoisoSimConfig]):
    """Campaign leads and the per-campaign import guard."""

    def __init__(self, config: VoisoSimConfig) -> None:
        super().__init__(config, LOAD_MATCH)
        self.clear_leads()

    def clear_leads(self) -> None:
        """Forget every lead and import in progress."""
        self.leads: dict[int, dict[str, dict[str, Any]]] = {}
        self.importing: set[int] = set()
        self.finished: dict[int, float] = {}

    def leads_view(self) -> dict[str, list[dict[str, Any]]]:
        """Leads per campaign ID."""
        return {str(cid): list(leads.values()) for cid, leads in self.leads.items()}

    def scopes(self, request: Request) -> list[str] | None:
        """The scopes of the request's API key; None if the key is missing or unknown."""
        token = bearer_token(request)
        return next((k.scopes for k in self.config.keys if k.key.get_secret_value() == token), None)

    def busy(self, campaign_id: int) -> bool:
        """Whether an import into the campaign is running or finished too recently."""
        if not self.config.rate_limits:
            return False
        last = self.finished.get(campaign_id)
        recent = last is not None and self.clock.now() - last < self.config.spacing_s
        return campaign_id in self.importing or recent


def unprocessable(leads: list[Any]) -> dict[str, list[str]]:
    """The 422 errors of a request, by field (empty if none).

    The document lists as 422 causes a lead without ``phone_number``, a value that is not valid
    ("for example ``priority`` outside 1 to 1000") and an invalid ``context_headers`` name. The
    ``errors`` keys (``leads[i].field``) and messages are inferred from the v4 error example
    (``{"errors": {"parameter1": ["is missing"]}}``); the whole request is refused (nothing stored).
    """
    errors: dict[str, list[str]] = {}
    for index, lead in enumerate(leads):
        at = f"leads[{index}]"
        if not isinstance(lead, dict):
            errors[at] = ["must be an object"]
            continue
        if lead.get("phone_number") in (None, ""):
            errors[f"{at}.phone_number"] = ["is missing"]
        elif not isinstance(lead["phone_number"], str):
            errors[f"{at}.phone_number"] = ["must be a string"]
        priority = lead.get("priority")
        if priority is not None and (type(priority) is not int or not 1 <= priority <= 1000):
            errors[f"{at}.priority"] = ["must be an integer from 1 to 1000"]
        if "active" in lead and type(lead["active"]) is not bool:
            errors[f"{at}.active"] = ["must be a boolean"]
        headers = lead.get("context_headers")
        if headers is not None and not isinstance(headers, dict):
            errors[f"{at}.context_headers"] = ["must be an object"]
        for key, value in headers.items() if isinstance(headers, dict) else ():
            if not HEADER_KEY.fullmatch(key):
                errors.setdefault(f"{at}.context_headers", []).append(f"{key!r} is not a valid header name")
            elif not isinstance(value, str):
                errors.setdefault(f"{at}.context_headers", []).append(f"{key} must be a string")
    return errors


def lead_ok(lead: dict[str, Any], strict: bool) -> bool:
    """Whether a lead's phone passes Voiso's check (else it is listed as ``rejected``)."""
    phone = str(lead["phone_number"])
    return PHONE.fullmatch(phone if strict else phone.removeprefix("+")) is not None


def import_leads(
    store: dict[str, dict[str, Any]], leads: list[Any], strict: bool, accept_first: int | None
) -> dict[str, list[Any]]:
    """Store the acceptable leads and sort every phone into created, rejected or duplicates."""
    created: list[Any] = []
    rejected: list[Any] = []
    duplicates: list[Any] = []
    seen: set[str] = set()
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    for index, lead in enumerate(leads):
        phone = lead["phone_number"]
        if not lead_ok(lead, strict) or (accept_first is not None and index >= accept_first):
            rejected.append(phone)
            continue
        key = str(phone).removeprefix("+")
        if key in store or key in seen:
            duplicates.append(phone)
            continue
        seen.add(key)
        created.append(phone)
        store[key] = {**lead, "phone_number": key, "created_at": now}
    return {"created": created, "rejected": rejected, "duplicates": duplicates}


def _campaign_json(spec: VoisoCampaignSpec, full: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": spec.id, "name": spec.name, "status": spec.status, "strategy": spec.strategy,
        "dial_level": 1, "max_dial_time": 60, "max_wait_time": 5, "max_dial_attempts": 3,
        "amd_enabled": True,
        "amd_voicemail_message": {"enabled": False, "voice_message": None},
        "caller_id_sets": [{"phone_numbers": ["18885650001"]}], "follow_up_mode": "timer",
        "created_at": "2026-01-15T10:30:00.000Z", "updated_at": "2026-01-20T14:15:00.000Z",
    }
    if full:
        view.update(dial_level_override={"enabled": False, "value": None,
                                         "active_agents_threshold": None},
                    use_local_caller_id=False, asr_optimization_enabled=False)
    return view


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _errors(status: int, field: str, message: str) -> Response:
    return json_response({"errors": {field: [message]}}, status)


def _denied(state: VoisoState, request: Request, scope: str) -> Response | None:
    scopes = state.scopes(request)
    if scopes is None:
        return _error(401, "Unauthorized")
    return None if scope in scopes else _error(403, "Forbidden")


def _campaign(state: VoisoState, request: Request, scope: str) -> Response | VoisoCampaignSpec:
    denied = _denied(state, request, scope)
    if denied is not None:
        return denied
    raw_id = request.path_params["campaign_id"]
    found = next((c for c in state.config.campaigns if str(c.id) == raw_id), None)
    return _error(404, "Not found") if found is None else found


def _busy(state: VoisoState) -> Response:
    if state.config.busy_status == 429:
        return _error(429, "Too many requests")
    return _errors(409, "campaign", "import in progress")


async def _import(
    state: VoisoState, request: Request, campaign_id: int, fault: Fault | None
) -> Response:
    try:
        leads = await read_json(request)
    except ValueError:
        return _error(400, "Bad Request")
    if not isinstance(leads, list):
        return _errors(422, "leads", "must be an array of leads")
    note_leads(request, len(leads))
    if len(leads) > state.config.max_leads:
        limit = state.config.max_leads
        return _errors(422, "leads", f"Maximum limit of {limit} leads for each request")
    if fault is not None and fault.whole_batch_400 and leads:
        return _errors(422, "leads[0].phone_number", "is invalid")
    invalid = unprocessable(leads)
    if invalid:
        return json_response({"errors": invalid}, 422)
    if state.config.import_time_s:
        await asyncio.sleep(state.config.import_time_s)
    accept = None
    if fault is not None and fault.partial is not None:
        accept = accepted_count(len(leads), fault.partial)
    store = state.leads.setdefault(campaign_id, {})
    report = import_leads(store, leads, state.config.strict, accept)
    return json_response({"leads_import": report}, state.config.success_status)


def _routes(state: VoisoState) -> list[BaseRoute]:
    async def add_leads(request: Request) -> Response:
        campaign = _campaign(state, request, MANAGE)
        if not isinstance(campaign, VoisoCampaignSpec):
            return campaign
        if not campaign.live:
            return _errors(state.config.not_live_status, "campaign", state.config.not_live_text)
        if state.busy(campaign.id):
            return _busy(state)
        state.importing.add(campaign.id)
        try:
            return await run_load(
                request, state.faults,
                lambda fault: _import(state, request, campaign.id, fault),
                lambda status, after: json_response(
                    {"error": "Too many requests" if status == 429 else "Service Unavailable"},
                    status, retry_headers(after)),
            )
        finally:
            state.importing.discard(campaign.id)
            state.finished[campaign.id] = state.clock.now()

    async def list_campaigns(request: Request) -> Response:
        denied = _denied(state, request, READ)
        if denied is not None:
            return denied
        query = request.query_params
        limit, offset = query.get("limit", "100"), query.get("offset", "0")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            return _errors(422, "limit", "must be between 1 and 100")
        if not offset.isdigit():
            return _errors(422, "offset", "must be a non-negative integer")
        name, status, live = query.get("name"), query.get("status"), query.get("live")
        matches = [
            c for c in state.config.campaigns
            if (not name or name.lower() in c.name.lower()) and (not status or c.status == status)
            and (live is None or str(c.live).lower() == live.lower())
        ]
        page = matches[int(offset):int(offset) + int(limit)]
        return json_response({"campaigns": [_campaign_json(c) for c in page],
                              "metadata": {"total": len(matches)}})

    async def get_campaign(request: Request) -> Response:
        campaign = _campaign(state, request, READ)
        if not isinstance(campaign, VoisoCampaignSpec):
            return campaign
        return json_response({"campaign": _campaign_json(campaign, full=True)})

    return [
        Route("/api/v4/campaigns", list_campaigns),
        Route("/api/v4/campaigns/{campaign_id}", get_campaign),
        Route("/api/v4/campaigns/{campaign_id}/leads", add_leads, methods=["POST"]),
    ]


def create_app(config: VoisoSimConfig | None = None) -> Starlette:
    """Build the Voiso simulator app.

    Args:
        config: settings; the defaults give live campaign 3 and not-live campaign 4.

    Returns:
        The Starlette app, with the ``/_sim/`` control routes.
    """
    state = VoisoState(config or VoisoSimConfig())
    return SimApp(state, _routes(state))
