"""A static ``Authorization: Bearer`` credential (NLPearl ``AccountId:SecretKey``, Voiso API keys)."""

from __future__ import annotations

from collections.abc import Generator

import httpx


class BearerToken(httpx.Auth):
    """Sends a fixed token as ``Authorization: Bearer <token>``; its repr never shows it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerToken(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request
