-- 03_piece_graph.sql
-- Deploys: iu_core.v_iu_piece_graph (one row per collection: its piece graph and
--          its digest), iu_core.fn_iu_manifest_digest.
-- Needs:   02_relations.sql.
--
-- The digest is keyed on the piece graph only. Its text is one line per piece,
-- in position order, each "<position> TAB <iu id> TAB <content_hash> LF"; the
-- digest is the first 16 hex characters of sha256 over that text in UTF8
-- (an empty collection hashes the empty text). Collection key, kind, actor and
-- timestamps never enter it, so an instance that reuses its template's pieces
-- has the template's digest, and the same pieces in another order do not.
-- This view is the only place that encoding is written down.

CREATE OR REPLACE VIEW iu_core.v_iu_piece_graph AS
SELECT c.id              AS collection_id,
       c.collection_key,
       c.kind,
       c.is_template,
       c.manifest_digest AS stored_digest,
       count(m.position)::integer AS piece_count,
       coalesce(array_agg(m.position ORDER BY m.position) FILTER (WHERE m.position IS NOT NULL),
                '{}'::integer[]) AS positions,
       coalesce(array_agg(m.iu_id ORDER BY m.position) FILTER (WHERE m.position IS NOT NULL),
                '{}'::uuid[]) AS iu_ids,
       left(encode(sha256(convert_to(
           coalesce(string_agg(m.position::text || E'\t' || m.iu_id::text || E'\t' || m.content_hash || E'\n',
                               '' ORDER BY m.position), ''),
           'UTF8')), 'hex'), 16) AS graph_sha16
  FROM iu_core.iu_piece_collection c
  LEFT JOIN (SELECT pm.collection_id, pm.position, pm.iu_id, u.content_hash
               FROM iu_core.iu_piece_membership pm
               JOIN iu_core.iu u ON u.id = pm.iu_id) m ON m.collection_id = c.id
 -- Every collection column is a grouping column, so a filter on any of them
 -- (by id or by key) is pushed below the aggregate: one collection is read.
 GROUP BY c.id, c.collection_key, c.kind, c.is_template, c.manifest_digest;

COMMENT ON VIEW iu_core.v_iu_piece_graph IS
    'per collection: its pieces in position order and graph_sha16, the digest of its piece graph';

-- The digest of a stored collection, recomputed from its membership rows now.
-- An unknown collection is an error (XBCOL), not an empty graph.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
DECLARE
    arg_collection_id uuid := collection_id;
    found_digest      text;
BEGIN
    IF arg_collection_id IS NULL THEN
        RAISE EXCEPTION 'fn_iu_manifest_digest: collection_id must be given, got NULL'
            USING ERRCODE = 'XBNUL';
    END IF;
    SELECT g.graph_sha16 INTO found_digest
      FROM iu_core.v_iu_piece_graph g
     WHERE g.collection_id = arg_collection_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fn_iu_manifest_digest: no collection has id %', arg_collection_id
            USING ERRCODE = 'XBCOL';
    END IF;
    RETURN found_digest;
END;
$$;
