"""The mutation operators: each a small named generator, registered here by `@operator`.

A function operator reads a `FunctionSyntax` (tokens and statements from
pglast) and yields `Mutant`s; a schema operator reads the catalogue's schema
objects. Adding an operator is adding one decorated function to this module.
Operators only ever look at tokens: a string constant, a comment or a dollar
quote is one token, so nothing inside one is ever mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from harness.mutate.mutant import Mutant, SchemaObject, Source
from harness.mutate.syntax import FunctionSyntax


@dataclass(frozen=True)
class Operator:
    name: str
    genre: str  # "function" or "schema"
    description: str
    generate: Callable[..., Iterator[Mutant]]


OPERATORS: dict[str, Operator] = {}


def operator(name: str, *, genre: str = "function", description: str) -> Callable[[Callable[..., Iterator[Mutant]]],
                                                                                   Callable[..., Iterator[Mutant]]]:
    def register(generate: Callable[..., Iterator[Mutant]]) -> Callable[..., Iterator[Mutant]]:
        if name in OPERATORS:
            raise ValueError(f"mutation operator {name!r} is registered twice")
        OPERATORS[name] = Operator(name, genre, description, generate)
        return generate
    return register


def function_operators() -> list[Operator]:
    return [op for op in OPERATORS.values() if op.genre == "function"]


def schema_operators() -> list[Operator]:
    return [op for op in OPERATORS.values() if op.genre == "schema"]


# -- helpers ---------------------------------------------------------------------------------------

def _tokens_mutant(op: str, source: Source, syntax: FunctionSyntax, first: int, last: int,
                   replacement: str) -> Mutant:
    start, end = syntax.tokens[first].start, syntax.tokens[last].end
    return Mutant(source, op, start, end, source.text[start:end], replacement)


def _span_mutant(op: str, source: Source, start: int, end: int, replacement: str) -> Mutant:
    return Mutant(source, op, start, end, source.text[start:end], replacement)


def _word(syntax: FunctionSyntax, index: int | None) -> str:
    return syntax.tokens[index].word if index is not None and 0 <= index < len(syntax.tokens) else ""


@lru_cache(maxsize=64)
def _protected(syntax: FunctionSyntax) -> frozenset[int]:
    """Tokens that are syntax, not logic: the `=` of SET assignments, of GET DIAGNOSTICS, of RAISE's
    USING options (changing one gives a definition that does not compile, never a behaviour)."""
    protected: set[int] = set()
    tokens = syntax.tokens
    for token in tokens:
        if token.word == "set" and token.name == "SET":
            for later in tokens[token.index + 1:]:
                if later.depth < token.depth or later.text == ";" or (
                        later.depth == token.depth and later.word in {"where", "from", "returning"}):
                    break
                if later.text == "=" and later.depth == token.depth:
                    protected.add(later.index)
    for statement in syntax.statements:
        if statement.kind == "PLpgSQL_stmt_raise":
            using = next((t.index for t in tokens[statement.first:statement.last] if t.word == "using"), None)
            if using is not None:
                protected.update(range(using, statement.last + 1))
    for token in tokens:  # GET [CURRENT|STACKED] DIAGNOSTICS v = ROW_COUNT, ...;
        if token.word == "diagnostics":
            for later in tokens[token.index + 1:]:
                if later.text == ";":
                    break
                protected.add(later.index)
    return frozenset(protected)


def _clause_end(syntax: FunctionSyntax, first: int, stop_words: set[str]) -> int:
    """Last token index of a clause starting at `first`: up to a stop word or `;` at its depth, or its `)`."""
    depth = syntax.tokens[first].depth
    last = first
    for token in syntax.tokens[first + 1:]:
        if token.depth < depth or (token.depth == depth and (token.text in {";", ","} or token.word in stop_words)):
            break
        last = token.index
    return last


# -- function operators ----------------------------------------------------------------------------

RELATIONAL = {"=": ("<>",), "<>": ("=",), "!=": ("=",), "<": ("<=", ">="), "<=": ("<", ">"),
              ">": (">=", "<="), ">=": (">", "<")}
RELATIONAL_TOKENS = {"ASCII_60", "ASCII_61", "ASCII_62", "NOT_EQUALS", "LESS_EQUALS", "GREATER_EQUALS"}


@operator("relational", description="a comparison operator replaced (= <-> <>, < -> <= or >=, ...)")
def relational(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    for token in syntax.tokens:
        if token.name in RELATIONAL_TOKENS and token.index not in _protected(syntax):
            for replacement in RELATIONAL[token.text]:
                yield _tokens_mutant("relational", source, syntax, token.index, token.index, replacement)


@operator("and_or", description="AND and OR swapped")
def and_or(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    between_open: set[int] = set()  # depths where a BETWEEN waits for its AND
    for token in syntax.tokens:
        if token.name == "BETWEEN":
            between_open.add(token.depth)
        elif token.name == "AND" and token.depth in between_open:
            between_open.discard(token.depth)
        elif token.name in {"AND", "OR"}:
            yield _tokens_mutant("and_or", source, syntax, token.index, token.index,
                                 "OR" if token.name == "AND" else "AND")


@operator("not_removal", description="a NOT removed (IS NOT NULL is the is_null operator's)")
def not_removal(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    for token in syntax.tokens:
        following = syntax.next_index(token.index)
        if token.name == "NOT" and following is not None and syntax.tokens[following].name != "NULL_P":
            yield _span_mutant("not_removal", source, token.start, syntax.tokens[following].start, "")


@operator("boolean_literal", description="true <-> false")
def boolean_literal(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    for token in syntax.tokens:
        if token.name in {"TRUE_P", "FALSE_P"}:
            yield _tokens_mutant("boolean_literal", source, syntax, token.index, token.index,
                                 "false" if token.name == "TRUE_P" else "true")


@operator("integer_literal", description="an integer constant changed (0 -> 1, 1 -> 0, n -> n + 1)")
def integer_literal(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    for token in syntax.tokens:
        if token.name != "ICONST":
            continue
        # `SELECT 1 FROM` / `PERFORM 1 FROM` / `(SELECT 1)`: the constant is never read; any other
        # value is the same program, so no mutant is made (a known-equivalent pattern).
        before, after = _word(syntax, token.index - 1), _word(syntax, token.index + 1)
        if before in {"select", "perform"} and after in {"from", ")", ";"}:
            continue
        value = int(token.text)
        replacement = {0: 1, 1: 0}.get(value, value + 1)
        yield _tokens_mutant("integer_literal", source, syntax, token.index, token.index, str(replacement))


@operator("is_null", description="IS NULL <-> IS NOT NULL")
def is_null(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    tokens = syntax.tokens
    for token in tokens:
        if token.name != "IS":
            continue
        if _word(syntax, token.index + 1) == "null":
            yield _tokens_mutant("is_null", source, syntax, token.index, token.index + 1, "IS NOT NULL")
        elif _word(syntax, token.index + 1) == "not" and _word(syntax, token.index + 2) == "null":
            yield _tokens_mutant("is_null", source, syntax, token.index, token.index + 2, "IS NULL")


@operator("delete_statement",
          description="one PL/pgSQL statement (INSERT, UPDATE, DELETE, SELECT INTO, PERFORM, RETURN, RAISE) "
                      "replaced by NULL;")
def delete_statement(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    for statement in syntax.statements:
        yield _tokens_mutant("delete_statement", source, syntax, statement.first, statement.last, "NULL;")


ERROR_LEVEL = 21  # elog.h: ERROR, which RAISE EXCEPTION raises
RAISE_LEVELS = {"debug", "log", "info", "notice", "warning", "exception"}


@operator("raise_to_notice", description="RAISE EXCEPTION turned into RAISE NOTICE (the error is only logged)")
def raise_to_notice(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    for statement in syntax.in_statement("PLpgSQL_stmt_raise"):
        if statement.info.get("elog_level") != ERROR_LEVEL:
            continue
        level = statement.first + 1
        if _word(syntax, level) == "exception":
            yield _tokens_mutant("raise_to_notice", source, syntax, level, level, "NOTICE")
        elif _word(syntax, level) not in RAISE_LEVELS | {";"}:  # RAISE 'msg' / RAISE USING: EXCEPTION implied
            yield _tokens_mutant("raise_to_notice", source, syntax, statement.first, statement.first, "RAISE NOTICE")


@operator("on_conflict", description="ON CONFLICT clause removed, or DO NOTHING <-> DO UPDATE")
def on_conflict(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    tokens = syntax.tokens
    for token in tokens:
        if not (token.name == "ON" and _word(syntax, token.index + 1) == "conflict"):
            continue
        do = next((t.index for t in tokens[token.index:] if t.word == "do" and t.depth == token.depth), None)
        if do is None:
            continue
        if _word(syntax, do + 1) == "nothing":
            last = do + 1
            target_open = token.index + 2
            if tokens[target_open].text == "(":  # DO NOTHING -> DO UPDATE SET <first target column> = EXCLUDED.<it>
                column = tokens[target_open + 1].text
                yield _tokens_mutant("on_conflict", source, syntax, do, last,
                                     f"DO UPDATE SET {column} = EXCLUDED.{column}")
        else:
            last = _clause_end(syntax, do, {"returning"})
            yield _tokens_mutant("on_conflict", source, syntax, do, last, "DO NOTHING")
        yield _tokens_mutant("on_conflict", source, syntax, token.index, last, "")


ORDER_ITEM_END = {"limit", "offset", "for", "fetch", "into", "union", "intersect", "except", "returning",
                  "nulls", "using", "rows", "range", "groups"}


@operator("order_by_direction", description="one ORDER BY item's direction flipped (ASC <-> DESC)")
def order_by_direction(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    tokens = syntax.tokens
    for token in tokens:
        if not (token.name == "ORDER" and _word(syntax, token.index + 1) == "by"):
            continue
        first = token.index + 2
        while first < len(tokens):
            last = _clause_end(syntax, first, ORDER_ITEM_END)
            if tokens[last].word in {"asc", "desc"}:
                flipped = "DESC" if tokens[last].word == "asc" else "ASC"
                yield _tokens_mutant("order_by_direction", source, syntax, last, last, flipped)
            else:
                text = syntax.text(first, last)
                yield _tokens_mutant("order_by_direction", source, syntax, first, last, f"{text} DESC")
            following = last + 1
            if following >= len(tokens) or tokens[following].text != "," \
                    or tokens[following].depth != token.depth:
                break
            first = following + 1


WHERE_END = {"group", "order", "limit", "offset", "for", "returning", "having", "window", "union", "intersect",
             "except", "loop", "then", "do", "into", "on", "fetch"}


@operator("where_conjunct", description="one AND-conjunct of a WHERE dropped (a single condition: the WHERE)")
def where_conjunct(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    tokens = syntax.tokens
    for token in tokens:
        if token.name != "WHERE" or token.index + 1 >= len(tokens):
            continue
        last = _clause_end(syntax, token.index + 1, WHERE_END)
        depth = tokens[token.index + 1].depth
        inside = tokens[token.index + 1:last + 1]
        if any(t.name == "OR" and t.depth == depth for t in inside):
            splits: list[int] = []  # OR binds looser than AND: the whole condition is one conjunct
        else:
            splits, between = [], False
            for t in inside:
                if t.depth != depth:
                    continue
                if t.name == "BETWEEN":
                    between = True
                elif t.name == "AND":
                    if between:
                        between = False
                    else:
                        splits.append(t.index)
        if not splits:
            yield _span_mutant("where_conjunct", source, token.start, tokens[last].end, "")
            continue
        bounds = [token.index + 1, *[s + 1 for s in splits]]
        ends = [*[s - 1 for s in splits], last]
        for n, (first, end) in enumerate(zip(bounds, ends, strict=True)):
            if n < len(splits):  # drop "cond AND " up to the next conjunct
                yield _span_mutant("where_conjunct", source, tokens[first].start, tokens[end + 2].start, "")
            else:  # the last: drop " AND cond"
                yield _span_mutant("where_conjunct", source, tokens[splits[-1] - 1].end, tokens[end].end, "")


STATUS_SWAP = {"ok": "duplicate"}  # any other status -> 'ok'
JSON_BUILDERS = {"jsonb_build_object", "json_build_object"}


@operator("returned_literal",
          description="a key of a returned JSON object emptied, or its 'status' value changed ('ok' -> 'duplicate', "
                      "other -> 'ok')")
def returned_literal(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    tokens = syntax.tokens
    for token in tokens:
        following = syntax.next_index(token.index)
        if token.word not in JSON_BUILDERS or following is None or tokens[following].text != "(":
            continue
        args = syntax.arguments(following)
        for key, value in zip(args[0::2], args[1::2], strict=False):
            if key[0] != key[1] or tokens[key[0]].name != "SCONST":
                continue
            key_text = tokens[key[0]].text
            yield _tokens_mutant("returned_literal", source, syntax, key[0], key[0], "''")
            if key_text == "'status'" and value[0] == value[1] and tokens[value[0]].name == "SCONST":
                status = tokens[value[0]].text.strip("'")
                yield _tokens_mutant("returned_literal", source, syntax, value[0], value[0],
                                     f"'{STATUS_SWAP.get(status, 'ok')}'")


@operator("coalesce_swap", description="the first two arguments of COALESCE swapped")
def coalesce_swap(source: Source, syntax: FunctionSyntax) -> Iterator[Mutant]:
    for token in syntax.tokens:
        following = syntax.next_index(token.index)
        if token.name != "COALESCE" or following is None or syntax.tokens[following].text != "(":
            continue
        args = syntax.arguments(following)
        if len(args) < 2:
            continue
        (a1, a2), (b1, b2) = args[0], args[1]
        swapped = f"{syntax.text(b1, b2)}, {syntax.text(a1, a2)}"
        yield _tokens_mutant("coalesce_swap", source, syntax, a1, b2, swapped)


# -- schema operators ------------------------------------------------------------------------------

def _schema_mutant(op: str, source: Source, obj: SchemaObject) -> Mutant:
    return Mutant(source, op, obj.start, obj.end, source.text[obj.start:obj.end], "",
                  statement=obj.drop_sql, description=obj.drop_sql, name=obj.name)


def _schema_operator(kind: str) -> Callable[[Source, list[SchemaObject]], Iterator[Mutant]]:
    def generate(source: Source, objects: list[SchemaObject]) -> Iterator[Mutant]:
        for obj in objects:
            if obj.kind == kind:
                yield _schema_mutant(f"drop_{kind}", source, obj)
    return generate


for _kind, _what in (("unique", "a UNIQUE constraint"), ("foreign_key", "a FOREIGN KEY"),
                     ("not_null", "a NOT NULL (not of a primary key column)"), ("check", "a CHECK constraint"),
                     ("trigger", "a trigger")):
    operator(f"drop_{_kind}", genre="schema", description=f"{_what} dropped")(_schema_operator(_kind))
