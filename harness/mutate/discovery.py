"""Reads what can be mutated from the catalogue of a database that holds the loaded build.

Which schemas: every schema the build's SQL created objects in, read by comparing
the catalogue with a fresh database's: an object whose oid is at or above
FirstNormalObjectId was made after initdb, i.e. by the build (no extension owns
it). iu_core always; helper schemas of the build's own (e.g. `iu_core_impl`) too.

Functions: every function and procedure of those schemas in language plpgsql
or sql (not those an extension owns), as `pg_get_functiondef` prints it, the
normalized definition every mutant's span and id refer to; an iu_core function
is named bare (`fn_iu_compose`), another schema's qualified (`iu_core_impl.f`).
Functions of another language are listed as left out, with the reason. Schema:
UNIQUE, FOREIGN KEY and CHECK constraints, unique indexes that back no
constraint, NOT NULL columns (not primary-key ones) and user triggers of those
schemas' tables, listed one per line as the DDL that makes them; a schema
mutant drops one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from harness.mutate.mutant import Mutant, SchemaObject, Source
from harness.mutate.operators import function_operators, schema_operators
from harness.mutate.syntax import FunctionSyntax, SyntaxProblem

SCHEMA = "iu_core"
MUTABLE_LANGUAGES = ("plpgsql", "sql")

# Schemas holding a table, view, sequence, function, type or constraint the build made (oid at or above
# FirstNormalObjectId, 16384: not there after initdb) that no extension owns; iu_core first.
BUILD_SCHEMAS_SQL = """
WITH made AS (
    SELECT c.relnamespace AS nsp, c.oid, 'pg_class'::regclass AS classid FROM pg_class c
     WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT p.pronamespace, p.oid, 'pg_proc'::regclass FROM pg_proc p WHERE p.oid >= 16384
    UNION ALL
    SELECT t.typnamespace, t.oid, 'pg_type'::regclass FROM pg_type t
     WHERE t.oid >= 16384 AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0)
SELECT DISTINCT n.nspname, n.nspname <> %(schema)s
  FROM made m JOIN pg_namespace n ON n.oid = m.nsp
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = m.classid AND d.objid = m.oid AND d.deptype = 'e')
 ORDER BY 2, 1
"""

FUNCTIONS_SQL = """
SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), l.lanname,
       CASE WHEN l.lanname IN ('plpgsql', 'sql') THEN pg_get_functiondef(p.oid) END,
       count(*) OVER (PARTITION BY n.nspname, p.proname) > 1 AS overloaded
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname = ANY (%(schemas)s) AND p.prokind IN ('f', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                              AND d.deptype = 'e')
 ORDER BY n.nspname <> %(schema)s, n.nspname, p.proname, 3
"""

# (kind, sort key, the DDL line that makes it, the statement that drops it)
SCHEMA_OBJECTS_SQL = """
SELECT kind, object_name, ddl, drop_sql FROM (
    SELECT CASE c.contype WHEN 'u' THEN 'unique' WHEN 'f' THEN 'foreign_key' ELSE 'check' END AS kind,
           c.conrelid::regclass::text || '.' || c.conname AS object_name,
           format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s;', c.conrelid::regclass, c.conname,
                  pg_get_constraintdef(c.oid)) AS ddl,
           format('ALTER TABLE %%s DROP CONSTRAINT %%I', c.conrelid::regclass, c.conname) AS drop_sql
      FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
     WHERE c.connamespace = ANY (%(schemas)s::regnamespace[]) AND c.contype IN ('u', 'f', 'c')
       AND r.relkind IN ('r', 'p')
    UNION ALL
    SELECT 'unique', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) || ';',
           format('DROP INDEX %%s', i.indexrelid::regclass)
      FROM pg_index i JOIN pg_class r ON r.oid = i.indrelid
     WHERE r.relnamespace = ANY (%(schemas)s::regnamespace[]) AND i.indisunique AND NOT i.indisprimary
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    UNION ALL
    SELECT 'not_null', a.attrelid::regclass::text || '.' || a.attname,
           format('ALTER TABLE %%s ALTER COLUMN %%I SET NOT NULL;', a.attrelid::regclass, a.attname),
           format('ALTER TABLE %%s ALTER COLUMN %%I DROP NOT NULL', a.attrelid::regclass, a.attname)
      FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
     WHERE r.relnamespace = ANY (%(schemas)s::regnamespace[]) AND r.relkind IN ('r', 'p')
       AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
       AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
                                                 AND a.attnum = ANY (i.indkey))
    UNION ALL
    SELECT 'trigger', t.tgrelid::regclass::text || '.' || t.tgname, pg_get_triggerdef(t.oid) || ';',
           format('DROP TRIGGER %%I ON %%s', t.tgname, t.tgrelid::regclass)
      FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
     WHERE r.relnamespace = ANY (%(schemas)s::regnamespace[]) AND NOT t.tgisinternal
) objects
ORDER BY object_name, kind
"""


@dataclass
class FunctionTarget:
    source: Source
    identity: str  # schema-qualified: <schema>.<function>(<argument types>)
    syntax: FunctionSyntax | None
    problem: str | None = None  # why it has no mutants (e.g. a BEGIN ATOMIC body)


@dataclass(frozen=True)
class LeftOut:
    """Something of the build's that no mutant changes, and why (listed in the report)."""

    name: str
    reason: str


@dataclass(frozen=True)
class ReadSummary:
    """The schemas discovery read, the functions it mutated, how many schema objects, what it left out."""

    schemas: tuple[str, ...]
    mutated: tuple[str, ...]
    objects: int
    left_out: tuple[tuple[str, str], ...]  # (object, reason)


@dataclass
class Catalog:
    functions: list[FunctionTarget]
    schema: Source
    objects: list[SchemaObject] = field(default_factory=list)
    schemas: list[str] = field(default_factory=lambda: [SCHEMA])  # what discovery read, iu_core first
    left_out: list[LeftOut] = field(default_factory=list)

    def read_summary(self) -> ReadSummary:
        """What discovery read, as the report states it (a merge of shard reports rebuilds it from JSON)."""
        return ReadSummary(tuple(self.schemas), tuple(t.source.name for t in self.functions if t.syntax is not None),
                           len(self.objects), tuple((item.name, item.reason) for item in self.left_out))

    def mutants(self) -> list[Mutant]:
        """Every mutant of the build, in a fixed order: functions by name, then the schema;
        within a target by position, then operator (registry order), then replacement."""
        order = {op.name: n for n, op in enumerate(function_operators() + schema_operators())}
        found: list[Mutant] = []
        for target in self.functions:
            if target.syntax is None:
                continue
            for op in function_operators():
                found.extend(op.generate(target.source, target.syntax))
        for op in schema_operators():
            found.extend(op.generate(self.schema, self.objects))
        targets = {t.source.name: n for n, t in enumerate(self.functions)}
        found.sort(key=lambda m: (targets.get(m.target, len(targets)), m.start, order[m.operator], m.end,
                                  m.replacement))
        seen: dict[str, int] = {}
        unique: list[Mutant] = []
        for mutant in found:
            if mutant.id in seen:
                raise ValueError(f"two mutants share the id {mutant.id!r}: an operator yields duplicates")
            seen[mutant.id] = 1
            unique.append(mutant)
        return unique


def build_schemas(conn: psycopg.Connection) -> list[str]:
    """The schemas the build's SQL created objects in, iu_core first."""
    found = [name for name, _ in conn.execute(BUILD_SCHEMAS_SQL, {"schema": SCHEMA}).fetchall()]
    return found if SCHEMA in found else [SCHEMA, *found]


def discover(conn: psycopg.Connection) -> Catalog:
    schemas = build_schemas(conn)
    params = {"schema": SCHEMA, "schemas": schemas}
    functions: list[FunctionTarget] = []
    left_out: list[LeftOut] = []
    for schema, name, args, language, definition, overloaded in conn.execute(FUNCTIONS_SQL, params).fetchall():
        bare = name if schema == SCHEMA else f"{schema}.{name}"
        label = f"{bare}({args})" if overloaded else bare
        if language not in MUTABLE_LANGUAGES:
            left_out.append(LeftOut(f"{schema}.{name}({args})",
                                    f"language {language}: the mutation operators read plpgsql and sql only"))
            continue
        source = Source(label, "function", definition, language)
        try:
            syntax: FunctionSyntax | None = FunctionSyntax.of(definition, language)
            problem = None
        except SyntaxProblem as exc:
            syntax, problem = None, str(exc)
            left_out.append(LeftOut(f"{schema}.{name}({args})", f"pglast could not read it: {problem}"))
        functions.append(FunctionTarget(source, f"{schema}.{name}({args})", syntax, problem))
    lines: list[str] = []
    spans: list[tuple[str, str, int, int, str]] = []
    offset = 0
    for kind, object_name, ddl, drop_sql in conn.execute(SCHEMA_OBJECTS_SQL, params).fetchall():
        lines.append(ddl)
        spans.append((kind, object_name, offset, offset + len(ddl), drop_sql))
        offset += len(ddl) + 1
    schema = Source("schema", "schema", "\n".join(lines) + ("\n" if lines else ""), "sql")
    objects = [SchemaObject(kind, name, start, end, drop) for kind, name, start, end, drop in spans]
    return Catalog(functions, schema, objects, schemas, left_out)
