"""Issue 15 class 1 (MySQL/MariaDB): work hidden inside stored routines.

`CALL p()` / `SELECT f()` run whatever the routine's body does. The proxy
reads information_schema.ROUTINES (protocols/mysql/my_routines.c) on the
client's backend connection, with a query tagged /* sqlbastion:internal */
that is never relayed nor audited, and decides the call by the body,
classified with the statement classifier. Routines are created here by root
directly on the server (as a DBA would); calls go through the proxy with the
guard policy, with real clients (pymysql, the mariadb CLI). Ground truth:
the table is still there with its rows, and MariaDB's general log never saw
a refused call.
"""

import secrets

import pymysql
import pytest

INTERNAL = "/* sqlbastion:internal */"


def _root(maria, db="appdb"):
    return pymysql.connect(unix_socket=str(maria.socket), user="root", database=db,
                           autocommit=True)


@pytest.fixture
def rt(maria):
    """Table t_<u> (3 rows) and routines over it in appdb; database h_<u>
    with a routine the hosted account may run but not read."""
    u = secrets.token_hex(4)
    t = f"t_{u}"
    conn = _root(maria)
    cur = conn.cursor()
    stmts = [
        f"CREATE TABLE {t} (id INT)",
        f"INSERT INTO {t} VALUES (1), (2), (3)",
        f"CREATE DEFINER='app'@'%' PROCEDURE {t}_wipe() DELETE FROM {t}",
        f"CREATE DEFINER='app'@'%' PROCEDURE {t}_drop() BEGIN DROP TABLE {t}; END",
        f"CREATE DEFINER='app'@'%' PROCEDURE {t}_upd() BEGIN DECLARE x INT DEFAULT 0; "
        f"WHILE x < 1 DO UPDATE {t} SET id = id + 10; SET x = x + 1; END WHILE; END",
        f"CREATE DEFINER='app'@'%' PROCEDURE {t}_grant() GRANT SELECT ON mysql.* TO 'app'@'%'",
        f"CREATE DEFINER='app'@'%' PROCEDURE {t}_exec(q TEXT) BEGIN SET @s = q; PREPARE st FROM @s; "
        f"EXECUTE st; DEALLOCATE PREPARE st; END",
        f"CREATE DEFINER='app'@'%' PROCEDURE {t}_outer() BEGIN CALL {t}_wipe(); END",
        f"CREATE DEFINER='app'@'%' PROCEDURE {t}_read() SELECT count(*) FROM {t}",
        f"CREATE DEFINER='app'@'%' FUNCTION {t}_fwipe() RETURNS INT MODIFIES SQL DATA "
        f"BEGIN DELETE FROM {t}; RETURN 1; END",
        f"CREATE DEFINER='app'@'%' FUNCTION {t}_fouter() RETURNS INT BEGIN RETURN {t}_fwipe(); END",
        f"CREATE DEFINER='app'@'%' FUNCTION {t}_fread() RETURNS INT READS SQL DATA "
        f"RETURN (SELECT count(*) FROM {t})",
        f"CREATE DEFINER='app'@'%' FUNCTION {t}_flip() RETURNS INT READS SQL DATA "
        f"RETURN (SELECT count(*) FROM {t})",
        f"CREATE DEFINER='app'@'%' FUNCTION {t}_names() RETURNS INT BEGIN SET NAMES latin1; RETURN 1; END",
        f"CREATE DATABASE h_{u}",
        f"CREATE PROCEDURE h_{u}.hread() SELECT 1",
        f"GRANT EXECUTE ON PROCEDURE h_{u}.hread TO 'app'@'%'",
    ]
    for s in stmts:
        cur.execute(s)
    yield t
    for s in [f"DROP TABLE IF EXISTS {t}", f"DROP DATABASE IF EXISTS h_{u}",
              "REVOKE IF EXISTS SELECT ON mysql.* FROM 'app'@'%'"]:
        try:
            cur.execute(s)
        except pymysql.MySQLError:
            pass
    for r in ("wipe", "drop", "upd", "grant", "exec", "outer", "read"):
        cur.execute(f"DROP PROCEDURE IF EXISTS {t}_{r}")
    for r in ("fwipe", "fouter", "fread", "flip", "names"):
        cur.execute(f"DROP FUNCTION IF EXISTS {t}_{r}")
    conn.close()


def _count(maria, t):
    """Rows of t, -1 when it no longer exists (ground truth)."""
    conn = _root(maria)
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = 'appdb' AND TABLE_NAME = %s", (t,))
    if cur.fetchone()[0] == 0:
        return -1
    cur.execute(f"SELECT count(*), COALESCE(max(id), 0) FROM {t}")
    n, mx = cur.fetchone()
    conn.close()
    return n if mx <= 3 else 100 + n  # an UPDATE that ran shows as > 100


def _can_read_mysql(maria):
    conn = _root(maria)
    cur = conn.cursor()
    cur.execute("SHOW GRANTS FOR 'app'@'%'")
    g = " ".join(r[0] for r in cur.fetchall())
    conn.close()
    return "`mysql`" in g


@pytest.fixture
def glog(maria, tmp_path):
    path = maria.base / f"general-{secrets.token_hex(4)}.log"  # the server's own directory
    conn = _root(maria)
    cur = conn.cursor()
    cur.execute(f"SET GLOBAL general_log_file = '{path}'")
    cur.execute("SET GLOBAL log_output = 'FILE'")
    cur.execute("SET GLOBAL general_log = ON")
    yield path
    cur.execute("SET GLOBAL general_log = OFF")
    conn.close()


def _log(path):
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _client_lines(path):
    """Query lines of the general log that are not the proxy's own."""
    return [ln for ln in _log(path).splitlines() if "Query" in ln and INTERNAL not in ln]


def _dangerous(t, u):
    return [
        f"CALL {t}_wipe()",
        f"CALL {t}_wipe",
        f"call appdb.{t}_WIPE()",
        f"CALL `appdb`.`{t}_wipe`()",
        f"/*!CALL {t}_wipe() */",
        f"CALL {t}_drop()",
        f"CALL {t}_upd()",
        f"CALL {t}_grant()",
        f"CALL {t}_exec('DELETE FROM {t}')",
        f"CALL {t}_exec('SELECT 1')",
        f"CALL {t}_outer()",
        f"SELECT {t}_fwipe()",
        f"SELECT `{t}_fwipe`()",
        f"SELECT appdb.{t}_fwipe()",
        f"SELECT 1 FROM dual WHERE {t}_fwipe() IS NULL",
        f"SELECT {t}_fouter()",
        f"SELECT 1; SELECT {t}_fwipe()",
        f"DO {t}_fwipe()",
        f"SET @x = {t}_fwipe()",
        f"SELECT id FROM {t} WHERE id = {t}_fwipe()",
        f"CALL h_{u}.hread()",
        f"CALL {t}_nosuch()",
    ]


def _refused(conn, sql):
    cur = conn.cursor()
    with pytest.raises(pymysql.MySQLError) as ei:
        cur.execute(sql)
        while cur.nextset():
            pass
    assert "sqlbastion" in str(ei.value), (sql, str(ei.value))


def _write_rules(rules, t, u):
    assert rules[f"CALL {t}_wipe()"] == "no-unbounded-write"
    assert rules[f"CALL {t}_drop()"] == "no-drop"
    assert rules[f"CALL {t}_upd()"] == "no-unbounded-write"
    assert rules[f"CALL {t}_grant()"] == "no-privilege-change"
    assert rules[f"CALL {t}_exec('SELECT 1')"] == "no-dynamic-sql"
    assert rules[f"CALL {t}_outer()"] == "no-unbounded-write"
    assert rules[f"SELECT {t}_fouter()"] == "no-unbounded-write"
    assert rules[f"CALL h_{u}.hread()"] == "no-dynamic-sql"  # body not visible
    assert rules[f"CALL {t}_nosuch()"] == "no-dynamic-sql"


@pytest.mark.parametrize("level", ["write", "read"])
def test_dangerous_routine_calls_refused(my_bastion, maria, rt, glog, level):
    t = rt
    u = t[2:]
    my_bastion.mysql_ready(maria, level=level)
    conn = my_bastion.pymysql(client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    for sql in _dangerous(t, u):
        _refused(conn, sql)
        assert _count(maria, t) == 3, sql
    assert not _can_read_mysql(maria)
    # decided by what each body does, not as an unknown call
    rules = {r["statement"]: r.get("rule") for r in my_bastion.audit_records("query")}
    if level == "read":
        assert set(rules.values()) <= {"grant-level:read", "no-dynamic-sql"}, rules
        assert rules[f"CALL {t}_wipe()"] == "grant-level:read"
        assert rules[f"SELECT {t}_fwipe()"] == "grant-level:read"
    else:
        _write_rules(rules, t, u)
    seen = [ln for ln in _client_lines(glog) if f"{t}_" in ln or f"h_{u}" in ln]
    seen = [ln for ln in _client_lines(glog) if f"{t}_" in ln or f"h_{u}" in ln]
    assert not seen, f"a refused call reached the server: {seen}"
    # the proxy did ask the catalog, tagged
    assert INTERNAL in _log(glog)
    # no false positive: routines whose body only reads run, at both levels
    cur = conn.cursor()
    cur.execute(f"SELECT {t}_fread(), `{t}_FREAD`(), appdb.{t}_fread(), count(*) FROM {t}")
    assert cur.fetchone() == (3, 3, 3, 3)
    cur.execute(f"CALL {t}_read()")
    assert cur.fetchone() == (3,)
    while cur.nextset():
        pass
    cur.execute(f"CALL `appdb`.`{t}_read`")
    assert cur.fetchone() == (3,)
    while cur.nextset():
        pass
    cur.execute("SELECT concat('a', 'b'), now() IS NOT NULL, coalesce(NULL, 1), "
                "count(*), sleep(0) FROM appdb.accounts")
    assert cur.fetchone() == ("ab", 1, 1, 3, 0)
    assert _count(maria, t) == 3
    # the mariadb CLI: refused and allowed alike
    out = my_bastion.mysql(f"CALL {t}_wipe();")
    assert out.returncode != 0 and "sqlbastion" in out.stderr, out
    out = my_bastion.mysql(f"SELECT {t}_fread();")
    assert out.returncode == 0 and out.stdout.strip() == "3", out
    assert _count(maria, t) == 3
    # the proxy's exchange is not audited as the client's
    assert not [r for r in my_bastion.audit_records("query")
                if INTERNAL in (r.get("statement") or "")]


def test_redefined_routine_is_inspected_again(my_ready, maria, rt):
    """DROP + CREATE on a direct connection between two calls of the same
    proxied session, and through the proxied session itself: each call is
    decided by the body the server holds at that moment."""
    t = rt
    conn = my_ready.pymysql()
    cur = conn.cursor()
    cur.execute(f"SELECT {t}_flip()")
    assert cur.fetchone() == (3,)
    root = _root(maria)
    rc = root.cursor()
    rc.execute(f"DROP FUNCTION {t}_flip")
    rc.execute(f"CREATE DEFINER='app'@'%' FUNCTION {t}_flip() RETURNS INT MODIFIES SQL DATA "
               f"BEGIN DELETE FROM {t}; RETURN 0; END")
    _refused(conn, f"SELECT {t}_flip()")
    assert _count(maria, t) == 3
    # redefined through the proxy (a benign body, then back to a harmful one)
    cur.execute(f"CREATE OR REPLACE DEFINER='app'@'%' FUNCTION {t}_flip() RETURNS INT READS SQL DATA "
                f"RETURN (SELECT count(*) FROM {t})")
    cur.execute(f"SELECT {t}_flip()")
    assert cur.fetchone() == (3,)
    rc.execute(f"DROP FUNCTION {t}_flip")
    rc.execute(f"CREATE DEFINER='app'@'%' FUNCTION {t}_flip() RETURNS INT MODIFIES SQL DATA "
               f"BEGIN UPDATE {t} SET id = id + 10; RETURN 0; END")
    _refused(conn, f"SELECT {t}_flip()")
    assert _count(maria, t) == 3
    root.close()


def test_use_changes_resolution(my_ready, maria, rt):
    """USE of another database changes where an unqualified name resolves,
    and the look-up follows it."""
    t = rt
    conn = my_ready.pymysql()
    cur = conn.cursor()
    cur.execute("USE information_schema")
    _refused(conn, f"CALL appdb.{t}_wipe()")
    # unqualified: resolves in information_schema, where it does not exist: dynamic
    _refused(conn, f"CALL {t}_read()")
    cur.execute(f"SELECT appdb.{t}_fread()")
    assert cur.fetchone() == (3,)
    cur.execute("USE appdb")
    cur.execute(f"SELECT {t}_fread()")
    assert cur.fetchone() == (3,)
    assert _count(maria, t) == 3


def test_routine_changing_session_state_reprobes(my_ready, maria, rt, glog):
    """A function whose body runs SET NAMES may change how the server lexes
    what follows: the relay asks the server's session state again before
    the next text whose reading depends on it."""
    t = rt
    conn = my_ready.pymysql()
    cur = conn.cursor()
    cur.execute("SELECT 'a\\'b'")  # a first probe
    assert cur.fetchone() == ("a'b",)
    before = _log(glog).count("@@SESSION.sql_mode")
    cur.execute(f"SELECT {t}_names()")
    cur.execute("SELECT 'c\\'d'")
    assert cur.fetchone() == ("c'd",)
    assert _log(glog).count("@@SESSION.sql_mode") == before + 1


def test_no_lookup_for_builtins_only(my_ready, maria, glog):
    """Statements that call no stored routine never cause a look-up."""
    conn = my_ready.pymysql()
    cur = conn.cursor()
    for i in range(3):
        cur.execute("SELECT id, upper(owner), round(balance), count(*) OVER () "
                    "FROM accounts WHERE id = %s", (i,))
        cur.execute("SELECT now(), concat_ws(',', 'a', 'b'), json_extract('{\"a\":1}', '$.a'), "
                    "`concat`('x', 'y'), IFNULL(NULL, 2), date_format(now(), '%%Y')")
        cur.execute("UPDATE accounts SET balance = balance WHERE id = %s", (i,))
    assert INTERNAL not in _log(glog), "look-up for a statement calling no stored routine"


def test_builtin_lists_match_the_server(maria):
    """Every name the proxy takes as a built-in without asking the catalog
    (policy/my_builtins.c) is one on the real server: calling it never makes
    the server look for a stored function (errors 1305 / 1630)."""
    import re
    from bastion import REPO
    src = (REPO / "policy" / "my_builtins.c").read_text()
    lists = dict(re.findall(r"static const char \*const (\w+)\[\] = \{(.*?)\};", src, re.S))
    native = re.findall(r'"(\w+)"', lists["native"])
    grammar = re.findall(r'"(\w+)"', lists["grammar"])
    assert len(native) > 300 and len(grammar) > 50
    conn = _root(maria)
    cur = conn.cursor()
    bad = []

    def check(sql):
        try:
            cur.execute(sql)
            cur.fetchall()
        except pymysql.MySQLError as e:
            if e.args[0] in (1305, 1630):
                bad.append(sql)
    for n in native:
        for sql in (f"SELECT `{n}`(1,2,3,4,5,6,7,8,9,10,11,12)", f"SELECT `{n}`()",
                    f"SELECT {n} ()", f"SELECT {n}()"):
            check(sql)
    for n in grammar:
        check(f"SELECT {n}(1,2,3,4,5,6,7,8,9,10,11,12)")
        check(f"SELECT {n}()")
    # reserved words never call a stored function, spaced or not
    reserved = re.findall(r'"(\w+)"', lists["reserved"])
    assert "return" in reserved and "until" not in reserved
    for n in reserved:
        check(f"SELECT {n} (1)")
        check(f"SELECT {n}(1)")
    conn.close()
    assert not bad, bad


def test_policy_test_without_catalog(my_bastion, rt):
    """sqlbastionctl policy test cannot ask a catalog: it says so, a stored
    function is judged by its name only and CALL stays dynamic."""
    out = my_bastion.ctl("policy", "test", "--dialect", "mysql", f"CALL {rt}_read()",
                         check=False)
    assert out.returncode == 1 and "dynamic" in out.stdout, out.stdout
    assert "catalog" in out.stdout, out.stdout
    out = my_bastion.ctl("policy", "test", "--dialect", "mysql", "SELECT count(*) FROM t",
                         check=False)
    assert out.returncode == 0 and "catalog" not in out.stdout, out.stdout


def test_pipelined_calls_wait_for_quiet(my_ready, maria, rt, glog):
    """Raw protocol, many commands in one write (a slow statement first):
    the look-up goes out only when nothing is in flight, the replies come
    back in order, none of the proxy's exchange reaches the client, and the
    harmful call is refused. COM_STMT_PREPARE of a call is decided by the
    body too."""
    from test_mysql_pipeline_attacks import Raw, prepare, query
    t = rt
    raw = Raw(my_ready)
    raw.send(query("SELECT SLEEP(0.3), 1") + query(f"SELECT {t}_fread()")
             + query(f"CALL {t}_wipe()") + query("SELECT 2")
             + query(f"SELECT 3, {t}_fread()") + prepare(f"SELECT {t}_fwipe()")
             + prepare(f"CALL {t}_read()"))
    r = [raw.reply() for _ in range(5)]
    assert r[0] == ("rows", [[b"0", b"1"]]), r[0]
    assert r[1] == ("rows", [[b"3"]]), r[1]
    assert r[2][0] == "err" and "sqlbastion" in r[2][1], r[2]
    assert r[3] == ("rows", [[b"2"]]), r[3]
    assert r[4] == ("rows", [[b"3", b"3"]]), r[4]
    sid, err = raw.prepare_ok()
    assert sid is None and "sqlbastion" in err, err
    sid, err = raw.prepare_ok()
    assert sid, err
    raw.send(query("SELECT 4"))
    assert raw.reply() == ("rows", [[b"4"]])
    raw.close()
    assert _count(maria, t) == 3
    assert not [ln for ln in _client_lines(glog) if f"{t}_wipe" in ln or f"{t}_fwipe" in ln]


def test_recursive_routines_refused(my_ready, maria, rt):
    """A cycle of calls (p -> q -> p, f -> f) is followed to the depth limit
    and refused; the look-ups per statement stay bounded."""
    t = rt
    root = _root(maria)
    cur = root.cursor()
    cur.execute(f"CREATE DEFINER='app'@'%' PROCEDURE {t}_ping() CALL {t}_pong()")
    cur.execute(f"CREATE DEFINER='app'@'%' PROCEDURE {t}_pong() CALL {t}_ping()")
    cur.execute(f"CREATE DEFINER='app'@'%' FUNCTION {t}_self(n INT) RETURNS INT "
                f"RETURN IF(n > 0, {t}_self(n - 1), 0)")
    try:
        conn = my_ready.pymysql()
        _refused(conn, f"CALL {t}_ping()")
        _refused(conn, f"SELECT {t}_self(3)")
        c2 = conn.cursor()
        c2.execute(f"SELECT {t}_fread()")  # the session goes on
        assert c2.fetchone() == (3,)
    finally:
        for s in (f"DROP PROCEDURE {t}_ping", f"DROP PROCEDURE {t}_pong",
                  f"DROP FUNCTION {t}_self"):
            cur.execute(s)
        root.close()
