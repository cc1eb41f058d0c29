"""Per-call resources (harness/run/resources.py): measured in the scenario transaction, extrapolated to the target N.

SPEC section 1 ([S1.orch.scale]): one transaction may call the orchestrator 100,000 times or more on a
server with stock lock and memory settings. The SPEC-only files in tests/faults/resources/ wrap the
build's orchestrator (any build): one lock-table entry per call, memory kept per call until COMMIT,
and a control (one lock in all, memory flat) the prediction must NOT flag. At the default sizes each
fault fails its invariant on both builds; the opt-in slow test (`-m slow`, or --iu-max-n at least
the target N) runs them at the target N and shows the real failure the prediction stands for.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.config import BUNDLED_SQL_DIR, HarnessConfig, parse_bytes, resolve_config
from harness.databases.pool import DatabasePool
from harness.errors import ConfigError, ScenarioError
from harness.run.plan import call_orchestrator, create_plan
from harness.run.resources import (
    FAIL,
    LOCKS,
    MEMORY,
    NOT_RUN,
    PASS,
    SUBXACTS,
    Meter,
    ResourceLimits,
    ResourceReport,
    capacity_from,
    checkpoint_calls,
    lock_capacity,
)
from harness.run.results import RunFacts
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario
from harness.spec import SPEC_TARGET_N
from harness.spec_calls import set_gates

ROOT = Path(__file__).resolve().parent.parent
RESOURCE_FAULTS = ROOT / "tests" / "faults" / "resources"
SEED_50000X = ROOT / "scenarios" / "seed-50000x-03.toml"
MIXED = ROOT / "scenarios" / "scaleout-mixed.toml"
BUILDS = {"bundled": BUNDLED_SQL_DIR, "independent": ROOT / "tests" / "builds" / "independent"}
# fault -> the invariant it must fail (None: the control, which must hold everything)
CAUGHT_BY = {"advisory_lock_per_call.sql": "lock_table_holds_at_target_n",
             "cursor_per_call.sql": "backend_memory_holds_at_target_n",
             "one_advisory_lock.sql": None, "subtransaction_per_call.sql": None}
STOCK_15 = {"max_locks_per_transaction": 64, "max_connections": 100, "autovacuum_max_workers": 3,
            "max_worker_processes": 8, "max_wal_senders": 10, "max_prepared_transactions": 0}


def test_every_resource_fault_file_is_listed() -> None:
    assert {p.name for p in RESOURCE_FAULTS.glob("*.sql")} == set(CAUGHT_BY)


def test_checkpoints_are_fixed_fractions_of_n() -> None:
    assert checkpoint_calls(20) == (5, 10, 15, 20)
    assert checkpoint_calls(10_000) == (2500, 5000, 7500, 10_000)
    assert checkpoint_calls(12) == (3, 6, 9, 12)
    assert checkpoint_calls(2) == (1, 2)


def test_lock_capacity_formula_per_major() -> None:
    """NLOCKENTS() = max_locks_per_transaction x (MaxBackends + max_prepared_transactions)."""
    stock = capacity_from(15, STOCK_15 | {"autovacuum_worker_slots": 16})  # a 15 has no such setting: ignored
    assert (stock.max_backends, stock.capacity) == (100 + 3 + 1 + 8 + 10, 64 * 122)
    assert "autovacuum_worker_slots" not in stock.settings and "= 7,808" in stock.formula
    pg18 = capacity_from(18, STOCK_15 | {"autovacuum_worker_slots": 16, "max_prepared_transactions": 5})
    assert (pg18.max_backends, pg18.capacity) == (100 + 16 + 8 + 10 + 2, 64 * (136 + 5))
    assert "autovacuum_worker_slots 16" in pg18.formula and "2 special workers" in pg18.formula


def test_target_n_and_memory_budget_settings() -> None:
    assert resolve_config({}, {}).target_n is None
    assert resolve_config({"target_n": "1_000_000"}, {"IU_HARNESS_TARGET_N": "200000"}).target_n == 1_000_000
    assert resolve_config({}, {"IU_HARNESS_TARGET_N": "200,000"}).target_n == 200_000
    for bad in ("99999", "lots", "-1"):
        with pytest.raises(ConfigError, match="at least 100,000"):
            resolve_config({"target_n": bad}, {})
    assert resolve_config({}, {}).memory_budget == 1 << 30
    assert resolve_config({}, {"IU_HARNESS_MEMORY_BUDGET": "512MB"}).memory_budget == 512 << 20
    assert parse_bytes("2 GB") == 2 << 30 and parse_bytes("64kB") == 64 << 10 and parse_bytes("4096") == 4096
    for bad in ("0MB", "1 XB", "big"):
        with pytest.raises(ConfigError, match="not a positive size"):
            resolve_config({"memory_budget": bad}, {})
    # The setting, else the scenario's target_n, else SPEC's 100,000.
    assert ResourceLimits().target_for(None) == (SPEC_TARGET_N, "SPEC section 1 ([S1.orch.scale])")
    assert ResourceLimits().target_for(500_000)[0] == 500_000
    assert ResourceLimits(target_n=2_000_000).target_for(500_000)[0] == 2_000_000


def test_scenario_target_n_is_at_least_specs(tmp_path: Path) -> None:
    text = MIXED.read_text()
    low = tmp_path / "low.toml"
    low.write_text(text.replace("[scenario]\n", "[scenario]\ntarget_n = 5000\n", 1))
    with pytest.raises(ScenarioError, match="target_n"):
        load_scenario(low)
    high = tmp_path / "high.toml"
    high.write_text(text.replace("[scenario]\n", "[scenario]\ntarget_n = 1000000\n", 1))
    assert load_scenario(high).target_n == 1_000_000


def test_measuring_twice_adds_nothing(iu_conn: psycopg.Connection) -> None:
    """The readings' own locks (pg_locks, the catalogues they count) are taken by the first reading and
    held: a second reading with no call between sees the same locks, temp relations and catalogue rows."""
    with iu_conn.transaction():
        meter = Meter.start(iu_conn, 20)
        meter.measure(0)
        first, second = meter.checkpoints
        assert (first.locks, first.shared_locks, first.temp_relations, first.catalog_rows) == \
               (second.locks, second.shared_locks, second.temp_relations, second.catalog_rows)


@pytest.fixture
def build_pool(iu_pool: DatabasePool, request: pytest.FixtureRequest) -> Iterator[DatabasePool]:
    build, fault = request.param
    extra = (RESOURCE_FAULTS / fault,) if fault else ()
    pool = DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, sql_dir=BUILDS[build], extra_sql=extra))
    yield pool
    pool.close()


def _report(result_facts: RunFacts) -> ResourceReport:
    report = result_facts.resources
    assert isinstance(report, ResourceReport)
    return report


@pytest.mark.parametrize("build_pool", [(build, None) for build in BUILDS], indirect=True, ids=list(BUILDS))
def test_both_builds_hold_no_lock_and_no_memory_per_call(build_pool: DatabasePool) -> None:
    scenario = load_scenario(SEED_50000X)
    result = run_scenario(build_pool.clone(scenario.baseline), scenario, 20, pool=build_pool)
    assert result.passed and not result.not_run, result.failure_summary()
    report = _report(result.facts)
    locks, memory = report.row(LOCKS), report.row(MEMORY)
    assert locks.status == PASS and locks.per_call == 0.0
    assert locks.at_target is not None and locks.at_target < locks.limit  # type: ignore[operator]
    assert memory.status == PASS and memory.per_call is not None and memory.per_call <= 0
    if report.row(SUBXACTS).status != NOT_RUN:  # PostgreSQL 16+
        assert report.row(SUBXACTS).per_call == 0.0


@pytest.mark.parametrize("build_pool", [(build, fault) for build in BUILDS for fault in CAUGHT_BY], indirect=True,
                         ids=[f"{build}-{fault.removesuffix('.sql')}" for build in BUILDS for fault in CAUGHT_BY])
def test_a_resource_fault_fails_its_invariant_and_the_control_holds(build_pool: DatabasePool) -> None:
    fault = build_pool.config.extra_sql[0].name
    scenario = load_scenario(SEED_50000X)
    result = run_scenario(build_pool.clone(scenario.baseline), scenario, 20, pool=build_pool)
    caught = CAUGHT_BY[fault]
    if caught is None:  # one lock in all, or a subtransaction per call: nothing to flag
        assert result.passed and not result.not_run, result.failure_summary()
        report = _report(result.facts)
        assert report.row(LOCKS).per_call == 0.0
        subxacts = report.row(SUBXACTS)
        if subxacts.status != NOT_RUN:  # PostgreSQL 16+: measured, shown, not judged
            assert subxacts.per_call == (1.0 if fault == "subtransaction_per_call.sql" else 0.0)
        return
    assert {r.name for r in result.failed} == {caught}, result.failure_summary()
    evidence = next(r for r in result.failed if r.name == caught).evidence
    # The evidence a person needs: per call, the checkpoints' values, the target, the limit and its source.
    assert evidence["status"] == FAIL and evidence["per_call"] > 0
    assert evidence["checkpoint_calls"] == [0, 5, 10, 15, 20] and len(evidence["values_at_checkpoints"]) == 5
    assert evidence["extrapolated_at_target"] > evidence["limit"] and evidence["target_n"] == SPEC_TARGET_N
    if caught == "lock_table_holds_at_target_n":
        assert evidence["per_call"] == 1.0 and "max_locks_per_transaction" in evidence["limit_from"]
    else:
        assert "memory budget" in evidence["limit_from"]


@pytest.mark.parametrize(("build", "fault"), [("independent", "advisory_lock_per_call.sql"),
                                              ("bundled", "cursor_per_call.sql")])
def test_the_users_command_names_the_resource(build: str, fault: str, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_scaleout.py",
         "-k", "scaleout and seed-50000x", f"--iu-sql-dir={BUILDS[build]}",
         f"--iu-extra-sql={RESOURCE_FAULTS / fault}", f"--iu-report-dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert CAUGHT_BY[fault] in output
    report = (tmp_path / "seed-50000x-03-n20.md").read_text()
    assert "## Resources per call" in report and "**FAIL**" in report


# -- the prediction against reality, at the target N (opt in: -m slow, or --iu-max-n >= the target) ---------

def _slow_opted_in(pytestconfig: pytest.Config, config: HarnessConfig) -> bool:
    marks = pytestconfig.option.markexpr or ""
    return ("slow" in marks and "not slow" not in marks) or (config.max_n or 0) >= SPEC_TARGET_N


@dataclasses.dataclass
class Reality:
    completed: bool
    calls_done: int  # calls whose chunk completed
    error: str | None = None
    memory_bytes: int | None = None


def _calls_at_target(pool: DatabasePool, target: int, stop_memory_over: int | None = None) -> Reality:
    """The orchestrator called `target` times in one transaction (the runner's plan and chunks), until
    it completes, fails, or the backend's memory passes `stop_memory_over` (then rolled back)."""
    scenario = load_scenario(MIXED)
    database = pool.clone(scenario.baseline)
    reality = Reality(False, 0)

    class OverBudget(Exception):
        pass

    def after(calls: int) -> None:
        reality.calls_done = calls
        if stop_memory_over is not None:
            row = conn.execute("SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts",
                               prepare=False).fetchone()
            reality.memory_bytes = int(row[0]) if row else None
            if reality.memory_bytes is not None and reality.memory_bytes > stop_memory_over:
                raise OverBudget

    try:
        with database.connect(autocommit=True) as conn:
            create_plan(conn, scenario, target)
            conn.execute("BEGIN")
            set_gates(conn, True)
            try:
                call_orchestrator(conn, scenario, target, checkpoints=range(1000, target + 1, 1000),
                                  at_checkpoint=after)
                reality.completed = True
            except psycopg.Error as exc:
                reality.error = f"{exc.sqlstate} {exc.diag.message_primary}"
            except OverBudget:
                pass
            conn.execute("ROLLBACK")
    finally:
        pool.drop(database.name)
    return reality


@pytest.mark.slow
@pytest.mark.parametrize("build", list(BUILDS))
def test_the_prediction_holds_at_the_target_n(build: str, iu_pool: DatabasePool, iu_config: HarnessConfig,
                                              pytestconfig: pytest.Config) -> None:
    """At the target N: a lock per call ends in 53200 between the capacity the formula guarantees and the
    target; memory per call passes the budget before the target; the build and the control complete."""
    if not _slow_opted_in(pytestconfig, iu_config):
        pytest.skip(f"runs {SPEC_TARGET_N:,} calls per fault: opt in with -m slow or --iu-max-n {SPEC_TARGET_N}")
    target, _ = ResourceLimits.from_config(iu_config).target_for(None)
    budget = iu_config.memory_budget

    def pool_with(fault: str | None) -> DatabasePool:
        extra = (RESOURCE_FAULTS / fault,) if fault else ()
        return DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, sql_dir=BUILDS[build],
                                                                extra_sql=extra))

    outcomes: dict[str, Reality] = {}
    for fault in (None, "advisory_lock_per_call.sql", "cursor_per_call.sql", "one_advisory_lock.sql"):
        pool = pool_with(fault)
        try:
            with pool.template(None).connect(autocommit=True) as conn:
                capacity = lock_capacity(conn).capacity
            outcomes[fault or "no fault"] = _calls_at_target(
                pool, target, stop_memory_over=budget if fault == "cursor_per_call.sql" else None)
        finally:
            pool.close()
    print({name: dataclasses.asdict(r) for name, r in outcomes.items()}, f"capacity={capacity:,}")
    assert outcomes["no fault"].completed and outcomes["one_advisory_lock.sql"].completed, outcomes
    locks = outcomes["advisory_lock_per_call.sql"]
    assert not locks.completed and locks.error is not None and locks.error.startswith("53200"), locks
    assert capacity <= locks.calls_done < target, (locks, capacity)
    memory = outcomes["cursor_per_call.sql"]
    assert not memory.completed and memory.error is None and memory.calls_done < target, memory
    assert memory.memory_bytes is not None and memory.memory_bytes > budget
