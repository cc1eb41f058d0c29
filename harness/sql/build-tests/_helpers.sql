-- _helpers.sql
-- Prelude of the bundled build's own tests (see harness/checks/build_tests.py): helpers
-- in pg_temp, for the test session only. Each test file then runs in its own
-- transaction, always rolled back. A failed expectation raises SQLSTATE IUT00
-- with what was expected and what happened.

-- The statement must fail with exactly this SQLSTATE (the subtransaction undoes
-- whatever it wrote); its message must contain p_message_part when one is given.
CREATE FUNCTION pg_temp.expect_error(p_statement text, p_sqlstate text, p_message_part text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_state   text;
    v_message text;
BEGIN
    BEGIN
        EXECUTE p_statement;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
    END;
    IF v_state IS NULL THEN
        RAISE EXCEPTION 'expected SQLSTATE % from %, but it succeeded', p_sqlstate, p_statement
            USING ERRCODE = 'IUT00';
    ELSIF v_state <> p_sqlstate THEN
        RAISE EXCEPTION 'expected SQLSTATE % from %, got %: %', p_sqlstate, p_statement, v_state, v_message
            USING ERRCODE = 'IUT00';
    ELSIF p_message_part IS NOT NULL AND strpos(v_message, p_message_part) = 0 THEN
        RAISE EXCEPTION 'expected a message containing % from %, got: %', p_message_part, p_statement, v_message
            USING ERRCODE = 'IUT00';
    END IF;
END;
$$;

CREATE FUNCTION pg_temp.expect(p_holds boolean, p_what text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_holds IS NOT TRUE THEN
        RAISE EXCEPTION 'expected: % (got %)', p_what, coalesce(p_holds::text, 'NULL') USING ERRCODE = 'IUT00';
    END IF;
END;
$$;

CREATE FUNCTION pg_temp.expect_equal(p_got anycompatible, p_want anycompatible, p_what text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_got IS DISTINCT FROM p_want THEN
        RAISE EXCEPTION '%: expected %, got %', p_what, coalesce(p_want::text, 'NULL'), coalesce(p_got::text, 'NULL')
            USING ERRCODE = 'IUT00';
    END IF;
END;
$$;

-- A template of p_pieces new IUs (keys p_key || '#' || i), its digest stored.
CREATE FUNCTION pg_temp.new_template(p_key text, p_kind text, p_pieces integer)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    INSERT INTO iu_core.iu (iu_key, content_hash)
    SELECT p_key || '#' || i, md5(p_key || '#' || i) FROM generate_series(1, p_pieces) AS i;
    INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template)
    VALUES (p_key, p_kind, true) RETURNING id INTO v_id;
    INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
    SELECT v_id, u.id, i FROM generate_series(1, p_pieces) AS i
      JOIN iu_core.iu u ON u.iu_key = p_key || '#' || i;
    UPDATE iu_core.iu_piece_collection SET manifest_digest = iu_core.fn_iu_manifest_digest(v_id) WHERE id = v_id;
    RETURN v_id;
END;
$$;

-- A transaction id as xmax shows it: the row lock of this transaction.
CREATE FUNCTION pg_temp.my_xid()
RETURNS xid
LANGUAGE sql AS $$ SELECT xid(pg_current_xact_id()) $$;
