"""Provider test fixtures: simulators on loopback, providers built by the registry, a SQLite ledger."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from providerhelp import SIMS, Clock, Sim

from schemas.options import LoadOptions
from tasks.ledger import Ledger
from tasks.providers import engage_auth
from tasks.providers.base import Provider
from tasks.providers.registry import create_provider


@pytest.fixture
def start_sim() -> Iterator[Callable[[str], Sim]]:
    """Start the simulator of a provider (``SIMS`` key); stopped after the test."""
    from simulators.server import serve

    with ExitStack() as stack:
        def start(provider: str) -> Sim:
            app = importlib.import_module(SIMS[provider].module).create_app()
            sim = Sim(stack.enter_context(serve(app)).url)
            stack.callback(sim.http.close)
            return sim

        yield start


@pytest.fixture
def make_provider(clean_provider_env: pytest.MonkeyPatch) -> Callable[..., Provider]:
    """Build a provider through the registry for a simulator, credentials from the environment."""
    def make(name: str, sim: Sim | None, *, campaign: str | None = None, env: dict[str, str] | None = None,
             **options: Any) -> Provider:
        for key, value in (SIMS[name].env if env is None else env).items():
            clean_provider_env.setenv(key, value)
        load = LoadOptions(base_url=sim.url if sim else None, verify_tls=sim is None,
                           provider_options=options)
        return create_provider(name, campaign=campaign or SIMS[name].campaign, account=None, load=load)

    return make


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """A fresh SQLite ledger."""
    return Ledger(f"sqlite:///{tmp_path}/l.db")




@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The Engage logins timed by a clock the test moves, with no token cached before or after."""
    fake = Clock()
    monkeypatch.setattr(engage_auth, "clock", fake)
    engage_auth.forget_sessions()
    yield fake
    engage_auth.forget_sessions()
