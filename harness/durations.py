"""Durations as people write them on a command line: `24h`, `90m`, `2d`, `1h30m`, `45s`."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1), "s": timedelta(seconds=1)}
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def parse_duration(text: str) -> timedelta:
    """`2d`, `24h`, `90m`, `1h30m`, `45s` -> timedelta; raises ValueError saying what is accepted."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(f"{text!r} is not a duration; write a number and a unit (d, h, m, s), "
                         "e.g. 24h, 90m, 2d or 1h30m")
    total = sum((float(number) * UNITS[unit] for number, unit in parts), timedelta())
    if total <= timedelta():
        raise ValueError(f"{text!r} is not a positive duration")
    return total


def format_duration(delta: timedelta) -> str:
    """The largest two units, e.g. `2d 3h`, `5h 12m`, `40s`; negative durations (clock skew) as `-5m`."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return f"-{format_duration(-delta)}"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])
