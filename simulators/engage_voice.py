"""RingCentral Engage Voice (RingCX) simulator app: auth, discovery, direct loader, lead search."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulators.app import SimApp, note_leads, run_load
from simulators.common import (
    Fault,
    accepted_count,
    bearer_token,
    gc_paused,
    json_response,
    read_json,
    retry_headers,
    text_response,
)
from simulators.dispositions import disposition_routes, engage_view
from simulators.engage_loader import (
    CampaignStore,
    TooManyLeadsError,
    Upload,
    check_request,
    load_leads,
)
from simulators.engage_model import (
    EngageAccountSpec,
    EngageSimConfig,
    EngageState,
    Session,
    campaign_view,
    find_campaign,
    group_view,
    login_body,
)

__all__ = ["EngageSimConfig", "create_app"]

ADMIN_PREFIXES = ("/voice/api/v1/admin", "/api/v1/admin")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
UNAUTHORIZED = "Invalid or missing authentication token"
#: How to sign in, printed by ``leadflow simulate``.
SIGN_IN = ("X-Auth-Token: sim-engage-api-token, or rcAccessToken=sim-rc-access-token at "
           "/api/auth/login/rc/accesstoken; account 99990001, campaigns 4001 4002 4003")


def error_body(
    request: Request, status: int, code: str, message: str, details: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """The documented ``{errorCode, generalMessage, details, requestUri, timestamp}`` error.

    Documented for 403 (access denied); reused for 400, 404, 413 and 429, whose bodies the
    document does not give (inferred), as are the ``errorCode`` values other than 403's.
    """
    return json_response({
        "errorCode": code, "generalMessage": message, "details": details,
        "requestUri": f"{request.url.path} - {request.method}",
        "timestamp": int(time.time() * 1000),
    }, status, headers)


def _throttled(request: Request, headers: dict[str, str] | None = None) -> Response:
    return error_body(request, 429, "too.many.requests", "Too many requests", headers=headers)


async def _form(request: Request) -> dict[str, str]:
    fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    return {**dict(request.query_params), **fields}


def _authenticate(state: EngageState, request: Request) -> Response | Session | None:
    """The caller's RingCX session, None for the permanent API token, or a 401."""
    legacy = request.url.path.removeprefix(request.scope.get("root_path", "")).startswith("/api/")
    token = None if legacy else bearer_token(request)
    session = state.sessions.get(token) if token else None
    if session is not None:
        if session.expires_at <= state.clock.now():
            return text_response("Jwt is expired", 401)
        return session
    api_token = state.config.api_token.get_secret_value()
    if token is None and request.headers.get("x-auth-token") == api_token:
        return None
    legacy_session = state.legacy_sessions.get(request.headers.get("x-auth-token", "")) if legacy else None
    if legacy_session is not None and legacy_session.expires_at > state.clock.now():
        legacy_session.expires_at = state.clock.now() + state.config.legacy_token_ttl_s  # each use extends it
        return legacy_session
    return error_body(request, 401, "invalid.token", UNAUTHORIZED)


def _authorize(state: EngageState, request: Request) -> Response | EngageAccountSpec:
    """The account named in the path, if the caller may use it; else the error response."""
    session = _authenticate(state, request)
    if isinstance(session, Response):
        return session
    account_id = request.path_params["accountId"]
    account = state.account(account_id)
    if account is None:
        return error_body(request, 404, "account.not.found", f"Account {account_id} not found")
    if session is not None and session.account_id != account_id:
        return error_body(request, 403, "access.denied.exception",
                          "You do not have permission to access this resource")
    return account


def _page(items: list[Any], request: Request, default_rows: int | None = None) -> list[Any]:
    """One page (``page`` from 0, ``maxRows``; both undocumented) of a listing."""
    page = request.query_params.get("page", "0")
    rows = request.query_params.get("maxRows", str(default_rows or ""))
    if not (page.isdigit() and rows.isdigit() and int(rows) > 0):
        return items
    start = int(page) * int(rows)
    return items[start:start + int(rows)]


def _auth_routes(state: EngageState) -> list[BaseRoute]:
    async def exchange(request: Request) -> Response:
        form = await _form(request)
        if state.config.rate_limits and not state.limiter.allow(
            "exchange", state.config.exchange_windows
        ):
            return _throttled(request)
        if not state.rc_token_ok(form.get("rcAccessToken", "")):
            return error_body(request, 401, "invalid.token", UNAUTHORIZED)
        return json_response(login_body(state, state.config.accounts[0].account_id))

    async def refresh(request: Request) -> Response:
        account_id = state.refreshed_account((await _form(request)).get("refresh_token", ""))
        if account_id is None:
            return error_body(request, 401, "invalid.token", "Invalid refresh token")
        return json_response(login_body(state, account_id))

    async def legacy_login(request: Request) -> Response:
        """``UserLoginView`` for the legacy user; its members' contents beyond ``authToken`` and
        ``accounts[].accountId`` are inferred, and so is a refusal's 401."""
        form, config = await _form(request), state.config
        if (form.get("username"), form.get("password")) != (
                config.legacy_username, config.legacy_password.get_secret_value()):
            return error_body(request, 401, "invalid.credentials", "Invalid username or password")
        token = f"sim-legacy-{secrets.token_hex(16)}"
        state.legacy_sessions[token] = Session(config.accounts[0].account_id,
                                               state.clock.now() + config.legacy_token_ttl_s)
        return json_response({
            "authToken": token, "platformHost": request.url.hostname,
            "accounts": [{"accountId": a.account_id, "accountName": a.name} for a in config.accounts],
            "user": {"username": config.legacy_username}})

    return [
        Route("/api/v1/auth/login", legacy_login, methods=["POST"]),
        Route("/api/auth/login/rc/accesstoken", exchange, methods=["POST"]),
        Route("/api/auth/token/refresh", refresh, methods=["POST"]),
        Route("/restapi/oauth/token", _rc_token_endpoint(state), methods=["POST"]),
    ]


def _rc_token_endpoint(state: EngageState) -> Callable[[Request], Awaitable[Response]]:
    """RingCentral's ``POST /restapi/oauth/token`` (on platform.ringcentral.com in production).

    The app authenticates with HTTP Basic (client id and secret); ``grant_type`` is
    ``urn:ietf:params:oauth:grant-type:jwt-bearer`` with ``assertion`` (JWT credential) or
    ``password`` with ``username``, ``password`` and ``extension`` (the seeds' samples). The
    OAuth error bodies (``error``, ``error_description``) follow RFC 6749 (inferred for RingCentral).
    """

    def oauth_error(status: int, error: str, description: str) -> Response:
        return json_response({"error": error, "error_description": description}, status)

    async def token(request: Request) -> Response:
        config = state.config
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id = secret = ""
        if scheme.lower() != "basic" or (client_id, secret) != (
                config.rc_client_id, config.rc_client_secret.get_secret_value()):
            return oauth_error(401, "invalid_client", "Invalid client")
        form = await _form(request)
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            ok = form.get("assertion") == config.rc_jwt.get_secret_value()
        elif grant == "password":
            ok = (form.get("username"), form.get("password"), form.get("extension") or "") == (
                config.rc_username, config.rc_password.get_secret_value(), config.rc_extension)
        else:
            return oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        if not ok:
            return oauth_error(400, "invalid_grant", "Invalid resource owner credentials")
        return json_response(state.issue_rc())

    return token


AccountHandler = Callable[[Request, EngageAccountSpec], Awaitable[Response]]


def _for_account(
    state: EngageState, handler: AccountHandler, limit: str | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with authorization and, if ``limit`` names one, its rate windows."""

    async def endpoint(request: Request) -> Response:
        account = _authorize(state, request)
        if not isinstance(account, EngageAccountSpec):
            return account
        if limit is not None and state.config.rate_limits:
            config = state.config
            windows = config.loader_windows if limit == "loader" else config.search_windows
            if not state.limiter.allow(f"{limit}:{account.account_id}", windows):
                return _throttled(request)
        return await handler(request, account)

    return endpoint


async def _dial_groups(request: Request, account: EngageAccountSpec) -> Response:
    if request.url.path.endswith("/withChildren"):
        return json_response([
            {**group_view(g), "campaigns": [campaign_view(g, c) for c in g.campaigns]}
            for g in account.dial_groups
        ])
    return json_response(_page([group_view(g) for g in account.dial_groups], request))


async def _group_campaigns(request: Request, account: EngageAccountSpec) -> Response:
    group_id = request.path_params["dialGroupId"]
    group = next((g for g in account.dial_groups if str(g.dial_group_id) == group_id), None)
    if group is None:
        return error_body(request, 404, "dialgroup.not.found", f"No dial group {group_id}")
    return json_response(_page([campaign_view(group, c) for c in group.campaigns], request))


async def _process_load(
    state: EngageState, request: Request, account: EngageAccountSpec, campaign_id: int,
    fault: Fault | None,
) -> Response:
    raw = await request.body()
    # From parsing to the answer nothing awaits. With the GC paused the thousands of lead dicts
    # parsed here trigger no collections; once the store is large, ``EngageState.after_load``
    # freezes them before any collection scans them.
    with gc_paused():
        return _load_body(state, request, account, campaign_id, fault, raw)


def _load_body(
    state: EngageState, request: Request, account: EngageAccountSpec, campaign_id: int,
    fault: Fault | None, raw: bytes,
) -> Response:
    """Parse, check and store one direct load and build its answer."""
    try:
        body = orjson.loads(raw)
        leads = check_request(body, state.config.max_leads_per_request)
    except ValueError as exc:
        status = 413 if isinstance(exc, TooManyLeadsError) else 400
        return error_body(request, status, "request.invalid", "Invalid request", str(exc))
    note_leads(request, len(leads))
    if fault is not None and fault.whole_batch_400 and leads:
        extern = leads[0].get("externId") if isinstance(leads[0], dict) else None
        return error_body(request, 400, "lead.validation.failed", "Invalid lead",
                          f"uploadLeads[0] (externId {extern}): Invalid phone number")
    found = find_campaign(account, campaign_id)
    assert found is not None
    group, campaign = found
    upload = Upload(next(state.list_ids), str(body.get("description") or ""),
                    campaign.campaign_id, campaign.name, group.dial_group_id)
    store = state.campaigns.setdefault((account.account_id, campaign_id), CampaignStore())
    partial = None
    if fault is not None and fault.partial is not None:
        partial = accepted_count(len(leads), fault.partial)
    result = load_leads(store, body, leads, upload, state.ids, partial)
    if state.config.rejected_row_data != "externId-phone":
        keep = slice(1, 2) if state.config.rejected_row_data == "phone" else slice(0, 0)
        for row in result["rejectedRows"]:
            row["rowData"] = row["rowData"][keep]
    state.after_load()
    state.lists.append({"listId": upload.list_id, "listDesc": upload.list_desc,
                        "campaignId": campaign_id, "leadsInserted": result["leadsInserted"]})
    return json_response(result)


def _admin_routes(state: EngageState, prefix: str) -> list[BaseRoute]:
    async def accounts(request: Request) -> Response:
        session = _authenticate(state, request)
        if isinstance(session, Response):
            return session
        main = state.config.main_account_id
        return json_response([
            {"accountId": a.account_id, "accountName": a.name, "mainAccountId": main}
            for a in state.config.accounts
        ])

    async def search(request: Request, account: EngageAccountSpec) -> Response:
        try:
            found = state.search(account.account_id, await read_json(request))
        except (ValueError, TypeError) as exc:
            return error_body(request, 400, "request.invalid", "Invalid search criteria", str(exc))
        page = _page(found, request, state.config.search_default_rows)
        page = [engage_view(lead, state.dispositions) for lead in page]
        if state.config.search_shape == "object":
            return json_response({"totalCount": len(found), "results": page})
        return json_response(page)

    async def load(request: Request, account: EngageAccountSpec) -> Response:
        raw_id = request.path_params["campaignId"]
        if not raw_id.isdigit():
            return error_body(request, 400, "request.parameter.invalid",
                              f"Failed to convert value '{raw_id}' to required type 'int'")
        if find_campaign(account, int(raw_id)) is None:
            return error_body(request, 404, "campaign.not.found", f"Campaign {raw_id} not found")

        async def process(fault: Fault | None) -> Response:
            return await _process_load(state, request, account, int(raw_id), fault)

        def failure(status: int, retry_after: float | None) -> Response:
            headers = retry_headers(retry_after)
            if status == 429:
                return _throttled(request, headers)
            return error_body(request, status, "server.error", "Service temporarily unavailable",
                              headers=headers)

        return await run_load(request, state.faults, process, failure)

    account_path = prefix + "/accounts/{accountId}"
    return [
        Route(prefix + "/accounts", accounts),
        Route(account_path + "/dialGroups", _for_account(state, _dial_groups)),
        Route(account_path + "/dialGroups/withChildren", _for_account(state, _dial_groups)),
        Route(account_path + "/dialGroups/{dialGroupId}/campaigns",
              _for_account(state, _group_campaigns)),
        Route(account_path + "/campaignLeads/leadSearch", _for_account(state, search, "search"),
              methods=["POST"]),
        Route(account_path + "/campaigns/{campaignId}/leadLoader/direct",
              _for_account(state, load, "loader"), methods=["POST"]),
    ]


def create_app(config: EngageSimConfig | None = None) -> Starlette:
    """Build the Engage Voice simulator app.

    Args:
        config: settings; the defaults give account 99990001 with campaigns 4001, 4002, 4003.

    Returns:
        The Starlette app, with the ``/_sim/`` control routes.
    """
    state = EngageState(config or EngageSimConfig())
    routes = _auth_routes(state) + disposition_routes(state.dispositions)
    for prefix in ADMIN_PREFIXES:
        routes += _admin_routes(state, prefix)
    return SimApp(state, routes)
