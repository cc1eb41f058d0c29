-- seed_25000x_on_a_short_template.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: as baseline_template_loses_a_piece.sql, run under the 25000x seed: before-25000x holds one
-- template piece fewer, so the seed does not end in after-25000x's numbers.
-- Violates: [S2.before], [S2.seed-25000x]
-- Caught by: pinned_seed_numbers
-- Scenario: seed-25000x-06

\ir baseline_template_loses_a_piece.sql
