"""Credentials from the environment or Prefect Secret blocks, unwrapped in one place."""

from __future__ import annotations

import os

from pydantic import SecretStr

from tasks.providers.base import Credentials


def _from_block(env_name: str) -> str | None:
    """The Prefect Secret block named after the variable (``ENGAGE_VOICE_API_TOKEN`` ->
    ``engage-voice-api-token``), when blocks are enabled with ``LEADFLOW_SECRET_BLOCKS=1``."""
    if os.environ.get("LEADFLOW_SECRET_BLOCKS", "") not in ("1", "true", "yes"):
        return None
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(env_name.lower().replace("_", "-"), _sync=True)  # type: ignore[call-arg]
        value = block.get()  # type: ignore[union-attr]
    except (ValueError, RuntimeError):
        return None
    return str(value) if value else None


def load_credentials(env_names: dict[str, str]) -> Credentials:
    """Collect the credentials whose variables (or blocks) are set; absent ones are left out."""
    values: dict[str, SecretStr] = {}
    for name, env in env_names.items():
        raw = os.environ.get(env) or _from_block(env)
        if raw:
            values[name] = SecretStr(raw)
    return Credentials(values=values)
