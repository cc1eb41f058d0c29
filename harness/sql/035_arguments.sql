-- 035_arguments.sql
-- Deploys: iu_core.fn_iu_require_text, the one argument check every entry point uses.
-- Needs:   000_schema.sql.

-- Raises IU001 for a null, empty or whitespace-only text argument and IU009
-- for one longer than p_max_length characters; names the argument and value.
-- "Whitespace" is Unicode's White_Space property: the ASCII six (space, \t \n
-- \v \f \r) and, in a UTF8 database, also U+0085, U+00A0, U+1680,
-- U+2000..U+200A, U+2028, U+2029, U+202F, U+205F and U+3000, so a key of
-- no-break or ideographic spaces is as blank as one of plain spaces.
-- (Zero-width U+200B and U+FEFF are format characters, not whitespace.)
-- The Unicode set sits in its own branch: another server encoding never evaluates it.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_require_text(
    p_function     text,
    p_argument     text,
    p_value        text,
    p_max_length   integer DEFAULT 512
) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_blank boolean;
BEGIN
    IF p_value IS NULL THEN
        v_blank := true;
    ELSIF getdatabaseencoding() = 'UTF8' THEN
        -- chr(11), not E'\v': PostgreSQL 15 reads E'\v' as a plain 'v' (16 added the escape).
        -- chr() rather than E'\u....': plpgsql lexes escapes when the function is
        -- created, chr() only when this branch first runs (then folded into its plan).
        v_blank := btrim(p_value, E' \t\n\f\r' || chr(11) || chr(133) || chr(160) || chr(5760)
                                  || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197)
                                  || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202)
                                  || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288)) = '';
    ELSE
        v_blank := btrim(p_value, E' \t\n\f\r' || chr(11)) = '';
    END IF;
    IF v_blank THEN
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
