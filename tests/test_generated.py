"""Generated baselines (harness/scenarios/generated.py): a larger world from a scenario's [generate] table.

Built set-based through SPEC names; deterministic from the seed; identical piece graphs share a
digest whatever their keys and kinds, reordered ones do not; the background instances of other
actors pass the harness's whole-database digest audit; the digest check compares piece graphs,
so a digest that mixes in the kind is caught in this world.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.databases import state as db_state
from harness.databases.pool import DatabasePool
from harness.errors import ScenarioError
from harness.run.runner import run_scenario
from harness.scenarios.generated import GeneratedBaseline
from harness.scenarios.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "generated-workers.toml"
MIXES_KIND = ROOT / "tests" / "faults" / "manifest_digest_mixes_kind.sql"
SMALL = GeneratedBaseline(seed=5, templates=10, kinds=("file", "workflow"), versions=("v1", "v2"), pieces=(2, 9),
                          reuse_share=0.5, identical_graphs=2, reordered_graphs=2, background_instances=300,
                          manual_lineage=7, lifecycle=40, vector=30)
GRAPHS = """
SELECT c.collection_key, c.kind, c.manifest_digest, iu_core.fn_iu_manifest_digest(c.id) AS recomputed,
       (SELECT string_agg(m.position || '/' || i.iu_key, ',' ORDER BY m.position)
          FROM iu_core.iu_piece_membership m JOIN iu_core.iu i ON i.id = m.iu_id WHERE m.collection_id = c.id)
  FROM iu_core.iu_piece_collection c WHERE c.is_template ORDER BY 1"""


def test_the_scenario_declares_a_generated_baseline_named_by_its_parameters() -> None:
    scenario = load_scenario(SCENARIO)
    assert isinstance(scenario.baseline, GeneratedBaseline)
    assert scenario.baseline.name == load_scenario(SCENARIO).baseline.name  # stable
    assert dataclasses.replace(scenario.baseline, seed=12).name != scenario.baseline.name
    assert {item.template for item in scenario.mix} <= {scenario.baseline.template_key(t) for t in range(1, 13)}


@pytest.mark.parametrize(("table", "field", "expected"), [
    ("pieces = [5, 2]", "generate.pieces", "min <= max"),
    ("pieces = [1, 3]\nreordered_graphs = 1", "generate.pieces", "a minimum of 2"),
    ("pieces = [2, 3]\ntemplates = 2\nidentical_graphs = 2", "generate.templates", "more than"),
    ("pieces = [2, 3]\nkinds = ['folder']", "generate.kinds", "distinct kinds"),
    ("pieces = [2, 3]\nreuse_share = 2", "generate.reuse_share", "between 0 and 1"),
    ("pieces = [2, 3]\nbackground = 5", "generate.background", "known fields"),
])
def test_a_malformed_generate_table_names_its_field(tmp_path: Path, table: str, field: str, expected: str) -> None:
    text = SCENARIO.read_text().split("[generate]")[0] + "[generate]\n" + table + "\n[[mix]]" + \
        SCENARIO.read_text().split("[[mix]]", 1)[1]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"field {field}" in str(caught.value) and expected in str(caught.value)


def test_the_world_has_what_was_declared_and_consistent_digests(iu_pool: DatabasePool) -> None:
    with iu_pool.clone(SMALL).connect(autocommit=True) as conn:
        counts = db_state.table_counts(conn)
        assert counts["iu_piece_collection"] == 10 + 300 + 7
        assert counts["iu_auto_instantiate_event_log"] == 300
        assert counts["iu_collection_template_instance_lineage"] == 307
        assert counts["iu_lifecycle_log"] == 40 and counts["iu_vector_sync_point"] == 30
        actors = db_state.actor_rows(conn)
        assert sum(v["log"] for a, v in actors.items() if a.startswith("iu-harness-bg-")) == 300
        assert actors["iu-harness-bg-manual (manual)"]["lineage"] == 7
        # The harness's whole-database audit holds over the background instances.
        assert db_state.digest_audit(conn) == {"drift": 0, "ok": 300, "total": 300}
        shared = conn.execute("""SELECT count(*) FROM (SELECT iu_id FROM iu_core.iu_piece_membership m
            JOIN iu_core.iu_piece_collection c ON c.id = m.collection_id AND c.is_template
            GROUP BY iu_id HAVING count(DISTINCT collection_id) > 1) x""").fetchone()
        assert shared is not None and shared[0] > 0  # pieces reused across templates
        graphs = {key: (kind, stored, recomputed, graph) for key, kind, stored, recomputed, graph
                  in conn.execute(GRAPHS).fetchall()}
    assert all(stored == recomputed for _, stored, recomputed, _ in graphs.values())
    key = SMALL.template_key
    # Templates 7, 8 copy templates 2, 3 (regular = 6); 9, 10 rotate templates 4, 5.
    for copy, source in ((7, 2), (8, 3)):
        assert graphs[key(copy)][3] == graphs[key(source)][3] and graphs[key(copy)][2] == graphs[key(source)][2]
        assert graphs[key(copy)][0] != graphs[key(source)][0]  # another kind, the same digest
    for rotated, source in ((9, 4), (10, 5)):
        assert graphs[key(rotated)][3] != graphs[key(source)][3] and graphs[key(rotated)][2] != graphs[key(source)][2]
        pieces = [{line.split("/")[1] for line in graphs[key(t)][3].split(",")} for t in (rotated, source)]
        assert pieces[0] == pieces[1]  # the same pieces, in another order
    assert len({g[3] for g in graphs.values()}) == len({g[2] for g in graphs.values()}) == 8


def test_the_world_is_the_same_from_the_same_seed(iu_pool: DatabasePool) -> None:
    other = DatabasePool(iu_pool.server, iu_pool.config)
    try:
        worlds = []
        for pool in (iu_pool, other):
            with pool.clone(SMALL).connect() as conn:
                worlds.append(conn.execute("""SELECT md5(string_agg(c.id || c.collection_key
                    || coalesce(c.manifest_digest, '') || m.iu_id || m.position, ','
                    ORDER BY c.collection_key, m.position))
                    FROM iu_core.iu_piece_collection c JOIN iu_core.iu_piece_membership m ON m.collection_id = c.id
                    """).fetchone())
    finally:
        other.close()
    assert worlds[0] == worlds[1]


def test_a_digest_that_mixes_in_the_kind_is_caught_by_comparing_graphs(iu_pool: DatabasePool) -> None:
    """In the generated world a template shares its graph with one of the other kind: digest_equality's
    graphs-to-digests check (not a key comparison) sees two digests for one graph."""
    pool = DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, extra_sql=(MIXES_KIND,)))
    try:
        scenario = dataclasses.replace(load_scenario(SCENARIO), workers=0)
        result = run_scenario(pool.clone(scenario.baseline), scenario, 40, pool=pool, rollback=False)
    finally:
        pool.close()
    digest = next(r for r in result.results if r.name == "digest_equality")
    assert not digest.passed
    templates = digest.evidence["templates"]
    assert templates["distinct_graphs"] < templates["distinct_digests"], templates
