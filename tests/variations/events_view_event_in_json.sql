-- events_view_event_in_json.sql: a conforming variation (loaded with --iu-extra-sql on ANY build).
-- The contract fixes the events view's role, not its columns: this one shows each call as a jsonb
-- document whose top-level values are the event (a JSON string) and the rest of the log row.
-- events_view_rows must find the run's events there too.

ALTER VIEW iu_core.v_iu_auto_instantiate_events RENAME TO v_iu_auto_instantiate_events_before_variation;
CREATE VIEW iu_core.v_iu_auto_instantiate_events AS
SELECT jsonb_build_object('event', l.event_id) -> 'event' AS call_event,
       to_jsonb(l) - 'event_id' AS call
  FROM iu_core.iu_auto_instantiate_event_log l;
