-- 010_arguments.sql
-- fn_iu_require_text (035_arguments.sql): IU001 for null, empty and every
-- Unicode White_Space character alone; IU009 past the limit, with the start of
-- the value in the message; anything else passes.

SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_require_text('f', 'a', NULL)$q$, 'IU001', 'argument a is required');
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_require_text('f', 'a', '')$q$, 'IU001');

-- Each White_Space character alone, and all of them together, is blank (in a UTF8 database).
SELECT pg_temp.expect_error(format('SELECT iu_core.fn_iu_require_text(%L, %L, %L)', 'f', 'a', chr(code)), 'IU001')
  FROM unnest(ARRAY[32, 9, 10, 11, 12, 13, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199,
                    8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288]) AS code
 WHERE getdatabaseencoding() = 'UTF8' OR code < 128;
SELECT pg_temp.expect_error(format('SELECT iu_core.fn_iu_require_text(%L, %L, %L)', 'f', 'a',
                                   E' \t\n\f\r' || chr(11) || chr(160) || chr(12288)), 'IU001')
 WHERE getdatabaseencoding() = 'UTF8';

-- Neighbours of the blank ones are text; so are format characters (zero-width space, BOM).
SELECT iu_core.fn_iu_require_text('f', 'a', chr(code))
  FROM unnest(ARRAY[33, 134, 161, 5761, 8203, 8234, 8240, 8288, 12289, 65279]) AS code
 WHERE getdatabaseencoding() = 'UTF8' OR code < 128;
SELECT iu_core.fn_iu_require_text('f', 'a', '  x  ');
SELECT iu_core.fn_iu_require_text('f', 'a', 'v');  -- PostgreSQL 15 reads E'\v' as 'v': a blank set written so refused it

-- The limit: 512 characters by default, or the one given; characters, not bytes.
SELECT iu_core.fn_iu_require_text('f', 'a', repeat('x', 512));
SELECT iu_core.fn_iu_require_text('f', 'a', repeat(chr(233), 512)) WHERE getdatabaseencoding() = 'UTF8';
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_require_text('f', 'a', repeat('x', 513))$q$, 'IU009',
                            'is 513 characters long, the limit is 512 (starts with ''' || repeat('x', 40) || ''')');
SELECT iu_core.fn_iu_require_text('f', 'a', repeat('x', 3), 3);
SELECT pg_temp.expect_error($q$SELECT iu_core.fn_iu_require_text('f', 'a', repeat('x', 4), 3)$q$, 'IU009');
