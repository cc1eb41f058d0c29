-- 040_digest.sql
-- Deploys: iu_core.fn_iu_piece_graph_line, iu_core.fn_iu_piece_graph_digest,
--          iu_core.fn_iu_manifest_digest.
-- Needs:   010_tables.sql.
-- The digest is keyed on the piece graph only: the ordered (position, iu id,
-- iu content_hash) of the members. Collection key, kind, actor and timestamps
-- never enter it, so an instance that reuses its template's pieces carries
-- the template's digest.

-- The one definition of the digest, in two inlinable parts that every digest in
-- iu_core goes through: a piece's line, and the digest of the lines joined by
-- '|' in position order. md5 rather than sha256: both are core, and md5 costs
-- about a third as much per call here.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_piece_graph_line(piece_position integer, iu_id uuid, content_hash text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT piece_position::text || ':' || iu_id::text || ':' || content_hash
$$;

CREATE OR REPLACE FUNCTION iu_core.fn_iu_piece_graph_digest(graph text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(md5(coalesce(graph, '')), 16)
$$;

-- The digest of a stored collection, recomputed from its membership rows.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    p_collection_id ALIAS FOR $1;
    v_graph text;
BEGIN
    IF p_collection_id IS NULL THEN
        RAISE EXCEPTION 'fn_iu_manifest_digest: argument collection_id is required, got NULL'
            USING ERRCODE = 'IU001';
    END IF;

    SELECT string_agg(iu_core.fn_iu_piece_graph_line(m.position, m.iu_id, i.content_hash), '|' ORDER BY m.position)
      INTO v_graph
      FROM iu_core.iu_piece_membership m
      JOIN iu_core.iu i ON i.id = m.iu_id
     WHERE m.collection_id = p_collection_id;

    -- Only an empty piece graph needs the existence check.
    IF v_graph IS NULL THEN
        PERFORM 1 FROM iu_core.iu_piece_collection WHERE id = p_collection_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unknown collection %', p_collection_id USING ERRCODE = 'IU008';
        END IF;
    END IF;
    RETURN iu_core.fn_iu_piece_graph_digest(v_graph);
END;
$$;
