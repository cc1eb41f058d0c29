"""The `testcontainers` backend: a PostgresContainer, when a Docker engine answers."""

from __future__ import annotations

from typing import Any

from psycopg.conninfo import make_conninfo

from harness.errors import BackendUnavailable
from harness.servers.base import Server

IMAGE = "postgres:17-alpine"


def docker_engine_answers() -> tuple[bool, str]:
    """Cheap probe (POSTGRES.md: fails within a quarter second without an engine)."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # docker raises DockerException, requests errors, FileNotFoundError...
        return False, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return True, "ping ok"


class ContainerServer(Server):
    backend = "testcontainers"

    def __init__(self, container: Any, base_conninfo: str) -> None:
        super().__init__(base_conninfo)
        self._container = container

    @classmethod
    def start(cls, image: str = IMAGE) -> ContainerServer:
        ok, why = docker_engine_answers()
        if not ok:
            raise BackendUnavailable(
                f"testcontainers backend: no Docker engine answered ({why})",
                checked="docker.from_env().ping() (DOCKER_HOST or the default socket)",
                fix="start a Docker engine, or use --iu-backend embedded (the default, needs no Docker)",
            )
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer(image, username="postgres", password="postgres", dbname="postgres")
        container.start()
        conninfo = make_conninfo(
            host=container.get_container_host_ip(),
            port=str(container.get_exposed_port(5432)),
            user="postgres",
            password="postgres",
        )
        return cls(container, conninfo)

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
