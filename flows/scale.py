"""Scale-out: the load flow with chunk preparation on a Dask cluster (prefect-dask), batches sent locally."""

from __future__ import annotations

import os
from typing import Any

from prefect import Flow, Task
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask.task_runners import DaskTaskRunner

from flows.load_leads import load_leads

#: Tasks sent to Dask: chunk-sized work whose inputs are the chunk's bytes and options (picklable,
#: no connections, no local paths). Everything else (batch pushes with their HTTP client, ledger and rate
#: limiter) stays in the flow run's process, in a thread pool.
DASK_TASKS = frozenset({"Normalize and validate chunk"})
#: Environment: scheduler address of a running cluster (``tcp://host:8786``); unset starts a local one.
ADDRESS_ENV = "LEADFLOW_DASK_ADDRESS"
#: Environment: worker processes of the local cluster started when no address is given.
WORKERS_ENV = "LEADFLOW_DASK_WORKERS"


class ChunkDaskTaskRunner(DaskTaskRunner):
    """A DaskTaskRunner for the tasks named in ``dask_tasks``; other tasks run in a local thread pool.

    Chunks travel to and from the Dask workers as Arrow IPC bytes (``ships_chunks``), never as paths
    into the flow run's temporary spool, which a worker on another machine cannot read.
    """

    ships_chunks = True

    def __init__(self, *args: Any, dask_tasks: frozenset[str] = DASK_TASKS, local_workers: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dask_tasks = dask_tasks
        self.local_workers = local_workers
        self._local: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=local_workers)

    def duplicate(self) -> ChunkDaskTaskRunner:
        """A new runner with the same settings."""
        return type(self)(address=self.address, cluster_class=self.cluster_class, cluster_kwargs=self.cluster_kwargs,
                          adapt_kwargs=self.adapt_kwargs, client_kwargs=self.client_kwargs,
                          performance_report_path=self.performance_report_path, dask_tasks=self.dask_tasks,
                          local_workers=self.local_workers)

    def submit(self, task: Task[Any, Any], parameters: dict[str, Any],  # type: ignore[override]
               wait_for: Any = None, dependencies: Any = None) -> PrefectFuture[Any]:
        """Send the task to Dask when it is a chunk task, else to the local thread pool."""
        if task.name in self.dask_tasks:
            return super().submit(task, parameters, wait_for, dependencies)
        return self._local.submit(task, parameters, wait_for, dependencies)

    def __enter__(self) -> ChunkDaskTaskRunner:
        super().__enter__()  # type: ignore[no-untyped-call]
        self._local.__enter__()
        return self

    def __exit__(self, *args: Any) -> None:
        try:
            self._local.__exit__(*args)
        finally:
            super().__exit__(*args)


def dask_runner(address: str | None = None, n_workers: int = 2, processes: bool = True,
                threads_per_worker: int = 1) -> ChunkDaskTaskRunner:
    """A runner for a cluster at ``address``, or for a LocalCluster it starts and stops per run.

    Args:
        address: scheduler address of a running cluster (``tcp://scheduler:8786``).
        n_workers: workers of the local cluster.
        processes: local workers as processes (True) or threads of the flow run's process.
        threads_per_worker: threads in each local worker.
    """
    if address:
        return ChunkDaskTaskRunner(address=address)
    return ChunkDaskTaskRunner(cluster_kwargs={"n_workers": n_workers, "processes": processes,
                                               "threads_per_worker": threads_per_worker})


def runner_from_env() -> ChunkDaskTaskRunner:
    """The runner ``LEADFLOW_DASK_ADDRESS`` / ``LEADFLOW_DASK_WORKERS`` describe (local, 2 workers by default)."""
    return dask_runner(os.environ.get(ADDRESS_ENV) or None, n_workers=int(os.environ.get(WORKERS_ENV) or 2))


def dask_variant(runner: ChunkDaskTaskRunner | None = None) -> Flow[..., dict[str, Any]]:
    """The load flow (same parameters, same outcomes) as ``load-leads-dask`` with chunks prepared on Dask."""
    chosen: Any = runner or runner_from_env()
    return load_leads.with_options(name="load-leads-dask", task_runner=chosen)


#: Deployable entrypoint: ``flows.scale.load_leads_dask`` (cluster chosen by the worker's environment).
load_leads_dask = dask_variant()
