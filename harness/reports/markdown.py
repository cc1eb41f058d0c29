"""Markdown pieces every report uses."""

from __future__ import annotations

from typing import Any

from harness.text import fmt


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table: each cell through `fmt`, its pipes escaped (text from the database prints verbatim)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines
