"""The traceability matrix: each clause of the contract -> the checks that exercise it -> the faults that prove them.

Three sources, joined here and nowhere else:
- the clauses: `**[ID]**` at the start of a list item in sections 1 and 2 of harness/docs/contract.md
  (read with markdown-it, the parser rich already brings);
- the checks: each check's `covers=(...)` declaration (harness/checks/invariants.py, harness/checks/probes.py);
- the faults: each tests/faults/*.sql file's header lines `-- Violates: [ID] ...` and `-- Caught by: name, ...`,
  which tests/test_spec_faults.py also reads (one source of truth for what must catch a fault).

A clause no check can reach from outside the build says why in `NOT_CHECKABLE`; one whose check is on another
branch says so in `PENDING`. The Markdown rendering is committed as harness/docs/traceability.md
(regenerate: `python -m harness.checks.traceability --write`); `iu-harness check --coverage` prints the same rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from markdown_it import MarkdownIt

from harness.checks.registry import all_checks
from harness.exit_codes import EXIT_INVARIANT_FAILED, EXIT_OK

CONTRACT = Path(str(files("harness") / "docs" / "contract.md"))
MATRIX = Path(str(files("harness") / "docs" / "traceability.md"))
# The SPEC-only faults live with the tests, in a checkout of the repository (not in an installed wheel).
DEFAULT_FAULTS = Path(__file__).resolve().parents[2] / "tests" / "faults"
REGENERATE = "python -m harness.checks.traceability --write"
SECTIONS = ("1", "2")  # the build's clauses; section 3 and 4 are the harness's own promises

CLAUSE_ID = re.compile(r"^\*\*\[(?P<id>S\d[\w.\-]*)\]\*\*\s*(?P<text>.*)$", re.DOTALL)
VIOLATES = re.compile(r"^--\s*Violates:\s*(?P<ids>.+)$", re.IGNORECASE)
CAUGHT_BY = re.compile(r"^--\s*Caught by:\s*(?P<names>.+)$", re.IGNORECASE)
SCENARIO = re.compile(r"^--\s*Scenario:\s*(?P<name>\S+)\s*$", re.IGNORECASE)
DEFAULT_FAULT_SCENARIO = "seed-50000x-03"
BRACKETED = re.compile(r"\[([^\]]+)\]")

# Clauses no check can exercise from outside a build, and why (a row of the matrix says so).
NOT_CHECKABLE: dict[str, str] = {
    "S1.files": "how the harness loads a build (sql_loader: files in name order), not a property a check can "
                "read from the loaded database; a build that is not a folder of .sql files does not load",
    "S1.gate.order": "which order a build takes gate row locks in shows only as a deadlock between two "
                     "togglers meeting at the wrong moment; the harness's own toggles take them in gate_key "
                     "order, and a build's other toggles are its own",
}
# Parts of a covered clause no check reaches, and why (the row's note).
PARTLY: dict[str, str] = {
    "S1.server": "the extensions are checked; loading on PostgreSQL 13 is not an invariant but a run on that "
                 "major (--iu-pg, where installed)",
    "S1.view.summary": "instances_last_hour is checked to move by the run's counts; telling it from instance_count "
                       "needs rows an hour old, which no run of minutes makes, and cannot be planted from outside: "
                       "the time a log row is dated by is a column of the build's own (the contract names none)",
}
# Clauses whose check lands from another branch (the lead adds its `covers` when merging).
PENDING: dict[str, str] = {}


@dataclass(frozen=True)
class Clause:
    id: str
    section: str  # "1. The system under test / Tables"
    text: str


@dataclass(frozen=True)
class FaultDeclaration:
    file: str
    violates: tuple[str, ...]
    caught_by: tuple[str, ...]
    scenario: str = DEFAULT_FAULT_SCENARIO  # the scenario (scenarios/<name>.toml) whose run must catch it


@dataclass(frozen=True)
class MatrixRow:
    clause: Clause
    checks: tuple[str, ...]
    faults: tuple[FaultDeclaration, ...]
    proven: tuple[str, ...]  # checks some fault of this clause must fail
    note: str  # why it has no check (not checkable / pending), or ""

    @property
    def status(self) -> str:
        if self.proven:
            return "covered"
        if self.clause.id in NOT_CHECKABLE:
            return "not checkable"
        if self.clause.id in PENDING:
            return "pending"
        if not self.checks:
            return "NO CHECK"
        return "NO FAULT"


def parse_clauses(text: str) -> list[Clause]:
    """The `**[ID]**` clauses of sections 1 and 2, in document order."""
    tokens = MarkdownIt("commonmark").parse(text)
    clauses: list[Clause] = []
    headings: dict[int, str] = {}
    in_item = 0
    first_paragraph = False
    for n, token in enumerate(tokens):
        if token.type == "heading_open":
            level = int(token.tag[1])
            headings = {k: v for k, v in headings.items() if k < level}
            headings[level] = tokens[n + 1].content
        elif token.type == "list_item_open":
            in_item += 1
            first_paragraph = True
        elif token.type == "list_item_close":
            in_item -= 1
        elif token.type == "inline" and in_item and first_paragraph:
            first_paragraph = False
            match = CLAUSE_ID.match(token.content)
            section = headings.get(2, "")
            if match and section.split(".")[0] in SECTIONS:
                where = " / ".join(headings[k] for k in sorted(headings) if k >= 2)
                clauses.append(Clause(match["id"], where, " ".join(match["text"].split())))
    ids = [c.id for c in clauses]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"contract clause ids used twice: {duplicated}")
    return clauses


def read_fault(path: Path) -> FaultDeclaration:
    """A fault file's header: `-- Violates: [ID], [ID]`, `-- Caught by: invariant, invariant` and, when not
    the 50000x seed, `-- Scenario: <name>`."""
    violates: list[str] = []
    caught: list[str] = []
    scenario = DEFAULT_FAULT_SCENARIO
    for line in path.read_text().splitlines():
        if not line.startswith("--"):
            if line.strip():
                break  # the header ends at the first statement
            continue
        if match := VIOLATES.match(line):
            violates += BRACKETED.findall(match["ids"])
        elif match := CAUGHT_BY.match(line):
            caught += [name.strip() for name in match["names"].split(",") if name.strip()]
        elif match := SCENARIO.match(line):
            scenario = match["name"]
    if not violates or not caught:
        raise ValueError(f"{path}: its header needs a '-- Violates: [clause id]' line and a "
                         "'-- Caught by: invariant, ...' line (see tests/faults/*.sql)")
    return FaultDeclaration(path.name, tuple(violates), tuple(caught), scenario)


def read_faults(directory: Path = DEFAULT_FAULTS) -> list[FaultDeclaration]:
    return [read_fault(p) for p in sorted(directory.glob("*.sql"))]


# Faults judged at the target N, kept apart (tests/test_resources.py runs them; their controls, which
# must NOT be flagged, have no Violates line and are not faults).
RESOURCE_FAULTS = "resources"


def read_all_faults(directory: Path = DEFAULT_FAULTS) -> list[FaultDeclaration]:
    """The SPEC-only faults and the resource faults: everything the matrix counts."""
    held = [p for p in sorted((directory / RESOURCE_FAULTS).glob("*.sql"))
            if any(VIOLATES.match(line) for line in p.read_text().splitlines())]
    return read_faults(directory) + [dataclasses.replace(read_fault(p), file=f"{RESOURCE_FAULTS}/{p.name}")
                                     for p in held]


def covers() -> dict[str, tuple[str, ...]]:
    """check name -> the clause ids it declares it exercises."""
    return {name: inv.covers for name, inv in all_checks().items()}


def build_matrix(clauses: list[Clause], declared: dict[str, tuple[str, ...]],
                 faults: Iterable[FaultDeclaration]) -> list[MatrixRow]:
    faults = list(faults)
    rows = []
    for clause in clauses:
        checks = tuple(name for name, ids in declared.items() if clause.id in ids)
        mine = tuple(f for f in faults if clause.id in f.violates)
        proven = tuple(name for name in checks if any(name in f.caught_by for f in mine))
        note = NOT_CHECKABLE.get(clause.id) or PENDING.get(clause.id) or PARTLY.get(clause.id) or ""
        rows.append(MatrixRow(clause, checks, mine, proven, note))
    return rows


def problems(clauses: list[Clause], declared: dict[str, tuple[str, ...]],
             faults: Iterable[FaultDeclaration]) -> list[str]:
    """Declarations that name a clause or a check that does not exist."""
    known = {c.id for c in clauses}
    found = [f"check {name} covers unknown clause [{cid}]" for name, ids in declared.items()
             for cid in ids if cid not in known]
    for fault in faults:
        found += [f"fault {fault.file} violates unknown clause [{cid}]" for cid in fault.violates if cid not in known]
        found += [f"fault {fault.file} names unknown check {name}" for name in fault.caught_by
                  if name not in declared]
    found += [f"NOT_CHECKABLE / PENDING names unknown clause [{cid}]" for cid in (*NOT_CHECKABLE, *PENDING, *PARTLY)
              if cid not in known]
    return found


def current_matrix(faults_dir: Path = DEFAULT_FAULTS) -> list[MatrixRow]:
    faults = read_all_faults(faults_dir) if faults_dir.is_dir() else []
    return build_matrix(parse_clauses(CONTRACT.read_text()), covers(), faults)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(rows: list[MatrixRow]) -> str:
    counts = {s: sum(1 for r in rows if r.status == s) for s in
              ("covered", "not checkable", "pending", "NO CHECK", "NO FAULT")}
    lines = [
        "# Traceability: contract clause -> checks -> faults", "",
        f"Generated from harness/docs/contract.md, the checks' `covers` declarations and the headers of "
        f"tests/faults/*.sql; do not edit by hand (`{REGENERATE}`). `iu-harness check --coverage` prints it.", "",
        "A clause is covered when a check declares it and a SPEC-only fault that violates it must fail that "
        "check on both builds (tests/test_spec_faults.py). Checks marked * are the ones a fault proves.", "",
        " · ".join(f"{status}: {count}" for status, count in counts.items()), "",
        "| clause | status | checks | faults (caught by) | note |", "|---|---|---|---|---|"]
    for row in rows:
        checks = ", ".join(f"`{c}`" + ("*" if c in row.proven else "") for c in row.checks) or "none"
        faults = "<br>".join(f"`{f.file}` ({', '.join(f.caught_by)})" for f in row.faults) or "none"
        lines.append(f"| **[{row.clause.id}]** | {row.status} | {checks} | {faults} | {_cell(row.note)} |")
    lines += ["", "## Clauses", ""]
    lines += [f"- **[{row.clause.id}]** ({_cell(row.clause.section)}) {row.clause.text}" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.checks.traceability",
                                     description="print or write the traceability matrix (Markdown)")
    parser.add_argument("--write", action="store_true", help=f"write it to {MATRIX}")
    parser.add_argument("--faults", type=Path, default=DEFAULT_FAULTS, help="the SPEC-only fault files' folder")
    args = parser.parse_args(argv)
    rows = current_matrix(args.faults)
    wrong = problems([r.clause for r in rows], covers(), read_all_faults(args.faults) if args.faults.is_dir() else [])
    if wrong:
        print("\n".join(wrong), file=sys.stderr)
        return EXIT_INVARIANT_FAILED
    text = render_markdown(rows)
    if args.write:
        MATRIX.write_text(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
