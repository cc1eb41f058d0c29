"""Judging a mutant, as cargo-mutants and Stryker do: caught, missed, unviable or timeout.

- caught: the scenario run failed; `caught_by` names the invariants that failed
  (or the error the run raised); or, every invariant having held, one of the
  build's own tests failed (`build_test:<name>`).
- missed: every invariant held with the mutant in place.
- unviable: the mutant did not load (its CREATE OR REPLACE or ALTER failed).
- timeout: a statement ran past the per-mutant statement_timeout (SQLSTATE
  57014); counted as caught, as both tools do.
- not_covered: the mutant is in a PL/pgSQL function the clean run never called
  (pg_stat_user_functions), so no check can see it; it is not run, and counts
  as undetected in the score (Stryker's NoCoverage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg

from harness.checks.build_tests import BuildTestFailure
from harness.errors import db_error_text
from harness.mutate.mutant import Mutant
from harness.run.results import RunResult
from harness.text import shorten

QUERY_CANCELED = "57014"  # what statement_timeout raises


class Status(StrEnum):
    CAUGHT = "caught"
    MISSED = "missed"
    UNVIABLE = "unviable"
    TIMEOUT = "timeout"
    NOT_COVERED = "not_covered"


# Stryker's MutantStatus for each (a reviewed equivalent is reported as Ignored there).
STRYKER_STATUS = {Status.CAUGHT: "Killed", Status.MISSED: "Survived", Status.UNVIABLE: "CompileError",
                  Status.TIMEOUT: "Timeout", Status.NOT_COVERED: "NoCoverage"}


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: Status
    caught_by: tuple[str, ...] = ()
    detail: str = ""
    duration_s: float = 0.0
    equivalent_reason: str | None = field(default=None, compare=False)
    # Not tested by this run: the outcome of the same mutant in an earlier report (--baseline-report) whose
    # target had the same identity (harness.mutate.identity); names that report.
    carried_from: str | None = field(default=None, compare=False)

    @property
    def detected(self) -> bool:
        return self.status in (Status.CAUGHT, Status.TIMEOUT)

    @property
    def undetected(self) -> bool:
        return self.status in (Status.MISSED, Status.NOT_COVERED)


#: The evidence keys an SQLSTATE is recorded under: a failed step's or check's error ("sqlstate"),
#: and what a probe's call raised ("raised"; an int there is a count of calls, not a code).
SQLSTATE_KEYS = ("sqlstate", "raised")


def _sqlstates(evidence: Any) -> set[str]:
    """Every SQLSTATE recorded anywhere in an evidence structure."""
    found: set[str] = set()
    if isinstance(evidence, dict):
        for key, value in evidence.items():
            if key in SQLSTATE_KEYS and isinstance(value, str):
                found.add(value)
            else:
                found |= _sqlstates(value)
    elif isinstance(evidence, list):
        for item in evidence:
            found |= _sqlstates(item)
    return found


def error_text(exc: BaseException) -> str:
    if isinstance(exc, psycopg.Error):
        message = db_error_text(exc)
        return f"{exc.sqlstate}: {message}" if exc.sqlstate else message
    return f"{type(exc).__name__}: {exc}"


def mutation_score(detected: int, missed: int) -> float | None:
    """caught / (caught + missed), in per cent: timeouts count as caught, not-covered mutants as missed;
    None when nothing was scored."""
    return 100.0 * detected / (detected + missed) if detected + missed else None


def judge_run(mutant: Mutant, result: RunResult, duration_s: float) -> Outcome:
    failed = result.failed
    if not failed:
        return Outcome(mutant, Status.MISSED, duration_s=duration_s)
    names = tuple(r.name for r in failed)
    states = set().union(*(_sqlstates(r.evidence) for r in failed))
    status = Status.TIMEOUT if QUERY_CANCELED in states else Status.CAUGHT
    detail = "; ".join(f"{r.name}: {_short_evidence(r.evidence)}" for r in failed[:3])
    return Outcome(mutant, status, names, detail, duration_s)


BUILD_TEST_PREFIX = "build_test:"


def judge_build_tests(mutant: Mutant, failures: list[BuildTestFailure], duration_s: float) -> Outcome:
    """Every invariant held, but the build's own tests failed: caught by them (timeout if one ran out of time)."""
    status = Status.TIMEOUT if any(f.timed_out for f in failures) else Status.CAUGHT
    names = tuple(f"{BUILD_TEST_PREFIX}{f.name}" for f in failures)
    return Outcome(mutant, status, names, "; ".join(str(f) for f in failures[:3]), duration_s)


def caught_by_build_tests_only(outcome: Outcome) -> bool:
    return outcome.detected and bool(outcome.caught_by) and all(
        name.startswith(BUILD_TEST_PREFIX) for name in outcome.caught_by)


def judge_error(mutant: Mutant, exc: BaseException, duration_s: float) -> Outcome:
    """The run itself raised (not a failed check): the mutant broke something the run needs."""
    sqlstate = exc.sqlstate if isinstance(exc, psycopg.Error) else None
    status = Status.TIMEOUT if sqlstate == QUERY_CANCELED else Status.CAUGHT
    return Outcome(mutant, status, (f"run_raised[{sqlstate or type(exc).__name__}]",), error_text(exc), duration_s)


def unviable(mutant: Mutant, exc: BaseException, duration_s: float) -> Outcome:
    return Outcome(mutant, Status.UNVIABLE, (), error_text(exc), duration_s)


def _short_evidence(evidence: dict[str, Any], width: int = 160) -> str:
    return shorten(str(evidence), width)
