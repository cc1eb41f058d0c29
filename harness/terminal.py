"""The CLI's consoles: every string printed verbatim, colour only where the harness asks for it.

Text from users and from the database (paths, SQL, server messages, scenario fields) holds
brackets and colons that rich would read as markup (`[/]`, `[pg16]`, `[[mix]]`) or emoji codes
(`:x:`). These consoles never interpret either; the harness's own colour goes through `styled`,
which takes plain strings and styles, never markup.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.text import Text

# Pipelines are not terminals: a wide, unwrapped layout there instead of rich's 80 columns.
PIPE_WIDTH = 140


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=True,
                   width=None if stream.isatty() else PIPE_WIDTH)


def styled(*parts: str | tuple[str, str]) -> Text:
    """Plain strings, and (text, style) pairs such as ("FAIL", "red"), joined; nothing is parsed."""
    return Text.assemble(*parts)


class PlainProgress:
    """Progress for logs (stdout not a terminal, where rich's live bar prints nothing): a plain line on
    each new phase, and at most every `every_s` seconds within one, with done/total and elapsed time."""

    def __init__(self, console: Console, every_s: float = 10.0) -> None:
        self.console = console
        self.every_s = every_s
        self.enabled = not console.is_terminal
        self.began = time.monotonic()
        self._phase = ""
        self._last = 0.0

    def update(self, phase: str, done: int | None = None, total: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if phase == self._phase and now - self._last < self.every_s and done != total:
            return
        self._phase, self._last = phase, now
        count = f" {done:,}/{total:,}" if done is not None and total else ""
        self.console.print(f"  progress: {phase}{count} · {now - self.began:,.0f} s elapsed")
