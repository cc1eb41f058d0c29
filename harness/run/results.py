"""What a scenario run found, as typed values: the facts each step records, each check's result, the run's result.

The runner (harness/run/runner.py) builds them; checks, reports and the mutation campaign read them as
attributes. This module imports no part of the engine, so that every output can import it without
importing the runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.run.resources import ResourceReport
from harness.scenarios.scenario import MixItem, Scenario

Evidence = dict[str, Any]


@dataclass
class InvariantResult:
    """One check's verdict and the evidence that proves it (JSON-serializable)."""

    name: str
    phase: str
    description: str
    passed: bool
    evidence: Evidence = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "phase": self.phase, "description": self.description,
                "passed": self.passed, "evidence": self.evidence}


@dataclass(frozen=True)
class DigestAudit:
    """The harness's `digest_drift / digest_ok / total` over the whole database, and over the run's actor."""

    drift: int
    ok: int
    total: int
    actor_drift: int = 0
    actor_ok: int = 0
    actor_total: int = 0

    @classmethod
    def of(cls, figures: Mapping[str, int]) -> DigestAudit:
        return cls(**{k: int(v) for k, v in figures.items()})

    def database(self) -> dict[str, int]:
        return {"drift": self.drift, "ok": self.ok, "total": self.total}

    def actor(self) -> dict[str, int]:
        return {"drift": self.actor_drift, "ok": self.actor_ok, "total": self.actor_total}

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Snapshot:
    """What the SPEC tables held at one moment: counts, the summary view, the gates, fingerprints, per-actor rows.

    After a transaction that did not commit only `counts` is read.
    """

    counts: dict[str, int]
    summary: dict[str, dict[str, int]] = field(default_factory=dict)
    gates: dict[str, bool | None] = field(default_factory=dict)
    fingerprint: dict[str, str] = field(default_factory=dict)
    actors: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplayFacts:
    """After replaying every event: the counts, and every SPEC row the replay's calls wrote."""

    counts: dict[str, int]
    written: dict[str, Any]
    written_read_by: str


@dataclass(frozen=True)
class DryRunFacts:
    """The dry-run rollback's answer (`result`, as the build returned it), its summary for the report
    (target ids counted), what it wrote and whether the counts stayed."""

    result: dict[str, Any]
    summary: dict[str, Any]
    written: dict[str, Any]
    written_read_by: str
    counts_unchanged: bool


@dataclass(frozen=True)
class RollbackFacts:
    """The real rollback's answer (target ids counted) and the database after it."""

    result: dict[str, Any]
    after: Snapshot


@dataclass(frozen=True)
class WorkersFacts:
    """How K concurrent workers delivered the events (harness/run/workers.py)."""

    workers: int
    batch: int
    gates: str
    events: int
    redelivered: int
    deliveries: int
    batches: int
    retries: int
    wall_s: float
    events_per_s: float
    lock_waits: dict[str, Any]
    #: The first worker's error other than a retried deadlock or serialization failure.
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        if self.error is None:
            del figures["error"]
        return figures


@dataclass(frozen=True)
class SampleInstance:
    """One of the run's first instances by key: the digests a reader compares by eye."""

    template: str
    instance_key: str
    template_digest: str | None
    instance_digest: str | None
    match: bool | None


@dataclass
class RunFacts:
    """What each step of a run recorded, for the checks after it and for the reports."""

    server_version: str = ""
    pre: Snapshot | None = None
    post: Snapshot | None = None
    digest_audit: DigestAudit | None = None
    resources: ResourceReport | None = None
    workers: WorkersFacts | None = None
    after_replay: ReplayFacts | None = None
    dry_run: DryRunFacts | None = None
    rollback: RollbackFacts | None = None
    sample: list[SampleInstance] = field(default_factory=list)
    #: Where the harness's own time goes, per check (seconds).
    check_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FloorFigures:
    """The floors (harness/perf/floors.py) at `sample_n` instances, per instance, beside the build timed again there."""

    sample_n: int
    set_based_us: float | None
    minimal_us: float | None
    build_at_sample_us: float | None
    #: Each side-by-side timing in its order (minimal, build, build, minimal), per instance.
    minimal_runs_us: tuple[float, ...] = ()
    build_runs_us: tuple[float, ...] = ()

    @property
    def rate_vs_set_based(self) -> float | None:
        """The build's rate as a fraction of the set-based floor's (1.0 = as fast)."""
        return self.set_based_us / self.build_at_sample_us if self.set_based_us and self.build_at_sample_us else None

    @property
    def rate_vs_minimal(self) -> float | None:
        """The build's rate as a fraction of the minimal orchestrator's, side by side at `sample_n`."""
        return self.minimal_us / self.build_at_sample_us if self.minimal_us and self.build_at_sample_us else None

    def timings(self) -> dict[str, float]:
        """The figures under the names the report's timings table and JSON have always used."""
        figures = {"floor_sample_n": self.sample_n,
                   "floor_set_based_per_instance_us": self.set_based_us or 0.0,
                   "floor_minimal_per_instance_us": self.minimal_us or 0.0,
                   "build_at_sample_per_instance_us": self.build_at_sample_us or 0.0,
                   "rate_vs_set_based": self.rate_vs_set_based or 0.0,
                   "rate_vs_minimal": self.rate_vs_minimal or 0.0}
        for label, runs in (("minimal", self.minimal_runs_us), ("build_at_sample", self.build_runs_us)):
            figures.update({f"{label}_run{k}_per_instance_us": us for k, us in enumerate(runs, start=1)})
        return figures


@dataclass
class RunResult:
    """One scenario at one N: every check's result, the facts behind them, the timings.

    `floors` and `peak_rss_mb` are filled by the sweep (harness/run/sweep.py) after the run.
    """

    scenario: Scenario
    n: int
    results: list[InvariantResult]
    facts: RunFacts
    timings: dict[str, float]
    plan: list[tuple[MixItem, int]]
    pieces: dict[str, int]
    not_run: list[str]
    not_run_reasons: dict[str, str] = field(default_factory=dict)
    floors: FloorFigures | None = None
    peak_rss_mb: float | None = None

    @property
    def passed(self) -> bool:
        """Every invariant that ran held. Those not run are listed in `not_run`, never counted as held."""
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failed(self) -> list[InvariantResult]:
        return [r for r in self.results if not r.passed]

    def result(self, name: str) -> InvariantResult | None:
        """The named check's result, when it ran."""
        return next((r for r in self.results if r.name == name), None)

    def failure_summary(self) -> str:
        lines = [f"{r.name}: {r.description}; evidence: {r.evidence}" for r in self.failed]
        lines += [f"{name}: not run ({self.not_run_reasons.get(name, 'step skipped')})" for name in self.not_run]
        return "\n".join(lines)

    def all_timings(self) -> dict[str, float]:
        """The run's timings with the sweep's figures (floors, peak memory) when it measured them."""
        figures = dict(self.timings)
        if self.peak_rss_mb is not None:
            floor_s = self.floors.set_based_us * self.n / 1e6 if self.floors and self.floors.set_based_us else 0.0
            figures.update({"floor_s": floor_s, "peak_rss_mb": self.peak_rss_mb})
        if self.floors is not None:
            figures.update(self.floors.timings())
        return figures
