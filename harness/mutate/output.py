"""The mutation report: Markdown for a reviewer, and JSON in Stryker's mutation-testing-report schema.

Markdown: the score (caught / (caught + missed)), counts per outcome and per
operator, a table per function, every missed mutant with its stable id and a
unified diff, the kill matrix (which invariant caught how many). JSON: schema
version 2 of https://github.com/stryker-mutator/mutation-testing-elements
(packages/report-schema), one "file" per function (its normalized definition)
plus one for the schema listing, so Stryker's viewers show it as they show a
JavaScript run.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from harness import __version__
from harness.mutate.campaign import Campaign, MutateOptions
from harness.mutate.discovery import ReadSummary
from harness.mutate.ledger import EXTENSION_KEY, outcome_record
from harness.mutate.operators import OPERATORS
from harness.mutate.outcome import STRYKER_STATUS, Outcome, Status, caught_by_build_tests_only, mutation_score
from harness.mutate.viewer import render_html

STATUS_ORDER = (Status.CAUGHT, Status.TIMEOUT, Status.MISSED, Status.NOT_COVERED, Status.UNVIABLE)


def report_stem(options: MutateOptions, n: int) -> str:
    stem = f"mutate-{options.scenario.name}-n{n}"
    if options.shard is not None:
        index, count = options.shard
        stem += f"-shard{index}of{count}"
    return stem


def _reuse_lines(campaign: Campaign) -> list[str]:
    """How many outcomes this run did not test itself, and where they came from."""
    origins = Counter(o.carried_from for o in campaign.outcomes if o.carried_from is not None)
    lines = []
    if origins:
        lines.append(f"Carried: {campaign.carried} outcomes of targets whose identity (normalized definition, "
                     "harness, scenario, N, build tests) is unchanged, not tested again: "
                     + "; ".join(f"{count} from `{origin}`" for origin, count in sorted(origins.items())) + ".")
    if campaign.changed_since is not None:
        changed = ", ".join(f"`{t}`" for t in sorted(campaign.changed_since)) or "none"
        lines.append(f"Since `{campaign.options.since}`: targets whose normalized definition changed: {changed}.")
    if campaign.resumed:
        lines.append(f"Resumed: {campaign.resumed} outcomes taken from this run's own interrupted stream.")
    return [" ".join(lines), ""] if lines else []


def _score(outcomes: list[Outcome]) -> str:
    score = mutation_score(sum(1 for o in outcomes if o.detected), sum(1 for o in outcomes if o.undetected))
    return "-" if score is None else f"{score:.1f} %"


def _read_record(read: ReadSummary) -> dict[str, Any]:
    return {"schemas": list(read.schemas), "mutated": list(read.mutated), "objects": read.objects,
            "leftOut": [list(item) for item in read.left_out]}


def read_from_record(record: dict[str, Any]) -> ReadSummary:
    return ReadSummary(tuple(record["schemas"]), tuple(record["mutated"]), int(record["objects"]),
                       tuple((name, reason) for name, reason in record["leftOut"]))


def _counts_row(outcomes: list[Outcome]) -> list[str]:
    counts = Counter(o.status for o in outcomes)
    return [str(counts[s]) for s in STATUS_ORDER] + [str(len(outcomes)), _score(outcomes)]


def _what_was_read(read: ReadSummary) -> list[str]:
    """The schemas discovery read, the targets mutated, and what was left out with the reason."""
    lines = ["", "## What was read", "",
             "Schemas the build created (catalogue compared with a fresh database's): "
             + ", ".join(f"`{s}`" for s in read.schemas) + ".", "",
             f"Targets mutated: {len(read.mutated)} functions (" + ", ".join(f"`{n}`" for n in read.mutated)
             + f"), and `schema` ({read.objects} constraints, indexes, NOT NULLs and triggers)."]
    if read.left_out:
        lines += ["", "Left out:", ""] + [f"- `{name}`: {reason}" for name, reason in read.left_out]
    else:
        lines += ["", "Left out: nothing."]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _oracle_lines(campaign: Campaign) -> list[str]:
    """Which oracles judged the mutants, and the score of the invariants and probes alone."""
    suite = campaign.build_tests
    if suite is None:
        return ["Oracle: the invariants and probes (no build tests).", ""]
    by_tests = sum(1 for o in campaign.outcomes if caught_by_build_tests_only(o))
    scored = campaign.detected + len(campaign.missed)
    alone = campaign.detected - by_tests
    alone_score = mutation_score(alone, scored - alone)
    alone_text = "-" if alone_score is None else f"{alone} / {scored} = {alone_score:.1f} %"
    return [f"Oracles: the invariants and probes on every mutant; then, on each mutant they all held for, the "
            f"build's own tests (`{suite.directory}`: {', '.join(f'`{n}`' for n in suite.names)}). Caught by the "
            f"build's tests alone: {by_tests}. Score of the invariants and probes alone: {alone_text}.", ""]


def render_markdown(campaign: Campaign, environment: dict[str, Any] | None = None) -> str:  # noqa: C901  (sections)
    options, outcomes = campaign.options, campaign.outcomes
    counts = campaign.counts()
    score = campaign.score
    verdict = "PASS" if campaign.passed else "FAIL"
    lines = [f"# Mutation testing: {options.scenario.name} at N={campaign.n} ({verdict})", ""]
    if environment:
        lines += [f"Build: sql-dir `{environment['sql_dir']}`, extra-sql `{environment['extra_sql']}`; "
                  f"{environment['backend']} PostgreSQL {environment['server_version']}.", ""]
    shard_text = f", shard {options.shard[0]}/{options.shard[1]}" if options.shard else ""
    functions_text = f", functions {', '.join(options.functions)}" if options.functions else ""
    lines += [
        f"Scenario `{options.scenario.path}` at N={campaign.n}; {len(campaign.mutants)} of "
        f"{campaign.all_mutants} mutants{shard_text}{functions_text}; jobs {options.jobs}. "
        f"The clean build passed ({campaign.clean_invariants} invariants"
        f"{', and its build tests' if campaign.build_tests else ''}) in {campaign.clean_s:.2f} s; "
        f"per-mutant statement_timeout {campaign.timeout_s:.1f} s.",
        "",
        f"**Score: caught / (caught + missed) = {campaign.detected} / {campaign.detected + len(campaign.missed)} = "
        f"{'-' if score is None else f'{score:.1f} %'}** (timeouts count as caught, not-covered mutants as "
        f"missed; unviable ones are not scored). Minimum: {options.min_score:g} %.",
        "",
        *_oracle_lines(campaign),
        *_reuse_lines(campaign),
        f"Missed (survived or not covered): {len(campaign.missed)}, of which "
        f"{len(campaign.missed) - len(campaign.unexplained)} reviewed equivalent "
        f"({campaign.equivalents_path or 'no equivalents file'}) and "
        f"**{len(campaign.unexplained)} unexplained**.",
        "",
        "| outcome | mutants |", "|---|---:|",
        *[f"| {s.value} | {counts[s]} |" for s in STATUS_ORDER],
        f"| total | {len(outcomes)} |",
        "",
        "## By operator", "",
        "| operator | caught | timeout | missed | not covered | unviable | total | score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_operator: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_operator[outcome.mutant.operator].append(outcome)
    for name in OPERATORS:
        if by_operator.get(name):
            lines.append(f"| `{name}` | " + " | ".join(_counts_row(by_operator[name])) + " |")
    by_target: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_target[outcome.mutant.target].append(outcome)
    lines += ["", "## By function", "",
              "| function | caught | timeout | missed | not covered | unviable | total | score |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| `{t}` | " + " | ".join(_counts_row(o)) + " |" for t, o in by_target.items()]
    lines += _what_was_read(campaign.read or campaign.catalog.read_summary())
    lines += ["", "## Kill matrix", "", "Which invariant (or run error) caught how many mutants; a mutant "
              "caught by several counts for each.", "", "| caught by | mutants |", "|---|---:|"]
    kills = Counter(name for o in outcomes if o.detected for name in o.caught_by)
    lines += [f"| `{name}` | {count} |" for name, count in sorted(kills.items(), key=lambda kv: (-kv[1], kv[0]))]
    covered = "not measured" if campaign.covered is None else ", ".join(f"`{f}`" for f in sorted(campaign.covered))
    lines += ["", f"Functions the clean run called (pg_stat_user_functions): {covered}."]
    uncovered: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status is Status.NOT_COVERED:
            uncovered[outcome.mutant.target].append(outcome)
    if uncovered:
        lines += ["", "## Not covered", "", "PL/pgSQL functions the scenario never calls: no check can see "
                  "their mutants, so none ran.", "", "| function | mutants | reviewed |", "|---|---:|---|"]
        for target, target_outcomes in uncovered.items():
            reasons = {o.equivalent_reason or "**unexplained**" for o in target_outcomes}
            lines.append(f"| `{target}` | {len(target_outcomes)} | {_cell('; '.join(sorted(reasons)))} |")
    lines += ["", "## Missed mutants", ""]
    survived = [o for o in campaign.missed if o.status is Status.MISSED]
    if not survived:
        lines.append("None.")
    for outcome in survived:
        mutant = outcome.mutant
        status = (f"reviewed equivalent: {outcome.equivalent_reason}" if outcome.equivalent_reason
                  else "**unexplained**")
        lines += [f"### `{mutant.id}`", "", f"{OPERATORS[mutant.operator].description}; {status}.", ""]
        if mutant.statement is not None:
            lines += [f"Applied: `{mutant.statement}`", ""]
        lines += ["```diff", mutant.diff(context=2).rstrip("\n"), "```", ""]
    if campaign.stale_equivalents and not options.functions and options.shard is None:
        lines += ["## Stale equivalents", "", "Listed in the equivalents file but not generated by this build, "
                  "or caught now (remove them, or the build changed):", ""]
        lines += [f"- `{i}`" for i in campaign.stale_equivalents]
        lines.append("")
    lines += ["## Every mutant", ""]
    for target, target_outcomes in by_target.items():
        lines += [f"### `{target}`", "", "| id | outcome | caught by / reason |", "|---|---|---|"]
        for outcome in target_outcomes:
            why = ", ".join(outcome.caught_by) if outcome.detected else (
                outcome.detail if outcome.status is Status.UNVIABLE else (outcome.equivalent_reason or ""))
            status = outcome.status.value + (" (carried)" if outcome.carried_from else "")
            lines.append(f"| `{_cell(outcome.mutant.id)}` | {status} | {_cell(why)[:200]} |")
        lines.append("")
    timings = campaign.timings
    per_mutant = timings.get("mutants_s", 0.0) / len(outcomes) if outcomes else 0.0
    lines += ["## Timings", "",
              f"Setup {timings.get('setup_s', 0.0):.2f} s, clean run {timings.get('clean_run_s', 0.0):.2f} s, "
              f"mutants {timings.get('mutants_s', 0.0):.1f} s ({per_mutant:.2f} s per mutant, jobs "
              f"{options.jobs}).", ""]
    return "\n".join(lines)


def _location(outcome: Outcome) -> dict[str, dict[str, int]]:
    (sl, sc), (el, ec) = outcome.mutant.location
    if (el, ec) == (sl, sc):  # an insertion: Stryker wants a non-empty span
        ec += 1
    return {"start": {"line": sl, "column": sc}, "end": {"line": el, "column": ec}}


def to_stryker(campaign: Campaign, environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report in Stryker's mutation-testing-report schema (version 2)."""
    files: dict[str, dict[str, Any]] = {}
    for outcome in campaign.outcomes:
        mutant = outcome.mutant
        key = f"iu_core/{mutant.target}.sql"
        entry = files.setdefault(key, {"language": "sql", "source": mutant.source.text, "mutants": []})
        status = "Ignored" if outcome.equivalent_reason else STRYKER_STATUS[outcome.status]
        reason = (f"reviewed equivalent: {outcome.equivalent_reason}" if outcome.equivalent_reason
                  else outcome.detail or ", ".join(outcome.caught_by))
        record: dict[str, Any] = {
            "id": mutant.id, "mutatorName": mutant.operator, "replacement": mutant.replacement,
            "location": _location(outcome), "status": status,
            "description": mutant.description or OPERATORS[mutant.operator].description,
            "duration": round(outcome.duration_s * 1000, 1),
        }
        if reason:
            record["statusReason"] = reason
        if outcome.detected:
            record["killedBy"] = list(outcome.caught_by)
        record[EXTENSION_KEY] = outcome_record(outcome)  # the schema allows extra keys: what rebuilds it
        entry["mutants"].append(record)
    low = int(campaign.options.min_score)
    options = campaign.options
    return {
        "$schema": "https://raw.githubusercontent.com/stryker-mutator/mutation-testing-elements/master/"
                   "packages/report-schema/src/mutation-testing-report-schema.json",
        "schemaVersion": "2",
        "thresholds": {"high": max(low, 80), "low": low},
        "files": files,
        "framework": {"name": "iu-harness mutate", "version": __version__},
        "config": {"scenario": str(options.scenario.path), "n": campaign.n, "jobs": options.jobs,
                   "shard": list(options.shard) if options.shard else None, "functions": list(options.functions),
                   "min_score": options.min_score, "since": options.since,
                   "equivalents": str(campaign.equivalents_path) if campaign.equivalents_path else None,
                   "statement_timeout_s": campaign.timeout_s,
                   "build_tests": str(campaign.build_tests.directory) if campaign.build_tests else None,
                   EXTENSION_KEY: summary_of(campaign, environment)},
        "performance": {"setup": round(campaign.timings.get("setup_s", 0.0) * 1000),
                        "initialRun": round(campaign.timings.get("clean_run_s", 0.0) * 1000),
                        "mutation": round(campaign.timings.get("mutants_s", 0.0) * 1000)},
        "system": {"ci": bool(os.environ.get("CI"))},
    }


def summary_of(campaign: Campaign, environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `mutate-merge` and `--baseline-report` need besides the mutants (the schema's config is
    free-form)."""
    identity = campaign.identity
    return {
        "harness": __version__,
        "scenarioName": campaign.options.scenario.name,
        "identity": {"oracle": identity.oracle, "targets": identity.targets} if identity else None,
        "allMutants": campaign.all_mutants,
        "selectedMutants": campaign.selected_total,
        "cleanInvariants": campaign.clean_invariants,
        "cleanRunS": round(campaign.clean_s, 3),
        "covered": sorted(campaign.covered) if campaign.covered is not None else None,
        "notMutated": [[t.source.name, t.problem or ""] for t in campaign.catalog.functions if t.syntax is None],
        "read": _read_record(campaign.read or campaign.catalog.read_summary()),
        "carried": campaign.carried,
        "resumed": campaign.resumed,
        "changedSince": sorted(campaign.changed_since) if campaign.changed_since is not None else None,
        "timings": {k: round(v, 3) for k, v in campaign.timings.items()},
        "buildTests": campaign.build_tests.names if campaign.build_tests else [],
        "environment": {k: environment[k] for k in ("backend", "server_version", "sql_dir", "extra_sql")
                        if k in environment} if environment else None,
        "order": [o.mutant.id for o in campaign.outcomes],
    }


def write_reports(campaign: Campaign, report_dir: Path, environment: dict[str, Any] | None = None,
                  stem: str | None = None) -> Path:
    """Write `<dir>/<stem>.md`, `.json` and `.html` (Stryker's viewer, self-contained); returns the
    Markdown path. `stem`: default `mutate-<scenario>-n<N>[-shardIofK]`."""
    report_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or report_stem(campaign.options, campaign.n)
    markdown = report_dir / f"{stem}.md"
    markdown.write_text(render_markdown(campaign, environment) + "\n", encoding="utf-8")
    report = to_stryker(campaign, environment)
    (report_dir / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    title = f"{campaign.options.scenario.name} at N={campaign.n}"
    (report_dir / f"{stem}.html").write_text(render_html(report, title), encoding="utf-8")
    return markdown
