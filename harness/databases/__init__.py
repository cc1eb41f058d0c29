"""Databases: a build loaded into templates and cloned per run (pool), the SQL loader, the janitor of
killed runs' databases, and the set-based reads of a database's state."""
