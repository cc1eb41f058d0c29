"""Reports in the seeds' shape: Markdown a reviewer reads, and its JSON twin.

`render_markdown(result)` without timings is the deterministic part that the
syrupy snapshot holds; the written file appends the timings and environment,
which change from run to run and so never enter a snapshot.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checks.invariants import Invariant
from harness.checks.registry import all_checks
from harness.reports.folder import refuse_if_held_elsewhere, retire_other_sweep
from harness.reports.markdown import table
from harness.run.resources import FAIL, MEASURED, NOT_RUN, ResourceRow
from harness.run.results import InvariantResult, RunResult, WorkersFacts
from harness.spec import SPEC_TABLES
from harness.text import compact, fmt

UNCHANGED_TABLES = ("iu", "iu_lifecycle_log", "iu_vector_sync_point")


def _view_line(check: InvariantResult | None, reasons: dict[str, str]) -> str:
    """The build's own digest audit view, beside the harness's line."""
    if check is None:
        return f"The build's v_iu_digest_audit: not compared ({reasons.get('digest_audit_view_agrees', 'not run')})."
    view = check.evidence.get("view", {})
    if "drift" not in view:
        return f"The build's v_iu_digest_audit: could not be read (`{compact(check.evidence)}`)."
    agrees = "agrees" if check.passed else "**reports less than the harness finds**"
    return (f"The build's v_iu_digest_audit (`{view['column']}`, true = {view['true_means']}): "
            f"{view['drift']:,} / {view['ok']:,} / {view['total']:,}, {agrees}.")


def _probe_summary(check: Invariant | None, ev: dict[str, Any]) -> str:
    """One line per probe, from its evidence, in the probe's own words (`summarize`)."""
    if "check_raised" in ev:
        return f"the probe itself failed: {compact(ev['check_raised'])}"
    return check.summarize(ev) if check is not None and check.summarize is not None else compact(ev)


def _workers_driver(result: RunResult, gates: str) -> str:
    s, n = result.scenario, result.n
    facts = result.facts.workers
    redelivered = facts.redelivered if facts else round(n * s.redelivered)
    opened = (f"{gates} opened in one committed transaction before the workers start and closed after the last "
              "batch (the workers never touch the gate rows)" if s.gates == "committed" else
              f"{gates} opened and closed inside every batch (the batches queue on the gate rows)")
    return (f"{s.workers} concurrent workers, one session each: event seq goes to worker (seq - 1) % {s.workers}; "
            f"{redelivered:,} of the {n:,} events ({s.redelivered:.0%}) are delivered again to the next worker at "
            f"the same place in its stream (at-least-once, {n + redelivered:,} deliveries); each worker calls "
            f"fn_iu_auto_instantiate_from_event over its stream in seq order, {s.batch:,} events per transaction "
            f"(deadlocks and serialization failures retried); {opened} → in-TX checks after the last batch")


def _workers_timings(facts: WorkersFacts | None) -> list[str]:
    """Throughput and what the workers waited on (sampled pg_stat_activity / pg_locks): not deterministic."""
    if not facts:
        return []
    waits = facts.lock_waits
    out = [f"Workers: {facts.workers} · batch {facts.batch:,} · gates {facts.gates} · "
           f"{facts.events_per_s:,.0f} events/s over {facts.wall_s:.3f} s · {facts.batches:,} batches, "
           f"{facts.retries} retried · lock waits in {waits.get('samples_with_a_waiting_worker', 0)} of "
           f"{waits.get('samples', 0)} samples", ""]
    if waits.get("top_waits"):
        out += table(["Wait", "Lock", "Waiting statement", "Samples"],
                      [[w["wait"], w["lock"], f"`{w['statement']}`", w["samples"]] for w in waits["top_waits"]])
        out += [""]
    return out


def _resources_not_measured(result: RunResult) -> str:
    s = result.scenario
    if s.workers:
        return (f"NOT RUN: {s.workers} workers commit {s.batch:,} calls per transaction, so no one transaction "
                "makes the run's N calls; per-call resources are measured in the single-transaction scenarios")
    return ("NOT RUN: the scenario transaction failed before its checks (`scenario_transaction_committed` says "
            "how); the per-call figures are judged only on a transaction that made every call")


def _per_call(row: ResourceRow) -> str:
    if row.per_call is None:
        return "-" if row.status == NOT_RUN else "unknown"
    if row.per_call <= 0:
        return "0 (flat)"
    return f"{row.per_call:,.0f}" if row.unit == "bytes" else f"{row.per_call:,.2f}"


def _resources_section(result: RunResult) -> list[str]:
    """Per call, and the verdict at the target N: the exact part (bytes are in the timings part)."""
    out = ["## Resources per call", ""]
    report = result.facts.resources
    if report is None:
        return [*out, _resources_not_measured(result), ""]
    out += [f"Measured in the scenario transaction after {', '.join(f'{c:,}' for c in report.calls)} calls; "
            "per call = the smallest growth per call between the checkpoints after the first call; judged "
            f"at the target N = {report.target_n:,} ({report.target_from}).", ""]
    rows = []
    for row in report.rows:
        verdict_text = {FAIL: "**FAIL**", MEASURED: "measured, not judged"}.get(row.status, row.status)
        per_call = _per_call(row) if row.exact else ("(bytes: see timings)" if row.status != NOT_RUN else "-")
        rows.append([row.resource, per_call, verdict_text, row.reason if row.status in (NOT_RUN, MEASURED)
                     else f"{'over' if row.status == FAIL else 'within'} " + row.limit_source.split(":")[0]])
    return [*out, *table(["Resource", "Per call", "At the target N", "Limit / note"], rows), ""]


def _resources_figures(result: RunResult) -> list[str]:
    """The figures behind the verdicts: values at each checkpoint, per call, at the target, limits."""
    report = result.facts.resources
    if report is None:
        return []
    rows = [[row.resource, row.unit, " / ".join("-" if v is None else f"{v:,}" for v in row.values) or "-",
             _per_call(row), "-" if row.at_target is None else f"{row.at_target:,.0f}",
             "-" if row.limit is None else f"{row.limit:,}", row.status]
            for row in report.rows]
    out = ["Resources per call, the figures (after " + ", ".join(f"{c:,}" for c in report.calls) + " calls):", ""]
    out += [*table(["Resource", "Unit", "At the checkpoints", "Per call", f"At N={report.target_n:,}", "Limit",
                     "Result"], rows), ""]
    if report.capacity is not None:
        out += [f"Shared lock table (PostgreSQL {report.capacity.major}): {report.capacity.formula}. Fast-path "
                "relation locks (weak locks, up to 16 per backend) do not use it; advisory locks always do.", ""]
    return out


def _proved_line(check: Invariant | None, result: InvariantResult) -> str:
    """What a held check proves, in its own words (its description when it says nothing more)."""
    return check.proves if check is not None and check.proves else result.description


def verdict(result: RunResult) -> str:
    """PASS only when every invariant that ran held; says how many did not run."""
    word = "PASS" if result.passed else "FAIL"
    return f"{word}, {len(result.not_run)} not run" if result.not_run else word


def _head(report: RunReport) -> list[str]:
    """The title and what ran."""
    result = report.result
    s = report.result.scenario
    n = report.result.n
    out = [f"# {s.name} · {s.title} · N={n:,} ({verdict(result)})", ""]
    out += [f"Scenario `{s.path.name}` · baseline `{s.baseline or 'schema only'}` · actor `{s.actor}` · "
            f"event_type `{s.event_type}` · emit_mode `{s.emit_mode}`", ""]

    if hasattr(s.baseline, "describe"):  # a generated world (harness/scenarios/generated.py): say what it holds
        out += [f"Generated baseline {s.baseline.describe()}.", ""]  # type: ignore[union-attr]
    return out


def _driver(report: RunReport) -> list[str]:
    """How the events were delivered."""
    result = report.result
    s = report.result.scenario
    n = report.result.n
    by_name = report.by_name
    out: list[str] = []
    out += ["## Driver", ""]
    if s.driver:
        out += [f"Origin: `{s.driver}`", ""]
    gates = "iu_core.composer_enabled and iu_core.auto_instantiate_enabled"
    tail = ("post-commit verification → replay of every event → rollback dry run"
            + (" → real rollback." if "rollback_restores_pre_state" in by_name else "."))
    if s.workers:
        out += [_workers_driver(result, gates) + " → " + tail, ""]
    else:
        out += [f"Single transaction: BEGIN → open {gates} → fn_iu_auto_instantiate_from_event x {n:,} "
                f"({len(result.plan)} templates) → close both gates → in-TX verification → COMMIT → " + tail, ""]
    id_rules = sorted({"md5(scenario || ':' || template || ':' || i)::uuid" if m.event_id_base is None
                       else "the seed's synthetic ids (base + i)" for m, _ in result.plan})
    out += [f"Event ids: {'; '.join(id_rules)}. Idempotency key per call = "
            "md5(event_id || ':' || template_key || ':' || suffix).", ""]
    return out


def _mix(report: RunReport) -> list[str]:
    """The templates and their share of N."""
    result = report.result
    out: list[str] = []
    out += ["## Mix", ""]
    rows = [[item.template, item.kind, item.version, count, result.pieces.get(item.template, "?"),
             f"`{item.suffix}`", f"{item.suffix_for(1)} … {item.suffix_for(count)}" if count else "-"]
            for item, count in result.plan]
    out += [*table(["Template", "Kind", "Version", "N", "Pieces", "Suffix pattern", "Suffixes"], rows), ""]
    return out


def _in_tx(report: RunReport) -> list[str]:
    """What the scenario transaction held before COMMIT."""
    by_name = report.by_name
    out: list[str] = []
    out += ["## In-TX result", ""]
    calls = by_name.get("calls_all_ok")
    added = by_name.get("in_tx_rows_added")
    gates_tx = by_name.get("gates_closed_in_tx")
    if calls is None or added is None:
        committed = by_name.get("scenario_transaction_committed")
        out += [f"The scenario transaction did not commit: `{compact(committed.evidence) if committed else '?'}`",
                ""]
    else:
        ev = added.evidence
        rows = [["calls by status", ", ".join(f"{k}={v:,}" for k, v in calls.evidence["by_status"].items())],
                ["lineage", f"{ev['lineage']['in_tx']:,} ({ev['lineage']['before']:,} + {ev['lineage']['added']:,})"],
                ["auto_log", f"{ev['auto_log']['in_tx']:,} ({ev['auto_log']['before']:,} + "
                             f"{ev['auto_log']['added']:,})"],
                ["actor", f"{ev['actor']['name']} · lineage {ev['actor']['lineage_rows']:,} · "
                          f"log {ev['actor']['log_rows']:,}"]]
        if gates_tx is not None:
            rows += [[f"gate {g}", "closed" if v is False else f"OPEN ({v})"]
                     for g, v in gates_tx.evidence["gates"].items()]
        out += [*table(["Check", "Value"], rows), ""]
    return out


def _resources(report: RunReport) -> list[str]:
    """Per call, and the verdict at the target N."""
    result = report.result
    out: list[str] = []
    out += _resources_section(result)
    return out


def _post_commit(report: RunReport) -> list[str]:
    """The tables' deltas and the digest audit after COMMIT."""
    result = report.result
    n = report.result.n
    facts = report.result.facts
    by_name = report.by_name
    out: list[str] = []
    if facts.post is not None:
        out += ["## Post-TX invariants", ""]
        deltas = by_name.get("row_count_deltas")
        tables = deltas.evidence["tables"] if deltas else {}
        rows = []
        for t in SPEC_TABLES:
            if t not in tables:
                continue
            v = tables[t]
            note = "UNCHANGED" if v["delta"] == 0 and v["expected"] == 0 else ""
            if v["delta"] != v["expected"]:
                note = f"WRONG: expected {v['expected']:+,}"
            rows.append([t, v["before"], v["after"], f"{v['delta']:+,}", note])
        out += [*table(["Table", "Pre", "Post", "Delta", "Note"], rows), ""]
        if n and "iu_piece_membership" in tables:
            memb = tables["iu_piece_membership"]["delta"]
            out += [f"Memberships per instance: {memb:,} / {n:,} = {memb / n:.2f} on average.", ""]
        audit = facts.digest_audit  # absent when the run's writes did not commit
        if audit is not None:
            out += [f"digest_drift / digest_ok / total = {audit.drift:,} / {audit.ok:,} / {audit.total:,} "
                    "(whole database, recomputed by the harness through fn_iu_manifest_digest)", ""]
            out += [_view_line(by_name.get("digest_audit_view_agrees"), result.not_run_reasons), ""]
    return out


def _digest_sample(report: RunReport) -> list[str]:
    """The first instances' digests."""
    facts = report.result.facts
    out: list[str] = []
    if facts.sample:
        out += ["## Digest sample", ""]
        rows = [[r.template, r.instance_key, r.template_digest, r.instance_digest, r.match] for r in facts.sample]
        out += [*table(["Template", "Instance key", "Template digest", "Instance digest", "Match"], rows), ""]
    return out


def _template_summary(report: RunReport) -> list[str]:
    """The per-template view's counts."""
    by_name = report.by_name
    out: list[str] = []
    summary = by_name.get("template_summary_counts")
    if summary is not None and "templates" in summary.evidence:
        out += ["## Per-template observability", "", "`v_iu_auto_instantiate_template_summary`, instance_count:", ""]
        rows = [[t, v["before"], v["after"], f"{v['delta']:+,}", f"{v['last_hour_delta']:+,}"]
                for t, v in summary.evidence["templates"].items()]
        out += [*table(["Template", "Before", "After", "Delta", "Last-hour delta"], rows), ""]
    return out


def _replay(report: RunReport) -> list[str]:
    """Every event again: the duplicates."""
    by_name = report.by_name
    out: list[str] = []
    replay = by_name.get("idempotent_replay")
    if replay is not None:
        out += ["## Idempotency replay", ""]
        ev = replay.evidence
        if "replayed" in ev:
            out += [f"Replayed {ev['replayed']:,} events: {ev['duplicate']:,} returned `duplicate`, "
                    f"{ev['same_instance']:,} with the original instance id; counts unchanged: "
                    f"{fmt(ev['counts_unchanged'])}; nothing written ({ev['written_read_by']}): "
                    f"{fmt(ev['nothing_written'])}.",
                    ""]
        else:
            out += [f"The replay failed: `{compact(ev)}`", ""]
    return out


def _rollback(report: RunReport) -> list[str]:
    """The actor-scoped rollback: its dry run, then the real one."""
    s = report.result.scenario
    facts = report.result.facts
    by_name = report.by_name
    out: list[str] = []
    dry = facts.dry_run
    if dry is not None or "rollback_dry_run_addressable" in by_name:
        out += ["## Actor-scoped rollback", "",
                f"`SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor('{s.actor}', true);`", ""]
        if dry is not None:
            rows = [[k, fmt(v)] for k, v in dry.summary.items() if k not in ("actor", "dry_run")]
            out += [*table(["Field", "Value"], rows), ""]
            unchanged = not dry.written and dry.counts_unchanged
            out += [f"Post-dry-run database {'UNCHANGED' if unchanged else 'CHANGED'}: counts "
                    f"{'the same' if dry.counts_unchanged else 'changed'}, rows written (read by "
                    f"{dry.written_read_by}): {compact(dry.written) if dry.written else 'none'}.", ""]
        real = facts.rollback
        if real is not None:
            out += [f"`SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor('{s.actor}', false);`", ""]
            rows = [[k, fmt(v)] for k, v in real.result.items()]
            out += [*table(["Field", "Value"], rows), ""]
            ok = by_name.get("rollback_restores_pre_state")
            if ok is not None:
                differing = ok.evidence.get("tables_differing_from_pre_run", [])
                out += ["After the real rollback every table equals its pre-run state row for row."
                        if not differing else f"After the real rollback these tables differ from the pre-run "
                                              f"state: {', '.join(differing)}.", ""]
    return out


def _probes(report: RunReport) -> list[str]:
    """One row per probe, in its own words."""
    result = report.result
    checks = report.checks
    out: list[str] = []
    probes = [r for r in result.results if r.phase == "probe"]
    if probes:
        out += ["## Probes", "", "Calls a correct build must refuse or serialize; each leaves the database as it "
                "found it (a rolled-back transaction, or a throwaway clone for the race).", ""]
        rows = [[f"`{r.name}`", "PASS" if r.passed else "**FAIL**", _probe_summary(checks.get(r.name), r.evidence)]
                for r in probes]
        rows += [[f"`{name}`", "NOT RUN", result.not_run_reasons.get(name, "")]
                 for name in result.not_run if name.startswith("probe_")]
        out += [*table(["Probe", "Result", "What happened"], rows), ""]
    return out


def _invariants(report: RunReport) -> list[str]:
    """Every check's result and evidence."""
    result = report.result
    out: list[str] = []
    out += ["## Invariants", ""]
    rows = [[k + 1, f"`{r.name}`", "PASS" if r.passed else "**FAIL**", r.description]
            for k, r in enumerate(result.results)]
    rows += [[len(rows) + k + 1, f"`{name}`", "NOT RUN", result.not_run_reasons.get(name, "step skipped")]
             for k, name in enumerate(result.not_run)]
    out += [*table(["#", "Invariant", "Result", "What it checks"], rows), ""]
    out += ["Evidence:", ""]
    out += [f"- `{r.name}`: {compact(r.evidence, 400 if r.passed else 4000)}" for r in result.results] + [""]
    return out


def _what_it_proves(report: RunReport) -> list[str]:
    """What held proves, and what this report does not."""
    result = report.result
    s = report.result.scenario
    n = report.result.n
    facts = report.result.facts
    checks = report.checks
    out: list[str] = []
    out += ["## What this proves", ""]
    proved = [_proved_line(checks.get(r.name), r).format(n=f"{n:,}") for r in result.results if r.passed]
    out += [f"- {line}" for line in proved] or ["- Nothing: no invariant held."]
    out += ["", "## What this does NOT prove", ""]
    sizes = result.scenario.all_sizes()
    larger = [x for x in sizes if x > n]
    out += [f"- N > {n:,}" + (f" (this scenario also runs N = {', '.join(f'{x:,}' for x in larger)}: see those "
                              "reports)." if larger else ".")]
    out += [f"- `{r.name}`: it FAILED (evidence above)." for r in result.results if not r.passed]
    out += [f"- `{name}`: not run in this report ({result.not_run_reasons.get(name, 'step skipped')})."
            for name in result.not_run]
    if facts.resources is not None:
        out += [f"- A transaction of the target N = {facts.resources.target_n:,} calls itself: its locks and "
                "memory are extrapolated from this run's checkpoints (tests/test_resources.py runs the target N, "
                "opt-in)."]
    if s.expect is not None and s.expect.n != n:
        out += [f"- The seed's pinned numbers: they are pinned at N={s.expect.n:,}, not checked at N={n:,}."]
    out += [f"- {line}" for line in s.not_proven]
    out += ["- Speed: timings depend on the machine and are kept out of this deterministic part.", ""]
    return out


def _timings(report: RunReport, environment: dict[str, Any] | None) -> list[str]:
    """Timings and environment: never in the snapshot."""
    result = report.result
    facts = report.result.facts
    out: list[str] = []
    out += ["## Timings and environment (not part of the snapshot)", ""]
    times = result.all_timings()
    if times.get("per_instance_us"):
        line = f"An `ok` call cost {times['per_instance_us']:,.1f} us per instance"
        floors = result.floors
        if floors is not None and floors.rate_vs_minimal:
            line += (f"; at {floors.sample_n:,} instances, timed side by side with the minimal "
                     f"orchestrator (minimal, build, build, minimal), the build cost "
                     f"{floors.build_at_sample_us or 0.0:,.1f} us and ran at {floors.rate_vs_minimal:.2f}x "
                     f"the minimal orchestrator's rate ({floors.minimal_us or 0.0:,.1f} us) and "
                     f"{floors.rate_vs_set_based or 0.0:.2f}x the set-based INSERTs' "
                     f"({floors.set_based_us or 0.0:,.1f} us)")
        for name, label in (("replay", "a replayed (`duplicate`) call"), ("rollback", "the real rollback")):
            if f"{name}_per_instance_us" in times:
                line += (f"; {label} {times[f'{name}_per_instance_us']:,.1f} us per instance "
                         f"({times[f'{name}_vs_ok']:.2f}x an `ok` call)")
        out += [line + ".", ""]
    rows = [[k, "-" if v is None else f"{v:,.4f}" if isinstance(v, float) else fmt(v)]
            for k, v in sorted(times.items())]
    rows += [[k, fmt(v)] for k, v in sorted((environment or {}).items())]
    out += [*table(["Measure", "Value"], rows), ""]
    out += _resources_figures(result)
    out += _workers_timings(facts.workers)
    return out


@dataclass(frozen=True)
class RunReport:
    """The report model: a run's result with what every section looks up (its checks' results by name,
    the checks themselves for their own words)."""

    result: RunResult
    by_name: dict[str, InvariantResult]
    checks: dict[str, Invariant]

    @classmethod
    def of(cls, result: RunResult) -> RunReport:
        return cls(result, {r.name: r for r in result.results}, all_checks())


SECTIONS = (_head, _driver, _mix, _in_tx, _resources, _post_commit, _digest_sample, _template_summary, _replay,
            _rollback, _probes, _invariants, _what_it_proves)


def render_markdown(result: RunResult, *, timings: bool = False, environment: dict[str, Any] | None = None) -> str:
    """The report; without `timings`, the deterministic part the snapshot holds."""
    report = RunReport.of(result)
    out = [line for section in SECTIONS for line in section(report)]
    if timings:
        out += _timings(report, environment)
    return "\n".join(out)


def to_json(result: RunResult, environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON twin (SPEC section 4): scenario, n, passed, invariants, counts, plus details."""
    facts = result.facts
    pre = facts.pre.counts if facts.pre else {}
    post = facts.post.counts if facts.post else {}
    counts = {t: {"before": pre.get(t), "after": post.get(t),
                  "delta": (post[t] - pre[t]) if t in pre and t in post else None} for t in SPEC_TABLES}
    return {
        "scenario": result.scenario.name,
        "title": result.scenario.title,
        "n": result.n,
        "passed": result.passed,
        "baseline": result.scenario.baseline,
        "actor": result.scenario.actor,
        "mix": [{"template": m.template, "kind": m.kind, "version": m.version, "count": c,
                 "pieces": result.pieces.get(m.template), "suffix": m.suffix} for m, c in result.plan],
        "invariants": [r.to_dict() for r in result.results],
        "not_run": result.not_run,
        "not_run_reasons": result.not_run_reasons,
        "counts": counts,
        "digest_audit": facts.digest_audit.to_dict() if facts.digest_audit else None,
        "digest_sample": [dataclasses.asdict(row) for row in facts.sample],
        "rollback_dry_run": facts.dry_run.summary if facts.dry_run else None,
        "rollback": facts.rollback.result if facts.rollback else None,
        "workers": facts.workers.to_dict() if facts.workers else None,
        "resources_per_call": (facts.resources.to_dict() if facts.resources is not None
                               else {"not_run": _resources_not_measured(result)}),
        "timings": result.all_timings(),
        "check_seconds": facts.check_seconds,
        "environment": environment or {},
    }


def report_stem(result: RunResult) -> str:
    return f"{result.scenario.name}-n{result.n}"


def write_report(result: RunResult, report_dir: str | Path, environment: dict[str, Any] | None = None) -> Path:
    """Write `<dir>/<scenario>-n<N>.md` and `.json`; returns the Markdown path."""
    folder = Path(report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # Never beside a sweep of another run, never into a folder another run is writing this scenario to.
    refuse_if_held_elsewhere(folder, result.scenario.name)
    retire_other_sweep(folder, result.scenario.name, (environment or {}).get("run_id"))
    md = folder / f"{report_stem(result)}.md"
    md.write_text(render_markdown(result, timings=True, environment=environment) + "\n", encoding="utf-8")
    (folder / f"{report_stem(result)}.json").write_text(
        json.dumps(to_json(result, environment), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return md
