"""Checks: the invariants, the probes, the resource checks, their registry; the conformance catalogue,
the traceability matrix and a build's own SQL tests."""
