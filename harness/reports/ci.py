"""Output that CI systems read: JUnit properties per invariant, and GitHub's job summary.

- `invariant_properties(result)`: (name, value) pairs for pytest's `record_property`,
  so a JUnit XML viewer shows which invariant failed and its evidence.
- `append_step_summary(markdown)`: appends to the file named by GITHUB_STEP_SUMMARY
  (GitHub Actions renders it on the run's page); nothing happens when it is unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.perf.scaling import SweepPoint
from harness.reports.run import verdict
from harness.run.results import RunResult
from harness.text import compact

EVIDENCE_LIMIT = 300  # characters of evidence per property: enough to read, small enough for a CI view
SUMMARY_COLUMNS = ("N", "result", "failed invariants", "instances/s", "us/instance", "rate vs minimal",
                   "rate vs set-based", "replay/ok", "rollback/ok", "at the target N (locks, memory)", "run (s)")


def evidence_summary(evidence: dict[str, Any], limit: int = EVIDENCE_LIMIT) -> str:
    return compact(evidence, limit)


def invariant_properties(result: RunResult, server_version: str | None = None) -> list[tuple[str, str]]:
    """`invariant:<name>` -> 'PASS | FAIL | NOT RUN: <evidence>', one per invariant, in check order."""
    props = [(f"invariant:{r.name}", f"{'PASS' if r.passed else 'FAIL'}: {evidence_summary(r.evidence)}")
             for r in result.results]
    props += [(f"invariant:{name}", "NOT RUN: step skipped") for name in result.not_run]
    if server_version:
        props.append(("server_version", server_version))
    return props


def summary_rows(results: list[RunResult], points: list[SweepPoint]) -> list[list[str]]:
    """The run's one-screen table (SUMMARY_COLUMNS), shared by the console and the step summary."""
    def fraction(value: float | None) -> str:
        return f"{value:.2f}x" if value else "-"

    rows = []
    for result, point in zip(results, points, strict=True):
        timed = point.calls_s > 0
        rows.append([f"{result.n:,}", verdict(result),
                     ", ".join(r.name for r in result.failed) or "-",
                     f"{point.instances_per_s:,.0f}" if timed else "-",
                     f"{point.per_instance_us:.1f}" if timed else "-", fraction(point.rate_vs_minimal),
                     fraction(point.rate_vs_set_based), fraction(point.replay_vs_ok), fraction(point.rollback_vs_ok),
                     resources.summary() if (resources := result.facts.resources) else "not measured",
                     f"{result.timings.get('total_s', 0.0):.1f}"])
    return rows


def sweep_summary_markdown(title: str, results: list[RunResult], points: list[SweepPoint]) -> str:
    """The summary table as Markdown, under a heading."""
    lines = [f"### {title}", "", "| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(results, points)]
    return "\n".join(lines) + "\n"


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append to $GITHUB_STEP_SUMMARY when it is set; returns the file written, else None."""
    target = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as out:
        out.write(markdown.rstrip("\n") + "\n\n")
    return path
