"""The registry of providers, and building a ready provider for a run.

A provider is one class (see docs/architecture.md, "Adding a provider"). The registry finds the
classes in three places, in this order:

1. ``BUILTINS``: the import paths of the providers shipped with leadflow;
2. the entry point group ``leadflow.providers`` of installed packages (``name = "module:Class"``);
3. the environment variable ``LEADFLOW_PROVIDERS``: comma-separated ``module:Class`` paths, for
   providers that are not installed as a package (a module on ``PYTHONPATH``).

A provider that cannot load stops the run with a ``ConfigurationError`` naming it and the cause.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

import httpx

from schemas.errors import ConfigurationError
from schemas.options import LoadOptions
from schemas.provider_rules import ProviderRules
from tasks.credentials import load_credentials
from tasks.http import build_client, check_base_url
from tasks.providers.base import Provider, ProviderLimits, ResendRule

#: The providers shipped with leadflow, as ``module:Class``.
BUILTINS = (
    "tasks.providers.engage_voice:EngageVoice",
    "tasks.providers.nlpearl:NLPearl",
    "tasks.providers.voiso:Voiso",
)
#: Entry point group of providers installed as packages.
ENTRY_POINT_GROUP = "leadflow.providers"
#: Environment variable naming more providers as comma-separated ``module:Class`` paths.
ENV_VAR = "LEADFLOW_PROVIDERS"

#: What every provider class declares (see ``Provider``), checked when it loads.
_DECLARED = {"name": str, "limits": ProviderLimits, "field_rules": ProviderRules,
             "resend": ResendRule, "base_url_env": str,
             "default_base_url": str, "credential_env": dict, "options_model": type}


def providers() -> dict[str, type[Provider]]:
    """Every registered provider class by name: built-ins, entry points, then ``LEADFLOW_PROVIDERS``.

    Raises:
        ConfigurationError: a provider cannot load, is not a ``Provider``, lacks a declaration,
            or takes a name already taken.
    """
    extra = tuple(path.strip() for path in os.environ.get(ENV_VAR, "").split(",") if path.strip())
    return dict(_load(extra))


def provider_names() -> list[str]:
    """The registered names, in registry order (the choices of the CLI and the run form)."""
    return list(providers())


def provider_choice() -> Any:
    """``Literal[...]`` of the registered names: a flow parameter typed so renders as a choice."""
    return Literal[tuple(provider_names())]


def provider_class(name: str) -> type[Provider]:
    """The provider class registered as ``name``."""
    known = providers()
    try:
        return known[name]
    except KeyError:
        raise ConfigurationError(f"unknown provider {name!r}; known: {', '.join(sorted(known))}") from None


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


@cache
def _load(extra: tuple[str, ...]) -> tuple[tuple[str, type[Provider]], ...]:
    """The provider classes of the built-ins, the entry points and ``extra`` (loaded once per ``extra``)."""
    sources = [(path, "built-in") for path in BUILTINS]
    sources += [(ep.value, f"entry point {ep.name!r} of {ENTRY_POINT_GROUP}")
                for ep in entry_points(group=ENTRY_POINT_GROUP)]
    sources += [(path, ENV_VAR) for path in extra]
    found: dict[str, type[Provider]] = {}
    for path, origin in sources:
        cls = _import(path, origin)
        if cls.name in found and found[cls.name] is not cls:
            raise ConfigurationError(f"provider {path!r} ({origin}) takes the name {cls.name!r}, already taken by "
                                     f"{found[cls.name].__module__}:{found[cls.name].__qualname__}")
        found[cls.name] = cls
    return tuple(found.items())


def _import(path: str, origin: str) -> type[Provider]:
    """The class at ``module:Class``, checked to be a complete provider."""
    where = f"provider {path!r} ({origin})"
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigurationError(f"{where} cannot load: expected 'module:Class'")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            found = getattr(found, part)
    except Exception as ex:  # any failure of a plug-in's import is its configuration's fault
        raise ConfigurationError(f"{where} cannot load: {type(ex).__name__}: {ex}") from ex
    if not (isinstance(found, type) and issubclass(found, Provider)):
        raise ConfigurationError(f"{where} is not a subclass of tasks.providers.base.Provider")
    missing = [f"{key} ({kind.__name__})" for key, kind in _DECLARED.items()
               if not isinstance(getattr(found, key, None), kind)]
    if missing:
        raise ConfigurationError(f"{where} does not declare {', '.join(missing)}")
    if found.__abstractmethods__:
        raise ConfigurationError(f"{where} does not implement {', '.join(sorted(found.__abstractmethods__))}")
    return found
