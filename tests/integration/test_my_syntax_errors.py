"""Issue 11 item 6, MySQL/MariaDB: a statement the classifier cannot read is
parsed (never run) by the server with COM_STMT_PREPARE + COM_STMT_CLOSE;
when the server rejects it with a parse error, the client gets the server's
own ERR (1064, 42000, message with position) as it would direct; when the
server can parse it (or refuses to prepare it for another reason, 1295), it
stays refused as fail-closed. Compared against the same client straight to
MariaDB; ground truth from the MariaDB general log and the table contents.
"""

import json
import os
import ssl as ssl_mod
import struct
import subprocess
import time

import pymysql
import pytest
from pymysql.constants import CLIENT

from test_audit_mysql_ground_truth import general_log, parse_general_log
from test_mysql_pipeline_attacks import Raw, close_stmt, packet, prepare, query
from test_mysql_proxy import needs_lexer

# The classifier nests at most 256 parentheses; the server parses this.
DEEP = "SELECT " + "(" * 300 + "1" + ")" * 300

# (text, what the server says is wrong): one statement or a multi-statement batch
TYPOS = [
    "SELEC 1",
    "SELECT 'abc",                       # unterminated quote
    'SELECT "abc',
    "SELECT 1 /* unterminated comment",
    "SELECT 1; SELEC 2",                 # typo in the second statement
    "SELECT 1;\n\n  SELEC\n 2; SELECT 3",  # ... in the middle, over lines
    "INSERT INTO syn_t VALUES (1); SELEC 2",
]
TABLE = "appdb.syn_t"


@pytest.fixture
def syn(my_ready, maria):
    needs_lexer(my_ready)
    maria.sql(f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (v INT);")
    yield my_ready
    maria.sql(f"DROP TABLE IF EXISTS {TABLE};")


def _count(maria):
    return int(maria.value(f"SELECT COUNT(*) FROM {TABLE}"))


def _tls_ctx():
    ctx = ssl_mod.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl_mod.CERT_NONE
    return ctx


def _direct(maria, multi=True):
    return pymysql.connect(host=maria.host, port=maria.port, user="app",
                           password=maria.passwords["app"], database="appdb",
                           autocommit=True,
                           client_flag=CLIENT.MULTI_STATEMENTS if multi else 0)


def _proxied(b, tls=False, multi=True):
    kw = {"client_flag": CLIENT.MULTI_STATEMENTS if multi else 0}
    if tls:
        kw["ssl"] = _tls_ctx()
    return b.pymysql(**kw)


def _error_of(conn, sql):
    """The first error a batch gets (from execute or a later result set) and
    the results that came before it."""
    cur = conn.cursor()
    results = []
    try:
        cur.execute(sql)
        results.append(cur.fetchall())
        while cur.nextset():
            results.append(cur.fetchall())
    except pymysql.err.MySQLError as e:
        return e.args[0], e.args[1], results
    return None, None, results


def _raw_direct(maria):
    """A Raw-like client straight to MariaDB (pymysql logs in, then bytes)."""
    class _B:
        def pymysql(self, **kw):
            return pymysql.connect(host=maria.host, port=maria.port, user="app",
                                   password=maria.passwords["app"], database="appdb",
                                   autocommit=True, **kw)
    return Raw(_B())


def _raw_err(raw):
    """The next packet, which must be an ERR: (sequence id, code, sqlstate,
    message)."""
    raw._need(4)
    seq = raw.buf[3]
    p = raw.packet()
    assert p[0] == 0xFF, p
    code = struct.unpack("<H", p[1:3])[0]
    assert p[3:4] == b"#"
    return seq, code, p[4:9].decode(), p[9:].decode(errors="replace")


# ---------------------------------------------------------------- real clients


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("sql", [t for t in TYPOS if "/*" not in t])  # the CLI strips comments
def test_mariadb_cli_typo_same_error_as_direct(syn, maria, sql, tls):
    # the CLI splits at ';' itself and stops at the first error, as direct
    direct = maria.sql(sql + ";\n", database="appdb", check=False)
    n_direct = _count(maria)
    maria.sql(f"TRUNCATE {TABLE}")
    proxied = syn.mysql(sql + ";\n", ssl=tls)
    assert "ERROR 1064 (42000) at line" in direct.stderr
    assert proxied.stderr == direct.stderr
    assert proxied.stdout == direct.stdout
    assert _count(maria) == n_direct
    # the session goes on (a new CLI run, and within one run with --force)
    r = syn.mysql("SELEC 0;\nSELECT 'after';\n", ssl=tls, args=("--force",))
    assert r.stdout.strip().splitlines()[-1] == "after", r


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("sql", TYPOS)
def test_pymysql_typo_same_error_as_direct(syn, maria, sql, tls):
    d = _direct(maria)
    p = _proxied(syn, tls=tls)
    try:
        want = _error_of(d, sql)
        n_direct = _count(maria)
        maria.sql(f"TRUNCATE {TABLE}")
        got = _error_of(p, sql)
        assert want[0] == 1064
        # same code and the server's own message, position included, and
        # the statements before the unreadable one ran, as direct
        assert got == want
        assert _count(maria) == n_direct
        # the session goes on
        cur = p.cursor()
        cur.execute("SELECT 41 + 1")
        assert cur.fetchall() == ((42,),)
    finally:
        d.close()


def test_pymysql_without_multi_statements(syn, maria):
    # without CLIENT_MULTI_STATEMENTS the server parses the text as one
    for sql in ("SELEC 1", "SELECT 1;\nSELEC 2"):
        d, p = _direct(maria, multi=False), _proxied(syn, multi=False)
        try:
            want, got = _error_of(d, sql), _error_of(p, sql)
            assert want[0] == 1064 and got[:2] == want[:2], (sql, want, got)
        finally:
            d.close()


def test_raw_prepare_typo_same_error_as_direct(syn, maria):
    """The client's own COM_STMT_PREPARE (binary protocol) of a typo: the
    server's ERR, sequence id 1, and the session goes on."""
    d, p = _raw_direct(maria), Raw(syn)
    try:
        for sql in ("SELEC ?", "SELECT * FROM accounts WHERE id = ? ORDER", "SELECT 'x"):
            d.send(prepare(sql))
            p.send(prepare(sql))
            want, got = _raw_err(d), _raw_err(p)
            assert want[1] == 1064 and want[2] == "42000"
            assert got == want, (sql, want, got)
        # the session still prepares and executes
        p.send(prepare("SELECT owner FROM accounts WHERE id = 2"))
        sid, err = p.prepare_ok()
        assert err is None
        p.send(packet(bytes([0x17]) + struct.pack("<IBI", sid, 0, 1)))
        first = p.packet()
        assert first[0] == 1  # one column
    finally:
        d.close()
        p.close()


MYSQL2_SCRIPT = r"""
const mysql = require('mysql2/promise');
(async () => {
  const out = {};
  const c = await mysql.createConnection({
    host: process.argv[2], port: Number(process.argv[3]), user: process.argv[4],
    password: process.env.SB_PW, database: 'appdb',
    ssl: process.argv[5] === 'tls' ? { rejectUnauthorized: false } : undefined,
  });
  try { await c.execute('SELEC id FROM accounts WHERE id = ?', [1]); out.typo = 'ran'; }
  catch (e) { out.typo = { errno: e.errno, sqlState: e.sqlState, message: e.message }; }
  const [rows] = await c.execute('SELECT owner FROM accounts WHERE id = ?', [3]);
  out.rows = rows;
  await c.end();
  console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ fatal: String(e) })); process.exit(1); });
"""


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_mysql2_execute_typo(syn, maria, mysql2_dir, tls):
    script = mysql2_dir / "syntax.js"
    script.write_text(MYSQL2_SCRIPT)

    def run(host, port, user, pw, mode):
        r = subprocess.run(["node", script, host, str(port), user, mode], cwd=mysql2_dir,
                           env={"SB_PW": pw, "PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout.strip().splitlines()[-1])

    want = run(maria.host, maria.port, "app", maria.passwords["app"], "plain")
    got = run(syn.host, syn.mysql_port, "alice", syn.token, "tls" if tls else "plain")
    assert want["typo"]["errno"] == 1064
    assert got["typo"] == want["typo"]
    assert got["rows"] == [{"owner": "carol"}]


# ---------------------------------------------------------------- audit, ground truth


def test_audit_names_what_happened(syn):
    syn.mysql("SELEC 42;\n")
    rec = syn.wait_audit("query", statement="SELEC 42")[-1]
    assert rec["decision"] == "server-rejected"
    assert rec["rule"] == "fail-closed"
    assert rec["error"].startswith("1064 (42000) You have an error in your SQL syntax")
    assert "near 'SELEC 42'" in rec["error"]
    syn.mysql(DEEP + ";\n")
    rec = syn.wait_audit("query", statement=DEEP)[-1]
    assert rec["decision"] == "deny"
    assert rec["rule"] == "fail-closed"
    assert "error" not in rec


def _log_path(maria):
    # somewhere mariadbd may write (pytest's tmp_path is private to root)
    return maria.base / f"general-{os.getpid()}-{time.monotonic_ns()}.log"


def test_nothing_runs_general_log(syn, maria):
    with general_log(maria, _log_path(maria)) as path:
        p = _proxied(syn)
        for sql in ("SELEC 1", "INSERT INTO syn_t VALUES (5); SELEC 2", "SELECT 'abc"):
            assert _error_of(p, sql)[0] == 1064
        cur = p.cursor()
        cur.execute("SELECT 'marker after the typos'")
        p.close()
        time.sleep(0.5)
        log = parse_general_log(path)
    entries = [e for es in log.values() for e in es]
    ran = [arg for cmd, arg in entries if cmd in ("Query", "Execute")]
    # the statement before the typo ran, as it would direct; nothing else
    assert ran == ["INSERT INTO syn_t VALUES (5)", "SELECT 'marker after the typos'"], entries
    # the server logs a Prepare only for text it parsed: none here
    assert [arg for cmd, arg in entries if cmd == "Prepare"] == [], entries
    assert _count(maria) == 1


# ---------------------------------------------------------------- adversarial


SERVER_PARSEABLE = [
    DEEP,                                                  # the classifier gives up
    DEEP + "; INSERT INTO syn_t VALUES (2)",               # prepared whole it fails at ';'
    "INSERT INTO syn_t " + DEEP + "; SELECT 2",
    "SELECT 1; " + DEEP,
]


@pytest.mark.parametrize("sql", SERVER_PARSEABLE, ids=["deep", "deep-then-insert",
                                                       "insert-deep", "select-then-deep"])
def test_server_parseable_unreadable_stays_refused(syn, maria, sql):
    # direct, the server runs it
    d = _direct(maria)
    assert _error_of(d, sql)[0] is None
    d.close()
    maria.sql(f"TRUNCATE {TABLE}")
    with general_log(maria, _log_path(maria)) as path:
        p = _proxied(syn)
        code, msg, results = _error_of(p, sql)
        cur = p.cursor()
        cur.execute("SELECT 'marker'")
        p.close()
        time.sleep(0.5)
        log = parse_general_log(path)
    assert code == 1227 and "blocked by rule 'fail-closed'" in msg, (code, msg)
    entries = [e for es in log.values() for e in es]
    # only the proxy's parse checks and their closes, never a run
    assert [arg for cmd, arg in entries if cmd in ("Query", "Execute")] == ["SELECT 'marker'"]
    assert {cmd for cmd, arg in entries} <= {"Connect", "Prepare", "Close stmt", "Query",
                                             "Quit", "Init DB"}, entries
    assert any(cmd == "Prepare" for cmd, arg in entries)
    assert _count(maria) == 0
    rec = syn.wait_audit("query", statement=sql)[-1]
    assert rec["decision"] == "deny" and rec["rule"] in ("fail-closed", "no-dynamic-sql")


def test_unsupported_prepare_stays_fail_closed(syn, maria):
    # the server refuses to prepare EXECUTE (1295): not a syntax error
    sql = "EXECUTE s USING " + DEEP[len("SELECT "):]
    p = _proxied(syn)
    code, msg, _ = _error_of(p, sql)
    assert code == 1227 and "fail-closed" in msg, (code, msg)
    rec = syn.wait_audit("query", statement=sql)[-1]
    assert rec["decision"] == "deny"
    cur = p.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchall() == ((1,),)


def test_deep_prepare_stays_refused(syn, maria):
    p = Raw(syn)
    try:
        p.send(prepare(DEEP))
        seq, code, state, msg = _raw_err(p)
        assert (seq, code, state) == (1, 1227, "42000")
        assert "fail-closed" in msg
        # the server's "last prepared" is not the client's: EXECUTE of -1 is refused
        p.send(packet(bytes([0x17]) + struct.pack("<IBI", 0xFFFFFFFF, 0, 1)))
        assert _raw_err(p)[1] == 1243
        p.send(query("SELECT 7"))
        assert p.reply() == ("rows", [[b"7"]])
    finally:
        p.close()


def test_pipelined_replies_in_order(syn, maria):
    """Several commands in one write, some unreadable: every reply comes in
    the client's order with the right sequence ids, and nothing unreadable
    runs."""
    with general_log(maria, _log_path(maria)) as path:
        p = Raw(syn)
        try:
            p.send(query("SELECT 1") + query("SELEC 2") + query("SELECT 3") +
                   query(DEEP) + prepare("SELEC ?") + query("INSERT INTO syn_t VALUES (9)") +
                   query("SELECT 'x") + prepare("SELECT ? + 1") + query("SELECT 5"))
            assert p.reply() == ("rows", [[b"1"]])
            e = _raw_err(p)
            assert e[:3] == (1, 1064, "42000") and "near 'SELEC 2'" in e[3]
            assert p.reply() == ("rows", [[b"3"]])
            e = _raw_err(p)
            assert e[:3] == (1, 1227, "42000")
            e = _raw_err(p)
            assert e[:3] == (1, 1064, "42000") and "near 'SELEC ?'" in e[3]
            assert p.reply()[0] == "ok"
            e = _raw_err(p)
            assert e[:2] == (1, 1064) and "near ''x'" in e[3]
            sid, err = p.prepare_ok()
            assert err is None
            assert p.reply() == ("rows", [[b"5"]])
            p.send(close_stmt(sid))
            p.send(query("SELECT 6"))
            assert p.reply() == ("rows", [[b"6"]])
            time.sleep(0.5)
            log = parse_general_log(path)
        finally:
            p.close()
    entries = [e for es in log.values() for e in es]
    ran = [arg for cmd, arg in entries if cmd in ("Query", "Execute")]
    assert ran == ["SELECT 1", "SELECT 3", "INSERT INTO syn_t VALUES (9)", "SELECT 5",
                   "SELECT 6"], entries
    assert _count(maria) == 1


def _session_state(conn):
    cur = conn.cursor()
    cur.execute("SELECT @x, @@session.sql_mode, DATABASE()")
    return cur.fetchall()


@pytest.mark.parametrize("sql,prefix_runs", [
    ("SELECT 5 INTO @x; SELEC 2", True),
    ("SELECT 5 INTO @x; SET @y = 1; SELEC 2", False),                    # holds "set"
    ("SELECT 5 INTO @x; USE information_schema; SELEC 2", False),        # changes the database
    ("SELECT 5 INTO @x;\nSELECT 1; \n SELEC 2; SELECT 6 INTO @x", True),
])
def test_batch_prefix(syn, maria, sql, prefix_runs):
    """The statements before the unreadable one run when allowed on their
    own and harmless to the rest's parse; else none of the batch runs. The
    error is the server's either way."""
    d, p = _direct(maria), _proxied(syn)
    try:
        want = _error_of(d, sql)
        got = _error_of(p, sql)
        assert want[0] == 1064 and got[:2] == want[:2], (want, got)
        if prefix_runs:
            assert got == want
            assert _session_state(p) == _session_state(d)
        else:
            assert got[2] == []
            assert _session_state(p) == ((None, _session_state(_direct(maria))[0][1], "appdb"),)
        cur = p.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == ((1,),)
    finally:
        d.close()
    rec = syn.wait_audit("query", statement=sql)[-1]
    assert rec["decision"] == "server-rejected"


class _RawFlags(Raw):
    """Raw with extra capability flags at login (e.g. DEPRECATE_EOF)."""
    def __init__(self, b, flags):
        self.conn = b.pymysql(client_flag=CLIENT.MULTI_STATEMENTS | flags)
        self.sock = self.conn._sock
        self.sock.settimeout(30)
        self.buf = b""


@pytest.mark.parametrize("deprecate_eof", [False, True], ids=["eof", "deprecate-eof"])
def test_batch_prefix_raw_packets(syn, maria, deprecate_eof):
    """The packets of a batch whose second statement is a typo: the first
    statement's result ends with "more results", the server's ERR follows
    with the next sequence id; byte for byte as direct (also with
    CLIENT_DEPRECATE_EOF, where results end with an OK packet)."""
    def packets(raw, sql):
        raw.send(query(sql))
        out = []
        while True:
            raw._need(4)
            seq = raw.buf[3]
            body = raw.packet()
            out.append((seq, body))
            if body[0] == 0xFF:
                return out
    flags = (1 << 24) if deprecate_eof else 0

    class _D:
        def pymysql(self, **kw):
            return pymysql.connect(host=maria.host, port=maria.port, user="app",
                                   password=maria.passwords["app"], database="appdb",
                                   autocommit=True, **kw)
    d, p = _RawFlags(_D(), flags), _RawFlags(syn, flags)
    try:
        for sql in ("SELECT 1 AS a; SELEC 2", "DO 1; SELEC 2", "SELECT 1 AS a; DO 2; SELEC 3",
                    "SELECT 1 AS a UNION SELECT 2; SELECT 'b' AS c;\n SELEC 3"):
            got, want = packets(p, sql), packets(d, sql)
            assert got == want, sql
            assert want[-1][1][:3] == b"\xff\x28\x04"  # 1064
        p.send(query("SELECT 7"))
        assert p.packet() == b"\x01"  # the session goes on: one column
    finally:
        d.close()
        p.close()


def _split_command(payload):
    """A command as the protocol frames one of 16 MiB - 1 or more."""
    out, seq, i = b"", 0, 0
    while True:
        chunk = payload[i:i + 0xFFFFFF]
        out += packet(chunk, seq)
        seq += 1
        i += len(chunk)
        if len(chunk) < 0xFFFFFF:
            return out


def test_large_typo_two_packets(syn, maria):
    """A 17 MiB statement with a typo comes in two packets: the server's
    ERR is the reply with sequence id 2, as direct."""
    sql = ("SELEC '" + "x" * (17 << 20) + "'").encode()
    d, p = _raw_direct(maria), Raw(syn)
    try:
        for raw in (d, p):
            raw.sock.settimeout(120)
        d.send(_split_command(b"\x03" + sql))
        p.send(_split_command(b"\x03" + sql))
        want, got = _raw_err(d), _raw_err(p)
        assert want[:3] == (2, 1064, "42000")
        assert got == want
        p.send(query("SELECT 8"))
        assert p.reply() == ("rows", [[b"8"]])
    finally:
        d.close()
        p.close()
    rec = syn.wait_audit("query", where=lambda r: r.get("decision") == "server-rejected"
                         and r.get("statement", "").startswith("SELEC 'xxx"))[-1]
    assert rec["rule"] == "fail-closed"


def _fake_server(kind):
    """A MySQL server that logs anyone in and answers the proxy's parse
    check (its COM_STMT_PREPARE) with `kind`: ok (PREPARE_OK, id 77),
    close (hangs up), garbage (a packet no prepare reply starts with),
    huge (a 2 MiB reply header)."""
    from fake_backends import MY_OK, my_greeting, my_packet, my_read

    def run(fake, conn):
        conn.sendall(my_packet(0, my_greeting(b"mysql_native_password", b"abcdefghijklmnopqrst")))
        r = my_read(fake, conn)
        if r is None:
            return
        conn.sendall(my_packet(r[0] + 1, MY_OK))
        while True:
            r = my_read(fake, conn)
            if r is None:
                return
            body = r[1]
            fake.events.append(("cmd", body[0], body[1:]))
            if body[0] == 0x16:
                if kind == "close":
                    conn.close()
                    return
                if kind == "garbage":
                    conn.sendall(my_packet(1, b"\x07garbage"))
                elif kind == "huge":
                    conn.sendall(struct.pack("<I", 2 << 20)[:3] + b"\x01" + b"\x00" * 64)
                else:
                    conn.sendall(my_packet(1, b"\x00" + struct.pack("<IHHBH", 77, 0, 0, 0, 0)))
            elif body[0] == 0x03:
                conn.sendall(my_packet(1, MY_OK))
            elif body[0] == 0x01:
                return
    return run


@pytest.mark.parametrize("kind", ["ok", "close", "garbage", "huge"])
def test_fake_backend_answers_check(my_bastion, kind):
    """What the server answers the check never runs anything: a parsed
    statement is closed at once (COM_STMT_CLOSE of its id, never an
    EXECUTE) and refused; a hang-up or a malformed or oversized answer
    ends that session only."""
    from fake_backends import FakeServer
    fake = FakeServer(_fake_server(kind))
    b = my_bastion
    try:
        b.add_user("alice")
        b.add_asset("fake", host=fake.host, port=fake.port, protocol="mysql", tls="disable")
        b.add_account("fake/app", username="app", password="fake-secret")
        b.grant("alice", "fake/app", "write")
        b.token = b.issue_token("alice", "fake/app")
        b.start()
        p = Raw(b)
        p.send(query("SELEC 1"))
        if kind == "ok":
            seq, code, state, msg = _raw_err(p)
            assert (seq, code, state) == (1, 1227, "42000") and "fail-closed" in msg
            p.send(query("SELECT 1"))
            assert p.reply()[0] == "ok"
            cmds = [(c, a) for e, c, a in (x for x in fake.events if isinstance(x, tuple))]
            assert cmds == [(0x16, b"SELEC 1"), (0x19, struct.pack("<I", 77)),
                            (0x03, b"SELECT 1")], cmds
            rec = b.wait_audit("query", statement="SELEC 1")[-1]
            assert rec["decision"] == "deny" and rec["rule"] == "fail-closed"
        else:
            with pytest.raises((ConnectionError, OSError)):
                for _ in range(3):
                    p.packet()  # at most an ERR, then the connection ends
            rec = b.wait_audit("query", statement="SELEC 1")[-1]
            assert rec["decision"] == "deny" and rec["rule"] == "fail-closed"
            assert "not checked" in rec["error"]
        p.close()
        assert b.running
        assert not any(isinstance(x, tuple) and x[1] == 0x17 for x in fake.events)
    finally:
        fake.close()


@pytest.mark.parametrize("sql", [
    # the statement before may change how the server parses the rest
    "SET sql_mode = 'ORACLE'; SELEC 2",
    "SET NAMES latin1; SELEC 2",
    "CALL nosuch(); SELEC 2",
    # a compound statement: the classifier's split may not be the server's
    "CREATE FUNCTION f() RETURNS INT BEGIN DELETE FROM syn_t; RETURN 1; END; SELECT f()",
    "BEGIN NOT ATOMIC SELECT 1; SELEC 2; END",
])
def test_batch_not_checked_stays_fail_closed(syn, maria, sql):
    """Batches whose split or parse state the proxy cannot vouch for are
    not sent to the server's parse check: the fail-closed denial, nothing
    runs."""
    with general_log(maria, _log_path(maria)) as path:
        p = _proxied(syn)
        code, msg, results = _error_of(p, sql)
        p.close()
        time.sleep(0.3)
        log = parse_general_log(path)
    # (CALL is refused by guard.rules' no-dynamic-sql first)
    assert code == 1227 and "sqlbastion: blocked by rule" in msg, (code, msg)
    entries = [e for es in log.values() for e in es]
    # the proxy's own catalog look-up (a CALL's routine) is not the client's
    assert [c for c, a in entries if c not in ("Connect", "Quit")
            and "sqlbastion:internal" not in a] == [], entries
    assert maria.value("SELECT COUNT(*) FROM information_schema.routines WHERE "
                       "routine_schema = 'appdb' AND routine_name = 'f'") == "0"
    rec = syn.wait_audit("query", statement=sql)[-1]
    assert rec["decision"] == "deny" and rec["rule"] in ("fail-closed", "no-dynamic-sql")
