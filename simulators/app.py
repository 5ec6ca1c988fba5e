"""The simulator app shell: request log, fault application and the ``/_sim/`` control routes."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from simulators.common import (
    Fault,
    FaultPlan,
    FaultRequest,
    SimState,
    garbled_body,
    json_response,
    read_json,
    retry_headers,
)


def note_leads(request: Request, count: int) -> None:
    """Record how many leads the current request carried."""
    record = request.scope.get("sim.record")
    if record is not None:
        record["leads"] = count


async def drop_connection(request: Request) -> Response:
    """Close the client's connection without answering.

    Under uvicorn the raw ASGI ``send`` is a method of the request cycle, whose ``transport``
    is closed; writes after that are discarded, so the client sees the connection end.

    Raises:
        ConnectionAbortedError: when the server does not expose its transport (in-process ASGI).
    """
    raw_send = request.scope.get("sim.raw_send")
    transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
    record = request.scope.get("sim.record")
    if record is not None:
        record["dropped"] = True
    if transport is None:
        raise ConnectionAbortedError("simulated dropped connection")
    transport.close()
    await asyncio.sleep(0)
    return Response(status_code=599)


async def run_load(
    request: Request,
    faults: FaultPlan,
    process: Callable[[Fault | None], Awaitable[Response]],
    error: Callable[[int, float | None], Response],
) -> Response:
    """Answer a lead load, applying the next matching fault.

    Args:
        request: the incoming request.
        faults: the simulator's fault plan.
        process: stores the leads and builds the normal answer; it applies ``partial`` and
            ``whole_batch_400`` itself.
        error: builds the provider's error answer for a status and optional Retry-After.

    Returns:
        The response to send.
    """
    fault = faults.take(request.url.path)
    if fault is None:
        return await process(None)
    record = request.scope.get("sim.record")
    if record is not None:
        record["fault"] = fault.label()
    if fault.delay_s:
        await request.body()  # read now: a request answered late is still processed if the client gave up
        await asyncio.sleep(fault.delay_s)
    if not fault.drop and fault.status is None and fault.garbled is None:
        return await process(fault)
    real = await process(fault) if fault.after_store else None
    if fault.drop:
        return await drop_connection(request)
    if fault.garbled is not None:
        body = garbled_body(fault.garbled, bytes(real.body) if real is not None else b"")
        media = "text/html" if fault.garbled == "html" else "application/json"
        return Response(body, 200, media_type=media)
    assert fault.status is not None
    return error(fault.status, fault.retry_after)


def control_routes(state: SimState[Any]) -> list[BaseRoute]:
    """The unauthenticated ``/_sim/`` routes: request log, leads, faults, reset, config, clock, stats."""

    async def received(_: Request) -> Response:
        return json_response(list(state.received.records))

    async def leads(_: Request) -> Response:
        return json_response(state.leads_view())

    async def faults(request: Request) -> Response:
        try:
            body = FaultRequest.model_validate_json(await request.body())
            (state.faults if body.scope == "load" else state.call_faults).set(body.plan, body.match)
        except (ValidationError, re.error) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response({"pending": len(state.faults.queue)})

    async def reset(_: Request) -> Response:
        state.reset()
        return json_response({"reset": True})

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                state.update_config(await read_json(request))
            except (ValidationError, ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, 422)
        return json_response(state.config.model_dump(mode="json"))

    async def stats(_: Request) -> Response:
        return json_response(state.stats())

    async def clock(request: Request) -> Response:
        try:
            state.clock.advance(float((await read_json(request))["advance_s"]))
        except (ValueError, TypeError, KeyError) as exc:
            return json_response({"error": f"expected {{'advance_s': seconds}}: {exc}"}, 422)
        return json_response({"offset_s": state.clock.offset})

    return [
        Route("/_sim/received", received),
        Route("/_sim/leads", leads),
        Route("/_sim/faults", faults, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/config", config, methods=["GET", "POST"]),
        Route("/_sim/clock", clock, methods=["POST"]),
        Route("/_sim/stats", stats),
    ]


class SimApp(Starlette):
    """A Starlette app that logs every provider request and keeps the raw ASGI ``send``."""

    def __init__(self, state: SimState[Any], routes: Sequence[BaseRoute]) -> None:
        super().__init__(routes=[*control_routes(state), *routes])
        self.sim = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request, logging it unless it is a control request."""
        if scope["type"] != "http" or scope["path"].startswith("/_sim/"):
            await super().__call__(scope, receive, send)
            return
        self.sim.meter.enter()
        record = self.sim.received.start(scope["method"], scope["path"])
        scope["sim.record"] = record
        scope["sim.raw_send"] = send

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"] = None if record["dropped"] else message["status"]
            await send(message)

        try:
            fault = self.sim.call_faults.take(scope["path"])
            if fault is None:
                await super().__call__(scope, receive, recording_send)
            else:
                record["fault"] = fault.label()
                await self._call_fault(fault, scope, receive, recording_send)
        finally:
            record["ended"] = time.time()
            self.sim.meter.leave()

    async def _call_fault(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request other than a load with its scripted fault (a throttled look-up, say).

        The error body is a generic ``{"error": ...}`` (inferred: the documents give no body for
        these statuses on these routes).
        """
        request = Request(scope, receive)
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            response = await drop_connection(request)
        elif fault.status is not None:
            response = json_response({"error": f"simulated {fault.status}"}, fault.status,
                                     retry_headers(fault.retry_after))
        else:
            await super().__call__(scope, receive, send)
            return
        await response(scope, receive, send)
