"""Engage Voice legacy login (portal.vacd.biz, portal.virtualacd.biz): username and password.

``POST {legacy host}/api/v1/auth/login`` with the form ``username``, ``password`` answers a
``UserLoginView {authToken, accounts[AccountView], user, platformHost}``; the ``authToken`` is
sent as ``X-Auth-Token``. It lasts an hour, and each use extends it by an hour (two weeks with
``stayLoggedIn``, which leadflow does not ask for). The token is cached per login for the whole
process, renewed by a new login when it has gone unused for nearly an hour, and once more when
the API answers 401. The account is ``accounts[0].accountId``, where the vendor's wrappers read
it (engage_voice.md §2d, §2e).

Inferred (not in the documents): that a refused login answers 400, 401 or 403, and that
``accountId`` is spelled so inside ``AccountView``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator

import httpx

from tasks.providers import engage_auth
from tasks.providers.engage_auth import _LOCK, _SESSIONS, REFRESH_MARGIN_S, _first, _Session, post_form
from tasks.providers.errors import AuthError

LOGIN_PATH = "/api/v1/auth/login"
#: Lifetime of a legacy ``authToken`` after its last use (documented: 1 hour).
LEGACY_TOKEN_TTL_S = 3600.0
USERNAME_ENV, PASSWORD_ENV = "ENGAGE_VOICE_USERNAME", "ENGAGE_VOICE_PASSWORD"


class EngageLegacyAuth(httpx.Auth):
    """``X-Auth-Token`` from the legacy username/password login, logged in again when it lapses."""

    def __init__(self, client: httpx.Client, username: str, password: str) -> None:
        self._client = client
        self._form = {"username": username, "password": password}
        self._key = hashlib.sha256(f"legacy|{client.base_url}|{username}|{password}".encode()).hexdigest()

    def __repr__(self) -> str:
        return "EngageLegacyAuth(***)"

    def account_id(self) -> str:
        """The first account of the login's ``accounts``."""
        session = self._session()
        if not session.account_id:
            raise AuthError("engage-voice: the legacy login returned no account")
        return session.account_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        session = self._session()
        request.headers["X-Auth-Token"] = session.access
        response = yield request
        if response.status_code == 401:  # lapsed or revoked: log in again, once
            session = self._session(stale=session.access)
            request.headers["X-Auth-Token"] = session.access
            response = yield request
        if response.status_code != 401:  # each use extends the token
            with _LOCK:
                session.expires_at = engage_auth.clock() + LEGACY_TOKEN_TTL_S

    def _session(self, stale: str | None = None) -> _Session:
        """The cached login, renewed when it is near its end or when ``stale`` is its token."""
        with _LOCK:
            session = _SESSIONS.get(self._key)
            if session and session.access != stale and session.expires_at - REFRESH_MARGIN_S > engage_auth.clock():
                return session
            data = post_form(self._client, LOGIN_PATH, self._form)
            token = _first(data, "authToken") if data is not None else None
            if data is None or token is None:
                raise AuthError(f"engage-voice: the legacy login refused the credentials "
                                f"(check {USERNAME_ENV} and {PASSWORD_ENV})")
            accounts = data.get("accounts")
            first = accounts[0] if isinstance(accounts, list) and accounts and isinstance(accounts[0], dict) else {}
            fresh = _Session(access=token, refresh=None, expires_at=engage_auth.clock() + LEGACY_TOKEN_TTL_S,
                             account_id=_first(first, "accountId"))
            _SESSIONS[self._key] = fresh
            return fresh
