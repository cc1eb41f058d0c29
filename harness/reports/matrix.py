"""The version matrix: one scenario's sweep on several PostgreSQL versions, side by side.

`<scenario>-matrix.md` / `.json` / `.png`: invariant x version (PASS / FAIL /
NOT RUN) and per-instance cost per version and N, from the same command. The
per-N reports and the sweep report of each version are in `pg<major>/` beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.exit_codes import EXIT_HARNESS_ERROR, EXIT_INVARIANT_FAILED, EXIT_OK
from harness.perf.scaling import SweepPoint
from harness.run.results import RunResult

PASS, FAIL, NOT_RUN = "PASS", "FAIL", "NOT RUN"


@dataclass
class VersionRun:
    """One version's sweep: its results per N, or the reason it could not run."""

    label: str  # "pg16": the report subfolder and the matrix column
    spec: str  # what --iu-pg said: a major or a bin folder
    results: list[RunResult] = field(default_factory=list)
    points: list[SweepPoint] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def server_version(self) -> str:
        return str(self.environment.get("server_version", "-"))

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.results) and all(r.passed for r in self.results)

    @property
    def failed(self) -> bool:
        return any(not r.passed for r in self.results)

    def per_instance_us(self, n: int) -> float | None:
        point = next((p for p in self.points if p.n == n and p.calls_s > 0), None)
        return point.per_instance_us if point else None

    def status(self, invariant: str) -> str:
        """PASS at every N it ran, FAIL (N=...) where it did not hold, NOT RUN where it never ran."""
        failed = [r.n for r in self.results if any(i.name == invariant and not i.passed for i in r.results)]
        if failed:
            return f"{FAIL} (N={', '.join(f'{n:,}' for n in failed)})"
        ran = [r.n for r in self.results if any(i.name == invariant for i in r.results)]
        if not ran:
            return NOT_RUN
        missing = [r.n for r in self.results if r.n not in ran]
        return f"{PASS}, {NOT_RUN} at N={', '.join(f'{n:,}' for n in missing)}" if missing else PASS


def invariant_names(runs: list[VersionRun]) -> list[str]:
    """Every invariant any version ran or skipped, in the order the runner checks them."""
    names: list[str] = []
    for run in runs:
        for result in run.results:
            for name in [*(i.name for i in result.results), *result.not_run]:
                if name not in names:
                    names.append(name)
    return names


def matrix_exit_code(runs: list[VersionRun]) -> int:
    """1 when an invariant failed on any version (a finding beats a harness problem), else 2 when a
    version could not run, else 0."""
    if any(run.failed for run in runs):
        return EXIT_INVARIANT_FAILED
    if any(run.error is not None or not run.results for run in runs):
        return EXIT_HARNESS_ERROR
    return EXIT_OK


def _cell(text: str) -> str:
    return f"**{text}**" if text.startswith(FAIL) else text


def render_matrix(scenario_name: str, title: str, runs: list[VersionRun], sizes: list[int],
                  plot_name: str | None = None) -> str:
    """The matrix as Markdown (also appended to GITHUB_STEP_SUMMARY)."""
    verdict = {0: "PASS on every version", 1: "FAIL", 2: "INCOMPLETE (a version could not run)"}
    lines = [f"# {scenario_name} · PostgreSQL version matrix · {verdict[matrix_exit_code(runs)]}", "",
             f"{title} · N = {', '.join(f'{n:,}' for n in sizes)} · one server per version, run one after "
             "another by one command.", "", "## Versions", "",
             "| version | server | binaries | data dir | result | reports |", "|---|---|---|---|---|---|"]
    for run in runs:
        result = f"could not run: {run.error}" if run.error else (PASS if run.passed else f"**{FAIL}**")
        lines.append(f"| {run.label} | {run.server_version} | {run.environment.get('server_binaries', '-')} | "
                     f"{run.environment.get('server_data_dir', '-')} | {result.replace('|', '/')} | "
                     f"`{run.label}/` |")
    names = invariant_names(runs)
    lines += ["", "## Invariants x version", "",
              "| invariant | " + " | ".join(run.label for run in runs) + " |",
              "|---|" + "---|" * len(runs)]
    lines += [f"| `{name}` | " + " | ".join(_cell(run.status(name)) for run in runs) + " |" for name in names]
    if not names:
        lines.append("| (no version ran) |" + " NOT RUN |" * len(runs))
    lines += ["", "## Per-instance cost (microseconds per orchestrator call, lower is faster)", "",
              "| N | " + " | ".join(run.label for run in runs) + " | slowest / fastest |",
              "|---|" + "---|" * (len(runs) + 1)]
    for n in sizes:
        costs = [run.per_instance_us(n) for run in runs]
        timed = [c for c in costs if c]
        spread = f"{max(timed) / min(timed):.2f}x" if len(timed) > 1 else "-"
        lines.append(f"| {n:,} | " + " | ".join("-" if c is None else f"{c:,.1f}" for c in costs)
                     + f" | {spread} |")
    if plot_name:
        lines += ["", f"![per-instance cost per version]({plot_name})"]
    lines += ["", "Costs come from one run per version on a shared machine, one version after another; "
              "read ratios and trends, not single digits.", ""]
    return "\n".join(lines)


def plot_matrix(runs: list[VersionRun], path: Path, title: str) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [(run, [p for p in sorted(run.points, key=lambda p: p.n) if p.calls_s > 0]) for run in runs]
    series = [(run, points) for run, points in series if points]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    sizes = sorted({p.n for _, points in series for p in points})
    if len(sizes) == 1:  # one N: a bar per version reads better than a column of dots
        bars = ax.bar([f"{run.label}\n{run.server_version.split(' ')[0]}" for run, _ in series],
                      [points[0].per_instance_us for _, points in series], color="tab:blue")
        ax.bar_label(bars, fmt="%.0f")
        ax.set_xlabel(f"PostgreSQL version (N = {sizes[0]:,} instances in one transaction)")
    else:
        for run, points in series:
            ax.plot([p.n for p in points], [p.per_instance_us for p in points], "o-",
                    label=f"{run.label} ({run.server_version.split(' ')[0]})")
        ax.set_xscale("log")
        ax.set_xlabel("N (instances in one transaction)")
        ax.legend()
    ax.set_ylabel("microseconds per instance")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_matrix_report(scenario_name: str, title: str, runs: list[VersionRun], sizes: list[int],
                        folder: Path) -> Path:
    """`<folder>/<scenario>-matrix.md` + `.json` + `.png`; returns the Markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    png = plot_matrix(runs, folder / f"{scenario_name}-matrix.png",
                      f"{scenario_name}: cost per instance per PostgreSQL version")
    md = folder / f"{scenario_name}-matrix.md"
    md.write_text(render_matrix(scenario_name, title, runs, sizes, png.name if png else None), encoding="utf-8")
    names = invariant_names(runs)
    (folder / f"{scenario_name}-matrix.json").write_text(json.dumps({
        "scenario": scenario_name,
        "sizes": sizes,
        "exit_code": matrix_exit_code(runs),
        "passed": matrix_exit_code(runs) == 0,
        "invariants": {name: {run.label: run.status(name) for run in runs} for name in names},
        "versions": [{"label": run.label, "spec": run.spec, "server_version": run.server_version,
                      "passed": run.passed, "error": run.error, "report_dir": run.label,
                      "environment": run.environment,
                      "points": [{"n": p.n, "passed": p.passed, "calls_s": p.calls_s,
                                  "per_instance_us": p.per_instance_us if p.calls_s else None,
                                  "instances_per_s": p.instances_per_s if p.calls_s else None,
                                  "floor_s": p.floor_s} for p in sorted(run.points, key=lambda p: p.n)]}
                     for run in runs],
    }, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return md
