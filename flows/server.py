"""A local Prefect server for the demo and the server tests: started once, reused, stopped on demand."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

STATE_DIR = Path(".leadflow")
DEFAULT_PORT = 4200


def api_url(port: int = DEFAULT_PORT) -> str:
    """The API URL of the local server."""
    return f"http://127.0.0.1:{port}/api"


def healthy(url: str) -> bool:
    """True when a Prefect server answers at ``url``."""
    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(port: int = DEFAULT_PORT, timeout_s: float = 90.0, env: dict[str, str] | None = None) -> str:
    """Start ``prefect server start`` in the background unless one already answers; its API URL."""
    url = api_url(port)
    if healthy(url):
        return url
    STATE_DIR.mkdir(exist_ok=True)
    log = open(STATE_DIR / f"server-{port}.log", "ab")  # noqa: SIM115 - handed to the child process
    child_env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                 "PREFECT_UI_API_URL": url, **(env or {})}
    child_env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(  # noqa: S603 - fixed argument list
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=child_env, start_new_session=True)
    (STATE_DIR / f"server-{port}.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited early; see {STATE_DIR / f'server-{port}.log'}")
        if healthy(url):
            return url
        time.sleep(0.5)
    raise RuntimeError(f"prefect server did not come up within {timeout_s:.0f} s")


def stop_server(port: int = DEFAULT_PORT) -> bool:
    """Stop the server this module started (by its pid file)."""
    pid_file = STATE_DIR / f"server-{port}.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    for _ in range(50):
        if not _alive(pid):
            break
        time.sleep(0.2)
    pid_file.unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    """Whether the process still runs (reaping it when it is our child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    if sys.argv[1:] == ["stop"]:
        print("stopped" if stop_server() else "no server started by leadflow")
    else:
        print(ensure_server())
