"""Runs mutants: each in its own clone of the build's template, `jobs` at a time.

Per mutant (one worker thread, one connection, one clone): clone the
baseline's template, set the per-mutant statement_timeout on the clone (every
session of the run inherits it), apply the mutant (CREATE OR REPLACE of the
mutated definition, or the schema ALTER), run the scenario at N with every
registered invariant and probe (`harness.run.runner.run_scenario`), judge; when
every invariant held, run the build's own tests (`harness.checks.build_tests`) on the
same database, the second oracle; drop the clone. Nothing is shared between mutants but the read-only template.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from psycopg import sql

from harness.checks.build_tests import BuildTests, run_build_tests
from harness.databases.pool import Database, DatabasePool
from harness.errors import HarnessError
from harness.mutate.mutant import Mutant
from harness.mutate.outcome import Outcome, Status, judge_build_tests, judge_error, judge_run, unviable
from harness.run.resources import ResourceLimits
from harness.run.runner import run_scenario
from harness.scenarios.scenario import Scenario

OnOutcome = Callable[[Outcome], None]


def timeout_for(clean_run_s: float) -> float:
    """Per-statement timeout of a mutant's run: 5x the whole clean run plus a second of margin
    (no statement of a healthy run takes longer than the whole clean run)."""
    return 5.0 * clean_run_s + 1.0


@dataclass(frozen=True)
class MutantClones:
    """Throwaway databases for the probes of a mutant's run: copies of the mutated database."""

    pool: DatabasePool
    mutated: Database
    timeout_s: float

    def clone(self) -> Database:
        database = self.pool.copy_of(self.mutated)
        # Per-database settings are not copied with the database: each copy gets the timeout.
        with database.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} SET statement_timeout = {}").format(
                sql.Identifier(database.name), sql.Literal(f"{int(self.timeout_s * 1000)}ms")))
        return database

    def drop(self, database: Database) -> None:
        self.pool.drop(database.name)


@dataclass
class Lab:
    pool: DatabasePool
    scenario: Scenario
    n: int
    timeout_s: float
    build_tests: BuildTests | None = None  # the build's own tests: run when the invariants miss a mutant

    def test(self, mutant: Mutant) -> Outcome:
        """Mutate a fresh clone, then run the scenario on a copy of it; the probes that need
        databases of their own get further copies of the mutated one, never the clean template."""
        began = time.perf_counter()
        mutated = self.pool.clone(self.scenario.baseline)
        clones = MutantClones(self.pool, mutated, self.timeout_s)
        database: Database | None = None
        try:
            with mutated.connect(autocommit=True) as conn:
                try:
                    conn.execute(mutant.sql.encode())  # bytes: sent as is, a '%' in it is not a placeholder
                except psycopg.Error as exc:
                    return unviable(mutant, exc, time.perf_counter() - began)
            database = clones.clone()
            try:
                result = run_scenario(database, self.scenario, self.n, clones=clones,
                                      limits=ResourceLimits.from_config(self.pool.config))
            except (psycopg.Error, HarnessError) as exc:
                return judge_error(mutant, exc, time.perf_counter() - began)
            outcome = judge_run(mutant, result, time.perf_counter() - began)
            if outcome.status is Status.MISSED and self.build_tests is not None:
                failures = run_build_tests(database, self.build_tests, self.timeout_s)
                if failures:
                    return judge_build_tests(mutant, failures, time.perf_counter() - began)
            return outcome
        finally:
            if database is not None:
                self.pool.drop(database.name)
            self.pool.drop(mutated.name)

    def run(self, mutants: Sequence[Mutant], jobs: int, on_outcome: OnOutcome | None = None) -> list[Outcome]:
        """Test every mutant, `jobs` in parallel; outcomes in the mutants' order."""
        lock = threading.Lock()

        def one(mutant: Mutant) -> Outcome:
            outcome = self.test(mutant)
            if on_outcome is not None:
                with lock:
                    on_outcome(outcome)
            return outcome

        if jobs <= 1:
            return [one(m) for m in mutants]
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="iu-mutate") as pool:
            return list(pool.map(one, mutants))
