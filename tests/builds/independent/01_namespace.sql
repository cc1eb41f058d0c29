-- 01_namespace.sql
-- Deploys: the iu_core schema and the emit-mode definition (iu_core.iu_emit_mode_defined).
-- Needs:   PostgreSQL 13+ with nothing but core functions (sha256, md5, gen_random_uuid).
--
-- An independently written iu_core ("the independent build"): it follows
-- ../shared/SPEC.md section 1 and deliberately differs from the bundled build
-- (harness/sql) in everything SPEC leaves open. The harness verifies it with
--   pytest -k scaleout --iu-sql-dir tests/builds/independent
--
-- Errors (one SQLSTATE per kind of bad input, class XB; messages name the value):
--   XBNUL  a required argument is null, empty or blank
--   XBLEN  a text argument is longer than 1000 characters
--   XBMOD  emit_mode is not one this build defines (see iu_emit_mode_defined)
--   XBTPL  no collection has that template key
--   XBINS  the key names an instance collection, not a template
--   XBDUP  the instance key is taken (orchestrator: the suffix belongs to another event)
--   XBIDK  the idempotency key is stored for a different call (template or suffix differ)
--   XBGAT  fn_iu_compose called while iu_core.composer_enabled is closed
--   XBORG  a lineage origin other than 'manual' or 'auto'
--   XBCOL  no collection has that id
--   XBLNK  lineage endpoints of the wrong kind (template id not a template, or instance id a template)
--   XBLN2  the instance already has a lineage row
--   40001  (standard, retryable) a duplicate's original row vanished under a concurrent rollback
--
-- Conventions: parameters keep SPEC's names (callers may pass them by name) and
-- are copied into arg_* locals on entry; SQL inside functions qualifies every
-- column with its table alias. Public functions that look rows up carry
-- SET enable_seqscan = off: see 05_orchestrator.sql for why.

CREATE SCHEMA IF NOT EXISTS iu_core;

-- The emit modes this build defines: 'live' (composed in reaction to an event as
-- it happens) and 'replay' (composed while re-reading past events). One place:
-- the log's CHECK and the orchestrator's XBMOD test both call this. Inlined by
-- the planner (a single SQL expression).
CREATE OR REPLACE FUNCTION iu_core.iu_emit_mode_defined(mode text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT mode IN ('live', 'replay') $$;

-- Whether a text argument is missing: NULL, empty, or only white space. White
-- space is POSIX [[:space:]] plus the Unicode White_Space characters beyond
-- ASCII (NEL, no-break, ogham, the U+2000 block, line/paragraph separators,
-- narrow no-break, medium mathematical and ideographic spaces), so a key of
-- ideographic spaces is as blank as one of plain spaces. Inlined by the planner.
CREATE OR REPLACE FUNCTION iu_core.iu_is_blank(value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT value IS NULL
          OR value ~ '^[[:space:]\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$' $$;
