"""Which mutants this run tests: the --function filter, then the deterministic --shard I/K split.

Shards are cargo-mutants' round robin over the discovery order: shard I of K
(0 <= I < K) takes every mutant whose index modulo K is I. The K shards are a
partition of the whole list, each the same size to within one mutant.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.errors import ConfigError
from harness.mutate.mutant import Mutant


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        index, count = -1, 0
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard {text!r} is not I/K with 0 <= I < K",
                          fix="pass e.g. --shard 0/4 ... --shard 3/4 to split the mutants over 4 machines")
    return index, count


def shard(mutants: Sequence[Mutant], index: int, count: int) -> list[Mutant]:
    return [m for n, m in enumerate(mutants) if n % count == index]


def select_functions(mutants: Sequence[Mutant], names: Sequence[str], known: Sequence[str]) -> list[Mutant]:
    """Only the mutants of the named targets (`schema` names the schema mutants); unknown names are refused."""
    if not names:
        return list(mutants)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ConfigError(f"--function {', '.join(unknown)}: no such function in schema iu_core",
                          checked=f"known targets: {', '.join(known)}",
                          fix="give a function name as pg_proc has it, or 'schema' for the schema mutants")
    wanted = set(names)
    return [m for m in mutants if m.target in wanted]
