"""Runs the little Oracle SQL the tests need on SQLite (test backend).

Translation is deliberately small: `:name` / `:1` binds become SQLite
positional parameters in order of first appearance (the order the thin
clients send bind values in), a one-row table DUAL exists, DDL commits the
open transaction first (as Oracle does), and SQLite errors are reported
as the ORA- error a user would see for the same mistake.
"""

import re
import sqlite3
import time
from decimal import Decimal

_BIND = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|--[^\n]*|/\*.*?\*/|:(\w+)", re.S)
_DDL = ("CREATE", "DROP", "ALTER", "TRUNCATE", "GRANT", "REVOKE", "COMMENT", "RENAME")


class OraError(Exception):
    def __init__(self, code, message, pos=0):
        super().__init__(f"ORA-{code:05d}: {message}")
        self.code = code
        self.pos = pos


def translate(sql):
    """Oracle text -> (SQLite text, ordered unique bind names)."""
    names = []

    def sub(m):
        name = m.group(1)
        if name is None:
            return m.group(0)
        key = name.upper()
        if key not in names:
            names.append(key)
        return f"?{names.index(key) + 1}"

    text = _BIND.sub(sub, sql.strip().rstrip(";"))
    return text, names


def statement_kind(sql):
    word = re.match(r"\s*(?:/\*.*?\*/\s*)*(\w+)", sql, re.S)
    word = word.group(1).upper() if word else ""
    if word in ("SELECT", "WITH"):
        return "query"
    if word in _DDL:
        return "ddl"
    if word in ("BEGIN", "DECLARE", "CALL"):
        return "plsql"
    return "dml"


def _ora_error(exc):
    msg = str(exc)
    low = msg.lower()
    if "no such table" in low:
        return OraError(942, "table or view does not exist")
    if "no such column" in low:
        col = msg.split(":", 1)[-1].strip().upper()
        return OraError(904, f'"{col}": invalid identifier')
    if "already exists" in low:
        return OraError(955, "name is already used by an existing object")
    if "unique constraint" in low:
        return OraError(1, "unique constraint (BACKEND.PK) violated")
    if "not null constraint" in low:
        return OraError(1400, "cannot insert NULL")
    if "locked" in low:
        return OraError(54, "resource busy and acquire with NOWAIT specified or timeout expired")
    if "syntax error" in low or "incomplete input" in low:
        return OraError(900, "invalid SQL statement")
    if "bindings" in low:
        return OraError(1008, "not all variables bound")
    return OraError(900, f"invalid SQL statement ({msg})")


class SqlSession:
    """One SQLite connection per Oracle session; shares the database file."""

    def __init__(self, path, should_stop=None):
        """should_stop() is polled by SB_SLEEP(seconds), the one slow
        function the tests can call, so a client's break can interrupt it."""
        self.db = sqlite3.connect(path, timeout=5, isolation_level=None,
                                  check_same_thread=False)
        self.should_stop = should_stop or (lambda: False)
        self.interrupted = False
        self.db.create_function("sb_sleep", 1, self._sleep)
        self.db.execute("CREATE TABLE IF NOT EXISTS dual (dummy VARCHAR2(1))")
        if self.db.execute("SELECT count(*) FROM dual").fetchone()[0] == 0:
            self.db.execute("INSERT INTO dual VALUES ('X')")
        self.in_txn = False

    def execute(self, sql, binds):
        """Run one statement. Returns (columns, rows, rowcount); columns is
        None for non-queries. Raises OraError."""
        kind = statement_kind(sql)
        if kind == "plsql":
            raise OraError(6550, "PL/SQL is not supported by this test backend")
        text, names = translate(sql)
        args = [_to_sqlite(v) for v in binds]
        if len(args) < len(names):
            raise OraError(1008, "not all variables bound")
        args = args[:len(names)]
        try:
            if kind == "ddl":
                self.commit()
                cur = self.db.execute(text, args)
                return None, [], 0
            if kind == "dml" and not self.in_txn:
                self.db.execute("BEGIN")
                self.in_txn = True
            cur = self.db.execute(text, args)
            if kind == "query" or cur.description is not None:
                cols = [d[0].upper() for d in cur.description]
                return cols, [tuple(r) for r in cur.fetchall()], 0
            return None, [], max(cur.rowcount, 0)
        except sqlite3.Error as e:
            if self.interrupted:
                self.interrupted = False
                raise OraError(1013, "user requested cancel of current operation") from None
            raise _ora_error(e) from None

    def _sleep(self, seconds):
        end = time.time() + float(seconds or 0)
        while time.time() < end:
            if self.should_stop():
                self.interrupted = True
                raise RuntimeError("interrupted")
            time.sleep(0.02)
        return 0

    def commit(self):
        if self.in_txn:
            self.db.execute("COMMIT")
            self.in_txn = False

    def rollback(self):
        if self.in_txn:
            self.db.execute("ROLLBACK")
            self.in_txn = False

    def close(self):
        try:
            self.rollback()
        finally:
            self.db.close()


def _to_sqlite(v):
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v
