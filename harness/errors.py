"""Errors the harness raises: each says what failed, what was checked and how to fix it."""

from __future__ import annotations

import psycopg


def db_error_text(exc: psycopg.Error) -> str:
    """The server's own message for an error (its primary message, else psycopg's text), verbatim."""
    return (exc.diag.message_primary or str(exc)).strip()


class HarnessError(Exception):
    """Base of every error the harness reports to a user (exit code 2 in the CLI)."""

    def __init__(self, what: str, *, checked: str = "", fix: str = "") -> None:
        self.what = what
        self.checked = checked
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        parts = [self.what]
        if self.checked:
            parts.append(f"checked: {self.checked}")
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return "; ".join(parts)


class ConfigError(HarnessError):
    """A setting (env var, pytest option or CLI flag) has a value the harness cannot use."""


class BackendUnavailable(HarnessError):
    """The chosen PostgreSQL backend cannot give us a server."""


class SqlLoadError(HarnessError):
    """An SQL file failed to load; names the file and the line of the failing statement."""


class ScenarioError(HarnessError):
    """A scenario file is malformed; names the file, the field and what was expected."""
