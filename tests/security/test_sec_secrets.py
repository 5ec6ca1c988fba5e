"""Secrets come only from the environment or Secret blocks and show up in no output of a run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sechelp import (
    ENGAGE_API_TOKEN,
    MODES,
    Mode,
    issued_tokens,
    leaks,
    prefect_records,
    run_cli,
    simulator,
    write_leads,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.options import LoadOptions, RunOptions
from simulators.server import serve
from tasks.providers.base import Provider
from tasks.providers.errors import ProviderError
from tasks.providers.registry import create_provider

pytestmark = pytest.mark.usefixtures("prefect_harness")

LEADS = [[f"S{i}", "Ann", "Lee", f"41586710{i:02d}", f"s{i}@example.com"] for i in range(5)]


def _outputs(tmp: Path, out: str, err: str, caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    texts = {"stdout": out, "stderr": err, "log records": "\n".join(r.getMessage() for r in caplog.records)}
    for name in ("report.json", "outcomes.csv", "ledger.db"):
        path = tmp / name
        if path.exists():
            texts[name] = path.read_bytes().decode("utf-8", "replace")
    return texts


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_no_secret_in_any_output_of_a_full_load(mode: Mode, tmp_path: Path, clean_provider_env: pytest.MonkeyPatch,
                                                capfd: pytest.CaptureFixture[str],
                                                caplog: pytest.LogCaptureFixture) -> None:
    for key, value in mode.env.items():
        clean_provider_env.setenv(key, value)
    caplog.set_level(logging.DEBUG)
    source = write_leads(tmp_path / "leads.csv", LEADS)
    with simulator(mode.provider) as (url, app):
        code = run_cli(tmp_path, mode.provider, source, url)
        secrets = [*mode.secrets, *issued_tokens(app)]
    out, err = capfd.readouterr()
    assert code == 0, err[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcomes"]["loaded"] == len(LEADS)
    texts = {**_outputs(tmp_path, out, err, caplog), **prefect_records(report["run_id"])}
    assert not leaks(texts, secrets)


def _use(provider: Provider) -> None:
    """Make the provider call its API (account or campaign listing)."""
    provider.prepare()
    provider.list_campaigns()


def _refused(mode: Mode, tmp: Path, env: pytest.MonkeyPatch) -> tuple[int, list[str], ProviderError, str]:
    """A run and a provider call with every credential of ``mode`` wrong."""
    wrong = {key: f"{value}-WRONG" for key, value in mode.env.items()}
    for key, value in wrong.items():
        env.setenv(key, value)
    source = write_leads(tmp / "leads.csv", LEADS)
    with simulator(mode.provider) as (url, _):
        code = run_cli(tmp, mode.provider, source, url)
        provider = create_provider(mode.provider, campaign="4001" if mode.provider == "engage-voice" else "3",
                                   account=None, load=LoadOptions(base_url=url))
        with pytest.raises(ProviderError) as info:
            _use(provider)
    return code, list(wrong.values()), info.value, repr(provider)


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_refused_credentials_are_not_shown(mode: Mode, tmp_path: Path, clean_provider_env: pytest.MonkeyPatch,
                                           capfd: pytest.CaptureFixture[str],
                                           caplog: pytest.LogCaptureFixture) -> None:
    _, wrong, error, provider = _refused(mode, tmp_path, clean_provider_env)
    out, err = capfd.readouterr()
    texts = {**_outputs(tmp_path, out, err, caplog), "exception str": str(error), "exception repr": repr(error),
             "provider repr": provider}
    assert not leaks(texts, wrong)


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_refused_credentials_stop_the_run(mode: Mode, tmp_path: Path, clean_provider_env: pytest.MonkeyPatch,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    code, _, _, _ = _refused(mode, tmp_path, clean_provider_env)
    _, err = capfd.readouterr()
    assert code == 2
    assert "leadflow:" in err
    assert "401" in err or "credential" in err.lower()


def _echo_app() -> Starlette:
    """An API that echoes the credential it got in its 401 answer, as some real APIs do."""

    async def refuse(request: Request) -> JSONResponse:
        given = request.headers.get("x-auth-token") or request.headers.get("authorization") or ""
        return JSONResponse({"error": f"invalid token {given}"}, status_code=401)

    return Starlette(routes=[Route("/{path:path}", refuse, methods=["GET", "POST"])])


def test_a_credential_echoed_by_the_api_is_not_repeated(tmp_path: Path, clean_provider_env: pytest.MonkeyPatch,
                                                       capfd: pytest.CaptureFixture[str],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", ENGAGE_API_TOKEN)
    source = write_leads(tmp_path / "leads.csv", LEADS)
    with serve(_echo_app()) as running:
        code = run_cli(tmp_path, "engage-voice", source, running.url)
        provider = create_provider("engage-voice", campaign="4001", account=None,
                                   load=LoadOptions(base_url=running.url))
        with pytest.raises(ProviderError) as info:
            provider.prepare()
    out, err = capfd.readouterr()
    assert code == 2
    texts = {**_outputs(tmp_path, out, err, caplog), "exception str": str(info.value)}
    assert not leaks(texts, [ENGAGE_API_TOKEN])


def test_secret_block_is_used_when_enabled(tmp_path: Path, clean_provider_env: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    Secret(value=ENGAGE_API_TOKEN).save("engage-voice-api-token", overwrite=True)
    with simulator("engage-voice") as (url, _):
        load = LoadOptions(base_url=url)
        with pytest.raises(Exception, match="ENGAGE_VOICE_API_TOKEN"):
            create_provider("engage-voice", campaign="4001", account=None, load=load)
        clean_provider_env.setenv("LEADFLOW_SECRET_BLOCKS", "1")
        provider = create_provider("engage-voice", campaign="4001", account=None, load=load)
        provider.prepare()
    assert provider.account == "99990001"
    assert ENGAGE_API_TOKEN not in repr(provider) + repr(provider.credentials) + repr(provider.client.auth)


def test_no_run_option_takes_a_secret() -> None:
    schema = json.dumps(RunOptions.model_json_schema()).lower()
    for word in ("token", "secret", "password", "api_key", "apikey"):
        assert f'"{word}' not in schema, word
