-- 020_gates.sql
-- fn_iu_set_gates and fn_iu_first_closed_gate (030_gates.sql): both gates closed
-- at rest; set_gates toggles the named ones and says how many rows it set;
-- first_closed_gate names the first closed one in gate_key order.

SELECT pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_gate WHERE enabled), 0::bigint, 'open gates at rest');
SELECT pg_temp.expect_equal(iu_core.fn_iu_first_closed_gate(ARRAY['iu_core.composer_enabled',
                                                                  'iu_core.auto_instantiate_enabled']),
                            'iu_core.auto_instantiate_enabled', 'first closed of both (gate_key order)');

SELECT pg_temp.expect_equal(iu_core.fn_iu_set_gates(true, ARRAY['iu_core.composer_enabled']), 1,
                            'rows set by opening one gate');
SELECT pg_temp.expect((SELECT xmax FROM iu_core.iu_gate WHERE gate_key = 'iu_core.auto_instantiate_enabled')
                      IS DISTINCT FROM pg_temp.my_xid(), 'the gate not named is neither set nor locked');
SELECT pg_temp.expect_equal((SELECT string_agg(gate_key || '=' || enabled, ',' ORDER BY gate_key) FROM iu_core.iu_gate),
                            'iu_core.auto_instantiate_enabled=false,iu_core.composer_enabled=true', 'gates after opening one');
SELECT pg_temp.expect_equal(iu_core.fn_iu_first_closed_gate(ARRAY['iu_core.composer_enabled']), NULL::text,
                            'first closed gate when it is open');
SELECT pg_temp.expect_equal(iu_core.fn_iu_first_closed_gate(ARRAY['iu_core.composer_enabled',
                                                                  'iu_core.auto_instantiate_enabled']),
                            'iu_core.auto_instantiate_enabled', 'the closed one of both');
SELECT pg_temp.expect_equal(iu_core.fn_iu_first_closed_gate(ARRAY['iu_core.no_such_gate']), 'iu_core.no_such_gate',
                            'a missing gate row counts as closed');

SELECT pg_temp.expect_equal(iu_core.fn_iu_set_gates(true), 2, 'rows set by opening both (the default)');
SELECT pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_gate WHERE enabled), 2::bigint, 'open gates');
SELECT pg_temp.expect_equal(iu_core.fn_iu_first_closed_gate(ARRAY['iu_core.composer_enabled',
                                                                  'iu_core.auto_instantiate_enabled']),
                            NULL::text, 'first closed gate when both are open');
SELECT pg_temp.expect_equal(iu_core.fn_iu_set_gates(false, ARRAY['iu_core.auto_instantiate_enabled']), 1,
                            'rows set by closing one');
SELECT pg_temp.expect_equal((SELECT string_agg(gate_key || '=' || enabled, ',' ORDER BY gate_key) FROM iu_core.iu_gate),
                            'iu_core.auto_instantiate_enabled=false,iu_core.composer_enabled=true', 'gates after closing one');
SELECT pg_temp.expect_equal(iu_core.fn_iu_set_gates(false), 2, 'rows set by closing both');
SELECT pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_gate WHERE enabled), 0::bigint, 'open gates after closing');

-- Bad input: IU001 for a missing argument, IU006 for an unknown gate (named), nothing set.
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_set_gates(NULL)$q$, 'IU001');
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_set_gates(true, NULL)$q$, 'IU001');
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_set_gates(true, ARRAY[]::text[])$q$, 'IU001');
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_set_gates(true, ARRAY['iu_core.composer_enabled', 'iu_core.zz', 'iu_core.aa'])$q$,
                            'IU006', 'unknown gate ''iu_core.aa''');
SELECT pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_gate WHERE enabled), 0::bigint, 'open gates after refusals');
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_first_closed_gate(NULL)$q$, 'IU001');
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_first_closed_gate(ARRAY[]::text[])$q$, 'IU001');
