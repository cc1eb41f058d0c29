"""`iu-harness profile`: where the time of an orchestrator call goes, per statement and per function.

Starts its own throwaway embedded server with pg_stat_statements preloaded
(track = all, so statements inside PL/pgSQL functions and the foreign-key
checks' own queries are counted too) and track_functions = all, runs one
scenario at one N on a clone of its baseline, and reads the statistics of each
pass: the calls (one transaction, gates opened inside it), the replay of every
event (the `duplicate` path) and the real rollback. Costs are per instance.

pg_stat_statements times a statement including what it calls, so nested lines
overlap: the top-level INSERT ... SELECT holds everything; read a function's
own cost from its self time. Profiling adds about a microsecond per statement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from harness.config import HarnessConfig
from harness.databases.pool import Database, DatabasePool
from harness.errors import HarnessError
from harness.perf.floors import MINIMAL_FUNCTION, MINIMAL_ORCHESTRATOR_SQL
from harness.run.plan import CALLS_TABLE, REPLAY_TABLE, create_plan, scenario_transaction
from harness.scenarios.scenario import Scenario
from harness.spec import ORCHESTRATOR
from harness.spec_calls import REAL_ROLLBACK_SQL

PROFILE_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "2000",
    "track_functions": "all",
}

STATEMENTS_SQL = """
SELECT toplevel, calls, total_exec_time, rows, regexp_replace(query, '\\s+', ' ', 'g')
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND query NOT LIKE '%%pg_stat_%%'
 ORDER BY total_exec_time DESC
 LIMIT %(top)s
"""
FUNCTIONS_SQL = """
SELECT schemaname || '.' || funcname, calls, self_time, total_time
  FROM pg_stat_user_functions
 ORDER BY self_time DESC
"""
# Foreign-key checks run as queries of their own ("SELECT 1 FROM ONLY ... FOR KEY SHARE" on insert,
# the referencing table's probe or cascade on delete): their sum is the trigger work of a pass.
FK_SQL = """
SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0)
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND query LIKE '%%FROM ONLY%%'
"""
SIZES_SQL = """
SELECT c.relname, c.relkind = 'i', pg_relation_size(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'iu_core' AND c.relkind IN ('r', 'i')
 ORDER BY pg_relation_size(c.oid) DESC
"""


# Parts of a call, each timed alone: K calls in one DO loop, best of three, minus the empty loop.
# Two parts time our bundled build's own helpers (fn_iu_require_text, fn_iu_new_collection_id): an
# optional look inside our build, reported "not in this build" on another (part_costs), never required.
# Helper functions are created in the clone's public schema (a throwaway server, never a build).
PARTS_SETUP = r"""
CREATE FUNCTION public.part_empty() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
CREATE FUNCTION public.part_set() RETURNS int LANGUAGE plpgsql
    SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $$ BEGIN RETURN 1; END $$;
CREATE FUNCTION public.part_fast(a text, b text, c text, d text, e text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RETURN coalesce(octet_length(a) <= 512 AND a COLLATE "C" BETWEEN '!' AND '~'
                    AND octet_length(b) <= 512 AND b COLLATE "C" BETWEEN '!' AND '~'
                    AND octet_length(c) <= 512 AND c COLLATE "C" BETWEEN '!' AND '~'
                    AND octet_length(d) <= 512 AND d COLLATE "C" BETWEEN '!' AND '~'
                    AND octet_length(e) <= 512 AND e COLLATE "C" BETWEEN '!' AND '~', false);
END $$;
CREATE FUNCTION public.part_require(a text, b text, c text, d text, e text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iu_core.fn_iu_require_text('f', 'a', a); PERFORM iu_core.fn_iu_require_text('f', 'b', b);
    PERFORM iu_core.fn_iu_require_text('f', 'c', c); PERFORM iu_core.fn_iu_require_text('f', 'd', d);
    PERFORM iu_core.fn_iu_require_text('f', 'e', e); RETURN 1;
END $$;
CREATE FUNCTION public.part_json(a text, b uuid) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('status', 'ok', 'instance_id', b, 'instance_key', a, 'idempotency_key', a,
                              'template_digest', a, 'instance_digest', a, 'digest_match', a = a);
END $$;
CREATE FUNCTION public.part_keys(a uuid, b text, c text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE k text; i text;
BEGIN k := md5(a::text || ':' || b || ':' || c); i := 'tpl-inst:auto:' || c; RETURN 1; END $$;
CREATE FUNCTION public.part_uuid_random() RETURNS uuid LANGUAGE plpgsql AS $$ BEGIN RETURN gen_random_uuid(); END $$;
CREATE FUNCTION public.part_uuid_ordered() RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN RETURN iu_core.fn_iu_new_collection_id(); END $$;
"""
ARGS = "'iu.e', 'tpl:file:status-report/v1', 'mixed-file-v1-000001', 'actor-x', 'live'"
PARTS = (
    ("PL/pgSQL function call (empty body)", "public.part_empty()"),
    ("the same with the two SET clauses (GUC save/restore)", "public.part_set()"),
    ("argument pre-check, 5 arguments (one expression)", f"public.part_fast({ARGS})"),
    ("fn_iu_require_text x5 (five nested calls)", f"public.part_require({ARGS})"),
    ("jsonb_build_object, the 7-key answer", "public.part_json('0123456789abcdef', gen_random_uuid())"),
    ("idempotency key (md5) + instance key", "public.part_keys(gen_random_uuid(), 'tpl:x/v1', 'sfx-000001')"),
    ("fn_iu_manifest_digest of a template (SPEC function)",
     "iu_core.fn_iu_manifest_digest((SELECT id FROM iu_core.iu_piece_collection WHERE is_template LIMIT 1))"),
    ("gen_random_uuid()", "public.part_uuid_random()"),
    ("fn_iu_new_collection_id() (time-ordered)", "public.part_uuid_ordered()"),
)


def part_costs(conn: psycopg.Connection, calls: int = 100_000) -> list[tuple[str, float | None]]:
    """Microseconds per call of each part in PARTS (best of three, the empty loop subtracted).

    Two parts time our bundled build's own helpers; on another build they are None ("not in this
    build"), never an error.
    """
    conn.execute(PARTS_SETUP)

    def loop(expression: str, k: int) -> float:
        began = time.perf_counter()
        conn.execute(f"DO $$ BEGIN FOR i IN 1..{k} LOOP PERFORM {expression}; END LOOP; END $$")
        return (time.perf_counter() - began) / k * 1e6

    def best(expression: str) -> float:
        loop(expression, 100)
        return min(loop(expression, calls) for _ in range(3))

    def cost(expression: str) -> float | None:
        try:
            return best(expression) - empty
        except psycopg.errors.UndefinedFunction:
            return None

    empty = best("1")
    return [(name, cost(expression)) for name, expression in PARTS]


@dataclass
class PassProfile:
    """One pass (calls, replay or rollback): its wall time and what pg_stat_statements saw."""

    name: str
    n: int
    seconds: float
    statements: list[tuple[Any, ...]] = field(default_factory=list)
    functions: list[tuple[Any, ...]] = field(default_factory=list)
    fk_calls: int = 0
    fk_ms: float = 0.0

    @property
    def per_instance_us(self) -> float:
        return self.seconds / self.n * 1e6


@dataclass
class Profile:
    scenario: str
    n: int
    function: str
    server_version: str
    passes: list[PassProfile]
    sizes: list[tuple[str, bool, int]]
    parts: list[tuple[str, float | None]] = field(default_factory=list)


def _reset(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_stat_statements_reset()")
    conn.execute("SELECT pg_stat_reset()")


def _read(conn: psycopg.Connection, profile: PassProfile, top: int) -> None:
    # Function counters reach shared memory when the session reports; force it.
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")
    profile.statements = conn.execute(STATEMENTS_SQL, {"top": top}).fetchall()
    profile.functions = conn.execute(FUNCTIONS_SQL).fetchall()
    fk = conn.execute(FK_SQL).fetchone()
    profile.fk_calls, profile.fk_ms = (int(fk[0]), float(fk[1])) if fk else (0, 0.0)


def profile_scenario(config: HarnessConfig, scenario: Scenario, n: int, *, minimal: bool = False,
                     top: int = 25, parts: bool = False) -> Profile:
    """Profile the build's orchestrator (or, with `minimal`, the minimal-orchestrator floor)."""
    if config.backend != "embedded":
        raise HarnessError(f"iu-harness profile starts its own embedded server; --iu-backend {config.backend} "
                           "cannot preload pg_stat_statements",
                           fix="run it with the default --iu-backend embedded")
    from harness.servers.embedded import EmbeddedServer

    server = EmbeddedServer.start(extra_settings=PROFILE_SETTINGS)
    pool = DatabasePool(server, config)
    try:
        database: Database = pool.clone(scenario.baseline)
        with database.connect(autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            function = ORCHESTRATOR
            if minimal:
                conn.execute(MINIMAL_ORCHESTRATOR_SQL)
                function = MINIMAL_FUNCTION
            create_plan(conn, scenario, n)
            passes = []
            for name, table in (("calls (ok)", CALLS_TABLE), ("replay (duplicate)", REPLAY_TABLE)):
                _reset(conn)
                spent = scenario_transaction(conn, scenario, n, table, function)
                passes.append(PassProfile(name, n, spent))
                _read(conn, passes[-1], top)
            sizes = [(str(name), bool(is_index), int(size)) for name, is_index, size in conn.execute(SIZES_SQL)]
            if not minimal:
                _reset(conn)
                began = time.perf_counter()
                conn.execute(REAL_ROLLBACK_SQL, {"actor": scenario.actor})
                passes.append(PassProfile("real rollback", n, time.perf_counter() - began))
                _read(conn, passes[-1], top)
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        costs: list[tuple[str, float | None]] = []
        if parts:
            with pool.clone(scenario.baseline).connect(autocommit=True) as conn:
                costs = part_costs(conn)
        return Profile(scenario.name, n, function, version, passes, sizes, costs)
    finally:
        pool.close()
        server.stop()


def _short(query: str, width: int = 110) -> str:
    return query if len(query) <= width else query[: width - 3] + "..."


def render(profile: Profile, console: Any) -> None:
    """Print each pass's statements and functions, per instance, as rich tables."""
    from rich.table import Table

    from harness.terminal import styled

    console.print(styled((profile.scenario, "bold"),
                         f" at N={profile.n:,} · {profile.function} · "
                         f"PostgreSQL {profile.server_version} (pg_stat_statements, track = all)"))
    for p in profile.passes:
        console.print(styled("\n", (p.name, "bold"),
                             f": {p.seconds:.3f} s, {p.per_instance_us:.1f} us per instance; "
                             f"foreign-key queries {p.fk_calls / p.n:.1f} per instance, "
                             f"{p.fk_ms * 1000 / p.n:.1f} us per instance"))
        table = Table(title="statements (a statement's time includes what it calls)")
        for column in ("us / instance", "calls / instance", "us / call", "top", "statement"):
            table.add_column(column, overflow="fold")
        for toplevel, calls, total_ms, _rows, query in p.statements:
            table.add_row(f"{total_ms * 1000 / p.n:.1f}", f"{calls / p.n:.2f}",
                          f"{total_ms * 1000 / calls:.1f}" if calls else "-", "yes" if toplevel else "",
                          _short(query))
        console.print(table)
        functions = Table(title="functions (track_functions = all)")
        for column in ("function", "calls / instance", "self us / instance", "total us / instance"):
            functions.add_column(column)
        for name, calls, self_ms, total_ms in p.functions:
            functions.add_row(name, f"{calls / p.n:.2f}", f"{self_ms * 1000 / p.n:.1f}", f"{total_ms * 1000 / p.n:.1f}")
        console.print(functions)
    sizes = Table(title=f"iu_core relations after the calls (N={profile.n:,})")
    for column in ("relation", "kind", "MB", "bytes / instance"):
        sizes.add_column(column)
    for name, is_index, size in profile.sizes:
        sizes.add_row(name, "index" if is_index else "table", f"{size / 2**20:.1f}", f"{size / profile.n:.0f}")
    console.print(sizes)
    if profile.parts:
        parts = Table(title="parts of a call, each timed alone (best of 3 x 100,000 calls, empty loop subtracted)")
        for column in ("part", "us per call"):
            parts.add_column(column)
        for name, us in profile.parts:
            parts.add_row(name, "not in this build" if us is None else f"{us:.2f}")
        console.print(parts)
