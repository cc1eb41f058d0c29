"""`iu-harness`: check a build's conformance, run scenario sweeps and write reports.

Exit codes a pipeline can trust: 0 every invariant held, 1 an invariant
failed, 2 the harness could not run (bad option, scenario, SQL or server).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.config import SETTINGS, resolve_config
from harness.conformance import conformance_rows
from harness.environment import describe_environment, peak_rss_mb
from harness.errors import HarnessError
from harness.floor import FLOOR_KINDS, FLOOR_SAMPLE_N, FloorTiming, measure_floors
from harness.mutate import command as mutate_command
from harness.report import write_report
from harness.runner import RunResult, run_scenario
from harness.scaling import SweepPoint, growth_exponent, verdict, write_sweep_report
from harness.scenario import discover_scenarios, load_scenario
from harness.session import HarnessSession
from harness.sql_loader import BUNDLED_BASELINE_DIR

EXIT_OK, EXIT_INVARIANT_FAILED, EXIT_HARNESS_ERROR = 0, 1, 2


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--n takes positive integers separated by commas, got {text!r}") from exc
    if not sizes or any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError(f"--n takes positive integers separated by commas, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iu-harness", description=__doc__.splitlines()[0])
    # The settings are accepted before or after the subcommand; the subcommand's copies
    # default to SUPPRESS so they never overwrite a value given before it.
    settings = argparse.ArgumentParser(add_help=False)
    group = settings.add_argument_group("server and build under test")
    for setting in SETTINGS:
        help_text = f"{setting.help} [env: {setting.env}]"
        group.add_argument(setting.flag, dest=setting.key, default=argparse.SUPPRESS, help=help_text)
        parser.add_argument(setting.flag, dest=setting.key, default=None, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[settings], help="run a scenario sweep and write reports")
    run.add_argument("scenario", help="scenario file, e.g. scenarios/seed-50000x-03.toml")
    run.add_argument("--n", type=_sizes, default=None,
                     help="N to run, comma-separated (default: the scenario's sweep, plus its slow_sweep "
                          "up to --iu-max-n)")
    run.add_argument("--report-dir", default=None,
                     help="where reports go (default: --iu-report-dir / IU_HARNESS_REPORT_DIR, else reports)")
    run.add_argument("--no-rollback", dest="rollback", action="store_false",
                     help="skip the real rollback step (its invariant is then reported NOT RUN)")
    run.add_argument("--no-floor", dest="floor", action="store_false",
                     help="skip timing the floors (set-based INSERTs and the minimal orchestrator)")

    commands.add_parser("check", parents=[settings],
                        help="load the build under test into a fresh database and print its conformance to "
                             "SPEC section 1 (exit 0 conforms, 1 something missing or different, 2 could not run)")
    commands.add_parser("db", parents=[settings],
                        help="start the server, load the schema and every baseline, print provisioning times")
    mutate_command.add_parser(commands, settings)
    prof = commands.add_parser("profile", parents=[settings],
                               help="profile one scenario at one N on a throwaway server with pg_stat_statements: "
                                    "per-statement, per-function and foreign-key costs per instance")
    prof.add_argument("scenario", help="scenario file, e.g. scenarios/scaleout-mixed.toml")
    prof.add_argument("--n", type=int, default=1000, help="instances (default 1000)")
    prof.add_argument("--minimal", action="store_true",
                      help="profile the minimal-orchestrator floor instead of the build's orchestrator")
    prof.add_argument("--top", type=int, default=25, help="statements shown per pass (default 25)")
    prof.add_argument("--parts", action="store_true",
                      help="also time the parts of a call alone (SET clauses, argument checks, JSON, digest, ids)")
    listing = commands.add_parser("list", help="list the scenarios of a folder")
    listing.add_argument("folder", nargs="?", default="scenarios")
    return parser


def _session(args: argparse.Namespace) -> HarnessSession:
    return HarnessSession(resolve_config({s.key: getattr(args, s.key, None) for s in SETTINGS}))


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    scenario = load_scenario(args.scenario)
    session = _session(args)
    sizes = args.n or scenario.sizes_within(session.config.max_n)
    report_dir = Path(args.report_dir) if args.report_dir else session.config.report_dir
    results: list[RunResult] = []
    points: list[SweepPoint] = []
    began = time.perf_counter()
    try:
        console.print(f"[bold]{scenario.name}[/] · {scenario.title} · N = {', '.join(f'{n:,}' for n in sizes)}")
        environment = describe_environment(session)
        console.print(f"{environment['backend']} PostgreSQL {environment['server_version']} · "
                      f"sql-dir {environment['sql_dir']} · extra-sql {environment['extra_sql']}")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            for n in sizes:
                task = progress.add_task(f"N={n:,} provisioning", total=n)

                def advance(stage: str, done: int, total: int, task: int = task, n: int = n) -> None:
                    progress.update(task, description=f"N={n:,} {stage}", completed=done, total=total)

                database = session.pool.clone(scenario.baseline)
                result = run_scenario(database, scenario, n, rollback=args.rollback, progress=advance,
                                      pool=session.pool)
                session.pool.drop(database.name)
                floors: dict[str, FloorTiming] = {}
                if args.floor:
                    progress.update(task, description=f"N={n:,} floors (set-based INSERTs, minimal orchestrator, "
                                                      f"at {min(n, FLOOR_SAMPLE_N):,})")
                    floors, floor_failures = measure_floors(session.pool, scenario, n)
                    for kind, reason in floor_failures.items():
                        console.print(f"  N={n:,}: floor '{kind}' could not run on this build: {reason}")
                progress.remove_task(task)
                rss = peak_rss_mb()
                set_based, minimal = floors.get(FLOOR_KINDS[0]), floors.get(FLOOR_KINDS[1])
                point = SweepPoint(n, result.timings.get("calls_s", 0.0),
                                   set_based.per_instance_us if set_based else None, result.passed,
                                   result.timings.get("harness_s", 0.0), rss,
                                   minimal_us=minimal.per_instance_us if minimal else None,
                                   floor_n=min(n, FLOOR_SAMPLE_N) if floors else None,
                                   replay_us=result.timings.get("replay_per_instance_us"),
                                   rollback_us=result.timings.get("rollback_per_instance_us"))
                result.timings.update({"floor_s": point.floor_s or 0.0, "peak_rss_mb": rss})
                if floors:
                    result.timings.update({
                        "floor_sample_n": point.floor_n or 0,
                        "floor_set_based_per_instance_us": point.floor_us or 0.0,
                        "floor_minimal_per_instance_us": point.minimal_us or 0.0,
                        "rate_vs_set_based": point.rate_vs_set_based or 0.0,
                        "rate_vs_minimal": point.rate_vs_minimal or 0.0})
                path = write_report(result, report_dir, environment)
                results.append(result)
                points.append(point)
                speed = f"{point.instances_per_s:,.0f} instances/s" if point.calls_s else "no timing"
                console.print(f"  N={n:,}: {'[green]PASS[/]' if result.passed else '[red]FAIL[/]'} · "
                              f"{speed} · report {path}")
        if len(points) > 1:
            sweep = write_sweep_report(scenario.name, points, report_dir, environment)
            console.print(f"sweep: {verdict(growth_exponent(points))} · {sweep}")
    finally:
        session.close()

    table = Table(title=f"{scenario.name}: invariants per N (rates as a fraction of each floor's)")
    for column in ("N", "result", "failed invariants", "instances/s", "us/instance", "rate vs minimal",
                   "rate vs set-based", "replay/ok", "rollback/ok", "run (s)"):
        table.add_column(column)

    def fraction(value: float | None) -> str:
        return f"{value:.2f}x" if value else "-"

    for result, point in zip(results, points, strict=True):
        failed = ", ".join(r.name for r in result.failed) or "-"
        timed = point.calls_s > 0
        table.add_row(f"{result.n:,}", "PASS" if result.passed else "FAIL", failed,
                      f"{point.instances_per_s:,.0f}" if timed else "-",
                      f"{point.per_instance_us:.1f}" if timed else "-", fraction(point.rate_vs_minimal),
                      fraction(point.rate_vs_set_based), fraction(point.replay_vs_ok),
                      fraction(point.rollback_vs_ok), f"{result.timings.get('total_s', 0.0):.1f}")
    console.print(table)
    console.print(f"whole command (every N, its invariants, probes, replay, rollbacks, floors and reports): "
                  f"{time.perf_counter() - began:,.1f} s")
    for result in results:
        for failure in result.failed:
            console.print(f"[red]N={result.n:,} {failure.name}[/]: {failure.description}\n"
                          f"  evidence: {failure.evidence}")
    return EXIT_OK if results and all(r.passed for r in results) else EXIT_INVARIANT_FAILED


def cmd_check(args: argparse.Namespace, console: Console) -> int:
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
        result = "[green]ok[/]" if row.ok else f"[red]{row.status.upper()}[/]"
        table.add_row(row.area, row.item, result, row.detail, row.fix)
    console.print(table)
    failed = [row for row in rows if not row.ok]
    if failed:
        console.print(f"[red]{len(failed)} of {len(rows)} checks are missing or different[/]: "
                      + "; ".join(row.item for row in failed))
        return EXIT_INVARIANT_FAILED
    console.print(f"[green]conforms[/]: all {len(rows)} checks ok")
    return EXIT_OK


def cmd_db(args: argparse.Namespace, console: Console) -> int:
    session = _session(args)
    try:
        began = time.perf_counter()
        server = session.server
        console.print(f"server: {server.describe()} ready in {time.perf_counter() - began:.2f} s")
        for baseline in [None, *sorted(p.stem for p in BUNDLED_BASELINE_DIR.glob("*.sql"))]:
            template = session.pool.template(baseline)
            clone_began = time.perf_counter()
            database = session.pool.clone(baseline)
            clone_s = time.perf_counter() - clone_began
            with database.connect(autocommit=True) as conn:
                counts = conn.execute("""SELECT (SELECT count(*) FROM iu_core.iu),
                    (SELECT count(*) FROM iu_core.iu_piece_collection),
                    (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log)""").fetchone()
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


def cmd_profile(args: argparse.Namespace, console: Console) -> int:
    from harness import profile

    if args.n <= 0:
        raise HarnessError(f"--n must be positive, got {args.n}")
    config = resolve_config({s.key: getattr(args, s.key, None) for s in SETTINGS})
    result = profile.profile_scenario(config, load_scenario(args.scenario), args.n, minimal=args.minimal,
                                      top=args.top, parts=args.parts)
    profile.render(result, console)
    return EXIT_OK


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    for scenario in discover_scenarios(args.folder):
        slow = f" (+ slow {', '.join(map(str, scenario.slow_sweep))})" if scenario.slow_sweep else ""
        console.print(f"{scenario.path}: {scenario.title} · baseline {scenario.baseline} · "
                      f"N {', '.join(map(str, scenario.sweep))}{slow}")
    return EXIT_OK


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through finally: the server stops, its folder goes


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = build_parser().parse_args(argv)
    # Pipelines are not terminals: keep a wide, unwrapped layout there instead of rich's 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 140, soft_wrap=True)
    try:
        commands = {"run": cmd_run, "check": cmd_check, "db": cmd_db, "list": cmd_list, "mutate": cmd_mutate,
                    "profile": cmd_profile}
        return commands[args.command](args, console)
    except HarnessError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]iu-harness: error:[/] {exc}")
        return EXIT_HARNESS_ERROR
    except KeyboardInterrupt:
        Console(stderr=True).print("iu-harness: interrupted")
        return 130
    except Exception as exc:
        Console(stderr=True, highlight=False).print(
            f"[red]iu-harness: internal error:[/] {type(exc).__name__}: {exc}", soft_wrap=True)
        return EXIT_HARNESS_ERROR


if __name__ == "__main__":
    sys.exit(main())
