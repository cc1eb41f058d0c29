-- events_view_outside_iu_core.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the build keeps v_iu_auto_instantiate_events in schema public (SPEC: every object the
-- contract names lives in iu_core).
-- Violates: [S1.schema]
-- Caught by: spec_catalog

ALTER VIEW iu_core.v_iu_auto_instantiate_events SET SCHEMA public;                              -- FAULT
