"""Dask cluster connection: an existing scheduler, or an embedded LocalCluster on 127.0.0.1."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster, Security

__all__ = ["connect", "scheduler_address", "tls_security"]


def tls_security(ca_file: str | None, cert: str | None, key: str | None) -> Security | None:
    """A client :class:`distributed.Security` for a TLS cluster, or None if no file is given.

    All three files are required together; each must exist.
    """
    given = [x for x in (ca_file, cert, key) if x]
    if not given:
        return None
    if len(given) != 3:
        raise ValueError("TLS needs --tls-ca-file, --tls-cert and --tls-key together")
    for label, path in (("--tls-ca-file", ca_file), ("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):  # type: ignore[arg-type]
            raise ValueError(f"{label}: file not found: {path}")
    return Security(tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key,
                    require_encryption=True)


def scheduler_address(explicit: str | None) -> str | None:
    """The scheduler to use: ``--scheduler``, else ``DASK_SCHEDULER_ADDRESS``, else None (embedded)."""
    return explicit or os.environ.get("DASK_SCHEDULER_ADDRESS") or None


@contextmanager
def connect(
    scheduler: str | None = None,
    *,
    workers: int = 2,
    threads_per_worker: int = 1,
    security: Security | None = None,
    log: Callable[[str], None] = print,
) -> Iterator[Client]:
    """Yield a connected :class:`distributed.Client`.

    With no scheduler address an embedded :class:`distributed.LocalCluster` of ``workers`` worker
    processes is started, bound to 127.0.0.1 with its dashboard on 127.0.0.1 (random free port),
    and shut down on exit. ``security`` (TLS) applies to an existing scheduler; on connect the
    client checks that scheduler, workers and client run the same package versions.
    """
    address = scheduler_address(scheduler)
    if address:
        if address.startswith("tls://") and security is None:
            raise ValueError(f"{address} is a TLS scheduler: give --tls-ca-file, --tls-cert and --tls-key")
        client = Client(address, timeout="30s", security=security) if security else Client(address, timeout="30s")
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
