"""Issue 10 class 8: idle_timeout is idle time, client strings escaped in
the diagnostic log, the unknown-user SCRAM salt stable across restarts, no
core dumps, lossless audit of bytes that are not UTF-8."""
import base64
import os
import resource
import signal
import socket
import struct
import time

import psycopg2
import pytest

from bastion import conninfo


def pg_connect(b):
    return psycopg2.connect(conninfo(host=b.host, port=b.port, user="alice", password=b.token,
                                     dbname="appdb", sslmode="disable", connect_timeout=5))


def test_idle_timeout_is_idle_time(bastion_factory, pg):
    b = bastion_factory(conf={"limits": {"idle_timeout": 2}})
    b.pg_ready(pg)
    busy, idle = pg_connect(b), pg_connect(b)
    busy.autocommit = idle.autocommit = True
    with idle.cursor() as c:
        c.execute("SELECT 1")
    for _ in range(6):  # 6 s of traffic every second: well past idle_timeout
        with busy.cursor() as c:
            c.execute("SELECT 1")
            assert c.fetchone() == (1,)
        time.sleep(1)
    with busy.cursor() as c:
        c.execute("SELECT 2")
        assert c.fetchone() == (2,)
    with pytest.raises(psycopg2.Error):
        with idle.cursor() as c:
            c.execute("SELECT 1")
    ends = b.audit_records("session_end")
    assert any(r.get("error") == "idle timeout" for r in ends), ends
    busy.close()


def startup(user, db="appdb", extra=()):
    body = b""
    for k, v in (("user", user), ("database", db), *extra):
        body += (k.encode() if isinstance(k, str) else k) + b"\0"
        body += (v.encode() if isinstance(v, str) else v) + b"\0"
    body += b"\0"
    return struct.pack("!II", 8 + len(body), 196608) + body


def recv_msg(s):
    hdr = b""
    while len(hdr) < 5:
        chunk = s.recv(5 - len(hdr))
        if not chunk:
            raise EOFError
        hdr += chunk
    t, n = hdr[0:1], struct.unpack("!I", hdr[1:5])[0]
    body = b""
    while len(body) < n - 4:
        chunk = s.recv(n - 4 - len(body))
        if not chunk:
            raise EOFError
        body += chunk
    return t, body


def scram_salt(b, user, src=None):
    """The salt the proxy offers `user` in SCRAM's server-first message
    (from source address src when given)."""
    s = socket.create_connection((b.host, b.port), timeout=5,
                                 source_address=(src, 0) if src else None)
    try:
        s.sendall(startup(user))
        t, body = recv_msg(s)
        assert t == b"R" and struct.unpack("!I", body[:4])[0] == 10, (t, body)
        first = b"n,,n=,r=abcdefghijklmnopqrstuvwx"
        mech = b"SCRAM-SHA-256\0"
        payload = mech + struct.pack("!I", len(first)) + first
        s.sendall(b"p" + struct.pack("!I", 4 + len(payload)) + payload)
        t, body = recv_msg(s)
        assert t == b"R" and struct.unpack("!I", body[:4])[0] == 11, (t, body)
        attrs = dict(kv.split("=", 1) for kv in body[4:].decode().split(","))
        return attrs["s"]
    finally:
        s.close()


def test_unknown_user_salt_stable_across_restart(pg_ready):
    b = pg_ready
    before = scram_salt(b, "nosuchuser")
    other = scram_salt(b, "nosuchuser2")
    known = scram_salt(b, "alice")
    assert before != other and before != known
    assert scram_salt(b, "nosuchuser") == before
    b.stop()
    b.start()
    assert scram_salt(b, "nosuchuser") == before
    assert scram_salt(b, "nosuchuser2") == other
    assert scram_salt(b, "alice") == known
    assert len(base64.b64decode(before)) == len(base64.b64decode(known))


def test_client_strings_escaped_in_log(pg_ready):
    b = pg_ready
    evil_user = "ev\nFORGED LINE\x1b[31m\r\\x"
    s = socket.create_connection((b.host, b.port), timeout=5)
    s.sendall(startup(evil_user, db="d\nFAKE", extra=(("app\nname", "v\x07"),)))
    try:
        while True:
            recv_msg(s)
    except (EOFError, OSError):
        pass
    s.close()
    # also an unknown startup parameter name with a newline in it
    s = socket.create_connection((b.host, b.port), timeout=5)
    s.sendall(startup("alice", extra=((b"bad\nparam\xff", "1"),)))
    s.settimeout(3)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
    time.sleep(0.3)
    log = b.log_text()
    for line in log.splitlines():
        assert not line.startswith("FORGED") and not line.startswith("FAKE"), line
        assert not line.startswith("param"), line
        assert "\x1b" not in line and "\r" not in line and "\x07" not in line, repr(line)
    # The names did reach the log (the refusal names the parameter), escaped.
    assert 'startup parameter "app\\x0aname" is not allowed' in log, log[-3000:]
    assert 'startup parameter "bad\\x0aparam\\xff" is not allowed' in log, log[-3000:]


def test_no_core_dumps(bastion_factory, pg):
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))  # inherited by the daemon
    try:
        b = bastion_factory()
        b.pg_ready(pg)
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
    with open(f"/proc/{b.pid}/limits") as f:
        core = [l for l in f if l.startswith("Max core file size")][0].split()
    assert core[4:6] == ["0", "0"] or core[4] == "0", core
    pid = b.pid
    os.kill(pid, signal.SIGABRT)
    b.proc.wait(timeout=10)
    b._expect_exit = True
    assert b.proc.returncode == -signal.SIGABRT
    assert not [p for p in os.listdir(b.dir) if p.startswith("core")], os.listdir(b.dir)


def test_dumpable_flag_cleared(pg_ready):
    """PR_SET_DUMPABLE 0 and RLIMIT_CORE 0, as the daemon reads them back
    with prctl(PR_GET_DUMPABLE) / getrlimit after setting them."""
    b = pg_ready
    log = b.log_text()
    assert "process: dumpable=0 core_limit=0 " in log, log[:2000]
    with open(f"/proc/{b.pid}/limits") as f:
        assert [l for l in f if l.startswith("Max core file size")][0].split()[4] == "0"


def test_non_utf8_statement_recoverable_from_audit(pg_ready, pg):
    """A statement with bytes that are not UTF-8 (through a raw Query): the
    exact bytes are recoverable from the record, and differ from the same
    text with U+00FF sent as valid UTF-8."""
    b = pg_ready
    conn = pg_connect(b)
    conn.autocommit = True
    with conn.cursor() as c:
        c.execute("SELECT 'marker-\u00ff'")
    conn.close()
    sent = b"SELECT 'marker-\xff\xfe\xc3(' AS x"
    conn = pg_connect(b)
    conn.autocommit = True
    with conn.cursor() as c:
        with pytest.raises(psycopg2.Error):
            c.execute(sent)  # the server refuses invalid UTF-8; the audit has it first
    conn.close()
    recs = b.wait_audit("query", count=2)
    raw = [r["statement"].encode("utf-8", "surrogateescape") for r in recs]
    assert sent in raw, raw
    assert "SELECT 'marker-\u00ff'".encode() in raw
    assert "\\udcff" in b.audit_jsonl.read_text()
    assert b.ctl("audit", "verify").returncode == 0
    # The search index decodes it back to the bytes too (no error, one hit).
    out = b.ctl("audit", "search", "--grep", "marker-", check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "\\xff\\xfe\\xc3(" in out.stdout, out.stdout


def test_mysql_idle_timeout_and_non_utf8_statement(bastion_factory, maria):
    """The MySQL twin: idle time (a busy session outlives idle_timeout, an
    idle one is closed with reason "idle timeout"), and a statement with
    bytes that are not UTF-8 is recoverable byte for byte from the record,
    matching what MariaDB's general log got."""
    b = bastion_factory(listeners=("postgres", "mysql"), conf={"limits": {"idle_timeout": 2}})
    b.mysql_ready(maria)
    busy, idle = b.pymysql(), b.pymysql()
    for _ in range(5):
        with busy.cursor() as c:
            c.execute("SELECT 1")
        time.sleep(1)
    sent = b"SELECT HEX('mk-\xff\xfe\xc3(') AS x"
    # pymysql sends str as utf-8; bytes through _execute_command go as is
    busy._execute_command(3, sent)  # COM_QUERY
    busy._read_query_result()
    # what the server got, byte for byte (it hexes the literal it lexed)
    assert busy._result.rows[0][0] == b"mk-\xff\xfe\xc3(".hex().upper()
    with pytest.raises(Exception):
        with idle.cursor() as c:
            c.execute("SELECT 1")
    assert any(r.get("error") == "idle timeout" for r in b.audit_records("session_end"))
    recs = b.wait_audit("query", where=lambda r: r.get("statement", "").startswith("SELECT HEX('mk-"))
    assert recs[0]["statement"].encode("utf-8", "surrogateescape") == sent


def test_finished_approvals_deleted_after_retention(bastion_factory, pg):
    """The approvals table is bounded: at start (and every minute) the
    daemon deletes requests that can no longer change once their last event
    is approval_retention old; pending ones and recent ones stay."""
    import sqlite3
    b = bastion_factory(conf={"limits": {"approval_retention": 3600}})
    b.pg_ready(pg, start=False)
    now = int(time.time())
    rows = [  # (status, created, decided, used)
        ("expired", now - 90000, None, None),
        ("rejected", now - 90000, now - 89000, None),
        ("used", now - 90000, now - 89000, now - 88000),
        ("approved", now - 90000, now - 89000, None),   # past the use TTL
        ("pending", now - 90000, None, None),           # past the pending TTL
        ("rejected", now - 600, now - 500, None),       # within the retention
        ("pending", now - 60, None, None),              # live
    ]
    db = sqlite3.connect(b.state_db)
    for i, (st, cr, de, us) in enumerate(rows):
        db.execute("INSERT INTO approvals (user, asset, account, protocol, statement, sha256,"
                   " rule, session, created, status, approver, decided, used)"
                   " VALUES ('alice', 'demo-pg', 'app', 'postgres', ?, ?, 'r', 1, ?, ?, ?, ?, ?)",
                   (f"DELETE FROM t{i}".encode(), os.urandom(32), cr, st,
                    "root" if de else None, de, us))
    db.commit()
    db.close()
    b.start()
    deadline = time.monotonic() + 5
    while True:
        db = sqlite3.connect(b.state_db)
        left = sorted(r[0] for r in db.execute("SELECT statement FROM approvals"))
        db.close()
        if len(left) <= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert left == [b"DELETE FROM t5", b"DELETE FROM t6"], left
    assert "approvals: deleted 5 requests older than approval_retention" in b.log_text()
