"""The two resource checks: per call, extrapolated to the target N, within the server's limits.

The measuring and the extrapolation are harness/run/resources.py; these judge its report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.checks.invariants import Evidence, invariant
from harness.run.context import CheckNotRun
from harness.run.resources import FAIL, LOCKS, MEMORY, NOT_RUN

if TYPE_CHECKING:
    from harness.run.context import RunContext


def _judged(ctx: RunContext, resource: str) -> tuple[bool, Evidence]:
    report = ctx.facts.resources
    if report is None:
        raise CheckNotRun("the scenario transaction was not measured")
    row = report.row(resource)
    if row.status == NOT_RUN:
        raise CheckNotRun(row.reason)
    if row.status == FAIL:
        return False, row.evidence(report.target_n, report.calls)
    # A held verdict shows only what is the same on every run of the build (it is in the snapshot):
    # the server's lock figures and the byte counts are in the report's "Resources per call" section.
    if row.exact:
        return True, {"resource": resource, "per_call": row.per_call, "checkpoint_calls": list(report.calls),
                      "target_n": report.target_n}
    return True, {"resource": resource, "target_n": report.target_n, "limit": row.limit,
                  "limit_from": row.limit_source,
                  "rule": "per call (the smallest growth over the checkpoint intervals) x the target N stays "
                          "within the limit"}


def _single_transaction(ctx: RunContext) -> bool:
    # K workers commit a batch at a time: no one transaction makes the run's N calls (the report says so).
    return not ctx.scenario.workers


@invariant("lock_table_holds_at_target_n", phase="in_tx", applies=_single_transaction, covers=("S1.orch.scale",),
           proves=("Extrapolated from the checkpoints of this transaction, the lock-table entries one transaction of "
                   "the target N calls holds fit the server's shared lock table (locks per call under \"Resources "
                   "per call\")."),
           description="the lock-table entries the transaction holds per call, extrapolated to the target N "
                       "(SPEC: 100,000), fit in the shared lock table the server's settings guarantee")
def lock_table_holds_at_target_n(ctx: RunContext) -> tuple[bool, Evidence]:
    return _judged(ctx, LOCKS)


@invariant("backend_memory_holds_at_target_n", phase="in_tx", applies=_single_transaction,
           covers=("S1.orch.scale",),
           proves=("Extrapolated from the checkpoints of this transaction, the memory one transaction of the target N "
                   "calls keeps stays within the backend memory budget."),
           description="the backend memory the transaction keeps per call, extrapolated to the target N "
                       "(SPEC: 100,000), stays within the memory budget")
def backend_memory_holds_at_target_n(ctx: RunContext) -> tuple[bool, Evidence]:
    return _judged(ctx, MEMORY)
