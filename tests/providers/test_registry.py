"""The registry: built-ins, entry points and LEADFLOW_PROVIDERS, and a clear error for a provider that cannot load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from flows.cli import main
from schemas.errors import ConfigurationError
from tasks.providers import registry
from tasks.providers.base import Provider
from tasks.providers.registry import ENTRY_POINT_GROUP, ENV_VAR, provider_class, provider_names
from tasks.providers.voiso import Voiso


class Incomplete(Provider):  # type: ignore[misc]
    """Declares a name and nothing else."""

    name: ClassVar[str] = "incomplete"


class Clash(Voiso):
    """Takes a name already taken."""


class Copy(Voiso):
    """A complete provider under a new name."""

    name: ClassVar[str] = "voiso-copy"
    simulator: ClassVar[str | None] = None


@pytest.fixture
def env(clean_provider_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return clean_provider_env


@pytest.fixture
def entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed-looking distribution on sys.path whose entry points a test writes."""
    info = tmp_path / "leadflow_extra-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: leadflow-extra\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._load.cache_clear()
    yield info / "entry_points.txt"
    registry._load.cache_clear()


def test_the_builtins_in_their_order(env: pytest.MonkeyPatch) -> None:
    assert provider_names() == ["engage-voice", "nlpearl", "voiso"]
    assert all(provider_class(name).field_rules.name == name for name in provider_names())


def test_a_provider_from_the_environment_joins_the_builtins(env: pytest.MonkeyPatch) -> None:
    env.setenv(ENV_VAR, " test_registry:Copy , ")
    assert provider_names() == ["engage-voice", "nlpearl", "voiso", "voiso-copy"]
    assert provider_class("voiso-copy") is Copy


def test_an_unknown_name_lists_the_known_ones(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="unknown provider 'nope'; known: engage-voice, nlpearl, voiso"):
        provider_class("nope")


@pytest.mark.parametrize(("path", "cause"), [
    ("no_such_module:Dialer", r"'no_such_module:Dialer' \(LEADFLOW_PROVIDERS\) cannot load: ModuleNotFoundError: "
                              r"No module named 'no_such_module'"),
    ("test_registry:Missing", "cannot load: AttributeError: .*Missing"),
    ("test_registry", "cannot load: expected 'module:Class'"),
    ("collections:OrderedDict", "is not a subclass of tasks.providers.base.Provider"),
    ("test_registry:Incomplete", "does not declare limits .*field_rules .*resend .*options_model"),
    ("test_registry:Clash", "takes the name 'voiso', already taken by tasks.providers.voiso:Voiso"),
])
def test_a_provider_that_cannot_load_is_named_with_the_cause(env: pytest.MonkeyPatch, path: str, cause: str) -> None:
    env.setenv(ENV_VAR, path)
    with pytest.raises(ConfigurationError, match=cause):
        provider_names()


def test_the_cli_says_which_provider_cannot_load(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv(ENV_VAR, "no_such_module:Dialer")
    assert main(["run", "--help"]) == 2
    assert "provider 'no_such_module:Dialer' (LEADFLOW_PROVIDERS) cannot load" in capsys.readouterr().err


def test_an_entry_point_registers_a_provider(env: pytest.MonkeyPatch, entry_point: Path) -> None:
    entry_point.write_text(f"[{ENTRY_POINT_GROUP}]\nvoiso-copy = test_registry:Copy\n")
    assert provider_names() == ["engage-voice", "nlpearl", "voiso", "voiso-copy"]


def test_a_broken_entry_point_is_named(env: pytest.MonkeyPatch, entry_point: Path) -> None:
    entry_point.write_text(f"[{ENTRY_POINT_GROUP}]\nbroken = test_registry:Missing\n")
    with pytest.raises(ConfigurationError, match=f"entry point 'broken' of {ENTRY_POINT_GROUP}.* cannot load"):
        provider_names()
