"""The ``provider`` parameter of the flows: one of the registered providers, a choice in the run form.

Built from the registry when the module is imported, so a provider registered by an entry point or
``LEADFLOW_PROVIDERS`` is offered too; type checkers see a plain ``str``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.providers.registry import provider_choice

if TYPE_CHECKING:
    ProviderChoice = str
else:
    ProviderChoice = provider_choice()
