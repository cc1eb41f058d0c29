-- 00_schemas_and_design.sql
-- Deploys: the schemas iu_core (the contract's surface) and iu_core_impl (this build's
--          implementation). Nothing else.
-- Needs:   PostgreSQL 13 or newer, no extension (gen_random_uuid, sha256 and md5 are core).
--
-- README: the "blind" build of iu_core
-- =====================================
-- Written from harness/docs/contract.md (sections 1 and 2) only. Files load in name order:
--   00 schemas, 10 tables, 20 gate rows, 30 SQL helpers, 40 PL/pgSQL procedures,
--   50 contract wrappers, 60 views.
--
-- Design choices (deliberately unlike an obvious build):
--  * Two schemas. iu_core holds only what the contract names: its tables, its three views
--    and its five functions, each a one-line LANGUAGE sql wrapper over iu_core_impl.
--    Everything that decides anything lives in iu_core_impl.
--  * Helpers are LANGUAGE sql where no control flow is needed (digest, keys, gate read,
--    lookups, every INSERT/DELETE); PL/pgSQL only where an error must be raised or a
--    branch taken (argument checks, compose, lineage, orchestrator, rollback).
--  * Digest: sha256 (not md5) over a length-prefixed encoding of
--    position#iu_id#len#content_hash per member, joined by '/', in position order; the
--    first 16 hex characters. An unknown id has the empty graph's digest (the graph alone
--    decides, [S1.digest.graph]).
--  * Idempotency under concurrency without any lock that accumulates per call: the claim
--    is the INSERT of the instance collection row itself,
--    ON CONFLICT (collection_key) DO NOTHING. A second session delivering the same event
--    waits on the first one's uncommitted key (a tuple/xid wait, nothing kept in the lock
--    table), then finds no row returned, re-reads the sidecar log under a fresh
--    statement snapshot and answers 'duplicate' with the original instance; if the key
--    belongs to another event it raises the suffix-conflict error. No advisory locks,
--    no SELECT ... FOR UPDATE, no subtransactions per call.
--  * Order of decisions in the orchestrator: bad input always raises, whatever the gates
--    (arguments, emit_mode, template), then a seen idempotency key answers 'duplicate',
--    then a taken instance key raises, then a closed gate answers 'gated' (the first
--    closed one in gate_key order), then the write.
--  * The sidecar log's primary key is idempotency_key (no surrogate key, one index fewer).
--  * Membership -> collection foreign key is DEFERRABLE INITIALLY IMMEDIATE: inserts are
--    checked at once, and the rollback defers it for its own four DELETEs so it can
--    delete in the contract's order (log, lineage, instance collection, membership).
--  * SQLSTATE class 'BL' (this build's own):
--      BL001 a null or empty argument           BL007 lineage origin not manual/auto
--      BL002 unknown template key               BL008 no collection with this id
--      BL003 the key/id is not a template       BL009 fn_iu_compose: instance key taken
--      BL004 emit_mode this build does not define (only 'live')
--      BL005 orchestrator: instance key of the suffix taken by another event
--      BL006 fn_iu_compose: gate iu_core.composer_enabled closed
--      BL010 lineage: the instance id is a template   BL011 lineage: instance already linked
--  * Plans: compose, lineage and the orchestrator run with SET enable_seqscan = off. Their
--    SQL helpers' plans (and the foreign keys' check plans) are made once, at the first call
--    of a long statement or transaction, when the tables may be tiny; a sequential-scan plan
--    made then would make every later call scan a table that grows with N (quadratic time).
--    Every query they run is a key lookup, so an index plan is right at any size.
--  * v_iu_digest_audit has exactly one boolean column (digest_ok) plus a text column
--    drift_reason naming the first digest that disagrees.

CREATE SCHEMA IF NOT EXISTS iu_core;
CREATE SCHEMA IF NOT EXISTS iu_core_impl;

COMMENT ON SCHEMA iu_core_impl IS
    'blind build of iu_core: implementation helpers; iu_core holds the contract surface only';
