"""What a dialer's answer about a lead means for later runs: the disposition mapping.

A disposition sync reads, for each lead, the provider's lead ``state`` and its last call's
``disposition`` (docs/dispositions.md). A mapping turns each value into an action:

- ``dnc``: the person asked not to be called; the phone goes on the internal do-not-call list.
- ``bad_number``: the number does not work; the phone goes on the internal do-not-call list.
- ``reached``: someone was reached; the phone cools down for every provider.
- ``none``: nothing follows (not called yet, no answer, voicemail ...).

Each provider declares its default mapping (``Provider.disposition_map``); a mapping file (YAML,
JSON or TOML) overrides single values of it:

.. code-block:: yaml

    engage-voice:
      state: {WHITELIST: none}
      disposition: {"ANSWERING MACHINE": reached}
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.errors import ConfigurationError

Action = Literal["dnc", "bad_number", "reached", "none"]
#: Actions from the strongest down: a lead whose state and disposition map to two actions takes the stronger.
ACTIONS: tuple[str, ...] = ("dnc", "bad_number", "reached", "none")
#: Actions that put a phone on the internal do-not-call list.
LISTED = ("dnc", "bad_number")


class ProviderMapping(BaseModel):
    """One provider's mapping: lead states and last-call dispositions to actions (exact, case-insensitive)."""

    model_config = ConfigDict(extra="forbid")

    state: dict[str, Action] = {}
    disposition: dict[str, Action] = {}


def merged(default: dict[str, dict[str, str]], override: dict[str, Any] | None) -> ProviderMapping:
    """A provider's default mapping with the values of ``override`` (one provider's part of a file) on top.

    Raises:
        ConfigurationError: the override is not a mapping of ``state``/``disposition`` to actions.
    """
    base = ProviderMapping.model_validate(default)
    if not override:
        return base
    extra = _validated(override, "the mapping")
    return ProviderMapping(state={**base.state, **extra.state}, disposition={**base.disposition, **extra.disposition})


def read_mapping_file(path: str, provider: str) -> dict[str, Any] | None:
    """The part of a mapping file (``.yaml``/``.yml``, ``.json`` or ``.toml``) for ``provider``; None if it has none.

    Raises:
        ConfigurationError: the file cannot be read or parsed, or its part for ``provider`` is not
            ``state``/``disposition`` tables of actions (the message names the file and the key).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as ex:
        raise ConfigurationError(f"disposition mapping {path}: cannot read it ({ex.strerror})") from None
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text)
        elif file.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as ex:
        first = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
        raise ConfigurationError(f"disposition mapping {path}: not valid {file.suffix.lstrip('.') or 'YAML'}: "
                                 f"{first}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"disposition mapping {path}: expected provider names at the top, "
                                 f"e.g. 'engage-voice: {{state: {{DO-NOT-CALL: dnc}}}}'")
    part = data.get(provider)
    if part is None:
        return None
    _validated(part, f"disposition mapping {path}, {provider}")
    return dict(part)


def _validated(part: Any, where: str) -> ProviderMapping:
    try:
        return ProviderMapping.model_validate(part)
    except ValidationError as ex:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in ex.errors())
        raise ConfigurationError(f"{where}: {problems} (actions: {', '.join(ACTIONS)})") from None


def actions(mapping: ProviderMapping, state: pd.Series, disposition: pd.Series) -> pd.Series:
    """Each lead's action: the stronger of its state's and its disposition's (``none`` where neither is mapped)."""
    rank = {a: i for i, a in enumerate(ACTIONS)}

    def ranks(values: pd.Series, table: Mapping[str, str]) -> np.ndarray:
        upper = {k.upper(): rank[v] for k, v in table.items()}
        return values.astype("string").str.upper().map(upper).fillna(rank["none"]).to_numpy(dtype=np.int64)

    best = np.minimum(ranks(state, mapping.state), ranks(disposition, mapping.disposition))
    return pd.Series(np.asarray(ACTIONS, dtype=object)[best], index=state.index, dtype="string")
