-- summary_view_misses_the_hour.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the build's own v_iu_auto_instantiate_template_summary counts instances right, but its
-- instances_last_hour is always 0.
-- Violates: [S1.view.summary]
-- Caught by: template_summary_counts

ALTER VIEW iu_core.v_iu_auto_instantiate_template_summary RENAME TO v_iu_auto_instantiate_template_summary_before_fault;
CREATE VIEW iu_core.v_iu_auto_instantiate_template_summary AS
SELECT l.template_collection_key, l.emit_mode, count(*) AS instance_count,
       0::bigint AS instances_last_hour                                                          -- FAULT
  FROM iu_core.iu_auto_instantiate_event_log l
 GROUP BY l.template_collection_key, l.emit_mode;
