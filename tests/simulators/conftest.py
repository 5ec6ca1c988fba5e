"""Fixtures: one real uvicorn server per simulator, reset before each test, and httpx clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from pydantic import BaseModel
from simhelp import Sim

from simulators import engage_voice, nlpearl, voiso
from simulators.app import SimApp
from simulators.server import serve

PROVIDERS = {"engage": engage_voice, "nlpearl": nlpearl, "voiso": voiso}


@pytest.fixture(scope="session")
def running() -> Iterator[dict[str, tuple[Sim, SimApp]]]:
    """Each simulator served once for the session, with a client."""
    with ExitStack() as stack:
        started = {}
        for name, module in PROVIDERS.items():
            app = module.create_app()
            assert isinstance(app, SimApp)
            server = stack.enter_context(serve(app))
            client = stack.enter_context(httpx.Client(base_url=server.url, timeout=10))
            started[name] = (Sim(client), app)
        yield started


def _reset(running: dict[str, tuple[Sim, SimApp]], name: str, initial: BaseModel) -> Sim:
    sim, app = running[name]
    app.sim.config = initial
    app.sim.clock.offset = 0.0
    assert sim.client.post("/_sim/reset").status_code == 200
    return sim


@pytest.fixture
def engage(running: dict[str, tuple[Sim, SimApp]]) -> Sim:
    """The Engage Voice simulator with default config and nothing stored."""
    return _reset(running, "engage", engage_voice.EngageSimConfig())


@pytest.fixture
def pearl(running: dict[str, tuple[Sim, SimApp]]) -> Sim:
    """The NLPearl simulator with default config and nothing stored."""
    return _reset(running, "nlpearl", nlpearl.NLPearlSimConfig())


@pytest.fixture
def voiso_sim(running: dict[str, tuple[Sim, SimApp]]) -> Sim:
    """The Voiso simulator with default config and nothing stored."""
    return _reset(running, "voiso", voiso.VoisoSimConfig())
