"""Disposable PostgreSQL servers: one module per backend, one `start_server` to pick."""

from __future__ import annotations

from harness.config import HarnessConfig
from harness.servers.base import Server


def start_server(config: HarnessConfig) -> Server:
    """Start (or reach) the server the config names; raises BackendUnavailable with a fix."""
    if config.backend == "embedded":
        from harness.servers.embedded import EmbeddedServer

        return EmbeddedServer.start()
    if config.backend == "testcontainers":
        from harness.servers.containers import ContainerServer

        return ContainerServer.start()
    from harness.servers.dsn import DsnServer

    assert config.dsn is not None  # resolve_config guarantees it for this backend
    return DsnServer.open(config.dsn)


__all__ = ["Server", "start_server"]
