"""`iu-harness mutate` in CI: shards merged, a killed run resumed, an incremental run, the HTML report.

Each run is a real `iu-harness mutate` process against the test session's own
server (`--iu-backend dsn`), as the README's CI matrix runs them, on a small
subset of our build (two functions, 22 mutants, survivors among them: the
invariants alone judge, no build tests). Every comparison is outcome for
outcome against one unsharded, uninterrupted run of the same subset.
These tests name functions of our build: they skip for another build.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.config import HarnessConfig
from harness.mutate.discovery import Catalog, FunctionTarget
from harness.mutate.identity import identity_of, oracle_digest
from harness.mutate.ledger import STREAM_SUFFIX
from harness.mutate.mutant import Source
from harness.scenarios.scenario import load_scenario
from harness.session import HarnessSession

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "seed-50000x-03.toml"
EDITED = ROOT / "tests" / "mutate" / "first_closed_gate_edited.sql"  # a comment added to one function
CHANGED, UNCHANGED = "fn_iu_first_closed_gate", "fn_iu_new_collection_id"
STEM = "mutate-seed-50000x-03-n20"
SHARDS = 4
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package `chromium` (.ci/run installs it)

Outcomes = list[tuple[str, str, tuple[str, ...]]]


@dataclass(frozen=True)
class Run:
    code: int
    folder: Path
    stdout: str

    @property
    def report(self) -> dict:
        return json.loads((self.folder / f"{STEM}.json").read_text())

    @property
    def outcomes(self) -> Outcomes:
        """(id, outcome, caught by) of every mutant, in the report's order."""
        return [(m["id"], m["iuHarness"]["outcome"], tuple(m["iuHarness"]["caughtBy"]))
                for entry in self.report["files"].values() for m in entry["mutants"]]


@dataclass(frozen=True)
class Pipeline:
    dsn: str
    tmp: Path
    equivalents: Path

    def command(self, folder: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "harness.cli", "mutate", str(SCENARIO), "--iu-backend", "dsn",
                "--iu-dsn", self.dsn, "--function", CHANGED, UNCHANGED, "--no-build-tests",
                "--equivalents", str(self.equivalents), "--report-dir", str(folder), *extra]

    def start(self, folder: Path, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(folder, *extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=ROOT)

    def run(self, name: str, *extra: str) -> Run:
        folder = self.tmp / name
        process = self.start(folder, *extra)
        stdout, _ = process.communicate(timeout=900)
        return Run(process.returncode, folder, stdout)


@pytest.fixture(scope="module")
def pipeline(iu_config: HarnessConfig, iu_session: HarnessSession,
             tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    if not iu_config.sql_dir_is_bundled or iu_config.extra_sql:
        pytest.skip("mutates functions of our build by name")
    tmp = tmp_path_factory.mktemp("mutate-pipeline")
    equivalents = tmp / "none.toml"
    equivalents.write_text("# nothing reviewed: every survivor shows as Survived\n")
    return Pipeline(iu_session.server.dsn(), tmp, equivalents)


@pytest.fixture(scope="module")
def full(pipeline: Pipeline) -> Run:
    """One unsharded, uninterrupted run of the subset: the reference."""
    run = pipeline.run("full", "--jobs", "2")
    assert run.code == 1, run.stdout  # survivors, none reviewed
    assert len(run.outcomes) == 22 and any(o[1] == "missed" for o in run.outcomes), run.outcomes
    return run


@pytest.fixture(scope="module")
def shards(pipeline: Pipeline, full: Run) -> Iterator[list[Path]]:
    """The subset in 4 shards, 4 processes at once against the one server."""
    processes = [pipeline.start(pipeline.tmp / "shards", "--shard", f"{i}/{SHARDS}") for i in range(SHARDS)]
    for process in processes:
        stdout, _ = process.communicate(timeout=900)
        assert process.returncode in (0, 1), stdout
    paths = [pipeline.tmp / "shards" / f"{STEM}-shard{i}of{SHARDS}.json" for i in range(SHARDS)]
    assert all(p.is_file() for p in paths)
    yield paths


def _merge(paths: list[Path], folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", "mutate-merge", *map(str, paths),
                           "--report-dir", str(folder)], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_four_shards_merged_equal_one_full_run(pipeline: Pipeline, full: Run, shards: list[Path]) -> None:
    merged = _merge(shards, pipeline.tmp / "merged")
    assert merged.returncode == full.code, merged.stdout + merged.stderr
    run = Run(merged.returncode, pipeline.tmp / "merged", merged.stdout)
    assert run.outcomes == full.outcomes
    assert {"md", "json", "html"} <= {p.suffix[1:] for p in run.folder.glob(f"{STEM}.*")}
    # The Markdown is the unsharded run's, but for the timings.
    def untimed(text: str) -> list[str]:
        return [line for line in text.splitlines() if " s" not in line and "Timings" not in line]
    assert untimed((run.folder / f"{STEM}.md").read_text()) == untimed((full.folder / f"{STEM}.md").read_text())


def _edited_copy(path: Path, folder: Path, edit) -> Path:
    report = json.loads(path.read_text())
    edit(report)
    folder.mkdir(exist_ok=True)
    copy = folder / path.name
    copy.write_text(json.dumps(report))
    return copy


def test_merge_refuses_overlap_gaps_and_other_builds(pipeline: Pipeline, shards: list[Path]) -> None:
    out = pipeline.tmp / "refused"
    result = _merge([*shards, shards[0]], out)
    assert result.returncode == 2 and "shard 0/4 given twice" in result.stderr, result.stderr
    result = _merge(shards[:3], out)
    assert result.returncode == 2 and "shards 3/4 missing" in result.stderr, result.stderr

    def other_build(report: dict) -> None:
        report["config"]["iuHarness"]["identity"]["targets"][CHANGED] = "0" * 64

    def other_scenario(report: dict) -> None:
        report["config"]["iuHarness"]["identity"]["oracle"] = "0" * 64

    def short_shard(report: dict) -> None:
        entry = next(iter(report["files"].values()))
        entry["mutants"].pop()

    for edit, message in ((other_build, f"different builds: {CHANGED} differ"),
                          (other_scenario, "different oracles"), (short_shard, "leaves a gap")):
        edited = _edited_copy(shards[1], pipeline.tmp / f"edited-{edit.__name__}", edit)
        result = _merge([shards[0], edited, *shards[2:]], out)
        assert result.returncode == 2 and message in result.stderr, (edit.__name__, result.stderr)
    assert not out.exists()  # nothing written on a refusal


def test_a_killed_run_resumes_to_the_same_outcomes(pipeline: Pipeline, full: Run) -> None:
    folder = pipeline.tmp / "killed"
    stream = folder / f"{STEM}{STREAM_SUFFIX}"
    process = pipeline.start(folder)
    began = time.monotonic()

    def streamed() -> int:
        lines = stream.read_text().splitlines() if stream.is_file() else []
        return sum(1 for line in lines if '"kind": "outcome"' in line)

    while streamed() < 5 and process.poll() is None and time.monotonic() - began < 600:
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)  # no cleanup, no report: what a killed CI job leaves
    process.communicate()
    kept = streamed()
    assert 5 <= kept < len(full.outcomes), f"killed after {kept} outcomes: choose a later or earlier point"
    assert not (folder / f"{STEM}.json").exists()

    resumed = pipeline.run("killed", "--resume", "--jobs", "2")
    assert resumed.code == full.code, resumed.stdout
    assert f"{kept} resumed" in resumed.stdout, resumed.stdout
    assert resumed.outcomes == full.outcomes
    assert resumed.report["config"]["iuHarness"]["resumed"] == kept
    assert streamed() == len(full.outcomes)  # the stream holds every outcome once: the kept ones and the rest
    # Not a terminal: one plain progress line per outcome, as it comes.
    assert sum(1 for line in resumed.stdout.splitlines() if line.startswith("[")) == len(full.outcomes)


def test_an_incremental_run_reruns_only_the_changed_function(pipeline: Pipeline, full: Run) -> None:
    run = pipeline.run("incremental", "--iu-extra-sql", str(EDITED),
                       "--baseline-report", str(full.folder / f"{STEM}.json"))
    report = run.report
    records = [m["iuHarness"] for entry in report["files"].values() for m in entry["mutants"]]
    carried = [r for r in records if r["carriedFrom"]]
    assert {r["target"] for r in carried} == {UNCHANGED}
    assert len(carried) == sum(1 for r in records if r["target"] == UNCHANGED) > 0
    assert all(r["carriedFrom"] == str(full.folder / f"{STEM}.json") for r in carried)
    ran = [r for r in records if not r["carriedFrom"]]
    assert {r["target"] for r in ran} == {CHANGED}
    assert f"{len(carried)} carried" in run.stdout
    # The edit is a comment: the changed function's mutants keep their ids, and every outcome is the full run's.
    assert run.outcomes == full.outcomes and run.code == full.code
    assert "Carried: " in (run.folder / f"{STEM}.md").read_text()


def _list(pipeline: Pipeline, sql_dir: Path, *extra: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "mutate", str(SCENARIO), "--list", "--iu-backend",
                           "dsn", "--iu-dsn", pipeline.dsn, "--iu-sql-dir", str(sql_dir), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_since_a_revision_mutates_only_the_functions_changed_since(pipeline: Pipeline) -> None:
    """A git repository holding a copy of our SQL dir; one function edited (a comment) and committed."""
    repo = pipeline.tmp / "since-repo"
    shutil.copytree(ROOT / "harness" / "sql", repo / "sql")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "our build")
    gates = repo / "sql" / "030_gates.sql"
    text = gates.read_text()
    assert text.count("    RETURN v_gate;\n") == 1
    gates.write_text(text.replace("    RETURN v_gate;\n", "    RETURN v_gate;  -- the first closed gate\n"))
    git("commit", "-qam", "a comment in one function")
    changed = _list(pipeline, repo / "sql", "--since", "HEAD~1")
    assert changed and changed == _list(pipeline, repo / "sql", "--function", CHANGED)
    assert _list(pipeline, repo / "sql", "--since", "HEAD") == []  # nothing changed since the last commit
    done = subprocess.run([sys.executable, "-m", "harness.cli", "mutate", "--list", "--iu-backend", "dsn",
                           "--iu-dsn", pipeline.dsn, "--iu-sql-dir", str(repo / "sql"), "--since", "no-such-ref"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and "--since: git archive" in done.stderr and "no-such-ref" in done.stderr


def test_a_target_identity_changes_with_its_definition_and_with_the_oracle() -> None:
    scenario = load_scenario(SCENARIO)

    def catalog(text: str) -> Catalog:
        return Catalog([FunctionTarget(Source("f", "function", text, "plpgsql"), "iu_core.f()", None),
                        FunctionTarget(Source("g", "function", "g body", "plpgsql"), "iu_core.g()", None)],
                       Source("schema", "schema", "ALTER TABLE t ADD CONSTRAINT c CHECK (true);\n"))

    base = identity_of(catalog("f body"), oracle_digest(scenario, 20, None))
    assert base.unchanged(identity_of(catalog("f body"), oracle_digest(scenario, 20, None))) == {"f", "g", "schema"}
    assert base.unchanged(identity_of(catalog("f body 2"), oracle_digest(scenario, 20, None))) == {"g", "schema"}
    assert base.unchanged(identity_of(catalog("f body"), oracle_digest(scenario, 21, None))) == set()
    other = load_scenario(ROOT / "scenarios" / "seed-25000x-06.toml")
    assert base.unchanged(identity_of(catalog("f body"), oracle_digest(other, 20, None))) == set()


# -- the HTML report in a real browser ------------------------------------------------------------

LAUNCH_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser_or_skip() -> None:
    """Skip (never pass) where there is no browser; under CI a missing browser is a failure."""
    missing = None
    if not CHROMIUM.is_file():
        missing = f"{CHROMIUM} not installed (Debian package `chromium`; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = missing or "the playwright package is not installed (pip install -e '.[dev]')"
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test: {missing}")
    if missing:
        pytest.skip(missing)


def _stryker_score(report: dict) -> float:
    """Stryker's mutation score, as its viewer computes it: detected / (detected + undetected)."""
    statuses = [m["status"] for entry in report["files"].values() for m in entry["mutants"]]
    detected = sum(statuses.count(s) for s in ("Killed", "Timeout"))
    undetected = sum(statuses.count(s) for s in ("Survived", "NoCoverage"))
    return 100.0 * detected / (detected + undetected)


def test_the_html_report_shows_the_score_and_marks_a_survivor_in_chromium(pipeline: Pipeline,
                                                                         shards: list[Path]) -> None:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    folder = pipeline.tmp / "merged-html"
    assert _merge(shards, folder).returncode == 1
    page_path = folder / f"{STEM}.html"
    report = json.loads((folder / f"{STEM}.json").read_text())
    survivor_file, survivor = next((key, m) for key, entry in report["files"].items() for m in entry["mutants"]
                                   if m["status"] == "Survived")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_FLAGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            requests: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri())
            # The overview: the score of all files, as the viewer computes it from the report.
            score_cell = page.locator("mte-metrics-table tbody tr").first.locator("td span.transition-colors").first
            assert score_cell.inner_text(timeout=30_000) == f"{_stryker_score(report):.2f}"
            # A survivor's file: its line holds a mutant marked Survived, named by its operator.
            name = survivor_file.rsplit("/", 1)[-1]
            page.locator("mte-metrics-table a", has_text=name).first.click()
            line = page.locator("pre.line-numbers tr.line").nth(survivor["location"]["start"]["line"] - 1)
            line.wait_for(timeout=30_000)
            marked = line.locator("span.mutant.Survived")
            marked.first.wait_for(timeout=30_000)
            assert marked.count() >= 1, line.inner_text()
            titles = [marked.nth(i).get_attribute("title") or "" for i in range(marked.count())]
            assert any(survivor["mutatorName"] in t for t in titles), titles
            assert errors == []
            assert requests == [page_path.as_uri()]  # self-contained: nothing fetched but the page
        finally:
            browser.close()
