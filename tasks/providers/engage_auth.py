"""Engage Voice logins: a RingCentral token exchanged for a RingCX token, renewed by itself.

The RingCentral access token comes from one of (``RingCentralLogin``):

- a token obtained elsewhere (``ENGAGE_VOICE_RC_ACCESS_TOKEN``; it cannot be renewed here),
- RingCentral's JWT credential: ``POST {rc_server}/restapi/oauth/token`` with the app's client
  id and secret (HTTP Basic) and ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``,
- the password login of the vendor samples (seed 002): ``grant_type=password`` with username,
  password and extension.

It is exchanged at ``{host}/api/auth/login/rc/accesstoken`` (the host root, never under
``/voice``). A RingCX token lives 5 minutes and the exchange allows 5 calls a minute, so tokens
are cached per login for the whole process: renewed through the refresh token before they
expire, and once more when the API answers 401; a refused refresh falls back to a new exchange,
and a refused exchange to a new RingCentral login (when the login can renew itself).

Inferred (not in the documents): the field spellings of the exchange and refresh answers beyond
``accessToken``/``refreshToken`` (``access_token``/``refresh_token`` are read too), and where
the account id sits when ``agentDetails`` is empty (a top-level ``accountId`` is read too).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tasks.providers.errors import AuthError, RetriableProviderError

#: Renew this many seconds before a token's lifetime is up.
REFRESH_MARGIN_S = 30.0
#: Lifetime of a RingCX access token (documented: 5 minutes).
TOKEN_TTL_S = 300.0
#: Lifetime of a RingCentral access token when the answer omits ``expires_in`` (RingCentral's default).
RC_TOKEN_TTL_S = 3600.0
DEFAULT_RC_SERVER = "https://platform.ringcentral.com"
RC_OAUTH_PATH = "/restapi/oauth/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXCHANGE_PATH = "/api/auth/login/rc/accesstoken"
REFRESH_PATH = "/api/auth/token/refresh"

#: The clock tokens are timed by (monotonic seconds).
clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class RingCentralLogin:
    """Where the RingCentral access token comes from; its repr shows no value."""

    server: str = DEFAULT_RC_SERVER
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    jwt: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    extension: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """``jwt``, ``password`` or ``token`` (a token obtained elsewhere)."""
        if self.client_id and self.client_secret and self.jwt:
            return "jwt"
        if self.client_id and self.client_secret and self.username and self.password:
            return "password"
        return "token"

    def grant(self) -> dict[str, str] | None:
        """The token endpoint's form for a renewable login; None for a given token."""
        if self.kind == "jwt":
            return {"grant_type": JWT_GRANT, "assertion": str(self.jwt)}
        if self.kind == "password":
            form = {"grant_type": "password", "username": str(self.username), "password": str(self.password)}
            if self.extension:
                form["extension"] = self.extension
            return form
        return None

    def key(self) -> str:
        """A digest naming this login (the cache key; no secret can be read back from it)."""
        parts = (self.server, self.access_token, self.client_id, self.jwt, self.username, self.extension)
        return hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()


@dataclass
class _Session:
    access: str
    refresh: str | None
    expires_at: float
    account_id: str | None


_SESSIONS: dict[str, _Session] = {}
_RC_TOKENS: dict[str, tuple[str, float]] = {}
_LOCK = threading.Lock()


class EngageTokenAuth(httpx.Auth):
    """Bearer RingCX tokens for an Engage client, obtained and renewed through that client."""

    requires_response_body = True

    def __init__(self, client: httpx.Client, login: RingCentralLogin) -> None:
        self._client = client
        self._login = login
        self._key = hashlib.sha256(f"{client.base_url}|{login.key()}".encode()).hexdigest()

    def __repr__(self) -> str:
        return f"EngageTokenAuth({self._login.kind}: ***)"

    def account_id(self) -> str:
        """The account id the exchange reported (``agentDetails[0].accountId``)."""
        session = self._session()
        if not session.account_id:
            raise AuthError("engage-voice: the token exchange returned no account id")
        return session.account_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        session = self._session()
        request.headers["Authorization"] = f"Bearer {session.access}"
        response = yield request
        if response.status_code == 401:  # expired ("Jwt is expired") or revoked: renew once
            session = self._session(stale=session.access)
            request.headers["Authorization"] = f"Bearer {session.access}"
            yield request

    def _session(self, stale: str | None = None) -> _Session:
        """The cached session, renewed when it is near its end or when ``stale`` is its token."""
        with _LOCK:
            session = _SESSIONS.get(self._key)
            if session and session.access != stale and session.expires_at - REFRESH_MARGIN_S > clock():
                return session
            fresh = self._refresh(session) if session and session.refresh else None
            if fresh is None:
                fresh = self._exchange(self._rc_token(renew=False))
            if fresh is None and self._login.grant() is not None:
                fresh = self._exchange(self._rc_token(renew=True))
            if fresh is None:
                raise AuthError(f"engage-voice: the token exchange refused the RingCentral token "
                                f"(credentials refused: check {_variables(self._login)})")
            _SESSIONS[self._key] = fresh
            return fresh

    def _refresh(self, session: _Session) -> _Session | None:
        data = self._post(REFRESH_PATH, {"refresh_token": str(session.refresh), "rcTokenType": "Bearer"})
        return None if data is None else _read_session(data, session.account_id)

    def _exchange(self, rc_token: str) -> _Session | None:
        data = self._post(f"{EXCHANGE_PATH}?includeRefresh=true", {"rcAccessToken": rc_token, "rcTokenType": "Bearer"})
        return None if data is None else _read_session(data, None)

    def _rc_token(self, *, renew: bool) -> str:
        """The RingCentral access token: the given one, or a cached or new one from the login's grant."""
        grant = self._login.grant()
        if grant is None:
            return str(self._login.access_token)
        key = self._login.key()
        cached = _RC_TOKENS.get(key)
        if cached and not renew and cached[1] - REFRESH_MARGIN_S > clock():
            return cached[0]
        auth = httpx.BasicAuth(str(self._login.client_id), str(self._login.client_secret))
        data = self._post(self._login.server.rstrip("/") + RC_OAUTH_PATH, grant, auth)
        token = _first(data, "access_token", "accessToken") if data is not None else None
        if token is None:
            raise AuthError(f"engage-voice: RingCentral refused the {self._login.kind} login "
                            f"(check {_variables(self._login)})")
        ttl = _seconds(data, "expires_in", "expiresIn") or RC_TOKEN_TTL_S
        _RC_TOKENS[key] = (token, clock() + ttl)
        return token

    def _post(self, url: str, form: dict[str, str], auth: httpx.Auth | None = None) -> dict[str, Any] | None:
        return post_form(self._client, url, form, auth)


def post_form(client: httpx.Client, url: str, form: dict[str, str], auth: httpx.Auth | None = None
              ) -> dict[str, Any] | None:
    """POST a form to a token endpoint; its JSON object, or None when it refuses the credential."""
    try:
        resp = client.send(client.build_request("POST", url, data=form), auth=auth)
    except httpx.TransportError as ex:
        raise RetriableProviderError(f"engage-voice: token endpoint unreachable ({type(ex).__name__})") from None
    if resp.status_code == 429:
        raise RetriableProviderError("engage-voice: token endpoint throttled (the RingCX exchange allows 5 a minute)",
                                     status=429, retry_after=12.0)
    if resp.status_code in (400, 401, 403, 404):
        return None
    if resp.status_code >= 300:
        raise RetriableProviderError(f"engage-voice: token endpoint answered {resp.status_code}",
                                     status=resp.status_code)
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RetriableProviderError(f"engage-voice: token endpoint answered {resp.status_code} without a "
                                     f"JSON object", status=resp.status_code)
    return data


def _first(data: dict[str, Any], *names: str) -> str | None:
    """The first of ``names`` that holds a non-empty value, as text."""
    for name in names:
        value = data.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def _seconds(data: dict[str, Any] | None, *names: str) -> float | None:
    value = _first(data or {}, *names)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _read_session(data: dict[str, Any], fallback_account: str | None) -> _Session | None:
    """A session from an exchange or refresh answer (None when it carries no access token)."""
    access = _first(data, "accessToken", "access_token")
    if access is None:
        return None
    agents = data.get("agentDetails")
    agent = agents[0] if isinstance(agents, list) and agents and isinstance(agents[0], dict) else {}
    account = _first(agent, "accountId") or _first(data, "accountId") or fallback_account
    ttl = _seconds(data, "expiresIn", "expires_in") or TOKEN_TTL_S
    return _Session(access=access, refresh=_first(data, "refreshToken", "refresh_token"),
                    expires_at=clock() + ttl, account_id=account)


def _variables(login: RingCentralLogin) -> str:
    """The environment variables of a login, for error messages."""
    if login.kind == "jwt":
        return "ENGAGE_VOICE_RC_CLIENT_ID, ENGAGE_VOICE_RC_CLIENT_SECRET and ENGAGE_VOICE_RC_JWT"
    if login.kind == "password":
        return ("ENGAGE_VOICE_RC_CLIENT_ID, ENGAGE_VOICE_RC_CLIENT_SECRET, ENGAGE_VOICE_RC_USERNAME, "
                "ENGAGE_VOICE_RC_PASSWORD and ENGAGE_VOICE_RC_EXTENSION")
    return "ENGAGE_VOICE_RC_ACCESS_TOKEN"


def forget_sessions() -> None:
    """Drop cached tokens (tests)."""
    with _LOCK:
        _SESSIONS.clear()
        _RC_TOKENS.clear()
