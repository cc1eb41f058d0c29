"""pytest plugin (entry point `pytest11: iu_harness`): options, report header and fixtures.

Options only flow one way: the four SPEC settings are read here once into a
frozen HarnessConfig; fixtures read that, nothing else reads the environment.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

from harness.checks.conformance import require_runnable
from harness.config import SETTINGS, HarnessConfig, resolve_config
from harness.databases.pool import Database, DatabasePool
from harness.errors import ConfigError, HarnessError
from harness.reports.folder import check_report_dir
from harness.session import HarnessSession

SESSION_KEY = pytest.StashKey[HarnessSession]()
# A server that failed to start for the header is not retried (a dead DSN would cost its timeout twice)
# and its error is reported once, by the first fixture that needs the server.
SERVER_ERROR_KEY = pytest.StashKey[HarnessError]()
# Set when the header said what the start-of-run sweep dropped (-q and --no-header print no header).
SWEEP_SAID_KEY = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iu-harness", "iu_core invariant harness")
    for setting in SETTINGS:
        group.addoption(setting.flag, dest=f"iu_{setting.key}", default=None,
                        help=f"{setting.help} [env: {setting.env}]")


def _is_xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


BUNDLED_BUILD_MARK = "bundled_build"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{BUNDLED_BUILD_MARK}(reason): the test is about our own iu_core build's internals (its "
                   "helpers, SQLSTATE catalogue or function bodies); skipped when --iu-sql-dir names another build")
    options = {s.key: getattr(config.option, f"iu_{s.key}", None) for s in SETTINGS}
    try:
        harness_config = resolve_config(options)
    except ConfigError as exc:
        raise pytest.UsageError(f"iu-harness: {exc}") from exc
    if len(harness_config.pg) > 1:
        raise pytest.UsageError(f"iu-harness: in pytest the PostgreSQL version is a session setting (one server "
                                f"per session), got {', '.join(harness_config.pg)}: run pytest once per version, "
                                "or `iu-harness run SCENARIO --iu-pg 15,16,17,18` for a matrix")
    try:  # before any test runs, as the CLI does: not minutes later at the first report
        check_report_dir(harness_config.report_dir, "--iu-report-dir")
    except ConfigError as exc:
        raise pytest.UsageError(f"iu-harness: {exc}") from exc
    # The data folder is sized for the largest N the session may run (--iu-max-n, else the default sweeps).
    config.stash[SESSION_KEY] = HarnessSession(harness_config, largest_n=harness_config.max_n)
    _stop_on_sigterm()
    if not harness_config.reports_are_snapshotted \
            and hasattr(config.option, "disable_unused_snapshots"):
        # The reviewed snapshots describe the bundled build at the default target N and memory budget;
        # anything else is judged by its invariants only, so its run must neither fail on nor delete
        # the unused snapshots.
        config.option.disable_unused_snapshots = True


def _stop_on_sigterm() -> None:
    """CI cancels with SIGTERM, which skips atexit: turn it into an interrupt so the server and its
    folder are removed by the normal teardown."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, interrupt)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests of our build's internals say so (the marker) and skip, with one line, for another build."""
    mark = item.get_closest_marker(BUNDLED_BUILD_MARK)
    session = item.config.stash.get(SESSION_KEY, None)
    if mark is not None and session is not None and not session.config.sql_dir_is_bundled:
        what = mark.args[0] if mark.args else "our build's internals"
        pytest.skip(f"tests {what} of the bundled iu_core; another build is under test ({session.config.sql_dir})")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = config.stash[SESSION_KEY]
    if not _is_xdist_controller(config):
        try:
            session.server  # noqa: B018 - start now so the header can say what we run against
        except HarnessError as exc:
            config.stash[SERVER_ERROR_KEY] = exc
            return [f"iu-harness: {session.config.describe()}",
                    "iu-harness: server unavailable (the run stops at the first test that needs it)"]
        swept = session.pool.sweep_stale().summary()  # before any database of ours exists
        config.stash[SWEEP_SAID_KEY] = True
        notice = session.server.placement_notice
        return [session.describe(), *([notice] if notice else []), *([swept] if swept else [])]
    return [session.describe()]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test that ran out of space says which folder and how to make room, not just SQLSTATE 53100."""
    try:
        return (yield)
    except psycopg.Error as exc:
        session = item.config.stash.get(SESSION_KEY, None)
        explained = session.explain_failure(exc) if session is not None else None
        if explained is not None:
            raise explained from exc
        raise


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Without a header (-q, --no-header) the start-of-run sweep's line goes here instead."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None or not session.started or config.stash.get(SWEEP_SAID_KEY, False):
        return
    swept = session.pool.sweep_stale().summary()
    if swept:
        terminalreporter.write_line(swept)


@pytest.fixture(scope="session")
def iu_session(pytestconfig: pytest.Config) -> HarnessSession:
    return pytestconfig.stash[SESSION_KEY]


@pytest.fixture(scope="session")
def iu_config(iu_session: HarnessSession) -> HarnessConfig:
    return iu_session.config


@pytest.fixture(scope="session")
def iu_pool(pytestconfig: pytest.Config, iu_session: HarnessSession) -> DatabasePool:
    """The server's database pool; an unreachable server stops the whole run with one line."""
    try:
        failed = pytestconfig.stash.get(SERVER_ERROR_KEY, None)
        if failed is not None:
            raise failed
        pool = iu_session.pool
    except HarnessError as exc:
        pytest.exit(f"iu-harness cannot get a PostgreSQL server: {exc}", returncode=3)
    try:
        # The same refusal as `iu-harness run`: only what no invariant could be read without.
        with pool.template(None).connect(autocommit=True) as conn:
            require_runnable(conn)
    except HarnessError as exc:
        pytest.exit(f"iu-harness cannot verify this build: {exc}", returncode=3)
    return pool


@pytest.fixture
def iu_db_factory(iu_pool: DatabasePool, request: pytest.FixtureRequest) -> Iterator[Callable[..., Database]]:
    """Make fresh clones: `iu_db_factory("after-25000x")`; all are dropped after the test."""
    made: list[Database] = []

    def make(baseline: str | None = None) -> Database:
        try:
            database = iu_pool.clone(baseline)
        except psycopg.OperationalError as exc:
            # A server that died mid-run: stop after this test (the failures so far are still
            # reported in full) instead of one error per remaining test.
            message = f"iu-harness: the PostgreSQL server stopped answering during the run: {exc}".strip()
            request.session.shouldstop = message.splitlines()[0]
            pytest.fail(message, pytrace=False)
        made.append(database)
        return database

    try:
        yield make
    finally:
        for database in made:
            try:
                iu_pool.drop(database.name)
            except psycopg.OperationalError:
                break  # the server is gone; make() stops the run at the next test


@pytest.fixture
def iu_db(iu_db_factory: Callable[..., Database]) -> Database:
    """A fresh database holding the iu_core schema (and --iu-extra-sql), no baseline."""
    return iu_db_factory(None)


@pytest.fixture
def iu_conn(iu_db: Database) -> Iterator[psycopg.Connection]:
    """An autocommit connection to `iu_db`; use `with iu_conn.transaction():` for in-TX work."""
    with iu_db.connect(autocommit=True) as conn:
        yield conn
