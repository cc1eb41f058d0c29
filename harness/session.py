"""The harness's lazily started server + database pool, shared by the pytest plugin and the CLI."""

from __future__ import annotations

import time

from harness.config import HarnessConfig
from harness.databases.pool import DatabasePool
from harness.servers import Server, start_server


class HarnessSession:
    """Starts the server on first use, owns the pool, and tears both down once."""

    def __init__(self, config: HarnessConfig, largest_n: int | None = None) -> None:
        self.config = config
        #: The largest N this session will run (sizes the embedded server's data folder); None: a default.
        self.largest_n = largest_n
        self._server: Server | None = None
        self._pool: DatabasePool | None = None
        self.timings: dict[str, float] = {}

    @property
    def started(self) -> bool:
        return self._server is not None

    @property
    def server(self) -> Server:
        if self._server is None:
            began = time.perf_counter()
            self._server = start_server(self.config, self.largest_n)
            self.timings["server_ready_s"] = time.perf_counter() - began
        return self._server

    @property
    def pool(self) -> DatabasePool:
        if self._pool is None:
            self._pool = DatabasePool(self.server, self.config)
        return self._pool

    def describe(self) -> str:
        server = self._server
        version = f"PostgreSQL {server.version}" if server else "not started"
        ready = f" (ready in {self.timings['server_ready_s']:.2f} s)" if "server_ready_s" in self.timings else ""
        binaries = server.details().get("server_binaries") if server else None
        return f"iu-harness: {self.config.describe()} server={version}{ready}" + (
            f" binaries={binaries}" if binaries else "")

    def explain_failure(self, exc: BaseException) -> Exception | None:
        """The server's clearer error for `exc` (e.g. a full data folder), or None."""
        return self._server.explain_failure(exc) if self._server is not None else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._server is not None:
            self._server.stop()
            self._server = None
