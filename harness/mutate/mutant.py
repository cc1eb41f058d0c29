"""A mutant is data: what it changes (a span of a target's source and its replacement), never code.

`Mutant.id` is stable and readable, e.g.
`fn_iu_compose:relational:L31C62:'='->'<>'`: the target, the operator, the
line and column in the target's normalized source (pg_get_functiondef for a
function, the catalogue listing for the schema) and what was replaced by what.
The same build gives the same ids, so reviewed survivors can be listed by id.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from harness.text import shorten

LABEL_WIDTH = 40


def short(text: str, width: int = LABEL_WIDTH) -> str:
    """One line, whitespace collapsed, cut to `width` characters."""
    flat = " ".join(text.split())
    return shorten(flat, width)


@dataclass(frozen=True)
class SchemaObject:
    """A constraint or trigger of the schema, which a schema mutant drops (its lines in the schema listing)."""

    kind: str  # unique, foreign_key, check, not_null, trigger
    name: str  # schema-qualified: <schema>.<table>.<constraint>
    start: int  # its line in the schema listing
    end: int
    drop_sql: str


@dataclass(frozen=True)
class Source:
    """A mutable target: a function's normalized definition, or the schema's constraint listing."""

    name: str  # fn_iu_compose, or "schema"
    kind: str  # "function" or "schema"
    text: str
    language: str = "sql"

    def line_col(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1


@dataclass(frozen=True)
class Mutant:
    source: Source = field(repr=False)
    operator: str
    start: int
    end: int
    original: str
    replacement: str
    # Schema mutants are applied by a statement (ALTER/DROP) instead of a new definition.
    statement: str | None = None
    description: str = ""
    # Schema mutants are named by their object (a constraint's table and name), not by a position.
    name: str | None = None

    def __post_init__(self) -> None:
        if self.source.text[self.start:self.end] != self.original:
            raise ValueError(f"mutant {self.operator} at {self.start}: span does not hold {self.original!r}")

    @property
    def target(self) -> str:
        return self.source.name

    @property
    def location(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(line, column) of the span's start and (exclusive) end, 1-based."""
        return self.source.line_col(self.start), self.source.line_col(self.end)

    @property
    def id(self) -> str:
        if self.name is not None:
            return f"{self.target}:{self.operator}:{self.name}"
        (line, col), _ = self.location
        return f"{self.target}:{self.operator}:L{line}C{col}:'{short(self.original)}'->'{short(self.replacement)}'"

    @property
    def mutated_text(self) -> str:
        """The target's source with this one change (the untouched source stays as it was)."""
        text = self.source.text
        return text[: self.start] + self.replacement + text[self.end:]

    @property
    def sql(self) -> str:
        """What applies the mutant inside a clone: CREATE OR REPLACE of the mutated definition, or the ALTER."""
        return self.statement if self.statement is not None else self.mutated_text

    def diff(self, context: int = 3) -> str:
        """Unified diff of the target's source, original -> mutant."""
        lines = difflib.unified_diff(self.source.text.splitlines(keepends=True),
                                     self.mutated_text.splitlines(keepends=True),
                                     fromfile=f"{self.target} (original)", tofile=f"{self.target} (mutant)",
                                     n=context)
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
