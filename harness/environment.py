"""What a report says about where it ran (kept out of snapshots)."""

from __future__ import annotations

import os
import platform
import resource
from typing import Any

from harness import __version__
from harness.session import HarnessSession


def describe_environment(session: HarnessSession) -> dict[str, Any]:
    config = session.config
    return {
        "run_id": session.pool.run_id,  # in every report and sweep of this run (never in a snapshot)
        "backend": config.backend,
        "server_version": session.server.version,
        **session.server.details(),
        "sql_dir": str(config.sql_dir),
        "extra_sql": os.pathsep.join(str(p) for p in config.extra_sql) or "none",
        "iu_harness": __version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count() or 0,
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this (harness) process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
