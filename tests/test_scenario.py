"""Scenario files: the shipped ones load, N splits exactly, and a malformed one names file, field, expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.scenarios.scenario import discover_scenarios, load_scenario

ROOT = Path(__file__).resolve().parent.parent
VALID = """
[scenario]
title = "t"
baseline = "after-25000x"
actor = "a"
event_type = "e"
sweep = [10]

[[mix]]
template = "tpl:file:status-report/v1"
kind = "file"
version = "v1"
suffix = "s-{i:03d}"
"""


def test_shipped_scenarios_load_with_the_seed_mixes() -> None:
    scenarios = {s.name: s for s in discover_scenarios(ROOT / "scenarios")}
    assert set(scenarios) >= {"seed-25000x-06", "seed-50000x-03", "scaleout-mixed"}
    seed25 = scenarios["seed-25000x-06"]
    assert [(m.template, c) for m, c in seed25.counts_at(12)] == [
        ("tpl:wf:onboarding/v2", 8), ("tpl:file:status-report/v2", 4)]
    assert [c for _, c in scenarios["seed-50000x-03"].counts_at(20)] == [5, 5, 5, 5]
    mixed = scenarios["scaleout-mixed"]
    assert mixed.sweep == (20, 100, 1000, 10000) and mixed.slow_sweep == (100000,)
    assert {(m.kind, m.version) for m in mixed.mix} == {("file", "v1"), ("file", "v2"),
                                                        ("workflow", "v1"), ("workflow", "v2")}
    assert mixed.sizes_within(None) == mixed.sweep
    assert mixed.sizes_within(100000)[-1] == 100000


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 101, 9999])
def test_counts_always_add_up_to_n(n: int) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "seed-25000x-06.toml")
    assert sum(c for _, c in scenario.counts_at(n)) == n


def test_suffix_patterns_pad_like_the_sql_plan() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "seed-50000x-03.toml")
    item = scenario.mix[0]
    assert item.suffix_for(3) == "50000x-bulk-file-v1-03"
    assert item.suffix_for(123) == "50000x-bulk-file-v1-123"  # wider than the pad: never truncated


@pytest.mark.parametrize(("edit", "field", "expected"), [
    (lambda t: t.replace('sweep = [10]', 'sweep = []'), "scenario.sweep", "a list of positive integers"),
    (lambda t: t.replace('sweep = [10]', 'sweep = [0]'), "scenario.sweep", "a list of positive integers"),
    (lambda t: t.replace('kind = "file"', 'kind = "folder"'), "mix[0].kind", "one of"),
    (lambda t: t.replace('suffix = "s-{i:03d}"', 'suffix = "s"'), "mix[0].suffix", "exactly one {i}"),
    (lambda t: t.replace('actor = "a"', 'actor = ""'), "scenario.actor", "a non-empty string"),
    (lambda t: t.replace('title = "t"', 'title = "t"\nspeed = 3'), "scenario.speed", "known fields"),
    (lambda t: t.replace('version = "v1"', 'version = "v1"\nweight = -1'), "mix[0].weight", "positive integer"),
    (lambda t: t + '\n[expect]\nn = 10\ncounts = { nope = 1 }\n', "expect.counts", "keys among"),
    (lambda t: t.split("[[mix]]")[0], "<file>.mix", "at least one [[mix]]"),
    (lambda t: t.replace('sweep = [10]', 'sweep = [10]\nscaling_threshold = 0.5'), "scenario.scaling_threshold",
     "a number above 1"),
    (lambda t: t.replace('sweep = [10]', 'sweep = [10]\nscaling_sizes = [1000, 100]'), "scenario.scaling_sizes",
     "two increasing N"),
    (lambda t: t.replace('sweep = [10]', 'sweep = [10]\nworkers = 2\nredelivered = 1.5'), "scenario.redelivered",
     "a share between 0 and 1"),
    (lambda t: t.replace('sweep = [10]', 'sweep = [10]\nworkers = 2\ngates = "open"'), "scenario.gates", "one of"),
    (lambda t: t.replace('sweep = [10]', 'sweep = [10]\nbatch = 10'), "scenario.workers", "K >= 1 when batch"),
])
def test_malformed_scenario_names_file_field_and_expectation(tmp_path: Path, edit, field: str,
                                                             expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(edit(VALID))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message and f"field {field}" in message and expected in message


def test_invalid_toml_and_missing_file_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("[scenario\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "missing.toml")
