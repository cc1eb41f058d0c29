"""Loading iu_core SQL files the way `psql -f` would, with errors that name file and line.

Files are split into statements by PostgreSQL's own lexer (pglast's scanner: comments, quoted
strings, quoted identifiers and dollar quoting as the server reads them), so a failing statement
is reported with the file and line it starts on. psql's `\\ir FILE` / `\\i FILE`
includes are followed, so baselines stay loadable by psql itself.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pglast.parser import ParseError, scan

from harness.config import BUNDLED_SQL_DIR, HarnessConfig
from harness.errors import SqlLoadError, db_error_text

BUNDLED_BASELINE_DIR = BUNDLED_SQL_DIR / "baselines"
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


class _Lines:
    """The 1-based line of a character offset in a text."""

    def __init__(self, text: str) -> None:
        self.starts = [k + 1 for k, ch in enumerate(text) if ch == "\n"]

    def of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) + 1


_META_LINE = re.compile(r"^[ \t]*\\[^\n]*", re.M)


def split_statements(text: str, path: Path, _depth: int = 0) -> Iterator[Statement]:
    """Yield the statements of an SQL script, following psql includes.

    Every `;` token of the server's lexer ends a statement (one inside a comment, a string or a
    dollar quote is not a token of its own). A line starting with a backslash outside every token
    is a psql meta-command: it is blanked before the lexer reads the text (it is not SQL).
    """
    lines = _Lines(text)
    metas = [m for m in _META_LINE.finditer(text)]
    blanked = list(text)
    for m in metas:
        blanked[m.start():m.end()] = " " * (m.end() - m.start())
    try:
        scanned = scan("".join(blanked))
    except ParseError as exc:  # an unterminated quote or comment: the server would refuse it too
        message, offset = (*exc.args, 0)[:2]
        raise SqlLoadError(f"{path}:{lines.of(int(offset))}: {message}",
                           fix="close the quote or comment") from exc
    starts = [t.start for t in scanned]

    def inside_a_token(offset: int) -> bool:  # a string, dollar quote or comment spanning it: not a meta-command
        k = bisect.bisect_right(starts, offset) - 1
        return k >= 0 and scanned[k].end >= offset

    tokens = [t for t in scanned if t.name not in ("C_COMMENT", "SQL_COMMENT")]

    events = sorted([(t.start, t) for t in tokens] + [(m.start(), m) for m in metas if not inside_a_token(m.start())],
                    key=lambda event: event[0])
    start, text_line, start_line = 0, 1, 1
    has_code = False  # has the current statement anything but comments and blanks yet?
    for offset, event in events:
        line = lines.of(offset)
        if isinstance(event, re.Match):
            yield from _include(event.group(0).strip(), path, line, has_code, _depth)
            start, text_line = event.end(), line
            continue
        if not has_code:
            has_code, start_line = True, line
        if event.name == "ASCII_59":
            sql = text[start : event.end + 1]
            if sql.strip(" \t\r\n;"):
                yield Statement(path, start_line, sql, text_line)
            start, has_code, text_line = event.end + 1, False, line
    if has_code:
        yield Statement(path, start_line, text[start:], text_line)


def _include(meta: str, path: Path, line: int, in_statement: bool, depth: int) -> Iterator[Statement]:
    """The statements of the file a psql include names; any other meta-command is refused."""
    if in_statement:
        raise SqlLoadError(f"{path}:{line}: psql meta-command inside a statement: {meta}",
                           fix="end the statement with ';' before the meta-command")
    match = _INCLUDE.match(meta)
    if not match:
        raise SqlLoadError(f"{path}:{line}: unsupported psql meta-command {meta!r}",
                           checked="the harness follows only \\i and \\ir includes",
                           fix="express it in plain SQL")
    if depth > 8:
        raise SqlLoadError(f"{path}:{line}: includes nested more than 8 deep (a cycle?)")
    target = (path.parent / match.group(2)).resolve()
    if not target.is_file():
        raise SqlLoadError(f"{path}:{line}: included file {match.group(2)} not found",
                           checked=f"{target}", fix="fix the include path (relative to the file)")
    yield from split_statements(target.read_text(encoding="utf-8"), target, depth + 1)


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
