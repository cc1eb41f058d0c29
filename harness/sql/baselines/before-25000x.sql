-- before-25000x.sql
-- Loads: the state the 25000x report starts from (SPEC section 2).
-- Needs: the iu_core schema (harness/sql/*.sql) in an empty database; writes only
--        SPEC section 1 columns and calls only SPEC functions, so it loads on any
--        conforming build whose other columns have defaults.
--   iu=175, iu_lifecycle_log=146, iu_vector_sync_point=152,
--   iu_piece_collection=12 (4 templates, 3 plain collections, 4 manual
--   instances, 1 durable auto instance), iu_piece_membership=58,
--   lineage=5 (4 manual + 1 auto), auto log=1, nothing for iu-core-25000x-bulk.
-- Template piece counts: file/v1=5, file/v2=5, wf/v1=6, wf/v2=5 (sum 21).
-- Ids of seeded rows are derived from their keys so digests are reproducible.

INSERT INTO iu_core.iu (id, iu_key, content_hash)
SELECT md5('iu-harness:iu:' || n)::uuid,
       'iu:' || lpad(n::text, 3, '0'),
       encode(sha256(convert_to('piece body ' || n, 'UTF8')), 'hex')
  FROM generate_series(1, 175) AS n;

INSERT INTO iu_core.iu_lifecycle_log (iu_id)
SELECT md5('iu-harness:iu:' || n)::uuid
  FROM generate_series(1, 146) AS n;

INSERT INTO iu_core.iu_vector_sync_point (iu_id)
SELECT md5('iu-harness:iu:' || n)::uuid
  FROM generate_series(1, 152) AS n;

-- collection key, kind, is_template, pieces (iu numbers in position order)
CREATE TEMP TABLE baseline_collection (collection_key text, kind text, is_template boolean, pieces int[]);
INSERT INTO baseline_collection VALUES
    ('tpl:file:status-report/v1', 'file',     true,  ARRAY[1, 2, 3, 4, 5]),
    ('tpl:file:status-report/v2', 'file',     true,  ARRAY[1, 2, 3, 6, 7]),
    ('tpl:wf:onboarding/v1',      'workflow', true,  ARRAY[11, 12, 13, 14, 15, 16]),
    ('tpl:wf:onboarding/v2',      'workflow', true,  ARRAY[11, 12, 17, 18, 19]),
    ('col:file:handbook',         'file',     false, ARRAY[20, 21, 22, 23]),
    ('col:wf:release-checklist',  'workflow', false, ARRAY[24, 25, 26, 27]),
    ('col:file:scratchpad',       'file',     false, ARRAY[28, 29, 30]);

-- A placeholder digest first (a build may keep manifest_digest NOT NULL); the real one below.
INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template, manifest_digest)
SELECT md5('iu-harness:collection:' || collection_key)::uuid, collection_key, kind, is_template, repeat('0', 16)
  FROM baseline_collection;

INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
SELECT md5('iu-harness:collection:' || b.collection_key)::uuid, md5('iu-harness:iu:' || p.n)::uuid, p.position
  FROM baseline_collection b, unnest(b.pieces) WITH ORDINALITY AS p(n, position);

UPDATE iu_core.iu_piece_collection c
   SET manifest_digest = iu_core.fn_iu_manifest_digest(c.id)
  FROM baseline_collection b
 WHERE c.collection_key = b.collection_key;

DROP TABLE baseline_collection;

-- Four manual instances and one durable auto instance, gates toggled in-TX.
-- Gate rows in gate_key order, then both at once (SPEC: a fixed order avoids deadlocks).
SELECT 1 FROM iu_core.iu_gate ORDER BY gate_key FOR UPDATE;
UPDATE iu_core.iu_gate SET enabled = true
 WHERE gate_key IN ('iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled');

SELECT iu_core.fn_iu_collection_record_template_instance(
           t.id, iu_core.fn_iu_compose(t.collection_key, m.instance_key, 'iu-core-ops-manual'),
           'iu-core-ops-manual', 'manual')
  FROM (VALUES ('tpl:file:status-report/v1', 'tpl-inst:manual:status-report-v1-acme'),
               ('tpl:file:status-report/v2', 'tpl-inst:manual:status-report-v2-acme'),
               ('tpl:wf:onboarding/v1',      'tpl-inst:manual:onboarding-v1-acme'),
               ('tpl:wf:onboarding/v2',      'tpl-inst:manual:onboarding-v2-acme')) AS m(template_key, instance_key)
  JOIN iu_core.iu_piece_collection t ON t.collection_key = m.template_key;

SELECT iu_core.fn_iu_auto_instantiate_from_event(
           '24000d00-0000-0000-0000-000000000001', 'iu.template.instance_auto_composed',
           'tpl:wf:onboarding/v2', '24000x-durable-wf-v2-01', 'iu-core-24000x-durable', 'live');

UPDATE iu_core.iu_gate SET enabled = false
 WHERE gate_key IN ('iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled');
