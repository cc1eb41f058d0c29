"""Disposable PostgreSQL servers: one module per backend, one `start_server` to pick."""

from __future__ import annotations

from harness.config import HarnessConfig
from harness.errors import ConfigError
from harness.servers.base import Server


def start_server(config: HarnessConfig, largest_n: int | None = None) -> Server:
    """Start (or reach) the server the config names; raises BackendUnavailable with a fix.

    One server per session: a config naming several PostgreSQL versions is run one version at a time
    (`iu-harness run --iu-pg 15,16`), each with its own config. `largest_n` sizes the data folder.
    """
    if len(config.pg) > 1:
        raise ConfigError(f"one server per session, but --iu-pg names {len(config.pg)}: {', '.join(config.pg)}",
                          fix="run once per version (pytest --iu-pg 16), or let `iu-harness run` loop over them")
    pg = config.pg[0] if config.pg else None
    if config.backend == "embedded":
        from harness.servers.embedded import EmbeddedServer

        return EmbeddedServer.start(pg=pg, largest_n=largest_n, shm_dir=config.shm_dir)
    if config.backend == "testcontainers":
        from harness.servers.containers import IMAGE, ContainerServer

        return ContainerServer.start(f"postgres:{pg}-alpine" if pg else IMAGE)
    from harness.servers.dsn import DsnServer

    assert config.dsn is not None  # resolve_config guarantees it for this backend
    return DsnServer.open(config.dsn)


__all__ = ["Server", "start_server"]
