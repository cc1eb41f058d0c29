"""A build's own SQL tests: `<sql-dir>/build-tests/*.sql`, the second oracle of `iu-harness mutate`.

The invariants and probes check what SPEC fixes, on any build, and nothing
else. A build also has behaviour of its own that SPEC leaves open (its
SQLSTATE per error kind, its helpers, its constraints, the order of its
checks); its owners test that, and a mutant that changes only that is not seen
by any invariant. As cargo-mutants runs a crate's own tests on each mutant,
`iu-harness mutate` runs these on every mutant the invariants miss.

Layout: files named `_*.sql` are the prelude (helpers in `pg_temp`), run first
in the session and committed; every other `*.sql` runs in name order, each in
its own transaction that is always rolled back, so a test leaves nothing
behind. A test passes when its file raises nothing; its name is the file's
stem. A file may not end its transaction (COMMIT, ROLLBACK, ...): read with
pglast when loaded, refused before anything runs. The harness reads nothing
else of a build here: a build without the directory simply has no tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pglast
import psycopg
from pglast import ast
from pglast.parser import ParseError
from psycopg import sql
from psycopg.pq import TransactionStatus

from harness.databases.pool import Database
from harness.errors import HarnessError, db_error_text

TESTS_DIR = "build-tests"  # inside the build's SQL dir
QUERY_CANCELED = "57014"  # what statement_timeout raises


@dataclass(frozen=True)
class BuildTest:
    name: str
    text: str


@dataclass(frozen=True)
class BuildTests:
    directory: Path
    prelude: tuple[BuildTest, ...]
    tests: tuple[BuildTest, ...]

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tests]


@dataclass(frozen=True)
class BuildTestFailure:
    name: str
    sqlstate: str | None
    message: str

    @property
    def timed_out(self) -> bool:
        return self.sqlstate == QUERY_CANCELED

    def __str__(self) -> str:
        return f"{self.name}: {self.sqlstate or '-'} {self.message}"


def default_tests_dir(sql_dir: Path) -> Path | None:
    candidate = sql_dir / TESTS_DIR
    return candidate if candidate.is_dir() and any(not p.name.startswith("_") for p in candidate.glob("*.sql")) \
        else None


def _refuse_transaction_control(path: Path, text: str) -> None:
    """A test that commits would leave its rows for the next; one that cannot be parsed is refused too."""
    try:
        statements = pglast.parse_sql(text)
    except ParseError as exc:
        raise HarnessError(f"build test {path} does not parse: {exc}",
                           checked="each build test is read with PostgreSQL's parser (pglast) before it runs",
                           fix="make it plain SQL (no psql backslash commands)") from exc
    for raw in statements:
        if isinstance(raw.stmt, ast.TransactionStmt):
            line = text.count("\n", 0, raw.stmt_location or 0) + 1
            raise HarnessError(f"build test {path}:{line} ends or opens a transaction",
                               checked="each build test runs in one transaction that is rolled back",
                               fix="remove the COMMIT/ROLLBACK/BEGIN; the harness rolls every test back itself")


def load_build_tests(directory: Path) -> BuildTests:
    files = sorted(directory.glob("*.sql"))
    read = [BuildTest(path.stem, path.read_text(encoding="utf-8")) for path in files]
    for path, test in zip(files, read, strict=True):
        if not test.name.startswith("_"):
            _refuse_transaction_control(path, test.text)
    tests = tuple(t for t in read if not t.name.startswith("_"))
    if not tests:
        raise HarnessError(f"no build tests in {directory}",
                           checked="a build-tests directory holds *.sql tests besides its _*.sql prelude",
                           fix="add a test file, or run without build tests (--no-build-tests)")
    return BuildTests(directory, tuple(t for t in read if t.name.startswith("_")), tests)


def _failure(name: str, exc: psycopg.Error) -> BuildTestFailure:
    message = db_error_text(exc)
    return BuildTestFailure(name, exc.sqlstate, message)


def run_build_tests(database: Database, suite: BuildTests,
                    statement_timeout_s: float | None = None) -> list[BuildTestFailure]:
    """Run the prelude, then every test in its own rolled-back transaction; the failures, in order.
    A prelude that fails stops there (the tests would only repeat its error)."""
    failures: list[BuildTestFailure] = []
    with database.connect(autocommit=True) as conn:
        if statement_timeout_s is not None:
            conn.execute(sql.SQL("SET statement_timeout = {}").format(
                sql.Literal(f"{int(statement_timeout_s * 1000)}ms")))
        for prelude in suite.prelude:
            try:
                conn.execute(prelude.text.encode())  # bytes: sent as is, a '%' is not a placeholder
            except psycopg.Error as exc:
                return [_failure(prelude.name, exc)]
        conn.autocommit = False
        for test in suite.tests:
            try:
                conn.execute(test.text.encode())
                if conn.info.transaction_status is not TransactionStatus.INTRANS:  # ended it after all
                    failures.append(BuildTestFailure(test.name, None, "the test ended its own transaction"))
            except psycopg.Error as exc:
                failures.append(_failure(test.name, exc))
            finally:
                conn.rollback()
    return failures
