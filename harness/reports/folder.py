"""The report folder: checked before any work, written by one run at a time, never holding a
sweep of another run beside this run's per-N reports.

- `check_report_dir(path)`: refuse, up front, a folder that is a file, whose parent is missing,
  or that cannot be created or written (rather than after the first N ran); say when it is created.
- `hold_scenario(folder, scenario)`: a run's claim on one scenario's reports in a folder (an
  flock on `.<scenario>.lock`, released when the process ends however it ends); a second run
  writing the same scenario's reports into the same folder is refused instead of interleaved.
- `retire_other_sweep(folder, scenario, run_id)`: called when a per-N report is written; a
  `<scenario>-sweep.*` written by another run (its run id differs) no longer describes the
  per-N files beside it, so it goes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.errors import ConfigError, HarnessError

SWEEP_SUFFIXES = (".md", ".json", ".png")
_held: dict[Path, int] = {}  # lock file -> descriptor, for the claims this process holds


def check_report_dir(path: Path, source: str = "--report-dir") -> str | None:
    """Create `path` when missing and prove it writable; returns a notice when it was created."""
    fix = f"pass {source} a folder you can write, e.g. {source} reports"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"report folder {path} (from {source}) is a file, not a folder",
                          checked="the path is a folder or can be created as one", fix=fix)
    created = not path.exists()
    parent = path.absolute().parent
    if created and not parent.is_dir():  # never a tree of folders (at / when run as root) by a typo
        raise ConfigError(f"report folder {path} (from {source}): its parent {parent} does not exist",
                          checked="the folder exists, or its parent does (the harness creates one level)",
                          fix=f"create it first (mkdir -p {path}), or {fix[0].lower()}{fix[1:]}")
    try:
        path.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".iu-harness-write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(f"report folder {path} (from {source}) cannot be written: "
                          f"{exc.strerror or exc}", checked="create the folder and a file in it", fix=fix) from exc
    return f"report folder {path.resolve()} did not exist: created" if created else None


def _lock_path(folder: Path, scenario: str) -> Path:
    return (folder / f".{scenario}.lock").resolve()


@contextlib.contextmanager
def hold_scenario(folder: Path, scenario: str) -> Iterator[None]:
    """Claim `scenario`'s reports in `folder` for this run; refuse when another process holds them."""
    path = _lock_path(folder, scenario)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise HarnessError(f"another run ({holder}) is writing {scenario}'s reports into {folder}",
                           checked=f"the lock {path}",
                           fix="wait for it to finish, or give this run its own --report-dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}".encode())
    _held[path] = fd
    try:
        yield
    finally:
        _held.pop(path, None)
        os.close(fd)  # releases the flock


def refuse_if_held_elsewhere(folder: Path, scenario: str) -> None:
    """For writers without a claim of their own (the pytest plugin): refuse while a run holds one.
    A shared lock, held for a moment: such writers (pytest-xdist workers) never refuse each other."""
    path = _lock_path(folder, scenario)
    if path in _held or not path.exists():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
        raise HarnessError(f"another run ({holder}) is writing {scenario}'s reports into {folder}",
                           checked=f"the lock {path}",
                           fix="wait for it to finish, or give this run its own report folder") from None
    finally:
        os.close(fd)


def retire_other_sweep(folder: Path, scenario: str, run_id: str | None) -> list[Path]:
    """Remove `<scenario>-sweep.*` when another run wrote it; returns what was removed."""
    sweep_json = folder / f"{scenario}-sweep.json"
    if not sweep_json.exists():
        return []
    try:
        written_by = json.loads(sweep_json.read_text(encoding="utf-8")).get("environment", {}).get("run_id")
    except (OSError, ValueError, AttributeError):
        written_by = None
    if run_id is not None and written_by == run_id:
        return []
    removed = []
    for suffix in SWEEP_SUFFIXES:
        stale = folder / f"{scenario}-sweep{suffix}"
        if stale.exists():
            stale.unlink()
            removed.append(stale)
    return removed
