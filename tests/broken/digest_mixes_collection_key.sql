-- digest_mixes_collection_key.sql: a deliberately broken iu_core build (test fixture).
-- Bug: the manifest digest mixes in the collection key, so an instance no longer
-- carries its template's digest. Must be caught by: digest_equality
-- (tests/test_broken_builds.py).

CREATE OR REPLACE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_graph text;
BEGIN
    SELECT c.collection_key || '#' || coalesce(string_agg(m.position::text || ':' || m.iu_id::text || ':'
                                                          || i.content_hash, '|' ORDER BY m.position), '')
      INTO v_graph
      FROM iu_core.iu_piece_collection c
      LEFT JOIN iu_core.iu_piece_membership m ON m.collection_id = c.id
      LEFT JOIN iu_core.iu i ON i.id = m.iu_id
     WHERE c.id = $1
     GROUP BY c.collection_key;
    RETURN left(md5(coalesce(v_graph, '')), 16);
END;
$$;
