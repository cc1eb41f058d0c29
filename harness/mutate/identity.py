"""What an outcome depends on, as hashes: a mutant's outcome may be reused only while these are the same.

- The oracle: the harness (its version and the text of its Python modules, where
  the invariants, probes and runner live), the scenario file's text, N and the
  build's own tests. A change to any of them changes every target's identity,
  so everything runs again.
- A target: the oracle plus the target's normalized definition
  (pg_get_functiondef, or the schema listing) — the text every mutant's span and
  id refer to. An unchanged hash means the same mutants judged the same way.

What no hash sees: a mutant of an unchanged function may behave differently
when a function it calls changed. Incremental runs share this limit with
cargo-mutants' --in-diff; a full run now and then (or on main) bounds it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import harness
from harness import __version__
from harness.checks.build_tests import BuildTests
from harness.mutate.discovery import Catalog
from harness.scenarios.scenario import Scenario


@dataclass(frozen=True)
class Identity:
    oracle: str  # hash of what judges the mutants
    targets: dict[str, str]  # target name -> hash of the oracle and its normalized definition

    def unchanged(self, other: Identity) -> set[str]:
        """Targets whose hash is the same in both."""
        return {name for name, digest in self.targets.items() if other.targets.get(name) == digest}


def _digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


@cache
def harness_fingerprint() -> str:
    """The harness's version and the text of its Python modules (the checks and how they run)."""
    package = Path(harness.__file__).parent
    modules = sorted(package.rglob("*.py"))
    return _digest(__version__, *(part for p in modules
                                  for part in (p.relative_to(package).as_posix(), p.read_bytes())))


def oracle_digest(scenario: Scenario, n: int, build_tests: BuildTests | None) -> str:
    tests = [] if build_tests is None else [f"{t.name}\n{t.text}" for t in (*build_tests.prelude, *build_tests.tests)]
    return _digest(harness_fingerprint(), Path(scenario.path).read_bytes(), str(n), *tests)


def identity_of(catalog: Catalog, oracle: str) -> Identity:
    sources = [t.source for t in catalog.functions] + [catalog.schema]
    return Identity(oracle, {s.name: _digest(oracle, s.kind, s.language, s.text) for s in sources})
