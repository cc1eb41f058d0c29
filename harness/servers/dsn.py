"""The `dsn` backend: an existing server. We only create and drop our own databases there."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from harness.errors import BackendUnavailable
from harness.servers.base import Server


class DsnServer(Server):
    backend = "dsn"

    def __init__(self, dsn: str) -> None:
        params = conninfo_to_dict(dsn)
        self.maintenance_db = str(params.pop("dbname", None) or "postgres")
        super().__init__(make_conninfo(**params))  # type: ignore[arg-type]

    @classmethod
    def open(cls, dsn: str) -> DsnServer:
        try:
            server = cls(dsn)
        except psycopg.ProgrammingError as exc:
            raise BackendUnavailable(f"dsn backend: cannot parse the DSN: {str(exc).strip()}",
                                     fix="use a libpq connection string or URI") from exc
        try:
            with psycopg.connect(server.dsn(), connect_timeout=5, autocommit=True) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise BackendUnavailable(
                f"dsn backend: server did not answer: {str(exc).strip().splitlines()[0]}",
                checked=f"connect to {server.redacted_dsn()!r} within 5 s",
                fix="check --iu-dsn / IU_HARNESS_DSN, or use --iu-backend embedded",
            ) from exc
        return server

    def redacted_dsn(self) -> str:
        """The DSN with any password masked, for messages and logs."""
        params = conninfo_to_dict(self.dsn())
        if params.get("password"):
            params["password"] = "***"
        return make_conninfo(**params)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Nothing to stop: the server is not ours; the database janitor dropped our databases."""
