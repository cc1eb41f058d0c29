"""After COMMIT the post-commit checks run beside the probes, the replay and the rollbacks
(harness/run/runner.py, `_Run.after_commit`): they must still read the state the scenario committed,
whatever the other stream has committed meanwhile."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from harness.checks import registry
from harness.checks.invariants import PHASES, invariant
from harness.databases.pool import DatabasePool
from harness.run.context import RunContext
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario

SEED = Path(__file__).resolve().parents[1] / "scenarios" / "seed-50000x-03.toml"
N = 20


def test_post_commit_checks_read_the_committed_state_after_the_real_rollback_committed(
        iu_db_factory, iu_pool: DatabasePool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A post-commit check that waits until the real rollback has committed (on the run's session)
    still counts the run's N log rows, and every built-in check holds as before."""
    scenario = load_scenario(SEED)
    seen: dict[str, Any] = {}

    @invariant("waits_for_the_real_rollback", phase="post_commit",
               description="test only: reads the run's rows after the real rollback committed")
    def waits_for_the_real_rollback(ctx: RunContext) -> tuple[bool, dict[str, Any]]:
        deadline = time.monotonic() + 600  # the probes (two race clones) run first on a busy machine
        while ctx.facts.rollback is None and time.monotonic() < deadline:
            time.sleep(0.05)
        row = ctx.conn.execute("SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = %s",
                               (scenario.actor,)).fetchone()
        seen.update(rollback_committed=ctx.facts.rollback is not None, log_rows=row[0] if row else None)
        return True, {}

    monkeypatch.setattr(registry, "_registered", [waits_for_the_real_rollback])
    database = iu_db_factory(scenario.baseline)
    result = run_scenario(database, scenario, N, pool=iu_pool)

    assert seen == {"rollback_committed": True, "log_rows": N}
    with database.connect(autocommit=True) as conn:  # and the rollback did commit: the rows are gone
        row = conn.execute("SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = %s",
                           (scenario.actor,)).fetchone()
        assert row is not None and row[0] == 0
    failed = [r.name for r in result.results if not r.passed]
    assert not failed and not result.not_run, (failed, result.not_run)
    # The results are listed phase by phase, however the two streams interleaved.
    phases = [PHASES.index(r.phase) for r in result.results]
    assert phases == sorted(phases)
    assert {"post_commit", "probe", "replay", "rollback_dry_run", "rollback"} <= {r.phase for r in result.results}
