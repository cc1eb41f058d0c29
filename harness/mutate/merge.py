"""`iu-harness mutate-merge`: the K JSON reports of `--shard I/K` runs -> one report and one exit code.

Each shard report carries what rebuilds its outcomes (harness.mutate.ledger) and
its run's identity. The merge refuses, with the reason named:

- reports of different builds or oracles: a target hash, the oracle hash
  (harness, scenario, N, build tests), the selection (--function), the minimum
  score or the PostgreSQL version differ;
- shards that overlap (the same I twice, or one mutant in two reports) or
  leave a gap (some I of 0..K-1 missing, or a shard short of mutants).

The merged campaign is the unsharded one: shard I/K took every K-th mutant of
the selected list from position I, so the merge puts them back in that order,
and the Markdown, JSON and HTML reports are those an unsharded run writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checks.build_tests import BuildTest, BuildTests
from harness.errors import ConfigError
from harness.mutate.campaign import Campaign, MutateOptions
from harness.mutate.discovery import Catalog, FunctionTarget
from harness.mutate.equivalents import Reviewed, load_equivalents
from harness.mutate.identity import Identity
from harness.mutate.ledger import EXTENSION_KEY, outcome_from_record
from harness.mutate.mutant import Source
from harness.mutate.outcome import Outcome
from harness.mutate.output import read_from_record
from harness.scenarios.scenario import load_scenario

# config keys that must be equal in every shard (besides the identity)
SAME_CONFIG = ("scenario", "n", "functions", "min_score", "build_tests", "since")


@dataclass(frozen=True)
class ShardReport:
    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    identity: Identity
    shard: tuple[int, int]  # (0, 1) for an unsharded report
    outcomes: list[Outcome]


def read_shard_report(path: Path) -> ShardReport:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        config = report["config"]
        summary = config[EXTENSION_KEY]
        identity = Identity(summary["identity"]["oracle"], dict(summary["identity"]["targets"]))
        shard = tuple(config["shard"]) if config["shard"] else (0, 1)
        outcomes = [outcome_from_record(m[EXTENSION_KEY], entry["source"], str(path))
                    for entry in report["files"].values() for m in entry["mutants"]]
    except OSError as exc:
        raise ConfigError(f"mutate-merge: {path} cannot be read: {exc}",
                          fix="pass the mutate-*.json reports the shard runs wrote") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"mutate-merge: {path} is not a JSON report of `iu-harness mutate` (missing or bad {exc})",
                          checked="config.shard, config.iuHarness and each mutant's iuHarness record",
                          fix="pass the mutate-*.json reports the shard runs wrote, by this iu-harness") from exc
    # A report lists its mutants file by file; `order` is its run's order (the selected list's).
    position = {mutant_id: n for n, mutant_id in enumerate(summary["order"])}
    outcomes.sort(key=lambda o: position.get(o.mutant.id, len(position)))
    return ShardReport(path, config, summary, identity, (int(shard[0]), int(shard[1])), outcomes)


def _check_same(reports: Sequence[ShardReport]) -> None:
    first = reports[0]
    for other in reports[1:]:
        where = f"{first.path} and {other.path}"
        if other.identity.oracle != first.identity.oracle:
            raise ConfigError(f"mutate-merge: {where} were judged by different oracles "
                              "(harness version or code, scenario file, N or build tests differ)",
                              fix="merge only the shards of one run (same commit, scenario and options)")
        changed = sorted(name for name in set(first.identity.targets) | set(other.identity.targets)
                         if first.identity.targets.get(name) != other.identity.targets.get(name))
        if changed:
            raise ConfigError(f"mutate-merge: {where} are of different builds: "
                              f"{', '.join(changed)} differ", fix="merge only the shards of one build")
        for key in SAME_CONFIG:
            if other.config.get(key) != first.config.get(key):
                raise ConfigError(f"mutate-merge: {where} differ in {key} ({first.config.get(key)!r} vs "
                                  f"{other.config.get(key)!r})", fix="merge only the shards of one run")
        versions = (first.summary.get("environment", {}).get("server_version"),
                    other.summary.get("environment", {}).get("server_version"))
        if versions[0] != versions[1]:
            raise ConfigError(f"mutate-merge: {where} ran on PostgreSQL {versions[0]} and {versions[1]}",
                              fix="run every shard on the same PostgreSQL major")


def _check_partition(reports: Sequence[ShardReport]) -> int:
    """The shards are exactly 0..K-1 of one K, each complete; returns the selected total."""
    counts = {r.shard[1] for r in reports}
    if len(counts) != 1:
        raise ConfigError(f"mutate-merge: shards of different K: {sorted(counts)}",
                          fix="pass the K reports of one --shard I/K split")
    count = counts.pop()
    by_index: dict[int, Path] = {}
    for report in reports:
        index = report.shard[0]
        if index in by_index:
            raise ConfigError(f"mutate-merge: shard {index}/{count} given twice ({by_index[index]}, {report.path})",
                              fix="pass each shard's report once")
        by_index[index] = report.path
    missing = sorted(set(range(count)) - set(by_index))
    if missing:
        raise ConfigError(f"mutate-merge: shards {', '.join(f'{i}/{count}' for i in missing)} missing: "
                          f"the merge would leave a gap", fix="pass all K reports (or rerun the missing shards)")
    total = reports[0].summary["selectedMutants"]
    seen: dict[str, Path] = {}
    for report in reports:
        expected = len(range(report.shard[0], total, count))
        if len(report.outcomes) != expected:
            raise ConfigError(f"mutate-merge: {report.path} (shard {report.shard[0]}/{count}) has "
                              f"{len(report.outcomes)} outcomes, its share of {total} is {expected}: "
                              "an interrupted shard leaves a gap", fix="rerun that shard (--resume keeps its work)")
        for outcome in report.outcomes:
            if outcome.mutant.id in seen:
                raise ConfigError(f"mutate-merge: {outcome.mutant.id} is in {seen[outcome.mutant.id]} and "
                                  f"{report.path}: the shards overlap", fix="pass the K reports of one split")
            seen[outcome.mutant.id] = report.path
    return total


def merge_reports(paths: Sequence[Path]) -> tuple[Campaign, dict[str, Any] | None]:
    """The unsharded campaign the shard reports add up to, and the first shard's environment."""
    if not paths:
        raise ConfigError("mutate-merge: no reports given", fix="pass the K mutate-*-shardIofK.json reports")
    reports = [read_shard_report(p) for p in paths]
    _check_same(reports)
    total = _check_partition(reports)
    count = reports[0].shard[1]
    placed: dict[int, Outcome] = {}
    for report in reports:
        for j, outcome in enumerate(report.outcomes):
            placed[report.shard[0] + j * count] = outcome
    outcomes = [placed[i] for i in range(total)]
    first = reports[0]
    config, summary = first.config, first.summary
    equivalents_path = Path(config["equivalents"]) if config.get("equivalents") else None
    accepted = load_equivalents(equivalents_path) if equivalents_path and equivalents_path.is_file() else Reviewed()
    suite = None
    if config.get("build_tests"):
        suite = BuildTests(Path(config["build_tests"]), (), tuple(BuildTest(n, "") for n in summary["buildTests"]))
    options = MutateOptions(scenario=load_scenario(config["scenario"]), n=config["n"], jobs=config["jobs"],
                            functions=tuple(config["functions"]), min_score=config["min_score"],
                            equivalents=equivalents_path, build_tests=suite.directory if suite else None,
                            no_build_tests=suite is None, since=config.get("since"))
    not_mutated = [FunctionTarget(Source(name, "function", "", "sql"), name, None, problem or None)
                   for name, problem in summary["notMutated"]]
    timings = {key: sum(r.summary["timings"].get(key, 0.0) for r in reports)
               for key in ("setup_s", "clean_run_s", "mutants_s")}
    campaign = Campaign(options, config["n"], Catalog(not_mutated, Source("schema", "schema", "")), None,
                        max(r.summary["cleanRunS"] for r in reports),
                        max(r.config["statement_timeout_s"] for r in reports), [o.mutant for o in outcomes],
                        summary["allMutants"], equivalents_path, accepted,
                        set(summary["covered"]) if summary["covered"] is not None else None, suite,
                        outcomes=outcomes, timings=timings, identity=first.identity,
                        clean_invariants=summary["cleanInvariants"], selected_total=total,
                        resumed=sum(r.summary["resumed"] for r in reports),
                        changed_since=None if summary.get("changedSince") is None else set(summary["changedSince"]),
                        read=read_from_record(summary["read"]) if summary.get("read") else None)
    return campaign, summary.get("environment")
