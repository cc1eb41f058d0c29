"""The traceability matrix (harness/checks/traceability.py): contract clauses -> checks -> faults, kept true.

Offline: no server. The committed harness/docs/traceability.md must be what the code and the fault
headers generate now, every declaration must name a real clause and a real check, and every clause
has a check and a fault that proves it, or a line saying why not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import traceability
from harness.cli import main

FAULTS = Path(__file__).resolve().parent / "faults"


def test_the_committed_matrix_is_up_to_date() -> None:
    rendered = traceability.render_markdown(traceability.current_matrix(FAULTS))
    assert traceability.MATRIX.read_text() == rendered, \
        f"harness/docs/traceability.md is out of date: regenerate it with `{traceability.REGENERATE}`"


def test_every_declaration_names_a_real_clause_and_a_real_check() -> None:
    clauses = traceability.parse_clauses(traceability.CONTRACT.read_text())
    assert traceability.problems(clauses, traceability.covers(), traceability.read_all_faults(FAULTS)) == []


def test_every_clause_has_a_check_and_a_fault_or_says_why_not() -> None:
    rows = traceability.current_matrix(FAULTS)
    assert len(rows) >= 40
    assert [r.clause.id for r in rows if r.status in ("NO CHECK", "NO FAULT")] == []
    # what stands without a fault says why, in the matrix
    assert all(r.note for r in rows if r.status in ("not checkable", "pending"))


def test_clauses_are_read_from_list_items_of_sections_1_and_2_only() -> None:
    text = """# Contract

## 1. The system

- **[S1.a]** First clause,
  on two lines.
- Not a clause: **[S1.not-first]** is not at the start.

```
- **[S1.in-code]** a code block is not a list
```

### Sub

1. **[S1.b]** An ordered item.

## 2. Baselines

- **[S2.c]** Third.

## 3. Promises

- **[S3.d]** Not the build's.
"""
    clauses = traceability.parse_clauses(text)
    assert [(c.id, c.text) for c in clauses] == [("S1.a", "First clause, on two lines."),
                                                 ("S1.b", "An ordered item."), ("S2.c", "Third.")]
    assert clauses[1].section == "1. The system / Sub"
    with pytest.raises(ValueError, match=r"S1.a"):
        traceability.parse_clauses(text + "\n## 2. Again\n\n- **[S1.a]** twice\n")


def test_a_fault_without_its_header_lines_is_refused_with_the_fix(tmp_path: Path) -> None:
    bare = tmp_path / "bare.sql"
    bare.write_text("-- bare.sql: a fault.\n\nSELECT 1;\n-- Violates: [S1.schema]\n")
    with pytest.raises(ValueError, match="Caught by"):
        traceability.read_fault(bare)
    good = tmp_path / "good.sql"
    good.write_text("-- good.sql\n-- Violates: [S1.schema], [S1.tbl.iu]\n-- Caught by: spec_catalog\n"
                    "-- Scenario: seed-25000x-06\n\nSELECT 1;\n")
    assert traceability.read_fault(good) == traceability.FaultDeclaration(
        "good.sql", ("S1.schema", "S1.tbl.iu"), ("spec_catalog",), "seed-25000x-06")


def test_a_check_or_fault_naming_nothing_real_is_reported() -> None:
    clauses = [traceability.Clause("S1.a", "1.", "a")]
    fault = traceability.FaultDeclaration("f.sql", ("S1.zz",), ("no_such_check",))
    found = traceability.problems(clauses, {"a_check": ("S1.a", "S1.yy")}, [fault])
    assert "check a_check covers unknown clause [S1.yy]" in found
    assert "fault f.sql violates unknown clause [S1.zz]" in found
    assert "fault f.sql names unknown check no_such_check" in found


def test_check_coverage_prints_the_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--coverage", "--faults", str(FAULTS)]) == 0
    out = capsys.readouterr().out
    assert "S1.rollback.spares" in out and "probe_rollback_spares_others" in out
    assert "S1.orch.scale" in out and "lock_table_holds_at_target_n" in out
    assert "S1.files" in out and "not checkable" in out


def test_check_coverage_without_faults_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--coverage", "--faults", str(tmp_path / "none")]) == 2
    captured = capsys.readouterr()
    assert "pass --faults DIR" in captured.out + captured.err
