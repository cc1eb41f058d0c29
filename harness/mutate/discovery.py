"""Reads what can be mutated from the catalogue of a database that holds the loaded build.

Functions: every function and procedure of schema iu_core in language plpgsql
or sql (not those an extension owns), as `pg_get_functiondef` prints it, the
normalized definition every mutant's span and id refer to. Schema: UNIQUE,
FOREIGN KEY and CHECK constraints, unique indexes that back no constraint,
NOT NULL columns (not primary-key ones) and user triggers of iu_core's tables,
listed one per line as the DDL that makes them; a schema mutant drops one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from harness.mutate.mutant import Mutant, Source
from harness.mutate.operators import function_operators, schema_operators
from harness.mutate.syntax import FunctionSyntax, SyntaxProblem

SCHEMA = "iu_core"

FUNCTIONS_SQL = """
SELECT p.proname, pg_get_function_identity_arguments(p.oid), l.lanname, pg_get_functiondef(p.oid),
       count(*) OVER (PARTITION BY p.proname) > 1 AS overloaded
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname = %(schema)s AND p.prokind IN ('f', 'p') AND l.lanname IN ('plpgsql', 'sql')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                              AND d.deptype = 'e')
 ORDER BY p.proname, 2
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
     WHERE c.connamespace = %(schema)s::regnamespace AND c.contype IN ('u', 'f', 'c') AND r.relkind IN ('r', 'p')
    UNION ALL
    SELECT 'unique', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) || ';',
           format('DROP INDEX %%s', i.indexrelid::regclass)
      FROM pg_index i JOIN pg_class r ON r.oid = i.indrelid
     WHERE r.relnamespace = %(schema)s::regnamespace AND i.indisunique AND NOT i.indisprimary
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    UNION ALL
    SELECT 'not_null', a.attrelid::regclass::text || '.' || a.attname,
           format('ALTER TABLE %%s ALTER COLUMN %%I SET NOT NULL;', a.attrelid::regclass, a.attname),
           format('ALTER TABLE %%s ALTER COLUMN %%I DROP NOT NULL', a.attrelid::regclass, a.attname)
      FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
     WHERE r.relnamespace = %(schema)s::regnamespace AND r.relkind IN ('r', 'p')
       AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
       AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
                                                 AND a.attnum = ANY (i.indkey))
    UNION ALL
    SELECT 'trigger', t.tgrelid::regclass::text || '.' || t.tgname, pg_get_triggerdef(t.oid) || ';',
           format('DROP TRIGGER %%I ON %%s', t.tgname, t.tgrelid::regclass)
      FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
     WHERE r.relnamespace = %(schema)s::regnamespace AND NOT t.tgisinternal
) objects
ORDER BY object_name, kind
"""


@dataclass(frozen=True)
class SchemaObject:
    kind: str  # unique, foreign_key, check, not_null, trigger
    name: str  # schema-qualified: <schema>.<table>.<constraint>
    start: int  # its line in the schema listing
    end: int
    drop_sql: str


@dataclass
class FunctionTarget:
    source: Source
    identity: str  # schema-qualified: <schema>.<function>(<argument types>)
    syntax: FunctionSyntax | None
    problem: str | None = None  # why it has no mutants (e.g. a BEGIN ATOMIC body)


@dataclass
class Catalog:
    functions: list[FunctionTarget]
    schema: Source
    objects: list[SchemaObject] = field(default_factory=list)

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


def discover(conn: psycopg.Connection) -> Catalog:
    functions: list[FunctionTarget] = []
    for name, args, language, definition, overloaded in conn.execute(FUNCTIONS_SQL, {"schema": SCHEMA}).fetchall():
        label = f"{name}({args})" if overloaded else name
        source = Source(label, "function", definition, language)
        try:
            syntax: FunctionSyntax | None = FunctionSyntax.of(definition, language)
            problem = None
        except SyntaxProblem as exc:
            syntax, problem = None, str(exc)
        functions.append(FunctionTarget(source, f"{SCHEMA}.{name}({args})", syntax, problem))
    lines: list[str] = []
    spans: list[tuple[str, str, int, int, str]] = []
    offset = 0
    for kind, object_name, ddl, drop_sql in conn.execute(SCHEMA_OBJECTS_SQL, {"schema": SCHEMA}).fetchall():
        lines.append(ddl)
        spans.append((kind, object_name, offset, offset + len(ddl), drop_sql))
        offset += len(ddl) + 1
    schema = Source("schema", "schema", "\n".join(lines) + ("\n" if lines else ""), "sql")
    objects = [SchemaObject(kind, name, start, end, drop) for kind, name, start, end, drop in spans]
    return Catalog(functions, schema, objects)
