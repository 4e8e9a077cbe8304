# Oracle evasion corpus: each case must be refused by `sqlbastionctl policy
# test --dialect oracle` with etc/policies/guard.rules (write grant unless
# "read"). No Oracle server runs here: the check field holds the one-line
# justification, what Oracle does with the text (SQL Language Reference,
# PL/SQL Language Reference). Format: tests/integration/corpus_helpers.py.

@@ drop | why DROP TABLE removes t |
DROP TABLE t

@@ cmt-between | why a comment separates tokens |
drop /* x */ table t

@@ qquote-bracket | why q'[...]' may hold ' and ';': the literal ends at ]' |
SELECT q'[it's; DROP]' FROM dual; DROP TABLE t

@@ qquote-brace | why q'{...}' ends at }' |
SELECT q'{;}' FROM dual; TRUNCATE TABLE t

@@ qquote-angle-hides-quote | why inside q'<...>' a lone ' is data |
SELECT q'<'>' FROM dual; DROP TABLE t

@@ qquote-any-delimiter | why any character can delimit a q-quote: q'!...!' |
SELECT q'!x'!' FROM dual; DROP TABLE t

@@ nqquote | why nq'(...)' is a national q-quoted literal |
SELECT nq'(;)' FROM dual; DROP TABLE t

@@ nstring | why N'...' is a national string |
SELECT N'x' FROM dual; DELETE FROM t

@@ string-backslash | why a backslash is no escape in Oracle: 'a\' ends at its quote |
SELECT 'a\' FROM dual; DROP TABLE t --'

@@ dquote-ident | why "a;b" is one quoted identifier |
SELECT "a;b" FROM dual; DROP TABLE t

@@ cmt-not-nested | why Oracle comments do not nest: the first */ ends the comment |
/* not nested /* */ DROP TABLE t

@@ block-execute-immediate | why a block running EXECUTE IMMEDIATE runs unseen text |
BEGIN EXECUTE IMMEDIATE 'DROP TABLE t'; END;

@@ block-delete | why the anonymous block deletes every row of t |
BEGIN DELETE FROM t; END;

@@ declare-block | why DECLARE ... BEGIN ... END runs PL/SQL code |
DECLARE n NUMBER; BEGIN n := 1; END;

@@ execute-immediate | why EXECUTE IMMEDIATE runs its text as SQL |
EXECUTE IMMEDIATE 'DROP TABLE t'

@@ exec-sqlplus | why SQL*Plus EXEC proc runs BEGIN proc; END; |
EXEC dbms_utility.exec_ddl_statement('DROP TABLE t')

@@ call | why CALL runs a procedure whose body is not known offline |
CALL p()

@@ alter-system-set | why ALTER SYSTEM changes the instance |
ALTER SYSTEM SET processes = 500 SCOPE = SPFILE

@@ alter-system-kill | why ALTER SYSTEM KILL SESSION ends a session |
ALTER SYSTEM KILL SESSION '12,345'

@@ alter-system-disconnect | why DISCONNECT SESSION ends a session |
ALTER SYSTEM DISCONNECT SESSION '12,345' IMMEDIATE

@@ create-directory | why a directory object maps a server path |
CREATE DIRECTORY d AS '/etc'

@@ utl-file | why UTL_FILE reads and writes server files |
DECLARE f UTL_FILE.FILE_TYPE; BEGIN f := UTL_FILE.FOPEN('D', 'x', 'w'); END;

@@ utl-file-quoted | why "UTL_FILE" is the same package written quoted |
DECLARE f "UTL_FILE".FILE_TYPE; BEGIN f := "UTL_FILE".FOPEN('D', 'x', 'w'); END;

@@ dbms-scheduler | why a scheduler job can run an executable |
BEGIN DBMS_SCHEDULER.CREATE_JOB(job_name => 'j', job_type => 'EXECUTABLE', job_action => '/bin/sh'); END;

@@ dbms-java | why DBMS_JAVA runs Java in the server | read
SELECT DBMS_JAVA.GET_OJVM_PROPERTY('x') FROM dual

@@ external-table | why ORGANIZATION EXTERNAL reads server files |
CREATE TABLE ext (a VARCHAR2(10)) ORGANIZATION EXTERNAL (TYPE ORACLE_LOADER DEFAULT DIRECTORY d LOCATION ('x.csv'))

@@ grant | why GRANT changes privileges |
GRANT DBA TO evil

@@ revoke | why REVOKE changes privileges |
REVOKE SELECT ON t FROM app

@@ create-user | why a new database user |
CREATE USER evil IDENTIFIED BY x

@@ alter-user | why ALTER USER changes a password |
ALTER USER sys IDENTIFIED BY x

@@ create-role | why roles carry privileges |
CREATE ROLE r

@@ drop-user | why DROP USER removes a schema |
DROP USER app CASCADE

@@ truncate | why TRUNCATE removes all rows |
TRUNCATE TABLE t

@@ purge | why PURGE RECYCLEBIN destroys dropped tables for good | read
PURGE RECYCLEBIN

@@ delete-no-where | why DELETE without WHERE removes every row |
DELETE FROM t

@@ update-no-where | why UPDATE without WHERE changes every row |
UPDATE t SET a = 1

@@ delete-trivial | why WHERE 1 = 1 keeps every row |
DELETE FROM t WHERE 1 = 1

@@ select-for-update | why FOR UPDATE locks the rows it reads | read
SELECT * FROM t FOR UPDATE

@@ insert-read | why INSERT writes | read
INSERT INTO t VALUES (1)

@@ unicode-nbsp | why U+00A0 between keywords is read as whitespace (the safe side) |
DROP TABLE t

@@ case-tricks | why keywords are case-insensitive |
DrOp TaBlE t

@@ slash-separator | why '/' alone on a line makes SQL*Plus run the buffer; DROP is next |
SELECT 1 FROM dual
/
DROP TABLE t

@@ proc-execute-immediate | why the procedure body runs unseen text when called |
CREATE OR REPLACE PROCEDURE p AS BEGIN EXECUTE IMMEDIATE 'DROP TABLE t'; END;

@@ proc-delete | why the procedure body deletes every row when called |
CREATE PROCEDURE p IS BEGIN DELETE FROM t; END;

@@ block-if-delete | why END IF closes the IF, not the block; the DELETE runs |
BEGIN IF 1 = 1 THEN DELETE FROM t; END IF; END;

@@ block-loop | why a block calls code that is not known |
BEGIN FOR r IN (SELECT 1 FROM dual) LOOP drop_it(r); END LOOP; END;

@@ dash-comment-semicolon | why the ';' in the comment is text; the next line's DROP runs |
SELECT 1 FROM dual -- ;
; DROP TABLE t

@@ alter-drop-column | why ALTER TABLE ... DROP COLUMN removes a column |
ALTER TABLE t DROP COLUMN a

@@ rename | why RENAME renames a table |
RENAME t TO t2

@@ flashback | why FLASHBACK TABLE rewinds a table | read
FLASHBACK TABLE t TO BEFORE DROP

@@ noaudit | why NOAUDIT stops the server's audit record |
NOAUDIT ALL

@@ trigger-body | why the trigger body deletes every row of u on each insert |
CREATE OR REPLACE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN DELETE FROM u; END;

@@ lock-table | why LOCK TABLE blocks writers | read
LOCK TABLE t IN EXCLUSIVE MODE

@@ xmlgen | why DBMS_XMLGEN runs the query text it is given |
SELECT DBMS_XMLGEN.GETXML('SELECT * FROM t') FROM dual

@@ dbms-sql | why DBMS_SQL runs text built at run time |
DECLARE c INTEGER; BEGIN c := DBMS_SQL.OPEN_CURSOR; END;

@@ comment-on | why COMMENT changes the schema | read
COMMENT ON TABLE t IS 'x'

@@ ctas | why CREATE TABLE AS SELECT creates a table | read
CREATE TABLE t3 AS SELECT * FROM t

@@ set-tx-read-write | why READ WRITE leaves read-only mode | read
SET TRANSACTION READ WRITE

@@ unterminated-qquote | why an unterminated q-quote is refused by the server: fail closed |
SELECT q'[abc' FROM dual; DROP TABLE t

@@ unclosed-block | why a block without its END is refused: fail closed |
BEGIN DELETE FROM t WHERE id = 1;

@@ package-body-proc | why the package procedure deletes every row when called |
CREATE PACKAGE BODY pk AS PROCEDURE a IS BEGIN DELETE FROM t; END a; END pk;
