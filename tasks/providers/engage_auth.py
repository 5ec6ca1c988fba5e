"""Engage Voice authentication: permanent API tokens, and RingCX tokens exchanged and refreshed.

A RingCX access token lives 5 minutes and the exchange allows 5 calls a minute, so tokens are
cached per (host, RingCentral token) for the whole process, refreshed through the refresh
token before they expire, and once more when the API answers 401 ``Jwt is expired``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import httpx

from tasks.providers.errors import AuthError, RetriableProviderError

#: Refresh this many seconds before the token's 5 minutes are up.
REFRESH_MARGIN_S = 30.0
#: Lifetime of a RingCX access token (documented).
TOKEN_TTL_S = 300.0


@dataclass
class _Session:
    access: str
    refresh: str | None
    expires_at: float
    account_id: str | None


_SESSIONS: dict[str, _Session] = {}
_LOCK = threading.Lock()


class EngageTokenAuth(httpx.Auth):
    """Exchange a RingCentral access token for a RingCX token; refresh it as needed."""

    requires_response_body = True

    def __init__(self, base_url: str, rc_access_token: str, *, verify: bool = True,
                 timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._rc = rc_access_token
        self._verify = verify
        self._timeout = timeout
        self._key = hashlib.sha256(f"{self._base}|{rc_access_token}".encode()).hexdigest()

    def __repr__(self) -> str:
        return "EngageTokenAuth(***)"

    def account_id(self) -> str:
        """The account id the exchange reported (``agentDetails[0].accountId``)."""
        session = self._session(force=False)
        if not session.account_id:
            raise AuthError("engage-voice: the token exchange returned no account id")
        return session.account_id

    def _session(self, *, force: bool) -> _Session:
        with _LOCK:
            session = _SESSIONS.get(self._key)
            now = time.monotonic()
            if session and not force and session.expires_at - REFRESH_MARGIN_S > now:
                return session
            if session and session.refresh:
                fresh = self._call("/api/auth/token/refresh",
                                   {"refresh_token": session.refresh, "rcTokenType": "Bearer"},
                                   fallback_account=session.account_id)
                if fresh is not None:
                    _SESSIONS[self._key] = fresh
                    return fresh
            fresh = self._call("/api/auth/login/rc/accesstoken?includeRefresh=true",
                               {"rcAccessToken": self._rc, "rcTokenType": "Bearer"}, fallback_account=None)
            if fresh is None:
                raise AuthError("engage-voice: the RingCentral access token was refused by the token exchange "
                                "(credentials refused: check ENGAGE_VOICE_RC_ACCESS_TOKEN)")
            _SESSIONS[self._key] = fresh
            return fresh

    def _call(self, path: str, form: dict[str, str],
              fallback_account: str | None) -> _Session | None:
        try:
            resp = httpx.post(f"{self._base}{path}", data=form, timeout=self._timeout, verify=self._verify)
        except httpx.TransportError as ex:
            raise RetriableProviderError(f"engage-voice: token endpoint unreachable ({type(ex).__name__})") from None
        if resp.status_code == 429:
            raise RetriableProviderError("engage-voice: token exchange throttled (5 a minute)",
                                         status=429, retry_after=12.0)
        if resp.status_code in (401, 403, 404, 400):
            return None
        if resp.status_code >= 300:
            raise RetriableProviderError(f"engage-voice: token endpoint answered {resp.status_code}",
                                         status=resp.status_code)
        data = resp.json()
        agents = data.get("agentDetails") or []
        account = str(agents[0]["accountId"]) if agents and agents[0].get("accountId") else fallback_account
        return _Session(access=str(data["accessToken"]), refresh=data.get("refreshToken"),
                        expires_at=time.monotonic() + TOKEN_TTL_S, account_id=account)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        session = self._session(force=False)
        request.headers["Authorization"] = f"Bearer {session.access}"
        response = yield request
        if response.status_code == 401 and "expired" in response.text.lower():
            session = self._session(force=True)
            request.headers["Authorization"] = f"Bearer {session.access}"
            yield request


def forget_sessions() -> None:
    """Drop cached tokens (tests)."""
    with _LOCK:
        _SESSIONS.clear()
