"""URL-valued options: passwords stay off the Prefect server; base URLs and path ids are checked first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sechelp import ENGAGE_API_TOKEN, leaks, prefect_records, run_cli, simulator, write_leads

from flows.cli import main
from schemas.errors import ConfigurationError
from schemas.options import LoadOptions
from tasks.providers.registry import create_provider

pytestmark = pytest.mark.usefixtures("prefect_harness")

PG = "127.0.0.1:5432"  # trust auth: any password is accepted, and must still never be stored
LEDGER_PASSWORD, DNC_PASSWORD = "Ledger-Pw-7f3a91", "Dnc-Pw-c02e55"


@pytest.fixture
def database() -> Iterator[str]:
    name = f"lf_secret_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"postgresql+psycopg://postgres@{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'create database "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def test_passwords_in_ledger_and_dnc_urls_never_reach_the_server(
        database: str, tmp_path: Path, clean_provider_env: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", ENGAGE_API_TOKEN)
    for name in ("LEADFLOW_LEDGER_PASSWORD", "LEADFLOW_DNC_PASSWORD_1"):
        clean_provider_env.setenv(name, "placeholder")  # the CLI sets them; restored after the test
    engine = sa.create_engine(f"postgresql+psycopg://postgres@{PG}/{database}")
    with engine.begin() as c:
        c.execute(sa.text("create table dnc (phone text)"))
        c.execute(sa.text("insert into dnc values ('4158671000')"))
    engine.dispose()
    ledger = f"postgresql+psycopg://postgres:{LEDGER_PASSWORD}@{PG}/{database}"
    dnc = f"office=postgresql+psycopg://postgres:{DNC_PASSWORD}@{PG}/{database}#dnc"
    rows = [[f"P{i}", "Ann", "Lee", f"41586710{i:02d}", f"p{i}@example.com"] for i in range(3)]
    source = write_leads(tmp_path / "leads.csv", rows)
    with simulator("engage-voice") as (url, _):
        code = run_cli(tmp_path, "engage-voice", source, url, "--ledger", ledger, "--dnc-sql", dnc)
    out, err = capfd.readouterr()
    assert code == 0, err[-2000:]
    report = (tmp_path / "report.json").read_text()
    run_id = __import__("json").loads(report)["run_id"]
    records = prefect_records(run_id)
    assert "${LEADFLOW_LEDGER_PASSWORD}" in records["flow run"]
    assert "${LEADFLOW_DNC_PASSWORD_1}" in records["flow run"]
    texts = {**records, "stdout": out, "stderr": err, "report.json": report,
             "outcomes": (tmp_path / "outcomes.csv").read_text()}
    assert not leaks(texts, [LEDGER_PASSWORD, DNC_PASSWORD])
    assert '"suppressed": 1' in report  # the do-not-call list was read with the password


BAD_BASE_URLS = {
    "ftp": "ftp://ringcx.ringcentral.com",
    "no scheme": "ringcx.ringcentral.com/voice",
    "broken IPv6": "http://[::1",
    "unknown host": "https://dialer.example.com",
    "plain http off loopback": "http://ringcx.ringcentral.com",
    "credentials in the URL": "https://user:pw@ringcx.ringcentral.com",
}


@pytest.mark.parametrize("url", BAD_BASE_URLS.values(), ids=BAD_BASE_URLS.keys())
def test_a_bad_base_url_exits_2_with_one_line(url: str, tmp_path: Path, clean_provider_env: pytest.MonkeyPatch,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", ENGAGE_API_TOKEN)
    source = write_leads(tmp_path / "leads.csv", [["A", "Ann", "Lee", "4158671000", "a@example.com"]])
    assert run_cli(tmp_path, "engage-voice", source, url) == 2
    err = capfd.readouterr().err
    assert "Traceback" not in err and "pw@" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("leadflow: invalid options"), lines
    with pytest.raises(ConfigurationError):
        create_provider("engage-voice", campaign="4001", account=None, load=LoadOptions(base_url=url))


def test_a_host_is_allowed_only_by_the_operator(clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("VOISO_API_KEY", "k")
    other = LoadOptions(base_url="https://dialer.example.com/api/v4")
    with pytest.raises(ConfigurationError, match="LEADFLOW_ALLOWED_HOSTS"):
        create_provider("voiso", campaign="3", account=None, load=other)
    create_provider("voiso", campaign="3", account=None, load=LoadOptions(base_url="https://acme.voiso.com"))
    clean_provider_env.setenv("LEADFLOW_ALLOWED_HOSTS", "*.example.com, proxy.internal")
    provider = create_provider("voiso", campaign="3", account=None, load=other)
    assert str(provider.client.base_url).startswith("https://dialer.example.com")
    with pytest.raises(ConfigurationError, match="plain http"):
        create_provider("voiso", campaign="3", account=None, load=LoadOptions(base_url="http://dialer.example.com"))


PATH_IDS = [("engage-voice", "4001", "1/../2"), ("engage-voice", "4001", "99990001#x"),
            ("engage-voice", "4001", "a%2Fb"), ("nlpearl", "../Pearl", None), ("nlpearl", "6a27?x=1", None),
            ("voiso", "3/leads#", None)]


@pytest.mark.parametrize(("provider", "campaign", "account"), PATH_IDS)
def test_ids_in_url_paths_are_checked(provider: str, campaign: str, account: str | None,
                                      clean_provider_env: pytest.MonkeyPatch) -> None:
    for key, value in {"ENGAGE_VOICE_API_TOKEN": "t", "NLPEARL_ACCOUNT_ID": "a", "NLPEARL_SECRET_KEY": "s",
                       "VOISO_API_KEY": "k"}.items():
        clean_provider_env.setenv(key, value)
    with pytest.raises(ConfigurationError, match=r"invalid (campaign|account) id"):
        create_provider(provider, campaign=campaign, account=account,
                        load=LoadOptions(base_url="http://127.0.0.1:9"))


def test_a_bad_id_exits_2_before_anything_is_sent(tmp_path: Path, clean_provider_env: pytest.MonkeyPatch,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    clean_provider_env.setenv("ENGAGE_VOICE_API_TOKEN", ENGAGE_API_TOKEN)
    source = write_leads(tmp_path / "leads.csv", [["A", "Ann", "Lee", "4158671000", "a@example.com"]])
    with simulator("engage-voice") as (url, app):
        code = main(["run", "--source", str(source), "--provider", "engage-voice", "--campaign", "4001",
                     "--account", "99990001/../../x", "--base-url", url, "--ledger", f"sqlite:///{tmp_path / 'l.db'}",
                     "--output-dir", str(tmp_path / "out")])
        sent = list(app.sim.received.records)
    assert code == 2
    assert "invalid account id" in capfd.readouterr().err
    assert sent == []
