"""How values and evidence read on one line: shared by the checks' own summaries and every report."""

from __future__ import annotations

import json
from typing import Any

ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def fmt(value: Any) -> str:
    """A value as a report shows it: booleans as true/false, integers with thousands separators."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def compact(evidence: Any, limit: int = 240) -> str:
    """Evidence on one line, without quotes, cut to `limit` characters."""
    text = json.dumps(evidence, sort_keys=True, separators=(", ", "="), default=str)
    return shorten(text.replace('"', ""), limit)
