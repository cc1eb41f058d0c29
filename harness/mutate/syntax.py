"""The syntax of one function definition, as PostgreSQL's own parsers see it (through pglast).

`FunctionSyntax.of(definition)` finds the body (the string constant after AS)
with pglast's scanner, scans the body into tokens (strings, comments and dollar
quotes are single tokens, so no operator inside them is ever seen), gives each
token its parenthesis depth, and for PL/pgSQL finds the statements with
pglast's PL/pgSQL parser: the parser gives each statement's line, the scanner
its exact span (first token on that line through the `;` at its depth).
Offsets are character offsets into the whole definition.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import parser as pg_parser

OPEN, CLOSE = {"(", "["}, {")", "]"}
COMMENTS = {"SQL_COMMENT", "C_COMMENT"}
# First words of the PL/pgSQL statements the statement-level operators work on.
STATEMENT_WORDS = {
    "PLpgSQL_stmt_perform": {"perform"},
    "PLpgSQL_stmt_return": {"return"},
    "PLpgSQL_stmt_raise": {"raise"},
    "PLpgSQL_stmt_execsql": {"insert", "update", "delete", "select", "with", "merge"},
}


class SyntaxProblem(ValueError):
    """The definition could not be scanned or parsed; its mutants cannot be generated."""


@dataclass(frozen=True)
class Token:
    index: int
    start: int  # offset in the definition, inclusive
    end: int  # exclusive
    name: str  # pglast's token name: IDENT, SCONST, ASCII_61, NOT_EQUALS, NOT, ...
    text: str
    depth: int  # parentheses/brackets open before this token, inside the body

    @property
    def word(self) -> str:
        """Lower-cased text: keywords and PL/pgSQL words alike (PERFORM is an IDENT to the SQL scanner)."""
        return self.text.lower()

    @property
    def is_literal(self) -> bool:
        return self.name in {"SCONST", "USCONST", "BCONST", "XCONST"}


@dataclass(frozen=True)
class Statement:
    kind: str  # PLpgSQL_stmt_raise, ...
    first: int  # token index of its first word
    last: int  # token index of its closing ';'
    info: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(eq=False)  # identity: operators cache per-syntax facts
class FunctionSyntax:
    definition: str
    language: str
    body_start: int
    body_end: int
    tokens: list[Token]
    statements: list[Statement]

    @classmethod
    def of(cls, definition: str, language: str) -> FunctionSyntax:
        body_start, body_end = _body_span(definition)
        tokens = _tokens(definition, body_start, body_end)
        statements = _statements(definition, body_start, tokens) if language == "plpgsql" else []
        return cls(definition, language, body_start, body_end, tokens, statements)

    def text(self, first: int, last: int) -> str:
        """The definition's text from token `first` through token `last`."""
        return self.definition[self.tokens[first].start:self.tokens[last].end]

    def next_index(self, index: int) -> int | None:
        return index + 1 if index + 1 < len(self.tokens) else None

    def matching_close(self, open_index: int) -> int:
        """Index of the token closing the parenthesis at `open_index`."""
        depth = self.tokens[open_index].depth
        for token in self.tokens[open_index + 1:]:
            if token.text in CLOSE and token.depth == depth:
                return token.index
        raise SyntaxProblem(f"unbalanced parenthesis at offset {self.tokens[open_index].start}")

    def arguments(self, open_index: int) -> list[tuple[int, int]]:
        """(first, last) token indexes of each comma-separated argument inside the parentheses."""
        close = self.matching_close(open_index)
        depth = self.tokens[open_index].depth + 1
        args, first = [], open_index + 1
        for token in self.tokens[open_index + 1:close]:
            if token.text == "," and token.depth == depth:
                args.append((first, token.index - 1))
                first = token.index + 1
        if first <= close - 1:
            args.append((first, close - 1))
        return [a for a in args if a[0] <= a[1]]

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset in the definition."""
        line = self.definition.count("\n", 0, offset) + 1
        col = offset - (self.definition.rfind("\n", 0, offset) + 1) + 1
        return line, col

    def in_statement(self, kind: str) -> Iterator[Statement]:
        return (s for s in self.statements if s.kind == kind)


def _scan(text: str) -> list[Any]:
    try:
        return list(pg_parser.scan(text))
    except pglast.Error as exc:
        raise SyntaxProblem(f"pglast could not scan the text: {exc}") from exc


def _body_span(definition: str) -> tuple[int, int]:
    """Offsets of the body inside the string constant that follows AS (its quotes excluded)."""
    scanned = _scan(definition)
    for before, token in itertools.pairwise(scanned):
        if definition[before.start:before.end + 1].upper() == "AS" and token.name == "SCONST":
            text = definition[token.start:token.end + 1]
            if text.startswith("$"):
                tag_end = text.index("$", 1) + 1
                return token.start + tag_end, token.end + 1 - tag_end
            return token.start + 1, token.end  # a 'quoted' body: mutants must not touch its quoting
    raise SyntaxProblem("no body (AS '...' or AS $$...$$) found in the definition")


def _tokens(definition: str, body_start: int, body_end: int) -> list[Token]:
    body = definition[body_start:body_end]
    tokens: list[Token] = []
    depth = 0
    for raw in _scan(body):
        if raw.name in COMMENTS:
            continue
        text = body[raw.start:raw.end + 1]
        if text in CLOSE:
            depth -= 1
        tokens.append(Token(len(tokens), body_start + raw.start, body_start + raw.end + 1, raw.name, text, depth))
        if text in OPEN:
            depth += 1
    return tokens


def _walk(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("PLpgSQL_stmt_") and isinstance(value, dict):
                yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


# After a variable's name in a DECLARE section: what ends its type.
TYPE_ENDS = {";", ":=", "=", "default", "not", "collate"}
NOT_A_TYPE = {"cursor", "alias", "scroll", "no"}  # cursor and alias declarations: no type to look up


def _declared_types_as_record(definition: str, tokens: list[Token]) -> str:
    """The definition with each declared type named through a schema (`v iu_core.some_table;`, `%ROWTYPE`,
    `%TYPE`), and such a return type, replaced by `record`. pglast's PL/pgSQL parser has no catalogue and
    looks up only pg_catalog and public; the statements (all the mutants need from it) are found by line,
    and lines stay put."""
    spans: list[tuple[int, int]] = []
    in_declare = False
    k = 0
    while k < len(tokens):
        word = tokens[k].word
        if word == "declare":
            in_declare, k = True, k + 1
            continue
        if word == "begin":
            in_declare = False
        if not in_declare or tokens[k].depth or word in (";", "<<", ">>"):
            k += 1
            continue
        first = k + 1 + (k + 1 < len(tokens) and tokens[k + 1].word == "constant")
        last = first
        while last < len(tokens) and tokens[last].word not in TYPE_ENDS:
            last += 1
        if first < last and tokens[first].word not in NOT_A_TYPE \
                and any(t.text == "." for t in tokens[first:last]):
            spans.append((tokens[first].start, tokens[last - 1].end))
        while k < len(tokens) and tokens[k].text != ";":  # on to the next declaration
            k += 1
        k += 1
    # RETURNS [SETOF] schema.type in the header: the same lookup.
    scanned = _scan(definition)  # the body is one string token here
    header = [definition[raw.start:raw.end + 1] for raw in scanned]
    starts = [raw.start for raw in scanned]
    if "RETURNS" in (words := [w.upper() for w in header]):
        first = words.index("RETURNS") + 1
        first += first < len(words) and words[first] == "SETOF"
        if first + 2 < len(header) and header[first + 1] == ".":
            spans.append((starts[first], starts[first + 2] + len(header[first + 2])))
    for start, end in sorted(spans, reverse=True):
        definition = definition[:start] + "record" + definition[end:]
    return definition


def _statements(definition: str, body_start: int, tokens: list[Token]) -> list[Statement]:
    try:
        tree = pglast.parse_plpgsql(definition)
    except pglast.Error:
        try:
            tree = pglast.parse_plpgsql(_declared_types_as_record(definition, tokens))
        except pglast.Error as exc:
            raise SyntaxProblem(f"pglast could not parse the PL/pgSQL body: {exc}") from exc
    tree = json.loads(json.dumps(tree))  # plain dicts and lists
    # Lines as the PL/pgSQL parser counts them: line 1 is where the body starts.
    line_of = {t.index: definition.count("\n", body_start, t.start) + 1 for t in tokens}
    claimed: set[int] = set()
    statements: list[Statement] = []
    for kind, node in _walk(tree):
        words = STATEMENT_WORDS.get(kind)
        if words is None or "lineno" not in node:
            continue
        first = next((t.index for t in tokens if line_of[t.index] == node["lineno"] and t.word in words
                      and t.index not in claimed), None)
        if first is None:
            continue  # not where the scanner sees it (e.g. a keyword on the next line): no mutant, no guess
        depth = tokens[first].depth
        last = next((t.index for t in tokens[first:] if t.text == ";" and t.depth == depth), None)
        if last is None:
            continue
        claimed.add(first)
        statements.append(Statement(kind, first, last, node))
    statements.sort(key=lambda s: s.first)
    return statements
