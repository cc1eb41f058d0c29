"""`iu-harness`: check a build's conformance, run scenario sweeps and write reports.

Exit codes a pipeline can trust: 0 every invariant held, 1 an invariant
failed, 2 the harness could not run (bad option, scenario, SQL or server).
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from harness.checks.conformance import conformance_rows
from harness.config import SETTINGS, HarnessConfig, resolve_config
from harness.databases.janitor import STALE, SweepResult, sweep
from harness.databases.sql_loader import BUNDLED_BASELINE_DIR
from harness.durations import format_duration, parse_duration
from harness.environment import describe_environment
from harness.errors import HarnessError, ScenarioError
from harness.exit_codes import EXIT_HARNESS_ERROR, EXIT_INTERRUPTED, EXIT_INVARIANT_FAILED, EXIT_OK
from harness.mutate import command as mutate_command
from harness.perf.floors import FLOOR_SAMPLE_N
from harness.perf.scaling import SweepPoint, growth_exponent, verdict
from harness.reports.ci import SUMMARY_COLUMNS, append_step_summary, summary_rows, sweep_summary_markdown
from harness.reports.folder import check_report_dir, hold_scenario
from harness.reports.matrix import VersionRun, invariant_names, matrix_exit_code, render_matrix, write_matrix_report
from harness.reports.run import verdict as report_verdict
from harness.reports.throughput import write_throughput_report
from harness.run.results import RunResult
from harness.run.sweep import Sweep, SweepOptions, run_sweep
from harness.scenarios.scenario import Scenario, discover_scenarios, load_scenario
from harness.servers.pg_binaries import version_labels
from harness.session import HarnessSession
from harness.terminal import PlainProgress, make_console, styled


def _positive_list(option: str) -> Callable[[str], tuple[int, ...]]:
    """argparse type for OPTION's comma-separated positive integers, each at most once."""
    def parse(text: str) -> tuple[int, ...]:
        try:
            sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{option} takes positive integers separated by commas, "
                                             f"got {text!r}") from exc
        if not sizes or any(n <= 0 for n in sizes):
            raise argparse.ArgumentTypeError(f"{option} takes positive integers separated by commas, got {text!r}")
        twice = sorted({n for n in sizes if sizes.count(n) > 1})
        if twice:
            raise argparse.ArgumentTypeError(f"{option} names {', '.join(f'{n:,}' for n in twice)} more than once "
                                             f"in {text!r}: each value is run once; list it once")
        return sizes
    return parse


def _positive(option: str) -> Callable[[str], int]:
    """argparse type for OPTION's one positive integer."""
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{option} takes a positive integer, got {text!r}")
        return value
    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, plus the way out when a value starting with '-' was read as an option."""

    def error(self, message: str) -> NoReturn:
        if "expected one argument" in message:
            message += " (a value that starts with '-' is read as an option: write it as --option=VALUE)"
        super().error(message)


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--older-than: {exc}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="iu-harness", description=__doc__.splitlines()[0])
    # The settings are accepted before or after the subcommand; the subcommand's copies
    # default to SUPPRESS so they never overwrite a value given before it.
    settings = _Parser(add_help=False)
    group = settings.add_argument_group("server and build under test")
    for setting in SETTINGS:
        help_text = f"{setting.help} [env: {setting.env}]"
        group.add_argument(setting.flag, dest=setting.key, default=argparse.SUPPRESS, help=help_text)
        parser.add_argument(setting.flag, dest=setting.key, default=None, help=argparse.SUPPRESS)
    # --debug, before or after the subcommand: an internal error prints its traceback too.
    parser.add_argument("--debug", action="store_true", help="print the traceback of an internal error")
    settings.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="print the traceback of an internal error")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[settings], help="run a scenario sweep and write reports",
                              epilog="exit codes: 0 every invariant held at every N, 1 an invariant (or the "
                                     "scaling check) failed, 2 the harness could not run (bad option, scenario, "
                                     "SQL or server)")
    run.add_argument("scenario", help="scenario file, e.g. scenarios/seed-50000x-03.toml")
    run.add_argument("--n", type=_positive_list("--n"), default=None,
                     help="N to run, comma-separated (default: the scenario's sweep, plus its slow_sweep "
                          "up to --iu-max-n)")
    run.add_argument("--report-dir", default=None,
                     help="where reports go (default: --iu-report-dir / IU_HARNESS_REPORT_DIR, else reports)")
    run.add_argument("--no-rollback", dest="rollback", action="store_false",
                     help="skip the real rollback step (its invariant is then reported NOT RUN)")
    run.add_argument("--no-floor", dest="floor", action="store_false",
                     help="skip timing the floors (set-based INSERTs and the minimal orchestrator, with "
                          "the build's orchestrator timed beside it)")
    run.add_argument("--floor-sample", type=_positive("--floor-sample"), default=FLOOR_SAMPLE_N, metavar="N",
                     help=f"time the floors, and the build's orchestrator beside the minimal one, at min(N of "
                          f"the run, this) instances (default {FLOOR_SAMPLE_N:,}); as large as the run's N "
                          "compares them at the very same N")
    run.add_argument("--workers", type=_positive_list("--workers"), default=None,
                     help="run the sweep once per K concurrent workers, e.g. 1,2 (overrides the scenario's "
                          "workers; writes <scenario>-k<K>-* reports and <scenario>-workers.md with throughput "
                          "per K)")

    check = commands.add_parser("check", parents=[settings],
                                help="load the build under test into a fresh database and print its conformance to "
                                     "SPEC section 1 (exit 0 conforms, 1 something missing or different, 2 could "
                                     "not run)")
    check.add_argument("--coverage", action="store_true",
                       help="print the traceability matrix instead (no server): each contract clause, the checks "
                            "that exercise it, the faults that prove them (exit 0 every clause covered or said "
                            "why not, 1 otherwise)")
    check.add_argument("--faults", type=Path, default=None, metavar="DIR",
                       help="with --coverage: the SPEC-only fault files (default: tests/faults of this checkout)")
    commands.add_parser("db", parents=[settings],
                        help="start the server, load the schema and every baseline, print provisioning times")
    mutate_command.add_parser(commands, settings)
    mutate_command.add_merge_parser(commands)
    prof = commands.add_parser("profile", parents=[settings],
                               help="profile one scenario at one N on a throwaway server with pg_stat_statements: "
                                    "per-statement, per-function and foreign-key costs per instance")
    prof.add_argument("scenario", help="scenario file, e.g. scenarios/scaleout-mixed.toml")
    prof.add_argument("--n", type=_positive("--n"), default=1000, help="instances (default 1000)")
    prof.add_argument("--minimal", action="store_true",
                      help="profile the minimal-orchestrator floor instead of the build's orchestrator")
    prof.add_argument("--top", type=_positive("--top"), default=25, help="statements shown per pass (default 25)")
    prof.add_argument("--parts", action="store_true",
                      help="also time the parts of a call alone (SET clauses, argument checks, JSON, digest, ids)")
    listing = commands.add_parser("list", help="list the scenarios of a folder")
    listing.add_argument("folder", nargs="?", default="scenarios")
    sweeping = commands.add_parser("sweep", parents=[settings],
                                   help="list the harness's databases on the server; drop those of runs "
                                        "that are gone")
    sweeping.add_argument("--dry-run", action="store_true", help="only list them; drop nothing")
    sweeping.add_argument("--older-than", type=_duration, default=None, metavar="DURATION",
                          help="age after which another host's databases are stale, e.g. 24h, 90m, 2d "
                               "(default: --iu-sweep-ttl / IU_HARNESS_SWEEP_TTL, else 24h)")
    return parser


def _session(args: argparse.Namespace) -> HarnessSession:
    return HarnessSession(resolve_config({s.key: getattr(args, s.key, None) for s in SETTINGS}))


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    began = time.perf_counter()
    scenario = load_scenario(args.scenario)
    config = resolve_config({s.key: getattr(args, s.key, None) for s in SETTINGS})
    sizes = args.n or scenario.sizes_within(config.max_n)
    report_dir = Path(args.report_dir) if args.report_dir else config.report_dir
    created = check_report_dir(report_dir, "--report-dir" if args.report_dir else "--iu-report-dir")
    if created:
        console.print(created)
    with hold_scenario(report_dir, scenario.name):  # one run at a time writes this scenario's reports here
        if len(config.pg) > 1:
            return _run_matrix(args, console, scenario, config, sizes, report_dir)
        results, points, _, held = _run_sweep(args, console, scenario, HarnessSession(config, max(sizes)), sizes,
                                              report_dir)
    append_step_summary(sweep_summary_markdown(f"{scenario.name}: invariants per N", results, points))
    console.print(f"whole command (every N, its invariants, probes, replay, rollbacks, floors and reports): "
                  f"{time.perf_counter() - began:,.1f} s")
    return EXIT_OK if held else EXIT_INVARIANT_FAILED


def _run_sweep(args: argparse.Namespace, console: Console, scenario: Scenario, session: HarnessSession,
               sizes: Sequence[int], report_dir: Path
               ) -> tuple[list[RunResult], list[SweepPoint], dict[str, Any], bool]:
    """The scenario at every N on one server (once per K of --workers): reports, sweep reports, scaling
    checks and summary tables; closes the session. The last value: every invariant and check held."""
    # --workers K,K...: the same events delivered by each K in turn (reports <scenario>-k<K>-n<N>).
    variants = [scenario] if not args.workers else [
        dataclasses.replace(scenario, workers=k, name=f"{scenario.name}-k{k}") for k in args.workers]
    sweeps: list[Sweep] = []
    environment: dict[str, Any] = {}
    try:
        console.print(styled((scenario.name, "bold"), f" · {scenario.title} · N = {', '.join(f'{n:,}' for n in sizes)}"
                             + (f" · workers K = {', '.join(map(str, args.workers))}" if args.workers else "")))
        environment = describe_environment(session)
        console.print(f"{environment['backend']} PostgreSQL {environment['server_version']} · "
                      f"sql-dir {environment['sql_dir']} · extra-sql {environment['extra_sql']}")
        _say_sweep(session, console)
        if session.server.placement_notice:
            console.print(session.server.placement_notice)
        for variant in variants:
            sweeps.append(_sweep(variant, sizes, args, session, report_dir, environment, console))
        if len(variants) > 1:
            path = write_throughput_report(scenario.name, [r for done in sweeps for r in done.runs],
                                           report_dir, environment)
            console.print(f"throughput per K: {path}")
    finally:
        session.close()

    held = bool(sweeps)
    for done in sweeps:
        _print_results(done.scenario, done.runs, done.points, console)
        held &= done.held
    all_results = [r for done in sweeps for r in done.runs]
    all_points = [p for done in sweeps for p in done.points]
    return all_results, all_points, environment, held


class _SweepProgress:
    """The sweep's progress: rich's bar on a terminal, plain lines in CI logs; a line per N as it finishes."""

    def __init__(self, console: Console, progress: Progress) -> None:
        self.console, self.progress = console, progress
        self.plain = PlainProgress(console)  # CI logs: rich's bar shows nothing there
        self.tasks: dict[int, TaskID] = {}

    def stage(self, n: int, stage: str, done: int, total: int) -> None:
        if n not in self.tasks:
            self.tasks[n] = self.progress.add_task(f"N={n:,} {stage}", total=n)
        self.progress.update(self.tasks[n], description=f"N={n:,} {stage}", completed=done, total=total)
        self.plain.update(f"N={n:,} {stage}", done, total)

    def note(self, text: str) -> None:
        self.console.print(text)

    def finished(self, result: RunResult, point: SweepPoint, report: Path) -> None:
        self.progress.remove_task(self.tasks.pop(result.n))
        speed = f"{point.instances_per_s:,.0f} instances/s" if point.calls_s else "no timing"
        self.console.print(styled(f"  N={result.n:,}: ", (report_verdict(result), "green" if result.passed else "red"),
                                  f" · {speed} · report {report}"))


def _sweep(scenario: Scenario, sizes: Sequence[int], args: argparse.Namespace, session: HarnessSession,
           report_dir: Path, environment: dict[str, Any], console: Console) -> Sweep:
    """One scenario at every N (harness/run/sweep.py), with progress: reports per N, the sweep report, scaling check."""
    options = SweepOptions(rollback=args.rollback, floors=args.floor, floor_sample=args.floor_sample)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        result = run_sweep(session, scenario, sizes, report_dir, environment, options,
                           _SweepProgress(console, progress))
    if result.report is not None:
        console.print(f"sweep: {verdict(growth_exponent(result.points))} · {result.report}")
        console.print(styled((result.scaling.describe(), "red" if result.scaling.passed is False else "")))
    return result


def _print_results(scenario: Scenario, results: list[RunResult], points: list[SweepPoint], console: Console) -> bool:
    """The one-screen table and every failure's evidence; True when every invariant held."""
    table = Table(title=f"{scenario.name}: invariants per N (rates as a fraction of each floor's)")
    for column in SUMMARY_COLUMNS:
        table.add_column(column)
    for row in summary_rows(results, points):
        table.add_row(*row)
    console.print(table)
    for result in results:
        for failure in result.failed:
            console.print(styled((f"N={result.n:,} {failure.name}", "red"),
                                 f": {failure.description}\n  evidence: {failure.evidence}"))
    return bool(results) and all(r.passed for r in results)


def _run_matrix(args: argparse.Namespace, console: Console, scenario: Scenario, config: HarnessConfig,
                sizes: Sequence[int], report_dir: Path) -> int:
    """The sweep on each version of --iu-pg, one server after another, then the matrix report."""
    labels = version_labels(config)  # resolves every version first: a missing one stops before any run
    runs: list[VersionRun] = []
    for spec, label in labels.items():
        console.rule(f"{label} ({spec})")
        run = VersionRun(label, spec)
        session = HarnessSession(dataclasses.replace(config, pg=(spec,)), max(sizes))
        try:
            run.results, run.points, run.environment, _ = _run_sweep(args, console, scenario, session, sizes,
                                                                    report_dir / label)
        except HarnessError as exc:  # this version could not run; the others still do
            run.error = str(exc)
            console.print(styled((f"{label}: could not run:", "red"), f" {exc}"))
        if run.results:
            append_step_summary(sweep_summary_markdown(f"{scenario.name} on {label}: invariants per N",
                                                       run.results, run.points))
        runs.append(run)
    matrix = write_matrix_report(scenario.name, scenario.title, runs, list(sizes), report_dir)
    table = Table(title=f"{scenario.name}: invariants x PostgreSQL version")
    table.add_column("invariant")
    for run in runs:
        table.add_column(f"{run.label} ({run.server_version})")
    for name in invariant_names(runs):
        table.add_row(name, *(run.status(name) for run in runs))
    console.print(table)
    costs = Table(title=f"{scenario.name}: microseconds per instance x PostgreSQL version")
    costs.add_column("N")
    for run in runs:
        costs.add_column(run.label)
    for n in sizes:
        costs.add_row(f"{n:,}", *(f"{c:,.1f}" if (c := run.per_instance_us(n)) else "-" for run in runs))
    console.print(costs)
    console.print(f"matrix: {matrix}")
    append_step_summary(render_matrix(scenario.name, scenario.title, runs, list(sizes)))
    return matrix_exit_code(runs)


def cmd_coverage(args: argparse.Namespace, console: Console) -> int:
    from harness.checks import traceability

    faults_dir = args.faults or traceability.DEFAULT_FAULTS
    if not faults_dir.is_dir():
        raise HarnessError(f"no fault files at {faults_dir}", checked="the folder of SPEC-only faults (*.sql)",
                           fix="run from a checkout of the repository, or pass --faults DIR")
    rows = traceability.current_matrix(faults_dir)
    wrong = traceability.problems([r.clause for r in rows], traceability.covers(),
                                  traceability.read_all_faults(faults_dir))
    table = Table(title="traceability: contract clause -> checks -> faults")
    for column in ("clause", "status", "checks (* proven by a fault)", "faults (caught by)", "note"):
        table.add_column(column, overflow="fold")
    for row in rows:  # Text cells: clause text and notes print verbatim, never as rich markup
        checks = ", ".join(c + ("*" if c in row.proven else "") for c in row.checks) or "none"
        faults = "\n".join(f"{f.file} ({', '.join(f.caught_by)})" for f in row.faults) or "none"
        style = "green" if row.status == "covered" else "yellow" if row.note else "red"
        table.add_row(Text(row.clause.id), Text(row.status, style=style), Text(checks), Text(faults),
                      Text(row.note))
    console.print(table)
    missing = [r.clause.id for r in rows if r.status in ("NO CHECK", "NO FAULT")]
    for problem in wrong:
        console.print(Text(problem, style="red"))
    counts = {s: sum(1 for r in rows if r.status == s) for s in dict.fromkeys(r.status for r in rows)}
    console.print(Text(" · ".join(f"{status}: {count}" for status, count in counts.items())))
    if missing or wrong:
        console.print(Text(f"{len(missing)} clause(s) without a check or a fault: {', '.join(missing)}", style="red"))
        return EXIT_INVARIANT_FAILED
    return EXIT_OK


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    if args.coverage:
        return cmd_coverage(args, console)
    session = _session(args)
    try:
        console.print(f"iu-harness check · {session.config.describe()}")
        database = session.pool.clone(None)
        with database.connect(autocommit=True) as conn:
            rows = conformance_rows(conn)
        session.pool.drop(database.name)
    finally:
        session.close()
    table = Table(title="conformance to SPEC section 1")
    for column in ("area", "item", "result", "detail", "how to fix"):
        table.add_column(column, overflow="fold")
    for row in rows:
        result = styled(("ok", "green") if row.ok else (row.status.upper(), "red"))
        table.add_row(row.area, row.item, result, row.detail, row.fix)
    console.print(table)
    failed = [row for row in rows if not row.ok]
    if failed:
        console.print(styled((f"{len(failed)} of {len(rows)} checks are missing or different", "red"),
                             ": " + "; ".join(row.item for row in failed)))
        return EXIT_INVARIANT_FAILED
    console.print(styled(("conforms", "green"), f": all {len(rows)} checks ok"))
    return EXIT_OK


def cmd_db(args: argparse.Namespace, console: Console) -> int:
    session = _session(args)
    try:
        began = time.perf_counter()
        server = session.server
        console.print(f"server: {server.describe()} ready in {time.perf_counter() - began:.2f} s")
        _say_sweep(session, console)
        for baseline in [None, *sorted(p.stem for p in BUNDLED_BASELINE_DIR.glob("*.sql"))]:
            template = session.pool.template(baseline)
            clone_began = time.perf_counter()
            database = session.pool.clone(baseline)
            clone_s = time.perf_counter() - clone_began
            with database.connect(autocommit=True) as conn:
                counts = conn.execute("""SELECT (SELECT count(*) FROM iu_core.iu),
                    (SELECT count(*) FROM iu_core.iu_piece_collection),
                    (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log)""").fetchone()
            assert counts is not None  # three scalar subqueries: always one row
            load_s = session.pool.timings.get(f"template_load_s[{baseline or 'schema'}]", 0.0)
            console.print(f"{baseline or 'schema only':>14}: template {template.name} loaded in {load_s:.2f} s, "
                          f"clone in {clone_s * 1000:.0f} ms; iu={counts[0]} collections={counts[1]} "
                          f"auto_log={counts[2]}")
            session.pool.drop(database.name)
    finally:
        session.close()
    return EXIT_OK


def cmd_mutate(args: argparse.Namespace, console: Console) -> int:
    return mutate_command.cmd_mutate(args, console, _session(args))


def cmd_mutate_merge(args: argparse.Namespace, console: Console) -> int:
    return mutate_command.cmd_mutate_merge(args, console)


def cmd_profile(args: argparse.Namespace, console: Console) -> int:
    from harness.perf import call_profile as profile

    config = resolve_config({s.key: getattr(args, s.key, None) for s in SETTINGS})
    result = profile.profile_scenario(config, load_scenario(args.scenario), args.n, minimal=args.minimal,
                                      top=args.top, parts=args.parts)
    profile.render(result, console)
    return EXIT_OK


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    scenarios = discover_scenarios(args.folder)
    if not scenarios:
        raise ScenarioError(f"{args.folder} holds no scenario file", checked=f"glob {args.folder}/*.toml",
                            fix="pass the folder of your scenario .toml files, e.g. scenarios")
    for scenario in scenarios:
        slow = f" (+ slow {', '.join(map(str, scenario.slow_sweep))})" if scenario.slow_sweep else ""
        console.print(f"{scenario.path}: {scenario.title} · baseline {scenario.baseline} · "
                      f"N {', '.join(map(str, scenario.sweep))}{slow}")
    return EXIT_OK


def _say_sweep(session: HarnessSession, console: Console) -> None:
    """The one line on what the start-of-run sweep dropped (nothing when nothing was stale)."""
    line = session.pool.sweep_stale().summary()
    if line:
        console.print(line)


def cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    session = _session(args)
    ttl = args.older_than or session.config.sweep_ttl
    try:
        where = session.server.describe()
        result: SweepResult = sweep(session.server, ttl=ttl, dry_run=args.dry_run, with_sizes=True)
    finally:
        session.close()
    table = Table(title=f"iu_harness_* databases on {where} (other hosts' TTL {format_duration(ttl)})")
    for column in ("database", "host", "pid", "age", "size", "connections", "verdict", "why"):
        table.add_column(column, no_wrap=column in ("database", "verdict"))  # whole names, for copy and paste
    for v in result.verdicts:
        size = v.row.size_bytes
        verdict = v.verdict
        if verdict == STALE:
            verdict = ("stale, would drop" if args.dry_run else
                       "stale, dropped" if v.row.name in result.dropped else "stale, NOT dropped")
        table.add_row(v.row.name, v.mark.host if v.mark else "-", str(v.mark.pid) if v.mark else "-",
                      format_duration(v.age) if v.age is not None else "-",
                      f"{size / 2**20:,.1f} MB" if size is not None else "-", str(v.row.connections),
                      verdict, result.not_dropped.get(v.row.name, v.reason))
    console.print(table)
    stale = len(result.stale)
    if args.dry_run:
        console.print(f"dry run: {stale} stale of {len(result.verdicts)} listed; nothing dropped")
    else:
        console.print(f"dropped {len(result.dropped)} of {stale} stale; {len(result.verdicts)} listed")
    for name, why in result.not_dropped.items():
        make_console(stderr=True).print(styled(("iu-harness: not dropped:", "red"), f" {name}: {why}"))
    return EXIT_HARNESS_ERROR if result.not_dropped else EXIT_OK


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through finally: the server stops, its folder goes


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = build_parser().parse_args(argv)
    console = make_console()
    errors = make_console(stderr=True)
    try:
        commands = {"run": cmd_run, "check": cmd_check, "db": cmd_db, "list": cmd_list, "mutate": cmd_mutate,
                    "mutate-merge": cmd_mutate_merge, "sweep": cmd_sweep, "profile": cmd_profile}
        return commands[args.command](args, console)
    except HarnessError as exc:
        errors.print(styled(("iu-harness: error:", "red"), f" {exc}"))
        return EXIT_HARNESS_ERROR
    except KeyboardInterrupt:
        errors.print("iu-harness: interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            errors.print(traceback.format_exc(), end="")
        errors.print(styled(("iu-harness: internal error:", "red"), f" {describe_internal_error(exc)}"))
        return EXIT_HARNESS_ERROR


def describe_internal_error(exc: BaseException) -> str:
    """What raised and where (the innermost frame), and how to see the rest."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (raised at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return (f"{type(exc).__name__}: {exc}{where}; fix: rerun with --debug for the traceback, "
            "and report it with the command line")


if __name__ == "__main__":
    sys.exit(main())
