"""A new user's first day, with bad input on purpose (issue 20): every error exact and printed
verbatim, checked up front, each run's reports its own, progress in logs.

Most cases stop before a server starts and call `harness.cli.main` in-process; those that need a
server run the real command (or the pytest session's server) once each.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli
from harness.config import BUNDLED_SQL_DIR, resolve_config
from harness.databases.pool import DatabasePool
from harness.databases.sql_loader import load_files, resolve_baseline
from harness.environment import describe_environment
from harness.errors import HarnessError, ScenarioError, SqlLoadError
from harness.mutate.equivalents import load_equivalents
from harness.reports.folder import refuse_if_held_elsewhere
from harness.reports.run import render_markdown, write_report
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario
from harness.servers import embedded
from harness.session import HarnessSession

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "iu-harness"
SEED = ROOT / "scenarios" / "seed-50000x-03.toml"
# What rich would have read as markup or emoji: a closing tag, an extra, a TOML table, a subscript, :x:.
BRACKETS = "x[/]y [pg16] [[mix]] (ARRAY[1,2])[i] :x:"


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def _scenario_variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = SEED.read_text()
    assert old in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1))
    return path


# -- 1. text from users and the database prints verbatim ----------------------------------------

@pytest.mark.parametrize("argv", [
    ["run", str(SEED)], ["check"], ["db"], ["mutate", str(SEED)], ["profile", str(SEED)], ["sweep"],
], ids=lambda argv: argv[0])
def test_every_command_prints_a_bracketed_setting_verbatim(argv: list[str], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / BRACKETS
    code, _, err = run_main(capsys, *argv, "--iu-sql-dir", str(folder))
    assert code == cli.EXIT_HARNESS_ERROR
    assert f"SQL dir {folder} (from --iu-sql-dir) is not a directory" in err, err


def test_list_prints_a_bracketed_folder_verbatim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "list", str(tmp_path / BRACKETS))
    assert code == cli.EXIT_HARNESS_ERROR and f"{tmp_path / BRACKETS} does not exist" in err, err


def test_a_scenario_error_keeps_its_toml_brackets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "nomix.toml"
    scenario.write_text(SEED.read_text().split("[[mix]]")[0])
    code, _, err = run_main(capsys, "run", str(scenario))
    assert code == cli.EXIT_HARNESS_ERROR and "expected at least one [[mix]] table" in err, err


def test_the_one_error_printer_and_the_internal_error_print_verbatim(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def fails_cleanly(args: object, console: object) -> int:
        raise HarnessError("PostgreSQL 16 is not installed", fix="pip install 'iu-harness[pg16]' " + BRACKETS)

    monkeypatch.setattr(cli, "cmd_sweep", fails_cleanly)
    code, _, err = run_main(capsys, "sweep")
    assert code == cli.EXIT_HARNESS_ERROR and f"fix: pip install 'iu-harness[pg16]' {BRACKETS}" in err, err

    def breaks(args: object, console: object) -> int:
        raise ValueError(BRACKETS)

    monkeypatch.setattr(cli, "cmd_sweep", breaks)
    code, _, err = run_main(capsys, "sweep")
    assert code == cli.EXIT_HARNESS_ERROR
    # 8: an unexpected exception names the file and line it came from, and how to see the traceback.
    assert f"internal error: ValueError: {BRACKETS} (raised at {__file__}:" in err, err
    assert "in breaks); fix: rerun with --debug" in err and "Traceback" not in err
    code, _, err = run_main(capsys, "--debug", "sweep")
    assert code == cli.EXIT_HARNESS_ERROR and "Traceback (most recent call last)" in err and BRACKETS in err


def test_database_text_with_brackets_prints_verbatim(tmp_path: Path) -> None:
    """The server's message and the statement, through the real command: no MarkupError, exit 2."""
    sql = tmp_path / "brackets.sql"
    sql.write_text(f"SELECT '[/]'::int AS \"{BRACKETS}\";\n")
    done = run_cli("run", str(SEED), "--no-floor", "--report-dir", str(tmp_path / "r"), "--iu-extra-sql", str(sql))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "MarkupError" not in done.stderr
    assert 'invalid input syntax for type integer: "[/]"' in done.stderr
    assert f"statement starts: SELECT '[/]'::int AS \"{BRACKETS}\";" in done.stderr, done.stderr


# -- 2. a build without what every check reads is told so before any baseline loads ---------------

def test_a_build_without_the_orchestrator_is_refused_before_the_baseline(tmp_path: Path) -> None:
    build = tmp_path / "build"
    shutil.copytree(BUNDLED_SQL_DIR, build)
    (build / "060_auto_instantiate.sql").unlink()
    done = run_cli("run", str(SEED), "--no-floor", "--report-dir", str(tmp_path / "r"), "--iu-sql-dir", str(build))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "lacks what every check reads: iu_core.fn_iu_auto_instantiate_from_event" in done.stderr, done.stderr
    assert "run `iu-harness check" in done.stderr and "baselines" not in done.stderr


# -- 3. --report-dir is checked before any work ----------------------------------------------------

@pytest.mark.parametrize("where", ["a file", "under /proc"])
def test_an_unwritable_report_dir_is_refused_up_front(where: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "afile" if where == "a file" else Path("/proc/iu-harness-day-one")
    (tmp_path / "afile").write_text("x")
    code, out, err = run_main(capsys, "run", str(SEED), "--report-dir", str(target))
    assert code == cli.EXIT_HARNESS_ERROR
    assert f"report folder {target} (from --report-dir)" in err and "fix: pass --report-dir a folder" in err, err
    assert "internal error" not in err and "Phase E" not in out  # refused before the run began


def test_a_report_dir_is_created_one_level_deep_and_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "missing" / "reports"
    code, out, err = run_main(capsys, "run", str(SEED), "--n", "3000000000", "--report-dir", str(deep))
    assert code == cli.EXIT_HARNESS_ERROR and f"its parent {deep.parent} does not exist" in err, err
    assert not deep.parent.exists()
    code, out, err = run_main(capsys, "run", str(SEED), "--n", "3000000000", "--report-dir", str(deep.parent))
    assert f"report folder {deep.parent} did not exist: created" in out and deep.parent.is_dir()


@pytest.mark.parametrize("where", ["a file", "under /proc"])
def test_pytest_refuses_an_unwritable_iu_report_dir_before_any_test(where: str, tmp_path: Path) -> None:
    target = tmp_path / "afile" if where == "a file" else Path("/proc/iu-harness-day-one")
    (tmp_path / "afile").write_text("x")
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/test_scaleout.py", "-q", "-p", "no:cacheprovider",
                           "--iu-report-dir", str(target)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert f"report folder {target} (from --iu-report-dir)" in done.stderr, done.stderr
    assert "fix: pass --iu-report-dir a folder" in done.stderr and "passed" not in done.stdout


# -- 4. each run's reports its own ------------------------------------------------------------------

def _run_id(path: Path) -> str:
    return json.loads(path.read_text())["environment"]["run_id"]


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_writes(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    first = subprocess.Popen([str(CLI), "run", str(SEED), "--n", "20,40", "--no-floor", "--report-dir", str(reports)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        first.stdout.readline()  # its first line comes after it claimed the folder
        second = run_cli("run", str(SEED), "--n", "20", "--no-floor", "--report-dir", str(reports))
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2 and f"another run (pid {first.pid}) is writing seed-50000x-03's reports" in \
        second.stderr, second.stdout + second.stderr
    assert first.returncode == 0, out + err
    run_id = _run_id(reports / "seed-50000x-03-sweep.json")
    assert {_run_id(reports / f"seed-50000x-03-n{n}.json") for n in (20, 40)} == {run_id}
    assert f"run_id: {run_id}" in (reports / "seed-50000x-03-sweep.md").read_text()
    assert f"| run_id | {run_id} |" in (reports / "seed-50000x-03-n20.md").read_text()


def test_per_n_reports_of_another_run_retire_the_sweep_beside_them(
        tmp_path: Path, iu_session: HarnessSession, iu_db_factory, iu_pool: DatabasePool) -> None:
    """`make run` then `make test`: the CLI writes a sweep, then the pytest plugin per-N reports."""
    reports = tmp_path / "reports"
    done = run_cli("run", str(SEED), "--n", "20,40", "--no-floor", "--report-dir", str(reports))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (reports / "seed-50000x-03-sweep.png").exists()
    scenario = load_scenario(SEED)
    result = run_scenario(iu_db_factory(scenario.baseline), scenario, 20, pool=iu_pool)
    environment = describe_environment(iu_session)
    write_report(result, reports, environment)
    assert not list(reports.glob("seed-50000x-03-sweep.*"))  # it described the other run's n20
    assert _run_id(reports / "seed-50000x-03-n20.json") == environment["run_id"] != \
        _run_id(reports / "seed-50000x-03-n40.json")
    assert environment["run_id"] not in render_markdown(result)  # never in the snapshot part


def test_a_single_n_run_retires_an_older_sweep(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    assert run_cli("run", str(SEED), "--n", "20,40", "--no-floor", "--report-dir", str(reports)).returncode == 0
    done = run_cli("run", str(SEED), "--n", "20", "--no-floor", "--report-dir", str(reports))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(reports.glob("seed-50000x-03-sweep.*"))


# -- 6. an N the disk cannot hold is refused before the server writes ----------------------------

def test_an_absurd_n_is_refused_with_the_figures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_main(capsys, "run", str(SEED), "--n", "3000000000", "--report-dir", str(tmp_path))
    assert code == cli.EXIT_HARNESS_ERROR
    assert "runs up to N=3,000,000,000 need about 23,437,596 MB" in err and "MB free" in err, err
    assert "fix: run a smaller N (about" in err


# -- 7. no silent successes ------------------------------------------------------------------------

def test_pins_at_an_n_no_sweep_runs_are_refused(tmp_path: Path) -> None:
    path = _scenario_variant(tmp_path, "pins", "n = 20\n", "n = 21\n")
    with pytest.raises(ScenarioError, match=r"field expect.n: expected an N of sweep or slow_sweep \[20\]"):
        load_scenario(path)


def test_a_version_other_than_the_template_keys_is_refused(tmp_path: Path) -> None:
    path = _scenario_variant(tmp_path, "v7", 'version = "v1"', 'version = "v7"')
    with pytest.raises(ScenarioError, match=r"field mix\[0\].version: expected 'v1'"):
        load_scenario(path)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--n", "20,20", "--n names 20 more than once"),
    ("--workers", "0", "--workers takes positive integers"),
])
def test_list_options_name_themselves_and_refuse_repeats(option: str, value: str, message: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", str(SEED), option, value])
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_list_of_a_missing_or_empty_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "list", "/nonexistent")
    assert code == cli.EXIT_HARNESS_ERROR and "scenario folder /nonexistent does not exist" in err
    code, _, err = run_main(capsys, "list", str(tmp_path))
    assert code == cli.EXIT_HARNESS_ERROR and f"{tmp_path} holds no scenario file" in err


def test_an_emit_mode_the_build_refuses_is_a_malformed_scenario(tmp_path: Path) -> None:
    path = _scenario_variant(tmp_path, "emit", 'emit_mode = "live"', 'emit_mode = "lvie"')
    done = run_cli("run", str(path), "--no-floor", "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "field scenario.emit_mode: the build refuses 'lvie'" in done.stderr and "while it takes 'live'" in \
        done.stderr, done.stderr


# -- 7 (--no-rollback) and 9: the terminal says what the report says; logs get progress ------------

def test_a_piped_run_prints_progress_and_the_reports_verdict(tmp_path: Path) -> None:
    done = run_cli("run", str(SEED), "--no-floor", "--no-rollback", "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "N=20: PASS, 1 not run" in done.stdout  # as the report's heading says
    assert "(PASS, 1 not run)" in (tmp_path / "seed-50000x-03-n20.md").read_text().splitlines()[0]
    # 10: the README's count of a default report's invariants is this run's.
    report = json.loads((tmp_path / "seed-50000x-03-n20.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert f"one row per named invariant ({len(report['invariants']) + len(report['not_run'])} by default" in readme
    progress = [line for line in done.stdout.splitlines() if line.startswith("  progress: N=20")]
    assert any("provisioning" in line for line in progress), done.stdout
    assert any("/20 · " in line and "s elapsed" in line for line in progress), done.stdout


# -- 8. wording and position -----------------------------------------------------------------------

def test_a_plpgsql_syntax_error_names_its_own_line(tmp_path: Path, iu_db_factory) -> None:
    lines = ["-- header", "CREATE OR REPLACE FUNCTION public.day_one_bad() RETURNS int LANGUAGE plpgsql AS $$",
             "DECLARE x int := 0;", "BEGIN"]
    lines += ["  x := x + 1;"] * (144 - len(lines))
    lines += ["  x := x + ;", "  RETURN x;", "END $$;"]
    sql = tmp_path / "bad.sql"
    sql.write_text("\n".join(lines) + "\n")
    assert sql.read_text().splitlines()[144] == "  x := x + ;"  # line 145
    with iu_db_factory().connect() as conn, pytest.raises(SqlLoadError) as raised:
        load_files(conn, [sql])
    assert str(raised.value).startswith(f"{sql}:145: statement failed"), raised.value


def test_a_folder_given_as_a_scenario_file_is_called_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="is a folder, not a file"):
        load_scenario(tmp_path)


def test_an_unknown_baseline_names_each_folder_once() -> None:
    with pytest.raises(SqlLoadError) as raised:
        resolve_baseline(resolve_config({}, environ={}), "no-such-baseline")
    checked = raised.value.checked
    assert checked == f"{(BUNDLED_SQL_DIR / 'baselines').resolve()}/no-such-baseline.sql", checked


def test_an_option_value_starting_with_a_dash_says_how_to_pass_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["mutate", str(SEED), "--shard", "-1/2", "--list"])
    assert "write it as --option=VALUE" in capsys.readouterr().err
    code, _, err = run_main(capsys, "mutate", str(SEED), "--shard=-1/2", "--list")
    assert code == cli.EXIT_HARNESS_ERROR and "--shard '-1/2' is not I/K" in err, err


def test_profile_top_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["profile", str(SEED), "--top", "-3"])
    assert "--top takes a positive integer, got '-3'" in capsys.readouterr().err


def test_an_equivalent_with_a_number_for_an_id_says_so(tmp_path: Path) -> None:
    path = tmp_path / "eq.toml"
    path.write_text('[[equivalent]]\nid = 3\nreason = "x"\n')
    with pytest.raises(HarnessError, match=r"\[\[equivalent\]\] entry 1: id = 3 is not a string"):
        load_equivalents(path)


def test_a_leftover_server_folder_is_removed_with_a_notice(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    leftover = tmp_path / f"{embedded.DIR_PREFIX}killed"
    leftover.mkdir()
    (leftover / "owner.pid").write_text(gone.stdout.strip())
    os.chmod(tmp_path, 0o755)
    server = embedded.EmbeddedServer.start(shm_dir=tmp_path, largest_n=20)
    try:
        assert not leftover.exists()
        assert server.placement_notice is not None
        assert f"removed 1 server folder(s) left by runs that ended without cleaning up (killed?): {leftover}" in \
            server.placement_notice
    finally:
        server.stop()


# -- 10. what --help and the README say -------------------------------------------------------------

def test_help_states_exit_codes_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "exit codes: 0 every invariant held" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["mutate", "--help"])
    assert "one clone each (default 1)" in capsys.readouterr().out


def test_the_readme_gates_no_absolute_time() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "--benchmark-compare-fail=" not in readme  # it failed on identical code back to back


def test_a_writer_without_a_claim_is_refused_while_a_run_holds_one(tmp_path: Path) -> None:
    """The pytest plugin's per-N reports against a CLI run writing the same scenario into the folder."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from harness.reports.folder import hold_scenario\n"
        f"with hold_scenario(Path({str(tmp_path)!r}), 'seed-50000x-03'):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(HarnessError, match=rf"another run \(pid {holder.pid}\) is writing seed-50000x-03"):
            refuse_if_held_elsewhere(tmp_path, "seed-50000x-03")
        refuse_if_held_elsewhere(tmp_path, "scaleout-mixed")  # another scenario's reports: free
    finally:
        holder.kill()
        holder.wait()
    refuse_if_held_elsewhere(tmp_path, "seed-50000x-03")  # released when its process ended
