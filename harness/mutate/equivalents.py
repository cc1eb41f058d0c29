"""The reviewed equivalents file: survivors a reviewer accepted, each with a one-line reason.

TOML, one table per accepted mutant:

    [[equivalent]]
    id = "fn_iu_set_gates:order_by_direction:L26C16:'gate_key'->'gate_key DESC'"
    reason = "lock order only matters between two toggling sessions; both orders lock the same rows"

    [[uncovered]]
    function = "fn_iu_set_gates"
    reason = "an operator's helper: no SPEC function calls it, so no SPEC-only check can reach it"

Ids are the stable mutant ids of the report. An `[[uncovered]]` entry accepts
the mutants of a function the scenario never calls (status not_covered); it
accepts nothing else, so a function that becomes covered is judged mutant by
mutant again. A malformed file is refused (exit 2); an id the run did not
generate is reported as stale, not an error (a --function or --shard run
generates only part of the list).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError


@dataclass(frozen=True)
class Reviewed:
    mutants: dict[str, str] = field(default_factory=dict)  # mutant id -> reason
    uncovered: dict[str, str] = field(default_factory=dict)  # function name -> reason


def _entries(path: Path, data: dict[str, object], table: str, key: str) -> dict[str, str]:
    entries = data.get(table, [])
    if not isinstance(entries, list):
        raise ConfigError(f"equivalents file {path}: {table} must be an array of tables ([[{table}]])",
                          fix=f"write one [[{table}]] table ({key}, reason) per entry")
    accepted: dict[str, str] = {}
    for n, entry in enumerate(entries, 1):
        name = entry.get(key) if isinstance(entry, dict) else None
        reason = entry.get("reason") if isinstance(entry, dict) else None
        if name is not None and not isinstance(name, str):  # e.g. id = 3: there is one, of the wrong type
            raise ConfigError(f"equivalents file {path}: [[{table}]] entry {n}: {key} = {name!r} is not a string",
                              fix=f'quote it: {key} = "..."')
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"equivalents file {path}: [[{table}]] entry {n} has no {key}",
                              fix=f'add {key} = "..."')
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"equivalents file {path}: [[{table}]] entry {n} ({name}) has no reason",
                              fix="say in one line why it cannot be told apart from the original")
        if name in accepted:
            raise ConfigError(f"equivalents file {path}: {name} is listed twice", fix="keep one entry")
        accepted[name] = reason.strip()
    return accepted


def load_equivalents(path: Path) -> Reviewed:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"equivalents file {path} cannot be read: {exc}",
                          fix="pass --equivalents FILE with a readable TOML file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"equivalents file {path} is not valid TOML: {exc}",
                          fix="see harness/mutate/equivalents.py for the format") from exc
    unknown_keys = sorted(set(data) - {"equivalent", "uncovered"})
    if unknown_keys:
        raise ConfigError(f"equivalents file {path}: unknown tables {unknown_keys}",
                          fix="use [[equivalent]] (id, reason) and [[uncovered]] (function, reason) tables only")
    return Reviewed(_entries(path, data, "equivalent", "id"), _entries(path, data, "uncovered", "function"))
