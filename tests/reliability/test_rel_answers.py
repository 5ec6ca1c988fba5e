"""Answers over loopback: size bound, classification of undocumented 2xx bodies, patient retries of look-ups."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

import tasks.http
from simulators.server import serve
from tasks.http import CallPolicy, send, send_patiently
from tasks.providers.base import documented_json
from tasks.providers.errors import AmbiguousDeliveryError, RetriableProviderError
from tasks.stop import RunStoppedError, clear_stop, request_stop


def _app(statuses: list[int]) -> Starlette:
    """``/big`` streams 8 MB; ``/flaky`` answers the given statuses in turn, then 200."""

    async def big(_: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(128):
                yield b"x" * 65536

        return StreamingResponse(chunks(), media_type="application/json")

    async def flaky(_: Request) -> Response:
        status = statuses.pop(0) if statuses else 200
        return JSONResponse({"status": status}, status_code=status, headers={"Retry-After": "0.1"})

    return Starlette(routes=[Route("/big", big), Route("/flaky", flaky)])


def test_an_answer_over_the_bound_is_not_read_and_leaves_delivery_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks.http, "MAX_ANSWER_BYTES", 1024 * 1024)
    with serve(_app([])) as running, httpx.Client(base_url=running.url) as client:
        with pytest.raises(AmbiguousDeliveryError, match="larger than 1 MB"):
            send(client, client.build_request("GET", "/big"))
        assert send(client, client.build_request("GET", "/flaky")).status_code == 200


@pytest.mark.parametrize("body", [b"<html>busy</html>", b'{"leadsAcc', b"", b"null", b"{}", b"[]"])
def test_a_2xx_body_without_its_documented_shape_is_unknown(body: bytes) -> None:
    response = httpx.Response(200, content=body, request=httpx.Request("POST", "http://127.0.0.1/load"))
    with pytest.raises(AmbiguousDeliveryError, match="delivery unknown"):
        documented_json("engage-voice", response, "the documented counts",
                        lambda b: isinstance(b, dict) and isinstance(b.get("leadsAccepted"), int))


def test_a_look_up_waits_out_a_429_storm() -> None:
    statuses = [429] * 5 + [503, 502]
    with serve(_app(statuses)) as running, httpx.Client(base_url=running.url) as client:
        started = time.monotonic()
        response = send_patiently(client, client.build_request("GET", "/flaky"),
                                  CallPolicy(patience_s=30, backoff_s=0.05, max_backoff_s=1.0), "lookup")
    assert response.status_code == 200 and not statuses
    assert time.monotonic() - started >= 0.7  # Retry-After honoured each time


def test_patience_ends_with_the_last_answer_and_a_stop_ends_the_wait() -> None:
    with serve(_app([429] * 100)) as running, httpx.Client(base_url=running.url) as client:
        request = client.build_request("GET", "/flaky")
        assert send_patiently(client, request, CallPolicy(patience_s=0.5, backoff_s=0.05), "lookup").status_code == 429
        request_stop("test")
        try:
            with pytest.raises(RunStoppedError):
                send_patiently(client, request, CallPolicy(patience_s=30, backoff_s=0.05), "lookup")
        finally:
            clear_stop()


def test_an_unreachable_host_fails_a_read_after_three_tries() -> None:
    with httpx.Client(base_url="http://127.0.0.1:9") as client:
        started = time.monotonic()
        with pytest.raises(RetriableProviderError, match="connection failed"):
            send_patiently(client, client.build_request("GET", "/x"), CallPolicy(backoff_s=0.05), "read")
    assert time.monotonic() - started < 5
