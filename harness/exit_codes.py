"""The exit codes a pipeline can trust, in one place (the CLI, the matrix, `mutate`, the traceability check)."""

from __future__ import annotations

EXIT_OK = 0
#: An invariant, a probe, the scaling check or a conformance item failed; in `mutate`, a mutant survived
#: unexplained; in the traceability check, a clause lacks a check or a fault.
EXIT_INVARIANT_FAILED = 1
#: The harness could not run: a bad option, scenario, SQL file or server.
EXIT_HARNESS_ERROR = 2
#: Interrupted (Ctrl-C), as shells report SIGINT.
EXIT_INTERRUPTED = 130
