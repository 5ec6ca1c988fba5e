"""Engage Voice base URLs: every documented form reaches the same API paths and token exchange.

Seeds 000-002 give ``https://engage.ringcentral.com/voice``, ``https://portal.vacd.biz/`` and
``https://portal.virtualacd.biz/``; the contract notes add ``https://ringcx.ringcentral.com``.
Loopback forms are served by the simulator itself (at the root and mounted under a prefix); the
vendor host names are sent to the loopback simulator by a transport that rewrites only the
address, so the URLs the client builds are the ones a real account would see.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from providerhelp import Sim, deliver, lead_batch, phones
from starlette.applications import Starlette
from starlette.routing import Mount

from schemas.options import LoadOptions
from simulators import engage_voice
from simulators.server import serve
from tasks.ledger import Ledger
from tasks.providers.base import Provider
from tasks.providers.engage_auth import forget_sessions
from tasks.providers.engage_voice import host_root
from tasks.providers.registry import create_provider

API_TOKEN = {"ENGAGE_VOICE_API_TOKEN": "sim-engage-api-token"}
JWT_LOGIN = {"ENGAGE_VOICE_RC_CLIENT_ID": "sim-rc-client-id", "ENGAGE_VOICE_RC_CLIENT_SECRET": "sim-rc-client-secret",
             "ENGAGE_VOICE_RC_JWT": "sim-rc-jwt"}
LOADER = "/voice/api/v1/admin/accounts/99990001/campaigns/4001/leadLoader/direct"


class ToLoopback(httpx.HTTPTransport):
    """Sends every request to one loopback server, keeping the URL the client built."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.target = httpx.URL(url)
        self.urls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        request.url = request.url.copy_with(scheme=self.target.scheme, host=self.target.host, port=self.target.port)
        return super().handle_request(request)


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    forget_sessions()
    yield
    forget_sessions()


@pytest.fixture
def served() -> Iterator[tuple[str, Sim]]:
    """The simulator at the root of a loopback server."""
    with serve(engage_voice.create_app()) as running:
        sim = Sim(running.url)
        yield running.url, sim
        sim.http.close()


def provider(base_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
             transport: httpx.BaseTransport | None = None, rc_server: str | None = None) -> Provider:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if rc_server:
        monkeypatch.setenv("ENGAGE_VOICE_RC_SERVER_URL", rc_server)
    return create_provider("engage-voice", campaign="4001", account=None, transport=transport,
                           load=LoadOptions(base_url=base_url))


def load_two(prov: Provider, ledger: Ledger) -> None:
    prov.prepare()
    assert prov.account == "99990001"
    assert set(deliver(prov, ledger, lead_batch(phones(2)))["outcome"]) == {"loaded"}


@pytest.mark.parametrize("suffix", ["", "/", "/voice", "/voice/"])
@pytest.mark.parametrize("env", [API_TOKEN, JWT_LOGIN], ids=["api-token", "jwt-login"])
def test_loopback_forms(served: tuple[str, Sim], suffix: str, env: dict[str, str], ledger: Ledger,
                        clean_provider_env: pytest.MonkeyPatch) -> None:
    url, sim = served
    load_two(provider(url + suffix, env, clean_provider_env, rc_server=url), ledger)
    paths = [r["path"] for r in sim.received()]
    assert LOADER in paths
    assert not [p for p in paths if "/voice/voice" in p]
    if env is JWT_LOGIN:
        assert paths[:2] == ["/restapi/oauth/token", "/api/auth/login/rc/accesstoken"]


@pytest.mark.parametrize("suffix", ["", "/voice/"])
def test_simulator_mounted_under_a_prefix(suffix: str, ledger: Ledger, clean_provider_env: pytest.MonkeyPatch) -> None:
    app = engage_voice.create_app()
    with serve(Starlette(routes=[Mount("/tenant", app=app)])) as running:
        base = f"{running.url}/tenant"
        load_two(provider(base + suffix, JWT_LOGIN, clean_provider_env, rc_server=base), ledger)
        token = httpx.post(f"{base}/api/auth/login/rc/accesstoken",
                           data={"rcAccessToken": "sim-rc-access-token", "rcTokenType": "Bearer"}).json()["accessToken"]
        legacy = httpx.post(f"{base}{LOADER.removeprefix('/voice')}", json={"uploadLeads": []},
                            headers={"Authorization": f"Bearer {token}"})
        assert legacy.status_code == 401  # legacy paths take X-Auth-Token only, under a prefix too
    paths = [r["path"] for r in app.sim.received.records]
    assert "/tenant/api/auth/login/rc/accesstoken" in paths
    assert f"/tenant{LOADER}" in paths


@pytest.mark.parametrize(("base_url", "loader"), [
    ("https://engage.ringcentral.com/voice", f"https://engage.ringcentral.com{LOADER}"),
    ("https://engage.ringcentral.com/voice/", f"https://engage.ringcentral.com{LOADER}"),
    ("https://ringcx.ringcentral.com", f"https://ringcx.ringcentral.com{LOADER}"),
    ("https://portal.vacd.biz/", f"https://portal.vacd.biz{LOADER.removeprefix('/voice')}"),
    ("https://portal.virtualacd.biz/", f"https://portal.virtualacd.biz{LOADER.removeprefix('/voice')}"),
    ("https://portal.vacd.biz/api/v1", f"https://portal.vacd.biz{LOADER.removeprefix('/voice')}"),
])
def test_documented_hosts_with_an_api_token(served: tuple[str, Sim], base_url: str, loader: str, ledger: Ledger,
                                            clean_provider_env: pytest.MonkeyPatch) -> None:
    url, sim = served
    transport = ToLoopback(url)
    load_two(provider(base_url, API_TOKEN, clean_provider_env, transport), ledger)
    assert transport.urls[-1] == loader
    assert [r["status"] for r in sim.control("/_sim/received")] == [200, 200]  # accounts, load


@pytest.mark.parametrize("base_url", ["https://engage.ringcentral.com/voice", "https://ringcx.ringcentral.com/"])
def test_documented_hosts_exchange_at_the_host_root(served: tuple[str, Sim], base_url: str, ledger: Ledger,
                                                    clean_provider_env: pytest.MonkeyPatch) -> None:
    url, _ = served
    transport = ToLoopback(url)
    load_two(provider(base_url, JWT_LOGIN, clean_provider_env, transport), ledger)
    host = httpx.URL(base_url).host
    assert transport.urls[:2] == ["https://platform.ringcentral.com/restapi/oauth/token",
                                  f"https://{host}/api/auth/login/rc/accesstoken?includeRefresh=true"]
    assert transport.urls[-1] == f"https://{host}{LOADER}"


@pytest.mark.parametrize(("url", "root"), [
    ("https://engage.ringcentral.com/voice", "https://engage.ringcentral.com"),
    ("https://engage.ringcentral.com/voice/api/v1/", "https://engage.ringcentral.com"),
    ("https://portal.virtualacd.biz/", "https://portal.virtualacd.biz"),
    ("http://127.0.0.1:8701/tenant/voice", "http://127.0.0.1:8701/tenant"),
    ("http://127.0.0.1:8701", "http://127.0.0.1:8701"),
])
def test_host_root(url: str, root: str) -> None:
    assert host_root(url) == root
