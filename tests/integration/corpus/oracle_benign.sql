# Oracle benign corpus: each case must be allowed by `sqlbastionctl policy
# test --dialect oracle` with etc/policies/guard.rules (write grant unless
# "read"). The check field holds the justification (what Oracle does).

@@ select-dual | why a plain query | read
SELECT * FROM dual

@@ qquote | why q'[...]' holds a quote as data | read
SELECT q'[it's]' FROM dual

@@ nqquote-nstring | why national literals | read
SELECT nq'{x}', N'y' FROM dual

@@ quoted-drop-column | why "DROP" is a quoted identifier | read
SELECT "DROP" FROM t

@@ bind | why :b1 is a bind variable | read
SELECT a FROM t WHERE b = :b1

@@ string-with-drop | why the DROP is string data | read
SELECT 'DROP TABLE t; --' FROM dual

@@ comment-with-drop | why the DROP is in a comment | read
/* DROP TABLE t */ SELECT 1 FROM dual

@@ dash-comment-with-drop | why the DROP is in a comment | read
SELECT 1 FROM dual -- DROP TABLE t

@@ qquote-with-drop | why q'{...}' with ; and DROP inside is data | read
SELECT q'{x'; DROP TABLE t; --}' FROM dual

@@ case-end | why CASE ... END is an expression | read
SELECT CASE WHEN a = 1 THEN 'x' ELSE 'y' END FROM t

@@ insert | why an insert at write level |
INSERT INTO t (a) VALUES (1)

@@ update-where | why a bounded update |
UPDATE t SET a = 1 WHERE id = 1

@@ delete-where | why a bounded delete |
DELETE FROM t WHERE id = 1

@@ merge | why MERGE with a join condition |
MERGE INTO t USING s ON (t.id = s.id) WHEN MATCHED THEN UPDATE SET t.a = s.a WHEN NOT MATCHED THEN INSERT (id, a) VALUES (s.id, s.a)

@@ commit | why transaction control | read
COMMIT

@@ rollback | why transaction control | read
ROLLBACK

@@ savepoint | why transaction control | read
SAVEPOINT s

@@ rollback-to | why transaction control | read
ROLLBACK TO SAVEPOINT s

@@ alter-session | why ALTER SESSION sets session options | read
ALTER SESSION SET NLS_DATE_FORMAT = 'YYYY-MM-DD'

@@ create-table | why DDL that creates is allowed at write |
CREATE TABLE t2 (id NUMBER PRIMARY KEY, a VARCHAR2(10))

@@ create-index | why an index |
CREATE INDEX i ON t (a)

@@ fetch-first | why FETCH FIRST limits a query | read
SELECT a FROM t ORDER BY a FETCH FIRST 10 ROWS ONLY

@@ cte | why WITH feeds a query | read
WITH c AS (SELECT a FROM t) SELECT * FROM c

@@ concat | why the double bar concatenates strings | read
SELECT a || 'x' FROM t

@@ like-semicolon | why ';' is string data | read
SELECT * FROM t WHERE a LIKE '%;%'

@@ set-tx-read-only | why a read-only transaction | read
SET TRANSACTION READ ONLY

@@ slash-after-query | why '/' alone on a line only runs the buffer | read
SELECT sysdate FROM dual
/

@@ explain-plan | why EXPLAIN PLAN does not run the statement | read
EXPLAIN PLAN FOR SELECT * FROM t

@@ two-queries | why two queries | read
SELECT 1 FROM dual; SELECT 2 FROM dual

@@ binary-float | why 1.5f and 2d are numbers | read
SELECT 1.5f, 2d FROM dual
