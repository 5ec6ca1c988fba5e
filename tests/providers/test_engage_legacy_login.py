"""The Engage Voice legacy (vacd) login: username and password for an ``authToken`` sent as
``X-Auth-Token`` on the ``/api/v1`` paths, renewed when it lapses and once on a 401."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from providerhelp import Clock, Sim, calls, deliver, lead_batch, phones

from schemas.errors import ConfigurationError
from tasks.ledger import Ledger
from tasks.providers.base import Provider
from tasks.providers.engage_legacy_auth import LEGACY_TOKEN_TTL_S, EngageLegacyAuth
from tasks.providers.errors import AuthError

LEGACY = {"ENGAGE_VOICE_USERNAME": "legacy-admin", "ENGAGE_VOICE_PASSWORD": "sim-legacy-password"}


@pytest.fixture
def legacy(start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider]) -> tuple[Sim, Provider]:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim, env=LEGACY, legacy=True)
    assert isinstance(prov.client.auth, EngageLegacyAuth)
    prov.prepare()
    assert prov.account == "99990001"  # accounts[0].accountId of the login's answer
    return sim, prov


def test_the_legacy_login_loads_on_the_legacy_paths(clock: Clock, legacy: tuple[Sim, Provider],
                                                    ledger: Ledger) -> None:
    sim, prov = legacy
    assert set(deliver(prov, ledger, lead_batch(phones(3)))["outcome"]) == {"loaded"}
    assert calls(sim, "/api/v1/auth/login") == [200]
    assert calls(sim, "/api/v1/admin/accounts/99990001/campaigns/4001/leadLoader/direct") == [200]
    assert not calls(sim, "/voice/")


def test_each_use_extends_the_token_and_an_idle_hour_logs_in_again(
        clock: Clock, legacy: tuple[Sim, Provider], ledger: Ledger) -> None:
    sim, prov = legacy
    for i in range(3):  # used every 50 minutes: the token never lapses
        clock.now += 3000
        sim.control("/_sim/clock", {"advance_s": 3000})
        out = deliver(prov, ledger, lead_batch(phones(1, 100 + i), first_row=1 + i), batch_id=f"b{i}")
        assert set(out["outcome"]) == {"loaded"}
    assert calls(sim, "/api/v1/auth/login") == [200]
    clock.now += LEGACY_TOKEN_TTL_S  # an idle hour: renewed before it is refused
    sim.control("/_sim/clock", {"advance_s": LEGACY_TOKEN_TTL_S})
    assert set(deliver(prov, ledger, lead_batch(phones(1, 200), first_row=9), batch_id="late")["outcome"]) == {
        "loaded"}
    assert calls(sim, "/api/v1/auth/login") == [200, 200]
    assert 401 not in calls(sim, "leadLoader")


def test_a_401_logs_in_again_once_and_the_batch_loads(clock: Clock, legacy: tuple[Sim, Provider],
                                                      ledger: Ledger) -> None:
    sim, prov = legacy
    sim.control("/_sim/clock", {"advance_s": LEGACY_TOKEN_TTL_S + 1})  # the server's clock only
    assert set(deliver(prov, ledger, lead_batch(phones(2)))["outcome"]) == {"loaded"}
    assert calls(sim, "leadLoader") == [401, 200]
    assert calls(sim, "/api/v1/auth/login") == [200, 200]


def test_a_refused_login_names_the_variables_and_never_the_password(
        clock: Clock, start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider],
        caplog: pytest.LogCaptureFixture) -> None:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim, env={**LEGACY, "ENGAGE_VOICE_PASSWORD": "wrong-pw-7731"}, legacy=True)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as info:
        prov.prepare()
    assert str(info.value) == ("engage-voice: the legacy login refused the credentials "
                               "(check ENGAGE_VOICE_USERNAME and ENGAGE_VOICE_PASSWORD)")
    shown = str(info.value) + repr(prov) + repr(prov.client.auth) + caplog.text
    assert "wrong-pw-7731" not in shown
    assert "auth/login" in caplog.text  # httpx logged the request, without its body
    assert calls(sim, "/api/v1/auth/login") == [401]


def test_the_token_never_reaches_the_logs(clock: Clock, legacy: tuple[Sim, Provider], ledger: Ledger,
                                          caplog: pytest.LogCaptureFixture) -> None:
    _, prov = legacy
    with caplog.at_level(logging.DEBUG):
        deliver(prov, ledger, lead_batch(phones(1)))
    assert "leadLoader" in caplog.text
    for secret in ("sim-legacy-", "sim-legacy-password"):
        assert secret not in caplog.text


@pytest.mark.parametrize(("env", "message"), [
    ({"ENGAGE_VOICE_USERNAME": "u"}, "the legacy login also needs ENGAGE_VOICE_PASSWORD"),
    ({"ENGAGE_VOICE_PASSWORD": "p-51"}, "the legacy login also needs ENGAGE_VOICE_USERNAME"),
])
def test_an_incomplete_legacy_login_names_what_is_missing(env: dict[str, str], message: str,
                                                          make_provider: Callable[..., Provider]) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_provider("engage-voice", None, env=env)
    assert str(info.value) == f"engage-voice: {message}"


def test_the_legacy_login_is_refused_on_a_ringcx_host(make_provider: Callable[..., Provider]) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_provider("engage-voice", None, env=LEGACY)  # the default host, ringcx.ringcentral.com
    assert "legacy hosts" in str(info.value)
    assert "sim-legacy-password" not in str(info.value)
