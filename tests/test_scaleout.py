"""`pytest -k scaleout`: every scenario of scenarios/ at every N of its sweep, one test id each.

Each test runs the scenario on a fresh clone of its baseline, checks every
invariant, writes the Markdown + JSON report to the report dir, records each
invariant as a JUnit property (`invariant:<name>` = PASS / FAIL: evidence), and compares
the report's deterministic part with its reviewed snapshot
(tests/__snapshots__/test_scaleout/*.md; update with --snapshot-update).
Sizes in a scenario's slow_sweep run only with --iu-max-n (or IU_HARNESS_MAX_N).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_cases import scenario_cases, skip_unless_selected
from snapshot_markdown import MarkdownSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from harness.config import HarnessConfig
from harness.databases.pool import DatabasePool
from harness.environment import describe_environment
from harness.reports.ci import invariant_properties
from harness.reports.run import render_markdown, write_report
from harness.run.resources import SUBXACT_MIN_SERVER_VERSION, ResourceLimits
from harness.run.runner import run_scenario
from harness.scenarios.scenario import Scenario
from harness.session import HarnessSession

SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__" / "test_scaleout"


@pytest.fixture
def snapshot_md(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(MarkdownSnapshotExtension)


@pytest.mark.parametrize(("scenario", "n"), scenario_cases())
def test_scaleout(scenario: Scenario, n: int, iu_config: HarnessConfig, iu_session: HarnessSession,
                  iu_db_factory, iu_pool: DatabasePool, snapshot_md: SnapshotAssertion,
                  record_property) -> None:
    skip_unless_selected(scenario, n, iu_config)
    result = run_scenario(iu_db_factory(scenario.baseline), scenario, n, pool=iu_pool,
                          limits=ResourceLimits.from_config(iu_config))
    environment = describe_environment(iu_session)
    path = write_report(result, iu_config.report_dir, environment)
    # JUnit XML (--junitxml) carries each invariant, so a CI test view shows which one failed and why.
    for name, value in invariant_properties(result, environment["server_version"]):
        record_property(name, value)
    assert result.passed, (f"{scenario.name} N={n:,}: invariants failed (report: {path}):\n"
                           f"{result.failure_summary()}")
    # Only the bundled build's reports at the default target N and memory budget are reviewed snapshots.
    if not iu_config.reports_are_snapshotted:
        return
    rendered = render_markdown(result)
    major = int(str(result.facts.server_version).split(".")[0])
    if major * 10000 < SUBXACT_MIN_SERVER_VERSION:
        # The snapshots are what a server that reads every resource writes (16+; CI compares them on 16,
        # 17 and 18). Below 16 the subtransactions row must say NOT RUN with the reason, never a figure;
        # the rest of the report is compared line for line with the snapshot's other lines.
        rows = [line for line in rendered.splitlines() if line.startswith("| subtransactions |")]
        assert all("| NOT RUN | pg_stat_get_backend_subxact needs PostgreSQL 16+" in row for row in rows), rows
        stored = SNAPSHOTS / f"test_scaleout[{scenario.name}-n{n}].md"
        assert _without_subxact_row(rendered) == _without_subxact_row(stored.read_text(encoding="utf-8")), (
            f"report differs from {stored} beyond the subtransactions row")
        return
    assert rendered == snapshot_md


def _without_subxact_row(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("| subtransactions |")]
