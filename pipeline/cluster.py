"""Dask cluster connection: an existing scheduler, or an embedded LocalCluster on 127.0.0.1."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Callable, Iterator

from distributed import Client, LocalCluster

__all__ = ["connect", "scheduler_address"]


def scheduler_address(explicit: str | None) -> str | None:
    """The scheduler to use: ``--scheduler``, else ``DASK_SCHEDULER_ADDRESS``, else None (embedded)."""
    return explicit or os.environ.get("DASK_SCHEDULER_ADDRESS") or None


@contextmanager
def connect(
    scheduler: str | None = None,
    *,
    workers: int = 2,
    threads_per_worker: int = 1,
    log: Callable[[str], None] = print,
) -> Iterator[Client]:
    """Yield a connected :class:`distributed.Client`.

    With no scheduler address an embedded :class:`distributed.LocalCluster` of ``workers`` worker
    processes is started, bound to 127.0.0.1 with its dashboard on 127.0.0.1 (random free port),
    and shut down on exit.
    """
    address = scheduler_address(scheduler)
    if address:
        client = Client(address, timeout="30s")
        try:
            client.get_versions(check=True)
            log(f"connected to scheduler {address} ({len(client.scheduler_info()['workers'])} workers)")
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    try:
        log(f"embedded cluster: {workers} worker process(es) on 127.0.0.1; dashboard {client.dashboard_link}")
        yield client
    finally:
        client.close()
        cluster.close()
