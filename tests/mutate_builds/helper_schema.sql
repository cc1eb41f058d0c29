-- helper_schema.sql: loaded after a build (--iu-extra-sql) to give it a helper schema of its own, as a
-- build that keeps its orchestrator's helpers outside iu_core does: a LANGUAGE sql function, a table
-- with a CHECK constraint, and a function in a language no mutation operator reads (left out, named).

CREATE SCHEMA IF NOT EXISTS iu_core_impl;

CREATE TABLE IF NOT EXISTS iu_core_impl.helper_note (
    note_key text PRIMARY KEY,
    weight   integer NOT NULL CHECK (weight > 0)
);

CREATE OR REPLACE FUNCTION iu_core_impl.fn_instance_key(suffix text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'tpl-inst:auto:' || suffix WHERE suffix <> '' $$;

CREATE OR REPLACE FUNCTION iu_core_impl.fn_add(a integer, b integer) RETURNS integer
LANGUAGE internal IMMUTABLE STRICT AS 'int4pl';
