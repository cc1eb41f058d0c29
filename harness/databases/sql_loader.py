"""Loading iu_core SQL files the way `psql -f` would, with errors that name file and line.

Files are split into statements by a small lexer that knows comments, quoted
strings, quoted identifiers and dollar quoting, so a failing statement is
reported with the file and line it starts on. psql's `\\ir FILE` / `\\i FILE`
includes are followed, so baselines stay loadable by psql itself.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from harness.config import BUNDLED_SQL_DIR, HarnessConfig
from harness.errors import SqlLoadError, db_error_text

BUNDLED_BASELINE_DIR = BUNDLED_SQL_DIR / "baselines"
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_INCLUDE = re.compile(r"^\\(ir|i|include|include_relative)\s+(\S+)\s*$")


@dataclass(frozen=True)
class Statement:
    path: Path
    line: int
    sql: str
    #: The line `sql` begins on (before its leading blanks and comments), to turn offsets into lines.
    text_line: int = 0

    def line_at(self, offset: int) -> int:
        """The file line of the character at `offset` (0-based) in `sql`."""
        return (self.text_line or self.line) + self.sql.count("\n", 0, offset)

    def error_line(self, diag: psycopg.errors.Diagnostic) -> int:
        """The line PostgreSQL's error points at: its position in the statement, or its position in an
        internal query (e.g. a PL/pgSQL body's statement) found in the statement; else the first line."""
        with contextlib.suppress(TypeError, ValueError):
            if diag.statement_position:
                return self.line_at(int(diag.statement_position) - 1)
            if diag.internal_position and diag.internal_query:
                at = self.sql.find(diag.internal_query)
                if at >= 0:
                    return self.line_at(at + int(diag.internal_position) - 1)
        return self.line

    @property
    def first_line(self) -> str:
        for text in self.sql.splitlines():
            if text.strip() and not text.lstrip().startswith("--"):
                return text.strip()[:120]
        return ""



def schema_files(sql_dir: Path) -> list[Path]:
    """The build's SQL files in name order (baselines live in a subfolder and are not included)."""
    return sorted(p for p in sql_dir.glob("*.sql") if p.is_file())


def resolve_baseline(config: HarnessConfig, name: str) -> Path:
    """`<sql-dir>/baselines/<name>.sql` when the build under test has it, else the bundled one."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise SqlLoadError(f"baseline name {name!r} is not a plain file stem",
                           checked="letters, digits, '.', '_' and '-' only",
                           fix="name a file of harness/sql/baselines without its .sql suffix")
    folders = [(config.sql_dir / "baselines").resolve()]
    if BUNDLED_BASELINE_DIR.resolve() not in folders:  # the bundled build: one folder, named once
        folders.append(BUNDLED_BASELINE_DIR.resolve())
    for folder in folders:
        candidate = folder / f"{name}.sql"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for folder in folders for p in folder.glob("*.sql")})
    raise SqlLoadError(f"unknown baseline {name!r}",
                       checked=" and ".join(f"{folder}/{name}.sql" for folder in folders),
                       fix=f"use one of {', '.join(known)} or add {name}.sql to {folders[0]}")


def split_statements(text: str, path: Path, _depth: int = 0) -> Iterator[Statement]:  # noqa: C901  (a lexer)
    """Yield the statements of an SQL script, following psql includes."""
    i, n = 0, len(text)
    start, line, start_line, text_line = 0, 1, 1, 1
    at_line_start = True
    has_code = False  # has the current statement anything but comments and blanks yet?

    while i < n:
        ch = text[i]
        if at_line_start and ch == "\\":
            end = text.find("\n", i)
            end = n if end == -1 else end
            meta = text[i:end].strip()
            if has_code:
                raise SqlLoadError(f"{path}:{line}: psql meta-command inside a statement: {meta}",
                                   fix="end the statement with ';' before the meta-command")
            match = _INCLUDE.match(meta)
            if not match:
                raise SqlLoadError(f"{path}:{line}: unsupported psql meta-command {meta!r}",
                                   checked="the harness follows only \\i and \\ir includes",
                                   fix="express it in plain SQL")
            if _depth > 8:
                raise SqlLoadError(f"{path}:{line}: includes nested more than 8 deep (a cycle?)")
            target = (path.parent / match.group(2)).resolve()
            if not target.is_file():
                raise SqlLoadError(f"{path}:{line}: included file {match.group(2)} not found",
                                   checked=f"{target}", fix="fix the include path (relative to the file)")
            yield from split_statements(target.read_text(encoding="utf-8"), target, _depth + 1)
            i, start, text_line = end, end, line
            continue
        if ch == "\n":
            line += 1
            at_line_start = True
            i += 1
            continue
        if not ch.isspace():
            at_line_start = False
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        if text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += text[i] == "\n"
                    i += 1
            continue
        if not ch.isspace() and not has_code:
            has_code, start_line = True, line
        if ch in ("'", '"'):
            # E'...' only when the E is a token of its own (not the end of `name'...'` etc.)
            escapes = (ch == "'" and i > 0 and text[i - 1] in "eE"
                       and not (i > 1 and (text[i - 2].isalnum() or text[i - 2] in "_$")))
            i += 1
            while i < n:
                if escapes and text[i] == "\\":
                    line += text[i + 1 : i + 2] == "\n"
                    i += 2
                    continue
                if text[i] == ch:
                    if text[i + 1 : i + 2] == ch:
                        i += 2
                        continue
                    break
                line += text[i] == "\n"
                i += 1
            i += 1
            continue
        if ch == "$":
            tag = _DOLLAR_TAG.match(text, i)
            if tag and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                close = text.find(tag.group(0), tag.end())
                close = n if close == -1 else close
                line += text.count("\n", i, close)
                i = close + len(tag.group(0))
                continue
        if ch == ";":
            sql = text[start : i + 1]
            if has_code and sql.strip(" \t\r\n;"):
                yield Statement(path, start_line, sql, text_line)
            start, has_code, text_line = i + 1, False, line
        i += 1
    if has_code:
        yield Statement(path, start_line, text[start:], text_line)


def load_files(conn: psycopg.Connection, files: Sequence[Path]) -> int:
    """Run every statement of `files` in order, autocommit like `psql -f`; returns the count.

    On failure raises SqlLoadError naming the file, the statement's line and
    the server's message; the caller drops the half-loaded database.
    """
    count = 0
    previous = conn.autocommit
    conn.autocommit = True
    try:
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise SqlLoadError(f"cannot read SQL file {path}: {exc}",
                                   fix="check the path and its permissions") from exc
            for statement in split_statements(text, path):
                try:
                    conn.execute(statement.sql.encode())
                except psycopg.Error as exc:
                    diag = exc.diag
                    where = f"{statement.path}:{statement.error_line(diag)}"
                    detail = db_error_text(exc)
                    context = f" (context: {diag.context.strip()})" if diag.context else ""
                    raise SqlLoadError(
                        f"{where}: statement failed: {detail}{context}",
                        checked=f"SQLSTATE {diag.sqlstate}; statement starts: {statement.first_line}",
                        fix="fix the statement, or load a different --iu-sql-dir / --iu-extra-sql",
                    ) from exc
                count += 1
    finally:
        conn.autocommit = previous
    return count
