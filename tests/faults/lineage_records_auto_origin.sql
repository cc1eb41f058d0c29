-- lineage_records_auto_origin.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: fn_iu_collection_record_template_instance writes every lineage row with origin 'auto',
-- whatever the caller gave (SPEC: with the given actor and origin). The orchestrator, which asks
-- for 'auto', never shows it.
-- Violates: [S1.lineage.record]
-- Caught by: probe_compose_and_lineage

ALTER FUNCTION iu_core.fn_iu_collection_record_template_instance(uuid, uuid, text, text)
    RENAME TO fn_iu_collection_record_template_instance_before_fault;
CREATE FUNCTION iu_core.fn_iu_collection_record_template_instance(template_id uuid, instance_id uuid, actor text,
    origin text) RETURNS bigint LANGUAGE sql AS $$
    SELECT iu_core.fn_iu_collection_record_template_instance_before_fault($1, $2, $3,
        CASE WHEN $4 IN ('manual', 'auto') THEN 'auto' ELSE $4 END)                               -- FAULT
$$;
