# PostgreSQL evasion corpus: each case must do its damage when run directly
# and be refused through sqlbastion (guard.rules, write grant unless "read").
# Format: tests/integration/corpus_helpers.py.  @@ label | check | options

@@ cmt-block-before | gone t | 
/* harmless */ DROP TABLE t

@@ cmt-block-between | gone t | 
DROP/**/TABLE/**/t

@@ cmt-nested | gone t | 
/* outer /* nested */ still a comment */ DROP TABLE t

@@ cmt-nested-deep | gone t | 
/* a /* b /* c */ b */ a */DROP TABLE t


@@ cmt-dash-line | gone t | 
-- just a comment
DROP TABLE t

@@ cmt-dash-then-stmt | gone t | 
SELECT 1; -- note
DROP TABLE t

@@ cmt-semicolon-in-comment | gone t | 
SELECT 1 /* ; */; DROP TABLE t

@@ cmt-string-looks-comment | gone t | 
SELECT '/*'; DROP TABLE t; SELECT '*/'

@@ cmt-dollar-dashes | gone t | 
SELECT $$--$$; DROP TABLE t

@@ cmt-trailing | gone t | 
DROP TABLE t -- trailing

@@ cmt-truncate | rows t | 
/**/TRUNCATE/**/t

@@ cmt-hides-where-delete | rows t | 
DELETE /* WHERE id = 1 */ FROM t

@@ cmt-where-commented-out | rows t | 
DELETE FROM t -- WHERE id = 1

@@ cmt-update-where-block | rows t | 
UPDATE t SET name = 'x' /* WHERE id = 1 */

@@ cmt-where-true-after-comment | rows t | 
DELETE FROM t WHERE /* id = 1 AND */ true

@@ cmt-no-space | gone t | 
DROP/* x */TABLE"t"

@@ cmt-dash-crlf | gone t | 
-- x
DROP TABLE t

@@ cmt-star-slash-in-string | gone t | 
SELECT '*/' /* x */; DROP TABLE t

@@ q-ident | gone t | 
DROP TABLE "t"

@@ q-unicode-ident | gone t | 
DROP TABLE U&"\0074"

@@ q-unicode-ident-uescape | gone t | 
DROP TABLE U&"!0074" UESCAPE '!'

@@ q-schema-ident | gone t | 
DROP TABLE public."t"

@@ q-e-escaped-quote | gone t | 
SELECT E'\''; DROP TABLE t

@@ q-e-lower | rows t | 
SELECT e'\'';DELETE FROM t

@@ q-e-backslash-pair | gone t | 
SELECT E'\\'; DROP TABLE t; --'

@@ q-std-backslash-ends | gone t | 
SELECT 'a\'; DROP TABLE t; --'

@@ q-dollar-tag | gone t | 
SELECT $a$ $$ $a$; DROP TABLE t

@@ q-dollar-quote-inside | gone t | 
SELECT $$ ' $$; DROP TABLE t

@@ q-dollar-underscore | gone t | 
SELECT $_$;$_$; DROP TABLE t

@@ q-unicode-string | gone t | 
SELECT U&'\0027'; DROP TABLE t

@@ q-doubled-quote | gone t | 
SELECT 'it''s'; DROP TABLE t

@@ q-ident-semicolon | gone t | 
SELECT "a;b" FROM (SELECT 1 AS "a;b") x; DROP TABLE t

@@ q-bit-string | rows t | 
SELECT B'01'; TRUNCATE t

@@ q-hex-string | rows t | 
SELECT X'1F'; DELETE FROM t

@@ q-national | rows t | 
SELECT N'x'; DELETE FROM t

@@ q-scs-off-session | gone t | pre=SET standard_conforming_strings = off
SELECT 'a\''; DROP TABLE t; --'

@@ q-scs-off-e-string | gone t | pre=SET standard_conforming_strings = off
SELECT 'x\\'; DROP TABLE t; --'

@@ q-string-continuation | gone t | 
SELECT 'a'
'b'; DROP TABLE t

@@ q-dollar-nested-tags | gone t | 
SELECT $x$ $y$ ; $y$ $x$; DROP TABLE t

@@ ws-mixed-case | gone t | 
dRoP tAbLe t

@@ ws-tab-newline | gone t | 
DROP	TABLE
t

@@ ws-crlf | gone t | 
DROP
TABLE t

@@ ws-leading-blank | gone t | 
  

 DROP TABLE t  ;  

@@ ws-formfeed | gone t | 
DROPTABLE t

@@ ws-if-exists | gone t | 
DROP TABLE IF EXISTS t

@@ ws-two-tables | gone t | 
DROP TABLE u, t CASCADE

@@ ws-upper-name | gone t | 
drop table T

@@ ws-truncate-table | rows t | 
Truncate Table t

@@ ws-truncate-only | rows t | 
TRUNCATE ONLY t

@@ ws-truncate-restart | rows t | 
TRUNCATE t RESTART IDENTITY CASCADE

@@ ws-truncate-qualified | rows t | 
TRUNCATE TABLE public.t

@@ ws-truncate-log-table | rows truncate_log | 
TRUNCATE "truncate_log"

@@ ws-truncate-two | rows u | 
TRUNCATE t, u

@@ ws-truncate-star | rows t | 
TRUNCATE t *

@@ ws-truncate-continue | rows t | 
TRUNCATE TABLE t CONTINUE IDENTITY RESTRICT

@@ ws-truncate-quoted-schema | rows truncate_log | 
TRUNCATE "public"."truncate_log"

@@ ws-drop-cascade | gone t | 
DROP TABLE t CASCADE

@@ ws-parens-select-then-drop | gone t | 
(SELECT 1); DROP TABLE t

@@ multi-select-drop | gone t | 
SELECT 1; DROP TABLE t

@@ multi-nospace | gone t | 
SELECT 1;DROP TABLE t;SELECT 2

@@ multi-tx | gone t | 
BEGIN; DROP TABLE t; COMMIT

@@ multi-insert-delete | rows t | 
INSERT INTO t VALUES (10, 'x', 0); DELETE FROM t

@@ multi-empty-statements | gone t | 
SELECT 1;;;DROP TABLE t

@@ multi-show-truncate | rows t | 
SHOW search_path; TRUNCATE t

@@ multi-set-then-drop | gone t | 
SET application_name = 'x'; DROP TABLE t

@@ multi-newlines | rows t | 
SELECT 1;


TRUNCATE t;


@@ cte-delete | rows t | 
WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d

@@ cte-delete-where-true | rows t | 
WITH d AS (DELETE FROM t WHERE true RETURNING 1) SELECT 1

@@ cte-update-second | rows t | 
WITH x AS (SELECT 1), d AS (UPDATE t SET name = 'z' RETURNING 1) SELECT * FROM x

@@ cte-delete-insert | rows t | 
WITH d AS (DELETE FROM t WHERE 1=1 RETURNING *) INSERT INTO truncate_log SELECT id, name FROM d

@@ cte-delete-subselect | rows t | 
WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING *) SELECT (SELECT count(*) FROM b)

@@ cte-materialized | rows t | 
WITH d AS MATERIALIZED (DELETE FROM t RETURNING id) SELECT * FROM d

@@ cte-update-from | rows t | 
WITH d AS (UPDATE t SET name = 'z' FROM u RETURNING t.id) SELECT 1

@@ cte-comment-where | rows t | 
WITH d AS (DELETE FROM t /* WHERE id = 1 */ RETURNING 1) SELECT 1

@@ explain-analyze-delete | rows t | 
EXPLAIN ANALYZE DELETE FROM t

@@ explain-paren-analyze | rows t | 
EXPLAIN (ANALYZE) DELETE FROM t

@@ explain-analyze-true-update | rows t | 
EXPLAIN (ANALYZE true, COSTS off) UPDATE t SET name = 'x'

@@ explain-format-analyze | rows t | 
EXPLAIN (FORMAT json, ANALYZE) DELETE FROM t WHERE 1=1

@@ explain-analyse-british | rows t | 
EXPLAIN ANALYSE DELETE FROM t

@@ explain-analyze-verbose | rows t | 
EXPLAIN ANALYZE VERBOSE DELETE FROM t

@@ explain-analyze-cte | rows t | 
EXPLAIN (ANALYZE on) WITH d AS (DELETE FROM t RETURNING 1) SELECT 1

@@ explain-analyze-one | rows t | 
EXPLAIN (ANALYZE 1) DELETE FROM t

@@ explain-analyze-insert-read | rows t | read
EXPLAIN ANALYZE INSERT INTO t VALUES (9, 'z', 0)

@@ into-then-drop | gone t | 
SELECT * INTO t_copy FROM t; DROP TABLE t

@@ ctas-then-drop | gone t | 
CREATE TABLE x AS SELECT 1; DROP TABLE t

@@ into-temp-truncate | rows t | 
SELECT * INTO TEMP x FROM t; TRUNCATE t

@@ into-read-level | exists t2 | read
SELECT * INTO t2 FROM t

@@ ctas-read-level | exists t3 | read
CREATE TABLE t3 AS SELECT * FROM t

@@ into-unlogged-read | exists t4 | read
SELECT id INTO UNLOGGED TABLE t4 FROM t

@@ do-execute | gone t | 
DO $$BEGIN EXECUTE 'DROP TABLE t'; END$$

@@ do-quoted-body | gone t | 
DO 'BEGIN EXECUTE ''DROP TABLE t''; END'

@@ do-language | gone t | 
DO LANGUAGE plpgsql $$BEGIN DROP TABLE t; END$$

@@ do-concat | gone t | 
DO $x$ BEGIN EXECUTE 'DR' || 'OP TABLE t'; END $x$

@@ do-format | gone t | 
DO $$ BEGIN EXECUTE format('%s TABLE %I', 'DROP', 't'); END $$

@@ do-delete | rows t | 
DO $$BEGIN DELETE FROM t; END$$

@@ do-e-string | rows t | 
DO E'BEGIN EXECUTE \'TRUNCATE t\'; END'

@@ do-convert-from | gone t | 
do $$begin execute convert_from('\x44524f50205441424c452074', 'UTF8'); end$$

@@ do-lowercase-language-after | gone t | 
DO $$BEGIN DROP TABLE t; END$$ LANGUAGE plpgsql

@@ do-after-select | gone t | 
SELECT 1; DO $$BEGIN DROP TABLE t; END$$

@@ prep-delete-exec | rows t | 
PREPARE p AS DELETE FROM t; EXECUTE p

@@ prep-param-or-true | rows t | 
PREPARE p(int) AS DELETE FROM t WHERE id > $1 OR true; EXECUTE p(0)

@@ prep-update-exec | rows t | 
PREPARE p AS UPDATE t SET name = 'x'; EXECUTE p

@@ prep-session-execute | rows t | pre=PREPARE p AS DELETE FROM t WHERE id > 0
EXECUTE p

@@ prep-session-execute-lower | rows t | pre=PREPARE p(int) AS UPDATE t SET name = 'q' WHERE id >= $1
execute  p ( 1 )

@@ prep-cte-exec | rows t | 
PREPARE p AS WITH d AS (DELETE FROM t RETURNING 1) SELECT 1; EXECUTE p

@@ fn-sql-body-drop | gone t | 
CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DROP TABLE t'; SELECT f()

@@ fn-plpgsql-execute | gone t | 
CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$BEGIN EXECUTE 'DROP TABLE t'; END$$; SELECT f()

@@ fn-procedure-call | rows t | 
CREATE PROCEDURE pr() LANGUAGE sql AS $$DELETE FROM t$$; CALL pr()

@@ fn-atomic-body | rows t | 
CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END; SELECT f()

@@ fn-trigger | rows t | 
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN DELETE FROM t; RETURN NEW; END$$; CREATE TRIGGER tr AFTER INSERT ON truncate_log FOR EACH ROW EXECUTE FUNCTION f(); INSERT INTO truncate_log VALUES (9, 'x')

@@ fn-rule-action | rows t | 
CREATE RULE r AS ON INSERT TO truncate_log DO ALSO DELETE FROM t; INSERT INTO truncate_log VALUES (9, 'x')

@@ fn-sql-truncate | rows t | 
CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ TRUNCATE t; SELECT 1 $$; SELECT f()

@@ fn-plpgsql-drop-direct | gone t | 
CREATE FUNCTION f() RETURNS void AS $b$BEGIN DROP TABLE t; END$b$ LANGUAGE plpgsql; SELECT f()

@@ fn-sql-e-body | gone t | 
CREATE FUNCTION f() RETURNS void LANGUAGE sql AS E'DROP TABLE t'; SELECT f()

@@ fn-create-only-then-call | gone t | 
CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$DROP TABLE t$$; SELECT * FROM f()

@@ copy-to-program | file {FILES}/p1 | super
COPY t TO PROGRAM 'touch {FILES}/p1'

@@ copy-query-to-program | file {FILES}/p2 | super
COPY (SELECT 1) TO PROGRAM 'touch {FILES}/p2'

@@ copy-from-program | file {FILES}/p3 | super
COPY t FROM PROGRAM 'touch {FILES}/p3; echo 9,zz,0' WITH (FORMAT csv)

@@ copy-program-dollar | file {FILES}/p4 | super
copy t to program $$touch {FILES}/p4$$

@@ copy-to-file | file {FILES}/f1 | super
COPY t TO '{FILES}/f1'

@@ copy-to-e-file | file {FILES}/f2 | super
COPY (SELECT 1) TO E'{FILES}/f2'

@@ copy-to-file-csv | file {FILES}/f3 | super
COPY t TO '{FILES}/f3' (FORMAT csv)

@@ copy-from-file | rows t | super
COPY t FROM '{FILES}/data.csv' (FORMAT csv)

@@ copy-comment-program | file {FILES}/p5 | super
COPY t TO /* stdout */ PROGRAM 'touch {FILES}/p5'

@@ copy-from-secret | result SB-SECRET-MARKER | super
CREATE TABLE x (l text); COPY x FROM '{FILES}/secret'; SELECT * FROM x

@@ file-read | result SB-SECRET-MARKER | super
SELECT pg_read_file('{FILES}/secret')

@@ file-read-binary | result SB-SECRET-MARKER | super
SELECT convert_from(pg_read_binary_file('{FILES}/secret'), 'UTF8')

@@ file-ls-dir | result SB-SECRET-MARKER | super
SELECT pg_read_file('{FILES}/' || f) FROM pg_ls_dir('{FILES}') f WHERE f = 'secret'

@@ file-read-range | result SB-SECRET-MARKER | super
SELECT pg_read_file('{FILES}/secret', 0, 100)

@@ file-read-upper | result SB-SECRET-MARKER | super
select PG_READ_FILE('{FILES}/secret')

@@ file-read-quoted-name | result SB-SECRET-MARKER | super
SELECT "pg_read_file"('{FILES}/secret')

@@ file-read-qualified | result SB-SECRET-MARKER | super
SELECT pg_catalog.pg_read_file('{FILES}/secret')

@@ file-read-spaced | result SB-SECRET-MARKER | super
SELECT pg_catalog . pg_read_file ('{FILES}/secret')

@@ file-read-comment | result SB-SECRET-MARKER | super
SELECT pg_read_file /* x */ ('{FILES}/secret')

@@ file-lo-import | sql SELECT count(*) FROM pg_largeobject_metadata | super
SELECT lo_import('{FILES}/secret')

@@ file-lo-export | file {FILES}/lo1 | super
SELECT lo_from_bytea(4242, 'x'); SELECT lo_export(4242, '{FILES}/lo1')

@@ file-in-cte | result SB-SECRET-MARKER | super
WITH r AS (SELECT pg_read_file('{FILES}/secret') AS x) SELECT x FROM r

@@ file-read-unicode-ident | result SB-SECRET-MARKER | super
SELECT U&"pg_read_fil\0065"('{FILES}/secret')

@@ ro-set-config | setting default_transaction_read_only=on | read
SELECT set_config('default_transaction_read_only', 'off', false)

@@ ro-set | setting default_transaction_read_only=on | read
SET default_transaction_read_only = off

@@ ro-session-characteristics | setting default_transaction_read_only=on | read
SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE

@@ ro-reset | setting default_transaction_read_only=on | read
RESET default_transaction_read_only

@@ ro-set-config-qualified | setting default_transaction_read_only=on | read
SELECT pg_catalog.set_config('default_transaction_read_only', 'off', false)

@@ ro-set-default | setting default_transaction_read_only=on | read
SET default_transaction_read_only TO DEFAULT

@@ ro-pg-settings-update | setting default_transaction_read_only=on | read
BEGIN READ WRITE; UPDATE pg_settings SET setting = 'off' WHERE name = 'default_transaction_read_only'; COMMIT

@@ ro-reset-all | setting default_transaction_read_only=on | read
RESET ALL

@@ ro-set-local-session | setting default_transaction_read_only=on | read
SET SESSION default_transaction_read_only = false

@@ ro-cte-delete | rows t | read
WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d

@@ ro-nextval | sql SELECT last_value, is_called FROM s | read
SELECT nextval('s')

@@ ro-setval | sql SELECT last_value FROM s | read
SELECT setval('s', 100)

@@ ro-insert | rows t | read
INSERT INTO t VALUES (9, 'z', 0)

@@ ro-update-where | rows t | read
UPDATE t SET name = 'y' WHERE id = 1

@@ ro-create | exists z | read
CREATE TABLE z (a int)

@@ ro-lo-create | sql SELECT count(*) FROM pg_largeobject_metadata | read
SELECT lo_create(0)

@@ ro-select-for-update-then-delete | rows t | read
SELECT * FROM t FOR UPDATE; DELETE FROM t WHERE id = 2

@@ priv-grant-public | priv t | 
GRANT ALL ON t TO PUBLIC

@@ priv-grant-role | priv t | 
GRANT SELECT ON t TO ev_victim

@@ priv-revoke | priv t | 
REVOKE ALL ON t FROM app

@@ priv-grant-comment | priv t | 
grant/**/all on t to public

@@ priv-create-role | role ev_r1 | super
CREATE ROLE ev_r1

@@ priv-create-user-super | role ev_u1 | super
CREATE USER ev_u1 SUPERUSER

@@ priv-alter-role-super | sql SELECT rolsuper FROM pg_roles WHERE rolname = 'ev_victim' | super
ALTER ROLE ev_victim SUPERUSER

@@ priv-create-group | role ev_g1 | super
CREATE GROUP ev_g1

@@ priv-default-privileges | sql SELECT count(*) FROM pg_default_acl | 
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC

@@ priv-grant-membership | sql SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = 'ev_victim' | super
GRANT app TO ev_victim

@@ priv-owner-to | priv t | super
ALTER TABLE t OWNER TO ev_victim

@@ priv-alter-user-password | sql SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'ev_victim' | super
ALTER USER ev_victim PASSWORD 'x'

@@ priv-grant-schema | sql SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public' | 
GRANT ALL ON SCHEMA public TO ev_victim

@@ priv-multi-hidden | priv t | 
SELECT 1; GRANT UPDATE ON t TO PUBLIC

@@ priv-grant-all-tables | priv t | 
GRANT ALL ON ALL TABLES IN SCHEMA public TO ev_victim

@@ priv-alter-role-login | sql SELECT rolcanlogin FROM pg_roles WHERE rolname = 'ev_victim' | super
ALTER ROLE ev_victim LOGIN

@@ priv-set-role-create | role ev_r2 | super
SET ROLE postgres; CREATE ROLE ev_r2

@@ adrop-column | cols t | 
ALTER TABLE t DROP COLUMN name

@@ adrop-no-column-word | cols t | 
ALTER TABLE t DROP name

@@ adrop-if-exists | cols t | 
ALTER TABLE IF EXISTS t DROP COLUMN IF EXISTS drop_count

@@ adrop-constraint | sql SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.t'::regclass | 
ALTER TABLE t DROP CONSTRAINT t_pkey

@@ adrop-only | cols t | 
ALTER TABLE ONLY t DROP COLUMN name

@@ adrop-after-add | cols t | 
ALTER TABLE t ADD COLUMN z int, DROP COLUMN name

@@ adrop-quoted | cols t | 
ALTER TABLE t DROP COLUMN "name"

@@ adrop-type-attribute | sql SELECT count(*) FROM pg_attribute WHERE attrelid = (SELECT typrelid FROM pg_type WHERE typname = 'ty') AND attnum > 0 AND NOT attisdropped | 
ALTER TYPE ty DROP ATTRIBUTE b

@@ adrop-comment | cols t | 
ALTER TABLE t /* add */ DROP /* column */ name

@@ adrop-cascade | cols t | 
ALTER TABLE t DROP COLUMN name CASCADE

@@ ren-table | gone t | 
ALTER TABLE t RENAME TO t_old

@@ ren-column | cols t | 
ALTER TABLE t RENAME COLUMN name TO nm

@@ ren-column-short | cols t | 
ALTER TABLE t RENAME name TO nm

@@ ren-schema | gone public | 
ALTER SCHEMA public RENAME TO p2

@@ ren-if-exists | gone t | 
ALTER TABLE IF EXISTS t RENAME TO x

@@ ren-view | gone v | 
ALTER VIEW v RENAME TO v2

@@ ren-constraint | sql SELECT conname FROM pg_constraint WHERE conrelid = 'public.t'::regclass | 
ALTER TABLE t RENAME CONSTRAINT t_pkey TO k

@@ ren-index | gone ix | 
ALTER INDEX ix RENAME TO ix2

@@ ren-sequence | gone s | 
ALTER SEQUENCE s RENAME TO s2

@@ ren-function | gone fx | 
ALTER FUNCTION fx() RENAME TO fy

@@ ren-mixed-case | gone t | 
aLtEr TaBlE t ReNaMe To t9

@@ tw-1eq1 | rows t | 
DELETE FROM t WHERE 1=1

@@ tw-true | rows t | 
DELETE FROM t WHERE true

@@ tw-str-eq | rows t | 
DELETE FROM t WHERE 'a'='a'

@@ tw-not-false | rows t | 
DELETE FROM t WHERE NOT false

@@ tw-or-1eq1 | rows t | 
DELETE FROM t WHERE id IS NOT NULL OR 1=1

@@ tw-and-true | rows t | 
DELETE FROM t WHERE 1 = 1 AND true

@@ tw-paren | rows t | 
DELETE FROM t WHERE (1=1)

@@ tw-gt | rows t | 
DELETE FROM t WHERE 2 > 1

@@ tw-ne | rows t | 
DELETE FROM t WHERE 1 <> 2

@@ tw-update-true | rows t | 
UPDATE t SET name = 'x' WHERE TRUE

@@ tw-is-not-null-lit | rows t | 
DELETE FROM t WHERE 'x' IS NOT NULL

@@ tw-null-is-null | rows t | 
DELETE FROM t WHERE NULL IS NULL

@@ tw-in-list | rows t | 
DELETE FROM t WHERE 1 IN (1)

@@ tw-between | rows t | 
DELETE FROM t WHERE 1 BETWEEN 0 AND 2

@@ tw-like | rows t | 
DELETE FROM t WHERE 'abc' LIKE '%'

@@ tw-true-or-col | rows t | 
DELETE FROM t WHERE true OR id = 1

@@ tw-col-or-1eq1 | rows t | 
DELETE FROM t WHERE id = 1 OR 1=1

@@ tw-not-1eq0 | rows t | 
DELETE FROM t WHERE NOT (1=0)

@@ tw-cast-bool | rows t | 
DELETE FROM t WHERE 1::bool

@@ tw-string-bool | rows t | 
DELETE FROM t WHERE 't'::boolean

@@ tw-dollar-eq | rows t | 
DELETE FROM t WHERE $$a$$ = $$a$$

@@ tw-e-eq | rows t | 
DELETE FROM t WHERE E'a' = 'a'

@@ tw-current-user | rows t | 
DELETE FROM t WHERE current_user = current_user

@@ tw-now-not-null | rows t | 
DELETE FROM t WHERE now() IS NOT NULL

@@ tw-using-no-where | rows t | 
DELETE FROM t USING u

@@ tw-update-from-no-where | rows t | 
UPDATE t SET name = 'x' FROM u

@@ tw-delete-only | rows t | 
DELETE FROM ONLY t

@@ tw-delete-alias | rows t | 
DELETE FROM t AS x

@@ tw-update-comment-tail | rows t | 
UPDATE t SET name = 'x' WHERE 1 = 1 -- AND id = 1

@@ tw-col-eq-itself | rows t | 
DELETE FROM t WHERE id = id

@@ tw-or-true-paren | rows t | 
DELETE FROM t WHERE (id = 1 OR true)

@@ tw-returning | rows t | 
DELETE FROM t RETURNING *

@@ tw-update-returning | rows t | 
UPDATE t SET drop_count = 0 RETURNING id

@@ tw-is-true | rows t | 
DELETE FROM t WHERE true IS TRUE

@@ tw-coalesce | rows t | 
DELETE FROM t WHERE coalesce(NULL, true)

@@ tw-merge-on-true | rows t | 
MERGE INTO t USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE

@@ ddl-drop-schema | gone t | 
DROP SCHEMA public CASCADE

@@ ddl-drop-view | gone v | 
DROP VIEW v

@@ ddl-drop-index | gone ix | 
DROP INDEX ix

@@ ddl-drop-sequence | gone s | 
DROP SEQUENCE s

@@ ddl-drop-function | gone fx | 
DROP FUNCTION fx()

@@ ddl-drop-type | gone ty | 
DROP TYPE ty CASCADE

@@ ddl-drop-owned | gone t | 
DROP OWNED BY app

@@ ddl-drop-matview | gone mv | 
DROP MATERIALIZED VIEW mv

@@ ddl-drop-index-concurrently | gone ix | 
DROP INDEX CONCURRENTLY ix

@@ ddl-alter-system | sql SELECT count(*) FROM pg_file_settings WHERE sourcefile LIKE '%auto.conf' | super
ALTER SYSTEM SET work_mem = '64MB'

@@ ddl-alter-system-lower | sql SELECT count(*) FROM pg_file_settings WHERE sourcefile LIKE '%auto.conf' | super
alter system set archive_command = 'true'

@@ ddl-create-extension | sql SELECT count(*) FROM pg_extension | 
CREATE EXTENSION pgcrypto

@@ ddl-create-extension-quoted | sql SELECT count(*) FROM pg_extension | 
CREATE EXTENSION IF NOT EXISTS "pgcrypto"

@@ explain-analyze-after-summary | rows t | 
EXPLAIN (SUMMARY off, ANALYZE) DELETE FROM t

@@ explain-analyze-buffers-drop-read | rows t | read
EXPLAIN (ANALYZE, BUFFERS, TIMING off) UPDATE t SET name = 'x' WHERE id = 1

@@ explain-analyze-verbose-update | rows t | 
EXPLAIN ANALYZE VERBOSE UPDATE t SET name = 'x'

@@ explain-analyze-comment | rows t | 
EXPLAIN /* plan */ ANALYZE /* x */ DELETE FROM t

@@ explain-analyze-execute | rows t | pre=PREPARE evp AS DELETE FROM t WHERE id > 0
EXPLAIN ANALYZE EXECUTE evp

@@ explain-analyze-ctas-read | exists t_expl | read
EXPLAIN ANALYZE CREATE TABLE t_expl AS SELECT 1 AS x

@@ file-read-qualified-upper-schema | result SB-SECRET-MARKER | super
SELECT PG_CATALOG."pg_read_file"('{FILES}/secret')

@@ file-read-unicode-name | result SB-SECRET-MARKER | super
SELECT U&"pg\005fread\005ffile"('{FILES}/secret')

@@ file-read-from-item | result SB-SECRET-MARKER | super
SELECT * FROM "pg_catalog"."pg_read_file"('{FILES}/secret')

@@ cat-update-authid | sql SELECT rolcreaterole FROM pg_authid WHERE rolname = 'ev_victim' | super
UPDATE pg_authid SET rolcreaterole = true WHERE rolname = 'ev_victim'

@@ cat-update-authid-quoted | sql SELECT rolcreatedb FROM pg_authid WHERE rolname = 'ev_victim' | super
UPDATE "pg_catalog"."pg_authid" SET rolcreatedb = true WHERE rolname = 'ev_victim'

@@ cat-update-authid-upper | sql SELECT rolcanlogin FROM pg_authid WHERE rolname = 'ev_victim' | super
update PG_CATALOG.PG_AUTHID set ROLCANLOGIN = true where ROLNAME = 'ev_victim'

@@ cat-update-authid-3part | sql SELECT rolreplication FROM pg_authid WHERE rolname = 'ev_victim' | super
UPDATE evdb.pg_catalog.pg_authid SET rolreplication = true WHERE rolname = 'ev_victim'

@@ cat-insert-auth-members | sql SELECT count(*) FROM pg_auth_members WHERE member = 'ev_victim'::regrole | super
INSERT INTO pg_auth_members (roleid, member, grantor, admin_option) SELECT 'pg_read_server_files'::regrole, 'ev_victim'::regrole, 10, false

@@ cat-insert-role-setting | sql SELECT count(*) FROM pg_db_role_setting WHERE setrole = 'ev_victim'::regrole | super
INSERT INTO pg_catalog.pg_db_role_setting VALUES (0, 'ev_victim'::regrole, '{work_mem=1MB}')

@@ cat-cte-update | sql SELECT rolbypassrls FROM pg_authid WHERE rolname = 'ev_victim' | super
WITH x AS (UPDATE pg_catalog.pg_authid SET rolbypassrls = true WHERE rolname = 'ev_victim' RETURNING 1) SELECT count(*) FROM x

@@ cat-merge-authid | sql SELECT rolinherit FROM pg_authid WHERE rolname = 'ev_victim' | super
MERGE INTO pg_authid a USING (SELECT 'ev_victim' AS n) s ON a.rolname = s.n WHEN MATCHED THEN UPDATE SET rolinherit = false

@@ cat-explain-analyze | sql SELECT rolcreaterole FROM pg_authid WHERE rolname = 'ev_victim' | super
EXPLAIN ANALYZE UPDATE pg_authid SET rolcreaterole = true WHERE rolname = 'ev_victim'

@@ cat-update-proc | sql SELECT prosecdef FROM pg_proc WHERE proname = 'fx' | super
UPDATE pg_catalog.pg_proc SET prosecdef = true WHERE proname = 'fx'

@@ cat-batch-comment | sql SELECT rolcreaterole FROM pg_authid WHERE rolname = 'ev_victim' | super
SELECT 1; /* x */ UPDATE/**/pg_authid/**/SET rolcreaterole = true WHERE rolname = 'ev_victim'

@@ merge-on-1eq1-delete | rows t | 
MERGE INTO t USING (SELECT 1) s ON 1 = 1 WHEN MATCHED THEN DELETE

@@ merge-on-paren-true | rows t | 
MERGE/**/INTO t USING (SELECT 1) s ON (true) WHEN MATCHED THEN DELETE

@@ merge-on-self-eq | rows t | 
MERGE INTO t USING (SELECT 1) s ON t.id = t.id WHEN MATCHED THEN UPDATE SET name = 'x'

@@ merge-on-or-true | rows t | 
MERGE INTO t USING (SELECT 1) s ON t.id = 1 OR true WHEN MATCHED THEN DELETE

@@ merge-matched-and-true | rows t | 
MERGE INTO t USING (SELECT 1) s ON true WHEN MATCHED AND true THEN UPDATE SET name = 'x'

@@ merge-second-clause-open | rows t | 
MERGE INTO t USING (SELECT 1) s ON true WHEN MATCHED AND t.id = 1 THEN UPDATE SET name = 'a' WHEN MATCHED THEN DELETE

@@ merge-explain-analyze | rows t | 
EXPLAIN ANALYZE MERGE INTO t USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE

@@ fdw-table-program | exists ft1 | super
CREATE FOREIGN TABLE ft1 (l text) SERVER evfs OPTIONS (program 'cat {FILES}/secret')

@@ fdw-table-filename-quoted | exists ft2 | super
CREATE FOREIGN TABLE ft2 ("filename" text) SERVER evfs OPTIONS ("filename" '{FILES}/secret')

@@ fdw-alter-program | sql SELECT ftoptions::text FROM pg_foreign_table WHERE ftrelid = 'evfdw.ft0'::regclass | super
ALTER FOREIGN TABLE evfdw.ft0 OPTIONS (SET filename '{FILES}/secret')

@@ fdw-alter-add-program | sql SELECT ftoptions::text FROM pg_foreign_table WHERE ftrelid = 'evfdw.ft0'::regclass | super
ALTER FOREIGN TABLE evfdw.ft0 OPTIONS (DROP filename, ADD program 'cat {FILES}/secret')

@@ fdw-server | sql SELECT count(*) FROM pg_foreign_server WHERE srvname = 'evfs2' | super
CREATE SERVER evfs2 FOREIGN DATA WRAPPER file_fdw

@@ cat-create-function-in-catalog | sql SELECT count(*) FROM pg_proc WHERE proname = 'ev_fn' | super
CREATE FUNCTION pg_catalog.ev_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'

@@ cat-create-function-quoted | sql SELECT count(*) FROM pg_proc WHERE proname = 'ev_fn' | super
CREATE FUNCTION "pg_catalog"."ev_fn"() RETURNS int LANGUAGE sql AS 'SELECT 1'

@@ view-authid-update | sql SELECT rolcreaterole FROM pg_authid WHERE rolname = 'ev_victim' | super
CREATE VIEW ev_v AS SELECT * FROM pg_authid; UPDATE ev_v SET rolcreaterole = true WHERE rolname = 'ev_victim'

@@ view-authid-quoted-columns | sql SELECT rolcanlogin FROM pg_authid WHERE rolname = 'ev_victim' | super
CREATE VIEW ev_v AS SELECT rolname, rolcanlogin FROM "pg_catalog"."pg_authid" WHERE rolname <> 'postgres';
UPDATE ev_v SET rolcanlogin = true WHERE rolname = 'ev_victim'

@@ view-authid-table-form | sql SELECT rolcreatedb FROM pg_authid WHERE rolname = 'ev_victim' | super
CREATE VIEW ev_v AS TABLE pg_catalog.pg_authid; UPDATE ev_v SET rolcreatedb = true WHERE rolname = 'ev_victim'

@@ view-authid-or-replace-paren | sql SELECT rolbypassrls FROM pg_authid WHERE rolname = 'ev_victim' | super
CREATE OR REPLACE VIEW ev_v AS (SELECT oid, rolname, rolbypassrls FROM pg_authid);
UPDATE ev_v SET rolbypassrls = true WHERE rolname = 'ev_victim'

@@ view-authid-unicode-name | sql SELECT rolreplication FROM pg_authid WHERE rolname = 'ev_victim' | super
CREATE VIEW ev_v AS SELECT * FROM U&"pg\005fauthid"; UPDATE ev_v SET rolreplication = true WHERE rolname = 'ev_victim'

@@ view-catalog-view-delete | role ev_victim | super
CREATE VIEW ev_v AS SELECT * FROM pg_group; DELETE FROM ev_v WHERE groname = 'ev_victim'

@@ view-security-barrier-option | sql SELECT rolinherit FROM pg_authid WHERE rolname = 'ev_victim' | super
CREATE VIEW ev_v WITH (security_barrier) AS SELECT rolname, rolinherit FROM pg_authid;
UPDATE ev_v SET rolinherit = false WHERE rolname = 'ev_victim'

@@ rule-user-table-writes-catalog | sql SELECT rolcreaterole FROM pg_authid WHERE rolname = 'ev_victim' | super
CREATE TABLE ev_rt (id int); CREATE RULE ev_r AS ON INSERT TO ev_rt DO ALSO UPDATE pg_authid SET rolcreaterole = true WHERE rolname = 'ev_victim';
INSERT INTO ev_rt VALUES (1)

@@ trigger-on-catalog-system-mods | sql SELECT count(*) FROM pg_trigger WHERE tgname = 'ev_tr' | super
SET allow_system_table_mods = on;
CREATE TRIGGER ev_tr BEFORE UPDATE ON pg_catalog.pg_description FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()

@@ trigger-on-catalog-set-config | sql SELECT count(*) FROM pg_trigger WHERE tgname = 'ev_tr' | super
SELECT set_config('allow_system_table_mods', 'on', false);
CREATE TRIGGER ev_tr BEFORE UPDATE ON pg_description FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()

@@ cat-search-path-information-schema | sql SELECT count(*) FROM information_schema.sql_features WHERE comments = 'ev' | super
SET search_path = information_schema; UPDATE sql_features SET comments = 'ev' WHERE feature_id = 'B011'

@@ cat-search-path-catalog-later | sql SELECT rolcreaterole FROM pg_authid WHERE rolname = 'ev_victim' | super
SET search_path = public, pg_catalog; UPDATE pg_authid SET rolcreaterole = true WHERE rolname = 'ev_victim'

@@ cat-unicode-schema-and-table | sql SELECT rolcreatedb FROM pg_authid WHERE rolname = 'ev_victim' | super
UPDATE U&"pg\005fcatalog".U&"pg\005fauthid" SET rolcreatedb = true WHERE rolname = 'ev_victim'

@@ cat-quoted-unqualified | sql SELECT rolcanlogin FROM pg_authid WHERE rolname = 'ev_victim' | super
UPDATE "pg_authid" SET rolcanlogin = true WHERE rolname = 'ev_victim'

@@ ddl-alter-type-using | rows t | 
ALTER TABLE t ALTER COLUMN name TYPE text USING 'x'

@@ ddl-alter-type-using-null | rows t | 
ALTER TABLE ONLY t ALTER name SET DATA TYPE varchar(10) USING NULL

@@ ddl-alter-type-using-second-action | rows t | 
ALTER TABLE t ADD COLUMN ev int, ALTER COLUMN drop_count TYPE bigint USING 0

@@ ddl-detach-partition | sql SELECT relispartition FROM pg_class WHERE relname = 'ev_p1' | 
CREATE TABLE ev_pt (id int) PARTITION BY LIST (id); CREATE TABLE ev_p1 PARTITION OF ev_pt FOR VALUES IN (1);
INSERT INTO ev_pt VALUES (1); ALTER TABLE ev_pt DETACH PARTITION ev_p1

@@ admin-replication-slot | sql SELECT count(*) FROM pg_replication_slots | super
SELECT pg_create_physical_replication_slot('ev_slot')

@@ admin-reload-conf | sql SELECT pg_conf_load_time() | super
SELECT pg_catalog.pg_reload_conf(), pg_sleep(1)

@@ admin-stat-reset | sql SELECT stats_reset FROM pg_stat_database WHERE datname = current_database() | super
SELECT 1 FROM pg_stat_reset()

@@ ddl-alter-type-using-cast-constant | rows t | 
ALTER TABLE t ALTER COLUMN drop_count TYPE bigint USING CAST(0 AS pg_catalog.int8)

@@ cat-system-mods-for-later-sessions | sql SELECT count(*) FROM pg_db_role_setting | super
ALTER DATABASE evdb SET allow_system_table_mods = on

@@ admin-preload-library-later-sessions | sql SELECT count(*) FROM pg_db_role_setting | super
ALTER DATABASE evdb SET session_preload_libraries = 'auto_explain'

@@ cat-search-path-create-function | sql SELECT count(*) FROM pg_proc WHERE proname = 'ev_fn' | super
SET search_path = pg_catalog, public; CREATE FUNCTION ev_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'
