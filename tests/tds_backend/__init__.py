"""TEST BACKEND standing in for SQL Server (no SQL Server can be installed
here). It speaks enough TDS 7.1-7.4 and TDS 8.0 for the real clients the
suite drives (FreeTDS tsql, pymssql, pytds, node tedious, jTDS): PRELOGIN
with TLS carried inside PRELOGIN packets (login-only, full, strict), LOGIN7,
SQLBatch, RPC, Attention and transaction-manager requests. Statements run
on SQLite after a small T-SQL translation. Every thing it executes is
appended as one JSON line to a ground-truth log. See README.md; it is not
a SQL Server and never a production component."""
