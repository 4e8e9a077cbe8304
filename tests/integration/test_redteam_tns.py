"""Red-team attacks on the Oracle (TNS) frontend.

CONNECT descriptors built by hand (two SERVICE_NAMEs, SID and SERVICE_NAME
disagreeing, nested CONNECT_DATA, an ADDRESS pointing elsewhere), raw
malformed packets, and statement evasions through python-oracledb (Thin).
Judged by the TNS test backend's ground truth (tests/tns_backend/): what
logged in with which connect data, what it executed. A statement the guard
policy denies never appears there; every executed statement has a `query`
audit record with its text; malformed input closes only that connection.
"""
import json
import socket
import struct
import time

import pytest

from bastion import Bastion
from tns_backend import TnsBackend

oracledb = pytest.importorskip("oracledb")


@pytest.fixture
def env(tmp_path):
    be = TnsBackend(tmp_path / "tns", accounts={"scott": "tiger", "alice_db": "s3cret"})
    be.start()
    b = Bastion(tmp_path / "sb", listeners=("tns",))
    b.add_user("alice")
    b.add_asset("ora", host=be.host, port=be.port, protocol="tns", service=be.service)
    b.add_account("ora/scott", username="scott", not_hosted=True)
    b.grant("alice", "ora/scott", "write")
    b.issue_token("alice", "ora/scott")
    b.start()
    yield b, be
    b.close()
    be.stop()


def desc(b, cdata, address=None):
    addr = address or f"(ADDRESS=(PROTOCOL=TCP)(HOST=127.0.0.1)(PORT={b.ports['tns']}))"
    return f"(DESCRIPTION={addr}(CONNECT_DATA={cdata}))"


def audit(b):
    return [json.loads(l) for l in b.audit_jsonl.read_text().splitlines() if l.strip()]


def check_ground_truth(b, be):
    time.sleep(0.3)
    ran = [e for e in be.executed() if e.get("sql")]
    for e in ran:
        assert "op table" not in e["sql"].lower() or e.get("error"), ("denied text ran", e)
    audited = [r["statement"] for r in audit(b) if r["event"] == "query"
               and r.get("decision") == "allow"]
    for e in ran:
        assert e["sql"] in audited, ("executed without audit", e, audited)
    return ran


def ok_logins(be):
    return [e for e in be.ground_truth() if e["kind"] == "login" and e.get("result") == "ok"]


def still_serving(b):
    with oracledb.connect(user="scott", password="tiger",
                          dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}") as c:
        cur = c.cursor()
        cur.execute("SELECT 1 FROM dual")
        assert cur.fetchall() == [(1,)]


@pytest.mark.parametrize("shape", [
    "(SERVICE_NAME={t})(SERVICE_NAME=EVILSVC)",
    "(SERVICE_NAME=EVILSVC)(SERVICE_NAME={t})",
    "(SID={t})(SERVICE_NAME=EVILSVC)",
    "(SID=EVILSVC)(SERVICE_NAME={t})",
    "(SERVICE_NAME={t})(CONNECT_DATA=(SERVICE_NAME=EVILSVC))",
    "(CONNECT_DATA=(SERVICE_NAME={t}))(SERVICE_NAME=EVILSVC)",
    "(SERVICE_NAME={t})(SERVER=DEDICATED)(INSTANCE_NAME=EVILSVC)",
    "(service_name = {t} )(Service_Name=EVILSVC)",
], ids=["svc-svc", "svc2-svc", "sid-svc", "svc-sid", "nested-after", "nested-first",
        "instance", "case-space"])
def test_connect_data_confusion(env, shape):
    """Whatever the proxy makes of a confusing CONNECT_DATA, the backend
    never sees the token nor the attacker's service."""
    b, be = env
    try:
        with oracledb.connect(user="scott", password="tiger",
                              dsn=desc(b, shape.format(t=b.token))) as c:
            cur = c.cursor()
            cur.execute("SELECT 3 FROM dual")
    except oracledb.Error:
        pass
    for e in be.ground_truth():
        cd = json.dumps(e)
        assert b.token not in cd, e
        assert "EVILSVC" not in cd, ("attacker's service reached the backend", e)
    still_serving(b)


def test_address_in_descriptor_is_not_followed(env):
    """An ADDRESS_LIST whose second ADDRESS names another host: the proxy
    connects to the asset only and never forwards the address."""
    b, be = env
    addr = (f"(ADDRESS_LIST=(ADDRESS=(PROTOCOL=TCP)(HOST=127.0.0.1)(PORT={b.ports['tns']}))"
            f"(ADDRESS=(PROTOCOL=TCP)(HOST=10.99.99.99)(PORT=1521)))")
    with oracledb.connect(user="scott", password="tiger",
                          dsn=desc(b, f"(SERVICE_NAME={b.token})", address=addr)) as c:
        c.cursor().execute("SELECT 1 FROM dual")
    for e in ok_logins(be):
        assert "10.99.99.99" not in json.dumps(e)


def test_login_as_another_database_user(env):
    b, be = env
    with pytest.raises(oracledb.Error):
        oracledb.connect(user="alice_db", password="s3cret",
                         dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}")
    assert not [e for e in ok_logins(be) if e.get("user", "").lower() == "alice_db"]
    still_serving(b)


@pytest.mark.parametrize("sql", [
    "DROP TABLE rt_victim",
    "/* x */ drop table rt_victim",
    "BEGIN EXECUTE IMMEDIATE 'DR' || 'OP TABLE rt_victim'; END;",
    "BEGIN EXECUTE IMMEDIATE q'[DROP TABLE rt_victim]'; END;",
    "DECLARE s VARCHAR2(50) := 'DROP TABLE rt_victim'; BEGIN EXECUTE IMMEDIATE s; END;",
    "drop\ttable\nrt_victim",
], ids=["plain", "comment", "exec-immediate-concat", "q-quote", "plsql-var", "whitespace"])
def test_statement_evasions(env, sql):
    b, be = env
    with oracledb.connect(user="scott", password="tiger",
                          dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}") as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE rt_victim (id NUMBER)")
        with pytest.raises(oracledb.Error) as ei:
            cur.execute(sql)
        assert "sqlbastion" in str(ei.value) or "ORA-01031" in str(ei.value)
        for _ in range(3):   # re-execute of the same (denied) text
            with pytest.raises(oracledb.Error):
                cur.execute(sql)
        cur.execute("SELECT COUNT(*) FROM rt_victim")
        assert cur.fetchall() == [(0,)]
    check_ground_truth(b, be)


def test_reexecute_after_denied_prepare_with_binds(env):
    """The same cursor re-executed with new binds after a denied statement
    ran on it: the cursor id of the denied one was never confirmed."""
    b, be = env
    with oracledb.connect(user="scott", password="tiger",
                          dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}") as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE rt_victim (id NUMBER)")
        for i in range(3):
            cur.execute("INSERT INTO rt_victim VALUES (:1)", [i])
            with pytest.raises(oracledb.Error):
                cur.execute("DROP TABLE rt_victim")
        cur.execute("SELECT COUNT(*) FROM rt_victim")
        assert cur.fetchall() == [(3,)]
    check_ground_truth(b, be)


def tns_packet(ptype, payload, flags=0):
    return struct.pack(">HHBBH", 8 + len(payload), 0, ptype, flags, 0) + payload


def connect_packet(cdata, sdu=8192, tdu=65535, version=318):
    cd = cdata.encode()
    body = struct.pack(">HHHHHHHHHH", version, 300, 0, sdu, tdu, 0x4f98, 0, 1,
                       len(cd), 58) + bytes(58 - 8 - 20)
    return tns_packet(1, body + cd)


@pytest.mark.parametrize("bad", [
    b"\x00\x04\x00\x00\x01\x00\x00\x00",                    # length below header
    b"GET / HTTP/1.1\r\n\r\n",
    "redirect",                                             # REDIRECT type from the client
    "huge-sdu",
    "cdata-offset-out",
    "marker-first",
    "data-first",
], ids=["short", "http", "client-redirect", "huge-sdu", "cdata-offset", "marker-first",
        "data-first"])
def test_malformed_connect_closes_only_that_connection(env, bad):
    b, be = env
    if bad == "redirect":
        cd = b"(ADDRESS=(PROTOCOL=TCP)(HOST=10.99.99.99)(PORT=1))"
        bad = tns_packet(5, struct.pack(">H", len(cd)) + cd)
    elif bad == "huge-sdu":
        bad = connect_packet(f"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME={b.token})))",
                             sdu=0xFFFF, tdu=0xFFFF, version=319)
        bad = bad[:8] + bad[8:] + struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF)
    elif bad == "cdata-offset-out":
        p = bytearray(connect_packet(f"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME={b.token})))"))
        struct.pack_into(">H", p, 8 + 18, 60000)
        bad = bytes(p)
    elif bad == "marker-first":
        bad = tns_packet(12, b"\x01\x00\x02")
    elif bad == "data-first":
        bad = tns_packet(6, b"\x00\x00" + b"\x03\x5e" + b"DROP TABLE rt_victim")
    s = socket.create_connection(("127.0.0.1", b.ports["tns"]), timeout=10)
    s.sendall(bad)
    s.settimeout(5)
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, ConnectionError):
        pass
    s.close()
    check_ground_truth(b, be)
    still_serving(b)


@pytest.mark.parametrize("call", [
    ("DBMS_UTILITY.EXEC_DDL_STATEMENT", ["DROP TABLE rt_victim"]),
    ("DBMS_SQL.EXECUTE", [1]),
])
def test_ddl_through_a_procedure_bind(env, call):
    """The DROP sits in a bind of a procedure call the client wraps in
    BEGIN ... END: the proxy cannot see the text it runs, so it refuses."""
    b, be = env
    with oracledb.connect(user="scott", password="tiger",
                          dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}") as c:
        cur = c.cursor()
        with pytest.raises(oracledb.Error) as ei:
            cur.callproc(*call)
        assert "sqlbastion" in str(ei.value), ei.value
        cur.execute("SELECT 1 FROM dual")
    check_ground_truth(b, be)


def _ub4(v):
    if v == 0:
        return b"\x00"
    raw = v.to_bytes((v.bit_length() + 7) // 8, "big")
    return bytes([len(raw)]) + raw


def _session_socket(conn):
    """The TCP socket under a python-oracledb Thin connection."""
    import gc
    peers = [o for o in gc.get_objects() if isinstance(o, socket.socket)
             and o.fileno() >= 0]
    for s in peers:
        try:
            if s.getpeername()[1] == conn._sb_port:
                return s
        except OSError:
            continue
    return None


def test_reexecute_of_cursor_ids_never_confirmed(env):
    """Raw re-execute calls (TTC function 4) for cursor ids the server never
    confirmed, among them the one a denied DROP would have got: nothing
    runs, the session goes on or is closed, the proxy keeps serving."""
    b, be = env
    conn = oracledb.connect(user="scott", password="tiger",
                            dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}")
    conn._sb_port = b.ports["tns"]
    cur = conn.cursor()
    cur.execute("CREATE TABLE rt_victim (id NUMBER)")
    with pytest.raises(oracledb.Error):
        cur.execute("DROP TABLE rt_victim")
    s = _session_socket(conn)
    if s is None:
        pytest.skip("cannot reach python-oracledb's socket")
    for cid in range(1, 8):
        ttc = bytes([3, 4, 2]) + _ub4(cid) + _ub4(1) + _ub4(0) + _ub4(0)
        data = b"\x00\x00" + ttc
        s.sendall(struct.pack(">IBBH", 8 + len(data), 6, 0, 0) + data)
        s.settimeout(3)
        try:
            if not s.recv(65536):
                break
        except (socket.timeout, ConnectionError):
            break
    try:
        conn.close()
    except Exception:   # noqa: BLE001 - the raw calls may have ended the session
        pass
    check_ground_truth(b, be)
    denied = [r for r in audit(b) if r["event"] == "query" and r.get("rule") == "unknown-cursor"]
    print("unknown-cursor denials:", len(denied), [e["kind"] for e in be.ground_truth()][-5:])
    assert denied, "the raw re-executes were not read as calls"
    still_serving(b)
    with oracledb.connect(user="scott", password="tiger",
                          dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}") as c2:
        c2.cursor().execute("SELECT COUNT(*) FROM rt_victim")


@pytest.mark.parametrize("shape", ["piggyback-then-call", "split-data", "marker-mid-call",
                                   "two-calls-one-packet"])
def test_hidden_reexecute(env, shape):
    """A re-execute of an unconfirmed cursor hidden behind a piggyback,
    split across DATA packets, broken by a MARKER, or packed after another
    call: still read, still refused (or the session closed)."""
    b, be = env
    conn = oracledb.connect(user="scott", password="tiger",
                            dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}")
    conn._sb_port = b.ports["tns"]
    cur = conn.cursor()
    cur.execute("CREATE TABLE rt_victim (id NUMBER)")
    with pytest.raises(oracledb.Error):
        cur.execute("DROP TABLE rt_victim")
    s = _session_socket(conn)
    if s is None:
        pytest.skip("cannot reach python-oracledb's socket")

    def data(body):
        d = b"\x00\x00" + body
        return struct.pack(">IBBH", 8 + len(d), 6, 0, 0) + d
    call = bytes([3, 4, 2]) + _ub4(5) + _ub4(1) + _ub4(0) + _ub4(0)
    if shape == "piggyback-then-call":
        wire = data(bytes([17, 105, 1]) + b"\x01" + _ub4(1) + _ub4(9) + call)
    elif shape == "split-data":
        wire = data(call[:4]) + data(call[4:])
    elif shape == "marker-mid-call":
        wire = data(call[:4]) + struct.pack(">IBBH", 11, 12, 0, 0) + b"\x01\x00\x01" + data(call[4:])
    else:
        wire = data(bytes([3, 4, 2]) + _ub4(1) + _ub4(1) + _ub4(0) + _ub4(0) + call)
    s.sendall(wire)
    s.settimeout(3)
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, ConnectionError):
        pass
    try:
        conn.close()
    except Exception:   # noqa: BLE001 - the raw calls may have ended the session
        pass
    ran = check_ground_truth(b, be)
    assert not [e for e in ran if e.get("cursor") == 5], ran
    still_serving(b)
