"""What a report says about where it ran (kept out of snapshots)."""

from __future__ import annotations

import os
import platform
import resource
from typing import Any

import psycopg

from harness import __version__
from harness.session import HarnessSession

# What decides whether a call is JIT-compiled or planned another way: a planner setting on a function
# (enable_seqscan = off) moves cost estimates, and JIT starts above jit_above_cost (issue 24).
PLANNER_SETTINGS = ("jit", "jit_provider", "jit_above_cost", "jit_inline_above_cost", "jit_optimize_above_cost",
                    "enable_seqscan", "plan_cache_mode", "random_page_cost", "shared_buffers", "work_mem")


def planner_settings(conn: psycopg.Connection) -> dict[str, str]:
    """The server's JIT and planner settings, and whether JIT is available at all, in one query."""
    row = conn.execute("""
        SELECT jsonb_object_agg(name, current_setting(name))
               || jsonb_build_object('pg_jit_available', pg_jit_available()::text)
          FROM unnest(%s::text[]) AS name""", [list(PLANNER_SETTINGS)]).fetchone()
    assert row is not None
    return dict(row[0])


def describe_environment(session: HarnessSession) -> dict[str, Any]:
    config = session.config
    with session.server.connect() as conn:
        settings = planner_settings(conn)
    return {
        **{f"server.{name}": value for name, value in sorted(settings.items())},
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
