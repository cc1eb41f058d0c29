-- 50_contract_functions.sql
-- Deploys: the contract's five functions in iu_core, each a one-line LANGUAGE sql wrapper
--          with the contract's exact signature and parameter names.
-- Needs:   40_impl_procedures.sql.

CREATE OR REPLACE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT iu_core_impl.graph_digest($1)
$$;

CREATE OR REPLACE FUNCTION iu_core.fn_iu_compose(template_key text, instance_key text, actor text)
RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT iu_core_impl.compose($1, $2, $3)
$$;

CREATE OR REPLACE FUNCTION iu_core.fn_iu_collection_record_template_instance(
    template_id uuid, instance_id uuid, actor text, origin text)
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT iu_core_impl.record_lineage($1, $2, $3, $4)
$$;

CREATE OR REPLACE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(
    event_id uuid, event_type text, template_key text, suffix text, actor text, emit_mode text DEFAULT 'live')
RETURNS jsonb LANGUAGE sql VOLATILE AS $$
    SELECT iu_core_impl.auto_instantiate($1, $2, $3, $4, $5, $6)
$$;

CREATE OR REPLACE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE sql VOLATILE AS $$
    SELECT iu_core_impl.rollback_by_actor($1, $2)
$$;
