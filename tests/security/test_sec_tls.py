"""TLS: certificates are verified by default, and verification can be turned off only for loopback simulators."""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sechelp import ENGAGE_API_TOKEN, ENGAGE_RC_TOKEN, sim_app

import flows.commands
from flows.cli import main
from flows.run_params import build_run
from schemas.options import LoadOptions
from tasks.http import build_client
from tasks.providers.engage_auth import forget_sessions
from tasks.providers.errors import ProviderError
from tasks.providers.registry import create_provider

REMOTE = ["https://ringcx.ringcentral.com", "https://api.nlpearl.ai/v2", "https://acme.voiso.com",
          "https://localhost.example.com", "https://10.0.0.5:8443", "https://127.0.0.1.nip.io"]
LOOPBACK = ["http://127.0.0.1:8701", "https://localhost:8443", "http://[::1]:8702", "http://127.0.0.2:1"]


@pytest.fixture(scope="module")
def https_engage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Engage simulator over HTTPS with a self-signed certificate for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = _self_signed(folder)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(sim_app("engage-voice"), log_level="warning", lifespan="off",
                            ssl_certfile=str(cert), ssl_keyfile=str(key), timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "TLS simulator did not start"
        time.sleep(0.01)
    yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_verification_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}

    def keep(args: argparse.Namespace) -> int:
        captured.update(build_run(args))
        return 0

    monkeypatch.setattr(flows.commands, "run", keep)
    main(["run", "--source", "x.csv", "--provider", "engage-voice", "--campaign", "1"])
    assert LoadOptions().verify_tls is True
    assert captured["options"].load.verify_tls is True


@pytest.mark.parametrize("url", REMOTE)
def test_verification_cannot_be_turned_off_for_a_remote_host(url: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        build_client(url, verify_tls=False)


@pytest.mark.parametrize("url", LOOPBACK)
def test_verification_can_be_turned_off_for_loopback(url: str) -> None:
    build_client(url, verify_tls=False).close()


@pytest.mark.parametrize("env", [{"ENGAGE_VOICE_API_TOKEN": ENGAGE_API_TOKEN},
                                 {"ENGAGE_VOICE_RC_ACCESS_TOKEN": ENGAGE_RC_TOKEN}], ids=["api token", "rc exchange"])
def test_an_untrusted_certificate_is_refused(https_engage: str, env: dict[str, str],
                                             clean_provider_env: pytest.MonkeyPatch) -> None:
    for key, value in env.items():
        clean_provider_env.setenv(key, value)
    forget_sessions()
    provider = create_provider("engage-voice", campaign="4001", account=None, load=LoadOptions(base_url=https_engage))
    with pytest.raises(ProviderError, match=r"connection failed|unreachable"):
        provider.prepare()
    forget_sessions()
    insecure = create_provider("engage-voice", campaign="4001", account=None,
                               load=LoadOptions(base_url=https_engage, verify_tls=False))
    insecure.prepare()
    assert insecure.account == "99990001"
