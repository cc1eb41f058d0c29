"""Concurrent workers (harness/run/workers.py): K sessions, batches, at-least-once delivery, every invariant.

Runs real workers against a real server: the events split over K sessions, a share delivered to
two of them at the same place in their streams, so the second delivery meets the first's open
batch. Every invariant holds on the bundled build; a check-then-insert idempotency fault fails.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.databases.pool import DatabasePool
from harness.run.runner import run_scenario
from harness.scenarios.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
CHECK_THEN_INSERT = ROOT / "tests" / "faults" / "idempotency_check_then_insert.sql"


def _workers(k: int, *, batch: int = 50, redelivered: float = 0.2, gates: str = "committed") -> Scenario:
    scenario = load_scenario(ROOT / "scenarios" / "scaleout-mixed.toml")
    return dataclasses.replace(scenario, name=f"workers-k{k}", actor=f"iu-harness-workers-k{k}", workers=k,
                               batch=batch, redelivered=redelivered, gates=gates)


@pytest.mark.parametrize(("k", "gates"), [(1, "committed"), (2, "committed"), (3, "in_tx")])
def test_k_workers_hold_every_invariant(k: int, gates: str, iu_pool: DatabasePool) -> None:
    scenario = _workers(k, gates=gates)
    result = run_scenario(iu_pool.clone(scenario.baseline), scenario, 300, pool=iu_pool)
    assert result.passed and not result.not_run, result.failure_summary()
    delivery = next(r for r in result.results if r.name == "at_least_once_delivery").evidence
    assert delivery["deliveries"] == 360 and delivery["redelivered"] == 60
    assert delivery["one_ok_rest_duplicate_one_instance"] == 300
    facts = result.facts.workers
    assert facts is not None and facts.batches >= 360 // 50 and facts.workers == k
    with iu_pool.clone(scenario.baseline).connect() as conn:  # the harness's own schema never reaches a clone
        assert conn.execute("SELECT to_regnamespace('iu_harness_run')").fetchone() == (None,)


def test_in_tx_gates_make_the_workers_queue_on_the_gate_rows(iu_pool: DatabasePool) -> None:
    """The seeds' in-TX toggle per batch serializes K workers; the sampler shows on what."""
    scenario = _workers(2, batch=100, redelivered=0.0, gates="in_tx")
    result = run_scenario(iu_pool.clone(scenario.baseline), scenario, 2000, pool=iu_pool, rollback=False)
    assert result.passed, result.failure_summary()
    assert result.facts.workers is not None
    waits = result.facts.workers.lock_waits["top_waits"]
    assert any("iu_core.iu_gate" in w["statement"] for w in waits), waits


def test_a_check_then_insert_idempotency_fails_under_redelivery(iu_pool: DatabasePool) -> None:
    pool = DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, extra_sql=(CHECK_THEN_INSERT,)))
    try:
        scenario = _workers(2, batch=100, redelivered=0.5)
        result = run_scenario(pool.clone(scenario.baseline), scenario, 600, pool=pool)
    finally:
        pool.close()
    failed = {r.name for r in result.failed}
    assert failed & {"workers_delivered_every_event", "at_least_once_delivery"}, result.failure_summary()
