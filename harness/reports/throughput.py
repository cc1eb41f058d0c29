"""The throughput report of a sweep run once per K workers: `<scenario>-workers.md/.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.run.results import RunResult
from harness.run.workers import K_SCALING_TARGET, LOCK_BOUND_SHARE


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def write_throughput_report(scenario_name: str, results: list[RunResult], folder: Path,
                            environment: dict[str, Any]) -> Path:
    """`<scenario>-workers.md/.json`: events/s per K and N, the ratio to K = 1, and what the workers waited on.

    Where K = 2 falls short of 1.5x K = 1 it names the sampled lock waits (or none: then the
    shortfall is CPU, not locks). Shown, never asserted: a timing on a shared machine.
    """
    rows: list[dict[str, Any]] = []
    for result in results:
        facts = result.facts.workers
        rows.append({"workers": result.scenario.workers, "n": result.n, "passed": result.passed,
                     "events_per_s": facts.events_per_s if facts else 0.0, "wall_s": facts.wall_s if facts else 0.0,
                     "retries": facts.retries if facts else 0, "gates": result.scenario.gates,
                     "lock_waits": facts.lock_waits if facts else {}})
    base = {r["n"]: r["events_per_s"] for r in rows if r["workers"] == 1 and r["events_per_s"]}
    for row in rows:
        row["vs_k1"] = row["events_per_s"] / base[row["n"]] if row["n"] in base and row["events_per_s"] else None
    lines = [f"# {scenario_name} · throughput per K workers", "",
             "| K | N | invariants | events/s | vs K=1 | wall (s) | retried batches | samples with a lock wait |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        waits = r["lock_waits"]
        lines.append(f"| {r['workers']} | {r['n']:,} | {'PASS' if r['passed'] else 'FAIL'} | "
                     f"{r['events_per_s']:,.0f} | {_ratio(r['vs_k1'])} | "
                     f"{r['wall_s']:.3f} | {r['retries']} | {waits.get('samples_with_a_waiting_worker', 0)} of "
                     f"{waits.get('samples', 0)} |")
    lines += [""]
    for r in rows:
        if r["workers"] != 2 or r["vs_k1"] is None:
            continue
        if r["vs_k1"] >= K_SCALING_TARGET:
            lines += [f"N={r['n']:,}: K=2 delivers {r['vs_k1']:.2f}x K=1 (target {K_SCALING_TARGET}x): met.", ""]
            continue
        waits = r["lock_waits"]
        top = waits.get("top_waits", [])
        cause = "; ".join(f"{w['wait']} on {w['lock']} while `{w['statement']}` ({w['samples']} samples)"
                          for w in top)
        if waits.get("waiting_share", 0.0) < LOCK_BOUND_SHARE:
            cause = (f"a lock wait in only {waits.get('samples_with_a_waiting_worker', 0)} of "
                     f"{waits.get('samples', 0)} samples{' (' + cause + ')' if cause else ''}: not locks; the "
                     "workers compete for CPU (the cores are shared by both server backends, the harness and "
                     "whatever else runs on the machine)")
        lines += [f"N={r['n']:,}: K=2 delivers {r['vs_k1']:.2f}x K=1, short of {K_SCALING_TARGET}x. "
                  f"What the workers waited on: {cause}.", ""]
    lines += ["Gates: `committed` opens them once, committed, around the whole delivery (the workers never touch "
              "the gate rows); `in_tx` toggles them inside every batch, so batches queue on the gate rows.",
              "Timings come from one run on a shared machine; read trends, not single digits.", ""]
    lines += [f"- {k}: {v}" for k, v in sorted(environment.items())] + [""]
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / f"{scenario_name}-workers.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    (folder / f"{scenario_name}-workers.json").write_text(json.dumps(
        {"scenario": scenario_name, "target_k2_over_k1": K_SCALING_TARGET, "rows": rows,
         "environment": environment}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return md
