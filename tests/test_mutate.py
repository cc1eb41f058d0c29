"""`iu-harness mutate`: operators, ids, shards, outcomes, reports and exit codes.

The operator tests read small function texts through pglast alone (no server);
the rest run a handful of mutants against the real server, never the whole list.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pglast
import pytest
from pglast import parser as pg_parser
from snapshot_markdown import MarkdownSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from harness.cli import main
from harness.config import HarnessConfig
from harness.databases.pool import Database, DatabasePool
from harness.mutate.discovery import Catalog, discover
from harness.mutate.lab import Lab
from harness.mutate.mutant import Mutant, Source
from harness.mutate.operators import OPERATORS, function_operators
from harness.mutate.outcome import QUERY_CANCELED, Status, judge_run
from harness.mutate.shard import shard
from harness.mutate.syntax import FunctionSyntax
from harness.run.results import InvariantResult, RunFacts, RunResult
from harness.scenarios.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SEED_50000X = ROOT / "scenarios" / "seed-50000x-03.toml"
BROKEN = ROOT / "tests" / "broken"

SMALL = """CREATE OR REPLACE FUNCTION t.f(p_key text, p_n integer)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_id bigint;
BEGIN
    IF p_key IS NULL OR p_n < 1 THEN
        RAISE EXCEPTION 'bad key % (a = b AND NOT c)', p_key USING ERRCODE = 'XX001';
    END IF;
    -- a comment: x = y OR NOT z, 1 <> 2
    /* a block comment: p_n >= 0 AND true */
    INSERT INTO t.log (k, n) VALUES (p_key, p_n)
    ON CONFLICT (k) DO NOTHING
    RETURNING id INTO v_id;
    UPDATE t.log SET n = n + 1 WHERE k = p_key AND n > 0 AND NOT done;
    SELECT coalesce(max(id), 0) INTO v_id FROM t.log WHERE k <> $q$ a = b $q$ ORDER BY 1 LIMIT 1;
    PERFORM 1 FROM t.log WHERE k = p_key;
    RETURN jsonb_build_object('status', 'ok', 'id', v_id, 'flag', false, 'note', E'x = \\' y');
END;
$function$
"""


def _mutants(definition: str = SMALL, language: str = "plpgsql") -> list[Mutant]:
    source = Source("f", "function", definition, language)
    syntax = FunctionSyntax.of(definition, language)
    return [m for op in function_operators() for m in op.generate(source, syntax)]


def _changes(mutants: list[Mutant]) -> set[tuple[str, str, str]]:
    return {(m.operator, " ".join(m.original.split()), m.replacement) for m in mutants}


# -- operators, offline ----------------------------------------------------------------------------

def test_operators_produce_the_expected_mutants_of_a_small_function() -> None:
    changes = _changes(_mutants())
    expected = {
        ("relational", "<", "<="), ("relational", "<", ">="), ("relational", "=", "<>"),
        ("relational", ">", ">="), ("relational", "<>", "="),
        ("and_or", "OR", "AND"), ("and_or", "AND", "OR"),
        ("not_removal", "NOT", ""),
        ("boolean_literal", "false", "true"),
        ("integer_literal", "1", "0"), ("integer_literal", "0", "1"),
        ("is_null", "IS NULL", "IS NOT NULL"),
        ("raise_to_notice", "EXCEPTION", "NOTICE"),
        ("on_conflict", "ON CONFLICT (k) DO NOTHING", ""),
        ("on_conflict", "DO NOTHING", "DO UPDATE SET k = EXCLUDED.k"),
        ("order_by_direction", "1", "1 DESC"),
        ("where_conjunct", "k = p_key AND", ""), ("where_conjunct", "AND NOT done", ""),
        ("where_conjunct", "WHERE k = p_key", ""),
        ("returned_literal", "'status'", "''"), ("returned_literal", "'ok'", "'duplicate'"),
        ("coalesce_swap", "max(id), 0", "0, max(id)"),
    }
    assert expected <= changes, sorted(expected - changes)
    deleted = {m.original.split()[0] for m in _mutants() if m.operator == "delete_statement"}
    assert deleted == {"RAISE", "INSERT", "UPDATE", "SELECT", "PERFORM", "RETURN"}
    # Syntax, not logic: the SET assignment's and RAISE USING's '=' are never touched, nor `PERFORM 1`'s 1.
    statement_of = {m.original: m for m in _mutants() if m.operator == "relational"}
    assert all(m.start != SMALL.index("n = n + 1") + 2 for m in statement_of.values())
    assert not any(m.operator == "relational" and m.start == SMALL.index("ERRCODE =") + 8 for m in _mutants())
    assert not any(m.operator == "integer_literal" and m.start == SMALL.index("PERFORM 1") + 8 for m in _mutants())


def test_a_variable_typed_by_another_schemas_table_does_not_hide_the_statements() -> None:
    """pglast's PL/pgSQL parser looks up only pg_catalog and public: a DECLARE naming a row type of the
    build's own schema (as the blind build's procedures do) is read as record for the parse alone, so the
    statements, and their mutants, are found at the same places in the unchanged text (a return type too)."""
    typed = SMALL.replace("    v_id bigint;\n", "    v_id bigint;\n    v_row t.log;\n    v_old t.log%ROWTYPE;\n"
                          "    v_k CONSTANT t.log.k%TYPE := 'x';\n").replace(" RETURNS jsonb", " RETURNS t.log")
    with pytest.raises(pglast.Error, match="LookupExplicitNamespace"):
        pglast.parse_plpgsql(typed)
    shift = len(typed) - len(SMALL)
    assert {(m.id.split(":L")[0], m.start - shift, m.original) for m in _mutants(typed)} == \
        {(m.id.split(":L")[0], m.start, m.original) for m in _mutants()}
    assert "t.log" in typed and all("record" not in m.original for m in _mutants(typed))


def test_strings_comments_and_dollar_quotes_are_never_mutated() -> None:
    body_start = SMALL.index("$function$") + len("$function$")
    body = SMALL[body_start:SMALL.rindex("$function$")]
    protected = [(body_start + t.start, body_start + t.end + 1) for t in pg_parser.scan(body)
                 if t.name in {"SCONST", "SQL_COMMENT", "C_COMMENT"}]
    assert len(protected) >= 8  # the RAISE text, both comments, the dollar quote, the JSON strings, E'...'
    for mutant in _mutants():
        if mutant.operator in {"delete_statement", "where_conjunct", "on_conflict", "coalesce_swap",
                               "order_by_direction"}:
            continue  # these replace whole statements or clauses (which may contain strings), checked below
        for start, end in protected:
            inside = start <= mutant.start < end and mutant.end <= end
            assert not inside or (mutant.operator == "returned_literal" and mutant.end - mutant.start == end - start), \
                f"{mutant.id} mutates inside a string or comment"
    for mutant in _mutants():  # no span starts or ends inside a string or comment
        for start, end in protected:
            assert not start < mutant.start < end and not start < mutant.end < end, mutant.id


def test_a_sql_language_function_is_mutated_by_tokens_too() -> None:
    definition = ("CREATE OR REPLACE FUNCTION t.g(graph text)\n RETURNS text\n LANGUAGE sql\n"
                  "AS $function$\n    SELECT left(md5(coalesce(graph, '')), 16) -- keep 16 = 16\n$function$\n")
    assert _changes(_mutants(definition, "sql")) == {
        ("coalesce_swap", "graph, ''", "'', graph"), ("integer_literal", "16", "17")}


def test_ids_are_stable_unique_and_readable() -> None:
    first, second = [m.id for m in _mutants()], [m.id for m in _mutants()]
    assert first == second
    assert len(set(first)) == len(first)
    relational = next(m for m in _mutants() if m.operator == "relational" and m.original == "<")
    line, col = relational.location[0]
    assert relational.id == f"f:relational:L{line}C{col}:'<'->'<='"
    assert relational.mutated_text.count("p_n <= 1") == 1 and SMALL.count("p_n <= 1") == 0
    assert "-    IF p_key IS NULL OR p_n < 1 THEN" in relational.diff()


def test_shards_are_a_partition() -> None:
    mutants = _mutants()
    for count in (1, 2, 3, 7):
        parts = [shard(mutants, index, count) for index in range(count)]
        ids = [m.id for part in parts for m in part]
        assert sorted(ids) == sorted(m.id for m in mutants)
        assert len(set(ids)) == len(ids)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
        assert parts == [shard(mutants, index, count) for index in range(count)]  # deterministic


def test_every_operator_is_registered_once_with_a_description() -> None:
    assert len(OPERATORS) >= 17
    assert all(op.description for op in OPERATORS.values())


# -- the bundled build, against the server ---------------------------------------------------------

@pytest.fixture
def catalog(iu_db: Database) -> Catalog:
    with iu_db.connect(autocommit=True) as conn:
        return discover(conn)


def test_generated_mutants_of_the_bundled_build(catalog: Catalog, iu_config: HarnessConfig,
                                                snapshot: SnapshotAssertion) -> None:
    """The whole mutant list, reviewed as a snapshot: a change in what is generated shows as a diff."""
    if not iu_config.sql_dir_is_bundled or iu_config.extra_sql:
        pytest.skip("the snapshot lists the bundled build's mutants")
    mutants = catalog.mutants()
    by_operator = Counter(m.operator for m in mutants)
    text = "\n".join([f"{len(mutants)} mutants", *[f"{op}: {by_operator[op]}" for op in OPERATORS], "",
                      *[m.id for m in mutants]])
    assert text == snapshot.use_extension(MarkdownSnapshotExtension)
    assert len(mutants) >= 300


def test_ids_are_stable_across_two_discoveries(catalog: Catalog, iu_db_factory) -> None:
    with iu_db_factory(None).connect(autocommit=True) as conn:
        again = discover(conn)
    assert [m.id for m in catalog.mutants()] == [m.id for m in again.mutants()]


def _lab(pool: DatabasePool) -> Lab:
    return Lab(pool, load_scenario(SEED_50000X), 20, timeout_s=3.0)


def test_a_known_bad_mutant_is_caught_by_a_real_run(catalog: Catalog, iu_pool: DatabasePool,
                                                     iu_config: HarnessConfig) -> None:
    if not iu_config.sql_dir_is_bundled:
        pytest.skip("picks a mutant of the bundled orchestrator")
    mutants = catalog.mutants()
    ok_to_duplicate = next(m for m in mutants if m.target == "fn_iu_auto_instantiate_from_event"
                           and m.operator == "returned_literal" and m.original == "'ok'")
    # The members' template filter dropped: every collection's memberships are copied.
    members_unfiltered = next(m for m in mutants if m.target == "fn_iu_auto_instantiate_from_event"
                              and m.operator == "where_conjunct"
                              and m.original == "WHERE m.collection_id = v_template_id"
                              and "CROSS JOIN iu_core.iu_piece_membership m" in m.source.text[m.start - 200:m.start])
    lab = _lab(iu_pool)
    outcome = lab.test(ok_to_duplicate)
    assert outcome.status is Status.CAUGHT and "calls_all_ok" in outcome.caught_by, outcome
    outcome = lab.test(members_unfiltered)
    assert outcome.status is Status.CAUGHT, outcome
    assert "scenario_transaction_committed" in outcome.caught_by, outcome  # the copies collide on the key


def test_a_mutant_that_does_not_load_is_unviable_and_a_hang_is_a_timeout(catalog: Catalog,
                                                                          iu_pool: DatabasePool) -> None:
    target = next(t for t in catalog.functions if t.source.name == "fn_iu_manifest_digest")
    source, syntax = target.source, target.syntax
    assert syntax is not None
    begin = next(t for t in syntax.tokens if t.word == "begin")
    broken = Mutant(source, "test", begin.start, begin.end, "BEGIN", "BEGIN SELEC;")
    hang = Mutant(source, "test", begin.start, begin.end, "BEGIN", "BEGIN PERFORM pg_sleep(30);")
    lab = _lab(iu_pool)
    outcome = lab.test(broken)
    assert outcome.status is Status.UNVIABLE and "42601" in outcome.detail, outcome
    outcome = lab.test(hang)
    assert outcome.status is Status.TIMEOUT, outcome
    assert outcome.duration_s < 60


def test_a_statement_timeout_inside_a_probe_is_a_timeout_not_a_catch() -> None:
    """Probes record a call's error under "raised" (harness/checks/probes.py), the runner a step's under "sqlstate":
    a statement timeout (57014) recorded under either is a timeout; another error under "raised" a catch."""
    scenario = load_scenario(SEED_50000X)
    mutant = _mutants()[0]

    def judged(evidence: dict[str, object]) -> Status:
        failed = InvariantResult("probe_gated", "probe", "a probe", False, evidence)
        result = RunResult(scenario, 10, [failed], RunFacts(), {}, scenario.counts_at(10), {}, [])
        return judge_run(mutant, result, 0.1).status

    timed_out = {"cases": {"auto gate closed": {"raised": QUERY_CANCELED, "message": "canceling statement"}}}
    refused = {"cases": {"auto gate closed": {"raised": "22023", "message": "bad input"}}}
    assert judged(timed_out) is Status.TIMEOUT
    assert judged({"check_raised": {"sqlstate": QUERY_CANCELED, "error": "canceling statement"}}) is Status.TIMEOUT
    assert judged(refused) is Status.CAUGHT
    assert judged({"raised": 3, "cases": 5}) is Status.CAUGHT  # a count of raised calls is not an SQLSTATE


# -- the command -----------------------------------------------------------------------------------

STRYKER_STATUSES = {"Killed", "Survived", "NoCoverage", "CompileError", "RuntimeError", "Timeout", "Ignored",
                    "Pending"}


def _check_stryker(report: dict) -> None:
    """The required keys and enums of the mutation-testing-report schema (stryker-mutator/
    mutation-testing-elements, packages/report-schema/src/mutation-testing-report-schema.json)."""
    assert {"schemaVersion", "thresholds", "files"} <= set(report)
    assert report["schemaVersion"] == "2"
    assert {"high", "low"} <= set(report["thresholds"]) and 0 <= report["thresholds"]["low"] <= 100
    assert report["files"]
    for entry in report["files"].values():
        assert {"language", "source", "mutants"} <= set(entry)
        ids = [m["id"] for m in entry["mutants"]]
        assert len(ids) == len(set(ids))
        for mutant in entry["mutants"]:
            assert {"id", "mutatorName", "location", "status"} <= set(mutant)
            assert mutant["status"] in STRYKER_STATUSES
            for end in ("start", "end"):
                assert mutant["location"][end]["line"] >= 1 and mutant["location"][end]["column"] >= 1
            (line, col) = mutant["location"]["start"]["line"], mutant["location"]["start"]["column"]
            assert line <= entry["source"].count("\n") + 1 and col >= 1
    assert {"name"} <= set(report["framework"]) and {"ci"} <= set(report["system"])
    assert {"setup", "initialRun", "mutation"} <= set(report["performance"])


def _mutate(tmp_path: Path, *extra: str) -> tuple[int, dict]:
    code = main(["mutate", str(SEED_50000X), "--report-dir", str(tmp_path), *extra])
    reports = sorted(tmp_path.glob("mutate-*.json"))
    return code, json.loads(reports[-1].read_text()) if reports else {}


def test_equivalents_file_turns_exit_1_into_0_and_the_report_is_strykers(tmp_path: Path,
                                                                          iu_config: HarnessConfig) -> None:
    if not iu_config.sql_dir_is_bundled or iu_config.backend != "embedded":
        pytest.skip("runs the CLI on the bundled build with its own embedded server")
    # A shard of the rollback's mutants: caught ones and (reviewed elsewhere) survivors.
    # The invariants alone (our build's own tests would catch most of them).
    args = ("--function", "fn_iu_auto_instantiate_rollback_by_actor", "--shard", "0/4", "--jobs", "2",
            "--no-build-tests", "--equivalents", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("# nothing reviewed yet\n")
    code, report = _mutate(tmp_path, *args)
    _check_stryker(report)
    mutants = [m for entry in report["files"].values() for m in entry["mutants"]]
    survivors = [m["id"] for m in mutants if m["status"] == "Survived"]
    assert code == 1 and survivors, mutants
    assert any(m["status"] == "Killed" and m["killedBy"] for m in mutants)
    markdown = next(tmp_path.glob("mutate-*.md")).read_text()
    assert "## Kill matrix" in markdown and "```diff" in markdown and survivors[0] in markdown
    assert "Schemas the build created (catalogue compared with a fresh database's): `iu_core`." in markdown
    assert "Left out: nothing." in markdown

    reviewed = tmp_path / "reviewed.toml"
    reviewed.write_text("".join(f'[[equivalent]]\nid = {json.dumps(i)}\nreason = "accepted for this test"\n\n'
                                for i in survivors))
    code, report = _mutate(tmp_path, *args[:-1], str(reviewed))
    assert code == 0
    statuses = {m["id"]: m["status"] for entry in report["files"].values() for m in entry["mutants"]}
    assert all(statuses[i] == "Ignored" for i in survivors)
    code, _ = _mutate(tmp_path, *args[:-1], str(reviewed), "--min-score", "100")
    assert code == 1  # the accepted survivors still count as missed in the score


def test_exit_2_when_the_clean_build_fails(tmp_path: Path, iu_config: HarnessConfig,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    if iu_config.backend != "embedded":
        pytest.skip("runs the CLI with its own embedded server")
    broken = BROKEN / "digest_mixes_collection_key.sql"
    code, report = _mutate(tmp_path, "--iu-extra-sql", str(broken), "--function", "fn_iu_piece_graph_digest")
    assert code == 2
    assert report == {}
    err = capsys.readouterr().err
    assert "the clean build fails" in err and "digest_equality" in err


def test_list_prints_the_selected_ids_without_running(tmp_path: Path, iu_config: HarnessConfig,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    if iu_config.backend != "embedded":
        pytest.skip("runs the CLI with its own embedded server")
    assert main(["mutate", "--list", "--function", "fn_iu_piece_graph_digest", "schema", "--shard", "1/2"]) == 0
    ids = capsys.readouterr().out.split("\n")
    ids = [i for i in ids if i]
    assert ids and all(i.startswith(("fn_iu_piece_graph_digest:", "schema:")) for i in ids)
    assert main(["mutate", "--list", "--function", "no_such_fn"]) == 2


def test_discovery_reads_every_schema_the_build_creates(iu_pool: DatabasePool) -> None:
    """A build with a helper schema (tests/mutate_builds/helper_schema.sql): its sql function and its
    table's constraints are targets, its internal-language function is listed as left out, with why."""
    import dataclasses

    config = dataclasses.replace(iu_pool.config, extra_sql=(*iu_pool.config.extra_sql,
                                                            ROOT / "tests" / "mutate_builds" / "helper_schema.sql"))
    pool = DatabasePool(iu_pool.server, config)
    try:
        database = pool.clone(None)
        with database.connect(autocommit=True) as conn:
            found = discover(conn)
    finally:
        pool.close()
    assert found.schemas[0] == "iu_core" and "iu_core_impl" in found.schemas
    assert "public" not in found.schemas  # nothing of the build's there
    names = {t.source.name for t in found.functions}
    assert "iu_core_impl.fn_instance_key" in names
    assert any(m.target == "iu_core_impl.fn_instance_key" for m in found.mutants())
    assert any(o.name.startswith("iu_core_impl.helper_note") and o.kind == "check" for o in found.objects)
    assert [(item.name, item.reason.split(":")[0]) for item in found.left_out] == [
        ("iu_core_impl.fn_add(a integer, b integer)", "language internal")]
