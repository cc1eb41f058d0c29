"""SPEC-only faults (tests/faults/*.sql) are caught on any build: ours and the second one.

Each fault is written against SPEC section 1 names only (the build's function is
renamed and wrapped, or a SPEC view replaced), so it loads through --iu-extra-sql
on any conforming build. Loaded on our bundled build and on the independent
build in tests/builds/independent, each must fail the invariant named here, and
the real command `pytest -k scaleout --iu-extra-sql=<fault>` must exit 1 naming it.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.checks.traceability import read_faults
from harness.config import BUNDLED_SQL_DIR
from harness.databases.pool import DatabasePool
from harness.run.results import RunResult
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
FAULTS = Path(__file__).resolve().parent / "faults"
SEED_50000X = ROOT / "scenarios" / "seed-50000x-03.toml"
BUILDS = {"bundled": BUNDLED_SQL_DIR, "independent": ROOT / "tests" / "builds" / "independent"}

# fault -> invariants that must fail on every build: each fault file's own "-- Caught by:" header line,
# read by the traceability matrix too (one source of truth).
DECLARED = {fault.file: fault for fault in read_faults(FAULTS)}
CAUGHT_BY = {name: set(fault.caught_by) for name, fault in DECLARED.items()}


def test_every_fault_file_declares_what_it_violates_and_what_catches_it() -> None:
    assert {p.name for p in FAULTS.glob("*.sql")} == set(CAUGHT_BY)
    assert all(CAUGHT_BY.values())


@pytest.fixture
def build_pool(iu_pool: DatabasePool, request: pytest.FixtureRequest) -> Iterator[DatabasePool]:
    """A pool over the same server for (build, fault or None)."""
    build, fault = request.param
    extra = (FAULTS / fault,) if fault else ()
    pool = DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, sql_dir=BUILDS[build], extra_sql=extra))
    yield pool
    pool.close()


@pytest.mark.parametrize("build_pool", [(build, None) for build in BUILDS], indirect=True,
                         ids=list(BUILDS))
def test_both_builds_hold_every_invariant_without_a_fault(build_pool: DatabasePool) -> None:
    """The control: without a fault every invariant and probe holds on both builds (none NOT RUN)."""
    scenario = load_scenario(SEED_50000X)
    result = run_scenario(build_pool.clone(scenario.baseline), scenario, 20, pool=build_pool)
    assert result.passed and not result.not_run, result.failure_summary()


@pytest.mark.parametrize("build_pool", [(build, fault) for build in BUILDS for fault in CAUGHT_BY],
                         indirect=True, ids=[f"{build}-{fault.removesuffix('.sql')}" for build in BUILDS
                                             for fault in CAUGHT_BY])
def test_a_spec_fault_is_caught_by_its_invariant(build_pool: DatabasePool) -> None:
    fault = build_pool.config.extra_sql[0].name
    scenario = load_scenario(ROOT / "scenarios" / f"{DECLARED[fault].scenario}.toml")
    n = scenario.expect.n if scenario.expect is not None else 20
    result = run_scenario(build_pool.clone(scenario.baseline), scenario, n, pool=build_pool)
    failed = {r.name for r in result.failed}
    assert not result.passed
    assert CAUGHT_BY[fault] <= failed, f"{fault}: expected {CAUGHT_BY[fault]} to fail; failed: {failed}; " \
                                       f"not run: {result.not_run_reasons}"


@pytest.mark.parametrize(("build", "fault"), [("bundled", "orchestrator_opens_gates.sql"),
                                              ("independent", "idempotency_check_then_insert.sql")])
def test_the_users_command_fails_on_a_spec_fault(build: str, fault: str, tmp_path: Path) -> None:
    """The user's command on a faulty build exits 1 and names the invariant, in its output and report."""
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_scaleout.py",
         "-k", "scaleout and seed-50000x", f"--iu-sql-dir={BUILDS[build]}", f"--iu-extra-sql={FAULTS / fault}",
         f"--iu-report-dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    (caught,) = CAUGHT_BY[fault]
    assert caught in output
    report = json.loads((tmp_path / "seed-50000x-03-n20.json").read_text())
    assert report["passed"] is False
    assert caught in {i["name"] for i in report["invariants"] if not i["passed"]}


VARIATIONS = Path(__file__).resolve().parent / "variations"


def seed_run_with(iu_pool: DatabasePool, extra_sql: Path) -> RunResult:
    """The 50000x seed scenario at N=20 on our build plus one SQL file, with every probe."""
    pool = DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, extra_sql=(extra_sql,)))
    try:
        scenario = load_scenario(SEED_50000X)
        return run_scenario(pool.clone(scenario.baseline), scenario, 20, pool=pool)
    finally:
        pool.close()


@pytest.mark.parametrize("variation", sorted(p.name for p in VARIATIONS.glob("*.sql")))
def test_a_conforming_variation_holds_every_invariant(iu_pool: DatabasePool, variation: str) -> None:
    """Choices SPEC leaves open (tests/variations/*.sql: an audited gate row, another order of the
    argument checks, stricter keys) must not fail a build: found false failures, kept as tests."""
    result = seed_run_with(iu_pool, VARIATIONS / variation)
    assert result.passed and not result.not_run, result.failure_summary()
    if variation == "one_log_row_per_instance.sql":  # the probe says what it could not plant
        probe = next(r for r in result.results if r.name == "probe_rollback_spares_others")
        assert str(probe.evidence["planted"]["other_actors_log_row"]).startswith("not plantable on this build")
        assert "shared_instance" not in probe.evidence["spared"]
    if variation == "rollback_refuses_foreign_log_rows.sql":  # the refusal is taken, measured and said
        probe = next(r for r in result.results if r.name == "probe_rollback_spares_others")
        real = probe.evidence["real"]
        assert real["refused"]["raised"] == "23503" and real["changed_nothing"] is True, real
        assert str(real["accepted"]).startswith("refused on a state no SPEC function writes"), real


def test_a_clear_message_may_quote_the_value_escaped() -> None:
    """probe_bad_input accepts the value as quote_literal / format('%L') print it (found by Hypothesis:
    a suffix with a backslash is shown as E'...\\\\...')."""
    from harness.checks.probes import _quoted_forms

    assert "h0--1\\\\0" in _quoted_forms("h0--1\\0")
    assert "it''s" in _quoted_forms("it's") and 'say ""hi""' in _quoted_forms('say "hi"')
    assert _quoted_forms("plain") == ("plain",)
