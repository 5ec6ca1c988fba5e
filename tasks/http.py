"""The HTTP client every provider uses: one construction path, secrets never in reprs or logs."""

from __future__ import annotations

import email.utils
import ipaddress
import os
import random
import re
import ssl
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse, urlsplit

import httpx

from schemas.errors import ConfigurationError
from tasks.providers.errors import (
    AmbiguousDeliveryError,
    AuthError,
    BatchRefusedError,
    FatalProviderError,
    RetriableProviderError,
)
from tasks.stop import pause

#: Default timeouts: connect fast, allow a large batch time to be processed.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: Connection pool sizes: a few batches in flight per provider.
DEFAULT_LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=8)
#: Request headers that carry credentials (masked if a response echoes them).
CREDENTIAL_HEADERS = ("Authorization", "X-Auth-Token", "apiKey")
_USERINFO = re.compile(r"(?P<scheme>^[A-Za-z][\w+.-]*://)[^/@]*@")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: Hosts (exact, or ``*.suffix``), comma-separated, a run may send a provider's credentials to
#: besides the provider's own hosts and loopback.
ALLOWED_HOSTS_ENV = "LEADFLOW_ALLOWED_HOSTS"
#: Largest answer read; a longer one is not read on (its request counts as unanswered).
MAX_ANSWER_BYTES = 64 * 1024 * 1024


def is_loopback(url: str) -> bool:
    """True when the URL points at this machine (a simulator)."""
    host = urlparse(url).hostname or ""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, provider: str, known_hosts: Sequence[str]) -> str:
    """``url`` if a run may send ``provider``'s credentials there; without a trailing slash.

    Allowed: ``https://`` to one of ``known_hosts`` (the provider's own), to loopback (the
    simulators), or to a host listed in ``LEADFLOW_ALLOWED_HOSTS``; plain ``http://`` only to
    loopback. No user info, query or fragment.

    Raises:
        ConfigurationError: in one line, saying why.
    """
    shown = _USERINFO.sub(r"\g<scheme>***@", url)[:200]
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError as ex:
        raise ConfigurationError(f"invalid base URL {shown!r}: {ex}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"invalid base URL {shown!r}: it must start with https:// "
                                 "(http:// only for a loopback simulator)")
    if not host:
        raise ConfigurationError(f"invalid base URL {shown!r}: no host")
    if "@" in parts.netloc:
        raise ConfigurationError(f"invalid base URL {shown!r}: credentials go in the provider's environment "
                                 "variables, not in the URL")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"invalid base URL {shown!r}: no query or fragment")
    loopback = is_loopback(url)
    if parts.scheme == "http" and not loopback:
        raise ConfigurationError(f"base URL {shown!r}: plain http:// is allowed only to loopback; use https://")
    allowed = [h.strip().lower() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
    if not (loopback or _host_in(host, known_hosts) or _host_in(host, allowed)):
        raise ConfigurationError(
            f"base URL host {host!r} is not one of {provider}'s hosts ({', '.join(known_hosts) or 'none known'}) nor "
            f"loopback; to send credentials there, add it to {ALLOWED_HOSTS_ENV}")
    return url.strip().rstrip("/")


def _host_in(host: str, patterns: Sequence[str]) -> bool:
    """Whether ``host`` is one of ``patterns`` (exact names, or ``*.suffix``)."""
    for pattern in patterns:
        pattern = pattern.lower()
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
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
    """Send a request, translating transport failures into provider errors.

    The answer is read up to ``MAX_ANSWER_BYTES``; a longer one is cut off and the request
    counts as unanswered (the provider may have acted on it).

    Raises:
        RetriableProviderError: the request did not go out (connection refused, pool full).
        AmbiguousDeliveryError: it went out and no whole answer came back.
    """
    try:
        response = client.send(request, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as ex:
        if _untrusted_certificate(ex):
            raise FatalProviderError("connection failed: the server's TLS certificate is not trusted") from None
        raise RetriableProviderError(f"connection failed: {type(ex).__name__}") from None
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError,
            httpx.ReadError, httpx.WriteError) as ex:
        raise AmbiguousDeliveryError(f"no answer after sending: {type(ex).__name__}") from None
    try:
        _read_bounded(response)
    except (httpx.TimeoutException, httpx.TransportError, httpx.DecodingError) as ex:
        raise AmbiguousDeliveryError(f"answer cut off after sending: {type(ex).__name__}",
                                     status=response.status_code) from None
    finally:
        response.close()
    return response


def _untrusted_certificate(ex: BaseException) -> bool:
    """Whether a connection failed because the server's certificate was refused (no retry helps)."""
    seen: BaseException | None = ex
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _read_bounded(response: httpx.Response) -> None:
    """Read a streamed answer into ``response.content``, refusing one over ``MAX_ANSWER_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise AmbiguousDeliveryError(
                f"answer larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MB, not read (HTTP {response.status_code})",
                status=response.status_code)
        chunks.append(chunk)
    response._content = b"".join(chunks)


#: A rate-limit slot for one call: given the operation (``lookup``, ``read``), held while it runs.
Slot = Callable[[str], AbstractContextManager[object]]


@dataclass
class CallPolicy:
    """How a provider call other than a lead load is sent: rate limited, and retried while it is
    throttled (429), failing (5xx, a provider's "busy" status) or unanswered, with backoff and
    ``Retry-After``, for up to ``patience_s`` seconds. Such calls read or look up, so sending one
    again is harmless.
    """

    #: Seconds to keep retrying one call before its last error is returned.
    patience_s: float = 600.0
    #: First backoff; doubles per attempt up to ``max_backoff_s`` (also the cap on ``Retry-After``).
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    #: The rate-limit slot taken around each attempt (none: not rate limited here).
    slot: Slot | None = None
    #: Statuses retried besides 429 and 5xx.
    extra_retry: frozenset[int] = frozenset()
    #: Attempts of a call whose connection cannot be made at all (a wrong host or port fails fast).
    connect_attempts: int = 3

    def retriable(self, status: int) -> bool:
        """Whether an answer with ``status`` is worth sending again."""
        return status == 429 or status >= 500 or status in self.extra_retry


def send_patiently(client: httpx.Client, request: httpx.Request, policy: CallPolicy,
                   operation: str) -> httpx.Response:
    """Send a read or look-up call under ``policy``; the first answer that is not worth retrying,
    or the last one once the policy's patience is spent (the caller classifies it).

    Raises:
        RetriableProviderError: the last attempt got no answer.
        RunStoppedError: the run was stopped while waiting to try again.
    """
    started = time.monotonic()
    attempt = unreachable = 0
    while True:
        with policy.slot(operation) if policy.slot else nullcontext():
            try:
                response: httpx.Response | None = send(client, request)
                error: RetriableProviderError | None = None
            except RetriableProviderError as ex:
                response, error = None, ex
        if response is not None and not policy.retriable(response.status_code):
            return response
        if error is not None and not isinstance(error, AmbiguousDeliveryError) and error.status is None:
            unreachable += 1
            if unreachable >= policy.connect_attempts:
                raise error
        hint = retry_after_seconds(response) if response is not None else (error.retry_after if error else None)
        wait = min(hint if hint is not None else policy.backoff_s * 2 ** attempt * random.uniform(0.7, 1.3),
                   policy.max_backoff_s)
        if time.monotonic() - started + wait > policy.patience_s:
            if response is not None:
                return response
            assert error is not None
            raise error
        pause(wait)
        attempt += 1


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
