"""One frozen configuration, resolved once from env vars, pytest options or CLI flags.

Precedence: an explicit option/flag beats the environment variable, which beats
the default. Everything downstream (fixtures, the CLI, the runner) reads only
the `HarnessConfig` this module returns.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from harness.durations import parse_duration
from harness.errors import ConfigError
from harness.spec import SPEC_TARGET_N

BUNDLED_SQL_DIR = Path(__file__).parent / "sql"
BACKENDS = ("embedded", "testcontainers", "dsn")
# SPEC section 1: a stock PostgreSQL 13 or newer; the harness itself needs 13 too (DROP DATABASE ... WITH (FORCE)).
MIN_PG_MAJOR = 13
DEFAULT_SWEEP_TTL = timedelta(hours=24)
DEFAULT_MEMORY_BUDGET = 1 << 30  # 1 GiB held by one backend until COMMIT: far past what a stock server expects


@dataclass(frozen=True)
class Setting:
    """One setting as the SPEC names it: env var, option/flag, help text."""

    key: str
    env: str
    flag: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("backend", "IU_HARNESS_BACKEND", "--iu-backend",
            "PostgreSQL to run against: embedded (default, pip-installed server), "
            "testcontainers (needs a Docker engine) or dsn (an existing server)"),
    Setting("dsn", "IU_HARNESS_DSN", "--iu-dsn",
            "server for the dsn backend, e.g. 'host=db user=postgres'; the harness creates and "
            "drops only its own iu_harness_* databases there"),
    Setting("sql_dir", "IU_HARNESS_SQL_DIR", "--iu-sql-dir",
            "directory of the iu_core build under test: *.sql loaded in name order "
            "(default: the bundled harness/sql)"),
    Setting("extra_sql", "IU_HARNESS_EXTRA_SQL", "--iu-extra-sql",
            f"SQL files loaded after the schema, in order, separated by '{os.pathsep}'"),
    Setting("max_n", "IU_HARNESS_MAX_N", "--iu-max-n",
            "also run each scenario's slow_sweep sizes up to this N (default: only the fast sweep)"),
    Setting("report_dir", "IU_HARNESS_REPORT_DIR", "--iu-report-dir",
            "where scaleout reports are written (default: reports)"),
    Setting("pg", "IU_HARNESS_PG", "--iu-pg",
            "PostgreSQL the embedded backend runs: a major (15, 16, 17, 18; default 17) or a path to a "
            "PostgreSQL bin folder; `iu-harness run` takes several, comma-separated, and runs each in turn"),
    Setting("shm_dir", "IU_HARNESS_SHM_DIR", "--iu-shm-dir",
            "tmpfs folder preferred for the embedded server's data (default /dev/shm); with too little free "
            "space for the run the data goes to a disk folder ($TMPDIR) instead, with a notice"),
    Setting("sweep_ttl", "IU_HARNESS_SWEEP_TTL", "--iu-sweep-ttl",
            "age after which another host's iu_harness_* databases on a shared server count as "
            "stale and are swept at start, e.g. 24h (default), 90m, 2d"),
    Setting("target_n", "IU_HARNESS_TARGET_N", "--iu-target-n",
            "N that one transaction's per-call resources (locks, memory) are extrapolated to and judged at "
            "(default: the scenario's target_n, else SPEC's 100,000; never less than 100,000)"),
    Setting("memory_budget", "IU_HARNESS_MEMORY_BUDGET", "--iu-memory-budget",
            "backend memory one scenario transaction may hold at the target N, e.g. 1GB (default), 512MB"),
)
SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class HarnessConfig:
    backend: str = "embedded"
    dsn: str | None = None
    sql_dir: Path = BUNDLED_SQL_DIR
    extra_sql: tuple[Path, ...] = field(default_factory=tuple)
    max_n: int | None = None
    report_dir: Path = Path("reports")
    #: PostgreSQL versions to run: majors ("16") or bin folders; empty means the default (17).
    pg: tuple[str, ...] = ()
    shm_dir: Path = Path("/dev/shm")
    sweep_ttl: timedelta = DEFAULT_SWEEP_TTL
    #: None: the scenario's target_n, else SPEC's 100,000 (harness/run/resources.py).
    target_n: int | None = None
    memory_budget: int = DEFAULT_MEMORY_BUDGET

    @property
    def sql_dir_is_bundled(self) -> bool:
        return self.sql_dir.resolve() == BUNDLED_SQL_DIR.resolve()

    @property
    def reports_are_snapshotted(self) -> bool:
        """The reviewed scaleout snapshots describe the bundled build judged at the default target N and
        memory budget; another build, extra SQL or another target is judged by its invariants only."""
        return (self.sql_dir_is_bundled and not self.extra_sql and self.target_n is None
                and self.memory_budget == DEFAULT_MEMORY_BUDGET)

    def describe(self) -> str:
        extra = ", ".join(str(p) for p in self.extra_sql) or "none"
        return f"backend={self.backend} sql-dir={self.sql_dir} extra-sql={extra}"


def resolve_config(  # noqa: C901  (one branch per setting it validates)
    options: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> HarnessConfig:
    """Build the config: `options` (key -> value or None) over `environ` over defaults."""
    options = options or {}
    environ = os.environ if environ is None else environ

    def pick(key: str) -> tuple[str | None, str]:
        setting = SETTINGS_BY_KEY[key]
        value = options.get(key)
        if value not in (None, ""):
            return value, setting.flag
        value = environ.get(setting.env)
        if value not in (None, ""):
            return value, setting.env
        return None, ""

    backend, backend_source = pick("backend")
    backend = (backend or "embedded").strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(
            f"unknown backend {backend!r} (from {backend_source})",
            checked=f"allowed backends: {', '.join(BACKENDS)}",
            fix="set IU_HARNESS_BACKEND / --iu-backend to one of them",
        )

    dsn, _ = pick("dsn")
    if backend == "dsn" and not dsn:
        raise ConfigError(
            "backend 'dsn' needs a server",
            checked="IU_HARNESS_DSN and --iu-dsn are both empty",
            fix="pass --iu-dsn 'host=... user=... dbname=postgres' or set IU_HARNESS_DSN",
        )

    sql_dir_value, sql_source = pick("sql_dir")
    sql_dir = Path(sql_dir_value).expanduser().resolve() if sql_dir_value else BUNDLED_SQL_DIR
    if not sql_dir.is_dir():
        raise ConfigError(
            f"SQL dir {sql_dir} (from {sql_source}) is not a directory",
            checked="the path exists and is a directory",
            fix="point --iu-sql-dir / IU_HARNESS_SQL_DIR at the folder holding your iu_core *.sql files",
        )
    if not any(sql_dir.glob("*.sql")):
        raise ConfigError(
            f"SQL dir {sql_dir} (from {sql_source}) holds no *.sql file",
            checked=f"glob {sql_dir}/*.sql",
            fix="put the iu_core build's numbered .sql files there",
        )

    extra_value, extra_source = pick("extra_sql")
    extra: list[Path] = []
    for part in (extra_value or "").split(os.pathsep):
        if not part.strip():
            continue
        path = Path(part.strip()).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(
                f"extra SQL file {path} (from {extra_source}) does not exist",
                checked="every os.pathsep-separated entry is a readable file",
                fix=f"fix the path, or separate several files with '{os.pathsep}'",
            )
        extra.append(path)

    max_n_value, max_n_source = pick("max_n")
    max_n = None
    if max_n_value is not None:
        try:
            max_n = int(max_n_value.replace("_", ""))
        except ValueError:
            max_n = 0
        if max_n <= 0:
            raise ConfigError(f"max N {max_n_value!r} (from {max_n_source}) is not a positive integer",
                              fix="pass e.g. --iu-max-n 100000 or IU_HARNESS_MAX_N=100000")

    report_dir_value, _ = pick("report_dir")
    report_dir = Path(report_dir_value).expanduser() if report_dir_value else Path("reports")

    pg_value, pg_source = pick("pg")
    pg = parse_pg_versions(pg_value, pg_source) if pg_value else ()
    if pg and backend == "dsn":
        raise ConfigError(f"{pg_source} chooses the server's version, but backend 'dsn' uses your server as it is",
                          fix="drop --iu-pg / IU_HARNESS_PG, or use --iu-backend embedded")
    if backend == "testcontainers" and any(not v.isdigit() for v in pg):
        raise ConfigError(f"{pg_source}: backend 'testcontainers' takes a major version (an image tag), not a path",
                          fix="pass e.g. --iu-pg 16, or use --iu-backend embedded for a bin folder")

    shm_value, _ = pick("shm_dir")
    shm_dir = Path(shm_value).expanduser() if shm_value else Path("/dev/shm")

    sweep_ttl_value, sweep_ttl_source = pick("sweep_ttl")
    sweep_ttl = DEFAULT_SWEEP_TTL
    if sweep_ttl_value is not None:
        try:
            sweep_ttl = parse_duration(sweep_ttl_value)
        except ValueError as exc:
            raise ConfigError(f"sweep TTL (from {sweep_ttl_source}): {exc}",
                              fix="pass e.g. --iu-sweep-ttl 24h or IU_HARNESS_SWEEP_TTL=2d") from exc

    target_n_value, target_n_source = pick("target_n")
    target_n = None
    if target_n_value is not None:
        try:
            target_n = int(target_n_value.replace("_", "").replace(",", ""))
        except ValueError:
            target_n = 0
        if target_n < SPEC_TARGET_N:
            raise ConfigError(f"target N {target_n_value!r} (from {target_n_source}) is not an integer of at least "
                              f"{SPEC_TARGET_N:,} (SPEC section 1's one-transaction size, the floor)",
                              fix="pass e.g. --iu-target-n 1000000 or IU_HARNESS_TARGET_N=1000000")

    budget_value, budget_source = pick("memory_budget")
    memory_budget = DEFAULT_MEMORY_BUDGET
    if budget_value is not None:
        try:
            memory_budget = parse_bytes(budget_value)
        except ValueError as exc:
            raise ConfigError(f"memory budget (from {budget_source}): {exc}",
                              fix="pass e.g. --iu-memory-budget 1GB or IU_HARNESS_MEMORY_BUDGET=512MB") from exc

    return HarnessConfig(backend=backend, dsn=dsn, sql_dir=sql_dir, extra_sql=tuple(extra), max_n=max_n,
                         report_dir=report_dir, pg=pg, shm_dir=shm_dir, sweep_ttl=sweep_ttl, target_n=target_n,
                         memory_budget=memory_budget)


BYTE_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def parse_bytes(text: str) -> int:
    """'1GB' -> 1073741824 (units B, kB, MB, GB, TB as PostgreSQL reads them: powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in BYTE_UNITS or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a positive size such as 512MB or 1GB (units: B, kB, MB, GB, TB)")
    return int(match.group(1)) * BYTE_UNITS[unit]


def parse_pg_versions(value: str, source: str) -> tuple[str, ...]:
    """'15,16,/opt/pg/bin' -> ('15', '16', '/opt/pg/bin'): majors at or above the minimum, or bin folders
    holding postgres and initdb (an install folder with bin/ inside is taken as its bin/)."""
    versions: list[str] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        if part.isdigit():
            if int(part) < MIN_PG_MAJOR:
                raise ConfigError(
                    f"PostgreSQL {int(part)} (from {source}) is below the minimum the SQL and harness support: "
                    f"PostgreSQL {MIN_PG_MAJOR}",
                    fix=f"choose {MIN_PG_MAJOR} or newer (tested here: 15, 16, 17, 18)")
            versions.append(str(int(part)))
            continue
        folder = Path(part).expanduser().resolve()
        if (folder / "bin" / "postgres").is_file():
            folder = folder / "bin"
        missing = [tool for tool in ("postgres", "initdb") if not (folder / tool).is_file()]
        if missing:
            raise ConfigError(
                f"{part!r} (from {source}) is neither a PostgreSQL major nor a bin folder with postgres and initdb",
                checked=f"{folder} lacks {', '.join(missing)}",
                fix="pass a major such as 16, or the bin folder of a PostgreSQL install (pg_config --bindir)")
        versions.append(str(folder))
    if not versions:
        raise ConfigError(f"{source} names no PostgreSQL version", fix="pass e.g. --iu-pg 17 or --iu-pg 15,16,17,18")
    if len(set(versions)) != len(versions):
        raise ConfigError(f"{source} names a version twice: {value!r}", fix="list each version once")
    return tuple(versions)
