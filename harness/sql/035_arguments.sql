-- 035_arguments.sql
-- Deploys: iu_core.fn_iu_require_text, the one argument check every entry point uses.
-- Needs:   000_schema.sql.

-- Raises IU001 for a null, empty or whitespace-only text argument and IU009
-- for one longer than p_max_length characters; names the argument and value.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_require_text(
    p_function     text,
    p_argument     text,
    p_value        text,
    p_max_length   integer DEFAULT 512
) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_value IS NULL OR btrim(p_value, E' \t\r\n\f\v') = '' THEN
        RAISE EXCEPTION '%: argument % is required, got %', p_function, p_argument, quote_nullable(p_value)
            USING ERRCODE = 'IU001';
    END IF;
    IF length(p_value) > p_max_length THEN
        RAISE EXCEPTION '%: argument % is % characters long, the limit is % (starts with %)',
            p_function, p_argument, length(p_value), p_max_length, quote_literal(left(p_value, 40))
            USING ERRCODE = 'IU009';
    END IF;
END;
$$;
