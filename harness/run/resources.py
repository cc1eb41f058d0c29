"""What each orchestrator call leaves held in the scenario transaction, extrapolated to the target N.

SPEC section 1 ([S1.orch.scale]): one transaction may call the orchestrator 100,000 times or more
on a server with stock lock and memory settings. The sweeps run N <= 10,000, so instead of running
the target N the runner measures, in the scenario transaction itself (same session, same
transaction), what the backend holds before the first call and after 1/4, 1/2, 3/4 and all of the
calls (`checkpoint_calls`): its lock-table entries (pg_locks), its memory
(pg_backend_memory_contexts, PostgreSQL 14+), its subtransactions (pg_stat_get_backend_subxact,
16+), temporary relations, catalogue rows and WAL bytes.

Per call = the SMALLEST growth per call over the three intervals between the checkpoints (1/4 ->
1/2 -> 3/4 -> 1 of N). A resource each call keeps until COMMIT grows in every interval; a one-off
(the first call of a template's path locking its relations, an allocator block, a cached plan, the
measuring query's own catalogue locks, taken at the first checkpoint) shows in one interval only
and drops out. Extrapolated value at the target = value after all N calls + per call x (target - N).

Limits: the shared lock table's capacity from the server's own settings (`LockCapacity`), and a
backend memory budget (a setting). A resource whose extrapolation passes its limit fails its
invariant (`lock_table_holds_at_target_n`, `backend_memory_holds_at_target_n`); one the server
cannot measure is NOT RUN with the reason. The others are measured and shown, not judged: they have
no limit of their own (a temporary relation holds a lock-table entry until COMMIT, judged there; a
subtransaction's XID lock is released at its subcommit, and past 64 of them the backend's cache
overflows, a slowdown rather than a failure).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from harness.config import DEFAULT_MEMORY_BUDGET, HarnessConfig
from harness.spec import SPEC_TARGET_N

CHECKPOINT_QUARTERS = 4
PASS, FAIL, NOT_RUN, MEASURED = "PASS", "FAIL", "NOT RUN", "measured"
LOCKS, MEMORY = "lock-table entries", "backend memory"
SUBXACTS, TEMP_RELATIONS, CATALOG_ROWS, WAL = ("subtransactions", "temporary relations", "catalogue rows",
                                                "WAL bytes")
# Per-database catalogues a call would grow by creating objects (temp tables, types, functions).
CATALOGS = ("pg_class", "pg_attribute", "pg_type", "pg_depend", "pg_constraint", "pg_index", "pg_proc")
# PGPROC_MAX_CACHED_SUBXIDS: past it pg_stat_get_backend_subxact reports overflowed, not the count.
SUBXACT_CACHE = 64
# pg_stat_get_backend_subxact appeared in PostgreSQL 16: below it that reading is NOT RUN.
SUBXACT_MIN_SERVER_VERSION = 160000

MEASURE_SQL = """
SELECT l.locks, l.shared, t.temp_relations, c.catalog_rows,
       pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint
  FROM (SELECT count(*)::int AS locks, count(*) FILTER (WHERE NOT fastpath)::int AS shared
          FROM pg_catalog.pg_locks WHERE pid = pg_backend_pid()) l,
       (SELECT count(*)::int AS temp_relations FROM pg_catalog.pg_class
         WHERE relnamespace = pg_my_temp_schema()) t,
       (SELECT ({sums})::int AS catalog_rows) c
""".format(sums=" + ".join(f"(SELECT count(*) FROM pg_catalog.{name})" for name in CATALOGS))
MEMORY_SQL = "SELECT sum(total_bytes)::bigint FROM pg_catalog.pg_backend_memory_contexts"
SUBXACT_SQL = """
SELECT s.subxact_count, s.subxact_overflowed
  FROM pg_stat_get_backend_idset() AS b(id), LATERAL pg_stat_get_backend_subxact(b.id) AS s
 WHERE pg_stat_get_backend_pid(b.id) = pg_backend_pid()
"""
LOCK_SETTINGS = ("max_locks_per_transaction", "max_connections", "autovacuum_max_workers", "autovacuum_worker_slots",
                 "max_worker_processes", "max_wal_senders", "max_prepared_transactions")


@dataclass(frozen=True)
class ResourceLimits:
    """The run's target N and memory budget (settings IU_HARNESS_TARGET_N, IU_HARNESS_MEMORY_BUDGET)."""

    #: None: the scenario's target_n, else SPEC's 100,000.
    target_n: int | None = None
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET

    @classmethod
    def from_config(cls, config: HarnessConfig) -> ResourceLimits:
        return cls(config.target_n, config.memory_budget)

    def target_for(self, scenario_target: int | None) -> tuple[int, str]:
        if self.target_n is not None:
            return self.target_n, "setting IU_HARNESS_TARGET_N / --iu-target-n"
        if scenario_target is not None:
            return scenario_target, "the scenario's target_n"
        return SPEC_TARGET_N, "SPEC section 1 ([S1.orch.scale])"


@dataclass(frozen=True)
class Checkpoint:
    """What the backend held after `calls` calls of the scenario transaction."""

    calls: int
    locks: int  # pg_locks rows of this backend (fast-path and shared)
    shared_locks: int  # of them, entries of the shared lock table (not fast-path)
    temp_relations: int
    catalog_rows: int
    wal_lsn: int  # the server's WAL insert position (server-wide: other sessions' WAL counts too)
    memory_bytes: int | None = None  # None: not measurable here
    subxacts: int | None = None
    subxacts_overflowed: bool | None = None


@dataclass(frozen=True)
class LockCapacity:
    """The shared lock table's guaranteed capacity, from the server's settings (PostgreSQL's NLOCKENTS()).

    lock.c: NLOCKENTS() = max_locks_per_transaction x (MaxBackends + max_prepared_transactions);
    postinit.c InitializeMaxBackends(): MaxBackends = max_connections + autovacuum_max_workers + 1
    (the launcher) + max_worker_processes + max_wal_senders (13 to 17); from 18, max_connections +
    autovacuum_worker_slots + max_worker_processes + max_wal_senders + 2 (NUM_SPECIAL_WORKER_PROCS:
    the autovacuum launcher and the slot sync worker). The table is shared by every session; up to
    PostgreSQL 17 the hash may also borrow spare shared memory, so a server often holds more than
    this before 53200 "out of shared memory", never less.
    """

    major: int
    settings: dict[str, int]
    max_backends: int
    capacity: int

    @property
    def formula(self) -> str:
        s = self.settings
        if self.major >= 18:
            backends = (f"max_connections {s['max_connections']} + autovacuum_worker_slots "
                        f"{s['autovacuum_worker_slots']} + max_worker_processes {s['max_worker_processes']} + "
                        f"max_wal_senders {s['max_wal_senders']} + 2 special workers")
        else:
            backends = (f"max_connections {s['max_connections']} + autovacuum_max_workers "
                        f"{s['autovacuum_max_workers']} + 1 launcher + max_worker_processes "
                        f"{s['max_worker_processes']} + max_wal_senders {s['max_wal_senders']}")
        # No square brackets: the CLI prints evidence through rich, which would read them as markup.
        return (f"max_locks_per_transaction {s['max_locks_per_transaction']} x (MaxBackends {self.max_backends} "
                f"({backends}) + max_prepared_transactions {s['max_prepared_transactions']}) = {self.capacity:,}")


def lock_capacity(conn: psycopg.Connection) -> LockCapacity:
    """The server's own settings, read inside the run (a DSN server's may be anything)."""
    rows = conn.execute("SELECT name, setting::int FROM pg_catalog.pg_settings WHERE name = ANY (%s)",
                        (list(LOCK_SETTINGS),)).fetchall()
    return capacity_from(conn.info.server_version // 10000, dict(rows))


def capacity_from(major: int, settings: dict[str, int]) -> LockCapacity:
    settings = {k: v for k, v in settings.items() if major >= 18 or k != "autovacuum_worker_slots"}
    if major >= 18:
        backends = (settings["max_connections"] + settings["autovacuum_worker_slots"]
                    + settings["max_worker_processes"] + settings["max_wal_senders"] + 2)
    else:
        backends = (settings["max_connections"] + settings["autovacuum_max_workers"] + 1
                    + settings["max_worker_processes"] + settings["max_wal_senders"])
    capacity = settings["max_locks_per_transaction"] * (backends + settings["max_prepared_transactions"])
    return LockCapacity(major, settings, backends, capacity)


def checkpoint_calls(n: int) -> tuple[int, ...]:
    """After how many calls the transaction is measured: fixed fractions of N (1/4, 1/2, 3/4, 1)."""
    return tuple(sorted({n * k // CHECKPOINT_QUARTERS for k in range(1, CHECKPOINT_QUARTERS + 1)} - {0}))


@dataclass
class Meter:
    """Measures the scenario transaction on its own connection, between the runner's chunks of calls.

    Each reading is one statement (never prepared: a cached plan would be a one-off of its own); the
    locks it takes on the catalogues and views it reads are held from the first reading on, so they
    add nothing to any interval.
    """

    conn: psycopg.Connection
    n: int
    memory_reason: str | None = None  # why memory is not measured here (None: it is)
    subxact_reason: str | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)
    seconds: float = 0.0  # spent measuring (the runner's timings report it)

    @classmethod
    def start(cls, conn: psycopg.Connection, n: int) -> Meter:
        version = conn.info.server_version
        meter = cls(conn, n)
        if version < 140000:
            meter.memory_reason = f"pg_backend_memory_contexts needs PostgreSQL 14+, the server is {version // 10000}"
        elif not conn.execute("SELECT has_table_privilege('pg_catalog.pg_backend_memory_contexts', 'SELECT')",
                              prepare=False).fetchone()[0]:  # type: ignore[index]
            meter.memory_reason = "this role may not read pg_backend_memory_contexts (grant pg_read_all_stats)"
        if version < SUBXACT_MIN_SERVER_VERSION:
            meter.subxact_reason = f"pg_stat_get_backend_subxact needs PostgreSQL 16+, the server is {version // 10000}"
        meter.measure(0)
        return meter

    def measure(self, calls: int) -> None:
        began = time.perf_counter()
        memory = subxacts = overflowed = None
        # Memory and subtransactions first: the lock reading, last, then sees every lock the readings take.
        if self.memory_reason is None:
            memory = self.conn.execute(MEMORY_SQL, prepare=False).fetchone()[0]  # type: ignore[index]
        if self.subxact_reason is None:
            self.conn.execute("SELECT pg_stat_clear_snapshot()", prepare=False)  # else the first reading is kept
            sub = self.conn.execute(SUBXACT_SQL, prepare=False).fetchone()
            if sub is not None:
                subxacts, overflowed = int(sub[0]), bool(sub[1])
        row = self.conn.execute(MEASURE_SQL, prepare=False).fetchone()
        assert row is not None
        self.checkpoints.append(Checkpoint(calls, row[0], row[1], row[2], row[3], int(row[4]),
                                           None if memory is None else int(memory), subxacts, overflowed))
        self.seconds += time.perf_counter() - began


@dataclass(frozen=True)
class ResourceRow:
    """One resource: its values at the checkpoints, per call, at the target, against its limit."""

    resource: str
    unit: str
    status: str  # PASS, FAIL (judged against `limit`), NOT RUN (`reason`), or measured (no limit of its own)
    values: tuple[int | None, ...] = ()  # at each checkpoint, before the first call first
    per_call: float | None = None
    at_target: float | None = None
    limit: int | None = None
    limit_source: str = ""
    reason: str = ""
    #: Exact figures (same on every run of the same build and server) go in the snapshotted report part.
    exact: bool = True

    def evidence(self, target_n: int, calls: tuple[int, ...]) -> dict[str, Any]:
        return {"resource": self.resource, "status": self.status, "per_call": self.per_call,
                "checkpoint_calls": list(calls), "values_at_checkpoints": list(self.values),
                "extrapolated_at_target": None if self.at_target is None else round(self.at_target),
                "target_n": target_n, "limit": self.limit, "limit_from": self.limit_source,
                **({"reason": self.reason} if self.reason else {})}


@dataclass(frozen=True)
class ResourceReport:
    n: int
    target_n: int
    target_from: str
    calls: tuple[int, ...]  # the checkpoints' calls, 0 (before the first call) first
    rows: tuple[ResourceRow, ...]
    capacity: LockCapacity | None = None
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET

    def row(self, resource: str) -> ResourceRow:
        return next(r for r in self.rows if r.resource == resource)

    def summary(self) -> str:
        """One line for the end-of-run table: the judged resources, per call and at the target N."""
        parts = []
        for row in self.rows:
            if row.status not in (PASS, FAIL, NOT_RUN):
                continue
            name = "locks" if row.resource == LOCKS else "memory"
            if row.status == NOT_RUN:
                parts.append(f"{name} NOT RUN")
                continue
            if row.per_call is not None and row.per_call > 0:
                per = f"{row.per_call:,.2f}/call" if row.exact else f"{row.per_call / 1024:,.1f} kB/call"
            else:
                per = "flat"
            if row.status == FAIL:
                shown = f"{row.at_target:,.0f}" if row.exact else f"{(row.at_target or 0) / 2**20:,.0f} MB"
                limit = f"{row.limit:,}" if row.exact else f"{(row.limit or 0) / 2**20:,.0f} MB"
                per += f" FAIL {shown} > {limit}"
            parts.append(f"{name} {per}")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "target_n": self.target_n, "target_from": self.target_from,
                "checkpoint_calls": list(self.calls),
                "lock_capacity": None if self.capacity is None else {
                    "capacity": self.capacity.capacity, "formula": self.capacity.formula,
                    "settings": self.capacity.settings, "max_backends": self.capacity.max_backends},
                "memory_budget_bytes": self.memory_budget_bytes,
                "rows": [r.evidence(self.target_n, self.calls) | {"unit": r.unit, "exact": r.exact}
                         for r in self.rows]}


def per_call(values: list[int], calls: list[int]) -> float:
    """The smallest growth per call over the intervals between the checkpoints after the first call."""
    return min((values[k + 1] - values[k]) / (calls[k + 1] - calls[k]) for k in range(len(calls) - 1))


def evaluate(meter: Meter, target_n: int, target_from: str, capacity: LockCapacity,
             memory_budget: int) -> ResourceReport:
    points = meter.checkpoints
    calls = tuple(c.calls for c in points)
    later = [c for c in points if c.calls > 0]  # the intervals start at the first checkpoint after calls
    if len(later) < 3:
        reason = f"N={meter.n:,} is too small: the per-call figures need 3 checkpoints after calls (N >= 3)"
        not_measured = tuple(ResourceRow(name, unit, NOT_RUN, reason=reason)
                             for name, unit in ((LOCKS, "entries"), (MEMORY, "bytes")))
        return ResourceReport(meter.n, target_n, target_from, calls, not_measured, capacity, memory_budget)
    later_calls = [c.calls for c in later]
    last = later[-1]
    remaining = target_n - last.calls

    def extrapolate(last_value: int, slope: float) -> float:
        return last_value + max(slope, 0.0) * remaining

    locks_slope = per_call([c.locks for c in later], later_calls)
    # Every held lock counts: at most 16 fast-path ones (weak relation locks) are outside the shared table.
    locks_at = extrapolate(last.locks, locks_slope)
    rows: list[ResourceRow] = [ResourceRow(LOCKS, "entries", FAIL if locks_at > capacity.capacity else PASS,
                                           tuple(c.locks for c in points), locks_slope, locks_at, capacity.capacity,
                                           "the shared lock table: " + capacity.formula)]
    if meter.memory_reason is not None:
        rows.append(ResourceRow(MEMORY, "bytes", NOT_RUN, reason=meter.memory_reason, exact=False))
    else:
        memory = [int(c.memory_bytes or 0) for c in later]
        slope = per_call(memory, later_calls)
        at = extrapolate(memory[-1], slope)
        rows.append(ResourceRow(MEMORY, "bytes", FAIL if at > memory_budget else PASS,
                                tuple(c.memory_bytes for c in points), slope, at, memory_budget,
                                "the backend memory budget (setting IU_HARNESS_MEMORY_BUDGET / --iu-memory-budget)",
                                exact=False))
    if meter.subxact_reason is not None:
        rows.append(ResourceRow(SUBXACTS, "subtransactions", NOT_RUN, reason=meter.subxact_reason))
    else:
        counts = [c.subxacts for c in later]
        overflowed = any(c.subxacts_overflowed for c in later)
        subxact_slope = (None if overflowed or None in counts
                         else per_call([int(x or 0) for x in counts], later_calls))
        rows.append(ResourceRow(
            SUBXACTS, "subtransactions", MEASURED, tuple(c.subxacts for c in points), subxact_slope,
            None if subxact_slope is None else extrapolate(int(counts[-1] or 0), subxact_slope),
            reason=(f"more than {SUBXACT_CACHE}: the backend's subtransaction cache overflowed (every snapshot "
                    "then reads pg_subtrans, a slowdown, not a failure)") if overflowed else
            f"no hard limit (a subcommit releases its XID lock; past {SUBXACT_CACHE} the subtransaction cache "
            "overflows, a slowdown, not a failure)"))
    for name, unit, attr, exact, note in (
            (TEMP_RELATIONS, "relations", "temp_relations", True,
             "no limit of its own: each one created holds a lock-table entry until COMMIT, judged there"),
            (CATALOG_ROWS, "rows", "catalog_rows", True, f"rows of {', '.join(CATALOGS)} (this database)"),
            (WAL, "bytes", "wal_lsn", False, "the server's WAL insert position (server-wide)")):
        values = [getattr(c, attr) for c in later]
        slope = per_call(values, later_calls)
        shown = tuple(getattr(c, attr) - points[0].wal_lsn if attr == "wal_lsn" else getattr(c, attr) for c in points)
        rows.append(ResourceRow(name, unit, MEASURED, shown, slope, extrapolate(shown[-1] or 0, slope),
                                reason=note, exact=exact))
    return ResourceReport(meter.n, target_n, target_from, calls, tuple(rows), capacity, memory_budget)
