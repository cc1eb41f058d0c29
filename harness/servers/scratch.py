"""Where a disposable cluster's folder goes: tmpfs when it has room for the run, else a disk folder.

tmpfs (/dev/shm) makes initdb about 3x and template clones about 25x faster
(POSTGRES.md), but CI containers often have a tiny one (Docker's default is
64 MB) while the cluster alone takes about 70 MB. So the free space is checked
against an estimate of what the run needs before anything is placed there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BackendUnavailable
from harness.servers.pg_binaries import traversable_by_others

MIB = 1024 * 1024
DEFAULT_SHM_DIR = Path("/dev/shm")
# Measured (PG 17, scaleout-mixed, peak size of the cluster folder during a CLI run with the floor):
# N = 1,000: 76 MB; N = 10,000: 116 MB; N = 100,000: 653 MB, i.e. about 70 MB + 6 KB per instance.
# The constants keep a margin over that for other versions and heavier mixes.
BASE_BYTES = 96 * MIB
PER_INSTANCE_BYTES = 8 * 1024
# What a pytest session needs when --iu-max-n is not given: the bundled scenarios' default sweeps stop here.
DEFAULT_LARGEST_N = 10_000


def estimate_bytes(largest_n: int | None) -> int:
    """Bytes a server's folder needs for runs up to `largest_n` instances in one transaction: the
    cluster with its schema and baseline templates, plus the run's rows, indexes, temp tables and WAL."""
    return BASE_BYTES + PER_INSTANCE_BYTES * (DEFAULT_LARGEST_N if largest_n is None else largest_n)


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def disk_dir() -> Path:
    """The disk fallback: the temp folder (TMPDIR moves it)."""
    return Path(tempfile.gettempdir())


@dataclass(frozen=True)
class Placement:
    root: Path
    notice: str | None  # one line to show when the fast folder was passed over


def choose_root(largest_n: int | None, shm_dir: Path = DEFAULT_SHM_DIR, *, for_others: bool = False) -> Placement:
    """`shm_dir` when it is writable and has the estimated room, else the disk folder with a notice.
    `for_others`: the server runs as another user (nobody), who must be able to enter the folder."""
    needed = estimate_bytes(largest_n)
    fallback = disk_dir()
    if not (shm_dir.is_dir() and os.access(shm_dir, os.W_OK)):
        _refuse_without_room(fallback, needed, largest_n, shm_dir, 0)
        if shm_dir == DEFAULT_SHM_DIR and not shm_dir.exists():
            return Placement(fallback, None)  # no /dev/shm on this system (macOS): nothing to say
        return Placement(fallback, f"iu-harness: {shm_dir} is not a writable folder: the server's data goes to "
                                   f"{fallback} (disk, slower)")
    if for_others and not traversable_by_others(shm_dir):
        _refuse_without_room(fallback, needed, largest_n, shm_dir, 0)
        return Placement(fallback, f"iu-harness: the server's user cannot enter {shm_dir} (a folder on its path "
                                   f"lacks o+rx): the server's data goes to {fallback} (disk, slower)")
    free = free_bytes(shm_dir)
    if free >= needed:
        return Placement(shm_dir, None)
    _refuse_without_room(fallback, needed, largest_n, shm_dir, free)
    return Placement(fallback, f"iu-harness: {shm_dir} has {free / MIB:,.0f} MB free, runs up to "
                               f"N={largest_n or DEFAULT_LARGEST_N:,} need about {needed / MIB:,.0f} MB: the "
                               f"server's data goes to {fallback} (disk, slower)")


def _refuse_without_room(fallback: Path, needed: int, largest_n: int | None, shm_dir: Path, shm_free: int) -> None:
    """Neither folder can hold the run: refuse before the server writes anything, with the figures."""
    free = free_bytes(fallback)
    if free >= needed:
        return
    n = largest_n or DEFAULT_LARGEST_N
    fits = max(0, (max(free, shm_free) - BASE_BYTES) // PER_INSTANCE_BYTES)
    raise BackendUnavailable(
        f"runs up to N={n:,} need about {needed / MIB:,.0f} MB for the server's data, but {shm_dir} has "
        f"{shm_free / MIB:,.0f} MB free and {fallback} {free / MIB:,.0f} MB",
        checked=f"free space against {BASE_BYTES // MIB} MB + {PER_INSTANCE_BYTES // 1024} KB per instance",
        fix=f"run a smaller N (about {fits:,} fits), or free space / point TMPDIR or --iu-shm-dir at a larger folder")


def roots(shm_dir: Path = DEFAULT_SHM_DIR) -> list[Path]:
    """Every folder a cluster may have been placed in (for sweeping stale ones)."""
    found = [shm_dir, disk_dir()]
    return [r for i, r in enumerate(found) if r not in found[:i] and r.is_dir()]


OUT_OF_SPACE_MARKERS = ("No space left on device", "could not extend file", "disk full")


def looks_out_of_space(text: str) -> bool:
    return any(marker.lower() in text.lower() for marker in OUT_OF_SPACE_MARKERS)


def out_of_space(folder: Path, detail: str) -> BackendUnavailable:
    """The error for a full folder: which folder, how full, and how to give the run room."""
    try:
        free = f"{free_bytes(folder) / MIB:,.0f} MB free now"
    except OSError:
        free = "free space unknown"
    return BackendUnavailable(
        f"embedded backend: out of space in {folder} ({free}): {detail.strip().splitlines()[0][:300]}",
        checked="SQLSTATE 53100 disk_full / 'No space left on device' from the server",
        fix=f"free space in {folder.parent}, run a smaller N, or move the data: --iu-shm-dir / IU_HARNESS_SHM_DIR "
            "to a larger tmpfs (docker run --shm-size=2g), or TMPDIR to a disk folder with room")
