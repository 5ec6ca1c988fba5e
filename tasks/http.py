"""The HTTP client every provider uses: one construction path, secrets never in reprs or logs."""

from __future__ import annotations

import email.utils
import ipaddress
import time
from collections.abc import Generator
from datetime import UTC, datetime
from urllib.parse import urlparse

import httpx

from tasks.providers.errors import (
    AmbiguousDeliveryError,
    AuthError,
    BatchRefusedError,
    FatalProviderError,
    RetriableProviderError,
)

#: Default timeouts: connect fast, allow a large batch time to be processed.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: Connection pool sizes: a few batches in flight per provider.
DEFAULT_LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=8)
#: Request headers that carry credentials (masked if a response echoes them).
CREDENTIAL_HEADERS = ("Authorization", "X-Auth-Token", "apiKey")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def is_loopback(url: str) -> bool:
    """True when the URL points at this machine (a simulator)."""
    host = urlparse(url).hostname or ""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_client(base_url: str, *, auth: httpx.Auth | None = None, timeout: float | None = None,
                 verify_tls: bool = True, transport: httpx.BaseTransport | None = None,
                 headers: dict[str, str] | None = None) -> httpx.Client:
    """An ``httpx.Client`` for one provider.

    TLS verification can only be turned off for loopback URLs (the local simulators).
    """
    if not verify_tls and not is_loopback(base_url):
        raise ValueError("TLS verification can be turned off only for loopback simulator URLs")
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        auth=auth,
        timeout=httpx.Timeout(timeout, connect=5.0) if timeout else DEFAULT_TIMEOUT,
        limits=DEFAULT_LIMITS,
        verify=verify_tls,
        transport=transport,
        headers={"Accept": "application/json", "User-Agent": "leadflow/0.1", **(headers or {})},
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header as seconds (delta or HTTP date), if present."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def short_body(response: httpx.Response, limit: int = 300) -> str:
    """The start of a response body, for error messages, with the request's credentials masked."""
    try:
        text = response.text
    except Exception:
        return f"<{len(response.content)} bytes>"
    return scrub_credentials(text, response)[:limit]


def scrub_credentials(text: str, response: httpx.Response) -> str:
    """Mask any credential the request carried, should the API echo it back."""
    try:
        headers = response.request.headers
    except RuntimeError:
        return text
    for name in CREDENTIAL_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        token = value.split(" ", 1)[-1]
        for secret in sorted({value, token, *token.split(":")}, key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
    return text


def classify_status(response: httpx.Response, *, extra_retry: frozenset[int] = frozenset(),
                    refused: frozenset[int] = frozenset({400})) -> None:
    """Raise the right ``ProviderError`` for a non-success answer; return for 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = f"HTTP {status}: {short_body(response)}"
    retry_after = retry_after_seconds(response)
    if status >= 500 and status != 503 and retry_after is None:
        # A 500/502/504 may come after the provider stored the leads: look them up before resending.
        raise AmbiguousDeliveryError(detail, status=status)
    if status == 429 or status >= 500 or status in extra_retry:
        raise RetriableProviderError(detail, status=status, retry_after=retry_after)
    if status in (401, 403):
        raise AuthError(detail, status=status)
    if status in refused:
        raise BatchRefusedError(detail, status=status)
    raise FatalProviderError(detail, status=status)


def send(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    """Send a request, translating transport failures into provider errors."""
    try:
        return client.send(request)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as ex:
        raise RetriableProviderError(f"connection failed: {type(ex).__name__}") from None
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError,
            httpx.ReadError, httpx.WriteError) as ex:
        raise AmbiguousDeliveryError(f"no answer after sending: {type(ex).__name__}") from None


def monotonic() -> float:
    """Monotonic clock (seconds)."""
    return time.monotonic()


class HeaderAuth(httpx.Auth):
    """A static credential sent in one header; its repr never shows it."""

    def __init__(self, header: str, value: str) -> None:
        self._header = header
        self._value = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._header}: ***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._value
        yield request


def bearer(token: str) -> HeaderAuth:
    """``Authorization: Bearer <token>``."""
    return HeaderAuth("Authorization", f"Bearer {token}")
