"""The pytest plugin end to end: each option really changes what an inner pytest run does.

Inner runs go through `runpytest_subprocess`, so each loads the plugin via its pytest11
entry point and starts (and must clean up) its own embedded server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import BUNDLED_SQL_DIR, SETTINGS
from harness.servers.containers import docker_engine_answers
from harness.servers.embedded import DIR_PREFIX

pytest_plugins = ["pytester"]

SHM = Path("/dev/shm")

CHECK_EXTRA = """
def test_extra_marker_exists(iu_conn):
    row = iu_conn.execute("SELECT to_regclass('iu_core.extra_marker')::text").fetchone()
    assert row == ("iu_core.extra_marker",)
    # the extra file ran after the schema: it could use the schema's tables
    assert iu_conn.execute("SELECT note FROM iu_core.extra_marker").fetchall() == [("gates=2",)]
"""

CHECK_SQL_DIR = """
def test_sql_dir_marker(iu_conn, iu_config):
    assert iu_conn.execute("SELECT to_regclass('iu_core.sql_dir_marker')::text").fetchone() == (
        "iu_core.sql_dir_marker",)
    assert iu_config.sql_dir.name == "my_build"
    assert not iu_config.sql_dir_is_bundled
"""

THREE_DB_TESTS = """
def test_one(iu_conn):
    assert iu_conn.execute("SELECT 1").fetchone() == (1,)

def test_two(iu_conn):
    assert iu_conn.execute("SELECT 2").fetchone() == (2,)

def test_three(iu_conn):
    assert iu_conn.execute("SELECT 3").fetchone() == (3,)
"""


def _dead_owner(folder: Path) -> bool:
    try:
        pid = int((folder / "owner.pid").read_text())
    except (OSError, ValueError):
        return False  # being created right now by someone else, or not a harness folder
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _shm_folders() -> set[Path]:
    return set(SHM.glob(f"{DIR_PREFIX}*"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs inherit the environment: start from no IU_HARNESS_* settings."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)


@pytest.fixture
def run(pytester: pytest.Pytester) -> Iterator:
    """runpytest_subprocess that also proves the inner run left no cluster folder behind."""

    def go(*args: str) -> pytest.RunResult:
        before = _shm_folders()
        result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", timeout=120)
        # A folder of the (now finished) inner run would have a dead owner; live runs of
        # other processes on this machine are not ours to judge.
        leaked = sorted(p for p in _shm_folders() - before if _dead_owner(p))
        assert leaked == [], f"inner run left cluster folders behind: {leaked}\n{result.stdout.str()}"
        return result

    yield go


def header_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("iu-harness:")]


# -- (a) --iu-extra-sql --------------------------------------------------------------------------
def test_extra_sql_option_changes_the_schema(pytester: pytest.Pytester, run, tmp_path: Path) -> None:
    extra = tmp_path / "extra_marker.sql"
    extra.write_text(
        "CREATE TABLE iu_core.extra_marker (note text);\n"
        "INSERT INTO iu_core.extra_marker SELECT 'gates=' || count(*) FROM iu_core.iu_gate;\n"
    )
    pytester.makepyfile(test_inner=CHECK_EXTRA)

    with_extra = run(f"--iu-extra-sql={extra}")
    with_extra.assert_outcomes(passed=1)
    assert with_extra.ret == 0
    (header,) = header_lines(with_extra)
    assert f"extra-sql={extra}" in header
    assert "server=PostgreSQL 17" in header
    assert "backend=embedded" in header

    without = run()
    without.assert_outcomes(failed=1)
    assert without.ret == 1
    (header,) = header_lines(without)
    assert "extra-sql=none" in header
    assert "server=PostgreSQL 17" in header


# -- (b) --iu-sql-dir / IU_HARNESS_SQL_DIR -------------------------------------------------------
@pytest.fixture
def my_build(tmp_path: Path) -> Path:
    build = tmp_path / "my_build"
    shutil.copytree(BUNDLED_SQL_DIR, build)
    (build / "999_marker.sql").write_text("CREATE TABLE iu_core.sql_dir_marker (id int);\n")
    return build


def test_sql_dir_option_loads_that_build(pytester: pytest.Pytester, run, my_build: Path) -> None:
    pytester.makepyfile(test_inner=CHECK_SQL_DIR)
    result = run(f"--iu-sql-dir={my_build}")
    result.assert_outcomes(passed=1)
    (header,) = header_lines(result)
    assert f"sql-dir={my_build} " in header
    assert "server=PostgreSQL 17" in header

    bundled = run()  # and without the option the bundled build has no marker
    bundled.assert_outcomes(failed=1)
    assert f"sql-dir={BUNDLED_SQL_DIR} " in header_lines(bundled)[0]


def test_sql_dir_env_var_loads_that_build(pytester: pytest.Pytester, run, my_build: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_inner=CHECK_SQL_DIR)
    monkeypatch.setenv("IU_HARNESS_SQL_DIR", str(my_build))
    result = run()
    result.assert_outcomes(passed=1)
    (header,) = header_lines(result)
    assert f"sql-dir={my_build} " in header


# -- (c) testcontainers without Docker -----------------------------------------------------------
def test_testcontainers_without_docker_stops_the_run_once(pytester: pytest.Pytester, run) -> None:
    answers, why = docker_engine_answers()
    if answers:
        pytest.skip(f"a Docker engine answers here ({why})")
    pytester.makepyfile(test_inner=THREE_DB_TESTS)
    result = run("--iu-backend=testcontainers")
    assert result.ret not in (0, 1)  # stopped, not "tests failed"
    assert result.ret == 3
    output = result.stdout.str() + result.stderr.str()
    stop_lines = [line for line in output.splitlines() if "cannot get a PostgreSQL server" in line]
    assert len(stop_lines) == 1, output
    assert "Docker" in stop_lines[0]
    assert "--iu-backend embedded" in stop_lines[0]
    assert output.count("no Docker engine answered") == 1, output
    outcomes = result.parseoutcomes()
    assert "errors" not in outcomes and "error" not in outcomes
    assert "failed" not in outcomes and "passed" not in outcomes
    assert "backend=testcontainers" in header_lines(result)[0]


# -- (d) unknown backend -------------------------------------------------------------------------
def test_bogus_backend_is_a_usage_error(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_inner=THREE_DB_TESTS)
    result = run("--iu-backend=bogus")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*iu-harness: unknown backend 'bogus' (from --iu-backend)*"])
    assert "allowed backends: embedded, testcontainers, dsn" in result.stderr.str()
    assert "passed" not in result.stdout.str()


def test_bogus_backend_from_env_is_a_usage_error(pytester: pytest.Pytester, run,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_inner=THREE_DB_TESTS)
    monkeypatch.setenv("IU_HARNESS_BACKEND", "bogus")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown backend 'bogus' (from IU_HARNESS_BACKEND)" in result.stderr.str()


# -- (e) a broken extra SQL file -----------------------------------------------------------------
def test_broken_extra_sql_errors_name_file_and_line(pytester: pytest.Pytester, run, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # so the short summary lines are not cut before the path
    broken = tmp_path / "broken_patch.sql"
    broken.write_text(
        "-- a user's patch\n"                 # 1
        "CREATE TABLE iu_core.ok (id int);\n"  # 2
        "CREAT TABLE iu_core.bad (id int);\n"  # 3: syntax error
    )
    pytester.makepyfile(test_inner=THREE_DB_TESTS)
    result = run(f"--iu-extra-sql={broken}", "-rE")
    # A build that does not load stops the run at once, with one line (not one error per test).
    result.assert_outcomes()
    assert result.ret == 3
    output = result.stdout.str() + result.stderr.str()
    assert f"{broken}:3: statement failed: syntax error" in output
    assert "SQLSTATE 42601" in output
    assert output.count("statement failed") == 1, output
