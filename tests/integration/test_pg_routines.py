"""Issue 15 class 1 (PostgreSQL): work hidden inside user routines.

`SELECT my_fn('DROP TABLE t')` runs whatever my_fn's body does. The proxy
asks the server's catalog (pg_proc) what each called routine is (language,
body, SECURITY DEFINER) and decides the call by its body, classified like a
CREATE FUNCTION body. Routines are created here by the superuser directly on
the server (as a DBA would); the calls go through the proxy with the guard
policy. Ground truth: the table is still there, its rows too, and the
server's statement log never saw the refused call.
"""

import re
import secrets

import psycopg2
import pytest

from audit_helpers import log_all_statements
from pg_raw import P, B, E, S, RawPg, errors, rows

INTERNAL = "/* sqlbastion:internal */"


@pytest.fixture
def routines(pg):
    """Table rt_<u> with 3 rows and routines over it (u unique per test)."""
    u = secrets.token_hex(4)
    t = f"rt_{u}"
    ddl = f"""
\\connect appdb
CREATE TABLE {t} (id int);
INSERT INTO {t} VALUES (1), (2), (3);
ALTER TABLE {t} OWNER TO app;
CREATE FUNCTION {t}_exec(text) RETURNS void LANGUAGE plpgsql AS $b$BEGIN EXECUTE $1; END$b$;
CREATE FUNCTION {t}_qexec(text) RETURNS SETOF int LANGUAGE plpgsql
  AS $b$BEGIN RETURN QUERY EXECUTE $1; END$b$;
CREATE FUNCTION {t}_wipe() RETURNS void LANGUAGE sql AS $b$DELETE FROM {t}$b$;
CREATE FUNCTION {t}_atomic() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM {t}; END;
CREATE FUNCTION {t}_secdef(text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
  AS $b$BEGIN EXECUTE 'DROP TABLE ' || quote_ident($1); END$b$;
CREATE FUNCTION {t}_c(text) RETURNS text LANGUAGE internal AS 'upper';
CREATE FUNCTION {t}_read() RETURNS bigint LANGUAGE plpgsql
  AS $b$BEGIN RETURN (SELECT count(*) FROM {t}); END$b$;
CREATE FUNCTION {t}_sqlread(int) RETURNS bigint LANGUAGE sql
  AS $b$SELECT count(*) FROM {t} WHERE id > $1$b$;
CREATE FUNCTION {t}_flip() RETURNS bigint LANGUAGE sql AS $b$SELECT count(*) FROM {t}$b$;
CREATE FUNCTION {t}_outer() RETURNS void LANGUAGE sql AS $b$SELECT {t}_wipe()$b$;
CREATE PROCEDURE {t}_proc() LANGUAGE sql AS $b$DELETE FROM {t}$b$;
CREATE PROCEDURE {t}_rproc() LANGUAGE plpgsql AS $b$BEGIN PERFORM count(*) FROM {t}; END$b$;
"""
    pg.sql(ddl)
    yield t
    pg.sql(f"\\connect appdb\nDROP TABLE IF EXISTS {t} CASCADE;\n"
           f"DROP ROUTINE IF EXISTS {t}_exec, {t}_qexec, {t}_wipe, {t}_atomic, {t}_secdef, "
           f"{t}_c, {t}_read, {t}_sqlread, {t}_flip, {t}_outer, {t}_proc, {t}_rproc;\n")


def _count(pg, t):
    """Rows of table t, -1 when it no longer exists (ground truth)."""
    out = pg.sql(f"\\connect appdb\nSELECT to_regclass('public.{t}') IS NULL;\n").strip()
    if out == "t":
        return -1
    return int(pg.sql(f"\\connect appdb\nSELECT count(*) FROM {t};\n").strip())


def _dangerous(t):
    return [
        f"SELECT {t}_exec('DROP TABLE {t}')",
        f"SELECT public.{t}_exec('DELETE FROM {t}')",
        f'SELECT "{t}_exec"(\'TRUNCATE {t}\')',
        f"SELECT * FROM {t}_qexec('DELETE FROM {t} RETURNING id')",
        f"SELECT {t}_wipe()",
        f"SELECT 1 WHERE {t}_wipe() IS NULL",
        f"SELECT {t}_atomic()",
        f"SELECT {t}_secdef('{t}')",
        f"SELECT {t}_c('x')",
        f"SELECT {t}_outer()",
        f"CALL {t}_proc()",
        f"SELECT 1; SELECT {t}_wipe()",
    ]


def _refused(conn, sql):
    cur = conn.cursor()
    with pytest.raises(psycopg2.Error) as ei:
        cur.execute(sql)
    assert "sqlbastion" in str(ei.value), (sql, str(ei.value))
    assert ei.value.pgcode == "42501", (sql, ei.value.pgcode)


def _server_saw(pg, offset, needle):
    with open(pg.log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    return [ln for ln in text.splitlines() if needle in ln and INTERNAL not in ln]


@pytest.mark.parametrize("level", ["write", "read"])
def test_dangerous_routine_calls_refused(bastion, pg, routines, level):
    t = routines
    bastion.pg_ready(pg, level=level)
    with log_all_statements(pg) as off:
        conn = bastion.connect()
        for sql in _dangerous(t):
            _refused(conn, sql)
            assert _count(pg, t) == 3, sql
        assert not _server_saw(pg, off, f"{t}_exec("), "a refused call reached the server"
        assert not _server_saw(pg, off, f"{t}_wipe("), "a refused call reached the server"
        assert not _server_saw(pg, off, f"{t}_proc("), "a refused call reached the server"
        # no false positive: a routine whose body only reads runs, at both levels
        cur = conn.cursor()
        cur.execute(f"SELECT {t}_read(), {t}_sqlread(1), count(*) FROM {t}")
        assert cur.fetchone() == (3, 2, 3)
        cur.execute(f"CALL {t}_rproc()")
        cur.execute("SELECT lower('X'), now() IS NOT NULL, coalesce(NULL, 1)")
        assert cur.fetchone() == ("x", True, 1)
    assert _count(pg, t) == 3
    rec = bastion.wait_audit("query", decision="deny")
    assert rec


def test_extended_protocol_call_refused(bastion, pg, routines):
    t = routines
    bastion.pg_ready(pg, level="write")
    raw = RawPg(bastion)
    try:
        rep = raw.run(P("", f"SELECT {t}_wipe()"), B("", ""), E(), S())
        assert errors(rep) and errors(rep)[0][0] == "42501", rep
        assert _count(pg, t) == 3
        rep = raw.run(P("s1", f"SELECT {t}_read()"), B("", "s1"), E(), S())
        assert not errors(rep) and rows(rep) == ["3"], rep
        # inside a block not ended by Sync no look-up can run: an unknown
        # user routine is dynamic, a common built-in is itself
        rep = raw.run(P("", "SELECT 1"), B("", ""), E(),
                      P("", f"SELECT {t}_wipe()"), B("", ""), E(), S())
        assert errors(rep) and errors(rep)[0][0] == "42501", rep
        assert _count(pg, t) == 3
        rep = raw.run(P("", "SELECT 1"), B("", ""), E(),
                      P("", f"SELECT count(*), max(id) FROM {t}"), B("", ""), E(), S())
        assert not errors(rep) and rows(rep) == ["1", "3"], rep
    finally:
        raw.close()


def test_replaced_by_another_session_is_seen(bastion, pg, routines):
    """CREATE OR REPLACE on a direct connection between two calls of the
    same proxied session: the second call is decided by the new body, also
    inside an open transaction block."""
    t = routines
    bastion.pg_ready(pg, level="write")
    conn = bastion.connect()
    cur = conn.cursor()
    cur.execute(f"SELECT {t}_flip()")
    assert cur.fetchone() == (3,)
    pg.sql(f"\\connect appdb\nCREATE OR REPLACE FUNCTION {t}_flip() RETURNS bigint "
           f"LANGUAGE sql AS $b$DELETE FROM {t} RETURNING 1$b$;\n")
    _refused(conn, f"SELECT {t}_flip()")
    assert _count(pg, t) == 3
    # and back, inside a transaction block
    pg.sql(f"\\connect appdb\nCREATE OR REPLACE FUNCTION {t}_flip() RETURNS bigint "
           f"LANGUAGE sql AS $b$SELECT count(*) FROM {t}$b$;\n")
    conn.autocommit = False
    cur.execute(f"SELECT {t}_flip()")
    assert cur.fetchone() == (3,)
    pg.sql(f"\\connect appdb\nCREATE OR REPLACE FUNCTION {t}_flip() RETURNS bigint "
           f"LANGUAGE plpgsql AS $b$BEGIN EXECUTE 'DELETE FROM {t}'; RETURN 0; END$b$;\n")
    _refused(conn, f"SELECT {t}_flip()")
    conn.rollback()
    assert _count(pg, t) == 3


def test_lookups_cached_and_skipped(bastion, pg, routines):
    """Statements that call no function never cause a catalog look-up; a
    built-in name is looked up once per session (until this session's DDL);
    a user routine once per statement that calls it."""
    t = routines
    bastion.pg_ready(pg, level="write")
    with log_all_statements(pg) as off:
        conn = bastion.connect()
        cur = conn.cursor()
        for i in range(5):
            cur.execute(f"SELECT id FROM {t} WHERE id = %s", (i,))
            cur.execute(f"UPDATE {t} SET id = id WHERE id = %s", (i,))
        with open(pg.log_path, "rb") as f:
            f.seek(off)
            assert INTERNAL.encode() not in f.read(), "look-up for a statement without calls"
        for _ in range(4):
            cur.execute(f"SELECT sum(id) FROM {t}")
        cur.execute(f"CREATE TABLE {t}_x (id int)")  # DDL: kept names forgotten
        cur.execute(f"SELECT sum(id) FROM {t}")
        for _ in range(2):
            cur.execute(f"SELECT {t}_read()")
        with open(pg.log_path, "rb") as f:
            f.seek(off)
            text = f.read().decode("utf-8", "replace")
    lookups = [ln.split("parameters: $1 = ", 1)[1] for ln in text.splitlines()
               if "parameters: $1 = " in ln]
    assert sum(re.search(r'[{,"]sum[",}]', ln) is not None for ln in lookups) == 2, lookups
    assert sum(f"{t}_read" in ln for ln in lookups) == 2, lookups
    pg.sql(f"\\connect appdb\nDROP TABLE IF EXISTS {t}_x;\n")


def test_policy_test_without_catalog(bastion, routines):
    """sqlbastionctl policy test cannot ask a catalog: a user routine is
    judged by its name only there, and CALL stays dynamic."""
    out = bastion.ctl("policy", "test", "--dialect", "pg", f"CALL {routines}_rproc()",
                      check=False)
    assert out.returncode == 1 and "dynamic" in out.stdout
