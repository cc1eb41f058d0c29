"""Reports in the seeds' shape: Markdown a reviewer reads, and its JSON twin.

`render_markdown(result)` without timings is the deterministic part that the
syrupy snapshot holds; the written file appends the timings and environment,
which change from run to run and so never enter a snapshot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.invariants import InvariantResult
from harness.report_folder import refuse_if_held_elsewhere, retire_other_sweep
from harness.resources import FAIL, MEASURED, NOT_RUN, ResourceReport, ResourceRow
from harness.runner import RunResult
from harness.scenario import SPEC_TABLES

UNCHANGED_TABLES = ("iu", "iu_lifecycle_log", "iu_vector_sync_point")
PROVES = {
    "calls_all_ok": "Every one of the {n} orchestrator calls returned status 'ok' in one transaction.",
    "in_tx_rows_added": "Inside the transaction, lineage and the auto log grew by exactly {n}, all for the actor.",
    "gates_closed_in_tx": "The in-TX gate toggle closes both gates before COMMIT.",
    "lock_table_holds_at_target_n": "Extrapolated from the checkpoints of this transaction, the lock-table entries "
                                    "one transaction of the target N calls holds fit the server's shared lock "
                                    "table (locks per call under \"Resources per call\").",
    "backend_memory_holds_at_target_n": "Extrapolated from the checkpoints of this transaction, the memory one "
                                        "transaction of the target N calls keeps stays within the backend memory "
                                        "budget.",
    "digest_equality": "Instance digest == template digest for all {n} instances across the mix "
                       "(returned, logged, stored, and recomputed by the harness through fn_iu_manifest_digest), "
                       "with zero drift in the database; templates with different piece graphs have different "
                       "digests.",
    "digest_audit_view_agrees": "The build's own v_iu_digest_audit reports no less drift than the harness finds.",
    "probe_gated": "With either gate closed, a call answers 'gated' naming a closed gate and writes nothing.",
    "probe_bad_input": "Every kind of bad input SPEC names raises an error whose message names the argument "
                       "or value (not one SQLSTATE for all kinds) and writes nothing.",
    "probe_race": "Two sessions calling for the same fresh events at once get exactly one 'ok' and one "
                  "'duplicate' per idempotency key, with the same instance and no error.",
    "probe_digest_keyed_on_graph": "fn_iu_manifest_digest is keyed on the piece graph only, for instances and "
                                   "templates: another key and kind with the same pieces share the digest; another "
                                   "order, other positions or a changed content hash do not.",
    "answers_as_spec_derives": "Every 'ok' answer carries SPEC's keys, with the instance and idempotency keys SPEC "
                               "derives.",
    "spec_catalog": "SPEC section 1's tables, columns, unique keys, gate rows, signatures and views are all there.",
    "rows_match_calls": "Every call's log and lineage rows hold exactly that call's event, template, instance and "
                        "actor.",
    "probe_compose_and_lineage": "fn_iu_compose and fn_iu_collection_record_template_instance keep their gate, "
                                 "reuse the template's pieces and refuse taken keys, second lineage and bad origins.",
    "probe_rollback_spares_others": "The rollback spares other actors' rows (actors compared exactly), manual "
                                    "lineage and templates, is a dry run when called with the actor alone, counts "
                                    "exactly what it deletes, and answers 'noop' when there is nothing.",
    "probe_rollback_race": "Two concurrent rollbacks of one actor delete each row once and report it once, in "
                           "SPEC's order: sidecar log, lineage, instance collections, memberships.",
    "row_count_deltas": "Every SPEC table changed by exactly the expected delta; instances reuse template pieces "
                        "(no new iu rows).",
    "unchanged_tables_identical": "iu, lifecycle and vector tables are identical row for row, not just by count.",
    "instances_reuse_template_pieces": "Every instance's memberships are exactly its template's pieces, "
                                       "in the template's positions.",
    "gates_closed_after_commit": "A new session sees both gates closed after COMMIT.",
    "template_summary_counts": "The per-template observability view counts every instance of the run.",
    "build_extensions": "The build uses no extension but pgcrypto.",
    "events_view_rows": "The events view shows one row per sidecar log row, each of the run's events among them.",
    "pinned_seed_numbers": "The absolute numbers of the seed report are reproduced exactly.",
    "at_least_once_delivery": "With concurrent workers and events delivered twice, every event has exactly one "
                              "'ok'; each other delivery answered 'duplicate' naming the same instance.",
    "idempotent_replay": "Replaying all {n} events writes nothing and returns the original instances.",
    "rollback_dry_run_addressable": "The actor-scoped rollback addresses exactly this run's {n} instances "
                                    "in one call, and its dry run changes nothing.",
    "rollback_restores_pre_state": "The real rollback restores the pre-run database row for row and leaves "
                                   "every other actor's rows alone.",
}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _compact(evidence: dict[str, Any], limit: int = 240) -> str:
    text = json.dumps(evidence, sort_keys=True, separators=(", ", "="), default=str)
    text = text.replace('"', "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _view_line(check: InvariantResult | None, reasons: dict[str, str]) -> str:
    """The build's own digest audit view, beside the harness's line."""
    if check is None:
        return f"The build's v_iu_digest_audit: not compared ({reasons.get('digest_audit_view_agrees', 'not run')})."
    view = check.evidence.get("view", {})
    if "drift" not in view:
        return f"The build's v_iu_digest_audit: could not be read (`{_compact(check.evidence)}`)."
    agrees = "agrees" if check.passed else "**reports less than the harness finds**"
    return (f"The build's v_iu_digest_audit (`{view['column']}`, true = {view['true_means']}): "
            f"{view['drift']:,} / {view['ok']:,} / {view['total']:,}, {agrees}.")


def _probe_summary(name: str, ev: dict[str, Any]) -> str:
    """One line per probe, from its evidence."""
    if "check_raised" in ev:
        return f"the probe itself failed: {_compact(ev['check_raised'])}"
    if name == "probe_gated":
        cases = "; ".join(f"{label} → {c.get('status') or c.get('raised')} ({c.get('gate') or c.get('message')})"
                          for label, c in ev["cases"].items())
        return f"{cases}; database unchanged: {_fmt(ev['database_unchanged'])}"
    if name == "probe_bad_input":
        kinds = ", ".join(f"{kind} {'/'.join(states)}" for kind, states in ev["sqlstates_by_kind"].items())
        answered = ", ".join(ev.get("answered_instead_of_raising", {}))
        unclear = ", ".join(ev.get("unclear_messages", {}))
        return (f"{ev['raised']} of {ev['cases']} calls raised ({kinds}), {ev['messages_name_it']} naming the "
                f"argument or value; database unchanged: {_fmt(ev['database_unchanged'])}"
                + (f"; answered instead: {answered}" if answered else "")
                + (f"; unclear messages: {unclear}" if unclear else ""))
    if name == "probe_race":
        error = f"; second session error: {ev['second_session_error']}" if "second_session_error" in ev else ""
        return (f"{ev['events']} events, 2 sessions: {ev['one_ok_one_duplicate_same_instance']} with one ok + one "
                f"duplicate of the same instance; the second waited on the first's lock: "
                f"{_fmt(ev['second_session_waited_on_a_lock'])}; counts exact: {_fmt(ev['counts_exact'])}{error}")
    if name == "probe_compose_and_lineage":
        return "; ".join(f"{label}: {'yes' if c['passed'] else 'NO'}" for label, c in ev["cases"].items())
    if name == "probe_rollback_spares_others":
        spared = ", ".join(k for k, v in ev["spared"].items() if v)
        alone = f"actor alone → {ev['actor_alone']['status']}"
        if isinstance(ev["real"], dict):  # the build refused on the planted rows
            refused = ev["real"]["refused"]
            return (f"nothing to do → {ev['nothing_to_do']['status']}; {alone}; real run refused "
                    f"({refused['raised']}: {refused['message']}), changed nothing: "
                    f"{_fmt(ev['real']['changed_nothing'])}; held: {spared}")
        counts = ", ".join(f"{k} {v['would']}/{v['deleted']}/{v['disappeared']}" for k, v in ev["counts"].items())
        return (f"nothing to do → {ev['nothing_to_do']['status']}; {alone}; dry run / deleted / disappeared: "
                f"{counts}; held: {spared}")
    if name == "probe_rollback_race":
        counts = ", ".join(f"{k} {v['first']}+{v['second']}={v['disappeared']}" for k, v in ev["counts"].items())
        order = " → ".join(ev.get("delete_order", [])) or "nothing"
        return (f"{ev['events']} instances, 2 sessions → {' / '.join(map(str, ev['statuses']))}; the second waited "
                f"on the first's lock: {_fmt(ev['second_waited_on_a_lock'])}; deleted: {counts}; first's delete "
                f"order: {order}")
    if name == "probe_digest_keyed_on_graph":
        verdicts = {True: "yes", False: "NO", None: "not writable"}
        cases = "; ".join(f"{label}: {verdicts[c['passed']]}" for label, c in ev["cases"].items())
        return f"{ev['template']} ({ev['pieces']} pieces) {ev['template_digest']}; {cases}"
    return _compact(ev)


def _workers_driver(result: RunResult, gates: str) -> str:
    s, n = result.scenario, result.n
    facts = result.facts.get("workers", {})
    redelivered = facts.get("redelivered", round(n * s.redelivered))
    opened = (f"{gates} opened in one committed transaction before the workers start and closed after the last "
              "batch (the workers never touch the gate rows)" if s.gates == "committed" else
              f"{gates} opened and closed inside every batch (the batches queue on the gate rows)")
    return (f"{s.workers} concurrent workers, one session each: event seq goes to worker (seq - 1) % {s.workers}; "
            f"{redelivered:,} of the {n:,} events ({s.redelivered:.0%}) are delivered again to the next worker at "
            f"the same place in its stream (at-least-once, {n + redelivered:,} deliveries); each worker calls "
            f"fn_iu_auto_instantiate_from_event over its stream in seq order, {s.batch:,} events per transaction "
            f"(deadlocks and serialization failures retried); {opened} → in-TX checks after the last batch")


def _workers_timings(facts: dict[str, Any]) -> list[str]:
    """Throughput and what the workers waited on (sampled pg_stat_activity / pg_locks): not deterministic."""
    if not facts:
        return []
    waits = facts.get("lock_waits", {})
    out = [f"Workers: {facts['workers']} · batch {facts['batch']:,} · gates {facts['gates']} · "
           f"{facts['events_per_s']:,.0f} events/s over {facts['wall_s']:.3f} s · {facts['batches']:,} batches, "
           f"{facts['retries']} retried · lock waits in {waits.get('samples_with_a_waiting_worker', 0)} of "
           f"{waits.get('samples', 0)} samples", ""]
    if waits.get("top_waits"):
        out += _table(["Wait", "Lock", "Waiting statement", "Samples"],
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
    report: ResourceReport | None = result.facts.get("resources")
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
    return [*out, *_table(["Resource", "Per call", "At the target N", "Limit / note"], rows), ""]


def _resources_figures(result: RunResult) -> list[str]:
    """The figures behind the verdicts: values at each checkpoint, per call, at the target, limits."""
    report: ResourceReport | None = result.facts.get("resources")
    if report is None:
        return []
    rows = [[row.resource, row.unit, " / ".join("-" if v is None else f"{v:,}" for v in row.values) or "-",
             _per_call(row), "-" if row.at_target is None else f"{row.at_target:,.0f}",
             "-" if row.limit is None else f"{row.limit:,}", row.status]
            for row in report.rows]
    out = ["Resources per call, the figures (after " + ", ".join(f"{c:,}" for c in report.calls) + " calls):", ""]
    out += [*_table(["Resource", "Unit", "At the checkpoints", "Per call", f"At N={report.target_n:,}", "Limit",
                     "Result"], rows), ""]
    if report.capacity is not None:
        out += [f"Shared lock table (PostgreSQL {report.capacity.major}): {report.capacity.formula}. Fast-path "
                "relation locks (weak locks, up to 16 per backend) do not use it; advisory locks always do.", ""]
    return out


def verdict(result: RunResult) -> str:
    """PASS only when every invariant that ran held; says how many did not run."""
    word = "PASS" if result.passed else "FAIL"
    return f"{word}, {len(result.not_run)} not run" if result.not_run else word


def render_markdown(result: RunResult, *, timings: bool = False, environment: dict[str, Any] | None = None) -> str:
    s, n, facts = result.scenario, result.n, result.facts
    by_name = {r.name: r for r in result.results}
    out: list[str] = [f"# {s.name} · {s.title} · N={n:,} ({verdict(result)})", ""]
    out += [f"Scenario `{s.path.name}` · baseline `{s.baseline or 'schema only'}` · actor `{s.actor}` · "
            f"event_type `{s.event_type}` · emit_mode `{s.emit_mode}`", ""]

    if hasattr(s.baseline, "describe"):  # a generated world (harness/generated.py): say what it holds
        out += [f"Generated baseline {s.baseline.describe()}.", ""]  # type: ignore[union-attr]
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

    out += ["## Mix", ""]
    rows = [[item.template, item.kind, item.version, count, result.pieces.get(item.template, "?"),
             f"`{item.suffix}`", f"{item.suffix_for(1)} … {item.suffix_for(count)}" if count else "-"]
            for item, count in result.plan]
    out += [*_table(["Template", "Kind", "Version", "N", "Pieces", "Suffix pattern", "Suffixes"], rows), ""]

    out += ["## In-TX result", ""]
    calls = by_name.get("calls_all_ok")
    added = by_name.get("in_tx_rows_added")
    gates_tx = by_name.get("gates_closed_in_tx")
    if calls is None or added is None:
        committed = by_name.get("scenario_transaction_committed")
        out += [f"The scenario transaction did not commit: `{_compact(committed.evidence) if committed else '?'}`",
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
        out += [*_table(["Check", "Value"], rows), ""]

    out += _resources_section(result)

    if "post" in facts:
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
        out += [*_table(["Table", "Pre", "Post", "Delta", "Note"], rows), ""]
        if n and "iu_piece_membership" in tables:
            memb = tables["iu_piece_membership"]["delta"]
            out += [f"Memberships per instance: {memb:,} / {n:,} = {memb / n:.2f} on average.", ""]
        audit = facts["post"].get("digest_audit")  # absent when the run's writes did not commit
        if audit is not None:
            out += [f"digest_drift / digest_ok / total = {audit['drift']:,} / {audit['ok']:,} / {audit['total']:,} "
                    "(whole database, recomputed by the harness through fn_iu_manifest_digest)", ""]
            out += [_view_line(by_name.get("digest_audit_view_agrees"), result.not_run_reasons), ""]

    if facts.get("sample"):
        out += ["## Digest sample", ""]
        rows = [[r["template"], r["instance_key"], r["template_digest"], r["instance_digest"], r["match"]]
                for r in facts["sample"]]
        out += [*_table(["Template", "Instance key", "Template digest", "Instance digest", "Match"], rows), ""]

    summary = by_name.get("template_summary_counts")
    if summary is not None and "templates" in summary.evidence:
        out += ["## Per-template observability", "", "`v_iu_auto_instantiate_template_summary`, instance_count:", ""]
        rows = [[t, v["before"], v["after"], f"{v['delta']:+,}", f"{v['last_hour_delta']:+,}"]
                for t, v in summary.evidence["templates"].items()]
        out += [*_table(["Template", "Before", "After", "Delta", "Last-hour delta"], rows), ""]

    replay = by_name.get("idempotent_replay")
    if replay is not None:
        out += ["## Idempotency replay", ""]
        ev = replay.evidence
        if "replayed" in ev:
            out += [f"Replayed {ev['replayed']:,} events: {ev['duplicate']:,} returned `duplicate`, "
                    f"{ev['same_instance']:,} with the original instance id; counts unchanged: "
                    f"{_fmt(ev['counts_unchanged'])}; nothing written ({ev['written_read_by']}): "
                    f"{_fmt(ev['nothing_written'])}.",
                    ""]
        else:
            out += [f"The replay failed: `{_compact(ev)}`", ""]

    dry = facts.get("dry_run")
    if dry is not None or "rollback_dry_run_addressable" in by_name:
        out += ["## Actor-scoped rollback", "",
                f"`SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor('{s.actor}', true);`", ""]
        if dry is not None:
            rows = [[k, _fmt(v)] for k, v in dry["summary"].items() if k not in ("actor", "dry_run")]
            out += [*_table(["Field", "Value"], rows), ""]
            unchanged = not dry["written"] and dry["counts_unchanged"]
            out += [f"Post-dry-run database {'UNCHANGED' if unchanged else 'CHANGED'}: counts "
                    f"{'the same' if dry['counts_unchanged'] else 'changed'}, rows written (read by "
                    f"{dry['written_read_by']}): {_compact(dry['written']) if dry['written'] else 'none'}.", ""]
        real = facts.get("rollback")
        if real is not None:
            out += [f"`SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor('{s.actor}', false);`", ""]
            rows = [[k, _fmt(v)] for k, v in real["result"].items()]
            out += [*_table(["Field", "Value"], rows), ""]
            ok = by_name.get("rollback_restores_pre_state")
            if ok is not None:
                differing = ok.evidence.get("tables_differing_from_pre_run", [])
                out += ["After the real rollback every table equals its pre-run state row for row."
                        if not differing else f"After the real rollback these tables differ from the pre-run "
                                              f"state: {', '.join(differing)}.", ""]

    probes = [r for r in result.results if r.phase == "probe"]
    if probes:
        out += ["## Probes", "", "Calls a correct build must refuse or serialize; each leaves the database as it "
                "found it (a rolled-back transaction, or a throwaway clone for the race).", ""]
        rows = [[f"`{r.name}`", "PASS" if r.passed else "**FAIL**", _probe_summary(r.name, r.evidence)]
                for r in probes]
        rows += [[f"`{name}`", "NOT RUN", result.not_run_reasons.get(name, "")]
                 for name in result.not_run if name.startswith("probe_")]
        out += [*_table(["Probe", "Result", "What happened"], rows), ""]

    out += ["## Invariants", ""]
    rows = [[k + 1, f"`{r.name}`", "PASS" if r.passed else "**FAIL**", r.description]
            for k, r in enumerate(result.results)]
    rows += [[len(rows) + k + 1, f"`{name}`", "NOT RUN", result.not_run_reasons.get(name, "step skipped")]
             for k, name in enumerate(result.not_run)]
    out += [*_table(["#", "Invariant", "Result", "What it checks"], rows), ""]
    out += ["Evidence:", ""]
    out += [f"- `{r.name}`: {_compact(r.evidence, 400 if r.passed else 4000)}" for r in result.results] + [""]

    out += ["## What this proves", ""]
    proved = [PROVES.get(r.name, r.description).format(n=f"{n:,}") for r in result.results if r.passed]
    out += [f"- {line}" for line in proved] or ["- Nothing: no invariant held."]
    out += ["", "## What this does NOT prove", ""]
    sizes = result.scenario.all_sizes()
    larger = [x for x in sizes if x > n]
    out += [f"- N > {n:,}" + (f" (this scenario also runs N = {', '.join(f'{x:,}' for x in larger)}: see those "
                              "reports)." if larger else ".")]
    out += [f"- `{r.name}`: it FAILED (evidence above)." for r in result.results if not r.passed]
    out += [f"- `{name}`: not run in this report ({result.not_run_reasons.get(name, 'step skipped')})."
            for name in result.not_run]
    if "resources" in facts:
        out += [f"- A transaction of the target N = {facts['resources'].target_n:,} calls itself: its locks and "
                "memory are extrapolated from this run's checkpoints (tests/test_resources.py runs the target N, "
                "opt-in)."]
    if s.expect is not None and s.expect.n != n:
        out += [f"- The seed's pinned numbers: they are pinned at N={s.expect.n:,}, not checked at N={n:,}."]
    out += [f"- {line}" for line in s.not_proven]
    out += ["- Speed: timings depend on the machine and are kept out of this deterministic part.", ""]

    if timings:
        out += ["## Timings and environment (not part of the snapshot)", ""]
        t = result.timings
        if t.get("per_instance_us"):
            line = f"An `ok` call cost {t['per_instance_us']:,.1f} us per instance"
            if t.get("rate_vs_minimal"):
                line += (f"; at {int(t['floor_sample_n']):,} instances, timed side by side with the minimal "
                         f"orchestrator (minimal, build, build, minimal), the build cost "
                         f"{t['build_at_sample_per_instance_us']:,.1f} us and ran at {t['rate_vs_minimal']:.2f}x "
                         f"the minimal orchestrator's rate ({t['floor_minimal_per_instance_us']:,.1f} us) and "
                         f"{t['rate_vs_set_based']:.2f}x the set-based INSERTs' "
                         f"({t['floor_set_based_per_instance_us']:,.1f} us)")
            for name, label in (("replay", "a replayed (`duplicate`) call"), ("rollback", "the real rollback")):
                if f"{name}_per_instance_us" in t:
                    line += (f"; {label} {t[f'{name}_per_instance_us']:,.1f} us per instance "
                             f"({t[f'{name}_vs_ok']:.2f}x an `ok` call)")
            out += [line + ".", ""]
        rows = [[k, "-" if v is None else f"{v:,.4f}" if isinstance(v, float) else _fmt(v)]
                for k, v in sorted(result.timings.items())]
        rows += [[k, _fmt(v)] for k, v in sorted((environment or {}).items())]
        out += [*_table(["Measure", "Value"], rows), ""]
        out += _resources_figures(result)
        out += _workers_timings(facts.get("workers", {}))
    return "\n".join(out)


def to_json(result: RunResult, environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON twin (SPEC section 4): scenario, n, passed, invariants, counts, plus details."""
    facts = result.facts
    pre = facts.get("pre", {}).get("counts", {})
    post = facts.get("post", {}).get("counts", {})
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
        "digest_audit": facts.get("post", {}).get("digest_audit"),
        "digest_sample": facts.get("sample", []),
        "rollback_dry_run": facts.get("dry_run", {}).get("summary"),
        "rollback": facts.get("rollback", {}).get("result"),
        "workers": facts.get("workers"),
        "resources_per_call": (facts["resources"].to_dict() if "resources" in facts
                               else {"not_run": _resources_not_measured(result)}),
        "timings": result.timings,
        "check_seconds": facts.get("check_seconds", {}),
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
