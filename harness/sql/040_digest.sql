-- 040_digest.sql
-- Deploys: iu_core.fn_iu_manifest_digest.
-- Needs:   010_tables.sql.
-- The digest is keyed on the piece graph only: the ordered (position, iu id,
-- iu content_hash) of the members. Collection key, kind, actor and timestamps
-- never enter it, so an instance that reuses its template's pieces carries
-- the template's digest.

CREATE OR REPLACE FUNCTION iu_core.fn_iu_manifest_digest(p_collection_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_digest text;
BEGIN
    IF p_collection_id IS NULL THEN
        RAISE EXCEPTION 'fn_iu_manifest_digest: collection_id is required' USING ERRCODE = 'IU001';
    END IF;
    PERFORM 1 FROM iu_core.iu_piece_collection WHERE id = p_collection_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown collection %', p_collection_id USING ERRCODE = 'IU008';
    END IF;

    SELECT left(encode(sha256(convert_to(
               coalesce(string_agg(m.position::text || ':' || m.iu_id::text || ':' || i.content_hash,
                                   '|' ORDER BY m.position), ''),
               'UTF8')), 'hex'), 16)
      INTO v_digest
      FROM iu_core.iu_piece_membership m
      JOIN iu_core.iu i ON i.id = m.iu_id
     WHERE m.collection_id = p_collection_id;
    RETURN v_digest;
END;
$$;
