"""The janitor: every database the harness creates carries a mark; those a killed run left behind are swept.

A shared server (`dsn` backend) outlives the runs that use it, and a SIGKILLed
run cannot drop its own databases. So each database gets a catalog comment at
creation (`COMMENT ON DATABASE`, visible in `\\l+`):

    iu-harness {"host":..., "pid":..., "started":..., "version":..., "run":..., "pid_ns":..., "pid_start":...}

and a run sweeps before it creates its own. A database is dropped only when all hold:

- its name starts with `iu_harness_` AND its comment is a valid harness mark whose
  run id matches the name (a look-alike without the mark is never touched);
- its owner is provably gone: the mark was written in this pid namespace (same host,
  same boot) and that process no longer runs (a zombie or a reused pid counts as gone),
  or the mark comes from elsewhere and is older than the TTL;
- nobody is connected to it: counted in pg_stat_activity, and enforced by
  `DROP DATABASE` without FORCE, which refuses a database in use.

`judge` is the decision, a pure function of catalog rows, a clock and an
"is this owner running" callable; `sweep` reads the catalog, judges and drops.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from harness import __version__
from harness.durations import format_duration
from harness.servers.base import Server

NAME_PREFIX = "iu_harness_"
MARK_PREFIX = "iu-harness "
STALE, ALIVE, KEPT = "stale", "alive", "kept"

CATALOG_SQL = """
SELECT d.datname,
       shobj_description(d.oid, 'pg_database'),
       (SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid),
       CASE WHEN %(sizes)s AND has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END
  FROM pg_database d
 WHERE left(d.datname, length(%(prefix)s)) = %(prefix)s
 ORDER BY d.datname
"""


def _proc_stat(pid: int | str) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc; None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _this_pid_namespace() -> str | None:
    """Where a pid means this process's pid: the kernel's boot id + the pid namespace (containers
    on one machine share a host name or a boot, never both of these)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]"
    except OSError:
        return None
    return f"{boot}/{namespace.removeprefix('pid:[').removesuffix(']')}"


@dataclass(frozen=True)
class Place:
    """Where a process runs: its host name (for people) and pid namespace (for the pid check)."""

    host: str
    pid_ns: str | None

    @classmethod
    def here(cls) -> Place:
        return cls(socket.gethostname(), _this_pid_namespace())


@dataclass(frozen=True)
class Mark:
    """Whose a database is: written as its catalog comment when the harness creates it."""

    host: str
    pid: int
    started: datetime
    version: str
    run: str
    pid_ns: str | None = None
    pid_start: int | None = None  # the owner's start in clock ticks since boot: tells a reused pid apart

    @classmethod
    def for_this_process(cls, run: str, started: datetime) -> Mark:
        place = Place.here()
        stat = _proc_stat("self")
        return cls(place.host, os.getpid(), started, __version__, run, place.pid_ns, stat[1] if stat else None)

    @property
    def place(self) -> Place:
        return Place(self.host, self.pid_ns)

    def comment(self) -> str:
        payload = {"host": self.host, "pid": self.pid, "started": self.started.isoformat(timespec="seconds"),
                   "version": self.version, "run": self.run, "pid_ns": self.pid_ns, "pid_start": self.pid_start}
        return MARK_PREFIX + json.dumps(payload, separators=(",", ":"))

    @classmethod
    def parse(cls, comment: str | None) -> Mark | None:
        """The mark in a database comment, or None when the comment is not a complete, well-typed mark."""
        if not comment or not comment.startswith(MARK_PREFIX):
            return None
        try:
            payload = json.loads(comment.removeprefix(MARK_PREFIX))
            started = datetime.fromisoformat(payload["started"])
            host, pid, version, run = payload["host"], payload["pid"], payload["version"], payload["run"]
            pid_ns, pid_start = payload.get("pid_ns"), payload.get("pid_start")
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        well_typed = (isinstance(host, str) and host and type(pid) is int and 0 < pid < 2**31
                      and isinstance(version, str) and isinstance(run, str) and run
                      and started.tzinfo is not None and (pid_ns is None or isinstance(pid_ns, str))
                      and (pid_start is None or type(pid_start) is int))
        return cls(host, pid, started, version, run, pid_ns, pid_start) if well_typed else None


def owner_running(mark: Mark) -> bool:
    """Does the process that wrote `mark` still run here? (Only asked for marks of this pid namespace.)"""
    try:
        os.kill(mark.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists and belongs to another user
    stat = _proc_stat(mark.pid)
    if stat is None:
        return True  # no /proc: the signal's answer is all we have
    state, start_ticks = stat
    if state == "Z":
        return False  # a zombie runs nothing; it only waits for its parent to reap it
    return mark.pid_start is None or start_ticks == mark.pid_start  # else the pid was reused


@dataclass(frozen=True)
class CatalogRow:
    """A database named like ours, as pg_database and pg_stat_activity show it."""

    name: str
    comment: str | None
    connections: int
    size_bytes: int | None = None


@dataclass(frozen=True)
class Verdict:
    row: CatalogRow
    mark: Mark | None
    verdict: str  # STALE (to drop), ALIVE (its run goes on) or KEPT (not ours to judge, or in use)
    reason: str
    age: timedelta | None = None


def judge_one(row: CatalogRow, *, now: datetime, here: Place, owner_alive: Callable[[Mark], bool],
              ttl: timedelta) -> Verdict:
    if not row.name.startswith(NAME_PREFIX):
        return Verdict(row, None, KEPT, "not a harness name")
    mark = Mark.parse(row.comment)
    if mark is None:
        return Verdict(row, None, KEPT, "no harness mark")
    if not row.name.startswith(f"{NAME_PREFIX}{mark.run}_"):
        return Verdict(row, mark, KEPT, f"its mark names run {mark.run}, not this database's")
    age = now - mark.started
    if mark.place == here:
        if owner_alive(mark):
            return Verdict(row, mark, ALIVE, f"pid {mark.pid} runs on this host", age)
        gone = f"pid {mark.pid} is gone from this host"
    elif age <= ttl:
        return Verdict(row, mark, ALIVE, f"from host {mark.host}, within the TTL of {format_duration(ttl)}", age)
    else:
        gone = f"from host {mark.host}, older than the TTL of {format_duration(ttl)}"
    if row.connections:
        return Verdict(row, mark, KEPT, f"{gone}, but {row.connections} live connection(s)", age)
    return Verdict(row, mark, STALE, gone, age)


def judge(rows: Iterable[CatalogRow], *, now: datetime, here: Place, owner_alive: Callable[[Mark], bool],
          ttl: timedelta) -> list[Verdict]:
    """Which databases named like ours are stale: the janitor's whole decision, free of I/O."""
    return [judge_one(row, now=now, here=here, owner_alive=owner_alive, ttl=ttl) for row in rows]


def read_catalog(conn: psycopg.Connection, *, with_sizes: bool = False) -> list[CatalogRow]:
    rows = conn.execute(CATALOG_SQL, {"prefix": NAME_PREFIX, "sizes": with_sizes}).fetchall()
    return [CatalogRow(name, comment, connections, size) for name, comment, connections, size in rows]


@dataclass
class SweepResult:
    verdicts: list[Verdict]
    dry_run: bool = False
    dropped: list[str] = field(default_factory=list)
    not_dropped: dict[str, str] = field(default_factory=dict)  # stale, but DROP refused: name -> why
    error: str | None = None  # the sweep itself could not run

    @property
    def stale(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == STALE]

    def summary(self) -> str:
        """One line on what was swept (empty when nothing was stale)."""
        if self.error:
            return f"iu-harness: sweeping stale databases failed: {self.error}"
        if not self.stale:
            return ""
        swept = self.stale if self.dry_run else [v for v in self.stale if v.row.name in self.dropped]
        runs = {v.mark.run: v.reason for v in swept if v.mark is not None}
        parts = []
        if swept:
            parts.append(f"{'would sweep' if self.dry_run else 'swept'} {len(swept)} stale database(s) of "
                         f"{len(runs)} gone run(s): " + "; ".join(f"{run} ({why})" for run, why in runs.items()))
        if self.not_dropped:
            parts.append(f"{len(self.not_dropped)} stale database(s) left: " + "; ".join(
                f"{name} ({why})" for name, why in self.not_dropped.items()))
        return "iu-harness: " + "; ".join(parts)


def drop_stale(conn: psycopg.Connection, verdicts: list[Verdict]) -> tuple[list[Verdict], list[str], dict[str, str]]:
    """DROP each stale database (names as pg_database spelled them, quoted as identifiers).

    Returns the verdicts (a database someone connected to since the catalog was read is now KEPT),
    the names dropped, and the stale names whose DROP failed otherwise, with why.
    """
    final: list[Verdict] = []
    dropped: list[str] = []
    refused: dict[str, str] = {}
    for verdict in verdicts:
        if verdict.verdict == STALE:
            name = verdict.row.name
            try:
                # No FORCE: a session that connected after the catalog was read makes this fail.
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
                dropped.append(name)
            except psycopg.errors.ObjectInUse:
                verdict = replace(verdict, verdict=KEPT, reason=f"{verdict.reason}, but a session connected to "
                                                                "it while sweeping")
            except psycopg.Error as exc:
                refused[name] = f"DROP refused: {_first_line(exc)}"
        final.append(verdict)
    return final, dropped, refused


def sweep(server: Server, *, ttl: timedelta, dry_run: bool = False, now: datetime | None = None,
          here: Place | None = None, owner_alive: Callable[[Mark], bool] = owner_running,
          with_sizes: bool = False) -> SweepResult:
    """Judge every database named like ours on the server and drop the stale ones (none with dry_run)."""
    with server.connect(autocommit=True) as conn:
        rows = read_catalog(conn, with_sizes=with_sizes)
        verdicts = judge(rows, now=now or datetime.now(UTC), here=here or Place.here(),
                         owner_alive=owner_alive, ttl=ttl)
        if dry_run:
            return SweepResult(verdicts, dry_run=True)
        final, dropped, refused = drop_stale(conn, verdicts)
    return SweepResult(final, dropped=dropped, not_dropped=refused)


def sweep_quietly(server: Server, *, ttl: timedelta) -> SweepResult:
    """The sweep a run does at its start: a failure is reported in its line, never stops the run."""
    try:
        return sweep(server, ttl=ttl)
    except psycopg.Error as exc:
        return SweepResult([], error=_first_line(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
