"""The Dask variant with a worker that cannot see the flow's temporary folder, as one on another machine."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Seconds to wait for the Dask worker to join.
WORKER_S = 120


def free_port() -> int:
    """A TCP port nobody listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def cluster_without_our_tmp(env: dict[str, str], hidden: Path) -> Iterator[str]:
    """A Dask scheduler and a worker that sees an empty private tmpfs where the flow keeps its temporary
    folder ``hidden`` (its own mount namespace): the worker cannot read the flow run's spool, as a worker
    on another machine could not. Needs ``unshare`` and the right to mount (root). Yields the address."""
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--dashboard-address", ":0"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}", "--nworkers", "1",
              "--nthreads", "1", "--no-dashboard"]
    procs.append(subprocess.Popen(["unshare", "--mount", "sh", "-c", f'mount -t tmpfs tmpfs {hidden} && exec "$@"',
                                   "sh", *worker], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True))
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        for proc in procs[::-1]:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_dask(csv_path: str, dnc_path: str, base_url: str, work_dir: str, **flow: Any) -> dict[str, Any]:
    """``profile_flow.run_flow`` on the Dask variant, its worker blind to the flow's temporary folder.

    The flow's temporary folder (where its spool goes) is a fresh folder under ``work_dir``; the
    worker sees an empty tmpfs there. Adds ``worker_sees_flow_tmp`` (checked, must be False) and
    ``on_dask`` (tasks the worker ran).
    """
    from distributed import Client

    from benchmarks.profile_flow import run_flow

    flow_tmp = Path(tempfile.mkdtemp(prefix="flow-tmp-", dir=work_dir))
    tempfile.tempdir = str(flow_tmp)
    with (tempfile.NamedTemporaryFile(prefix="leadflow-flow-side-") as ours,
          cluster_without_our_tmp(dict(os.environ), flow_tmp) as address,
          Client(address, timeout=60) as client):
        client.wait_for_workers(1, timeout=WORKER_S)
        sees = client.submit(os.path.exists, ours.name, pure=False).result()
        out = run_flow(csv_path, dnc_path, base_url, work_dir, dask_address=address, **flow)
        out["on_dask"] = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
    out["worker_sees_flow_tmp"] = sees
    if sees:
        raise RuntimeError("the Dask worker can see the flow's temporary folder")
    return out
