"""Security fixtures: Prefect's console log follows the captured stderr, as in the reliability tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parents[1] / "reliability"))

from relhelp import follow_stderr


@pytest.fixture(autouse=True)
def console_follows_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's console log handler writes to the current ``sys.stderr`` (see ``follow_stderr``)."""
    follow_stderr(monkeypatch)
