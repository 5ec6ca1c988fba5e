"""Engage Voice over its simulator: both auth modes, token expiry and refresh, '~', rejected rows, lookups."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from providerhelp import Sim, by_row, deliver, lead_batch, phones

from schemas.errors import ConfigurationError
from tasks.ledger import Ledger
from tasks.providers.base import Provider
from tasks.providers.engage_auth import forget_sessions
from tasks.providers.errors import AuthError

RC_ENV = {"ENGAGE_VOICE_RC_ACCESS_TOKEN": "sim-rc-access-token"}


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    forget_sessions()


def exchanges(sim: Sim) -> list[dict[str, object]]:
    return [r for r in sim.received() if "login/rc/accesstoken" in str(r["path"])]


def refreshes(sim: Sim) -> list[dict[str, object]]:
    return [r for r in sim.received() if "token/refresh" in str(r["path"])]


def stored_ids(sim: Sim) -> list[str]:
    accounts = sim.leads()["accounts"]
    return sorted(str(x["externId"]) for c in accounts.values() for ls in c.values() for x in ls)


def test_rc_token_is_exchanged_once_cached_and_the_account_resolved(
        start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider], ledger: Ledger) -> None:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim, env=RC_ENV)
    prov.prepare()
    assert prov.account == "99990001"
    for i in range(3):
        out = deliver(prov, ledger, lead_batch(phones(2, 100 + 10 * i), first_row=1 + 2 * i), batch_id=f"b{i}")
        assert set(out["outcome"]) == {"loaded"}
    assert len(exchanges(sim)) == 1
    loads = [r for r in sim.received() if "leadLoader" in str(r["path"])]
    assert [r["status"] for r in loads] == [200, 200, 200]


def test_expired_token_is_refreshed_and_the_batch_still_loads(
        start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider], ledger: Ledger) -> None:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim, env=RC_ENV)
    prov.prepare()
    sim.control("/_sim/clock", {"advance_s": 301})
    out = deliver(prov, ledger, lead_batch(phones(3)))
    assert set(out["outcome"]) == {"loaded"}
    loads = [r for r in sim.received() if "leadLoader" in str(r["path"])]
    assert [r["status"] for r in loads] == [401, 200]
    assert len(refreshes(sim)) == 1
    assert len(exchanges(sim)) == 1
    assert stored_ids(sim) == ["crm-1", "crm-2", "crm-3"]


def test_refused_rc_token_is_an_auth_error_without_the_secret(
        start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider]) -> None:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim, env={"ENGAGE_VOICE_RC_ACCESS_TOKEN": "wrong-rc-token-987"})
    with pytest.raises(AuthError) as info:
        prov.prepare()
    assert "wrong-rc-token-987" not in str(info.value) + repr(info.value) + repr(prov) + repr(prov.client.auth)


def test_api_token_mode_resolves_tilde_from_the_account_list(
        start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider], ledger: Ledger) -> None:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim)
    prov.account = "~"
    prov.prepare()
    assert prov.account == "99990001"
    assert not exchanges(sim)
    assert set(deliver(prov, ledger, lead_batch(phones(1)))["outcome"]) == {"loaded"}


def test_rows_the_loader_rejects_are_rejected_with_its_message(
        start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider], ledger: Ledger) -> None:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim)
    prov.prepare()
    batch = lead_batch(["+14155550100", "+1415555", "+14155550102"])
    out = by_row(deliver(prov, ledger, batch))
    assert out[1][0] == "loaded"
    assert out[3][0] == "loaded"
    assert out[2][0] == "rejected"
    assert "engage-voice" in str(out[2][1])
    assert stored_ids(sim) == ["crm-1", "crm-3"]


def test_reconcile_finds_what_landed_by_external_id(
        start_sim: Callable[[str], Sim], make_provider: Callable[..., Provider], ledger: Ledger) -> None:
    sim = start_sim("engage-voice")
    prov = make_provider("engage-voice", sim)
    prov.prepare()
    deliver(prov, ledger, lead_batch(phones(2)))
    recorded = lead_batch(phones(3)).rename(columns={"row": "row"})[["row", "phone_key", "external_id"]]
    recorded.loc[2, "external_id"] = "never-sent"
    found = prov.reconcile(recorded)
    assert found is not None
    assert found["found"].tolist() == [True, True, False]


def test_campaign_ids_must_be_integers(start_sim: Callable[[str], Sim],
                                       make_provider: Callable[..., Provider]) -> None:
    prov = make_provider("engage-voice", start_sim("engage-voice"), campaign="spring-promo")
    with pytest.raises(ConfigurationError, match="integers"):
        prov.prepare()
