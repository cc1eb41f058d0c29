-- 030_digest.sql
-- fn_iu_manifest_digest (040_digest.sql): the first 16 hex digits of the md5 of
-- the piece lines 'position:iu id:content_hash' joined by '|' in position order;
-- an existing collection without pieces has the digest of ''; IU001 / IU008 for
-- a null or unknown id. fn_iu_new_collection_id (010_tables.sql): UUID version 7
-- layout, led by the time in milliseconds.

DO $$
DECLARE
    v_template uuid := pg_temp.new_template('tpl:iu-build-test:digest', 'file', 3);
    v_empty    uuid;
    v_want     text;
BEGIN
    SELECT left(md5(string_agg(m.position || ':' || m.iu_id || ':' || i.content_hash, '|' ORDER BY m.position)), 16)
      INTO v_want
      FROM iu_core.iu_piece_membership m JOIN iu_core.iu i ON i.id = m.iu_id
     WHERE m.collection_id = v_template;
    PERFORM pg_temp.expect_equal(iu_core.fn_iu_manifest_digest(v_template), v_want, 'digest of a 3-piece template');

    INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template)
    VALUES ('tpl:iu-build-test:empty', 'workflow', true) RETURNING id INTO v_empty;
    PERFORM pg_temp.expect_equal(iu_core.fn_iu_manifest_digest(v_empty), left(md5(''), 16),
                                 'digest of a collection without pieces');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_manifest_digest(%L)', gen_random_uuid()), 'IU008',
                                 'unknown collection');
    PERFORM pg_temp.expect_error('SELECT iu_core.fn_iu_manifest_digest(NULL)', 'IU001');
END;
$$;

-- Collection ids: version 7, RFC 4122 variant, time prefix within a minute of now.
DO $$
DECLARE
    v_id    uuid := iu_core.fn_iu_new_collection_id();
    v_bytes bytea := uuid_send(v_id);
    v_ms    bigint := ('x' || lpad(encode(substring(v_bytes FROM 1 FOR 6), 'hex'), 16, '0'))::bit(64)::bigint;
BEGIN
    PERFORM pg_temp.expect_equal(get_byte(v_bytes, 6) >> 4, 7, format('version nibble of %s', v_id));
    PERFORM pg_temp.expect_equal(get_byte(v_bytes, 8) >> 6, 2, format('variant bits of %s', v_id));
    PERFORM pg_temp.expect(abs(v_ms - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) < 60000,
                           format('time prefix of %s (%s ms) within a minute of now', v_id, v_ms));
    PERFORM pg_temp.expect(iu_core.fn_iu_new_collection_id() <> v_id, 'two ids differ');
END;
$$;
