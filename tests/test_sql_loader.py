"""sql_loader: the psql-like statement splitter, loading into a real database, baseline lookup."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from harness.config import BUNDLED_SQL_DIR, HarnessConfig
from harness.databases.sql_loader import (
    BUNDLED_BASELINE_DIR,
    Statement,
    load_files,
    resolve_baseline,
    schema_files,
    split_statements,
)
from harness.errors import SqlLoadError
from harness.session import HarnessSession

HERE = Path("/virtual/script.sql")


def split(text: str, path: Path = HERE) -> list[Statement]:
    return list(split_statements(text, path))


def bodies(text: str) -> list[str]:
    return [s.sql.strip() for s in split(text)]


# -- split_statements ----------------------------------------------------------------------------
def test_plain_statements_and_trailing_statement_without_semicolon() -> None:
    assert bodies("SELECT 1;\nSELECT 2;\n  SELECT 3") == ["SELECT 1;", "SELECT 2;", "SELECT 3"]


def test_empty_statements_and_comment_only_text_yield_nothing() -> None:
    assert bodies(";;\n  ;\n-- just a comment; with a semicolon\n/* block; */\n") == []


def test_dollar_quoted_function_body_keeps_its_semicolons() -> None:
    text = (
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$\n"
        "BEGIN\n"
        "  PERFORM 1; PERFORM 2;\n"
        "  RETURN 3;\n"
        "END;\n"
        "$fn$;\n"
        "SELECT $$a;b$$, $x$ $$;$$ $y$;$y$ $x$;\n"
        "SELECT 4;\n"
    )
    statements = split(text)
    assert len(statements) == 3
    assert statements[0].sql.startswith("CREATE FUNCTION") and statements[0].sql.endswith("$fn$;")
    assert "PERFORM 1; PERFORM 2;" in statements[0].sql
    assert statements[1].sql.strip() == "SELECT $$a;b$$, $x$ $$;$$ $y$;$y$ $x$;"
    assert [s.line for s in statements] == [1, 7, 8]


def test_dollar_sign_inside_identifier_or_parameter_is_not_a_quote() -> None:
    # `a$b$` is an identifier and `$1` a parameter: neither opens a dollar quote
    assert bodies("SELECT a$b$ FROM t;\nSELECT $1;\nSELECT 2;") == [
        "SELECT a$b$ FROM t;", "SELECT $1;", "SELECT 2;"]


def test_nested_block_comments() -> None:
    text = "/* outer /* inner; */ still comment; */ SELECT 1;\n/* a /* b /* c; */ */ ; */SELECT 2;"
    statements = split(text)
    assert [s.sql.split("*/")[-1].strip() for s in statements] == ["SELECT 1;", "SELECT 2;"]


def test_line_comments_hide_semicolons_and_quotes() -> None:
    assert bodies("SELECT 1 -- it's; not here\n + 1;\nSELECT 2;") == [
        "SELECT 1 -- it's; not here\n + 1;", "SELECT 2;"]


def test_quoted_strings_with_semicolons_and_doubled_quotes() -> None:
    text = "SELECT 'a;b''c;d' AS x;\nSELECT '';\nSELECT ''';''';\nSELECT \"we;ird\"\"id;\" FROM t;"
    assert bodies(text) == ["SELECT 'a;b''c;d' AS x;", "SELECT '';", "SELECT ''';''';",
                            'SELECT "we;ird""id;" FROM t;']


def test_escape_strings() -> None:
    text = r"SELECT E'it\'s; here';" + "\n" + r"SELECT e'back\\';" + "\n" + r"SELECT(E'\';');SELECT 2;"
    assert bodies(text) == [r"SELECT E'it\'s; here';", r"SELECT e'back\\';", r"SELECT(E'\';');",
                            "SELECT 2;"]


def test_backslash_in_standard_string_is_not_an_escape() -> None:
    # standard_conforming_strings: '\' is one backslash; `name'\'` is a typed literal, not E'...'
    assert bodies(r"SELECT '\'; SELECT name'\'; SELECT 2;") == [
        r"SELECT '\';", r"SELECT name'\';", "SELECT 2;"]


def test_line_numbers_point_at_first_code_line() -> None:
    text = (
        "-- file header\n"            # 1
        "\n"                          # 2
        "SELECT 1;\n"                 # 3
        "/* a\n"                      # 4
        "   multi-line comment */\n"  # 5
        "SELECT 'two\n"               # 6
        "lines';\n"                   # 7
        "SELECT $$\n"                 # 8
        "x\n"                         # 9
        "$$; SELECT E'\\\n"           # 10 (escaped newline inside an E string)
        "'; SELECT \"a\n"             # 11
        "b\";\n"                      # 12
        "\n"                          # 13
        "   SELECT 5;"                # 14
    )
    statements = split(text)
    assert [s.line for s in statements] == [3, 6, 8, 10, 11, 14]
    assert all(s.path == HERE for s in statements)
    assert statements[0].first_line == "SELECT 1;"


def test_first_line_skips_comments() -> None:
    (statement,) = split("-- explain\n\n  INSERT INTO t VALUES (1);")
    assert statement.line == 3
    assert statement.first_line == "INSERT INTO t VALUES (1);"


def test_ir_include_resolved_relative_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    main = tmp_path / "main.sql"
    part = tmp_path / "sub" / "part.sql"
    leaf = tmp_path / "sub" / "deeper" / "leaf.sql"
    main.write_text("SELECT 'main-1';\n\\ir sub/part.sql\nSELECT 'main-3';\n  \\i sub/deeper/leaf.sql\n")
    part.write_text("-- part\nSELECT 'part-2';\n\\ir deeper/leaf.sql\n")
    leaf.write_text("\n\nSELECT 'leaf-3';\n")
    monkeypatch.chdir("/")  # relative to the including file, not to the working directory
    statements = split(main.read_text(), main)
    assert [(s.path, s.line, s.first_line) for s in statements] == [
        (main, 1, "SELECT 'main-1';"),
        (part.resolve(), 2, "SELECT 'part-2';"),
        (leaf.resolve(), 3, "SELECT 'leaf-3';"),
        (main, 3, "SELECT 'main-3';"),
        (leaf.resolve(), 3, "SELECT 'leaf-3';"),
    ]


def test_include_of_missing_file(tmp_path: Path) -> None:
    main = tmp_path / "main.sql"
    with pytest.raises(SqlLoadError) as info:
        split("SELECT 1;\n\\ir nope/missing.sql\n", main)
    message = str(info.value)
    assert f"{main}:2" in message
    assert "nope/missing.sql not found" in message
    assert str(tmp_path / "nope" / "missing.sql") in message


def test_include_cycle_is_stopped(tmp_path: Path) -> None:
    loop = tmp_path / "loop.sql"
    loop.write_text("\\ir loop.sql\n")
    with pytest.raises(SqlLoadError, match="nested more than 8 deep"):
        split(loop.read_text(), loop)


def test_unsupported_meta_command() -> None:
    with pytest.raises(SqlLoadError) as info:
        split("SELECT 1;\n\n\\set ON_ERROR_STOP on\nSELECT 2;")
    message = str(info.value)
    assert f"{HERE}:3" in message
    assert "unsupported psql meta-command '\\\\set ON_ERROR_STOP on'" in message
    assert "fix: express it in plain SQL" in message


def test_meta_command_inside_a_statement() -> None:
    with pytest.raises(SqlLoadError, match=r"script\.sql:2: psql meta-command inside a statement"):
        split("SELECT 1\n\\ir other.sql\n;")


def test_a_backslash_line_inside_a_dollar_quote_or_comment_is_not_a_meta_command() -> None:
    body = "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$\n\\i not-an-include\n$$;"
    comment = "/* a note\n\\set x 1\n*/ SELECT 1;"
    assert [s.sql for s in split(body + "\n" + comment)] == [body, "\n" + comment]


def test_an_unterminated_quote_names_file_and_line() -> None:
    with pytest.raises(SqlLoadError, match=r"script\.sql:3: unterminated dollar-quoted string"):
        split("SELECT 1;\n\nSELECT $$ never closed;\n")


# -- load_files on a real database ---------------------------------------------------------------
@pytest.fixture
def empty_db(iu_session: HarnessSession) -> Iterator[psycopg.Connection]:
    """A brand-new empty database on the harness's server (no iu_core schema)."""
    server = iu_session.server
    name = f"iu_harness_loadertest_{secrets.token_hex(4)}"
    with server.connect(autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        with server.connect(name) as conn:
            yield conn
    finally:
        with server.connect(autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_load_files_runs_statements_in_order(empty_db: psycopg.Connection, tmp_path: Path) -> None:
    first = tmp_path / "b_first.sql"
    second = tmp_path / "a_second.sql"
    first.write_text(
        "CREATE TABLE t (v text);\n"
        "CREATE FUNCTION add(x text) RETURNS void LANGUAGE plpgsql AS $$\n"
        "BEGIN INSERT INTO t VALUES (x); INSERT INTO t VALUES (x || '!'); END; $$;\n"
        "/* nested /* ; */ */ SELECT add('a;b''c');\n"
    )
    second.write_text(r"INSERT INTO t VALUES (E'e\'s;'), (name'\'), ('x;y');" + "\n")
    assert empty_db.autocommit is False
    count = load_files(empty_db, [first, second])  # the given order, not name order
    assert count == 4
    assert empty_db.autocommit is False  # restored
    rows = [r[0] for r in empty_db.execute("SELECT v FROM t ORDER BY ctid").fetchall()]
    assert rows == ["a;b'c", "a;b'c!", "e's;", "\\", "x;y"]


def test_load_files_reports_file_line_and_sqlstate(empty_db: psycopg.Connection, tmp_path: Path) -> None:
    good = tmp_path / "010_good.sql"
    bad = tmp_path / "020_bad.sql"
    good.write_text("CREATE TABLE kept (id int);\n")
    bad.write_text(
        "INSERT INTO kept VALUES (1);\n"  # 1
        "-- the next statement fails\n"   # 2
        "\n"                              # 3
        "INSERT INTO\n"                   # 4
        "  missing_table VALUES (2);\n"   # 5
        "INSERT INTO kept VALUES (3);\n"  # 6 never runs
    )
    with pytest.raises(SqlLoadError) as info:
        load_files(empty_db, [good, bad])
    message = str(info.value)
    assert f"{bad}:5: statement failed" in message  # the line PostgreSQL's error position points at
    assert 'relation "missing_table" does not exist' in message
    assert "SQLSTATE 42P01" in message
    assert "statement starts: INSERT INTO" in message
    assert isinstance(info.value.__cause__, psycopg.errors.UndefinedTable)
    # autocommit like psql -f: what ran before the failure stays, nothing after it ran
    assert empty_db.execute("SELECT array_agg(id) FROM kept").fetchone() == ([1],)


def test_load_files_error_inside_function_names_context(empty_db: psycopg.Connection, tmp_path: Path) -> None:
    bad = tmp_path / "fn.sql"
    bad.write_text(
        "CREATE FUNCTION boom() RETURNS int LANGUAGE plpgsql AS $$\n"
        "BEGIN RAISE EXCEPTION 'kaboom' USING ERRCODE = 'P0042'; END $$;\n"
        "SELECT 1;\n"
        "SELECT boom();\n"
    )
    with pytest.raises(SqlLoadError) as info:
        load_files(empty_db, [bad])
    message = str(info.value)
    assert f"{bad}:4: statement failed: kaboom" in message
    assert "context: PL/pgSQL function boom()" in message
    assert "SQLSTATE P0042" in message


def test_load_files_syntax_error_in_included_file_names_that_file(
        empty_db: psycopg.Connection, tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    main = tmp_path / "main.sql"
    inc = tmp_path / "inc" / "part.sql"
    main.write_text("SELECT 1;\n\\ir inc/part.sql\n")
    inc.write_text("SELECT 2;\nSELEC 3;\n")
    with pytest.raises(SqlLoadError) as info:
        load_files(empty_db, [main])
    message = str(info.value)
    assert f"{inc.resolve()}:2: statement failed: syntax error" in message
    assert "SQLSTATE 42601" in message


def test_load_files_unreadable_file(empty_db: psycopg.Connection, tmp_path: Path) -> None:
    with pytest.raises(SqlLoadError, match=r"cannot read SQL file .*nope\.sql"):
        load_files(empty_db, [tmp_path / "nope.sql"])


def test_bundled_schema_loads_into_an_empty_database(empty_db: psycopg.Connection) -> None:
    files = schema_files(BUNDLED_SQL_DIR)
    assert files == sorted(files) and files[0].name.startswith("000")
    assert all(p.parent == BUNDLED_SQL_DIR for p in files)  # baselines/ not included
    assert load_files(empty_db, files) > 10
    tables = {r[0] for r in empty_db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'iu_core'").fetchall()}
    assert {"iu", "iu_piece_collection", "iu_piece_membership", "iu_gate",
            "iu_auto_instantiate_event_log"} <= tables


# -- resolve_baseline ----------------------------------------------------------------------------
def test_resolve_baseline_bundled() -> None:
    config = HarnessConfig()
    assert resolve_baseline(config, "before-25000x") == BUNDLED_BASELINE_DIR / "before-25000x.sql"
    assert resolve_baseline(config, "after-25000x").is_file()


def test_resolve_baseline_prefers_sql_dir(tmp_path: Path) -> None:
    (tmp_path / "000.sql").write_text("SELECT 1;")
    (tmp_path / "baselines").mkdir()
    own = tmp_path / "baselines" / "before-25000x.sql"
    own.write_text("SELECT 'mine';")
    config = HarnessConfig(sql_dir=tmp_path)
    assert resolve_baseline(config, "before-25000x") == own
    # a baseline the build under test lacks falls back to the bundled one
    assert resolve_baseline(config, "after-25000x") == BUNDLED_BASELINE_DIR / "after-25000x.sql"


def test_resolve_baseline_extra_name_only_in_sql_dir(tmp_path: Path) -> None:
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "my-state.sql").write_text("SELECT 1;")
    own = tmp_path / "baselines" / "my-state.sql"
    assert resolve_baseline(HarnessConfig(sql_dir=tmp_path), "my-state") == own
    with pytest.raises(SqlLoadError):
        resolve_baseline(HarnessConfig(), "my-state")


def test_resolve_baseline_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(SqlLoadError) as info:
        resolve_baseline(HarnessConfig(sql_dir=tmp_path), "before-99x")
    message = str(info.value)
    assert "unknown baseline 'before-99x'" in message
    assert str(tmp_path / "baselines") in message and str(BUNDLED_BASELINE_DIR) in message
    assert "use one of after-25000x, before-25000x" in message


@pytest.mark.parametrize("name", ["../010_tables", "baselines/before-25000x", "", "-x", "a b"])
def test_resolve_baseline_rejects_paths(name: str) -> None:
    with pytest.raises(SqlLoadError, match="not a plain file stem"):
        resolve_baseline(HarnessConfig(), name)
