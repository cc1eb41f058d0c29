-- compose_keys_in_namespace.sql: a conforming variation (loaded with --iu-extra-sql on any build), NOT a fault.
-- fn_iu_compose refuses instance keys outside 'tpl-inst:' (a rule SPEC leaves open): the probes'
-- own collections must live in that namespace. Every invariant must still hold.

ALTER FUNCTION iu_core.fn_iu_compose(text, text, text) RENAME TO fn_iu_compose_before_variation;
CREATE FUNCTION iu_core.fn_iu_compose(template_key text, instance_key text, actor text) RETURNS uuid
LANGUAGE plpgsql AS $$
BEGIN
  IF $2 NOT LIKE 'tpl-inst:%' THEN
    RAISE EXCEPTION 'instance key % must start with tpl-inst:', $2 USING ERRCODE = 'XKEY1';
  END IF;
  RETURN iu_core.fn_iu_compose_before_variation($1, $2, $3);
END $$;
