"""Which checks a run makes: the built-in ones, named here module by module, and those added from outside.

A check is an `Invariant` (harness/checks/invariants.py). The built-in modules are listed, not found by
import side effects; others come from modules under the `iu_harness.invariants` entry point group,
or from `register(...)` (a conftest.py, say). The order is the modules' and, within one, the
definitions': the runner runs a phase's checks in it, and the reports list them so.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from types import ModuleType

from harness.checks import invariants, probes
from harness.checks import resources as resource_checks
from harness.checks.invariants import PHASES, Invariant
from harness.run import workers

BUILTIN_MODULES: tuple[ModuleType, ...] = (invariants, probes, resource_checks, workers)
PLUGIN_GROUP = "iu_harness.invariants"
_registered: list[Invariant] = []


def checks_of(module: ModuleType) -> list[Invariant]:
    """The checks a module defines (not those it imports), in definition order."""
    return [value for value in vars(module).values()
            if isinstance(value, Invariant) and getattr(value.check, "__module__", None) == module.__name__]


def register(*checks: Invariant) -> None:
    """Add checks defined outside the built-in modules and the entry point group."""
    _registered.extend(check for check in checks if check not in _registered)


def all_checks() -> dict[str, Invariant]:
    """Every check by name: built-in, then entry point modules', then registered ones. A name twice is an error."""
    found = [check for module in BUILTIN_MODULES for check in checks_of(module)]
    for entry in entry_points(group=PLUGIN_GROUP):
        found += checks_of(entry.load())
    found += _registered
    checks: dict[str, Invariant] = {}
    for check in found:
        if checks.setdefault(check.name, check) is not check:
            raise ValueError(f"invariant {check.name!r} is defined twice (in {checks[check.name].check.__module__} "
                             f"and {check.check.__module__}): give one another name")
    return checks


def checks_for(phase: str, checks: dict[str, Invariant] | None = None) -> list[Invariant]:
    if phase not in PHASES:
        raise ValueError(f"phase {phase!r} is not one of {PHASES}")
    return [check for check in (checks or all_checks()).values() if check.phase == phase]
