"""Faults in the middle of iu_core work, against a real PostgreSQL, and the harness's own behaviour
when its server dies.

- A long scaleout statement (the orchestrator called for 20,000 events) is cut short by
  pg_terminate_backend, pg_cancel_backend or statement_timeout: the client gets an error and the
  database is exactly as before (counts, fingerprint, gates closed).
- Crashes on a dedicated durable server (fsync on; never the throwaway tuning): SIGKILL of the
  postmaster right after COMMIT keeps every committed row; a crash with an uncommitted scaleout
  open (idle in its transaction, or busy in its statement) leaves no trace after crash recovery.
  The same crash-after-commit check fails on a throwaway-tuned server (synchronous_commit off).
- Inner pytest runs whose embedded server is SIGKILLed mid-test, or which are interrupted by
  SIGINT / SIGTERM: a clear failure, and no cluster folder or postgres process left behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sql_helpers import fingerprint, gate_states, set_gates, table_counts

from harness.config import SETTINGS
from harness.databases import state as db_state
from harness.databases.pool import Database, DatabasePool
from harness.errors import BackendUnavailable
from harness.servers.embedded import DIR_PREFIX, EmbeddedServer, sweep_stale_dirs

pytest_plugins = ["pytester"]

BASELINE = "after-25000x"
BASELINE_AUTO_INSTANCES = 13  # auto log rows of after-25000x
TEMPLATE_PIECES = {
    "tpl:file:status-report/v1": 5,
    "tpl:file:status-report/v2": 5,
    "tpl:wf:onboarding/v1": 6,
    "tpl:wf:onboarding/v2": 5,
}
LOOP_EVENTS = 20_000  # never finishes within the tests: every fault cuts it short
CUT_AFTER_S = 0.5
WAIT_S = 20.0
ALL_CLOSED = {"iu_core.auto_instantiate_enabled": False, "iu_core.composer_enabled": False}
SHM = Path("/dev/shm")

# One statement calling the orchestrator once per event i = 1..n, templates in turn; returns
# the instance ids in event order and how many answers were 'ok'.
LOOP_SQL = """
SELECT array_agg((r->>'instance_id')::uuid ORDER BY g.i),
       count(*) FILTER (WHERE r->>'status' = 'ok')
  FROM generate_series(1, %(n)s) AS g(i)
 CROSS JOIN LATERAL iu_core.fn_iu_auto_instantiate_from_event(
       md5(%(tag)s || ':' || g.i)::uuid, 'iu.template.instance_auto_composed',
       (ARRAY['tpl:file:status-report/v1', 'tpl:file:status-report/v2',
              'tpl:wf:onboarding/v1', 'tpl:wf:onboarding/v2'])[1 + g.i %% 4],
       %(tag)s || '-' || g.i, 'test-fault-actor', 'live') AS r
"""


def loop_pieces(n: int) -> int:
    order = sorted(TEMPLATE_PIECES)
    return sum(TEMPLATE_PIECES[order[i % 4]] for i in range(1, n + 1))


@dataclasses.dataclass(frozen=True)
class State:
    counts: dict[str, int]
    fingerprint: str
    gates: dict[str, bool]
    audit: dict[str, int]


def digest_audit(conn: psycopg.Connection) -> dict[str, int]:
    """The seeds' `digest_drift / digest_ok / total` line, recomputed by the harness (SPEC names only)."""
    return db_state.digest_audit(conn)


def state(conn: psycopg.Connection) -> State:
    return State(table_counts(conn), fingerprint(conn), gate_states(conn), digest_audit(conn))


def membership_bytes(conn: psycopg.Connection) -> int:
    """Size on disk of the membership table: grows with uncommitted inserts too, so another
    session can see that a transaction has written rows it cannot see."""
    row = conn.execute("SELECT pg_relation_size('iu_core.iu_piece_membership')").fetchone()
    assert row is not None
    return int(row[0])


class LoopVictim:
    """A session running the long scaleout loop in one gated transaction, in a thread."""

    def __init__(self, conn: psycopg.Connection, n: int, tag: str, statement_timeout: str | None = None) -> None:
        self.conn, self.n, self.tag, self.statement_timeout = conn, n, tag, statement_timeout
        self.pid = conn.info.backend_pid
        self.outcome: queue.Queue[tuple[Any, float]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="iu-loop-victim", daemon=True)

    def _run(self) -> None:
        began = time.monotonic()
        try:
            with self.conn.transaction():
                set_gates(self.conn, True)
                if self.statement_timeout:
                    self.conn.execute(f"SET LOCAL statement_timeout = '{self.statement_timeout}'")
                row = self.conn.execute(LOOP_SQL, {"n": self.n, "tag": self.tag}).fetchone()
                set_gates(self.conn, False)
            self.outcome.put((row, time.monotonic() - began))
        except BaseException as exc:
            self.outcome.put((exc, time.monotonic() - began))

    def start(self) -> LoopVictim:
        self.thread.start()
        return self

    def result(self) -> tuple[Any, float]:
        result = self.outcome.get(timeout=WAIT_S * 2)
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive()
        return result


def wait_mid_loop(watcher: psycopg.Connection, pid: int, bytes_before: int) -> float:
    """Wait until backend `pid` runs the loop statement, has written rows (the table grew) and has
    been at it for CUT_AFTER_S; returns how long it had been running."""
    seen_active = None
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        row = watcher.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if row and row[0] == "active" and "generate_series" in row[1]:
            seen_active = seen_active or time.monotonic()
            running = time.monotonic() - seen_active
            if running >= CUT_AFTER_S and membership_bytes(watcher) > bytes_before:
                return running
        elif seen_active is not None:
            raise AssertionError(f"backend {pid} left the loop statement early: {row}")
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never ran the loop for {CUT_AFTER_S} s")


def assert_no_trace(conn: psycopg.Connection, before: State) -> None:
    after = state(conn)
    assert after.counts == before.counts
    assert after.fingerprint == before.fingerprint
    assert after.gates == ALL_CLOSED
    assert after.audit == before.audit


# -- a fault inside one long statement ------------------------------------------------------------
FAULTS = {
    # fault: (error class, SQLSTATE, message fragment)
    "pg_terminate_backend": (psycopg.OperationalError, "57P01", "terminating connection"),
    "pg_cancel_backend": (psycopg.errors.QueryCanceled, "57014", "canceling statement due to user request"),
    "statement_timeout": (psycopg.errors.QueryCanceled, "57014", "canceling statement due to statement timeout"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_mid_scaleout_loop_leaves_no_trace(iu_db_factory: Callable[..., Database], fault: str) -> None:
    db = iu_db_factory(BASELINE)
    error_class, sqlstate, fragment = FAULTS[fault]
    with db.connect(autocommit=True) as watcher, db.connect(autocommit=True) as conn:
        watcher.execute(f"SET statement_timeout = '{WAIT_S:.0f}s'")
        before, bytes_before = state(watcher), membership_bytes(watcher)
        timeout = f"{CUT_AFTER_S * 1000:.0f}ms" if fault == "statement_timeout" else f"{WAIT_S * 3:.0f}s"
        victim = LoopVictim(conn, LOOP_EVENTS, f"fault-{fault}", statement_timeout=timeout).start()
        if fault != "statement_timeout":
            wait_mid_loop(watcher, victim.pid, bytes_before)
            signalled = watcher.execute(f"SELECT {fault}(%s)", (victim.pid,)).fetchone()
            assert signalled == (True,)
        error, elapsed = victim.result()

        assert isinstance(error, error_class), f"the loop was not cut short: {error!r} after {elapsed:.1f} s"
        assert error.sqlstate in (sqlstate, None), error  # a dropped connection may carry no SQLSTATE
        assert fragment in str(error) or fault == "pg_terminate_backend", error
        assert elapsed >= CUT_AFTER_S
        # it had written rows before the fault (the table grew on disk), none of them is visible
        assert membership_bytes(watcher) > bytes_before
        assert_no_trace(watcher, before)
        if fault == "pg_terminate_backend":
            assert conn.closed
            deadline = time.monotonic() + WAIT_S  # the client may hear of it before the backend is gone
            while watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                  (victim.pid,)).fetchone() != (0,):
                assert time.monotonic() < deadline, "the terminated backend is still there"
                time.sleep(0.01)
        else:  # the session survives a cancel and is idle again, its transaction rolled back
            assert conn.execute("SELECT pg_backend_pid(), txid_current_if_assigned()").fetchone() == (
                victim.pid, None)
            assert_no_trace(conn, before)
        assert watcher.execute("SELECT count(*) FROM pg_locks WHERE pid = %s", (victim.pid,)).fetchone() == (0,)


# -- crashes on a durable server ------------------------------------------------------------------
@dataclasses.dataclass
class Cluster:
    """A dedicated embedded server of the test's own, and a pool of databases on it."""

    server: EmbeddedServer
    pool: DatabasePool

    def ensure_running(self) -> None:
        if self.server.postmaster_pid() is None:
            self.server.launch()

    def crash_and_recover(self) -> str:
        """SIGKILL the postmaster (and so the cluster), start it again; returns the new log lines."""
        self.server.kill()
        offset = self.server.log_path.stat().st_size
        self.server.launch()
        with self.server.log_path.open(errors="replace") as log:
            log.seek(offset)
            return log.read()


@contextmanager
def own_cluster(iu_pool: DatabasePool, durable: bool) -> Iterator[Cluster]:
    """Start a dedicated embedded server loading the session's iu_core build; always stopped after."""
    try:
        server = EmbeddedServer.start(durable=durable)
    except BackendUnavailable as exc:
        pytest.skip(f"no embedded server for the crash tests: {exc}")
    pool = DatabasePool(server, iu_pool.config)
    try:
        yield Cluster(server, pool)
    finally:
        try:
            if server.postmaster_pid() is not None:
                pool.close()
        finally:
            server.stop()


@pytest.fixture(scope="module")
def durable(iu_pool: DatabasePool) -> Iterator[Cluster]:
    """fsync, synchronous_commit and full_page_writes on: never the throwaway tuning."""
    with own_cluster(iu_pool, durable=True) as cluster:
        yield cluster


DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def durability(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN"
                             " ('fsync', 'synchronous_commit', 'full_page_writes')").fetchall())


@pytest.fixture
def durable_db(durable: Cluster) -> Iterator[Database]:
    durable.ensure_running()
    db = durable.pool.clone(BASELINE)
    with db.connect(autocommit=True) as conn:
        assert durability(conn) == DURABLE_SETTINGS
    yield db
    durable.ensure_running()
    durable.pool.drop(db.name)


def crash_after_commit_problems(cluster: Cluster, db: Database, n: int = 500) -> list[str]:
    """COMMIT a scaleout of `n` events, SIGKILL the server at once, start it again: what of the
    committed work is missing or wrong after crash recovery."""
    with db.connect(autocommit=True) as conn:
        before = state(conn)
        with conn.transaction():
            set_gates(conn, True)
            row = conn.execute(LOOP_SQL, {"n": n, "tag": "crash-after-commit"}).fetchone()
            set_gates(conn, False)
        log = cluster.crash_and_recover()  # the very next thing after COMMIT returned
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert row is not None
    ids, ok = row
    assert ok == n and len(set(ids)) == n
    assert "automatic recovery in progress" in log and "redo starts at" in log, log  # a crash, replayed

    problems = []
    with db.connect(autocommit=True) as conn:
        after = state(conn)
        delta = {t: after.counts[t] - before.counts[t] for t in after.counts}
        expected = {**dict.fromkeys(after.counts, 0), "iu_piece_collection": n,
                    "iu_piece_membership": loop_pieces(n), "iu_collection_template_instance_lineage": n,
                    "iu_auto_instantiate_event_log": n}
        if delta != expected:
            problems.append(f"count deltas after recovery {delta}, committed {expected}")
        present = conn.execute(
            "SELECT count(*) FROM unnest(%s::uuid[]) AS i(id)"
            " JOIN iu_core.iu_piece_collection c ON c.id = i.id"
            " JOIN iu_core.iu_collection_template_instance_lineage g ON g.instance_collection_id = i.id"
            " JOIN iu_core.iu_auto_instantiate_event_log l ON l.instance_collection_id = i.id",
            (ids,)).fetchone()
        if present != (n,):
            problems.append(f"{present[0] if present else 0} of the {n} committed instances survived")
        total = BASELINE_AUTO_INSTANCES + n
        if after.audit != {"drift": 0, "ok": total, "total": total}:
            problems.append(f"digest audit {after.audit}, expected 0/{total}/{total}")
        if after.gates != ALL_CLOSED:
            problems.append(f"gates {after.gates}")
    return problems


def test_crash_right_after_commit_keeps_every_committed_row(durable: Cluster, durable_db: Database) -> None:
    assert crash_after_commit_problems(durable, durable_db) == []


def test_throwaway_tuning_would_lose_the_commit(iu_pool: DatabasePool) -> None:
    """Why the crash test needs durable=True, and proof that its check can fail: with the
    throwaway tuning (synchronous_commit off) COMMIT returns before its WAL is written, and a
    crash right after it loses the transaction (5 times out of 5 here; up to 3 tries allowed)."""
    attempts: list[list[str]] = []
    with own_cluster(iu_pool, durable=False) as cluster:
        while len(attempts) < 3 and not (attempts and attempts[-1]):
            db = cluster.pool.clone(BASELINE)
            if not attempts:
                with db.connect(autocommit=True) as conn:
                    assert durability(conn)["synchronous_commit"] == "off"
            attempts.append(crash_after_commit_problems(cluster, db))
    assert attempts[-1], f"the throwaway server kept every commit across {len(attempts)} crashes"
    assert any("survived" in p for p in attempts[-1]), attempts[-1]


@pytest.mark.parametrize("when", ["idle-in-transaction", "mid-statement"])
def test_crash_with_an_open_scaleout_leaves_no_trace(durable: Cluster, durable_db: Database,
                                                     when: str) -> None:
    """mid-statement also pins EmbeddedServer.kill(): a backend busy in its statement outlives a
    SIGKILLed postmaster, and until it is gone launch() fails ("pre-existing shared memory block
    ... is still in use"), so kill() must end every process of the cluster."""
    with durable_db.connect(autocommit=True) as watcher, durable_db.connect(autocommit=True) as conn:
        before, bytes_before = state(watcher), membership_bytes(watcher)
        if when == "idle-in-transaction":
            conn.execute("BEGIN")
            set_gates(conn, True)
            row = conn.execute(LOOP_SQL, {"n": 500, "tag": "crash-open-tx"}).fetchone()
            assert row is not None and row[1] == 500
            victim = None
        else:
            victim = LoopVictim(conn, LOOP_EVENTS, "crash-mid-statement").start()
            wait_mid_loop(watcher, victim.pid, bytes_before)
        # rows are written but not committed: on disk, invisible to everyone else
        assert membership_bytes(watcher) > bytes_before
        assert table_counts(watcher) == before.counts
        log = durable.crash_and_recover()
        if victim is not None:
            error, _ = victim.result()
            assert isinstance(error, psycopg.OperationalError), error
        else:
            with pytest.raises(psycopg.OperationalError):
                conn.execute("COMMIT")  # the transaction died with the server
    assert "automatic recovery in progress" in log, log

    with durable_db.connect(autocommit=True) as conn:
        assert_no_trace(conn, before)


# -- the harness itself when its server dies or its run is interrupted -----------------------------
def _nobody_uid() -> int | None:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return None


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return ""


def postgres_processes() -> dict[int, str]:
    """Live (non-zombie) postgres processes of the user the embedded server runs as: pid -> cwd."""
    uid = _nobody_uid() if os.geteuid() == 0 else os.geteuid()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid or _proc(int(entry.name), "comm").strip() != "postgres":
                continue
            if _proc(int(entry.name), "stat").rsplit(")", 1)[-1].split()[0] == "Z":
                continue
            found[int(entry.name)] = os.readlink(entry / "cwd")
        except (OSError, IndexError):
            continue
    return found


def _dead_owner(folder: Path) -> bool:
    try:
        pid = int((folder / "owner.pid").read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclasses.dataclass(frozen=True)
class Before:
    """What existed before an inner run: cluster folders and postgres processes (of anyone)."""

    folders: frozenset[Path]
    pids: frozenset[int]

    @classmethod
    def now(cls) -> Before:
        return cls(frozenset(SHM.glob(f"{DIR_PREFIX}*")), frozenset(postgres_processes()))


def leftovers(before: Before, record: dict[str, Any], wait_s: float = 5.0) -> list[str]:
    """What an inner run left: new cluster folders with a dead owner, and new postgres processes of
    its cluster (recorded by the inner test, or working in its folder). Waits up to `wait_s`.
    Other processes' servers may come and go meanwhile; only the inner run's are judged."""
    folder = record["folder"]
    deadline = time.monotonic() + wait_s
    while True:
        left = [f"folder {p}" for p in sorted(set(SHM.glob(f"{DIR_PREFIX}*")) - before.folders) if _dead_owner(p)]
        new = {pid: cwd for pid, cwd in postgres_processes().items() if pid not in before.pids}
        left += [f"postgres pid {pid} (cwd {cwd})" for pid, cwd in sorted(new.items())
                 if pid in record["pids"] or cwd.startswith(folder)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


RECORD_HELPER = """
import json, os, signal, time
from pathlib import Path


def record_cluster(iu_pool):
    '''Write the server's folder and the pids of its postmaster and children for the outer test.'''
    server = iu_pool.server
    pid = server.process.pid
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    Path(os.environ["IU_FAULT_RECORD"]).write_text(json.dumps({"folder": str(server.folder), "pids": pids}))
    return pid
"""

INNER_SERVER_DIES = RECORD_HELPER + """

def test_server_killed_mid_test(iu_pool, iu_conn):
    assert iu_conn.execute("SELECT count(*) FROM iu_core.iu_gate").fetchone() == (2,)
    os.kill(record_cluster(iu_pool), signal.SIGKILL)
    time.sleep(0.2)
    iu_conn.execute("SELECT count(*) FROM iu_core.iu_gate")


def test_next_test_needs_the_server(iu_conn):
    iu_conn.execute("SELECT 1")
"""

INNER_SLEEPS = RECORD_HELPER + """

def test_waits_for_a_signal(iu_pool, iu_conn):
    record_cluster(iu_pool)
    time.sleep(60)
"""

INNER_PLUGINS_OFF = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark",
                     "-p", "no:syrupy", "-p", "no:xdist")


@pytest.fixture
def inner_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Inner runs use the default settings and write their cluster record to the returned path."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    record = tmp_path / "cluster.json"
    monkeypatch.setenv("IU_FAULT_RECORD", str(record))
    return record


def _read_record(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_server_dying_mid_test_fails_clearly_and_leaves_nothing(pytester: pytest.Pytester,
                                                                inner_env: Path) -> None:
    pytester.makepyfile(test_inner=INNER_SERVER_DIES)
    before = Before.now()
    began = time.monotonic()
    result = pytester.runpytest_subprocess(*INNER_PLUGINS_OFF, timeout=120)
    elapsed = time.monotonic() - began
    output = result.stdout.str()

    # The killing test fails naming what broke; the next test's clone finds no server and stops the
    # run there (pytest's "Interrupted" line says why, exit 2), instead of one error per remaining test.
    assert result.ret == pytest.ExitCode.INTERRUPTED, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and "passed" not in outcomes, outcomes
    assert outcomes.get("errors", outcomes.get("error", 0)) == 1, outcomes
    assert "FAILED test_inner.py::test_server_killed_mid_test" in output, output
    assert "Interrupted: iu-harness: the PostgreSQL server stopped answering during the run" in output, output
    assert re.search(r"^E +psycopg\.(errors\.AdminShutdown|OperationalError): ", output, re.MULTILINE), output
    assert ("terminating connection due to unexpected postmaster exit" in output
            or "server closed the connection unexpectedly" in output), output
    assert re.search(r"stopped answering during the run: .*connection to server on socket \S+ failed", output), output
    assert elapsed < 60, f"the inner run took {elapsed:.0f} s to fail"
    assert leftovers(before, _read_record(inner_env)) == []


def _interrupted_run(pytester: pytest.Pytester, record_path: Path, signum: int) -> tuple[int, str, dict[str, Any]]:
    pytester.makepyfile(test_inner=INNER_SLEEPS)
    process = pytester.popen(
        [sys.executable, "-m", "pytest", *INNER_PLUGINS_OFF, "test_inner.py"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        # a test runner started in the background may inherit SIGINT ignored; the inner run must not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not record_path.exists():
            assert process.poll() is None, process.communicate()[0].decode(errors="replace")
            assert time.monotonic() < deadline, "the inner run never reached its test"
            time.sleep(0.05)
        time.sleep(0.1)
        process.send_signal(signum)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, output.decode(errors="replace"), _read_record(record_path)


def test_sigint_interrupts_cleanly(pytester: pytest.Pytester, inner_env: Path) -> None:
    before = Before.now()
    returncode, output, record = _interrupted_run(pytester, inner_env, signal.SIGINT)
    assert returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output, output
    assert not Path(record["folder"]).exists()
    assert leftovers(before, record) == []


def test_sigterm_interrupts_cleanly(pytester: pytest.Pytester, inner_env: Path) -> None:
    """CI cancels with SIGTERM, which skips atexit; the plugin turns it into an interrupt, so the
    normal teardown stops the server and removes its folder."""
    before = Before.now()
    returncode, output, record = _interrupted_run(pytester, inner_env, signal.SIGTERM)
    assert returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt: signal 15" in output, output
    assert not Path(record["folder"]).exists()
    assert leftovers(before, record) == []


def test_a_folder_left_by_a_killed_harness_is_swept(pytester: pytest.Pytester, inner_env: Path) -> None:
    """SIGKILL leaves no chance to clean up: the postmaster dies with its parent (PR_SET_PDEATHSIG),
    and the folder, left with a dead owner, is what the next start's sweep_stale_dirs() removes."""
    before = Before.now()
    returncode, output, record = _interrupted_run(pytester, inner_env, signal.SIGKILL)
    assert returncode == -signal.SIGKILL, output
    folder = Path(record["folder"])
    assert leftovers(dataclasses.replace(before, folders=before.folders | {folder}), record) == []
    if folder.exists():
        assert _dead_owner(folder)
        assert folder in sweep_stale_dirs(folder.parent)
    assert not folder.exists()
