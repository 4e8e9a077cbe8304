# MySQL/MariaDB benign corpus: statements a naive matcher would block; each
# must run through sqlbastion (guard.rules, write grant) without error.
# Format: tests/integration/corpus_helpers.py.

@@ str-drop | |
SELECT 'DROP TABLE t'

@@ str-in-where | |
SELECT * FROM t WHERE name = 'x; DROP TABLE t'

@@ dquote-str-drop | |
SELECT * FROM t WHERE name = "DROP TABLE t"

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

@@ comment-hash-drop | |
SELECT 1 # DROP TABLE t

@@ comment-dash-drop | |
SELECT 1 -- DROP TABLE t

@@ backtick-drop | |
SELECT `drop` FROM (SELECT 1 AS `drop`) x

@@ backtick-truncate-log | |
SELECT * FROM `truncate_log`

@@ exec-cmt-set-names | |
/*!40101 SET NAMES utf8mb4 */

@@ exec-cmt-unique-checks | |
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */

@@ exec-cmt-select | |
SELECT /*! 1 + */ 1

@@ handler | |
HANDLER t OPEN; HANDLER t READ FIRST; HANDLER t CLOSE

@@ handler-index | |
HANDLER t OPEN AS h; HANDLER h READ `PRIMARY` = (1); HANDLER h CLOSE

@@ show-tables-like | |
SHOW TABLES LIKE 'truncate%'

@@ delete-limit | |
DELETE FROM t WHERE id = 3 LIMIT 1

@@ insert-odku | |
INSERT INTO t VALUES (1, 'x', 0) ON DUPLICATE KEY UPDATE name = 'y'

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

@@ delete-is-null | |
DELETE FROM t WHERE id IS NULL

@@ delete-or-and | |
DELETE FROM t WHERE (id = 1 OR id = 2) AND name = 'zzz'

@@ mt-delete-where | |
DELETE t FROM t JOIN u ON t.id = u.t_id WHERE u.note = 'nothing'

@@ mt-update-where | |
UPDATE t JOIN u ON t.id = u.t_id SET t.name = 'j' WHERE u.id = 1

@@ explain-delete | |
EXPLAIN DELETE FROM t

@@ order-drop-count | |
SELECT * FROM t ORDER BY drop_count DESC

@@ alias-rename-count | |
SELECT count(*) AS rename_count FROM t

@@ create-grant-log | |
CREATE TABLE grant_log (id INT)

@@ create-drop-me | |
CREATE TABLE drop_me_later (id INT)

@@ create-index-drop-count | |
CREATE INDEX ix_drop ON t (drop_count)

@@ add-column-dropped-at | |
ALTER TABLE t ADD COLUMN dropped_at DATETIME

@@ alter-drop-default | |
ALTER TABLE t ALTER COLUMN drop_count DROP DEFAULT

@@ alter-set-default | |
ALTER TABLE t ALTER COLUMN drop_count SET DEFAULT 0

@@ modify-comment | |
ALTER TABLE t COMMENT = 'do not DROP or TRUNCATE'

@@ str-grant | |
SELECT 'GRANT ALL ON *.* TO x'

@@ two-selects | |
SELECT 1; SELECT 'DROP'

@@ tx-update | |
BEGIN; UPDATE t SET name = 'q' WHERE id = 1; COMMIT

@@ set-var | |
SET @drop_count = 5

@@ set-names | |
SET NAMES utf8mb4

@@ set-tx-ro | |
SET SESSION TRANSACTION READ ONLY

@@ show-variables | |
SHOW VARIABLES LIKE 'sql_mode'

@@ select-version-cmt | |
SELECT @@version /* DROP DATABASE evdb */

@@ concat-drop | |
SELECT CONCAT('DR', 'OP TABLE t')

@@ str-load-file | |
SELECT 'LOAD_FILE(x) INTO OUTFILE'

@@ col-alias-outfile | |
SELECT 1 AS outfile_count

@@ into-var | |
SELECT name INTO @n FROM t WHERE id = 1

@@ ctas | |
CREATE TABLE t_copy AS SELECT * FROM t

@@ create-if-not-exists | |
CREATE TABLE IF NOT EXISTS truncate_log (id INT, msg VARCHAR(200))

@@ view-drop-report | |
CREATE VIEW drop_report AS SELECT drop_count FROM t

@@ analyze-table | |
ANALYZE TABLE t

@@ checksum | |
CHECKSUM TABLE t

@@ update-where-col-compare | |
UPDATE t SET name = 'z' WHERE drop_count = id

@@ select-for-update | |
SELECT * FROM t WHERE id = 1 FOR UPDATE

@@ delete-exists | |
DELETE FROM u WHERE EXISTS (SELECT 1 FROM t WHERE t.id = u.t_id AND t.drop_count > 5)

@@ update-function-col | |
UPDATE t SET name = UPPER(name) WHERE LOWER(name) = 'alice'

@@ replace-into | |
REPLACE INTO truncate_log VALUES (3, 'replace')

@@ insert-select | |
INSERT INTO truncate_log SELECT id, name FROM t WHERE id = 1

@@ nextval-write | |
SELECT NEXTVAL(sq)

@@ lastval | |
SELECT LASTVAL(sq)

@@ do-sleep | |
DO SLEEP(0)

@@ procedure-select | |
CREATE PROCEDURE say_drop() SELECT 'DROP TABLE t'

@@ str-escaped-dquote | |
SELECT "it""s DROP"

@@ hex-literal | |
SELECT X'44524F50'

@@ info-schema | |
SELECT table_name FROM information_schema.tables WHERE table_schema = 'evdb' AND table_name LIKE '%truncate%'

@@ wrap-set-statement-select | |
SET STATEMENT max_statement_time=100 FOR SELECT * FROM t WHERE id = 1

@@ wrap-set-statement-update-where | |
SET STATEMENT max_statement_time=100 FOR UPDATE t SET name = 'x' WHERE id = 1

@@ wrap-compound-select | |
BEGIN NOT ATOMIC DECLARE x INT DEFAULT 0; SELECT COUNT(*) INTO x FROM t; IF x > 0 THEN SELECT x; END IF; END

@@ wrap-compound-loop | |
BEGIN NOT ATOMIC DECLARE i INT DEFAULT 0; l1: WHILE i < 3 DO SET i = i + 1; END WHILE l1; SELECT i; END

@@ wrap-compound-case-expr | |
BEGIN NOT ATOMIC SELECT CASE WHEN id = 1 THEN 'one' ELSE 'other' END FROM t; END

@@ wrap-analyze-select | |
ANALYZE SELECT * FROM t WHERE id = 1

@@ wrap-analyze-update-where | |
ANALYZE UPDATE t SET name = 'x' WHERE id = 1

@@ col-named-begin-end | |
SELECT 1 AS `begin`, 2 AS `end`

@@ ver-high-drop | |
SELECT 1 /*!999999 ; DROP TABLE t */

@@ ver-mariadb-high-drop | |
SELECT 1 /*M!999999 ; DROP TABLE t */

@@ ver-high-delete-where | |
DELETE FROM t WHERE id = 99 /*!999999 OR 1=1 */

@@ ver-mysql57-ignored | |
SELECT 1 /*!50700 ; DROP TABLE t */

@@ ver-mysql8-ignored | |
SELECT 1 /*!80000 ; DROP TABLE t */

@@ str-backtick-load-file | |
SELECT 'x' AS `LOAD_FILE`

@@ wrap-toplevel-if-select | |
IF 1 THEN SELECT 1; ELSE SELECT 2; END IF

@@ wrap-compound-labelled-select | |
BEGIN NOT ATOMIC lbl: BEGIN SELECT id FROM t WHERE id = 1; END lbl; END

@@ cat-read-in-insert | |
INSERT INTO truncate_log SELECT 9, table_name FROM information_schema.tables WHERE table_schema = 'evdb' AND table_name = 't'

@@ cat-read-in-update | |
UPDATE t SET name = (SELECT max(table_name) FROM information_schema.tables WHERE table_schema = 'evdb') WHERE id = 1

@@ cat-use-evdb-write | |
USE evdb; UPDATE t SET name = 'x' WHERE id = 1

@@ cat-qualified-write-after-use | | pre=USE evdb
INSERT INTO evdb.truncate_log VALUES (10, 'ten')

# Issue 15 class 9: backslash escapes under the server's default sql_mode
# (the proxy lexes under the sql_mode the server confirmed, not under both).
@@ bs-quote-drop-comment | |
SELECT 'it\'s; DROP TABLE t; -- '

@@ bs-dquote-drop | |
SELECT "say \"DROP TABLE t\"; -- "

@@ bs-where-escapes | |
SELECT * FROM t WHERE name = 'o\'neil\\' OR name = 'x\'; DELETE FROM t; -- '

@@ bs-insert-escaped | |
INSERT INTO truncate_log VALUES (7, 'a\'; TRUNCATE t; -- \\')

@@ bs-backslash-only | |
SELECT 'C:\\temp\\', "\\"

@@ bs-after-set-names | | pre=SET NAMES latin1
SELECT 'it\'s; DROP TABLE t; -- '

@@ bs-nbe-confirmed | | pre=SET sql_mode = 'NO_BACKSLASH_ESCAPES'
SELECT 'C:\temp\', 'a\'

@@ bs-ansi-quotes-confirmed | | pre=SET sql_mode = 'ANSI_QUOTES'
SELECT "id" FROM t WHERE name = 'x\'; DROP TABLE t; -- '

@@ view-grant-table-aggregate | | super
CREATE VIEW ev_v2 AS SELECT User, count(*) AS n FROM mysql.global_priv GROUP BY User

@@ view-grant-table-subquery | | super
CREATE VIEW ev_v3 AS SELECT id, name FROM t WHERE name IN (SELECT User FROM mysql.global_priv)

@@ view-user-table-definer | |
CREATE DEFINER = CURRENT_USER SQL SECURITY INVOKER VIEW ev_v4 AS SELECT id, name FROM t

@@ trigger-body-begin-set | |
CREATE TRIGGER ev_tr2 BEFORE INSERT ON u FOR EACH ROW BEGIN SET NEW.note = upper(NEW.note); END; INSERT INTO u VALUES (9, 1, 'z')

@@ trigger-follows-set | |
CREATE TRIGGER ev_tr3 BEFORE INSERT ON u FOR EACH ROW FOLLOWS fixtrig SET NEW.note = NEW.note; INSERT INTO u VALUES (8, 1, 'y')

@@ trigger-body-bounded-write | |
CREATE TRIGGER ev_tr4 AFTER INSERT ON u FOR EACH ROW UPDATE t SET drop_count = drop_count + 1 WHERE id = NEW.t_id; INSERT INTO u VALUES (7, 1, 'w')

@@ procedure-body-reads | |
CREATE PROCEDURE ev_p2() BEGIN DECLARE n INT; SELECT count(*) INTO n FROM t; UPDATE t SET drop_count = n WHERE id = 1; END

@@ event-body-bounded-delete | |
CREATE EVENT ev_e2 ON SCHEDULE EVERY 1 DAY DO DELETE FROM truncate_log WHERE id < 0

@@ alter-engine-innodb | |
ALTER TABLE t ENGINE = InnoDB; ALTER TABLE u FORCE

@@ create-table-memory-engine | |
CREATE TABLE ev_m (id INT) ENGINE = MEMORY; INSERT INTO ev_m VALUES (1)

@@ set-session-and-read-global | |
SET SESSION sql_mode = 'STRICT_ALL_TABLES'; SELECT @@global.max_connections, @@session.max_statement_time

@@ read-grant-tables | | super
SELECT User, Host FROM mysql.global_priv LIMIT 1; SELECT count(*) FROM mysql.servers

@@ use-mysql-then-qualified-write | |
USE evdb; UPDATE evdb.t SET name = 'q' WHERE id = 2

@@ set-session-scope-spaced-dot | |
SET @@session . sql_mode = 'STRICT_TRANS_TABLES'; SET @@SESSION/**/.`max_statement_time` = 10

@@ view-information-schema | |
CREATE VIEW ev_v5 AS SELECT table_name FROM information_schema.tables WHERE table_schema = 'evdb'

@@ trigger-body-set-escaped-quote | |
CREATE TRIGGER ev_tr5 BEFORE INSERT ON u FOR EACH ROW BEGIN SET NEW.note = 'it\'s'; SET NEW.note = concat(NEW.note, "!"); END;
INSERT INTO u VALUES (6, 1, 'v')

# ---- stored routines whose body only reads (issue 15 class 1): not dynamic

@@ routine-read-fn | |
SELECT evf_read()

@@ routine-read-fn-read-grant | | read
SELECT evf_read(), `EVF_READ`(), evdb.evf_read()

@@ routine-read-proc | |
CALL evp_read()

@@ routine-read-proc-read-grant | | read
CALL evdb.evp_read
