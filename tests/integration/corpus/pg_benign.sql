# PostgreSQL benign corpus: statements a naive matcher would block; each must
# run through sqlbastion (guard.rules, write grant) without error.
# Format: tests/integration/corpus_helpers.py.

@@ str-drop | |
SELECT 'DROP TABLE t'

@@ str-in-where | |
SELECT * FROM t WHERE name = 'x; DROP TABLE t'

@@ col-drop-count | |
SELECT drop_count FROM t

@@ tbl-truncate-log | |
SELECT * FROM truncate_log

@@ insert-truncate-log | |
INSERT INTO truncate_log VALUES (5, 'TRUNCATE t done')

@@ update-drop-count | |
UPDATE t SET drop_count = drop_count + 1 WHERE id = 1

@@ delete-truncate-log-row | |
DELETE FROM truncate_log WHERE id = 1

@@ comment-block-drop | |
SELECT /* DROP TABLE t */ 1

@@ comment-dash-drop | |
SELECT 1 -- DROP TABLE t

@@ dollar-drop | |
SELECT $$DROP TABLE t$$

@@ e-escaped-drop | |
SELECT E'\'; DROP TABLE t; --'

@@ unicode-drop | |
SELECT U&'\0044ROP TABLE t'

@@ quoted-drop-ident | |
SELECT "drop" FROM (SELECT 1 AS "drop") x

@@ like-delete | |
SELECT * FROM t WHERE name LIKE '%delete%'

@@ where-or-columns | |
SELECT * FROM t WHERE id = 1 OR name = 'a'

@@ update-where-string | |
UPDATE t SET name = 'where 1=1' WHERE id = 2

@@ delete-by-id | |
DELETE FROM t WHERE id = 3

@@ delete-subquery | |
DELETE FROM t WHERE id IN (SELECT t_id FROM u WHERE note = 'x')

@@ update-and-1eq1 | |
UPDATE t SET name = 'x' WHERE id = 1 AND 1=1

@@ delete-and-true | |
DELETE FROM t WHERE id = 2 AND true

@@ update-not-ne | |
UPDATE t SET name = 'y' WHERE NOT (id <> 1)

@@ delete-is-null | |
DELETE FROM t WHERE id IS NULL

@@ delete-or-and | |
DELETE FROM t WHERE (id = 1 OR id = 2) AND name = 'zzz'

@@ delete-or-paren-and | |
DELETE FROM t WHERE (id = 1 OR true) AND id = 2

@@ cte-select | |
WITH x AS (SELECT * FROM t) SELECT * FROM x

@@ cte-delete-where | |
WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d

@@ explain-delete | |
EXPLAIN DELETE FROM t

@@ explain-costs-delete | |
EXPLAIN (COSTS off) DELETE FROM t

@@ explain-analyze-select | |
EXPLAIN (ANALYZE) SELECT * FROM t

@@ order-drop-count | |
SELECT * FROM t ORDER BY drop_count DESC

@@ alias-rename-count | |
SELECT count(*) AS rename_count FROM t

@@ create-grant-log | |
CREATE TABLE grant_log (id int)

@@ create-drop-me | |
CREATE TABLE drop_me_later (id int)

@@ create-index-drop-count | |
CREATE INDEX ON t (drop_count)

@@ add-column-dropped-at | |
ALTER TABLE t ADD COLUMN dropped_at timestamptz

@@ alter-drop-default | |
ALTER TABLE t ALTER COLUMN name DROP DEFAULT

@@ alter-drop-not-null | |
ALTER TABLE t ALTER COLUMN name DROP NOT NULL

@@ alter-set-default | |
ALTER TABLE t ALTER COLUMN drop_count SET DEFAULT 0

@@ comment-on | |
COMMENT ON TABLE t IS 'do not DROP or TRUNCATE'

@@ str-grant | |
SELECT 'GRANT ALL ON t TO PUBLIC'

@@ quote-ident-drop | |
SELECT pg_catalog.quote_ident('drop')

@@ activity-like-drop | |
SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%DROP%'

@@ two-selects | |
SELECT 1; SELECT 'DROP'

@@ tx-update | |
BEGIN; UPDATE t SET name = 'q' WHERE id = 1; COMMIT

@@ nextval-write | |
SELECT nextval('s')

@@ insert-on-conflict-nothing | |
INSERT INTO t (id, name, drop_count) VALUES (10, 'DROP TABLE t', 0) ON CONFLICT (id) DO NOTHING

@@ insert-on-conflict-update | |
INSERT INTO t VALUES (1, 'x', 0) ON CONFLICT (id) DO UPDATE SET name = 'y'

@@ dollar-delete-in-where | |
SELECT * FROM t WHERE name = $$'; DELETE FROM t; --$$

@@ nested-comment-drop | |
SELECT /* nested /* DROP TABLE t; */ still */ 1

@@ join-drop-count | |
SELECT * FROM t t1 JOIN u ON u.t_id = t1.id WHERE t1.drop_count > 0

@@ update-subselect | |
UPDATE t SET drop_count = 0 WHERE id = (SELECT min(id) FROM t)

@@ delete-using-where | |
DELETE FROM u USING t WHERE u.t_id = t.id AND t.name = 'nobody'

@@ set-config-appname | |
SELECT set_config('application_name', 'drop', false)

@@ set-appname | |
SET application_name = 'truncate_job'

@@ set-timeout | |
SET statement_timeout = '5s'

@@ show-ro | |
SHOW default_transaction_read_only

@@ set-ro-on | |
SET default_transaction_read_only = on

@@ current-setting | |
SELECT current_setting('default_transaction_read_only')

@@ values-words | |
VALUES ('DROP'), ('TRUNCATE')

@@ alias-drop-table | |
SELECT * FROM (VALUES (1)) AS drop_table(x)

@@ ctas-temp | |
CREATE TEMP TABLE tmp_truncate AS SELECT * FROM t

@@ prepare-select | |
PREPARE q(int) AS SELECT * FROM t WHERE id = $1; DEALLOCATE q

@@ function-sql | |
CREATE FUNCTION add1(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1'

@@ function-body-words | |
CREATE FUNCTION body_has_words() RETURNS text LANGUAGE sql AS $$SELECT 'DROP TABLE t'$$

@@ function-plpgsql-where | |
CREATE FUNCTION del_one(i int) RETURNS void LANGUAGE plpgsql AS $$BEGIN DELETE FROM t WHERE id = i; END$$

@@ ident-truncate | |
SELECT 'truncate' AS "TRUNCATE"

@@ regex-drop | |
SELECT * FROM t WHERE name ~ 'DROP\s+TABLE'

@@ format-delete | |
SELECT format('DELETE FROM %I', 't')

@@ length-alter-system | |
SELECT length('ALTER SYSTEM SET x')

@@ view-drop-report | |
CREATE VIEW drop_report AS SELECT drop_count FROM t

@@ create-if-not-exists | |
CREATE TABLE IF NOT EXISTS truncate_log (id int, msg text)

@@ analyze-table | |
ANALYZE t

@@ listen-notify | |
LISTEN drop_events; NOTIFY drop_events, 'DROP TABLE t'

@@ cursor | |
BEGIN; DECLARE c CURSOR FOR SELECT * FROM t; FETCH 1 FROM c; CLOSE c; COMMIT

@@ where-literal-not-null-select | |
SELECT 1 WHERE 'DELETE FROM t' IS NOT NULL

@@ delete-returning | |
DELETE FROM t WHERE id = 1 RETURNING drop_count

@@ update-any | |
UPDATE t SET name = 'x' WHERE id = ANY('{1,2}')

@@ merge-join | |
MERGE INTO t USING u ON t.id = u.t_id WHEN MATCHED THEN UPDATE SET name = 'm'

@@ tag-dollar-nest | |
SELECT $tag$ $$ DROP TABLE t $$ $tag$

@@ unicode-alias | |
SELECT U&'d\0061t\+000061' AS "drop"

@@ doubled-quote-drop | |
SELECT * FROM t WHERE name = 'it''s; DROP TABLE t'

@@ update-where-col-compare | |
UPDATE t SET name = 'z' WHERE drop_count = id

@@ select-for-update | |
SELECT * FROM t WHERE id = 1 FOR UPDATE

@@ update-where-function-col | |
UPDATE t SET name = upper(name) WHERE lower(name) = 'alice'

@@ delete-exists | |
DELETE FROM u WHERE EXISTS (SELECT 1 FROM t WHERE t.id = u.t_id AND t.drop_count > 5)

@@ explain-analyze-off-delete | |
EXPLAIN (ANALYZE off) DELETE FROM t

@@ explain-analyze-false-update | |
EXPLAIN (ANALYZE false, COSTS off) UPDATE t SET name = 'x'

@@ own-backend-pid | |
SELECT pg_backend_pid() > 0

@@ str-terminate-backend | |
SELECT 'pg_terminate_backend(1)', 'pg_cancel_backend(2)' AS "pg_cancel_backend"

@@ col-like-kill-fn | |
SELECT count(*) FROM pg_stat_activity WHERE state = 'active'

@@ cat-read-in-insert | |
INSERT INTO truncate_log SELECT 9, rolname FROM pg_catalog.pg_roles WHERE rolname = 'app'

@@ cat-read-in-update-from | |
UPDATE t SET name = r.rolname FROM pg_roles r WHERE r.rolname = 'app' AND t.id = 1

@@ cat-read-in-delete-using | |
DELETE FROM truncate_log USING pg_class c WHERE c.relname = 'no_such_rel' AND truncate_log.id = 1

@@ cat-pg-settings-update | |
UPDATE pg_settings SET setting = '8MB' WHERE name = 'work_mem'

@@ cat-pg-temp-insert | |
CREATE TEMP TABLE notes (a int); INSERT INTO pg_temp.notes VALUES (1)

@@ merge-insert-only | |
MERGE INTO t USING (SELECT 9 AS id) s ON false WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'n', 0)

@@ merge-matched-condition | |
MERGE INTO t USING (SELECT 1 AS k) s ON true WHEN MATCHED AND t.id = 1 THEN UPDATE SET name = 'z'

@@ merge-do-nothing | |
MERGE INTO t USING (SELECT 1 AS k) s ON true WHEN MATCHED THEN DO NOTHING

@@ merge-join-delete | |
MERGE INTO t USING u ON t.id = u.t_id AND u.note = 'x' WHEN MATCHED THEN DELETE

@@ fdw-column-named-filename | |
CREATE TABLE files (filename text, program text); INSERT INTO files VALUES ('a', 'b')

@@ user-table-pg-prefix | |
CREATE TABLE pg_blob (id int, data bytea); INSERT INTO pg_blob VALUES (1, 'x'); UPDATE pg_blob SET data = 'y' WHERE id = 1

@@ user-table-pg-stats-custom | |
CREATE TABLE pg_stats_custom (k text, v int); INSERT INTO pg_stats_custom VALUES ('a', 1); DELETE FROM pg_stats_custom WHERE k = 'a'

@@ user-table-catalog-name-qualified | |
CREATE TABLE public.pg_class (a int); INSERT INTO public.pg_class VALUES (1); UPDATE public.pg_class SET a = 2 WHERE a = 1

@@ view-catalog-join | |
CREATE VIEW ev_rel AS SELECT c.relname, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace

@@ view-catalog-aggregate | |
CREATE VIEW ev_cnt AS SELECT relkind, count(*) AS n FROM pg_class GROUP BY relkind

@@ view-catalog-nonupdatable-view | |
CREATE VIEW ev_act AS SELECT pid, state, query FROM pg_stat_activity

@@ view-user-table-catalog-subquery | |
CREATE VIEW ev_tv AS SELECT id, name FROM t WHERE name NOT IN (SELECT rolname FROM pg_roles)

@@ view-catalog-distinct | |
CREATE VIEW ev_kinds AS SELECT DISTINCT relkind FROM pg_class

@@ matview-over-catalog | |
CREATE MATERIALIZED VIEW ev_mv AS SELECT relname FROM pg_class WHERE relkind = 'r'

@@ alter-type-no-using | |
ALTER TABLE t ALTER COLUMN name TYPE varchar(200)

@@ alter-attach-partition | |
CREATE TABLE ev_pt (id int) PARTITION BY LIST (id); CREATE TABLE ev_p2 (id int); ALTER TABLE ev_pt ATTACH PARTITION ev_p2 FOR VALUES IN (2)

@@ search-path-catalog-later-read | |
SET search_path = public, pg_catalog; SELECT count(*) FROM t; SELECT count(*) FROM pg_class

@@ admin-views-read | |
SELECT slot_name FROM pg_replication_slots; SELECT pg_conf_load_time(); SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()

@@ trigger-user-table | |
CREATE FUNCTION ev_lower() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.name := lower(NEW.name); RETURN NEW; END$$;
CREATE TRIGGER ev_tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION ev_lower();
INSERT INTO t VALUES (8, 'ZED', 0)

@@ rule-user-table-user-write | |
CREATE TABLE ev_log (id int); CREATE RULE ev_r AS ON INSERT TO u DO ALSO INSERT INTO ev_log VALUES (NEW.id); INSERT INTO u VALUES (9, 1, 'z')

@@ alter-type-using-conversion | |
ALTER TABLE t ALTER COLUMN drop_count TYPE bigint USING drop_count::bigint, ALTER COLUMN name TYPE varchar(100) USING upper(name)

@@ view-information-schema | |
CREATE VIEW ev_is AS SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'

@@ view-catalog-with-union-window | |
CREATE VIEW ev_u AS SELECT rolname FROM pg_roles UNION ALL SELECT relname FROM pg_class;
CREATE VIEW ev_w AS SELECT relname, count(*) OVER () FROM pg_class

@@ alter-database-plain-setting | | super
ALTER DATABASE evdb SET work_mem = '8MB'

@@ search-path-catalog-later-create | |
SET search_path = public, pg_catalog; CREATE TABLE ev_sp (a int); INSERT INTO ev_sp VALUES (1)
