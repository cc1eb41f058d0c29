"""Outcomes as records: streamed as they come, read back to resume a run or carry an earlier report's.

One record per outcome, the same in both places:

- the stream `<report>.outcomes.jsonl`, written line by line as each mutant is
  judged (as cargo-mutants writes outcomes.json), so a killed or timed-out job
  keeps what it finished; its first line is a header with the run's identity;
- the JSON report, inside each Stryker mutant as the extra key `iuHarness`
  (the schema allows extra keys), with what rebuilds the mutant exactly: its
  target, span and replacement, so `mutate-merge` needs nothing but the reports.

Reuse (`reusable`) is by target identity (harness.mutate.identity): a record is
taken only when its target's hash is unchanged and the mutant is generated again
with the same id. Not-covered outcomes are never reused: coverage is measured
again by every run's clean run, and is cheap.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from harness import __version__
from harness.errors import ConfigError
from harness.mutate.identity import Identity
from harness.mutate.mutant import Mutant, Source
from harness.mutate.outcome import Outcome, Status

STREAM_SUFFIX = ".outcomes.jsonl"
EXTENSION_KEY = "iuHarness"  # our key inside each Stryker mutant record


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """Everything that rebuilds the outcome, given its target's source text."""
    m = outcome.mutant
    return {"id": m.id, "target": m.target, "targetKind": m.source.kind, "language": m.source.language,
            "operator": m.operator, "start": m.start, "end": m.end, "original": m.original,
            "replacement": m.replacement, "statement": m.statement, "description": m.description, "name": m.name,
            "outcome": outcome.status.value, "caughtBy": list(outcome.caught_by), "detail": outcome.detail,
            "durationS": round(outcome.duration_s, 3), "equivalentReason": outcome.equivalent_reason,
            "carriedFrom": outcome.carried_from}


def outcome_from_record(record: dict[str, Any], source_text: str, where: str) -> Outcome:
    """The outcome a record describes; refuses a record whose rebuilt mutant has another id."""
    try:
        source = Source(record["target"], record["targetKind"], source_text, record["language"])
        mutant = Mutant(source, record["operator"], record["start"], record["end"], record["original"],
                        record["replacement"], record["statement"], record["description"], record["name"])
        outcome = Outcome(mutant, Status(record["outcome"]), tuple(record["caughtBy"]), record["detail"],
                          float(record["durationS"]), record.get("equivalentReason"), record.get("carriedFrom"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: mutant record {record.get('id', '?')!r} is not one iu-harness wrote ({exc})",
                          fix="pass a report written by `iu-harness mutate` of this version") from exc
    if mutant.id != record["id"]:
        raise ConfigError(f"{where}: mutant record {record['id']!r} rebuilds as {mutant.id!r}",
                          fix="the report was edited or written by another version; run the mutants again")
    return outcome


@dataclass(frozen=True)
class PriorOutcome:
    """An outcome found in an earlier report or stream, by mutant id."""

    id: str
    target: str
    status: Status
    caught_by: tuple[str, ...]
    detail: str
    duration_s: float
    carried_from: str | None


@dataclass(frozen=True)
class Prior:
    """What an earlier run left: its identity and its outcomes; `origin` names it."""

    origin: str
    identity: Identity
    outcomes: dict[str, PriorOutcome]


def _prior_outcome(record: dict[str, Any]) -> PriorOutcome:
    return PriorOutcome(record["id"], record["target"], Status(record["outcome"]), tuple(record["caughtBy"]),
                        record["detail"], float(record["durationS"]), record.get("carriedFrom"))


def _identity(data: dict[str, Any]) -> Identity:
    return Identity(data["oracle"], dict(data["targets"]))


def read_report_prior(path: Path) -> Prior:
    """An earlier JSON report (`--baseline-report`)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        identity = _identity(report["config"][EXTENSION_KEY]["identity"])
        records = [m[EXTENSION_KEY] for entry in report["files"].values() for m in entry["mutants"]]
        outcomes = {r["id"]: _prior_outcome(r) for r in records}
    except OSError as exc:
        raise ConfigError(f"--baseline-report {path} cannot be read: {exc}",
                          fix="pass the JSON report of an earlier `iu-harness mutate` run") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--baseline-report {path} is not a JSON report of `iu-harness mutate` "
                          f"(missing or bad {exc})",
                          checked="config.iuHarness.identity and each mutant's iuHarness record",
                          fix="pass the mutate-*.json an earlier run wrote (this version of iu-harness)") from exc
    return Prior(str(path), identity, outcomes)


def read_stream_prior(path: Path) -> Prior | None:
    """The stream of an interrupted run (`--resume`); None when there is none. A last line cut short
    by the kill is ignored; any other bad line is refused."""
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            if number == len(lines):
                break
            raise ConfigError(f"{path}:{number} is not a JSON line ({exc})",
                              fix=f"delete {path} to start the run afresh") from exc
    if not records or records[0].get("kind") != "header":
        raise ConfigError(f"{path} has no header line", fix=f"delete {path} to start the run afresh")
    try:
        identity = _identity(records[0]["identity"])
        outcomes = {r["id"]: _prior_outcome(r) for r in records[1:] if r.get("kind") == "outcome"}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: a record lacks {exc}", fix=f"delete {path} to start the run afresh") from exc
    return Prior(str(path), identity, outcomes)


def reusable(prior: Prior, identity: Identity, mutants: Sequence[Mutant], covered: Iterable[Mutant],
             carried: bool) -> dict[str, Outcome]:
    """Outcomes of `prior` for these mutants, where their target is unchanged and the mutant is covered now.
    `carried`: mark them as carried from the prior (a baseline); else they keep their marks (a resume)."""
    unchanged = identity.unchanged(prior.identity)
    covered_ids = {m.id for m in covered}
    found: dict[str, Outcome] = {}
    for mutant in mutants:
        record = prior.outcomes.get(mutant.id)
        if (record is None or mutant.target not in unchanged or mutant.id not in covered_ids
                or record.status is Status.NOT_COVERED):
            continue
        origin = (record.carried_from or prior.origin) if carried else record.carried_from
        found[mutant.id] = Outcome(mutant, record.status, record.caught_by, record.detail, record.duration_s,
                                   carried_from=origin)
    return found


class OutcomeStream:
    """Appends one JSON line per outcome and flushes it to disk before the next, so a kill loses
    at most the line being written. Written afresh by each run (to a temporary name, then renamed
    over the old one), beginning with the header and every reused outcome: the old stream is replaced
    only once the new one holds all it had that still counts."""

    def __init__(self, path: Path, header: dict[str, Any], reused: Iterable[Outcome] = ()) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        self._file: TextIO = partial.open("w", encoding="utf-8")
        self._write({"kind": "header", "harness": __version__, **header})
        for outcome in reused:
            self._file.write(json.dumps({"kind": "outcome", **outcome_record(outcome)}) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        os.replace(partial, path)  # the file object keeps writing to the renamed file

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self._write({"kind": "outcome", **outcome_record(outcome)})

    def close(self) -> None:
        self._file.close()
