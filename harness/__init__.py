"""iu-harness: proves the invariants of iu_core on a disposable PostgreSQL."""

__version__ = "0.1.0"
