"""Mutation testing of an iu_core build, with the harness's invariants as the oracle.

One module per stage, as cargo-mutants lays it out:

- `syntax`: the tokens (pglast's scanner) and PL/pgSQL statements (pglast's
  PL/pgSQL parser) of one function definition; nothing looks at raw text.
- `discovery`: reads every schema the build created (iu_core and its helper
  schemas), their functions, constraints and triggers, from the catalogue of a
  loaded database, and what it left out with the reason.
- `mutant`: a mutant is data (target, operator, span, original, replacement)
  with a stable id; applied to an untouched copy of the definition.
- `operators`: the named mutation operators, registered in one place.
- `shard`: --function filter and the deterministic --shard I/K split.
- `lab`: runs mutants in parallel, one clone each, and judges them (`outcome`).
- `equivalents`: the reviewed file of accepted survivors.
- `output`: the Markdown report and the Stryker mutation-testing-report JSON.
- `campaign`: the whole command, from the clean run to the exit code.
"""
