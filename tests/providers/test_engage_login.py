"""Engage Voice logins that renew themselves: RingCentral JWT and password grants, the RingCX
exchange, refresh before expiry and on 401, and a new RingCentral login when the exchange refuses."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from providerhelp import Clock, Sim, calls, deliver, lead_batch, phones

from schemas.errors import ConfigurationError
from tasks.ledger import Ledger
from tasks.providers import engage_auth
from tasks.providers.base import Provider
from tasks.providers.errors import AuthError

APP = {"ENGAGE_VOICE_RC_CLIENT_ID": "sim-rc-client-id", "ENGAGE_VOICE_RC_CLIENT_SECRET": "sim-rc-client-secret"}
JWT = {**APP, "ENGAGE_VOICE_RC_JWT": "sim-rc-jwt"}
PASSWORD = {**APP, "ENGAGE_VOICE_RC_USERNAME": "admin@example.com", "ENGAGE_VOICE_RC_PASSWORD": "sim-rc-password",
            "ENGAGE_VOICE_RC_EXTENSION": "101"}


def login(start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider], env: dict[str, str],
          clean_provider_env: pytest.MonkeyPatch) -> tuple[Sim, Provider]:
    sim = start_sim("engage-voice")
    clean_provider_env.setenv("ENGAGE_VOICE_RC_SERVER_URL", sim.url)
    prov = make_provider("engage-voice", sim, env=env)
    prov.prepare()
    assert prov.account == "99990001"
    return sim, prov


@pytest.mark.parametrize("env", [JWT, PASSWORD], ids=["jwt", "password"])
def test_login_renews_before_expiry(env: dict[str, str], clock: Clock, start_sim: Callable[[str], Sim],
                                    make_provider: Callable[..., Provider], ledger: Ledger,
                                    clean_provider_env: pytest.MonkeyPatch) -> None:
    sim, prov = login(start_sim, make_provider, env, clean_provider_env)
    for i in range(3):  # 3 x 280 s: every load but the first needs a renewed RingCX token
        out = deliver(prov, ledger, lead_batch(phones(2, 100 + 10 * i), first_row=1 + 2 * i), batch_id=f"b{i}")
        assert set(out["outcome"]) == {"loaded"}
        clock.now += 280
        sim.control("/_sim/clock", {"advance_s": 280})
    assert calls(sim, "/restapi/oauth/token") == [200]
    assert calls(sim, "login/rc/accesstoken") == [200]
    assert calls(sim, "token/refresh") == [200, 200]
    assert calls(sim, "leadLoader") == [200, 200, 200]  # never a 401: renewed before expiry


def test_a_401_renews_the_token_once_and_the_batch_loads(clock: Clock, start_sim: Callable[[str], Sim],
                                                         make_provider: Callable[..., Provider], ledger: Ledger,
                                                         clean_provider_env: pytest.MonkeyPatch) -> None:
    sim, prov = login(start_sim, make_provider, JWT, clean_provider_env)
    sim.control("/_sim/clock", {"advance_s": 301})  # the server's clock only: the client is surprised
    assert set(deliver(prov, ledger, lead_batch(phones(3)))["outcome"]) == {"loaded"}
    assert calls(sim, "leadLoader") == [401, 200]
    assert calls(sim, "token/refresh") == [200]


def test_an_expired_ringcentral_token_is_replaced_by_a_new_login(
        clock: Clock, start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider], ledger: Ledger,
        clean_provider_env: pytest.MonkeyPatch) -> None:
    sim, prov = login(start_sim, make_provider, JWT, clean_provider_env)
    sim.config(refresh_token_ttl_s=600)
    engage_auth.forget_sessions()
    prov.client.get("/voice/api/v1/admin/accounts").raise_for_status()  # a session with a short refresh
    # An hour later on the server only: the refresh token and the cached RingCentral token are stale.
    sim.control("/_sim/clock", {"advance_s": 3700})
    assert set(deliver(prov, ledger, lead_batch(phones(2)))["outcome"]) == {"loaded"}
    assert calls(sim, "token/refresh") == [401]
    assert calls(sim, "login/rc/accesstoken")[-2:] == [401, 200]  # refused, then after a new JWT login
    assert calls(sim, "/restapi/oauth/token")[-1] == 200
    assert len(calls(sim, "/restapi/oauth/token")) == 3


def test_a_refused_jwt_is_an_auth_error_naming_the_variables_not_the_values(
        clock: Clock, start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider],
        clean_provider_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    sim = start_sim("engage-voice")
    clean_provider_env.setenv("ENGAGE_VOICE_RC_SERVER_URL", sim.url)
    forged = {**JWT, "ENGAGE_VOICE_RC_JWT": "forged-jwt-value-42"}
    prov = make_provider("engage-voice", sim, env=forged)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as info:
        prov.prepare()
    shown = str(info.value) + repr(info.value) + repr(prov) + repr(prov.client.auth) + caplog.text
    assert "ENGAGE_VOICE_RC_JWT" in str(info.value)
    for secret in ("forged-jwt-value-42", "sim-rc-client-secret"):
        assert secret not in shown
    assert not calls(sim, "login/rc/accesstoken")


def test_secrets_never_reach_the_logs(clock: Clock, start_sim: Callable[[str], Sim],
                                      make_provider: Callable[..., Provider], ledger: Ledger,
                                      clean_provider_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        _, prov = login(start_sim, make_provider, PASSWORD, clean_provider_env)
        deliver(prov, ledger, lead_batch(phones(1)))
    assert "oauth/token" in caplog.text  # httpx logged the requests, without their bodies
    for secret in ("sim-rc-password", "sim-rc-client-secret", "sim-rc-"):
        assert secret not in caplog.text


@pytest.mark.parametrize(("env", "missing"), [
    ({"ENGAGE_VOICE_RC_CLIENT_ID": "id", "ENGAGE_VOICE_RC_JWT": "jwt"}, ["ENGAGE_VOICE_RC_CLIENT_SECRET"]),
    (APP, ["ENGAGE_VOICE_RC_JWT"]),
    ({**APP, "ENGAGE_VOICE_RC_USERNAME": "u"}, ["ENGAGE_VOICE_RC_PASSWORD"]),
    ({"ENGAGE_VOICE_RC_PASSWORD": "p"}, ["ENGAGE_VOICE_RC_CLIENT_ID", "ENGAGE_VOICE_RC_CLIENT_SECRET",
                                          "ENGAGE_VOICE_RC_USERNAME"]),
    ({}, ["ENGAGE_VOICE_API_TOKEN", "ENGAGE_VOICE_RC_JWT", "ENGAGE_VOICE_RC_ACCESS_TOKEN"]),
])
def test_incomplete_logins_name_what_is_missing(env: dict[str, str], missing: list[str],
                                                make_provider: Callable[..., Provider]) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_provider("engage-voice", None, env=env)
    for name in missing:
        assert name in str(info.value)
    for value in env.values():
        assert f"{value} " not in str(info.value)


@pytest.mark.parametrize(("answer", "account", "refresh"), [
    ({"accessToken": "a", "refreshToken": "r", "agentDetails": [{"accountId": 99990001}]}, "99990001", "r"),
    ({"access_token": "a", "refresh_token": "r", "accountId": "7"}, "7", "r"),
    ({"accessToken": "a", "agentDetails": []}, "fallback", None),
])
def test_token_answers_in_the_spellings_the_documents_leave_open(answer: dict[str, object], account: str,
                                                                 refresh: str | None, clock: Clock) -> None:
    session = engage_auth._read_session(answer, "fallback")
    assert session is not None
    assert (session.access, session.account_id, session.refresh) == ("a", account, refresh)
    assert session.expires_at == clock.now + engage_auth.TOKEN_TTL_S
    assert engage_auth._read_session({"tokenType": "Bearer"}, None) is None
