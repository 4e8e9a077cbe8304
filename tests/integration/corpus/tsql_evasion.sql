# T-SQL (SQL Server) evasion corpus: each case must be refused by
# `sqlbastionctl policy test --dialect tsql` with etc/policies/guard.rules
# (write grant unless "read"). No SQL Server runs here: the check field
# holds the one-line justification, what SQL Server does with the text
# (Transact-SQL reference). Format: tests/integration/corpus_helpers.py.

@@ nosemi-drop-then-select | why ';' is optional: SQL Server runs DROP TABLE t, then SELECT 1 |
DROP TABLE t SELECT 1

@@ nosemi-select-then-drop | why a batch splits at the next statement keyword: DROP runs after SELECT |
SELECT 1 DROP TABLE t

@@ nosemi-select-then-delete | why DELETE FROM t after a SELECT is its own statement and empties t |
SELECT * FROM t DELETE FROM t

@@ nosemi-delete-select-where | why the WHERE belongs to the SELECT, the DELETE has none |
DELETE FROM t SELECT * FROM u WHERE id = 1

@@ update-no-where | why UPDATE without WHERE changes every row |
UPDATE t SET a = 1

@@ delete-without-from | why FROM is optional in DELETE: DELETE t empties t |
DELETE t

@@ delete-top-no-where | why DELETE TOP (n) without WHERE deletes arbitrary rows |
DELETE TOP (1) FROM t

@@ update-top-no-where | why UPDATE TOP (n) without WHERE changes arbitrary rows |
UPDATE TOP (10) t SET a = 1

@@ delete-trivial-where | why WHERE 1 = 1 keeps every row in scope |
DELETE FROM t WHERE 1 = 1

@@ truncate | why TRUNCATE TABLE removes all rows |
TRUNCATE TABLE t

@@ cmt-between-words | why a comment separates tokens like a blank |
DROP/**/TABLE/**/t

@@ cmt-nested-then-drop | why comments nest in T-SQL: the outer comment ends at the second */ |
/* outer /* inner */ still comment */ DROP TABLE t

@@ cmt-nested-hides-close | why the first */ closes only the inner comment; ';' and DROP follow the outer close |
SELECT 1 /* /* */ ; */ DROP TABLE t

@@ cmt-dash | why -- comments end at the newline |
-- comment
DROP TABLE t

@@ cmt-dash-in-string | why '--' inside a string is data |
SELECT '--' DROP TABLE t

@@ bracket-escaped-close | why ]] inside [ ] stands for ] and does not end the identifier |
SELECT [x;]] DROP TABLE y] FROM t DROP TABLE t

@@ bracket-verb-not-verb | why [DROP] is an identifier, not the DROP keyword: refused as unreadable/dynamic |
[DROP] TABLE t

@@ nstring-semicolon | why N'...;' is one string constant; the DROP after it runs |
SELECT N'; ' DROP TABLE t

@@ string-doubled-quote | why '' inside a string is one quote |
SELECT 'it''s' DROP TABLE t

@@ string-backslash | why a backslash is no escape in T-SQL: 'a\' ends at its quote |
SELECT 'a\' DROP TABLE t --'

@@ dquote-ident | why "a;" is a quoted identifier (or a string with QUOTED_IDENTIFIER OFF): one token |
SELECT "a;" DROP TABLE t

@@ unicode-nbsp | why SQL Server reads U+00A0 between keywords as whitespace (read so here: the safe side) |
SELECT 1 DROP TABLE t

@@ unicode-ideographic-space | why U+3000 is Unicode whitespace |
DROP　TABLE t

@@ case-tricks | why keywords are case-insensitive |
dRoP tAbLe t

@@ exec-concat | why EXEC('DR'+'OP TABLE t') runs the concatenation: text not visible, dynamic |
EXEC('DR'+'OP TABLE t')

@@ exec-variable | why EXEC(@s) runs whatever @s holds |
DECLARE @s nvarchar(100) = N'DROP TABLE t' EXEC(@s)

@@ sp-executesql-variable | why sp_executesql @s runs the text in @s |
DECLARE @s nvarchar(100) = N'DROP TABLE t'; EXEC sp_executesql @s

@@ exec-literal-drop | why EXEC of a literal runs its text: DROP TABLE t |
EXEC (N'DROP TABLE t')

@@ execute-literal-truncate | why EXECUTE('...') is the same as EXEC |
EXECUTE('TRUNCATE TABLE t')

@@ sp-executesql-literal | why sp_executesql N'...' runs the literal |
EXEC sp_executesql N'DELETE FROM t'

@@ sp-executesql-named-param | why @stmt = N'...' names the text argument |
EXEC sp_executesql @stmt = N'DROP TABLE t'

@@ exec-nested-literal | why the inner EXEC runs DROP TABLE t |
EXEC ('EXEC(''DROP TABLE t'')')

@@ exec-at-linked | why EXEC(...) AT srv runs the text on a linked server |
EXEC ('SELECT 1') AT linked1

@@ exec-unknown-proc | why a procedure's body is not known offline: dynamic |
EXEC p

@@ exec-return-code | why EXEC @rc = p runs p |
DECLARE @rc int EXEC @rc = p

@@ exec-proc-variable | why EXEC @name runs the procedure named by a variable |
DECLARE @p sysname = N'p' EXEC @p

@@ implicit-exec-first | why the first statement of a batch may call a procedure without EXEC |
sp_executesql N'DROP TABLE t'

@@ xp-cmdshell | why xp_cmdshell runs an operating-system command |
EXEC xp_cmdshell 'dir'

@@ xp-cmdshell-qualified | why master..xp_cmdshell is the same procedure |
EXEC master..xp_cmdshell 'whoami'

@@ xp-cmdshell-brackets | why bracketed parts name the same procedure |
EXEC [master].[dbo].[xp_cmdshell] 'whoami'

@@ xp-cmdshell-implicit | why EXEC is optional for the first statement |
xp_cmdshell 'whoami'

@@ sp-oacreate | why OLE automation objects run host code |
DECLARE @o int EXEC sp_OACreate 'WScript.Shell', @o OUT

@@ sp-configure | why sp_configure changes server options |
EXEC sp_configure 'xp_cmdshell', 1; RECONFIGURE

@@ reconfigure | why RECONFIGURE applies pending server options |
RECONFIGURE WITH OVERRIDE

@@ shutdown | why SHUTDOWN stops the instance |
SHUTDOWN WITH NOWAIT

@@ openrowset-bulk | why OPENROWSET(BULK ...) reads a server file | read
SELECT * FROM OPENROWSET(BULK 'C:\secret.txt', SINGLE_CLOB) AS x

@@ opendatasource | why OPENDATASOURCE connects to an external source | read
SELECT * FROM OPENDATASOURCE('SQLNCLI', 'Data Source=x').db.dbo.t

@@ openquery | why OPENQUERY runs pass-through text on a linked server |
SELECT * FROM OPENQUERY(srv, 'DELETE FROM t')

@@ bulk-insert | why BULK INSERT loads a server file into a table |
BULK INSERT t FROM 'C:\data.csv'

@@ create-login | why a login is a server principal |
CREATE LOGIN evil WITH PASSWORD = 'x'

@@ alter-login | why ALTER LOGIN can enable sa |
ALTER LOGIN sa ENABLE

@@ create-user | why a database user gets access |
CREATE USER evil FOR LOGIN evil

@@ server-role | why ALTER SERVER ROLE ... ADD MEMBER grants server roles |
ALTER SERVER ROLE sysadmin ADD MEMBER evil

@@ sp-addsrvrolemember | why it adds a login to a fixed server role |
EXEC sp_addsrvrolemember 'evil', 'sysadmin'

@@ sp-addrolemember | why it adds a user to a database role |
EXEC sp_addrolemember 'db_owner', 'evil'

@@ grant | why GRANT changes permissions |
GRANT CONTROL SERVER TO evil

@@ deny | why DENY changes permissions |
DENY SELECT ON t TO public

@@ revoke | why REVOKE changes permissions |
REVOKE SELECT ON t FROM app

@@ execute-as | why EXECUTE AS switches the session's security context |
EXECUTE AS LOGIN = 'sa'

@@ kill | why KILL ends another session |
KILL 53

@@ insert-read | why INSERT writes | read
INSERT INTO t VALUES (1)

@@ select-into-read | why SELECT ... INTO creates and fills a table | read
SELECT * INTO t2 FROM t

@@ if-drop | why IF runs the next statement |
IF 1 = 1 DROP TABLE t

@@ if-begin-delete | why a BEGIN ... END block runs its statements |
IF EXISTS (SELECT 1) BEGIN DELETE FROM t END

@@ try-catch | why TRY runs its statements |
BEGIN TRY DROP TABLE t END TRY BEGIN CATCH SELECT 1 END CATCH

@@ go-separator | why GO separates batches (sqlcmd); the second batch drops t |
SELECT 1
GO
DROP TABLE t

@@ waitfor-then-drop | why WAITFOR is a statement of its own |
WAITFOR DELAY '00:00:01' DROP TABLE t

@@ create-proc-body | why the procedure's body (rest of the batch) drops t when called |
CREATE PROCEDURE p AS DROP TABLE t

@@ create-or-alter-proc | why CREATE OR ALTER PROCEDURE body deletes every row |
CREATE OR ALTER PROCEDURE p AS DELETE FROM t

@@ set-option-then-delete | why SET IDENTITY_INSERT t ON ends before DELETE |
SET IDENTITY_INSERT t ON DELETE FROM t

@@ declare-set-delete | why DECLARE, SET and DELETE are three statements |
DECLARE @x int SET @x = 1 DELETE FROM t

@@ backup | why BACKUP writes a server file |
BACKUP DATABASE d TO DISK = 'C:\x.bak'

@@ restore | why RESTORE overwrites a database from a file |
RESTORE DATABASE d FROM DISK = 'C:\x.bak'

@@ dbcc | why DBCC runs maintenance commands on the server |
DBCC SHRINKDATABASE(d)

@@ alter-drop-column | why ALTER TABLE ... DROP COLUMN removes a column |
ALTER TABLE t DROP COLUMN a

@@ sp-rename | why sp_rename renames a table |
EXEC sp_rename 't', 't2'

@@ drop-if-exists | why DROP TABLE IF EXISTS drops t |
DROP TABLE IF EXISTS t

@@ cte-delete | why the DELETE of a CTE deletes from its table |
WITH c AS (SELECT * FROM t) DELETE FROM c

@@ insert-exec | why INSERT ... EXEC runs the procedure |
INSERT INTO t EXEC p

@@ create-assembly | why an assembly loads a .NET DLL from a file |
CREATE ASSEMBLY a FROM 'C:\a.dll'

@@ trustworthy | why TRUSTWORTHY lets database code act as its owner on the server |
ALTER DATABASE d SET TRUSTWORTHY ON

@@ semi-comment-drop | why an empty comment after ';' hides nothing |
SELECT 1 ; /* */ DROP TABLE t

@@ foreachtable | why sp_MSforeachtable runs text for every table |
EXEC sp_MSforeachtable 'DROP TABLE ?'

@@ nolock-then-delete | why WITH (NOLOCK) ends the table hint, DELETE is a new statement |
SELECT * FROM t WITH (NOLOCK) DELETE FROM t

@@ save-tran-drop | why SAVE TRANSACTION s ends before DROP |
SAVE TRANSACTION s DROP TABLE t

@@ tran-drop-commit | why DROP inside a transaction still runs |
BEGIN TRAN DROP TABLE t COMMIT

@@ union-then-drop | why DROP follows the UNION query |
SELECT 1 UNION SELECT 2 DROP TABLE t

@@ cursor-then-drop | why the cursor's query ends before DROP |
DECLARE c CURSOR FOR SELECT 1 DROP TABLE t

@@ unterminated-string | why an unterminated string is refused by the server: fail closed |
SELECT 'abc
