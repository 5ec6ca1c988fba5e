"""The registry of providers, and building a ready provider for a run."""

from __future__ import annotations

import os

import httpx

from schemas.options import LoadOptions
from tasks.credentials import load_credentials
from tasks.http import build_client, check_base_url
from tasks.providers.base import Provider
from tasks.providers.errors import ConfigurationError

PROVIDERS: dict[str, type[Provider]] = {}


def register(cls: type[Provider]) -> type[Provider]:
    """Add a provider class under its ``name``; names are unique."""
    if cls.name in PROVIDERS and PROVIDERS[cls.name] is not cls:
        raise ValueError(f"provider {cls.name!r} is already registered")
    PROVIDERS[cls.name] = cls
    return cls


def provider_class(name: str) -> type[Provider]:
    """The provider class registered as ``name``."""
    _load_builtins()
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigurationError(f"unknown provider {name!r}; known: {known}") from None


def create_provider(name: str, *, campaign: str, account: str | None, load: LoadOptions,
                    transport: httpx.BaseTransport | None = None) -> Provider:
    """A provider with its credentials, options and HTTP client, ready to ``prepare()``."""
    cls = provider_class(name)
    credentials = load_credentials(cls.credential_env)
    cls.check_credentials(credentials)
    base_url = check_base_url(load.base_url or os.environ.get(cls.base_url_env) or cls.default_base_url,
                              cls.name, cls.known_hosts)
    options = cls.options_model.model_validate(load.provider_options)
    client = build_client(base_url, timeout=load.timeout_s, verify_tls=load.verify_tls, transport=transport)
    provider = cls(client=client, credentials=credentials, campaign=campaign, account=account,
                   options=options, verify_tls=load.verify_tls)
    auth = provider.auth()
    if auth is not None:
        client.auth = auth
    return provider


def _load_builtins() -> None:
    from tasks.providers import engage_voice

    register(engage_voice.EngageVoice)
    for module in ("nlpearl", "voiso"):
        try:
            mod = __import__(f"tasks.providers.{module}", fromlist=["PROVIDER"])
        except ModuleNotFoundError:
            continue
        register(mod.PROVIDER)
