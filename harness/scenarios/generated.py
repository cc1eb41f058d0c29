"""Generated baselines: a production-sized iu_core world built set-based from a scenario's [generate] table.

Deterministic from the seed (every id, choice and hash comes from md5 of the seed and a
position), written through SPEC section 1 names only: SPEC tables and required columns,
digests through `fn_iu_manifest_digest`, so it loads on any conforming build whose other
columns have defaults. What it builds, on top of an optional file baseline (`base`):

- T templates over the chosen kinds and versions (`tpl:gen:<kind>:t0001/<version>`), piece
  counts drawn from [min, max]; a `reuse_share` of pieces comes from a pool shared between
  templates, the rest are the template's own IUs;
- `identical_graphs` templates with another template's pieces in the same order (their
  digests must equal it, whatever their keys and kinds) and `reordered_graphs` with another
  template's pieces rotated by one (their digests must differ from it);
- M background auto instances of four other actors (collection, memberships = the
  template's, lineage `auto`, log row with SPEC's idempotency key), each with its
  template's digest, so the harness's whole-database digest audit holds;
- manual lineage instances (origin `manual`, no log row), lifecycle and vector rows.

It is cached as a template database per session under a name derived from every parameter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

BACKGROUND_ACTORS = 4
# md5 of text, read as a non-negative 60-bit number: the generator's only source of "randomness".
_H = "('x' || left(md5({}), 15))::bit(60)::bigint"

_STEPS: tuple[str, ...] = (
    """
    CREATE TEMP TABLE gen_template ON COMMIT DROP AS
    WITH numbered AS (
        SELECT t, %(kinds)s::text[] AS kinds, %(versions)s::text[] AS versions,
               %(templates)s - %(identical)s - %(reordered)s AS regular
          FROM generate_series(1, %(templates)s) AS t)
    SELECT t,
           kinds[1 + (t - 1) %% cardinality(kinds)] AS kind,
           versions[1 + ((t - 1) / cardinality(kinds)) %% cardinality(versions)] AS version,
           CASE WHEN t <= regular THEN 'regular' WHEN t <= regular + %(identical)s THEN 'identical'
                ELSE 'reordered' END AS mode,
           -- a copy's source is the next regular template round: usually of the other kind
           CASE WHEN t <= regular THEN t ELSE 1 + (t - regular) %% regular END AS source
      FROM numbered
    """,
    "ALTER TABLE gen_template ADD COLUMN collection_key text, ADD COLUMN id uuid",
    """
    UPDATE gen_template SET
        collection_key = 'tpl:gen:' || kind || ':t' || lpad(t::text, 4, '0') || '/' || version,
        id = md5('iu-harness:gen:' || %(seed)s || ':template:' || t)::uuid
    """,
    # Pieces of the regular templates: shared (a window of the shared pool) or the template's own.
    f"""
    CREATE TEMP TABLE gen_source_piece ON COMMIT DROP AS
    SELECT g.t, j AS position,
           CASE WHEN {_H.format("%(seed)s || ':share:' || g.t || ':' || j")} %% 1000000 < %(reuse_ppm)s
                THEN 'iu:gen:shared:' || lpad((({_H.format("%(seed)s || ':offset:' || g.t")} + j)
                                               %% %(shared_pool)s + 1)::text, 6, '0')
                ELSE 'iu:gen:t' || lpad(g.t::text, 4, '0') || ':' || lpad(j::text, 4, '0') END AS iu_key
      FROM gen_template g
     CROSS JOIN LATERAL generate_series(1, %(pmin)s
           + ({_H.format("%(seed)s || ':pieces:' || g.t")} %% (%(pmax)s - %(pmin)s + 1))::int) AS j
     WHERE g.mode = 'regular'
    """,
    # Every template's graph: its own, a copy (identical), or a copy rotated by one (reordered).
    """
    CREATE TEMP TABLE gen_piece ON COMMIT DROP AS
    SELECT g.t, g.id AS collection_id,
           CASE WHEN g.mode = 'reordered'
                THEN (s.position - 2 + n.pieces) % n.pieces + 1 ELSE s.position END AS position,
           s.iu_key
      FROM gen_template g
      JOIN gen_source_piece s ON s.t = g.source
      JOIN (SELECT t, count(*)::int AS pieces FROM gen_source_piece GROUP BY t) n ON n.t = g.source
    """,
    """
    INSERT INTO iu_core.iu (id, iu_key, content_hash)
    SELECT md5('iu-harness:gen:' || %(seed)s || ':iu:' || iu_key)::uuid, iu_key,
           encode(sha256(convert_to('generated piece ' || %(seed)s || ' ' || iu_key, 'UTF8')), 'hex')
      FROM (SELECT DISTINCT iu_key FROM gen_piece) k
     ORDER BY iu_key
    """,
    """
    INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template)
    SELECT id, collection_key, kind, true FROM gen_template ORDER BY t
    """,
    """
    INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
    SELECT p.collection_id, md5('iu-harness:gen:' || %(seed)s || ':iu:' || p.iu_key)::uuid, p.position
      FROM gen_piece p ORDER BY p.collection_id, p.position
    """,
    "ANALYZE iu_core.iu, iu_core.iu_piece_collection, iu_core.iu_piece_membership",
    """
    UPDATE iu_core.iu_piece_collection c SET manifest_digest = iu_core.fn_iu_manifest_digest(c.id)
      FROM gen_template g WHERE c.id = g.id
    """,
    # Instances of other actors: M auto (with lineage and log), then the manual ones (lineage only).
    f"""
    CREATE TEMP TABLE gen_instance ON COMMIT DROP AS
    SELECT b, b > %(background)s AS manual, g.id AS template_id, g.collection_key AS template_key, g.kind,
           c.manifest_digest AS digest,
           md5('iu-harness:gen:' || %(seed)s || ':instance:' || b)::uuid AS id,
           md5('iu-harness:gen:' || %(seed)s || ':event:' || b)::uuid AS event_id,
           'gen' || %(seed)s || '-bg-' || lpad(b::text, 8, '0') AS suffix,
           CASE WHEN b > %(background)s THEN 'iu-harness-bg-manual'
                ELSE 'iu-harness-bg-' || (b %% {BACKGROUND_ACTORS}) END AS actor
      FROM generate_series(1, %(background)s + %(manual)s) AS b
      JOIN gen_template g ON g.t = 1 + {_H.format("%(seed)s || ':bg:' || b")} %% %(templates)s
      JOIN iu_core.iu_piece_collection c ON c.id = g.id
    """,
    """
    INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template, manifest_digest)
    SELECT id, CASE WHEN manual THEN 'tpl-inst:manual:' ELSE 'tpl-inst:auto:' END || suffix, kind, false, digest
      FROM gen_instance ORDER BY b
    """,
    """
    INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
    SELECT i.id, m.iu_id, m.position
      FROM gen_instance i JOIN iu_core.iu_piece_membership m ON m.collection_id = i.template_id
     ORDER BY i.b, m.position
    """,
    """
    INSERT INTO iu_core.iu_collection_template_instance_lineage (template_collection_id, instance_collection_id,
                                                                 origin, actor)
    SELECT template_id, id, CASE WHEN manual THEN 'manual' ELSE 'auto' END, actor FROM gen_instance ORDER BY b
    """,
    """
    INSERT INTO iu_core.iu_auto_instantiate_event_log (event_id, event_type, template_collection_key,
        instance_collection_id, actor, emit_mode, idempotency_key, template_digest, instance_digest)
    SELECT event_id, 'iu.template.instance_auto_composed', template_key, id, actor, 'live',
           md5(event_id::text || ':' || template_key || ':' || suffix), digest, digest
      FROM gen_instance WHERE NOT manual ORDER BY b
    """,
    # Lifecycle and vector rows over the generated IUs, round robin.
    """
    INSERT INTO iu_core.iu_lifecycle_log (iu_id)
    SELECT u.id FROM generate_series(0, %(lifecycle)s - 1) AS r
      JOIN (SELECT id, (row_number() OVER (ORDER BY iu_key) - 1)::int AS k, count(*) OVER () AS total
              FROM iu_core.iu WHERE iu_key LIKE 'iu:gen:%%') u ON u.k = r %% u.total
    """,
    """
    INSERT INTO iu_core.iu_vector_sync_point (iu_id)
    SELECT u.id FROM generate_series(0, %(vector)s - 1) AS r
      JOIN (SELECT id, (row_number() OVER (ORDER BY iu_key) - 1)::int AS k, count(*) OVER () AS total
              FROM iu_core.iu WHERE iu_key LIKE 'iu:gen:%%') u ON u.k = r %% u.total
    """,
)


@dataclass(frozen=True, repr=False)
class GeneratedBaseline:
    """A scenario's [generate] table: every parameter enters the name, so equal worlds share one template."""

    seed: int
    templates: int
    kinds: tuple[str, ...]
    versions: tuple[str, ...]
    pieces: tuple[int, int]
    reuse_share: float = 0.0
    identical_graphs: int = 0
    reordered_graphs: int = 0
    background_instances: int = 0
    manual_lineage: int = 0
    lifecycle: int = 0
    vector: int = 0
    base: str | None = None  # a file baseline loaded first (harness/sql/baselines/<base>.sql)

    @property
    def name(self) -> str:
        params = json.dumps(asdict(self), sort_keys=True)
        return f"generated-{hashlib.sha256(params.encode()).hexdigest()[:10]}"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"GeneratedBaseline({self.name!r})"

    def template_key(self, t: int) -> str:
        """The key of template t (1-based), as the SQL names it."""
        kind = self.kinds[(t - 1) % len(self.kinds)]
        version = self.versions[((t - 1) // len(self.kinds)) % len(self.versions)]
        return f"tpl:gen:{kind}:t{t:04d}/{version}"

    def describe(self) -> str:
        return (f"{self.name}: seed {self.seed}, {self.templates} templates ({'/'.join(self.kinds)} x "
                f"{'/'.join(self.versions)}), {self.pieces[0]}-{self.pieces[1]} pieces, reuse {self.reuse_share:.0%}, "
                f"{self.identical_graphs} identical + {self.reordered_graphs} reordered graphs, "
                f"{self.background_instances:,} background auto instances, {self.manual_lineage:,} manual, "
                f"{self.lifecycle:,} lifecycle, {self.vector:,} vector rows"
                + (f", on {self.base}" if self.base else ""))

    def params(self) -> dict[str, Any]:
        return {"seed": str(self.seed), "templates": self.templates, "kinds": list(self.kinds),
                "versions": list(self.versions), "pmin": self.pieces[0], "pmax": self.pieces[1],
                "reuse_ppm": round(self.reuse_share * 1_000_000), "shared_pool": 2 * self.pieces[1],
                "identical": self.identical_graphs, "reordered": self.reordered_graphs,
                "background": self.background_instances, "manual": self.manual_lineage,
                "lifecycle": self.lifecycle, "vector": self.vector}

    def build(self, conn: psycopg.Connection) -> None:
        """Write the world into the connected database (schema and `base` already loaded), one transaction."""
        params = self.params()
        with conn.transaction():
            for statement in _STEPS:
                conn.execute(statement, params if "%(" in statement else None)
