"""`iu-harness mutate`: its arguments, its progress bar and its exit code (the CLI only dispatches here).

Exit codes: 0 the score is at least --min-score and every missed mutant is a
reviewed equivalent; 1 otherwise; 2 it could not run (bad option, SQL that
does not load, no server, or a clean build that already fails its invariants).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.environment import describe_environment
from harness.errors import ConfigError
from harness.exit_codes import EXIT_INVARIANT_FAILED, EXIT_OK
from harness.mutate.campaign import (
    Campaign,
    MutateOptions,
    build_tests_of,
    changed_since,
    default_n,
    list_mutants,
    prepare,
    read_catalog,
    reused_outcomes,
    run_mutants,
    selected_mutants,
)
from harness.mutate.identity import oracle_digest
from harness.mutate.ledger import STREAM_SUFFIX, OutcomeStream, read_report_prior, read_stream_prior
from harness.mutate.merge import merge_reports
from harness.mutate.outcome import Outcome, Status
from harness.mutate.output import report_stem, write_reports
from harness.mutate.shard import parse_shard
from harness.scenarios.scenario import load_scenario
from harness.session import HarnessSession
from harness.terminal import styled

DEFAULT_SCENARIO = "scenarios/seed-50000x-03.toml"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"--min-score takes a percentage 0..100, got {text!r}")
    return value


def add_parser(commands: argparse._SubParsersAction, settings: argparse.ArgumentParser) -> None:
    mutate = commands.add_parser(
        "mutate", parents=[settings],
        help="mutation testing: plant faults in the build's functions and schema, report which the invariants miss")
    mutate.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                        help=f"scenario run against each mutant (default: {DEFAULT_SCENARIO})")
    mutate.add_argument("--n", type=_positive, default=None,
                        help="N of each run (default: the scenario's pinned N, else its smallest sweep size, "
                             "at most 100)")
    mutate.add_argument("--jobs", type=_positive, default=1,
                        help="mutants tested in parallel, one clone each (default 1)")
    mutate.add_argument("--shard", default=None,
                        help="I/K: test only shard I (0-based) of K, a deterministic round robin")
    mutate.add_argument("--function", dest="functions", nargs="+", default=[], metavar="NAME",
                        help="only these functions' mutants ('schema' for the schema mutants)")
    mutate.add_argument("--report-dir", default=None,
                        help="where reports go (default: --iu-report-dir / IU_HARNESS_REPORT_DIR, else reports)")
    mutate.add_argument("--min-score", type=_percent, default=0.0,
                        help="fail (exit 1) below this score in percent (default 0: only unexplained "
                             "survivors fail)")
    mutate.add_argument("--equivalents", type=Path, default=None,
                        help="TOML file of reviewed survivors (id + reason); default: "
                             "<sql-dir>/mutate-equivalents.toml when it exists")
    oracle = mutate.add_mutually_exclusive_group()
    oracle.add_argument("--build-tests", type=Path, default=None, metavar="DIR",
                        help="the build's own SQL tests, run on every mutant the invariants miss "
                             "(default: <sql-dir>/build-tests when it has *.sql tests)")
    oracle.add_argument("--no-build-tests", action="store_true",
                        help="run no build tests: score the invariants and probes alone")
    mutate.add_argument("--list", action="store_true",
                        help="print the mutant ids that would be tested and exit, running nothing")
    mutate.add_argument("--baseline-report", type=Path, default=None, metavar="FILE",
                        help="an earlier run's JSON report: mutants of targets whose identity (normalized "
                             "definition, harness, scenario, N, build tests) is unchanged take its outcomes, "
                             "marked carried; only the rest run")
    mutate.add_argument("--since", default=None, metavar="REF",
                        help="a git revision of the SQL dir: only the targets whose normalized definition changed "
                             "since then are mutated (with --baseline-report: only they may not be carried)")
    mutate.add_argument("--resume", action="store_true",
                        help=f"take the outcomes an interrupted run of the same selection streamed to "
                             f"<report>{STREAM_SUFFIX} and run only the rest")


def add_merge_parser(commands: argparse._SubParsersAction) -> None:
    merge = commands.add_parser(
        "mutate-merge",
        help="merge the JSON reports of `mutate --shard I/K` runs into one report (Markdown, JSON, HTML) and "
             "one exit code; refuses shards of different builds or runs, overlapping shards and gaps")
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json", help="the K shard reports")
    merge.add_argument("--report-dir", type=Path, default=Path("reports"),
                       help="where the merged report goes (default: reports)")


def _summary_line(campaign: Campaign, path: Path) -> str:
    score = campaign.score
    reused_text = f" · {campaign.carried} carried" if campaign.carried else ""
    reused_text += f" · {campaign.resumed} resumed" if campaign.resumed else ""
    return (f"{_describe(campaign.counts())}{reused_text} · score "
            f"{'-' if score is None else f'{score:.1f} %'} · {len(campaign.unexplained)} of "
            f"{len(campaign.missed)} undetected unexplained · {campaign.timings.get('mutants_s', 0.0):.1f} s · "
            f"report {path} (and .json, .html)")


def _verdict(campaign: Campaign, console: Console) -> int:
    """Prints the unexplained survivors and the score's verdict; the exit code."""
    options, score = campaign.options, campaign.score
    for outcome in campaign.unexplained:
        console.print(styled(("missed", "red"), f" {outcome.mutant.id}"))
    if campaign.stale_equivalents and not options.functions and options.shard is None:
        console.print(styled((f"{len(campaign.stale_equivalents)} stale entries in the equivalents file", "yellow"),
                             " (caught now, or no longer generated): listed in the report, to be removed"))
    if score is not None and score < options.min_score:
        console.print(styled((f"score {score:.1f} % is below --min-score {options.min_score:g} %", "red")))
    return EXIT_OK if campaign.passed else EXIT_INVARIANT_FAILED


def cmd_mutate_merge(args: argparse.Namespace, console: Console) -> int:
    campaign, environment = merge_reports(args.reports)
    path = write_reports(campaign, args.report_dir, environment)
    console.print(f"merged {len(args.reports)} reports: {len(campaign.outcomes)} mutants", markup=False)
    console.print(_summary_line(campaign, path), markup=False, highlight=False)
    return _verdict(campaign, console)


def _describe(counts: Counter[Status]) -> str:
    return " · ".join(f"{status.value} {counts[status]}" for status in
                      (Status.CAUGHT, Status.TIMEOUT, Status.MISSED, Status.NOT_COVERED, Status.UNVIABLE))


def _progress_line(done: int, total: int, outcome: Outcome) -> str:
    """One plain line per outcome, for logs (stdout not a terminal)."""
    took = " (carried)" if outcome.carried_from else f" {outcome.duration_s:.1f} s"
    return f"[{done}/{total}] {outcome.status.value} {outcome.mutant.id}{took}"


def cmd_mutate(args: argparse.Namespace, console: Console, session: HarnessSession) -> int:
    scenario = load_scenario(args.scenario)
    # Read before anything runs: a bad baseline is a bad option (exit 2), not a late surprise.
    baseline = read_report_prior(args.baseline_report) if args.baseline_report is not None else None
    if args.equivalents is not None and not args.equivalents.is_file():
        raise ConfigError(f"--equivalents {args.equivalents} is not a file",
                          fix="pass the reviewed equivalents TOML file, or leave the option out")
    if args.build_tests is not None and not any(args.build_tests.glob("*.sql")):
        raise ConfigError(f"--build-tests {args.build_tests} is not a directory of *.sql files",
                          fix="pass the directory of the build's own SQL tests, or leave the option out")
    options = MutateOptions(scenario=scenario, n=args.n, jobs=args.jobs,
                            shard=parse_shard(args.shard) if args.shard else None,
                            functions=tuple(args.functions), min_score=args.min_score,
                            equivalents=args.equivalents, build_tests=args.build_tests,
                            no_build_tests=args.no_build_tests, baseline_report=args.baseline_report,
                            resume=args.resume, since=args.since)
    report_dir = Path(args.report_dir) if args.report_dir else session.config.report_dir
    try:
        if args.list:
            catalog = read_catalog(session, scenario.baseline)
            narrow = None
            if options.baseline_report is None:
                oracle = oracle_digest(scenario, options.n or default_n(scenario), build_tests_of(session, options))
                narrow = changed_since(session, catalog, options, oracle)
            console.print(list_mutants(selected_mutants(catalog, options, narrow)), end="")
            return EXIT_OK
        environment = describe_environment(session)
        console.print(styled(("mutate", "bold"),
                             f" {scenario.name} at N={options.n or default_n(scenario)} · "
                             f"{environment['backend']} PostgreSQL {environment['server_version']} · "
                             f"sql-dir {environment['sql_dir']}"))
        campaign = prepare(session, options)
        tests = campaign.build_tests
        console.print(f"build tests: {len(tests.tests)} in {tests.directory}" if tests is not None else
                      "build tests: none (the invariants and probes are the only oracle)")
        console.print(f"clean build: PASS in {campaign.clean_s:.2f} s · {len(campaign.mutants)} of "
                      f"{campaign.all_mutants} mutants · statement_timeout {campaign.timeout_s:.1f} s · "
                      f"jobs {options.jobs}")
        if campaign.changed_since is not None:
            console.print(f"since {options.since}: {len(campaign.changed_since)} targets changed: "
                          f"{', '.join(sorted(campaign.changed_since)) or 'none'}", markup=False, highlight=False)
        stem = report_stem(options, campaign.n)
        stream_path = report_dir / f"{stem}{STREAM_SUFFIX}"
        resumed = read_stream_prior(stream_path) if options.resume else None
        reused = reused_outcomes(campaign, baseline, resumed)
        if baseline is not None or resumed is not None:
            carried = sum(1 for o in reused.values() if o.carried_from is not None)
            console.print(f"reused: {carried} carried from {baseline.origin if baseline else '-'}, "
                          f"{campaign.resumed} resumed from {resumed.origin if resumed else '-'}; "
                          f"{len(campaign.mutants) - len(reused)} of {len(campaign.mutants)} left to judge",
                          markup=False, highlight=False)
        elif options.resume:
            console.print(f"--resume: no stream at {stream_path}, starting afresh", markup=False, highlight=False)
        assert campaign.identity is not None
        stream = OutcomeStream(stream_path, {
            "identity": {"oracle": campaign.identity.oracle, "targets": campaign.identity.targets},
            "scenario": str(scenario.path), "n": campaign.n, "shard": list(options.shard) if options.shard else None,
            "functions": list(options.functions)}, reused.values())
        counts: Counter[Status] = Counter()
        total = len(campaign.mutants)
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console, transient=True, disable=not console.is_terminal) as progress:
                task = progress.add_task(_describe(counts), total=total)

                def advance(outcome: Outcome) -> None:
                    if outcome.mutant.id not in reused:  # those are in the stream already
                        stream.add(outcome)
                    counts[outcome.status] += 1
                    progress.update(task, advance=1, description=_describe(counts))
                    if not console.is_terminal:
                        console.print(_progress_line(counts.total(), total, outcome), markup=False,
                                      highlight=False, soft_wrap=True)

                run_mutants(session, campaign, advance, reused)
        finally:
            stream.close()
        path = write_reports(campaign, report_dir, environment, stem)
    finally:
        session.close()
    console.print(_summary_line(campaign, path), markup=False, highlight=False)
    return _verdict(campaign, console)
