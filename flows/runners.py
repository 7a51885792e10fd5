"""Task runners for the study: threads on one machine, or a Dask cluster."""

from __future__ import annotations

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

TASK_RUNNERS = ("thread", "dask")


def make_task_runner(
    kind: str, dask_address: str | None = None, workers: int = 2
) -> TaskRunner:
    """Build a thread pool, or a DaskTaskRunner from prefect-dask.

    Without dask_address, Dask starts a local cluster of `workers` processes
    with one thread each, bound to 127.0.0.1. With it, tasks go to the
    scheduler at that address, such as tcp://scheduler:8786.
    """
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=workers)
    if kind != "dask":
        raise ValueError(f"unknown task runner {kind!r}; use thread or dask")
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": "127.0.0.1:0",
        }
    )
