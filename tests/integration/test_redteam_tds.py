"""Red-team attacks on the SQL Server (TDS) frontend, by raw packets.

Each test speaks TDS by hand to the proxy's `tds` listener in front of the
TDS test backend (tests/tds_backend/) and judges by GROUND TRUTH: the
backend's executed log. A statement the guard policy denies (DROP TABLE)
must never appear there, and every statement that does appear must have a
`query` audit record with the same text, written before it was forwarded.
Malformed input must close only the attacker's connection.
"""
import socket
import struct
import time

import pytest

from bastion import REPO
from tds_backend import TdsBackend

TEST_POLICY = (REPO / "etc" / "policies" / "guard.rules").read_text()
HDRS = struct.pack("<IIHQI", 22, 18, 2, 0, 1)      # ALL_HEADERS: transaction descriptor


# ------------------------------------------------------------------ raw TDS

def packets(ptype, payload, size=4096, status_last=1):
    room = size - 8
    chunks = [payload[i:i + room] for i in range(0, len(payload), room)] or [b""]
    return [struct.pack(">BBHHBB", ptype, status_last if n == len(chunks) - 1 else 0,
                        8 + len(c), 0, n + 1, 0) + c for n, c in enumerate(chunks)]


def prelogin(enc=2):
    opts = [(0, bytes(6)), (1, bytes([enc])), (2, b"\x00"), (3, bytes(4)), (4, b"\x00")]
    head, body, off = b"", b"", 5 * len(opts) + 1
    for tok, val in opts:
        head += struct.pack(">BHH", tok, off + len(body), len(val))
        body += val
    return head + b"\xff" + body


def login7(user, password, app="redteam"):
    def scramble(s):
        return bytes((((b << 4) | (b >> 4)) & 0xFF) ^ 0xA5 for b in s.encode("utf-16-le"))
    fields = [("host", "h".encode("utf-16-le")), ("user", user.encode("utf-16-le")),
              ("password", scramble(password)), ("app", app.encode("utf-16-le")),
              ("server", b""), ("ext", b""), ("lib", "raw".encode("utf-16-le")),
              ("lang", b""), ("db", b"")]
    fixed = 94
    offs, data = [], b""
    for _name, raw in fields:
        offs.append(struct.pack("<HH", fixed + len(data), len(raw) // 2))
        data += raw
    head = struct.pack("<IIIIIIBBBBiI", fixed + len(data), 0x74000004, 4096, 7, 1, 0,
                       0xE0, 0x03, 0, 0, 0, 0x409)
    tail = bytes(6) + struct.pack("<HHHHHHI", fixed + len(data), 0, fixed + len(data), 0,
                                  fixed + len(data), 0, 0)
    return head + b"".join(offs) + tail + data


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed")
        buf += chunk
    return buf


def read_reply(sock):
    data = b""
    while True:
        hdr = recv_exact(sock, 8)
        _t, status, length = struct.unpack(">BBH", hdr[:4])
        data += recv_exact(sock, length - 8)
        if status & 1:
            return data


def closed(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def us(s):
    b = s.encode("utf-16-le")
    return struct.pack("<H", len(b) // 2) + b


def nvarchar(name, value, plp=False, chunks=None, declared=None):
    """An NVARCHAR parameter; plp: NVARCHAR(MAX) sent in PLP chunks."""
    nb = name.encode("utf-16-le")
    head = bytes([len(nb) // 2]) + nb + b"\x00"
    coll = b"\x09\x04\xd0\x00\x34"
    if value is None:
        return head + b"\xe7\x40\x1f" + coll + b"\xff\xff"
    raw = value.encode("utf-16-le")
    if not plp:
        return head + b"\xe7\x40\x1f" + coll + struct.pack("<H", len(raw)) + raw
    parts = chunks or [raw]
    total = declared if declared is not None else len(raw)
    body = struct.pack("<Q", total) + b"".join(struct.pack("<I", len(c)) + c for c in parts)
    return head + b"\xe7\xff\xff" + coll + body + b"\x00\x00\x00\x00"


def int_param(name, value, output=False):
    nb = name.encode("utf-16-le")
    if value is None:
        return bytes([len(nb) // 2]) + nb + bytes([1 if output else 0]) + b"\x26\x04\x00"
    return (bytes([len(nb) // 2]) + nb + bytes([1 if output else 0]) + b"\x26\x04\x04" +
            struct.pack("<i", value))


def rpc_id(procid, *params, flags=0):
    return struct.pack("<HHH", 0xFFFF, procid, flags) + b"".join(params)


def rpc_name(name, *params, flags=0):
    return us(name) + struct.pack("<H", flags) + b"".join(params)


SP_EXECUTESQL, SP_PREPARE, SP_EXECUTE, SP_PREPEXEC, SP_UNPREPARE = 10, 11, 12, 13, 15


def batch(sql):
    return HDRS + sql.encode("utf-16-le")


def errors(reply):
    """Error numbers in a reply (token 0xAA)."""
    out, i = [], 0
    while True:
        i = reply.find(b"\xaa", i)
        if i < 0 or i + 7 > len(reply):
            return out
        out.append(struct.unpack("<i", reply[i + 3:i + 7])[0])
        i += 1


# ------------------------------------------------------------------ fixture

class Env:
    def __init__(self, b, be, token):
        self.b, self.be, self.token = b, be, token

    def raw(self, *, login=True):
        s = socket.create_connection(("127.0.0.1", self.b.ports["tds"]), timeout=15)
        if not login:
            return s
        s.sendall(packets(0x12, prelogin())[0])
        read_reply(s)
        s.sendall(packets(0x10, login7("alice", self.token))[0])
        r = read_reply(s)
        assert b"\xad" in r, r
        return s

    def send(self, s, ptype, payload, **kw):
        for p in packets(ptype, payload, **kw):
            s.sendall(p)
        return read_reply(s)

    def executed(self):
        return self.be.executed()

    def check_ground_truth(self, forbidden=("op table",)):
        """Nothing forbidden ran; everything that ran was audited first."""
        time.sleep(0.3)
        ran = self.executed()
        for e in ran:
            text = e.get("sql") or ""
            for f in forbidden:
                if f in text.lower() and e.get("error") is None:
                    raise AssertionError("denied text executed: %r" % e)
        audited = [q["statement"] for q in self.b.audit_records("query")
                   if q.get("decision") == "allow"]
        for e in ran:
            if e.get("sql") and e.get("error") is None:
                assert e["sql"] in audited, ("executed without an audit record", e, audited)
        return ran

    def still_serving(self):
        s = self.raw()
        r = self.send(s, 0x01, batch("SELECT 1 AS still_here"))
        assert "still_here".encode("utf-16-le") in r
        s.close()


@pytest.fixture
def env(bastion_factory, tmp_path):
    yield from make_env(bastion_factory, tmp_path, "write")


@pytest.fixture
def env_read(bastion_factory, tmp_path):
    yield from make_env(bastion_factory, tmp_path, "read")


def make_env(bastion_factory, tmp_path, level):
    be = TdsBackend(tmp_path / "backend", encryption="notsup").start()
    policy = tmp_path / "policy.rules"
    policy.write_text(TEST_POLICY)
    b = bastion_factory(listeners=("tds",), policy=policy)
    b.add_user("alice")
    b.add_asset("sql1", host=be.host, port=be.port, protocol="tds", tls="disable",
                extra=("--allow-weak-auth", "yes"))
    b.add_account("sql1/app", username="sa_app", password="pw")
    b.grant("alice", "sql1/app", level)
    token = b.issue_token("alice", "sql1/app")
    b.start()
    e = Env(b, be, token)
    if level == "write":
        s = e.raw()
        e.send(s, 0x03, HDRS + rpc_id(SP_EXECUTESQL, nvarchar("", "CREATE TABLE rt_victim (id INT)")))
        s.close()
    yield e
    be.stop()


DROP = "DROP TABLE rt_victim"


def victim_alive(env):
    s = env.raw()
    r = env.send(s, 0x01, batch("SELECT COUNT(*) AS n FROM rt_victim"))
    s.close()
    return not errors(r)


# ------------------------------------------------------------------ batches

@pytest.mark.parametrize("sql", [
    DROP,
    "/* a /* nested */ comment */ DROP TABLE rt_victim",
    "SELECT 1; DROP TABLE rt_victim",
    "EXEC('DR'+'OP TABLE rt_victim')",
    "DECLARE @s NVARCHAR(100) = N'DROP TABLE rt_victim'; EXEC sp_executesql @s",
    "EXECUTE (N'DROP TABLE rt_victim')",
    "-- x\nDROP TABLE [rt_victim]",
    "DROP/**/TABLE rt_victim",
    "EXEC sp_executesql N'DROP TABLE rt_victim'",
    "EXEC master..sp_executesql N'DROP TABLE rt_victim'",
    "EXEC [sp_executesql] @stmt = N'DROP TABLE rt_victim'",
    "IF 1=1 DROP TABLE rt_victim",
    "BEGIN DROP TABLE rt_victim END",
    "BEGIN TRY DROP TABLE rt_victim END TRY BEGIN CATCH END CATCH",
    "SELECT 1\nGO\nDROP TABLE rt_victim",
    "DROP TABLE dbo.[rt_victim]",
    "drop table \"rt_victim\"",
    "SELECT 1 /* */; /* ; */ DROP TABLE rt_victim",
], ids=["plain", "nested-comment", "second-stmt", "exec-concat", "sp_executesql-var",
        "execute-literal", "line-comment-bracket", "comment-as-space", "sp_executesql-literal",
        "master-dotdot", "named-stmt", "if", "begin-end", "try-catch", "go", "schema-bracket",
        "quoted-ident", "comment-semicolons"])
def test_batch_evasions(env, sql):
    s = env.raw()
    r = env.send(s, 0x01, batch(sql))
    assert 229 in errors(r), r
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


def test_batch_split_into_tiny_packets(env):
    s = env.raw()
    r = env.send(s, 0x01, batch("SELECT 1; " + " " * 600 + DROP), size=16)
    assert 229 in errors(r)
    env.check_ground_truth()
    assert victim_alive(env)


def test_batch_packets_with_eom_set_early(env):
    """First half carries EOM: the proxy must decide what it forwards as one
    request; the rest is a new request, decided on its own."""
    s = env.raw()
    payload = batch("SELECT 1 /* " + "x" * 40 + " */; " + DROP)
    half = 40
    s.sendall(struct.pack(">BBHHBB", 1, 1, 8 + half, 0, 1, 0) + payload[:half])
    s.sendall(struct.pack(">BBHHBB", 1, 1, 8 + len(payload) - half, 0, 2, 0) + payload[half:])
    s.settimeout(5)
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, ConnectionError):
        pass
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


@pytest.mark.parametrize("bad", [
    struct.pack(">BBHHBB", 1, 1, 4, 0, 1, 0),                              # length < 8
    struct.pack(">BBHHBB", 1, 1, 7, 0, 1, 0) + b"\x00",
    struct.pack(">BBHHBB", 1, 1, 65535, 0, 1, 0) + b"\x00" * 65527,        # > negotiated size
    struct.pack(">BBHHBB", 0x0E, 1, 8 + 30, 0, 1, 0) + b"\x00" * 30,       # TM junk
    struct.pack(">BBHHBB", 0x07, 1, 8 + 4, 0, 1, 0) + b"abcd",             # bulk load
    struct.pack(">BBHHBB", 0x10, 1, 8 + 4, 0, 1, 0) + b"abcd",             # LOGIN7 again
    struct.pack(">BBHHBB", 0x12, 1, 8 + 4, 0, 1, 0) + b"abcd",             # PRELOGIN again
], ids=["len4", "len7", "oversize", "tm-junk", "bulk", "login-again", "prelogin-again"])
def test_malformed_after_login_closes_only_that_connection(env, bad):
    s = env.raw()
    s.sendall(bad + packets(1, batch(DROP))[0])
    closed(s, 3)
    s.close()
    env.check_ground_truth()
    env.still_serving()
    assert victim_alive(env)


def test_tm_request_with_payload_is_not_sql(env):
    """A transaction-manager BEGIN carrying a trailing SQL-looking payload."""
    s = env.raw()
    payload = HDRS + struct.pack("<H", 5) + b"\x00" + us("t") + DROP.encode("utf-16-le")
    s.sendall(packets(0x0E, payload)[0])
    closed(s, 3)
    s.close()
    env.check_ground_truth()
    env.still_serving()


# ------------------------------------------------------------------ before login

@pytest.mark.parametrize("first", [
    packets(0x01, batch(DROP))[0],
    packets(0x03, HDRS + rpc_id(SP_EXECUTESQL, nvarchar("", DROP)))[0],
], ids=["batch", "rpc"])
def test_request_before_login(env, first):
    s = env.raw(login=False)
    s.sendall(first)
    assert closed(s)
    s.close()
    s = env.raw(login=False)
    s.sendall(packets(0x12, prelogin())[0])
    read_reply(s)
    s.sendall(first)
    assert closed(s)
    s.close()
    env.check_ground_truth()
    env.still_serving()


def test_request_pipelined_behind_login7(env):
    """A SQLBatch sent right behind LOGIN7, before LOGINACK came back."""
    s = env.raw(login=False)
    s.sendall(packets(0x12, prelogin())[0])
    read_reply(s)
    s.sendall(packets(0x10, login7("alice", env.token))[0] + packets(0x01, batch(DROP))[0])
    try:
        read_reply(s)
        read_reply(s)
    except (EOFError, socket.timeout, ConnectionError):
        pass
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


@pytest.mark.parametrize("mangle", ["user-offset-out", "password-offset-out", "length-huge",
                                    "length-short"])
def test_login7_offsets_outside_packet(env, mangle):
    s = env.raw(login=False)
    s.sendall(packets(0x12, prelogin())[0])
    read_reply(s)
    lg = bytearray(login7("alice", env.token))
    if mangle == "user-offset-out":
        struct.pack_into("<H", lg, 36 + 4, 60000)
    elif mangle == "password-offset-out":
        struct.pack_into("<HH", lg, 36 + 8, len(lg) - 2, 200)
    elif mangle == "length-huge":
        struct.pack_into("<I", lg, 0, 10 ** 9)
    else:
        struct.pack_into("<I", lg, 0, 20)
    s.sendall(packets(0x10, bytes(lg))[0])
    try:
        r = read_reply(s)
        # a lying LOGIN7 Length is harmless (the proxy builds its own LOGIN7);
        # offsets out of the packet must not log in
        if mangle not in ("length-huge", "length-short"):
            assert b"\xad" not in r
    except (EOFError, ConnectionError, socket.timeout):
        pass
    s.close()
    env.still_serving()


# ------------------------------------------------------------------ RPC

@pytest.mark.parametrize("name", ["sp_executesql", "SP_EXECUTESQL", "[sys].[sp_executesql]",
                                  "master..sp_executesql", "master.sys.sp_executesql",
                                  "[master].[dbo].[sp_executesql]", "sys.sp_ExecuteSql"])
def test_sp_executesql_by_name(env, name):
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_name(name, nvarchar("", DROP)))
    assert 229 in errors(r), (name, r)
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


@pytest.mark.parametrize("first,second", [
    (("@params", ""), ("@stmt", DROP)),
    (("@x", DROP), ("@stmt", "SELECT 1")),
], ids=["stmt-second", "decoy-stmt-second"])
def test_sp_executesql_stmt_named_elsewhere(env, first, second):
    """A parameter named @stmt away from the statement position: whether the
    server binds by name or by position, the proxy cannot tell which text
    runs, so it refuses (leak found: it used to decide the 1st parameter)."""
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTESQL, nvarchar(*first), nvarchar(*second)))
    assert 229 in errors(r), r
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


@pytest.mark.parametrize("how", ["plp-one", "plp-chunked", "plp-lying-total", "plp-unknown-total"])
def test_sp_executesql_plp(env, how):
    raw = DROP.encode("utf-16-le")
    if how == "plp-one":
        p = nvarchar("", DROP, plp=True)
    elif how == "plp-chunked":
        p = nvarchar("", DROP, plp=True, chunks=[raw[i:i + 2] for i in range(0, len(raw), 2)])
    elif how == "plp-lying-total":
        p = nvarchar("", DROP, plp=True, declared=4)
    else:
        p = nvarchar("", DROP, plp=True, declared=0xFFFFFFFFFFFFFFFE,
                     chunks=[raw[:7], raw[7:]])
    s = env.raw()
    s.sendall(packets(0x03, HDRS + rpc_id(SP_EXECUTESQL, p))[0])
    try:
        r = read_reply(s)
        assert 229 in errors(r), r
    except (EOFError, ConnectionError):
        pass
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


def test_sql_as_varbinary_parameter(env):
    """The statement sent as VARBINARY: the proxy cannot read it as text."""
    raw = DROP.encode("utf-16-le")
    p = b"\x00\x00" + b"\xa5\x40\x1f" + struct.pack("<H", len(raw)) + raw
    s = env.raw()
    s.sendall(packets(0x03, HDRS + rpc_id(SP_EXECUTESQL, p))[0])
    try:
        read_reply(s)
    except (EOFError, ConnectionError):
        pass
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


@pytest.mark.parametrize("sep", [b"\xff", b"\x80", b"\xfe"])
def test_several_rpcs_second_denied_none_runs(env, sep):
    s = env.raw()
    first = rpc_id(SP_EXECUTESQL, nvarchar("", "INSERT INTO rt_victim VALUES (7)"))
    second = rpc_id(SP_EXECUTESQL, nvarchar("", DROP))
    s.sendall(packets(0x03, HDRS + first + sep + second)[0])
    try:
        read_reply(s)
    except (EOFError, ConnectionError):
        pass
    s.close()
    ran = env.check_ground_truth()
    assert not [e for e in ran if "INSERT INTO rt_victim" in (e.get("sql") or "")], ran
    assert victim_alive(env)


def test_sp_execute_unconfirmed_handle(env):
    """sp_execute of a handle the server never gave out."""
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTE, int_param("", 1)))
    assert errors(r)
    s.close()
    env.check_ground_truth()


def test_sp_execute_handle_of_failed_prepare(env):
    """sp_prepare of a denied statement, then sp_execute of the handle the
    server would hand out next."""
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_id(SP_PREPARE, int_param("@h", None, output=True),
                                           nvarchar("", ""), nvarchar("", DROP), int_param("", 1)))
    assert 229 in errors(r)
    for h in range(1, 4):
        env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTE, int_param("", h)))
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


def test_prepare_and_execute_in_one_request(env):
    """sp_prepare and sp_execute of the not-yet-confirmed handle, pipelined."""
    s = env.raw()
    prep = rpc_id(SP_PREPARE, int_param("@h", None, output=True), nvarchar("", ""),
                  nvarchar("", "SELECT 1"), int_param("", 1))
    ex = rpc_id(SP_EXECUTE, int_param("", 1))
    s.sendall(packets(0x03, HDRS + prep + b"\xff" + ex)[0])
    read_reply(s)
    s.close()
    env.check_ground_truth()


def test_prepexec_handle_reused_after_unprepare(env):
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_id(SP_PREPEXEC, int_param("@h", None, output=True),
                                           nvarchar("", ""), nvarchar("", "SELECT 5 AS five")))
    assert not errors(r)
    h = 1
    i = r.find(b"\xac")   # RETURNVALUE: handle
    if i >= 0:
        h = struct.unpack("<i", r[-4 - 13 - 4:-13 - 4])[0] if False else h
    env.send(s, 0x03, HDRS + rpc_id(SP_UNPREPARE, int_param("", h)))
    r = env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTE, int_param("", h)))
    assert errors(r)
    # a denied prepare then reuse of the same number
    r = env.send(s, 0x03, HDRS + rpc_id(SP_PREPEXEC, int_param("@h", None, output=True),
                                           nvarchar("", ""), nvarchar("", DROP)))
    assert 229 in errors(r)
    env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTE, int_param("", h)))
    env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTE, int_param("", h + 1)))
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


def test_attention_racing_denied_request(env):
    s = env.raw()
    s.sendall(packets(0x03, HDRS + rpc_id(SP_EXECUTESQL, nvarchar("", DROP)))[0] +
              packets(0x06, b"")[0] + packets(0x01, batch(DROP))[0] + packets(0x06, b"")[0])
    s.settimeout(3)
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, ConnectionError):
        pass
    s.close()
    env.check_ground_truth()
    env.still_serving()
    assert victim_alive(env)


@pytest.mark.parametrize("head", [
    b"",                                                  # no ALL_HEADERS at all
    struct.pack("<I", 4),                                 # empty ALL_HEADERS
    struct.pack("<I", 22 + 8) + HDRS[4:] + b"\x00" * 8,   # TotalLength past the headers
    struct.pack("<IIH", 10, 6, 1),                        # a short query-notification-ish header
    struct.pack("<I", 22) + struct.pack("<IHQI", 30, 2, 0, 1),  # HeaderLength past TotalLength
], ids=["none", "empty", "total-too-long", "short-header", "header-past-total"])
def test_batch_all_headers_games(env, head):
    """Proxy and server must agree where the SQL text starts."""
    s = env.raw()
    s.sendall(packets(0x01, head + ("SELECT 1 " + DROP).encode("utf-16-le"))[0])
    try:
        read_reply(s)
    except (EOFError, ConnectionError, socket.timeout):
        pass
    s.close()
    env.check_ground_truth()
    env.still_serving()
    assert victim_alive(env)


@pytest.mark.parametrize("proc,args", [
    (SP_PREPEXEC, lambda: [int_param("@h", None, output=True), nvarchar("", ""),
                           nvarchar("@x", DROP), nvarchar("@stmt", "SELECT 1")]),
    (2, lambda: [int_param("@cursor", None, output=True), nvarchar("@x", DROP),
                 nvarchar("@stmt", "SELECT 1")]),
], ids=["prepexec", "cursoropen"])
def test_decoy_stmt_parameter_other_procs(env, proc, args):
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_id(proc, *args()))
    assert 229 in errors(r), r
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


def test_rpc_procedure_number_suffix(env):
    """`sp_executesql;1`: a numbered-procedure suffix on a system name."""
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_name("sp_executesql;1", nvarchar("", DROP)))
    assert 229 in errors(r), r
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


def test_sp_cursor_positioned_delete_is_decided(env):
    """sp_cursor (ProcID 1) deletes or updates the row a cursor stands on:
    it runs no statement text, so the proxy decides it as a procedure call
    (dynamic to the guard policy) instead of letting it through."""
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_id(1, int_param("", 180150000), int_param("", 0x22),
                                           int_param("", 1), nvarchar("", "rt_victim")))
    assert 229 in errors(r), r
    s.close()
    env.check_ground_truth()


def test_sp_cursorclose_carries_no_statement(env):
    """sp_cursorclose (ProcID 9) is passed without a decision: extra
    parameters holding SQL must not make the server run anything."""
    s = env.raw()
    env.send(s, 0x03, HDRS + rpc_id(9, int_param("", 1), nvarchar("", DROP)))
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


@pytest.mark.parametrize("statuses", [(0x03,), (0x02, 0x01), (0x00, 0x03), (0x09,), (0x11,)],
                         ids=["eom-ignore", "ignore-then-eom", "eom-ignore-last",
                              "reset-connection", "reset-skiptran"])
def test_packet_status_bits(env, statuses):
    """IGNORE (0x02) and RESETCONNECTION bits on a denied batch's packets."""
    payload = batch(DROP)
    n = len(statuses)
    step = (len(payload) + n - 1) // n
    s = env.raw()
    for i, st in enumerate(statuses):
        chunk = payload[i * step:(i + 1) * step]
        s.sendall(struct.pack(">BBHHBB", 1, st, 8 + len(chunk), 0, i + 1, 0) + chunk)
    s.settimeout(3)
    try:
        read_reply(s)
    except (EOFError, ConnectionError, socket.timeout):
        pass
    s.close()
    env.check_ground_truth()
    env.still_serving()
    assert victim_alive(env)


def test_spid_and_packet_id_games(env):
    """Odd SPIDs and packet ids, window byte set: framing, not meaning."""
    s = env.raw()
    payload = batch(DROP)
    half = len(payload) // 2
    s.sendall(struct.pack(">BBHHBB", 1, 0, 8 + half, 0xFFFF, 0, 0xFF) + payload[:half])
    s.sendall(struct.pack(">BBHHBB", 1, 1, 8 + len(payload) - half, 7, 0, 0xFF) + payload[half:])
    try:
        r = read_reply(s)
        assert 229 in errors(r)
    except (EOFError, ConnectionError):
        pass
    s.close()
    env.check_ground_truth()
    assert victim_alive(env)


@pytest.mark.parametrize("how", ["batch", "executesql", "prepexec", "prepare", "cursoropen",
                                 "by-name-bracket"])
def test_read_grant_refuses_writes_on_every_path(env_read, how):
    env = env_read
    w = "CREATE TABLE rt_written (id INT)"
    if how == "batch":
        ptype, payload = 0x01, batch(w)
    elif how == "executesql":
        ptype, payload = 0x03, HDRS + rpc_id(SP_EXECUTESQL, nvarchar("", w))
    elif how == "prepexec":
        ptype, payload = 0x03, HDRS + rpc_id(SP_PREPEXEC, int_param("@h", None, output=True),
                                             nvarchar("", ""), nvarchar("", w))
    elif how == "prepare":
        ptype, payload = 0x03, HDRS + rpc_id(SP_PREPARE, int_param("@h", None, output=True),
                                             nvarchar("", ""), nvarchar("", w), int_param("", 1))
    elif how == "cursoropen":
        ptype, payload = 0x03, HDRS + rpc_id(2, int_param("@c", None, output=True), nvarchar("", w))
    else:
        ptype, payload = 0x03, HDRS + rpc_name("[sys].[SP_EXECUTESQL]", nvarchar("", w))
    s = env.raw()
    r = env.send(s, ptype, payload)
    assert 229 in errors(r), r
    if how == "prepare":
        for h in range(1, 4):
            env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTE, int_param("", h)))
    s.close()
    env.check_ground_truth()
    assert not [e for e in env.executed() if "rt_written" in (e.get("sql") or "")]


def test_sp_execute_decoy_handle_parameter(env):
    """sp_execute with a confirmed handle first and another parameter named
    @handle: which one the server binds is not the proxy's guess, so it
    refuses."""
    s = env.raw()
    r = env.send(s, 0x03, HDRS + rpc_id(SP_PREPARE, int_param("@h", None, output=True),
                                           nvarchar("", ""), nvarchar("", "SELECT 9 AS nine"),
                                           int_param("", 1)))
    assert not errors(r), r
    r = env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTE, int_param("@x", 1), int_param("@handle", 77)))
    assert 229 in errors(r), r
    r = env.send(s, 0x03, HDRS + rpc_id(SP_EXECUTE, int_param("", 1)))
    assert "nine".encode("utf-16-le") in r and not errors(r)
    s.close()
    env.check_ground_truth()


@pytest.mark.parametrize("kind", ["ntext", "text", "varchar", "nchar", "variant"])
def test_sp_executesql_text_in_other_types(env, kind):
    """The statement as NTEXT, TEXT, VARCHAR, NCHAR or SQL_VARIANT."""
    coll = b"\x09\x04\xd0\x00\x34"
    u, a = DROP.encode("utf-16-le"), DROP.encode("ascii")
    if kind == "ntext":
        p = b"\x00\x00\x63" + struct.pack("<I", 0x7FFFFFFE) + coll + struct.pack("<I", len(u)) + u
    elif kind == "text":
        p = b"\x00\x00\x23" + struct.pack("<I", 0x7FFFFFFF) + coll + struct.pack("<I", len(a)) + a
    elif kind == "varchar":
        p = b"\x00\x00\xa7\x40\x1f" + coll + struct.pack("<H", len(a)) + a
    elif kind == "nchar":
        p = b"\x00\x00\xef" + struct.pack("<H", len(u)) + coll + struct.pack("<H", len(u)) + u
    else:
        inner = b"\xe7\x07" + struct.pack("<H", 8000) + coll + u
        p = b"\x00\x00\x62" + struct.pack("<I", 8016) + struct.pack("<I", len(inner)) + inner
    s = env.raw()
    s.sendall(packets(0x03, HDRS + rpc_id(SP_EXECUTESQL, p))[0])
    try:
        r = read_reply(s)
        assert errors(r), r
    except (EOFError, ConnectionError):
        pass
    s.close()
    env.check_ground_truth()
    env.still_serving()
    assert victim_alive(env)


@pytest.mark.parametrize("sep", [b"\x80", b"\xfe"])
def test_separator_read_as_a_parameter_name(env, sep):
    """Differential parsing: a byte that one side reads as the separator
    between two RPCs and the other as the length of a 128-character
    parameter name. The second call's bytes are made to look like the
    name and one INT parameter, so a proxy reading a name sees one allowed
    call while the server runs a second one: DROP TABLE."""
    first = rpc_id(SP_EXECUTESQL, nvarchar("", "SELECT 1 AS one"))
    header = 6 + 12                       # ProcID form, then the parameter's fixed part
    name_bytes = 2 * 128 if sep == b"\x80" else 2 * 0xFE
    filler = (name_bytes - header - 2 * len(DROP + "--")) // 2
    tail = "\u2600\u0404\u4141\u4141"       # status 0, INTN(4) = 0x41414141, as seen by the proxy
    second = rpc_id(SP_EXECUTESQL, nvarchar("", DROP + "--" + "x" * filler + tail))
    s = env.raw()
    s.sendall(packets(0x03, HDRS + first + sep + second)[0])
    try:
        read_reply(s)
    except (EOFError, ConnectionError, socket.timeout):
        pass
    s.close()
    env.check_ground_truth()
    env.still_serving()
    assert victim_alive(env)


def test_tds71_login_with_all_headers_hiding_a_comment_opener(env):
    """A client that logs in as TDS 7.1 (no ALL_HEADERS) but sends them
    anyway, one header's data being `/*`: if the proxy reads the header as
    text and the server skips it, the DROP is a comment to one side only."""
    s = env.raw(login=False)
    s.sendall(packets(0x12, prelogin())[0])
    read_reply(s)
    lg = bytearray(login7("alice", env.token))
    struct.pack_into("<I", lg, 4, 0x71000001)
    s.sendall(packets(0x10, bytes(lg))[0])
    r = read_reply(s)
    if b"\xad" not in r:
        pytest.skip("TDS 7.1 login refused")
    hdr = struct.pack("<IIH", 14, 10, 3) + "/*".encode("utf-16-le")
    s.sendall(packets(0x01, hdr + DROP.encode("utf-16-le"))[0])
    try:
        read_reply(s)
    except (EOFError, ConnectionError, socket.timeout):
        pass
    s.close()
    env.check_ground_truth()
    env.still_serving()
    assert victim_alive(env)
