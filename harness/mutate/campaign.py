"""The whole `iu-harness mutate` command, from the clean run to the exit code.

1. Clone the baseline's template, read the catalogue (discovery) and run the
   scenario at N on the clean build. It must pass: a build whose invariants
   already fail has no meaningful score, so nothing else runs (exit 2, "could
   not run", with the failing invariants named; `iu-harness run` shows them).
2. Generate the mutants, keep the --function ones and this --shard's share.
   The clean run also measures coverage: with track_functions = 'all' on its
   clone, pg_stat_user_functions says which PL/pgSQL functions the scenario
   and its probes called. Mutants of a function never called are not run
   (not_covered). SQL-language functions are inlined by the planner and never
   counted, so theirs always run.
3. The lab tests them, `jobs` at a time, with a statement_timeout derived
   from the clean run.
   --since REF keeps the mutants of the targets changed since REF (without
   --baseline-report; with it, it only narrows what may be carried).
   Mutants with an outcome to reuse (an earlier report's for an unchanged
   target, --baseline-report; or this run's own stream, --resume) are not run.
4. Judge against --min-score and the reviewed equivalents; write the reports.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from psycopg import sql

from harness.checks.build_tests import BuildTests, default_tests_dir, load_build_tests, run_build_tests
from harness.databases.pool import Database
from harness.errors import HarnessError
from harness.mutate.discovery import SCHEMA, Catalog, ReadSummary, discover
from harness.mutate.equivalents import Reviewed, load_equivalents
from harness.mutate.identity import Identity, identity_of, oracle_digest
from harness.mutate.lab import Lab, timeout_for
from harness.mutate.ledger import Prior, reusable
from harness.mutate.mutant import Mutant
from harness.mutate.outcome import Outcome, Status, mutation_score
from harness.mutate.shard import select_functions, shard
from harness.mutate.since import catalog_at, changed_targets
from harness.run.resources import ResourceLimits
from harness.run.results import RunResult
from harness.run.runner import run_scenario
from harness.scenarios.generated import GeneratedBaseline
from harness.scenarios.scenario import Scenario
from harness.session import HarnessSession

EQUIVALENTS_FILE = "mutate-equivalents.toml"  # looked up in the build's SQL dir when --equivalents is not given
MAX_DEFAULT_N = 100


@dataclass(frozen=True)
class MutateOptions:
    scenario: Scenario
    n: int | None = None
    jobs: int = 1
    shard: tuple[int, int] | None = None
    functions: tuple[str, ...] = ()
    min_score: float = 0.0  # percent
    equivalents: Path | None = None
    build_tests: Path | None = None  # default: <sql-dir>/build-tests when it has *.sql tests
    no_build_tests: bool = False  # score the invariants and probes alone
    baseline_report: Path | None = None  # an earlier JSON report: unchanged targets take its outcomes
    resume: bool = False  # take the outcomes this run's stream already holds
    since: str | None = None  # a git revision of the SQL dir: only targets changed since then


@dataclass
class Campaign:
    options: MutateOptions
    n: int
    catalog: Catalog
    clean: RunResult | None  # None in a merged report (each shard had its own)
    clean_s: float
    timeout_s: float
    mutants: list[Mutant]
    all_mutants: int
    equivalents_path: Path | None
    equivalents: Reviewed
    covered: set[str] | None = None  # functions the clean run called; None: not measurable
    build_tests: BuildTests | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    identity: Identity | None = None
    clean_invariants: int = 0  # invariants the clean run checked
    selected_total: int = 0  # mutants selected before the --shard split
    resumed: int = 0  # outcomes taken from this run's own stream (--resume)
    changed_since: set[str] | None = None  # --since: the targets changed since the revision
    read: ReadSummary | None = None  # what discovery read; None: the catalogue's own (a merge passes the shards')

    @property
    def carried(self) -> int:
        """Outcomes taken from an earlier report, not tested by this run."""
        return sum(1 for o in self.outcomes if o.carried_from is not None)

    def counts(self) -> Counter[Status]:
        return Counter(o.status for o in self.outcomes)

    @property
    def detected(self) -> int:
        return sum(1 for o in self.outcomes if o.detected)

    @property
    def missed(self) -> list[Outcome]:
        """Undetected: survived a run, or in a function no run calls."""
        return [o for o in self.outcomes if o.undetected]

    @property
    def unexplained(self) -> list[Outcome]:
        return [o for o in self.missed if o.equivalent_reason is None]

    @property
    def score(self) -> float | None:
        """caught / (caught + missed): timeouts count as caught, not-covered mutants as missed;
        None when nothing viable ran."""
        return mutation_score(self.detected, len(self.missed))

    @property
    def stale_equivalents(self) -> list[str]:
        generated = {m.id for m in self.mutants}
        stale = sorted(set(self.equivalents.mutants) - generated)
        stale += [f"{o.mutant.id} (caught now)" for o in self.outcomes
                  if o.detected and o.mutant.id in self.equivalents.mutants]
        if self.covered is not None:
            stale += [f"[[uncovered]] {f} (it is called now)" for f in sorted(self.equivalents.uncovered)
                      if f in self.covered]
        return stale

    @property
    def passed(self) -> bool:
        score = self.score
        return (score is None or score >= self.options.min_score) and not self.unexplained


def default_n(scenario: Scenario) -> int:
    """The scenario's pinned N when it has one (its seed numbers are then checked too), else its
    smallest sweep size, at most MAX_DEFAULT_N."""
    if scenario.expect is not None and scenario.expect.n <= MAX_DEFAULT_N:
        return scenario.expect.n
    return min(min(scenario.sweep), MAX_DEFAULT_N)


def equivalents_path(session: HarnessSession, given: Path | None) -> Path | None:
    if given is not None:
        return given
    candidate = session.config.sql_dir / EQUIVALENTS_FILE
    return candidate if candidate.is_file() else None


def build_tests_of(session: HarnessSession, options: MutateOptions) -> BuildTests | None:
    if options.no_build_tests:
        return None
    directory = options.build_tests or default_tests_dir(session.config.sql_dir)
    return load_build_tests(directory) if directory is not None else None


def prepare(session: HarnessSession, options: MutateOptions) -> Campaign:
    """Clean run + discovery + selection; raises HarnessError when the clean build does not pass
    its invariants or its own tests."""
    scenario = options.scenario
    n = options.n or default_n(scenario)
    path = equivalents_path(session, options.equivalents)
    accepted = load_equivalents(path) if path is not None else Reviewed()
    suite = build_tests_of(session, options)
    began = time.perf_counter()
    database = session.pool.clone(scenario.baseline)
    try:
        with database.connect(autocommit=True) as conn:
            catalog = discover(conn)
            conn.execute(sql.SQL("ALTER DATABASE {} SET track_functions = 'all'").format(
                sql.Identifier(database.name)))
        clean_began = time.perf_counter()
        clean = run_scenario(database, scenario, n, pool=session.pool,
                             limits=ResourceLimits.from_config(session.config))
        clean_s = time.perf_counter() - clean_began
        # The build's tests run on the same database, as on each mutant's; their calls count as coverage,
        # and their time as part of the clean run's (a slow but healthy test must not time out on mutants).
        tests_began = time.perf_counter()
        test_failures = run_build_tests(database, suite) if suite is not None and clean.passed else []
        clean_s += time.perf_counter() - tests_began
        covered = _called_functions(database, catalog)
    finally:
        session.pool.drop(database.name)
    if not clean.passed:
        failed = ", ".join(r.name for r in clean.failed) or "none ran"
        raise HarnessError(f"the clean build fails {scenario.name} at N={n} ({failed}): "
                           "mutation testing needs a build whose invariants hold",
                           checked="one scenario run on the unmutated build before any mutant",
                           fix=f"run `iu-harness run {scenario.path} --n {n}` to see the failures and fix the build")
    if test_failures and suite is not None:
        raise HarnessError(f"the clean build fails its own tests in {suite.directory}: "
                           + "; ".join(str(f) for f in test_failures[:5]),
                           checked="the build's own SQL tests on the unmutated build before any mutant",
                           fix="fix the build or its tests, or leave them out with --no-build-tests")
    oracle = oracle_digest(scenario, n, suite)
    changed = changed_since(session, catalog, options, oracle)
    narrow = changed if options.baseline_report is None else None
    selected = selected_mutants(catalog, options, narrow)
    campaign = Campaign(options, n, catalog, clean, clean_s, timeout_for(clean_s), selected,
                        len(catalog.mutants()), path, accepted, covered, suite,
                        identity=identity_of(catalog, oracle), clean_invariants=len(clean.results),
                        selected_total=len(selected_mutants(catalog, replace(options, shard=None), narrow)),
                        changed_since=changed)
    campaign.timings["setup_s"] = time.perf_counter() - began - clean_s
    campaign.timings["clean_run_s"] = clean_s
    return campaign


def _called_functions(database: Database, catalog: Catalog, settle_s: float = 2.0) -> set[str] | None:
    """Names of the functions the clean run's sessions called. Their statistics reach the shared
    counters when each session ends, a moment after it closes: read until two reads agree."""
    last: set[str] | None = None
    deadline = time.perf_counter() + settle_s
    while time.perf_counter() < deadline:
        with database.connect(autocommit=True) as conn:
            rows = conn.execute("SELECT schemaname, funcname FROM pg_stat_user_functions "
                                "WHERE schemaname = ANY (%s) AND calls > 0", (catalog.schemas,)).fetchall()
        now = {name if schema == SCHEMA else f"{schema}.{name}" for schema, name in rows}  # as targets are named
        if now and now == last:
            return now
        last = now
        time.sleep(0.2)
    return last or None  # nothing counted (statistics off?): coverage unknown, every mutant runs


def is_covered(campaign: Campaign, mutant: Mutant) -> bool:
    if campaign.covered is None or mutant.source.kind != "function" or mutant.source.language != "plpgsql":
        return True
    return mutant.target.split("(")[0] in campaign.covered


def reused_outcomes(campaign: Campaign, baseline: Prior | None, resumed: Prior | None) -> dict[str, Outcome]:
    """Outcomes not to test again: the baseline's for unchanged targets (marked carried), then this run's
    own earlier stream (--resume), which wins where both have one."""
    assert campaign.identity is not None
    covered = [m for m in campaign.mutants if is_covered(campaign, m)]
    found: dict[str, Outcome] = {}
    if baseline is not None:
        changed = campaign.changed_since or set()
        carry = [m for m in campaign.mutants if m.target not in changed]
        found |= reusable(baseline, campaign.identity, carry, covered, carried=True)
    if resumed is not None:
        own = reusable(resumed, campaign.identity, campaign.mutants, covered, carried=False)
        campaign.resumed = len(own)
        found |= own
    return found


def run_mutants(session: HarnessSession, campaign: Campaign,
                on_outcome: Callable[[Outcome], None] | None = None,
                reused: dict[str, Outcome] | None = None) -> None:
    """Judge every selected mutant: not covered ones without running, reused ones from their record,
    the rest in the lab; `on_outcome` sees each as it comes."""
    lab = Lab(session.pool, campaign.options.scenario, campaign.n, campaign.timeout_s, campaign.build_tests)
    began = time.perf_counter()
    reused = reused or {}
    never_called = "its function is never called by the scenario, its probes or the build's tests"
    skipped = {m.id: Outcome(m, Status.NOT_COVERED, detail=never_called)
               for m in campaign.mutants if not is_covered(campaign, m)}
    to_run = [m for m in campaign.mutants if m.id not in skipped and m.id not in reused]
    for outcome in (*skipped.values(), *reused.values()):
        if on_outcome is not None:
            on_outcome(outcome)
    ran = {o.mutant.id: o for o in lab.run(to_run, max(1, campaign.options.jobs), on_outcome)}
    campaign.timings["mutants_s"] = time.perf_counter() - began
    campaign.outcomes = [_with_reason(ran.get(m.id) or reused.get(m.id) or skipped[m.id], campaign.equivalents)
                         for m in campaign.mutants]


def _with_reason(outcome: Outcome, reviewed: Reviewed) -> Outcome:
    reason = None
    if outcome.undetected:
        reason = reviewed.mutants.get(outcome.mutant.id)
    if reason is None and outcome.status is Status.NOT_COVERED:
        uncovered = reviewed.uncovered.get(outcome.mutant.target.split("(")[0])
        reason = f"uncovered function: {uncovered}" if uncovered else None
    if reason is None:
        return outcome
    return replace(outcome, equivalent_reason=reason)


def list_mutants(mutants: Sequence[Mutant]) -> str:
    return "".join(f"{m.id}\n" for m in mutants)


def read_catalog(session: HarnessSession, baseline: str | GeneratedBaseline | None) -> Catalog:
    """Discovery alone (for --list): the catalogue of a fresh clone, no run."""
    database = session.pool.clone(baseline)
    try:
        with database.connect(autocommit=True) as conn:
            return discover(conn)
    finally:
        session.pool.drop(database.name)


def changed_since(session: HarnessSession, catalog: Catalog, options: MutateOptions, oracle: str) -> set[str] | None:
    """--since REF: the targets new or changed since REF; None without --since."""
    if options.since is None:
        return None
    return changed_targets(catalog, catalog_at(session, options.since), oracle)


def selected_mutants(catalog: Catalog, options: MutateOptions, targets: set[str] | None = None) -> list[Mutant]:
    """The --function ones (and, given `targets`, only theirs), then this --shard's share."""
    known = [t.source.name for t in catalog.functions] + ["schema"]
    selected = select_functions(catalog.mutants(), options.functions, known)
    if targets is not None:
        selected = [m for m in selected if m.target in targets]
    return shard(selected, *options.shard) if options.shard is not None else selected
