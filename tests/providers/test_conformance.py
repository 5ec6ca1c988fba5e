"""One suite over every registered provider: limits, requests, error classes, secrets, discovery."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, get_args

import pytest
from providerhelp import SIMS, Sim, classify, deliver, lead_batch, phones

from schemas import columns as C
from tasks.http import send
from tasks.ledger import Ledger
from tasks.providers.base import PhoneFormat, Provider
from tasks.providers.errors import AuthError, BatchRefusedError, ProviderError, RetriableProviderError
from tasks.providers.registry import provider_class, provider_names
from tasks.rules.phones import format_phone

NAMES = sorted(provider_names())


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sim(name: str, start_sim: Callable[[str], Sim]) -> Sim:
    return start_sim(name)


@pytest.fixture
def provider(name: str, sim: Sim, make_provider: Callable[..., Provider]) -> Provider:
    provider = make_provider(name, sim)
    provider.prepare()
    return provider


def lead_list(body: Any) -> list[dict[str, Any]]:
    """The lead objects of a request body: the body itself or its longest list."""
    if isinstance(body, list):
        return body
    return max((v for v in body.values() if isinstance(v, list)), key=len)


def prepare_and_deliver(provider: Provider, ledger: Ledger) -> None:
    """What a run does first: resolve the account, then send a batch."""
    provider.prepare()
    deliver(provider, ledger, lead_batch(phones(1)))


def test_every_builtin_is_registered() -> None:
    assert {"engage-voice", "nlpearl", "voiso"} <= set(NAMES)


def test_limits_and_declarations_are_sane(name: str) -> None:
    cls = provider_class(name)
    lim = cls.limits
    assert cls.name == name
    assert 1 <= lim.default_batch_size <= lim.max_batch_size
    assert lim.max_in_flight >= 1
    assert lim.min_spacing_s >= 0
    assert lim.phone_format in get_args(PhoneFormat)
    assert all(w.max_requests >= 1 and w.seconds > 0 for w in lim.rate_windows)
    assert all(400 <= s < 500 and s not in (401, 403) for s in lim.extra_retry_statuses)
    assert cls.base_url_env
    assert cls.default_base_url.startswith("https://")
    assert cls.credential_env
    assert cls.options_model.model_config.get("extra") == "forbid"
    assert cls.field_rules.name == name
    assert cls.simulator == f"{SIMS[name].module}:create_app" and cls.simulator_port > 0


def test_full_batch_request_is_valid_json_in_the_phone_format(provider: Provider) -> None:
    size = provider.limits.max_batch_size
    batch = lead_batch([f"+1415{i:07d}" for i in range(size)], first_name=["Ann"] * size)
    request = provider.build_request(batch)
    leads = lead_list(json.loads(request.content))
    assert len(leads) == size
    expected = format_phone(batch[C.PHONE_E164], provider.limits.phone_format)
    for i in (0, size // 2, size - 1):
        assert expected.iloc[i] in leads[i].values()


def test_a_batch_is_loaded(provider: Provider, ledger: Ledger) -> None:
    results = deliver(provider, ledger, lead_batch(phones(3)))
    assert results[C.OUTCOME].tolist() == ["loaded"] * 3


@pytest.mark.parametrize(("status", "error"), [
    (400, BatchRefusedError), (401, AuthError), (429, RetriableProviderError), (503, RetriableProviderError)])
def test_error_statuses_raise_the_right_class(provider: Provider, sim: Sim, status: int,
                                              error: type[ProviderError]) -> None:
    sim.faults({"status": status, "retry_after": 1})
    response = send(provider.client, provider.build_request(lead_batch(phones(2))))
    assert response.status_code == status
    with pytest.raises(error) as info:
        classify(provider, response)
    assert info.value.status == status
    if status == 429:
        assert isinstance(info.value, RetriableProviderError)
        assert info.value.retry_after == 1.0


def test_secrets_stay_out_of_reprs_errors_and_logs(name: str, sim: Sim, make_provider: Callable[..., Provider],
                                                   ledger: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    secret = "Zq9-secret-value-that-must-not-leak"
    env = {key: secret for key in SIMS[name].env}
    provider = make_provider(name, sim, env=env)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        prepare_and_deliver(provider, ledger)
    shown = [repr(provider), str(provider), repr(provider.client), repr(provider.client.auth),
             repr(provider.credentials), str(provider.credentials), str(info.value), repr(info.value),
             caplog.text]
    assert not [text for text in shown if secret in text]


def test_list_campaigns(provider: Provider) -> None:
    campaigns = provider.list_campaigns()
    assert campaigns
    assert all({"id", "name"} <= set(c) for c in campaigns)
    assert provider.campaign in {str(c["id"]) for c in campaigns}
