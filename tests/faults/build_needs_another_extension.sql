-- build_needs_another_extension.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the build installs an extension other than pgcrypto (SPEC: none other is needed), though
-- nothing calls it yet.
-- Violates: [S1.server]
-- Caught by: build_extensions

CREATE EXTENSION IF NOT EXISTS pg_trgm;                                                          -- FAULT
