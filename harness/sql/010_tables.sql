-- 010_tables.sql
-- Deploys: iu_core.fn_iu_new_collection_id, every iu_core table (SPEC section 1)
--          with its keys and indexes.
-- Needs:   000_schema.sql.
-- Tables cannot be CREATE OR REPLACE'd; IF NOT EXISTS keeps the file re-runnable.
-- Costs of these choices, measured: harness/sql/PERFORMANCE.md.

-- A new collection id: random, but led by the time in milliseconds (the layout
-- of UUID version 7). Collection ids key five indexes (the collection's own, the
-- memberships', lineage's and the log's); ids that grow with time are appended
-- at the right edge of each instead of landing on a random page, so the pages
-- being written stay few and in memory however large the tables grow.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_new_collection_id()
RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                          PLACING substring(int8send(floor(date_part('epoch', clock_timestamp()) * 1000)::bigint) FROM 3)
                                          FROM 1 FOR 6),
                                  52, 1), 53, 1), 'hex')::uuid
$$;

CREATE TABLE IF NOT EXISTS iu_core.iu (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    iu_key       text NOT NULL UNIQUE,
    content_hash text NOT NULL,
    body         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS iu_core.iu_lifecycle_log (
    id          bigserial PRIMARY KEY,
    iu_id       uuid NOT NULL REFERENCES iu_core.iu (id),
    event       text NOT NULL DEFAULT 'created',
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS iu_lifecycle_log_iu_id_idx ON iu_core.iu_lifecycle_log (iu_id);

CREATE TABLE IF NOT EXISTS iu_core.iu_vector_sync_point (
    id        bigserial PRIMARY KEY,
    iu_id     uuid NOT NULL REFERENCES iu_core.iu (id),
    model     text NOT NULL DEFAULT 'embed-v1',
    synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS iu_vector_sync_point_iu_id_idx ON iu_core.iu_vector_sync_point (iu_id);

CREATE TABLE IF NOT EXISTS iu_core.iu_piece_collection (
    id              uuid PRIMARY KEY DEFAULT iu_core.fn_iu_new_collection_id(),
    collection_key  text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('file', 'workflow')),
    is_template     boolean NOT NULL DEFAULT false,
    manifest_digest text,
    created_by      text NOT NULL DEFAULT current_user,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- ON DELETE RESTRICT, not CASCADE: the rollback deletes an actor's memberships
-- in one set-based statement together with their collections (a cascade would
-- run one DELETE per collection), and RESTRICT checks each deleted collection
-- with one query where NO ACTION first looks for a replacement row (two).
CREATE TABLE IF NOT EXISTS iu_core.iu_piece_membership (
    collection_id uuid NOT NULL REFERENCES iu_core.iu_piece_collection (id) ON DELETE RESTRICT,
    iu_id         uuid NOT NULL REFERENCES iu_core.iu (id),
    position      int  NOT NULL CHECK (position >= 1),
    PRIMARY KEY (collection_id, position)
);
CREATE INDEX IF NOT EXISTS iu_piece_membership_iu_id_idx ON iu_core.iu_piece_membership (iu_id);

-- Every foreign key to a collection is RESTRICT (see iu_piece_membership): deleting
-- a collection costs one query per referencing key.
CREATE TABLE IF NOT EXISTS iu_core.iu_collection_template_instance_lineage (
    id                     bigserial PRIMARY KEY,
    template_collection_id uuid NOT NULL REFERENCES iu_core.iu_piece_collection (id) ON DELETE RESTRICT,
    instance_collection_id uuid NOT NULL UNIQUE REFERENCES iu_core.iu_piece_collection (id) ON DELETE RESTRICT,
    origin                 text NOT NULL CHECK (origin IN ('manual', 'auto')),
    actor                  text NOT NULL,
    recorded_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS iu_lineage_template_idx
    ON iu_core.iu_collection_template_instance_lineage (template_collection_id);
CREATE INDEX IF NOT EXISTS iu_lineage_actor_idx
    ON iu_core.iu_collection_template_instance_lineage (actor);

-- The emit modes iu_core defines; the orchestrator refuses any other.
CREATE TABLE IF NOT EXISTS iu_core.iu_emit_mode (
    emit_mode   text PRIMARY KEY,
    description text NOT NULL
);

CREATE TABLE IF NOT EXISTS iu_core.iu_auto_instantiate_event_log (
    id                      bigserial PRIMARY KEY,
    event_id                uuid NOT NULL,
    event_type              text NOT NULL,
    template_collection_key text NOT NULL,
    instance_collection_id  uuid NOT NULL REFERENCES iu_core.iu_piece_collection (id) ON DELETE RESTRICT,
    actor                   text NOT NULL,
    emit_mode               text NOT NULL REFERENCES iu_core.iu_emit_mode (emit_mode),
    idempotency_key         text NOT NULL UNIQUE,
    template_digest         text NOT NULL,
    instance_digest         text NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS iu_auto_log_actor_idx ON iu_core.iu_auto_instantiate_event_log (actor);
CREATE INDEX IF NOT EXISTS iu_auto_log_instance_idx ON iu_core.iu_auto_instantiate_event_log (instance_collection_id);

-- No updated_at: a toggle that is closed again leaves the row exactly as it was,
-- so a rolled-back scaleout restores the database row for row.
CREATE TABLE IF NOT EXISTS iu_core.iu_gate (
    gate_key text PRIMARY KEY,
    enabled  boolean NOT NULL DEFAULT false
);
