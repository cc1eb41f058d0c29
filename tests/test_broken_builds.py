"""Deliberately broken builds of iu_core (tests/broken/*.sql, loaded through --iu-extra-sql) must fail.

Proves the scaleout invariants can fail, and that a failure names the broken
invariant and its evidence, both in the runner's result and in the report.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.databases.pool import DatabasePool
from harness.reports.run import render_markdown, to_json
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario

# About our own build: skipped (one line) when --iu-sql-dir names another one.
pytestmark = pytest.mark.bundled_build("broken copies of its function bodies (tests/broken)")

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).resolve().parent / "broken"
SEED_50000X = ROOT / "scenarios" / "seed-50000x-03.toml"

# broken build -> invariants that must fail on it
CASES = {
    "digest_mixes_collection_key.sql": {"digest_equality"},
    "digest_ignores_the_graph.sql": {"digest_equality"},
    "gate_cannot_close.sql": {"gates_closed_in_tx", "gates_closed_after_commit"},
    "rollback_misses_a_row.sql": {"rollback_restores_pre_state"},
}


@pytest.fixture
def broken_pool(iu_pool: DatabasePool, request: pytest.FixtureRequest) -> Iterator[DatabasePool]:
    config = dataclasses.replace(iu_pool.config, extra_sql=(*iu_pool.config.extra_sql, BROKEN / request.param))
    pool = DatabasePool(iu_pool.server, config)
    yield pool
    pool.close()


@pytest.mark.parametrize("broken_pool", sorted(CASES), indirect=True)
def test_broken_build_fails_the_named_invariants(broken_pool: DatabasePool) -> None:
    scenario = load_scenario(SEED_50000X)
    result = run_scenario(broken_pool.clone(scenario.baseline), scenario, 20, pool=broken_pool)
    broken_file = broken_pool.config.extra_sql[-1].name
    failed = {r.name for r in result.failed}
    assert not result.passed
    assert CASES[broken_file] <= failed, f"{broken_file}: expected {CASES[broken_file]} to fail, failed: {failed}"
    markdown = render_markdown(result)
    assert "(FAIL)" in markdown.splitlines()[0]
    for name in CASES[broken_file]:
        assert f"| `{name}` | **FAIL** |" in markdown
        assert f"- `{name}`: it FAILED (evidence above)." in markdown
    payload = to_json(result)
    assert payload["passed"] is False
    assert {i["name"] for i in payload["invariants"] if not i["passed"]} == failed


def test_pytest_k_scaleout_fails_on_a_broken_build(tmp_path: Path) -> None:
    """The user's command: pytest -k scaleout --iu-extra-sql=<broken build> exits 1 and names the invariant."""
    broken = BROKEN / "digest_mixes_collection_key.sql"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_scaleout.py",
         "-k", "scaleout and seed-50000x", f"--iu-extra-sql={broken}", f"--iu-report-dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "digest_equality" in output
    report = json.loads((tmp_path / "seed-50000x-03-n20.json").read_text())
    failed = [i for i in report["invariants"] if not i["passed"]]
    assert report["passed"] is False
    assert "digest_equality" in {i["name"] for i in failed}
    digest = next(i for i in failed if i["name"] == "digest_equality")
    assert digest["evidence"]["audit_run"]["drift"] == 20, digest["evidence"]


def test_racy_build_is_the_real_orchestrator_but_for_its_broken_block() -> None:
    """The racy fixture must track the real orchestrator, or it would prove something else."""
    real = (ROOT / "harness" / "sql" / "060_auto_instantiate.sql").read_text()
    start = "CREATE OR REPLACE FUNCTION iu_core.fn_iu_auto_instantiate_from_event("
    real = real[real.index(start):]
    racy = (BROKEN / "idempotency_race.sql").read_text()
    racy = racy[racy.index(start):]
    raise_at = "        RAISE EXCEPTION 'instance key"
    broken_block = racy[racy.index("        -- BROKEN ON PURPOSE"):racy.index(raise_at)]
    real_block = real[real.index("        -- The key is in the log"):real.index(raise_at)]
    assert racy.replace(broken_block, real_block) == real
