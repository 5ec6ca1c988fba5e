"""Reliability fixtures: the three simulators served once per session and reset per test, with credentials."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from pydantic import BaseModel
from relhelp import CREDENTIALS, SimView, follow_stderr

from simulators import engage_voice, nlpearl, voiso
from simulators.app import SimApp
from simulators.server import serve

#: Simulator module and fresh config per provider.
_SIMS: dict[str, tuple[object, Callable[[], BaseModel]]] = {
    "engage-voice": (engage_voice, engage_voice.EngageSimConfig),
    "nlpearl": (nlpearl, nlpearl.NLPearlSimConfig),
    "voiso": (voiso, voiso.VoisoSimConfig),
}


@pytest.fixture(scope="session")
def served_sims() -> Iterator[dict[str, SimView]]:
    """Each simulator on loopback for the whole session."""
    with ExitStack() as stack:
        views = {}
        for name, (module, _) in _SIMS.items():
            app = module.create_app()  # type: ignore[attr-defined]
            assert isinstance(app, SimApp)
            views[name] = SimView(name, stack.enter_context(serve(app)).url, app)
        yield views


@pytest.fixture
def sims(served_sims: dict[str, SimView], clean_provider_env: pytest.MonkeyPatch) -> Iterator[dict[str, SimView]]:
    """The simulators with default config, nothing stored, and credentials in the environment.

    After the test, requests still held by a ``delay_s`` fault are waited for, so they cannot
    land in the next test's simulator.
    """
    for name, view in served_sims.items():
        view.app.sim.config = _SIMS[name][1]()
        view.app.sim.clock.offset = 0.0
        view.app.sim.reset()
    for key, value in CREDENTIALS.items():
        clean_provider_env.setenv(key, value)
    yield served_sims
    for view in served_sims.values():
        view.wait_idle()


@pytest.fixture(autouse=True)
def console_follows_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's console log handler writes to the current ``sys.stderr`` (see ``follow_stderr``)."""
    follow_stderr(monkeypatch)
