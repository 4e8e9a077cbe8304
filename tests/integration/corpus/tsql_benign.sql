# T-SQL benign corpus: each case must be allowed by `sqlbastionctl policy
# test --dialect tsql` with etc/policies/guard.rules (write grant unless
# "read"). The check field holds the justification (what SQL Server does).

@@ select | why a plain query | read
SELECT * FROM t

@@ bracket-drop-column | why [drop] is a column name | read
SELECT [drop] FROM t

@@ bracket-escapes | why ]] is one ] inside an identifier | read
SELECT [DROP], [select;] FROM [t]]x]

@@ nstring-with-drop | why the DROP is string data | read
SELECT N'DROP TABLE t; --' AS s

@@ doubled-quote | why '' is one quote | read
SELECT 'it''s' AS s

@@ nested-comment-with-drop | why the DROP is inside a nested comment | read
SELECT 1 /* DROP TABLE t /* nested */ still */

@@ dash-comment-with-drop | why the DROP is in a comment | read
-- DROP TABLE t
SELECT 1

@@ top-order | why TOP limits a query | read
SELECT TOP 10 * FROM t ORDER BY a

@@ union-all | why UNION ALL SELECT continues the query | read
SELECT a FROM t WHERE b = 1 UNION ALL SELECT a FROM u

@@ set-nocount | why a session option | read
SET NOCOUNT ON

@@ set-isolation | why the isolation level of the session's transactions | read
SET TRANSACTION ISOLATION LEVEL READ COMMITTED

@@ use-db | why USE changes the current database | read
USE app

@@ declare-select | why variables are session-local | read
DECLARE @x int = 1; SELECT @x

@@ if-else-select | why IF/ELSE choose between queries | read
IF EXISTS (SELECT 1 FROM t) SELECT 1 ELSE SELECT 2

@@ tran-update | why a bounded update in a transaction |
BEGIN TRAN; UPDATE t SET a = 1 WHERE id = 1; COMMIT

@@ insert-values | why an insert at write level |
INSERT INTO t (a) VALUES (1)

@@ insert-select-no-into | why INTO is optional; SELECT is the row source |
INSERT t SELECT a FROM u

@@ update-where | why a bounded update |
UPDATE t SET a = 1 WHERE id = 2

@@ delete-where | why a bounded delete |
DELETE FROM t WHERE id = 3

@@ merge | why MERGE with a join condition and its actions |
MERGE t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT (id, a) VALUES (s.id, s.a);

@@ sp-help | why sp_help only reads the catalog | read
EXEC sp_help 't'

@@ sp-who | why sp_who lists sessions | read
EXEC sp_who

@@ implicit-sp-columns | why EXEC is optional for the first statement; sp_columns reads the catalog | read
sp_columns t

@@ exec-literal-select | why EXEC('SELECT 1') runs a query | read
EXEC('SELECT 1')

@@ sp-executesql-select | why the literal text is a parameterized query | read
EXEC sp_executesql N'SELECT * FROM t WHERE id = @id', N'@id int', @id = 1

@@ go-two-batches | why GO only separates batches | read
SELECT 1
GO
SELECT 2

@@ case-else-end | why ELSE and END close a CASE expression | read
SELECT CASE WHEN a = 1 THEN 'x' ELSE 'y' END FROM t

@@ create-table | why DDL that creates is allowed at write |
CREATE TABLE t2 (id int PRIMARY KEY, a int)

@@ create-index | why an index |
CREATE INDEX i ON t (a)

@@ alter-add | why adding a column removes nothing |
ALTER TABLE t ADD b int

@@ offset-fetch | why FETCH NEXT belongs to ORDER BY ... OFFSET | read
SELECT a FROM t ORDER BY a OFFSET 10 ROWS FETCH NEXT 5 ROWS ONLY

@@ cte-select | why a CTE feeding a query | read
WITH c AS (SELECT a FROM t) SELECT * FROM c

@@ version | why @@VERSION is a function | read
SELECT @@VERSION

@@ create-proc-select | why the body only reads |
CREATE PROCEDURE p AS BEGIN SELECT 1; END

@@ update-from-join | why the WHERE bounds the update |
UPDATE t SET a = 1 FROM t JOIN u ON t.id = u.id WHERE u.b = 2

@@ like-semicolon | why ';' is string data | read
SELECT * FROM t WHERE a LIKE N'%;%'

@@ while-select | why a loop around a query | read
WHILE 1 = 0 SELECT 1

@@ print | why PRINT sends a message | read
PRINT 'hello'

@@ money-binary | why $5.00 and 0x1F are constants | read
SELECT $5.00 AS m, 0x1F AS b

@@ for-xml | why FOR XML formats the result | read
SELECT a FROM t FOR XML PATH('')

@@ alter-column | why ALTER COLUMN changes a type, drops nothing |
ALTER TABLE t ALTER COLUMN a bigint

@@ on-delete-cascade | why ON DELETE CASCADE is part of the constraint |
CREATE TABLE c (id int, p int REFERENCES t (id) ON DELETE CASCADE)

@@ temp-table | why #temp tables are session-local |
CREATE TABLE #tmp (a int); INSERT INTO #tmp VALUES (1); SELECT * FROM #tmp

@@ update-statistics | why UPDATE STATISTICS refreshes optimizer statistics, no rows change |
UPDATE STATISTICS t

@@ create-trigger-list | why AFTER INSERT, UPDATE lists the trigger's events; its body only reads |
CREATE TRIGGER tr ON t AFTER INSERT, UPDATE AS BEGIN SELECT 1 END

@@ insert-select-union | why UNION ALL SELECT continues the INSERT's source |
INSERT INTO t (a) SELECT 1 UNION ALL SELECT 2

@@ if-else-blocks | why each branch is bounded |
IF @x = 1 BEGIN UPDATE t SET a = 1 WHERE id = 1 END ELSE BEGIN SELECT 1 END
