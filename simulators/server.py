"""Run simulator apps with uvicorn: in a background thread for tests, or several in the foreground."""

from __future__ import annotations

import importlib
import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

#: Seconds to wait for a server to start or stop.
STARTUP_TIMEOUT_S = 10.0
#: Seconds in-flight requests get to finish at shutdown.
GRACEFUL_SHUTDOWN_S = 1


@dataclass(frozen=True)
class RunningServer:
    """A uvicorn server running in a background thread."""

    url: str
    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def serve(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningServer]:
    """Serve ``app`` with uvicorn in a background thread for the duration of the block.

    Args:
        app: the ASGI app.
        host: address to bind (loopback by default).
        port: port to bind; 0 picks a free one.

    Yields:
        The running server; ``url`` is its base URL.

    Raises:
        RuntimeError: when the server does not start in time.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    # An explicit IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections;
    # without it Nagle's algorithm adds ~40 ms to every response.
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sim-{bound_port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulator on {host}:{bound_port} did not start")
            time.sleep(0.01)
        netloc = f"[{host}]:{bound_port}" if ":" in host else f"{host}:{bound_port}"
        yield RunningServer(f"http://{netloc}", host, bound_port, server, thread)
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_S)
        sock.close()


def load_app(factory: str) -> tuple[ASGIApp, str]:
    """The app of a ``module:function`` factory, and its module's ``SIGN_IN`` text (how to authenticate)."""
    module_name, _, function = factory.partition(":")
    module = importlib.import_module(module_name)
    app: ASGIApp = getattr(module, function)()
    return app, str(getattr(module, "SIGN_IN", ""))


def run_simulators(simulators: Sequence[tuple[str, str, int]]) -> None:
    """Run simulators on loopback until Ctrl-C, printing their URLs and how to sign in.

    Args:
        simulators: per simulator its name, app factory (``module:function``) and port (0: a free one).
    """
    # A process started with SIGINT ignored (a background job of a non-interactive shell, or a
    # parent that ignores it) would never see Ctrl-C; this command promises it stops on one.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with ExitStack() as stack:
        for name, factory, port in simulators:
            app, sign_in = load_app(factory)
            running = stack.enter_context(serve(app, port=port))
            print(f"{name:13} {running.url}  {sign_in}".rstrip())
        print("Control routes: /_sim/received /_sim/leads /_sim/faults /_sim/reset /_sim/config /_sim/stats")
        print("Press Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("Stopping simulators.")
