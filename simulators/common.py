"""Shared simulator pieces: JSON helpers, clock, request log, fault plan, rate windows, state."""

from __future__ import annotations

import gc
import math
import re
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, Literal, TypeVar

import orjson
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

ConfigT = TypeVar("ConfigT", bound=BaseModel)

#: Most request records kept by ``/_sim/received`` (oldest dropped first).
MAX_RECEIVED = 100_000
#: Reason given to leads refused by a ``partial`` fault.
PARTIAL_REASON = "Simulated partial acceptance: lead not accepted"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise ``data`` with orjson into a JSON response."""
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def text_response(text: str, status: int) -> Response:
    """A plain-text response."""
    return Response(text, status, media_type="text/plain")


async def read_json(request: Request) -> Any:
    """Parse the request body as JSON.

    Raises:
        ValueError: when the body is not valid JSON.
    """
    return orjson.loads(await request.body())


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic GC from running inside the block (if it was on, it is turned back on).

    A request that builds many container objects (a lead load makes ~10,000 dicts per 5,000
    leads) otherwise triggers a dozen young-generation collections while it parses. Objects
    made here are scanned by the next collection after the block, unless frozen before it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def accepted_count(total: int, fraction: float) -> int:
    """How many of ``total`` leads a ``partial`` fault lets through."""
    return math.floor(total * fraction)


class SimClock:
    """A monotonic clock that tests can move forward (token expiry, rate windows, spacing)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Seconds on the simulator's clock."""
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.offset += seconds


class Recorder:
    """Every request received (control routes excepted), newest last."""

    def __init__(self) -> None:
        self.records: deque[dict[str, Any]] = deque(maxlen=MAX_RECEIVED)

    def start(self, method: str, path: str) -> dict[str, Any]:
        """Log a request as in flight and return its mutable record."""
        record: dict[str, Any] = {
            "method": method, "path": path, "status": None, "leads": None,
            "fault": None, "dropped": False, "started": time.time(), "ended": None,
        }
        self.records.append(record)
        return record

    def clear(self) -> None:
        """Forget every record."""
        self.records.clear()


#: 2xx bodies not of the documented shape a ``garbled`` fault answers with.
Garble = Literal["html", "truncated", "empty", "null", "bare"]


class Fault(BaseModel):
    """One scripted misbehaviour, applied to the next ``times`` matching requests.

    ``delay_s`` longer than the client's timeout is a late answer: the request is processed (and
    its leads stored) after the client gave up. ``after_store`` processes the request first, then
    answers with ``status``, drops the connection (``drop``) or answers 200 with a ``garbled``
    body: an HTML page, the real answer cut in half, an empty body, ``null``, or a bare ``{}``.
    Without ``after_store`` those answers come and nothing is stored.
    """

    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    times: int = Field(default=1, ge=1)
    delay_s: float = Field(default=0.0, ge=0)
    drop: bool = False
    partial: float | None = Field(default=None, ge=0, le=1)
    whole_batch_400: bool = False
    after_store: bool = False
    garbled: Garble | None = None

    def label(self) -> str:
        """A short description for the request log."""
        parts = [name for name in ("drop", "whole_batch_400", "after_store") if getattr(self, name)]
        if self.garbled is not None:
            parts.append(f"garbled={self.garbled}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.delay_s:
            parts.append(f"delay_s={self.delay_s}")
        if self.partial is not None:
            parts.append(f"partial={self.partial}")
        return ",".join(parts)


class FaultRequest(BaseModel):
    """Body of ``POST /_sim/faults``.

    ``scope`` ``load`` (the default) scripts lead loads; ``calls`` scripts any other request
    whose path matches ``match`` (look-ups, reads), with ``status``, ``retry_after``,
    ``delay_s`` and ``drop``.
    """

    plan: list[Fault]
    match: str | None = None
    scope: Literal["load", "calls"] = "load"


class FaultPlan:
    """Faults consumed in order by requests whose path matches ``match``."""

    def __init__(self, default_match: str) -> None:
        self.default_match = default_match
        self.pattern = re.compile(default_match)
        self.queue: deque[Fault] = deque()

    def set(self, plan: Sequence[Fault], match: str | None) -> None:
        """Replace the plan."""
        self.pattern = re.compile(match or self.default_match)
        self.queue = deque(fault.model_copy() for fault in plan)

    def take(self, path: str) -> Fault | None:
        """The fault for a request to ``path``, consuming one of its ``times``."""
        if not self.queue or not self.pattern.search(path):
            return None
        fault = self.queue[0]
        fault.times -= 1
        if fault.times == 0:
            self.queue.popleft()
        return fault

    def clear(self) -> None:
        """Drop every pending fault."""
        self.set([], None)


class BusyMeter:
    """How long the simulator was busy: the time during which at least one provider request was in flight.

    Counted around the request handler (arrival of the request to the end of its answer). Requests
    in flight at the same time count once: the figure is the provider's share of a client's wall
    time. ``cpu_s`` is the process's CPU time over the same spans. Served on ``GET /_sim/stats``,
    a simulator route, not part of any vendor's API.
    """

    def __init__(self) -> None:
        self.in_flight = self.most_in_flight = self.requests = 0
        self.busy_s = self.cpu_s = self.since = self.cpu_since = 0.0

    def enter(self) -> None:
        """A request arrived."""
        if self.in_flight == 0:
            self.since, self.cpu_since = time.perf_counter(), time.process_time()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.requests += 1

    def leave(self) -> None:
        """A request was answered (or dropped)."""
        self.in_flight -= 1
        if self.in_flight == 0:
            self.busy_s += time.perf_counter() - self.since
            self.cpu_s += time.process_time() - self.cpu_since

    def clear(self) -> None:
        """Start counting from zero."""
        self.in_flight = self.most_in_flight = self.requests = 0
        self.busy_s = self.cpu_s = self.since = self.cpu_since = 0.0

    def stats(self) -> dict[str, float]:
        """Requests, the most at once, busy seconds and CPU seconds so far."""
        return {"requests": self.requests, "most_in_flight": self.most_in_flight, "busy_s": self.busy_s,
                "cpu_s": self.cpu_s}


def most_in_window(arrivals: Sequence[float], span: float) -> int:
    """The most arrivals (sorted times) that fall in any sliding window of ``span`` seconds."""
    most, first = 0, 0
    for last, at in enumerate(arrivals):
        while arrivals[first] <= at - span:
            first += 1
        most = max(most, last - first + 1)
    return most


class SlidingWindowLimiter:
    """Sliding-window request logs per key; a request passes only if every window has room.

    A request is counted when it arrives (the route calls ``allow`` before reading the body),
    over windows that slide with the clock (a window of ``limit`` per ``span`` refuses a request
    when ``limit`` others arrived in the last ``span`` seconds), as the documents state the limits.
    A refused request is not counted (the documents are silent; inferred).
    """

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.hits: dict[str, deque[float]] = {}
        #: Every arrival per key, refused ones included, and the windows it was counted against.
        self.arrivals: dict[str, list[float]] = {}
        self.windows: dict[str, Sequence[tuple[int, float]]] = {}
        self.refused: dict[str, int] = {}

    def allow(self, key: str, windows: Sequence[tuple[int, float]]) -> bool:
        """Count a request against ``windows`` (limit, seconds) and say whether it may pass."""
        if not windows:
            return True
        now = self.clock.now()
        self.arrivals.setdefault(key, []).append(now)
        self.windows[key] = windows
        hits = self.hits.setdefault(key, deque())
        horizon = now - max(span for _, span in windows)
        while hits and hits[0] <= horizon:
            hits.popleft()
        for limit, span in windows:
            if sum(1 for t in hits if t > now - span) >= limit:
                self.refused[key] = self.refused.get(key, 0) + 1
                return False
        hits.append(now)
        return True

    def clear(self) -> None:
        """Forget every request."""
        self.hits.clear()
        self.arrivals.clear()
        self.windows.clear()
        self.refused.clear()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per key: arrivals, refused ones, and per window the most arrivals any one of its spans saw."""
        return {key: {"arrivals": len(times), "refused": self.refused.get(key, 0), "windows": [
            {"limit": limit, "span_s": span, "most": most_in_window(times, span)}
            for limit, span in self.windows[key]]} for key, times in self.arrivals.items()}


class SimState(ABC, Generic[ConfigT]):
    """What every simulator keeps: config, clock, request log, faults and rate windows."""

    def __init__(self, config: ConfigT, load_match: str) -> None:
        self.config = config
        self.clock = SimClock()
        self.received = Recorder()
        self.faults = FaultPlan(load_match)
        #: Faults of requests other than loads (``scope: calls``); matches nothing until set.
        self.call_faults = FaultPlan(r"(?!)")
        self.limiter = SlidingWindowLimiter(self.clock)
        self.meter = BusyMeter()

    @abstractmethod
    def clear_leads(self) -> None:
        """Forget every stored lead."""

    @abstractmethod
    def leads_view(self) -> Any:
        """Every stored lead, as JSON-ready data."""

    def reset(self) -> None:
        """Clear leads, the request log, faults and rate windows."""
        self.clear_leads()
        self.received.clear()
        self.faults.clear()
        self.call_faults.clear()
        self.limiter.clear()
        self.meter.clear()

    def stats(self) -> dict[str, Any]:
        """What ``GET /_sim/stats`` answers: busy time, answers by status, rate-window arrivals."""
        statuses: dict[str, int] = {}
        for record in self.received.records:
            statuses[str(record["status"])] = statuses.get(str(record["status"]), 0) + 1
        return {**self.meter.stats(), "statuses": statuses, "limits": self.limiter.stats()}

    def update_config(self, changes: dict[str, Any]) -> None:
        """Apply a partial config update, validated.

        Raises:
            ValidationError: when the result is not a valid config.
        """
        merged = {**self.config.model_dump(), **changes}
        self.config = type(self.config).model_validate(merged)


def garbled_body(kind: Garble, real: bytes) -> bytes:
    """A 2xx body of ``kind`` (``truncated`` cuts ``real``, the answer the request would have had)."""
    if kind == "html":
        return b"<!DOCTYPE html><html><head><title>Service</title></head><body>Please wait</body></html>"
    if kind == "truncated":
        return real[: max(len(real) // 2, 1)] if real else b'{"leads'
    if kind == "null":
        return b"null"
    if kind == "bare":
        return b"{}"
    return b""


def retry_headers(retry_after: float | None) -> dict[str, str] | None:
    """A Retry-After header for ``retry_after`` seconds, if given."""
    return None if retry_after is None else {"Retry-After": f"{retry_after:g}"}
