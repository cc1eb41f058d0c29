"""`iu-harness check` and the refusal a run shares with it: SPEC section 1, on any build.

The conformance table must say "conforms" (exit 0) for our build and for the
independent one, name what is missing or different (exit 1) for builds that
lack a SPEC object or answer bad input instead of raising, and exit 2 when the
build cannot even be loaded. A run refuses only a build no invariant could read.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from test_cli import ROOT, run_cli

from harness.checks.conformance import catalog_rows, require_runnable
from harness.databases.pool import Database
from harness.errors import HarnessError

FAULTS = ROOT / "tests" / "faults"
INDEPENDENT = ROOT / "tests" / "builds" / "independent"


@pytest.mark.parametrize("sql_dir", [None, INDEPENDENT], ids=["bundled", "independent"])
def test_check_says_a_conforming_build_conforms(sql_dir: Path | None) -> None:
    done = run_cli("check", *([f"--iu-sql-dir={sql_dir}"] if sql_dir else []))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "conforms: all" in done.stdout
    assert " MISSING " not in done.stdout and " DIFFERENT " not in done.stdout


def test_check_names_a_missing_view_and_a_wrong_answer(tmp_path: Path) -> None:
    patch = tmp_path / "drop_view.sql"
    patch.write_text("DROP VIEW iu_core.v_iu_auto_instantiate_template_summary;\n")
    faults = f"{patch}:{FAULTS / 'orchestrator_returns_errors.sql'}"
    done = run_cli("check", f"--iu-extra-sql={faults}")
    assert done.returncode == 1, done.stdout + done.stderr
    summary = done.stdout.splitlines()[-1]
    assert "iu_core.v_iu_auto_instantiate_template_summary" in summary
    assert "orchestrator: bad input raises (unknown template)" in summary


def test_check_exits_2_when_the_build_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "001_broken.sql").write_text("CREAT SCHEMA iu_core;\n")
    done = run_cli("check", f"--iu-sql-dir={tmp_path}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "001_broken.sql:1" in done.stderr and "42601" in done.stderr


def test_a_run_refuses_only_a_build_no_invariant_could_read(iu_db: Database) -> None:
    with iu_db.connect(autocommit=True) as conn:
        require_runnable(conn)  # our build: nothing refused
        conn.execute("DROP VIEW iu_core.v_iu_digest_audit")  # open to the build: never a refusal
        require_runnable(conn)
        conn.execute("DROP FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(text, boolean)")
        conn.execute("ALTER TABLE iu_core.iu_auto_instantiate_event_log RENAME COLUMN instance_digest TO digest_i")
        with pytest.raises(HarnessError) as refused:
            require_runnable(conn)
    message = str(refused.value)
    assert "fn_iu_auto_instantiate_rollback_by_actor" in message
    assert "iu_core.iu_auto_instantiate_event_log.instance_digest (missing)" in message
    assert "iu-harness check" in message


def test_catalog_names_a_missing_unique_key(iu_db: Database) -> None:
    with iu_db.connect(autocommit=True) as conn:
        (constraint,) = conn.execute("""
            SELECT c.conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
             WHERE t.relname = 'iu_auto_instantiate_event_log' AND c.contype = 'u'""").fetchone()  # type: ignore[misc]
        conn.execute(psycopg.sql.SQL("ALTER TABLE iu_core.iu_auto_instantiate_event_log DROP CONSTRAINT {}").format(
            psycopg.sql.Identifier(constraint)))
        rows = {row.item: row for row in catalog_rows(conn)}
    assert rows["unique (idempotency_key) on iu_core.iu_auto_instantiate_event_log"].status == "missing"
