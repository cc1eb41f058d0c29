"""What one scenario run carries from step to step: the context every invariant and probe reads.

Its own module so that the runner (which fills it) and the invariants and probes
(which read it) can all import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import psycopg

from harness.databases import state as db_state
from harness.databases.pool import Database
from harness.run.results import DigestAudit, RunFacts
from harness.scenarios.scenario import MixItem, Scenario
from harness.spec import SPEC_TABLES

T = TypeVar("T")


class Clones(Protocol):
    """Where a probe that must commit gets a throwaway database of the same build and state."""

    def clone(self) -> Database: ...

    def drop(self, database: Database) -> None: ...


class CheckNotRun(Exception):
    """Raised by a check that cannot be read on this build or run (reported NOT RUN with the reason)."""


def recorded(fact: T | None, what: str) -> T:
    """A fact an earlier step records; its absence means that step did not run, so the check cannot."""
    if fact is None:
        raise CheckNotRun(f"{what} was not recorded")
    return fact


@dataclass
class RunContext:
    """What a check may read: the connection (inside or after the run), the plan and the facts.

    `clones`, when given, makes throwaway databases of the same build and baseline: the probes that
    need committed state of their own (the races) run there, never in the run's database.
    """

    conn: psycopg.Connection
    database: Database
    scenario: Scenario
    n: int
    plan: list[tuple[MixItem, int]]
    pieces: dict[str, int] = field(default_factory=dict)
    facts: RunFacts = field(default_factory=RunFacts)
    clones: Clones | None = None

    def digest_audit(self) -> DigestAudit:
        """The harness's digest audit after COMMIT: read once, by the first check that needs it."""
        if self.facts.digest_audit is None:
            self.facts.digest_audit = DigestAudit.of(db_state.digest_audit(self.conn, self.scenario.actor))
        return self.facts.digest_audit

    @property
    def expected_memberships(self) -> int:
        return sum(count * self.pieces[item.template] for item, count in self.plan)

    def expected_deltas(self) -> dict[str, int]:
        deltas = dict.fromkeys(SPEC_TABLES, 0)
        deltas["iu_piece_collection"] = self.n
        deltas["iu_piece_membership"] = self.expected_memberships
        deltas["iu_collection_template_instance_lineage"] = self.n
        deltas["iu_auto_instantiate_event_log"] = self.n
        return deltas
