"""What every backend gives the harness: a way to reach a database by name, and a stop."""

from __future__ import annotations

import abc

import psycopg
from psycopg.conninfo import make_conninfo


class Server(abc.ABC):
    """A PostgreSQL server the harness may create and drop its own databases on."""

    backend: str = ""
    #: Database to connect to for CREATE/DROP DATABASE.
    maintenance_db: str = "postgres"

    def __init__(self, base_conninfo: str) -> None:
        self.base_conninfo = base_conninfo
        self._version: str | None = None

    def dsn(self, dbname: str | None = None) -> str:
        return make_conninfo(self.base_conninfo, dbname=dbname or self.maintenance_db)

    def connect(self, dbname: str | None = None, **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), **kwargs)  # type: ignore[arg-type]

    @property
    def version(self) -> str:
        if self._version is None:
            with self.connect(autocommit=True) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                self._version = str(row[0]) if row else "unknown"
        return self._version

    @property
    def version_num(self) -> int:
        with self.connect(autocommit=True) as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
        return int(row[0]) if row else 0

    def describe(self) -> str:
        return f"{self.backend} PostgreSQL {self.version}"

    #: One line to show when the server was placed somewhere slower than asked (embedded: data on disk).
    placement_notice: str | None = None

    def details(self) -> dict[str, str]:
        """Where the server's binaries and data are, for reports (backends that know say so)."""
        return {}

    def explain_failure(self, exc: BaseException) -> Exception | None:
        """A clearer error for a failure the backend can explain (embedded: a full data folder), else None."""
        return None

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the server (or release it); idempotent."""

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
