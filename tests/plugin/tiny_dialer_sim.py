"""Simulator of Tiny Dialer, built like those in simulators/: a ``SimState``, a ``SimApp`` and ``create_app``.

Strict where the made-up contract is: a bearer key, a ``contacts`` list of ``ref``/``phone``/``name``.
Contacts named in ``blocked_names`` are refused; phones in ``on_list`` (or loaded before) exist.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.app import SimApp, note_leads, run_load
from simulators.common import Fault, SimState, bearer_token, json_response, read_json, retry_headers

API_KEY = "sim-tiny-key"
LOAD_MATCH = r"/v1/lists/[^/]+/contacts$"
#: How to sign in, printed by ``leadflow simulate``.
SIGN_IN = f"Authorization: Bearer {API_KEY}; any list id"


class TinyConfig(BaseModel):
    """What a test may change through ``/_sim/config``."""

    on_list: list[str] = Field(default_factory=list)  #: phones already on every list
    blocked_names: list[str] = Field(default_factory=lambda: ["Mallory"])  #: names the dialer refuses


class TinyState(SimState[TinyConfig]):
    """The contacts of each list."""

    def __init__(self) -> None:
        super().__init__(TinyConfig(), LOAD_MATCH)
        self.lists: dict[str, list[dict[str, str]]] = {}

    def clear_leads(self) -> None:
        self.lists.clear()

    def leads_view(self) -> Any:
        return self.lists


def _error(status: int, retry_after: float | None = None, message: str = "try again later") -> Response:
    return json_response({"error": message}, status, retry_headers(retry_after))


def create_app() -> SimApp:
    """A fresh Tiny Dialer simulator."""
    state = TinyState()

    async def add_contacts(request: Request) -> Response:
        if bearer_token(request) != API_KEY:
            return _error(401, message="unknown key")

        async def process(_: Fault | None) -> Response:
            try:
                contacts = (await read_json(request))["contacts"]
                keys = [(c["ref"], c["phone"], c["name"]) for c in contacts]
            except (ValueError, TypeError, KeyError):
                return _error(422, message="expected {'contacts': [{'ref', 'phone', 'name'}]}")
            note_leads(request, len(keys))
            stored = state.lists.setdefault(request.path_params["list_id"], [])
            known = {c["phone"] for c in stored} | set(state.config.on_list)
            results = []
            for ref, phone, name in keys:
                if name in state.config.blocked_names:
                    results.append({"ref": ref, "status": "refused", "detail": "blocked by the dialer"})
                elif phone in known:
                    results.append({"ref": ref, "status": "exists"})
                else:
                    stored.append({"phone": phone, "name": name})
                    known.add(phone)
                    results.append({"ref": ref, "status": "added"})
            return json_response({"results": results})

        return await run_load(request, state.faults, process, _error)

    async def lists(request: Request) -> Response:
        if bearer_token(request) != API_KEY:
            return _error(401, message="unknown key")
        return json_response({"lists": {name: len(contacts) for name, contacts in state.lists.items()}})

    return SimApp(state, [Route("/v1/lists/{list_id}/contacts", add_contacts, methods=["POST"]),
                          Route("/v1/lists", lists)])
