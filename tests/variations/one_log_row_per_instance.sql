-- one_log_row_per_instance.sql: a conforming variation (loaded with --iu-extra-sql on any build), NOT a fault.
-- A stricter key SPEC leaves open: at most one auto log row per instance. The rollback probe cannot
-- plant another actor's log row on such a build; it must say so and hold on the rest.

CREATE UNIQUE INDEX iu_log_one_per_instance ON iu_core.iu_auto_instantiate_event_log (instance_collection_id);
