"""`--since REF`: the targets whose normalized definition changed since a git revision of the SQL dir.

As cargo-mutants' --in-diff, but by definition rather than by diff lines: the
SQL dir as it was at REF (`git archive`) is loaded into a database of its own on
the same server, its catalogue read, and each target's identity compared with
today's (harness.mutate.identity, same oracle). A target that is new or whose
normalized definition differs has changed; a reformatted file whose functions
normalize the same has not.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

from harness.databases.pool import DatabasePool
from harness.errors import ConfigError
from harness.mutate.discovery import Catalog, discover
from harness.mutate.identity import identity_of
from harness.session import HarnessSession


def _git(directory: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, check=False, timeout=120)
    except FileNotFoundError as exc:
        raise ConfigError("--since needs git on PATH", fix="install git, or leave --since out") from exc
    if done.returncode != 0:
        raise ConfigError(f"--since: git {' '.join(args)} failed in {directory}: "
                          f"{done.stderr.decode(errors='replace').strip()}",
                          checked="the SQL dir's git repository and the revision",
                          fix="pass a revision of the SQL dir's repository, e.g. --since origin/main")
    return done.stdout


def sql_dir_at(sql_dir: Path, ref: str, into: Path) -> Path:
    """Write the SQL dir as it was at `ref` under `into`; returns its path there."""
    top = Path(_git(sql_dir, "rev-parse", "--show-toplevel").decode().strip())
    relative = sql_dir.resolve().relative_to(top.resolve())
    archive = _git(top, "archive", "--format=tar", ref, "--", relative.as_posix())
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    old = into / relative
    if not old.is_dir():
        raise ConfigError(f"--since {ref}: {relative} did not exist at that revision",
                          fix="pass a revision that has the SQL dir")
    return old


def catalog_at(session: HarnessSession, ref: str) -> Catalog:
    """The catalogue of the SQL dir at `ref` (with today's --iu-extra-sql), from a pool of its own."""
    with tempfile.TemporaryDirectory(prefix="iu-harness-since-") as folder:
        old_dir = sql_dir_at(session.config.sql_dir, ref, Path(folder))
        pool = DatabasePool(session.server, replace(session.config, sql_dir=old_dir))
        try:
            database = pool.clone(None)
            with database.connect(autocommit=True) as conn:
                return discover(conn)
        finally:
            pool.close()


def changed_targets(now: Catalog, before: Catalog, oracle: str) -> set[str]:
    """Targets of `now` that are new or whose normalized definition differs from `before`."""
    current = identity_of(now, oracle)
    return set(current.targets) - current.unchanged(identity_of(before, oracle))
