"""Ending or cancelling sessions (issue 10 class 4, issue 15 class 6).

Every bastion user of a hosted account is the same database user, so the
server itself lets any of them end the others' sessions: the proxy is the
only guard. Two bastion users (alice, bob, both `write`) share one hosted
account; carol has `operate` on it. Ground truth is the server: bob's long
query must finish uncancelled and his backend must still be alive after
every attempt of alice (every form the server accepts), while alice's
attempts on her own sessions (by backend id, and by proxy id) and carol's
on bob's really take effect.
"""

import threading
import time

import pytest


def _slow(run, out):
    """Run run() in a thread; out gets 'value' or 'error' and 'elapsed'."""
    def body():
        t0 = time.monotonic()
        try:
            out["value"] = run()
        except Exception as e:  # noqa: BLE001 - the error is the result
            out["error"] = repr(e)
        out["elapsed"] = time.monotonic() - t0
    t = threading.Thread(target=body)
    t.start()
    return t


# ---------------------------------------------------------------- PostgreSQL

def _pg_value(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchone()[0]


def _pg_alive(pg, pid):
    return pg.sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}").strip() == "1"


PG_FORMS = [
    "SELECT pg_terminate_backend({pid})",
    "SELECT pg_cancel_backend({pid})",
    "SELECT pg_catalog.pg_cancel_backend({pid})",
    'SELECT "pg_cancel_backend"({pid})',
    'SELECT PG_CATALOG."pg_cancel_backend"({pid})',
    "SELECT * FROM pg_cancel_backend({pid})",
    "SELECT 1 WHERE pg_cancel_backend({pid})",
    "SELECT pg_cancel_backend({pid}::int)",
    "SELECT pg_cancel_backend({pid} + 0)",
    "SELECT pg_cancel_backend((SELECT {pid}))",
    "SELECT pg_cancel_backend(/* x */ {pid})",
    "SELECT pg_terminate_backend({pid}, 1000)",
    "SELECT 1; SELECT pg_cancel_backend({pid})",
    "EXPLAIN ANALYZE SELECT pg_cancel_backend({pid})",
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
    "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE usename = 'app'",
]


def test_pg_session_kill_ownership(pg_ready, pg):
    import psycopg2
    b = pg_ready
    tok_alice = b.token
    for u, level in (("bob", "write"), ("carol", "operate")):
        b.add_user(u)
        b.grant(u, "demo-pg/app", level)
    tok_bob = b.issue_token("bob", "demo-pg/app")
    tok_carol = b.issue_token("carol", "demo-pg/app")

    bob = b.connect(user="bob", token=tok_bob)
    bob_pid = _pg_value(bob, "SELECT pg_backend_pid()")
    alice = b.connect(user="alice", token=tok_alice)
    alice_pid = _pg_value(alice, "SELECT pg_backend_pid()")
    assert bob_pid != alice_pid and _pg_alive(pg, bob_pid)

    # Bob's long query runs while alice tries every form on his backend.
    res = {}
    t = _slow(lambda: _pg_value(bob, "SELECT 1 FROM pg_sleep(4)"), res)
    time.sleep(0.5)
    for form in PG_FORMS:
        sql = form.format(pid=bob_pid)
        with pytest.raises(psycopg2.Error) as ei:
            _pg_value(alice, sql)
        assert "sqlbastion:" in str(ei.value), (sql, str(ei.value))
    t.join(30)
    assert res.get("value") == 1, res  # not cancelled
    assert _pg_alive(pg, bob_pid)
    assert _pg_value(bob, "SELECT 7") == 7
    refused = b.wait_audit("query", decision="deny", rule="grant-level:operate",
                           count=len(PG_FORMS))
    assert len(refused) >= len(PG_FORMS)

    # Alice may cancel and end her own other session, by its backend id...
    alice2 = b.connect(user="alice", token=tok_alice)
    a2_pid = _pg_value(alice2, "SELECT pg_backend_pid()")
    res = {}
    t = _slow(lambda: _pg_value(alice2, "SELECT 1 FROM pg_sleep(30)"), res)
    time.sleep(0.5)
    assert _pg_value(alice, f"SELECT pg_cancel_backend({a2_pid})") is True
    t.join(20)
    assert "QueryCanceled" in res.get("error", "") and res["elapsed"] < 10, res
    # ... and by the proxy's id (the cancel key the proxy gave her client).
    res = {}
    t = _slow(lambda: _pg_value(alice2, "SELECT 1 FROM pg_sleep(30)"), res)
    time.sleep(0.5)
    alice2.cancel()
    t.join(20)
    assert "QueryCanceled" in res.get("error", "") and res["elapsed"] < 10, res
    assert _pg_value(alice, f"SELECT pg_terminate_backend({a2_pid})") is True
    for _ in range(50):
        if not _pg_alive(pg, a2_pid):
            break
        time.sleep(0.1)
    assert not _pg_alive(pg, a2_pid)
    # Her benign twins: reading who is connected stays allowed.
    assert _pg_value(alice, "SELECT count(*) >= 1 FROM pg_stat_activity") is True

    # An `operate` grant may end bob's session.
    carol = b.connect(user="carol", token=tok_carol)
    assert _pg_value(carol, f"SELECT pg_terminate_backend({bob_pid})") is True
    for _ in range(50):
        if not _pg_alive(pg, bob_pid):
            break
        time.sleep(0.1)
    assert not _pg_alive(pg, bob_pid)
    with pytest.raises(psycopg2.Error):
        _pg_value(bob, "SELECT 1")


# ---------------------------------------------------------------- MariaDB

def _my_value(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    row = cur.fetchone()
    while cur.nextset():
        pass
    return row[0] if row else None


def _my_alive(maria, thread):
    return maria.value(
        f"SELECT count(*) FROM information_schema.processlist WHERE id = {thread}") == "1"


def _prepare_execute(conn, sql):
    """COM_STMT_PREPARE then COM_STMT_EXECUTE of sql (no parameters) on a
    pymysql connection, raw; raises pymysql errors like a query would."""
    import struct
    from pymysql.constants import COMMAND
    conn._execute_command(COMMAND.COM_STMT_PREPARE, sql)
    ok = conn._read_packet()
    stmt_id = struct.unpack("<I", ok.get_all_data()[1:5])[0]
    ncols, nparams = struct.unpack("<HH", ok.get_all_data()[5:9])
    for _ in range(nparams + (1 if nparams else 0) + ncols + (1 if ncols else 0)):
        conn._read_packet()  # definitions and their EOFs
    conn._execute_command(COMMAND.COM_STMT_EXECUTE, struct.pack("<IBI", stmt_id, 0, 1))
    conn._read_packet()


def _interrupted(res):
    """SLEEP() answers 1, or the query fails with 1317, when killed."""
    return (res.get("value") == 1 or "1317" in res.get("error", "")) and res["elapsed"] < 10


MY_FORMS = [
    "KILL QUERY /**/ {thread}",
    "KILL /**/ {thread}",
    "KILL QUERY ({thread})",
    "KILL ({thread})",
    "KILL QUERY {prev}+1",
    "KILL HARD QUERY ({thread})",
    "KILL SOFT CONNECTION ({thread})",
    "/*!KILL QUERY {thread}*/",
    "/*!50000 KILL QUERY {thread}*/",
    "/*M!100000 KILL QUERY {thread}*/",
    "SELECT 1; KILL QUERY ({thread})",
    "SET STATEMENT max_statement_time=0 FOR KILL QUERY ({thread})",
    "BEGIN NOT ATOMIC KILL QUERY ({thread}); END",
    "BEGIN NOT ATOMIC IF 1 THEN KILL QUERY ({thread}); END IF; END",
    "KILL QUERY USER app",
    "KILL QUERY USER 'app'@'%'",
    "KILL CONNECTION USER 'app'",
    "KILL USER app",
    "KILL QUERY {proxy}",
    "KILL {proxy}",
]


def test_mysql_session_kill_ownership(my_ready, maria):
    import pymysql
    from pymysql.constants import CLIENT
    b = my_ready
    tok_alice = b.token
    for u, level in (("bob", "write"), ("carol", "operate")):
        b.add_user(u)
        b.grant(u, "demo-mysql/app", level)
    tok_bob = b.issue_token("bob", "demo-mysql/app")
    tok_carol = b.issue_token("carol", "demo-mysql/app")
    multi = dict(client_flag=CLIENT.MULTI_STATEMENTS)

    bob = b.pymysql(user="bob", token=tok_bob)
    bob_thread = _my_value(bob, "SELECT CONNECTION_ID()")
    bob_proxy = bob.thread_id()
    alice = b.pymysql(user="alice", token=tok_alice, **multi)
    assert _my_alive(maria, bob_thread)

    res = {}
    t = _slow(lambda: _my_value(bob, "SELECT SLEEP(5)"), res)
    time.sleep(0.5)
    for form in MY_FORMS:
        sql = form.format(thread=bob_thread, prev=bob_thread - 1, proxy=bob_proxy)
        with pytest.raises(pymysql.err.Error) as ei:
            _my_value(alice, sql)
        assert "sqlbastion:" in str(ei.value), (sql, str(ei.value))
    # COM_PROCESS_KILL names a proxy session id
    with pytest.raises(pymysql.err.Error) as ei:
        alice.kill(bob_proxy)
    assert "sqlbastion:" in str(ei.value) or ei.value.args[0] == 1095, ei.value
    # A server-side prepared KILL n is not rewritten: n is the server's
    # thread id, whatever the proxy ids are.
    with pytest.raises(pymysql.err.Error) as ei:
        _prepare_execute(alice, f"KILL QUERY {bob_thread}")
    assert "sqlbastion:" in str(ei.value), ei.value
    t.join(30)
    assert res.get("value") == 0, res  # SLEEP returns 1 when interrupted
    assert _my_alive(maria, bob_thread)
    assert _my_value(bob, "SELECT 7") == 7

    # Alice's own other session: by its backend thread id ...
    alice2 = b.pymysql(user="alice", token=tok_alice)
    a2_thread = _my_value(alice2, "SELECT CONNECTION_ID()")
    a2_proxy = alice2.thread_id()
    res = {}
    t = _slow(lambda: _my_value(alice2, "SELECT SLEEP(30)"), res)
    time.sleep(0.5)
    _my_value(alice, f"KILL QUERY /**/ {a2_thread}")
    t.join(20)
    assert _interrupted(res), res
    # ... and by the proxy id her client saw in the handshake
    res = {}
    t = _slow(lambda: _my_value(alice2, "SELECT SLEEP(30)"), res)
    time.sleep(0.5)
    _my_value(alice, f"KILL QUERY {a2_proxy}")
    t.join(20)
    assert _interrupted(res), res
    _my_value(alice, f"KILL {a2_proxy}")
    for _ in range(50):
        if not _my_alive(maria, a2_thread):
            break
        time.sleep(0.1)
    assert not _my_alive(maria, a2_thread)
    # benign twin: the process list stays readable
    assert _my_value(alice, "SELECT COUNT(*) >= 1 FROM information_schema.processlist") == 1

    # `operate` may end bob's session, in a form the frontend does not map.
    carol = b.pymysql(user="carol", token=tok_carol)
    _my_value(carol, f"KILL /**/ {bob_thread}")
    for _ in range(50):
        if not _my_alive(maria, bob_thread):
            break
        time.sleep(0.1)
    assert not _my_alive(maria, bob_thread)
    with pytest.raises(pymysql.err.Error):
        _my_value(bob, "SELECT 1")
