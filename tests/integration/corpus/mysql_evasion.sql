# MySQL/MariaDB evasion corpus: each case must do its damage when run directly
# and be refused through sqlbastion (guard.rules, write grant unless "read").
# Format: tests/integration/corpus_helpers.py.  @@ label | check | options

@@ cmt-block-before | gone t | 
/* x */ DROP TABLE t

@@ cmt-block-between | gone t | 
DROP/**/TABLE/**/t

@@ exec-cmt | gone t | 
/*!DROP TABLE t*/

@@ exec-cmt-version | gone t | 
/*!50000 DROP TABLE t */

@@ exec-cmt-mariadb | gone t | 
/*M! DROP TABLE t */

@@ exec-cmt-mariadb-version | gone t | 
/*M!100000 DROP TABLE t */

@@ exec-cmt-semicolon | gone t | 
SELECT 1 /*!, 2 */; DROP TABLE t

@@ exec-cmt-table-word | gone t | 
DROP /*!TABLE*/ t

@@ exec-cmt-drop-word | gone t | 
/*!DROP*/ TABLE t

@@ hash-comment | gone t | 
# comment
DROP TABLE t

@@ dash-comment | gone t | 
-- comment
DROP TABLE t

@@ dash-no-space-not-comment | gone t | 
SELECT 1 --1; DROP TABLE t

@@ hash-hides-where | rows t | 
DELETE FROM t # WHERE id = 1

@@ dash-hides-where | rows t | 
DELETE FROM t -- WHERE id = 1

@@ block-hides-where | rows t | 
DELETE FROM t /* WHERE id = 1 */

@@ exec-cmt-no-space | gone t | 
/*!50000DROP*/ TABLE t

@@ high-version-cmt-then-drop | gone t | 
/*!999999 SELECT 1 */ DROP TABLE t

@@ str-looks-comment | gone t | 
SELECT '/*'; DROP TABLE t; SELECT '*/'

@@ exec-cmt-or-true | rows t | 
DELETE FROM t WHERE id = 1 /*! OR 1=1 */

@@ exec-cmt-where | rows t | 
DELETE FROM t /*!WHERE 1=1*/

@@ exec-cmt-update-where | rows t | 
UPDATE t SET name = 'x' /*!50000 WHERE true */

@@ hash-newline-or | rows t | 
DELETE FROM t WHERE id = 1 #
 OR 1=1

@@ exec-cmt-mariadb-truncate | rows t | 
/*M!100100 TRUNCATE t */

@@ exec-cmt-nested-normal | gone t | 
/*!DROP /* x */ TABLE t*/

@@ exec-cmt-grant | sql SELECT count(*) FROM mysql.tables_priv WHERE user = 'ev_victim' | super
/*!GRANT SELECT ON evdb.t TO ev_victim*/

@@ exec-cmt-rename | gone t | 
/*!RENAME TABLE t TO t_old*/

@@ exec-cmt-outfile | file {FILES}/o4 | super
SELECT 1 /*!INTO OUTFILE '{FILES}/o4'*/

@@ q-backtick | gone t | 
DROP TABLE `t`

@@ q-backtick-qualified | gone t | 
DROP TABLE `evdb`.`t`

@@ q-backslash-quote | gone t | 
SELECT 'a\''; DROP TABLE t; -- '

@@ q-backslash-dquote | gone t | 
SELECT "a\""; DROP TABLE t; -- "

@@ q-dquote-string | gone t | 
SELECT "x"; DROP TABLE t

@@ q-ansi-quotes-session | gone t | pre=SET sql_mode = 'ANSI_QUOTES'
SELECT "a\" FROM (SELECT 1 AS "a\") x; DROP TABLE t; -- "

@@ q-nbe-session | gone t | pre=SET sql_mode = 'NO_BACKSLASH_ESCAPES'
SELECT 'a\'; DROP TABLE t; -- '

@@ q-nbe-same-batch | gone t | 
SET sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\'; DROP TABLE t; -- '

@@ q-ansi-same-batch | gone t | 
SET @@sql_mode = 'ANSI_QUOTES'; SELECT "a\" FROM (SELECT 1 AS "a\") x; DROP TABLE t; -- "

@@ q-nbe-concat | gone t | 
SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES'); SELECT 'a\'; DROP TABLE t; -- '

@@ q-ansi-mode | gone t | 
SET sql_mode = 'ANSI'; SELECT "a\" FROM (SELECT 1 AS "a\") x; DROP TABLE t; -- "

@@ q-introducer | gone t | 
SELECT _latin1'x'; DROP TABLE t

@@ q-national | gone t | 
SELECT N'x'; DROP TABLE t

@@ q-hex-string | rows t | 
SELECT X'41'; TRUNCATE t

@@ q-hex-number | rows t | 
SELECT 0x41; DELETE FROM t

@@ q-bit | rows t | 
SELECT b'01'; DELETE FROM t

@@ q-adjacent | rows t | 
SELECT 'a' 'b'; DELETE FROM t

@@ q-backtick-semicolon | gone t | 
SELECT `a;b` FROM (SELECT 1 AS `a;b`) x; DROP TABLE t

@@ q-double-backslash | gone t | 
SELECT '\\'; DROP TABLE t

@@ q-doubled-quote | gone t | 
SELECT 'it''s'; DROP TABLE t

@@ q-doubled-dquote | gone t | 
SELECT "it""s"; DROP TABLE t

@@ q-backtick-truncate | rows truncate_log | 
TRUNCATE `truncate_log`

@@ ws-mixed-case | gone t | 
dRoP tAbLe t

@@ ws-tab-newline | gone t | 
DROP	TABLE
t

@@ ws-if-exists | gone t | 
DROP TABLE IF EXISTS t

@@ ws-truncate | rows t | 
TRUNCATE t

@@ ws-truncate-table | rows t | 
TRUNCATE TABLE t

@@ ws-truncate-qualified | rows truncate_log | 
truncate evdb.truncate_log

@@ ws-two-tables | gone t | 
DROP TABLE u, t

@@ ws-restrict | gone t | 
DROP TABLE t RESTRICT

@@ ws-cascade | gone t | 
DROP TABLE IF EXISTS t CASCADE

@@ ws-crlf | gone t | 
DROP
TABLE
t

@@ ws-upper | rows t | 
tRuNcAtE TaBlE t

@@ multi-select-drop | gone t | 
SELECT 1; DROP TABLE t

@@ multi-nospace | gone t | 
SELECT 1;DROP TABLE t;SELECT 2

@@ multi-insert-delete | rows t | 
INSERT INTO truncate_log VALUES (9, 'x'); DELETE FROM t

@@ multi-tx | rows t | 
BEGIN; DELETE FROM t; COMMIT

@@ multi-set-var | gone t | 
SET @a = 1; DROP TABLE t

@@ multi-newlines | rows t | 
SELECT 1;

TRUNCATE t

@@ multi-use-db | gone t | 
USE evdb; DROP TABLE t

@@ dyn-prepare-literal | gone t | 
PREPARE s FROM 'DROP TABLE t'; EXECUTE s

@@ dyn-prepare-var | gone t | 
SET @q = 'DROP TABLE t'; PREPARE s FROM @q; EXECUTE s

@@ dyn-prepare-concat | gone t | 
SET @q = CONCAT('DR', 'OP TABLE t'); PREPARE s FROM @q; EXECUTE s

@@ dyn-execute-immediate | gone t | 
EXECUTE IMMEDIATE 'DROP TABLE t'

@@ dyn-execute-immediate-concat | rows t | 
EXECUTE IMMEDIATE CONCAT('TRUNC', 'ATE t')

@@ dyn-prepare-dquote | gone t | 
PREPARE s FROM "DROP TABLE t"; EXECUTE s

@@ dyn-execute-immediate-delete | rows t | 
EXECUTE IMMEDIATE 'DELETE FROM t'

@@ dyn-proc-drop | gone t | 
CREATE PROCEDURE p() DROP TABLE t; CALL p()

@@ dyn-proc-block | rows t | 
CREATE PROCEDURE p() BEGIN DELETE FROM t; END; CALL p()

@@ dyn-function-delete | rows t | 
CREATE FUNCTION f() RETURNS INT BEGIN DELETE FROM t; RETURN 1; END; SELECT f()

@@ dyn-trigger | rows t | 
CREATE TRIGGER tr AFTER INSERT ON truncate_log FOR EACH ROW DELETE FROM t; INSERT INTO truncate_log VALUES (9, 'x')

@@ dyn-proc-prepare | gone t | 
CREATE PROCEDURE p() BEGIN SET @q = 'DROP TABLE t'; PREPARE s FROM @q; EXECUTE s; END; CALL p()

@@ dyn-proc-definer | rows t | 
CREATE DEFINER = CURRENT_USER PROCEDURE p() TRUNCATE t; CALL p()

@@ dyn-proc-if | rows t | 
CREATE PROCEDURE p() BEGIN IF 1 THEN DELETE FROM t; END IF; END; CALL p()

@@ dyn-prepare-where | rows t | 
PREPARE s FROM 'DELETE FROM t WHERE id > 0'; EXECUTE s

@@ file-outfile | file {FILES}/o1 | super
SELECT * FROM t INTO OUTFILE '{FILES}/o1'

@@ file-dumpfile | file {FILES}/o2 | super
SELECT 1 INTO DUMPFILE '{FILES}/o2'

@@ file-outfile-before-from | file {FILES}/o3 | super
SELECT * INTO OUTFILE '{FILES}/o3' FROM t

@@ file-outfile-comment | file {FILES}/o5 | super
SELECT 1 INTO/**/OUTFILE '{FILES}/o5'

@@ file-outfile-lower-dquote | file {FILES}/o6 | super
select 1 into outfile "{FILES}/o6"

@@ file-outfile-fields | file {FILES}/o7 | super
SELECT * FROM t INTO OUTFILE '{FILES}/o7' FIELDS TERMINATED BY ','

@@ file-outfile-exec-select | file {FILES}/o8 | super
/*!50000SELECT*/ 1 INTO OUTFILE '{FILES}/o8'

@@ file-outfile-second | file {FILES}/o9 | super
SELECT 1 INTO @x; SELECT 1 INTO OUTFILE '{FILES}/o9'

@@ file-outfile-union | file {FILES}/o10 | super
SELECT 1 UNION SELECT 2 INTO OUTFILE '{FILES}/o10'

@@ file-load-file | result SB-SECRET-MARKER | super
SELECT LOAD_FILE('{FILES}/secret')

@@ file-load-file-lower | result SB-SECRET-MARKER | super
SELECT load_file('{FILES}/secret')

@@ file-load-file-hex-path | result SB-SECRET-MARKER | super
SELECT CONVERT(LOAD_FILE({HEX:{FILES}/secret}) USING utf8)

@@ file-load-file-comment | result SB-SECRET-MARKER | super
SELECT LOAD_FILE/**/('{FILES}/secret')

@@ file-load-file-exec | result SB-SECRET-MARKER | super
SELECT /*!LOAD_FILE*/('{FILES}/secret')

@@ file-load-file-concat | result SB-SECRET-MARKER | super
SELECT LOAD_FILE(CONCAT('{FILES}', '/secret'))

@@ file-load-data | rows t | super
LOAD DATA INFILE '{FILES}/data.csv' INTO TABLE t FIELDS TERMINATED BY ','

@@ file-load-data-low-priority | rows t | super
LOAD DATA LOW_PRIORITY INFILE '{FILES}/data.tsv' INTO TABLE t

@@ file-load-data-replace | rows t | super
load data infile '{FILES}/data.tsv' replace into table t

@@ file-load-xml | rows t | super
LOAD XML INFILE '{FILES}/data.xml' INTO TABLE t ROWS IDENTIFIED BY '<row>'

@@ file-load-data-concurrent | rows t | super
LOAD DATA CONCURRENT INFILE '{FILES}/data.tsv' IGNORE INTO TABLE t

@@ priv-create-user | role ev_u1 | super
CREATE USER ev_u1

@@ priv-create-user-pw | role ev_u2 | super
CREATE USER 'ev_u2'@'%' IDENTIFIED BY 'x'

@@ priv-grant-global | priv 'app'@'%' | super
GRANT ALL ON *.* TO 'app'@'%'

@@ priv-grant-table | sql SELECT count(*) FROM mysql.tables_priv WHERE user = 'ev_victim' | super
GRANT SELECT ON evdb.t TO ev_victim

@@ priv-grant-comment | sql SELECT count(*) FROM mysql.tables_priv WHERE user = 'ev_victim' | super
grant/**/select on evdb.t to ev_victim

@@ priv-revoke | priv 'app'@'%' | super
REVOKE ALL ON evdb.* FROM 'app'@'%'

@@ priv-create-role | role ev_r1 | super
CREATE ROLE ev_r1

@@ priv-lock-account | sql SELECT json_value(priv, '$.account_locked') FROM mysql.global_priv WHERE user = 'ev_victim' | super
ALTER USER ev_victim ACCOUNT LOCK

@@ priv-set-password | sql SELECT priv FROM mysql.global_priv WHERE user = 'ev_victim' | super
SET PASSWORD FOR ev_victim = PASSWORD('x')

@@ priv-drop-user | role ev_victim | super
DROP USER ev_victim

@@ priv-rename-user | role ev_victim | super
RENAME USER ev_victim TO ev_other

@@ priv-grant-multi | sql SELECT count(*) FROM mysql.tables_priv WHERE user = 'ev_victim' | super
SELECT 1; GRANT INSERT ON evdb.t TO ev_victim

@@ priv-grant-column | sql SELECT count(*) FROM mysql.columns_priv WHERE user = 'ev_victim' | super
GRANT SELECT (name) ON evdb.t TO ev_victim

@@ ro-tx-read-write | setting tx_read_only=1 | read
SET SESSION TRANSACTION READ WRITE

@@ ro-tx-var | setting tx_read_only=1 | read
SET @@session.tx_read_only = OFF

@@ ro-tx-var-plain | setting tx_read_only=1 | read
SET tx_read_only = 0

@@ ro-tx-isolation-rw | setting tx_read_only=1 | read
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE

@@ ro-insert | rows t | read
INSERT INTO t VALUES (9, 'z', 0)

@@ ro-replace | rows t | read
REPLACE INTO t VALUES (1, 'z', 0)

@@ ro-nextval | sql SELECT next_not_cached_value FROM evdb.sq | read
SELECT NEXTVAL(sq)

@@ ro-setval | sql SELECT next_not_cached_value FROM evdb.sq | read
SELECT SETVAL(sq, 100)

@@ ro-do-nextval | sql SELECT next_not_cached_value FROM evdb.sq | read
DO NEXTVAL(sq)

@@ ro-next-value-for | sql SELECT next_not_cached_value FROM evdb.sq | read
SELECT NEXT VALUE FOR sq

@@ ro-create-table | exists z | read
CREATE TABLE z (a INT)

@@ ro-update-where | rows t | read
UPDATE t SET name = 'y' WHERE id = 1

@@ ro-delete-where | rows t | read
DELETE FROM t WHERE id = 1

@@ ro-insert-select | rows truncate_log | read
INSERT INTO truncate_log SELECT id, name FROM t

@@ mt-delete-from | rows t | 
DELETE t FROM t

@@ mt-delete-join | rows t | 
DELETE t FROM t JOIN u ON t.id = u.t_id

@@ mt-delete-two | rows t | 
DELETE t, u FROM t, u

@@ mt-delete-using | rows t | 
DELETE FROM t USING t, u

@@ mt-delete-where-true | rows t | 
DELETE t FROM t WHERE 1=1

@@ mt-delete-modifiers | rows t | 
DELETE LOW_PRIORITY QUICK IGNORE FROM t

@@ mt-delete-order-limit | rows t | 
DELETE FROM t ORDER BY id LIMIT 100

@@ mt-update-two | rows t | 
UPDATE t, u SET t.name = 'x'

@@ mt-update-join-on-true | rows t | 
UPDATE t JOIN u ON 1=1 SET t.name = 'x'

@@ mt-update-modifiers | rows t | 
UPDATE LOW_PRIORITY IGNORE t SET name = 'x'

@@ mt-delete-alias | rows t | 
DELETE a FROM t AS a

@@ tw-1 | rows t | 
DELETE FROM t WHERE 1

@@ tw-true | rows t | 
DELETE FROM t WHERE true

@@ tw-1eq1 | rows t | 
DELETE FROM t WHERE 1=1

@@ tw-str-eq | rows t | 
DELETE FROM t WHERE 'a'='a'

@@ tw-not-false | rows t | 
DELETE FROM t WHERE NOT false

@@ tw-or-1eq1 | rows t | 
DELETE FROM t WHERE id IS NOT NULL OR 1=1

@@ tw-null-safe | rows t | 
DELETE FROM t WHERE 1 <=> 1

@@ tw-is-true | rows t | 
DELETE FROM t WHERE 1 IS TRUE

@@ tw-gt | rows t | 
DELETE FROM t WHERE 2 > 1

@@ tw-in | rows t | 
DELETE FROM t WHERE 1 IN (1, 2)

@@ tw-like | rows t | 
DELETE FROM t WHERE 'a' LIKE '%'

@@ tw-between | rows t | 
DELETE FROM t WHERE 1 BETWEEN 0 AND 5

@@ tw-update-1 | rows t | 
UPDATE t SET name = 'x' WHERE 1

@@ tw-pipes-or | rows t | 
DELETE FROM t WHERE 1 || 0

@@ tw-and-and | rows t | 
DELETE FROM t WHERE 1 && 1

@@ tw-bang | rows t | 
DELETE FROM t WHERE !0

@@ tw-negative | rows t | 
DELETE FROM t WHERE -1

@@ tw-hex | rows t | 
DELETE FROM t WHERE 0x01

@@ tw-xor | rows t | 
DELETE FROM t WHERE 1 XOR 0

@@ tw-col-or-1 | rows t | 
DELETE FROM t WHERE id = 1 OR 1

@@ tw-null-is-null | rows t | 
DELETE FROM t WHERE NULL IS NULL

@@ tw-update-limit | rows t | 
UPDATE t SET name = 'x' WHERE 1=1 LIMIT 10

@@ tw-comment-tail | rows t | 
DELETE FROM t WHERE TRUE /* id = 1 */

@@ tw-hash-tail | rows t | 
DELETE FROM t WHERE 1 = 1 # id = 1

@@ tw-string-1 | rows t | 
DELETE FROM t WHERE '1'

@@ tw-col-eq-col | rows t | 
DELETE FROM t WHERE id = id

@@ tw-now | rows t | 
DELETE FROM t WHERE NOW() IS NOT NULL

@@ tw-or-col-pipes | rows t | 
DELETE FROM t WHERE id = 1 || 1 = 1

@@ ren-table | gone t | 
RENAME TABLE t TO t_old

@@ ren-two | gone t | 
RENAME TABLE t TO t2, u TO u2

@@ ren-alter | gone t | 
ALTER TABLE t RENAME TO t_old

@@ ren-alter-no-to | gone t | 
ALTER TABLE t RENAME t_old

@@ ren-alter-as | gone t | 
ALTER TABLE t RENAME AS t_old

@@ ren-column | cols t | 
ALTER TABLE t RENAME COLUMN name TO nm

@@ ren-change | cols t | 
ALTER TABLE t CHANGE name nm VARCHAR(64)

@@ ren-comment | gone t | 
rename/**/table t to x

@@ ren-index | gone ix | 
ALTER TABLE t RENAME INDEX ix TO ix2

@@ ren-change-column | cols t | 
ALTER TABLE t CHANGE COLUMN drop_count dc INT

@@ ren-rename-key | gone ix | 
ALTER TABLE t RENAME KEY ix TO ix3

@@ adrop-column | cols t | 
ALTER TABLE t DROP COLUMN name

@@ adrop-bare | cols t | 
ALTER TABLE t DROP name

@@ adrop-index | gone ix | 
ALTER TABLE t DROP INDEX ix

@@ adrop-primary | cols t | 
ALTER TABLE t DROP PRIMARY KEY

@@ adrop-after-add | cols t | 
ALTER TABLE t ADD COLUMN z INT, DROP COLUMN name

@@ adrop-if-exists | cols t | 
ALTER TABLE t DROP COLUMN IF EXISTS drop_count

@@ adrop-online | cols t | 
ALTER ONLINE TABLE t DROP COLUMN name

@@ adrop-ignore | cols t | 
ALTER IGNORE TABLE t DROP name

@@ adrop-drop-index-on | gone ix | 
DROP INDEX ix ON t

@@ adrop-key | gone ix | 
ALTER TABLE t DROP KEY ix

@@ ddl-drop-database | gone t | 
DROP DATABASE evdb

@@ ddl-drop-schema | gone t | 
DROP SCHEMA evdb

@@ ddl-drop-view | gone v | 
DROP VIEW v

@@ ddl-drop-procedure | gone fixproc | 
DROP PROCEDURE fixproc

@@ ddl-drop-trigger | gone fixtrig | 
DROP TRIGGER fixtrig

@@ ddl-drop-sequence | gone sq | 
DROP SEQUENCE sq

@@ ddl-ctas-then-drop | gone t | 
CREATE TABLE x SELECT * FROM t; DROP TABLE t

@@ ddl-ctas-then-truncate | rows t | 
CREATE TABLE x AS SELECT 1; TRUNCATE t

@@ ddl-create-or-replace-table | rows t | 
CREATE OR REPLACE TABLE t (id INT)

@@ ddl-drop-temporary-word | gone t | 
DROP /*!TABLE IF EXISTS*/ t

@@ wrap-set-statement-drop | gone t | 
SET STATEMENT max_statement_time=100 FOR DROP TABLE t

@@ wrap-set-statement-two-vars-delete | rows t | 
SET STATEMENT sort_buffer_size=100000, max_statement_time=100 FOR DELETE FROM t

@@ wrap-set-statement-exec-cmt | gone t | 
SET STATEMENT max_statement_time=100 FOR /*!DROP TABLE t*/

@@ wrap-compound-drop | gone t | 
BEGIN NOT ATOMIC DROP TABLE t; END

@@ wrap-compound-delete-no-semi | rows t | 
BEGIN NOT ATOMIC DELETE FROM t; END

@@ wrap-compound-nested-if | gone t | 
BEGIN NOT ATOMIC DECLARE x INT DEFAULT 1; IF x = 1 THEN BEGIN DROP TABLE t; END; END IF; END

@@ wrap-compound-handler | rows t | 
BEGIN NOT ATOMIC DECLARE CONTINUE HANDLER FOR SQLEXCEPTION DELETE FROM t; SIGNAL SQLSTATE '45000'; END

@@ wrap-compound-handler-block | gone t | 
BEGIN NOT ATOMIC DECLARE EXIT HANDLER FOR SQLSTATE '45000' BEGIN DROP TABLE t; END; SIGNAL SQLSTATE '45000'; END

@@ wrap-compound-while | rows t | 
BEGIN NOT ATOMIC DECLARE i INT DEFAULT 0; WHILE i < 1 DO DELETE FROM t; SET i = i + 1; END WHILE; END

@@ wrap-compound-repeat | rows t | 
BEGIN NOT ATOMIC REPEAT DELETE FROM t; UNTIL 1 END REPEAT; END

@@ wrap-compound-label-loop | rows t | 
BEGIN NOT ATOMIC l1: LOOP DELETE FROM t; LEAVE l1; END LOOP l1; END

@@ wrap-compound-case | gone t | 
BEGIN NOT ATOMIC CASE 1 WHEN 1 THEN DROP TABLE t; ELSE SELECT 1; END CASE; END

@@ wrap-compound-for | rows t | 
BEGIN NOT ATOMIC FOR i IN 1..1 DO DELETE FROM t; END FOR; END

@@ wrap-compound-else | gone t | 
BEGIN NOT ATOMIC IF 0 THEN SELECT 1; ELSEIF 0 THEN SELECT 2; ELSE DROP TABLE t; END IF; END

@@ wrap-compound-case-expr-then-drop | gone t | 
BEGIN NOT ATOMIC SELECT CASE WHEN 1 THEN 'a' ELSE 'b' END; DROP TABLE t; END

@@ wrap-compound-exec-cmt | gone t | 
BEGIN NOT ATOMIC /*!DROP TABLE t*/; END

@@ wrap-compound-after-select | gone t | 
SELECT 1; BEGIN NOT ATOMIC SELECT 2; DROP TABLE t; END

@@ wrap-compound-cursor-then-drop | gone t | 
BEGIN NOT ATOMIC DECLARE c CURSOR FOR SELECT id FROM t; DROP TABLE t; END

@@ wrap-compound-read | rows t | read
BEGIN NOT ATOMIC UPDATE t SET name = 'x' WHERE id = 1; END

@@ wrap-analyze-delete | rows t | 
ANALYZE DELETE FROM t

@@ wrap-analyze-format-delete | rows t | 
ANALYZE FORMAT=JSON DELETE FROM t

@@ wrap-analyze-update-all | rows t | 
ANALYZE UPDATE t SET name = 'x'

@@ wrap-analyze-update-read | rows t | read
ANALYZE UPDATE t SET name = 'x' WHERE id = 1

@@ wrap-analyze-insert-read | rows t | read
ANALYZE INSERT INTO t VALUES (9, 'z', 0)

@@ wrap-analyze-exec-cmt | rows t | 
/*!ANALYZE DELETE FROM t*/

@@ file-load-file-backtick-upper | result SB-SECRET-MARKER | super
SELECT `LOAD_FILE`('{FILES}/secret')

@@ file-load-file-backtick-mixed | result SB-SECRET-MARKER | super
SELECT `Load_File`('{FILES}/secret')

@@ file-load-file-backtick-lower | result SB-SECRET-MARKER | super
SELECT `load_file`('{FILES}/secret')

@@ wrap-toplevel-if | gone t | 
IF 1 THEN DROP TABLE t; END IF

@@ wrap-toplevel-while | gone t | 
WHILE 1 DO DROP TABLE t; END WHILE

@@ wrap-toplevel-repeat | gone t | 
REPEAT DROP TABLE t; UNTIL 1 END REPEAT

@@ wrap-toplevel-case | gone t | 
CASE WHEN 1 THEN DROP TABLE t; END CASE

@@ wrap-compound-labelled-inner | gone t | 
BEGIN NOT ATOMIC lbl: BEGIN DROP TABLE t; END lbl; END

@@ wrap-set-statement-compound | gone t | 
SET STATEMENT max_statement_time=10 FOR BEGIN NOT ATOMIC DROP TABLE t; END

@@ wrap-toplevel-for | rows t | 
FOR i IN 1..1 DO DELETE FROM t; END FOR

@@ cat-insert-global-priv | role ev_new | super
INSERT INTO mysql.global_priv (Host, User, Priv) VALUES ('%', 'ev_new', '{}'); FLUSH PRIVILEGES

@@ cat-update-global-priv | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.access', 1) WHERE User = 'ev_victim'

@@ cat-update-quoted | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
UPDATE `mysql`.`global_priv` SET Priv = JSON_SET(Priv, '$.access', 2) WHERE User = 'ev_victim'

@@ cat-use-batch | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
USE mysql; UPDATE global_priv SET Priv = JSON_SET(Priv, '$.access', 4) WHERE User = 'ev_victim'

@@ cat-use-before | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super pre=USE mysql
UPDATE global_priv SET Priv = JSON_SET(Priv, '$.access', 8) WHERE User = 'ev_victim'

@@ cat-use-quoted-before | sql SELECT count(*) FROM mysql.db WHERE User = 'ev_victim' | super pre=USE `mysql`
INSERT INTO db (Host, Db, User, Select_priv) VALUES ('%', 'evdb', 'ev_victim', 'Y')

@@ cat-insert-db | sql SELECT count(*) FROM mysql.db WHERE User = 'ev_victim' | super
INSERT INTO mysql.db (Host, Db, User, Select_priv, Insert_priv) VALUES ('%', 'evdb', 'ev_victim', 'Y', 'Y')

@@ cat-insert-no-into | sql SELECT count(*) FROM mysql.db WHERE User = 'ev_victim' | super
INSERT IGNORE mysql.db (Host, Db, User, Select_priv) VALUES ('%', 'evdb', 'ev_victim', 'Y')

@@ cat-replace-tables-priv | sql SELECT count(*) FROM mysql.tables_priv WHERE user = 'ev_victim' | super
REPLACE INTO mysql.tables_priv (Host, Db, User, Table_name, Grantor, Table_priv) VALUES ('%', 'evdb', 'ev_victim', 't', 'evroot@%', 'Select')

@@ cat-multi-table-update | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
UPDATE evdb.t, mysql.global_priv SET mysql.global_priv.Priv = JSON_SET(Priv, '$.access', 16) WHERE mysql.global_priv.User = 'ev_victim' AND t.id = 1

@@ cat-join-update | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
UPDATE evdb.t JOIN mysql.global_priv g ON g.User = 'ev_victim' SET g.Priv = JSON_SET(g.Priv, '$.access', 32) WHERE t.id = 1

@@ cat-exec-comment | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
/*!UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.access', 64) WHERE User = 'ev_victim' */

@@ cat-create-procedure-in-mysql | sql SELECT count(*) FROM information_schema.routines WHERE routine_schema = 'mysql' AND routine_name = 'ev_p' | super
CREATE PROCEDURE mysql.ev_p() SELECT 1

@@ cat-create-procedure-use-mysql | sql SELECT count(*) FROM information_schema.routines WHERE routine_schema = 'mysql' AND routine_name = 'ev_p' | super pre=USE mysql
CREATE PROCEDURE ev_p() SELECT 1

@@ view-global-priv-update | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
CREATE VIEW ev_v AS SELECT * FROM mysql.global_priv; UPDATE ev_v SET Priv = '{"access":1}' WHERE User = 'ev_victim'

@@ view-definer-backticks-spaced | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
CREATE DEFINER = CURRENT_USER SQL SECURITY DEFINER VIEW ev_v AS SELECT `User`, `Priv` FROM `mysql` . /* x */ `global_priv`;
UPDATE ev_v SET Priv = '{"access":3}' WHERE User = 'ev_victim'

@@ view-use-mysql-unqualified | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
USE mysql; CREATE VIEW evdb.ev_v AS SELECT User, Priv FROM global_priv; UPDATE evdb.ev_v SET Priv = '{"access":5}' WHERE User = 'ev_victim'

@@ view-alter-existing | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
ALTER VIEW v AS SELECT User AS name, Priv FROM mysql.global_priv; UPDATE v SET Priv = '{"access":7}' WHERE name = 'ev_victim'

@@ view-join-updatable | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
CREATE VIEW ev_v AS SELECT g.User, g.Priv, t.name FROM mysql.global_priv g JOIN t ON t.id = 1;
UPDATE ev_v SET Priv = '{"access":9}' WHERE User = 'ev_victim'

@@ trigger-body-begin-delete | rows t | 
CREATE TRIGGER ev_tr BEFORE INSERT ON u FOR EACH ROW BEGIN DELETE FROM t; END; INSERT INTO u VALUES (9, 1, 'z')

@@ trigger-body-follows-trivial | rows t | 
CREATE TRIGGER ev_tr BEFORE INSERT ON u FOR EACH ROW FOLLOWS fixtrig DELETE FROM t WHERE 1 = 1;
INSERT INTO u VALUES (9, 1, 'z')

@@ trigger-body-nested-blocks | rows t | 
CREATE TRIGGER ev_tr AFTER INSERT ON u FOR EACH ROW lbl: BEGIN IF NEW.id > 0 THEN BEGIN UPDATE t SET name = 'x'; END; END IF; END;
INSERT INTO u VALUES (9, 1, 'z')

@@ trigger-body-catalog-write | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
CREATE TRIGGER ev_tr AFTER INSERT ON u FOR EACH ROW UPDATE mysql.global_priv SET Priv = '{"access":2}' WHERE User = 'ev_victim';
INSERT INTO u VALUES (9, 1, 'z')

@@ event-body-drop | gone t | super
SET GLOBAL event_scheduler = ON;
CREATE EVENT ev_e ON SCHEDULE AT CURRENT_TIMESTAMP DO DROP TABLE evdb.t;
DO SLEEP(2); SET GLOBAL event_scheduler = OFF

@@ event-body-begin-delete | sql SELECT count(*) FROM information_schema.events WHERE event_schema = 'evdb' | 
CREATE EVENT ev_e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; END

@@ event-body-definer-truncate | sql SELECT count(*) FROM information_schema.events WHERE event_schema = 'evdb' | 
CREATE DEFINER = CURRENT_USER EVENT IF NOT EXISTS ev_e ON SCHEDULE EVERY 1 DAY DO TRUNCATE t

@@ procedure-body-drop | sql SELECT count(*) FROM information_schema.routines WHERE routine_schema = 'evdb' AND routine_name = 'ev_p' | 
CREATE PROCEDURE ev_p() BEGIN DECLARE n INT DEFAULT 0; DROP TABLE t; END

@@ cat-use-exec-comment | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
/*!USE mysql*/; UPDATE global_priv SET Priv = '{"access":11}' WHERE User = 'ev_victim'

@@ cat-comments-between-parts | sql SELECT Priv FROM mysql.global_priv WHERE User = 'ev_victim' | super
UPDATE mysql/**/./* sep */global_priv SET Priv = '{"access":13}' WHERE User = 'ev_victim'

@@ cat-proxies-priv | sql SELECT count(*) FROM mysql.proxies_priv WHERE User = 'ev_victim' | super
INSERT INTO mysql.proxies_priv VALUES ('%', 'ev_victim', '', '', 1, 'root', now())

@@ cat-servers-table | sql SELECT count(*) FROM mysql.servers | super
INSERT INTO mysql.servers (Server_name, Host, Db, Username, Password, Port, Socket, Wrapper, Owner) VALUES ('ev_s2', '127.0.0.1', '', 'root', '', 3306, '', 'mysql', '')

@@ cat-plugin-table | sql SELECT count(*) FROM mysql.plugin | super
INSERT INTO `mysql`.`plugin` VALUES ('ev_plugin', 'ha_ev.so')

@@ plugin-install-soname | sql SELECT count(*) FROM information_schema.plugins WHERE plugin_name = 'BLACKHOLE' | super
INSTALL SONAME 'ha_blackhole'

@@ alter-engine-blackhole | rows t | super
INSTALL SONAME 'ha_blackhole'; ALTER TABLE t ENGINE = BLACKHOLE

@@ alter-engine-merge | rows t | 
ALTER TABLE t ENGINE = MRG_MyISAM

@@ alter-engine-merge-second-table | rows truncate_log | 
ALTER TABLE truncate_log COMMENT 'x', ENGINE MERGE

@@ alter-discard-tablespace | rows t | 
ALTER TABLE t DISCARD TABLESPACE

@@ set-global-init-connect | sql SELECT @@global.init_connect | super
SET GLOBAL init_connect = 'SET @ev = 1'

@@ set-global-at-at | sql SELECT @@global.max_connections | super
SET @@GLOBAL.max_connections = 499

@@ set-global-second-assignment | sql SELECT @@global.max_connections | super
SET SESSION sql_mode = 'STRICT_ALL_TABLES', GLOBAL max_connections = 498

@@ create-server | sql SELECT count(*) FROM mysql.servers | super
CREATE SERVER ev_s FOREIGN DATA WRAPPER mysql OPTIONS (HOST '127.0.0.1', DATABASE 'evdb', USER 'root')

@@ set-global-spaced-dot | sql SELECT @@global.max_connections | super
SET @@global . max_connections = 497

@@ set-global-comment-dot-backtick | sql SELECT @@global.max_connections | super
SET @@GLOBAL/**/.`max_connections` = 496

@@ set-global-exec-comment | sql SELECT @@global.max_connections | super
SET /*!GLOBAL*/ max_connections = 495

@@ ro-tx-var-scope-spaced-dot | setting tx_read_only=1 | read
SET @@session . tx_read_only = 0

@@ ro-tx-var-scope-comment-backtick | setting tx_read_only=1 | read
SET @@SESSION/**/.`tx_read_only` = 0

@@ alter-online-discard-tablespace | rows u | 
ALTER ONLINE TABLE u DISCARD TABLESPACE

@@ alter-ignore-engine-merge | rows u | 
ALTER IGNORE TABLE u ENGINE MRG_MYISAM

# ---- work hidden inside stored routines (issue 15 class 1): the routines
# are corpus_helpers.MY_FIXTURE's, created beforehand by a DBA

@@ routine-call-proc-delete | rows t | 
CALL evp_wipe()

@@ routine-call-proc-noparens | rows t | 
CALL evp_wipe

@@ routine-call-qualified-backticks-case | rows t | 
CALL `evdb`.`EVP_WIPE`()

@@ routine-call-versioned-comment | rows t | 
/*!CALL evp_wipe() */

@@ routine-call-proc-drop | gone t | 
CALL evp_drop()

@@ routine-call-proc-prepare | gone t | 
CALL evp_exec('DROP TABLE t')

@@ routine-call-nested-proc | rows t | 
CALL evp_outer()

@@ routine-call-after-select | rows t | 
SELECT 1; CALL evp_wipe()

@@ routine-fn-delete | rows t | 
SELECT evf_wipe()

@@ routine-fn-backtick | rows t | 
SELECT `evf_wipe`()

@@ routine-fn-qualified | rows t | 
SELECT evdb.evf_wipe()

@@ routine-fn-in-where | rows t | 
SELECT id FROM u WHERE evf_wipe() = 1

@@ routine-fn-nested | rows t | 
SELECT evf_outer()

@@ routine-fn-do | rows t | 
DO evf_wipe()

@@ routine-fn-set-var | rows t | 
SET @x = evf_wipe()

@@ routine-fn-update-read-grant | rows t | read
SELECT evf_upd()

@@ routine-fn-versioned | rows t | 
SELECT /*!100000 evf_upd() */
