"""A build's own SQL tests (`harness/checks/build_tests.py`), the second oracle of `iu-harness mutate`.

Generic behaviour (prelude, one rolled-back transaction per test, failures and
timeouts named) is shown with throwaway test files on any build; that our
build's own tests pass, and catch what the invariants cannot see, is about our
build and skips for another.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks.build_tests import default_tests_dir, load_build_tests, run_build_tests
from harness.cli import main
from harness.config import HarnessConfig
from harness.databases.pool import Database, DatabasePool
from harness.errors import HarnessError
from harness.mutate.discovery import discover
from harness.mutate.lab import Lab
from harness.mutate.outcome import Status
from harness.scenarios.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SEED_50000X = ROOT / "scenarios" / "seed-50000x-03.toml"
BUNDLED_TESTS = ROOT / "harness" / "sql" / "build-tests"


def _suite(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_each_test_runs_alone_and_leaves_nothing(tmp_path: Path, iu_db: Database) -> None:
    suite = load_build_tests(_suite(tmp_path, {
        "_prelude.sql": "CREATE FUNCTION pg_temp.gates() RETURNS bigint LANGUAGE sql AS "
                        "$$ SELECT count(*) FROM iu_core.iu_gate $$;",
        "a_writes.sql": "INSERT INTO iu_core.iu_gate (gate_key, enabled) VALUES ('t.left_behind?', true);",
        "b_sees_nothing_of_a.sql": "DO $$ BEGIN IF pg_temp.gates() <> 2 THEN "
                                   "RAISE EXCEPTION 'a row of another test is here'; END IF; END $$;",
        "c_fails.sql": "SELECT 1 / 0;",
        "d_runs_after_a_failure.sql": "SELECT pg_sleep(2);",
    }))
    assert [t.name for t in suite.prelude] == ["_prelude"]
    assert suite.names == ["a_writes", "b_sees_nothing_of_a", "c_fails", "d_runs_after_a_failure"]
    failures = run_build_tests(iu_db, suite, statement_timeout_s=0.5)
    assert [(f.name, f.sqlstate, f.timed_out) for f in failures] == [
        ("c_fails", "22012", False), ("d_runs_after_a_failure", "57014", True)]
    assert "division by zero" in str(failures[0])
    with iu_db.connect(autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM iu_core.iu_gate").fetchone() == (2,)


def test_a_failing_prelude_is_the_one_failure(tmp_path: Path, iu_db: Database) -> None:
    suite = load_build_tests(_suite(tmp_path, {"_broken.sql": "SELEC 1;", "a.sql": "SELECT 1;"}))
    assert [(f.name, f.sqlstate) for f in run_build_tests(iu_db, suite)] == [("_broken", "42601")]


def test_a_build_without_tests_has_none(tmp_path: Path) -> None:
    assert default_tests_dir(tmp_path) is None
    tests = tmp_path / "build-tests"
    tests.mkdir()
    _suite(tests, {"_prelude.sql": "SELECT 1;"})
    assert default_tests_dir(tmp_path) is None  # a prelude alone is not a suite
    with pytest.raises(HarnessError, match="no build tests in"):
        load_build_tests(tests)
    _suite(tests, {"010_a.sql": "SELECT 1;"})
    assert default_tests_dir(tmp_path) == tests


@pytest.mark.parametrize("text", ["SELECT 1;\nCOMMIT;", "ROLLBACK;", "BEGIN; SELECT 1;", "\\set x 1"])
def test_a_test_that_ends_its_transaction_or_is_not_sql_is_refused_before_anything_runs(
        tmp_path: Path, text: str) -> None:
    _suite(tmp_path, {"010_ok.sql": "SELECT 1;", "020_bad.sql": text})
    with pytest.raises(HarnessError, match=r"020_bad\.sql"):
        load_build_tests(tmp_path)


def test_a_clean_build_failing_its_own_tests_cannot_be_scored(tmp_path: Path, iu_config: HarnessConfig,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    if iu_config.backend != "embedded":
        pytest.skip("runs the CLI with its own embedded server")
    tests = tmp_path / "build-tests"
    tests.mkdir()
    _suite(tests, {"010_wrong.sql": "SELECT 1 / 0;"})
    code = main(["mutate", str(SEED_50000X), "--report-dir", str(tmp_path), "--build-tests", str(tests),
                 "--function", "fn_iu_piece_graph_digest"])
    err = capsys.readouterr().err
    assert code == 2 and "fails its own tests" in err and "010_wrong: 22012" in err, err
    assert main(["mutate", str(SEED_50000X), "--build-tests", str(tmp_path / "nothing-here")]) == 2


@pytest.mark.bundled_build("runs our build's own tests (harness/sql/build-tests)")
def test_our_builds_tests_pass_on_it(iu_db: Database, iu_config: HarnessConfig) -> None:
    if iu_config.extra_sql:
        pytest.skip("our tests describe the bundled build as shipped")
    suite = load_build_tests(BUNDLED_TESTS)
    assert len(suite.tests) >= 7
    assert run_build_tests(iu_db, suite) == []


@pytest.mark.bundled_build("mutates our build and runs its own tests")
def test_our_builds_tests_catch_what_no_invariant_sees(iu_db: Database, iu_pool: DatabasePool,
                                                       iu_config: HarnessConfig) -> None:
    """U+0085 taken out of the blank characters: SPEC fixes no whitespace list, so every invariant and
    probe holds; the build's argument test does not."""
    if iu_config.extra_sql:
        pytest.skip("our tests describe the bundled build as shipped")
    with iu_db.connect(autocommit=True) as conn:
        mutants = discover(conn).mutants()
    nel_not_blank = next(m for m in mutants if m.target.startswith("fn_iu_require_text")
                         and m.operator == "integer_literal" and m.original == "133")
    scenario = load_scenario(SEED_50000X)
    alone = Lab(iu_pool, scenario, 20, timeout_s=3.0).test(nel_not_blank)
    assert alone.status is Status.MISSED, alone
    both = Lab(iu_pool, scenario, 20, timeout_s=3.0, build_tests=load_build_tests(BUNDLED_TESTS)).test(nel_not_blank)
    assert both.status is Status.CAUGHT and both.caught_by == ("build_test:010_arguments",), both
