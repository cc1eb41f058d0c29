"""The sweep report: `<scenario>-sweep.md/.json/.png`, per-N cost, both floors' rates, replay and rollback,
the growth exponent and its verdict, the scaling check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.perf.scaling import TARGET_INSTANCES_PER_S, ScalingCheck, SweepPoint, growth_exponent, verdict


def _or_dash(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def plot(points: list[SweepPoint], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [p for p in points if p.calls_s > 0]  # a failed transaction has no cost to plot
    ns = [p.n for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(ns, [p.per_instance_us for p in points], "o-", label="orchestrator (per instance)")
    at_sample = [(p.n, p.build_sample_us) for p in points if p.build_sample_us]
    if at_sample:
        ax.plot([f[0] for f in at_sample], [f[1] for f in at_sample], "o:",
                label="orchestrator at the floors' sample, beside the minimal")
    minimal = [(p.n, p.minimal_us) for p in points if p.minimal_us]
    if minimal:
        ax.plot([f[0] for f in minimal], [f[1] for f in minimal], "^--", label="floor: minimal orchestrator")
    floors = [(p.n, p.floor_us) for p in points if p.floor_us]
    if floors:
        ax.plot([f[0] for f in floors], [f[1] for f in floors], "s--", label="floor: set-based INSERTs")
    target_us = 1e6 / TARGET_INSTANCES_PER_S
    ax.axhline(target_us, color="grey", linestyle=":",
               label=f"target {TARGET_INSTANCES_PER_S:,}/s ({target_us:.0f} us)")
    ax.set_xscale("log")
    ax.set_xlabel("N (instances in one transaction)")
    ax.set_ylabel("microseconds per instance")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"{title}\n{verdict(growth_exponent(points))}", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_sweep_report(scenario_name: str, points: list[SweepPoint], folder: Path,
                       environment: dict[str, Any], check: ScalingCheck | None = None,
                       extra_sections: list[str] | None = None) -> Path:
    """`<scenario>-sweep.md/.json/.png`: per-N cost, both floors' ratios, replay and rollback, exponent,
    verdict, the scaling check."""
    folder.mkdir(parents=True, exist_ok=True)
    points = sorted(points, key=lambda p: p.n)
    exponent = growth_exponent(points)
    png = plot(points, folder / f"{scenario_name}-sweep.png", f"{scenario_name}: cost per instance vs N")
    timed = [p for p in points if p.calls_s > 0]
    base = next((p for p in timed if p.n == 1000), timed[0] if timed else None)
    versus = f"per instance vs N={base.n:,}" if base else "per instance vs base"
    lines = [f"# {scenario_name} · scaling sweep", "",
             f"Growth: **{verdict(exponent)}** (least-squares slope of log time vs log N over "
             f"N = {', '.join(f'{p.n:,}' for p in points)}).", "",
             f"![per-instance cost]({png.name})", "",
             "Rates as a fraction of each floor's (1.00x = as fast as the floor; harness/perf/floors.py): the minimal "
             "per-event orchestrator and set-based INSERTs, each measured on its own clone at the sample N shown, "
             "against the build's orchestrator timed again at that same N, side by side with the minimal one "
             "(minimal, build, build, minimal; the means), so that neither the size nor the order of "
             "measurement favours either. Per instance at the run's own N is the run's transaction. Replay "
             "(every event again, the `duplicate` path) and the real rollback are per instance and as a "
             "fraction of an `ok` call.", "",
             f"| N | invariants | calls (s) | per instance (us) | instances/s | {versus} | floor sample N "
             "| build at sample (us) | minimal orchestrator (us) | rate vs minimal | set-based (us) "
             "| rate vs set-based "
             "| replay (us) | replay / ok | rollback (us) | rollback / ok | harness work (s) "
             "| harness peak RSS so far (MB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        cells = [f"{p.n:,}", "PASS" if p.passed else "FAIL", f"{p.calls_s:.3f}", f"{p.per_instance_us:.1f}",
                 f"{p.instances_per_s:,.0f}",
                 f"{p.per_instance_us / base.per_instance_us:.2f}x" if base and p.calls_s else "-",
                 _or_dash(p.floor_n, "{:,}"), _or_dash(p.build_sample_us, "{:.1f}"),
                 _or_dash(p.minimal_us, "{:.1f}"), _or_dash(p.rate_vs_minimal, "{:.2f}x"),
                 _or_dash(p.floor_us, "{:.1f}"), _or_dash(p.rate_vs_set_based, "{:.2f}x"),
                 _or_dash(p.replay_us, "{:.1f}"), _or_dash(p.replay_vs_ok, "{:.2f}x"),
                 _or_dash(p.rollback_us, "{:.1f}"), _or_dash(p.rollback_vs_ok, "{:.2f}x"),
                 f"{p.harness_s:.3f}", _or_dash(p.peak_rss_mb, "{:.0f}")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Timings come from one run on a shared machine; read trends, not single digits.", ""]
    if check is not None:
        lines += ["## Checks", "", "| check | result | evidence |", "|---|---|---|",
                  f"| `{check.name}` | {check.verdict if check.passed is not False else '**FAIL**'} | "
                  f"{check.describe().split(': ', 1)[1]} |", ""]
    lines += extra_sections or []
    lines += [f"- {k}: {v}" for k, v in sorted(environment.items())] + [""]
    md = folder / f"{scenario_name}-sweep.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    (folder / f"{scenario_name}-sweep.json").write_text(json.dumps({
        "scenario": scenario_name, "growth_exponent": exponent, "verdict": verdict(exponent),
        "points": [{"n": p.n, "calls_s": p.calls_s, "per_instance_us": p.per_instance_us,
                    "instances_per_s": p.instances_per_s, "floor_s": p.floor_s, "floor_ratio": p.floor_ratio,
                    "floor_sample_n": p.floor_n, "floor_set_based_us": p.floor_us,
                    "floor_minimal_us": p.minimal_us, "build_at_sample_us": p.build_sample_us,
                    "rate_vs_set_based": p.rate_vs_set_based,
                    "rate_vs_minimal": p.rate_vs_minimal, "replay_per_instance_us": p.replay_us,
                    "replay_vs_ok": p.replay_vs_ok, "rollback_per_instance_us": p.rollback_us,
                    "rollback_vs_ok": p.rollback_vs_ok,
                    "harness_s": p.harness_s, "passed": p.passed, "peak_rss_mb": p.peak_rss_mb}
                   for p in points],
        "checks": [check.to_dict()] if check is not None else [],
        "environment": environment}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return md
