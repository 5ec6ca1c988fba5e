"""Errors every layer may raise: none of them knows a provider, a ledger or a flow."""

from __future__ import annotations


class ConfigurationError(Exception):
    """The run cannot start: a missing credential, an unknown provider, a bad option."""
