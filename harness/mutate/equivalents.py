"""The reviewed equivalents file: survivors a reviewer accepted, each with a one-line reason.

TOML, one table per accepted mutant:

    [[equivalent]]
    id = "fn_iu_set_gates:order_by_direction:L26C16:'gate_key'->'gate_key DESC'"
    reason = "lock order only matters between two toggling sessions; both orders lock the same rows"

Ids are the stable mutant ids of the report. A malformed file is refused
(exit 2); an id the run did not generate is reported as stale, not an error
(a --function or --shard run generates only part of the list).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from harness.errors import ConfigError


def load_equivalents(path: Path) -> dict[str, str]:
    """id -> reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"equivalents file {path} cannot be read: {exc}",
                          fix="pass --equivalents FILE with a readable TOML file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"equivalents file {path} is not valid TOML: {exc}",
                          fix="see harness/mutate/equivalents.py for the format") from exc
    entries = data.get("equivalent", [])
    unknown_keys = sorted(set(data) - {"equivalent"})
    if unknown_keys or not isinstance(entries, list):
        raise ConfigError(f"equivalents file {path}: expected only [[equivalent]] tables, got {unknown_keys or entries!r}",
                          fix="write one [[equivalent]] table (id, reason) per accepted survivor")
    accepted: dict[str, str] = {}
    for n, entry in enumerate(entries, 1):
        mutant_id = entry.get("id") if isinstance(entry, dict) else None
        reason = entry.get("reason") if isinstance(entry, dict) else None
        if not isinstance(mutant_id, str) or not mutant_id.strip():
            raise ConfigError(f"equivalents file {path}: entry {n} has no id", fix="add id = \"<mutant id>\"")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"equivalents file {path}: entry {n} ({mutant_id}) has no reason",
                              fix="say in one line why the mutant cannot be told apart from the original")
        if mutant_id in accepted:
            raise ConfigError(f"equivalents file {path}: {mutant_id} is listed twice", fix="keep one entry")
        accepted[mutant_id] = reason.strip()
    return accepted
