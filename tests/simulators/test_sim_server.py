"""The uvicorn helpers: ``serve`` in a thread and ``run_simulators`` in the foreground."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys

import httpx
import pytest

from simulators import voiso
from simulators.server import serve

RUN = ("from simulators.server import run_simulators; run_simulators(["
       + ", ".join(f"({name!r}, 'simulators.{name}:create_app', 0)" for name in ("engage_voice", "nlpearl", "voiso"))
       + "])")


def test_serve_starts_and_stops() -> None:
    with serve(voiso.create_app()) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.url}/_sim/received").json() == []
    assert not server.thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/_sim/received")


def test_run_simulators_prints_urls_and_stops_on_ctrl_c() -> None:
    # Started with SIGINT ignored, as a background job of a script would be: Ctrl-C still stops it.
    process = subprocess.Popen([sys.executable, "-u", "-c", RUN], stdout=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert process.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = process.stdout.readline()
            assert line, "run_simulators exited early"
            lines.append(line)
        urls = re.findall(r"http://127\.0\.0\.1:\d+", "".join(lines))
        assert len(urls) == 3
        assert "sim-voiso-key" in "".join(lines)
        for url in urls:
            assert httpx.get(f"{url}/_sim/received").status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.wait()


def test_drop_without_a_transport_raises_in_process() -> None:
    async def dropped() -> None:
        transport = httpx.ASGITransport(app=voiso.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            await client.post("/_sim/faults", json={"plan": [{"drop": True}]})
            await client.post("/api/v4/campaigns/3/leads", json=[],
                              headers={"Authorization": "Bearer sim-voiso-key"})

    with pytest.raises(ConnectionAbortedError):
        asyncio.run(dropped())
