"""COM_CHANGE_USER through the proxy (issue 11 item 4).

The user name in COM_CHANGE_USER is the bastion user, the auth data the
token's proof, checked with the login's own rules. A token for the
session's asset and account resets the server session (COM_RESET_CONNECTION:
user variables and prepared statements gone on the server too; read-only
again for a read grant) and answers OK; anything else gets an ERR and the
session ends. Every attempt is a login / login_failed record with
verb "change_user". Ground truth from the server: its own variables, its
prepared statement count, its read-only flag.
"""

import hashlib
import json
import os
import socket
import struct
import subprocess

import pytest

from test_mysql_clients import _greeting_scramble, _read_packet
from test_mysql_proxy import needs_lexer

CAPS = 0x1 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000  # ..., PROTOCOL_41, SECURE_CONN, PLUGIN_AUTH


def _native(token, nonce):
    h1 = hashlib.sha1(token.encode()).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(nonce + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


class RawMy:
    """A hand-made MySQL client: native password login, COM_QUERY with a
    one-value result, COM_STMT_PREPARE / EXECUTE, COM_CHANGE_USER."""

    def __init__(self, port, user, token):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        seq, body = _read_packet(self.s)
        self.nonce = _greeting_scramble(body)
        self.proxy_id = struct.unpack("<I", body[body.index(b"\0", 1) + 1:][:4])[0]
        auth = _native(token, self.nonce)
        payload = (struct.pack("<IIB23x", CAPS, 1 << 24, 45) + user.encode() + b"\0"
                   + bytes([len(auth)]) + auth + b"appdb\0" + b"mysql_native_password\0")
        self._send(1, payload)
        seq, body = _read_packet(self.s)
        assert body[:1] == b"\x00", body

    def _send(self, seq, payload):
        self.s.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)

    def value(self, sql):
        """First column of the first row as text (None for NULL), or raises
        RuntimeError(err payload) on ERR."""
        self._send(0, b"\x03" + sql.encode())
        seq, body = _read_packet(self.s)
        if body[:1] == b"\xff":
            raise RuntimeError(body)
        if body[:1] == b"\x00":
            return None
        ncol = body[0]
        for _ in range(ncol):
            _read_packet(self.s)
        _read_packet(self.s)  # EOF
        val = None
        first = True
        while True:
            seq, row = _read_packet(self.s)
            if row[:1] == b"\xfe" and len(row) < 9:
                return val
            if row[:1] == b"\xff":
                raise RuntimeError(row)
            if first:
                val = None if row[:1] == b"\xfb" else row[1:1 + row[0]].decode()
                first = False

    def prepare(self, sql):
        self._send(0, b"\x16" + sql.encode())
        seq, body = _read_packet(self.s)
        if body[:1] == b"\xff":
            raise RuntimeError(body)
        sid, ncol, npar = struct.unpack("<IHH", body[1:9])
        for _ in range(npar + (1 if npar else 0) + ncol + (1 if ncol else 0)):
            _read_packet(self.s)
        return sid

    def execute(self, sid):
        """The first packet of the execute's answer."""
        self._send(0, b"\x17" + struct.pack("<IBI", sid, 0, 1))
        seq, body = _read_packet(self.s)
        if body[:1] not in (b"\xff", b"\x00"):
            while True:  # drain a result set (binary rows) up to its final EOF
                _, p = _read_packet(self.s)
                if p[:1] == b"\xfe" and len(p) < 9:
                    _, p = _read_packet(self.s)
                    while not (p[:1] == b"\xfe" and len(p) < 9):
                        _, p = _read_packet(self.s)
                    break
        return body

    def change_user(self, user, token, db="appdb", auth=None):
        """COM_CHANGE_USER; returns [(seq, payload)] up to OK or ERR."""
        auth = _native(token, self.nonce) if auth is None else auth
        payload = (b"\x11" + user.encode() + b"\0" + bytes([len(auth)]) + auth
                   + db.encode() + b"\0" + struct.pack("<H", 45) + b"mysql_native_password\0")
        self._send(0, payload)
        got = []
        while True:
            seq, body = _read_packet(self.s)
            got.append((seq, body))
            if body[:1] in (b"\x00", b"\xff") or len(got) > 3:
                return got

    def closed(self):
        try:
            self.s.settimeout(5)
            return self.s.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.s.close()


def _err(got):
    seq, body = got[-1]
    assert body[:1] == b"\xff", got
    return struct.unpack("<H", body[1:3])[0], body[9:].decode(errors="replace")


def _stmt_count(maria):
    return int(maria.value("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").split()[1])


def test_change_user_good_token_resets(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    c = RawMy(b.mysql_port, "alice", b.token)
    thread = int(c.value("SELECT CONNECTION_ID()"))
    c.value("SET @sb_x = 42")
    assert c.value("SELECT @sb_x") == "42"
    sid = c.prepare("SELECT 1")
    assert _stmt_count(maria) >= 1
    before = _stmt_count(maria)
    got = c.change_user("alice", b.token)
    assert got == [(1, got[0][1])] and got[0][1][:1] == b"\x00", got
    # the same backend connection, reset by the server
    assert int(c.value("SELECT CONNECTION_ID()")) == thread
    assert c.value("SELECT @sb_x") is None
    assert _stmt_count(maria) == before - 1
    body = c.execute(sid)
    assert body[:1] == b"\xff" and struct.unpack("<H", body[1:3])[0] == 1243, body
    # prepared statements work again after it
    sid2 = c.prepare("SELECT 2")
    assert c.execute(sid2)[:1] not in (b"\xff",)
    assert c.value("SELECT 7") == "7"
    c.close()
    rec = b.wait_audit("login", where=lambda r: r.get("verb") == "change_user")[0]
    assert rec["user"] == "alice" and rec["asset"] == "demo-mysql"


def test_change_user_wrong_token(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    c = RawMy(b.mysql_port, "alice", b.token)
    got = c.change_user("alice", "sbt_" + "x" * 40)
    code, msg = _err(got)
    assert code == 1045 and msg.startswith("Access denied"), msg
    assert "sqlbastion" not in msg  # generic: the reason is only in the audit
    assert c.closed()
    rec = b.wait_audit("login_failed", where=lambda r: r.get("verb") == "change_user")[0]
    assert rec["error"] == "bad token", rec


def test_change_user_revoked_token(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    tok = b.token
    c = RawMy(b.mysql_port, "alice", tok)
    listing = [json.loads(x) for x in b.ctl("token", "list", "--json").stdout.splitlines()]
    tid = [t for t in listing if t.get("user") == "alice"][0]["id"]
    tok2 = b.issue_token("alice", "demo-mysql/app")
    c2 = RawMy(b.mysql_port, "alice", tok2)
    b.ctl("token", "revoke", str(tid))
    # a revoke may end sessions of that token; the other session tries it
    got = c2.change_user("alice", tok)
    code, msg = _err(got)
    assert code == 1045, msg
    assert c2.closed()
    rec = b.wait_audit("login_failed", where=lambda r: r.get("verb") == "change_user")[0]
    assert "revoked" in rec["error"], rec
    c.close()


def test_change_user_other_asset(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    tok = b.token
    b.add_asset("other-mysql", host=maria.host, port=maria.port, protocol="mysql")
    b.add_account("other-mysql/app", username="app", password=maria.passwords["app"])
    b.grant("alice", "other-mysql/app", "write")
    other = b.issue_token("alice", "other-mysql/app")
    c = RawMy(b.mysql_port, "alice", tok)
    c.value("SET @sb_y = 1")
    got = c.change_user("alice", other)
    code, msg = _err(got)
    assert code == 1045 and "another asset or account" in msg, msg
    assert c.closed()
    rec = b.wait_audit("login_failed", where=lambda r: r.get("verb") == "change_user")[0]
    assert "other-mysql/app" in rec["error"], rec


def test_change_user_read_grant_read_only(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    tok = b.token
    b.add_user("rose")
    b.grant("rose", "demo-mysql/app", "read")
    rose = b.issue_token("rose", "demo-mysql/app")
    c = RawMy(b.mysql_port, "alice", tok)
    assert c.value("SELECT @@session.tx_read_only") == "0"
    got = c.change_user("rose", rose)
    assert got[-1][1][:1] == b"\x00", got
    # the server itself now refuses writes in this session
    assert c.value("SELECT @@session.tx_read_only") == "1"
    with pytest.raises(RuntimeError):
        c.value("INSERT INTO accounts (id, owner) VALUES (99, 'x')")
    assert maria.value("SELECT count(*) FROM appdb.accounts WHERE id = 99") == "0"
    c.close()
    rec = b.wait_audit("login", where=lambda r: r.get("verb") == "change_user")[0]
    assert rec["user"] == "rose"


MYSQL2_CHANGE = r"""
const mysql = require('mysql2/promise');
(async () => {
  const out = {};
  const opts = { host: process.argv[2], port: Number(process.argv[3]), user: 'alice',
                 password: process.env.SB_TOKEN, database: 'appdb' };
  const c = await mysql.createConnection(opts);
  await c.query('SET @sb_z = 5');
  await c.changeUser({ user: 'alice', password: process.env.SB_TOKEN, database: 'appdb' });
  const [r] = await c.query('SELECT @sb_z AS z, 7 AS seven');
  out.z = r[0].z; out.seven = r[0].seven;
  const [e] = await c.execute('SELECT ? AS v', [3]);
  out.v = e[0].v;
  try {
    await c.changeUser({ user: 'alice', password: 'sbt_wrongwrongwrong', database: 'appdb' });
    out.bad = 'accepted';
  } catch (err) { out.bad = err.errno; }
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.log(JSON.stringify({ fatal: String(e), errno: e.errno })); process.exit(1); });
"""


def test_node_mysql2_change_user(my_ready, maria, mysql2_dir):
    b = my_ready
    needs_lexer(b)
    script = mysql2_dir / "change.js"
    script.write_text(MYSQL2_CHANGE)
    env = dict(os.environ, SB_TOKEN=b.token)
    r = subprocess.run(["node", str(script), b.host, str(b.mysql_port)], cwd=mysql2_dir, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + b.log_text()[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["z"] is None and out["seven"] == 7 and out["v"] == 3, out
    assert out["bad"] == 1045, out
    assert b.wait_audit("login", where=lambda r: r.get("verb") == "change_user")
    assert b.wait_audit("login_failed", where=lambda r: r.get("verb") == "change_user")


MARIADB_CHANGE = r"""
const mariadb = require('mariadb');
(async () => {
  const out = {};
  const c = await mariadb.createConnection({ host: process.argv[2], port: Number(process.argv[3]),
    user: 'alice', password: process.env.SB_TOKEN, database: 'appdb' });
  await c.query('SET @sb_z = 5');
  await c.changeUser({ user: 'alice', password: process.env.SB_TOKEN, database: 'appdb' });
  const r = await c.query('SELECT @sb_z AS z, 7 AS seven');
  out.z = r[0].z; out.seven = Number(r[0].seven);
  try {
    await c.changeUser({ user: 'alice', password: 'sbt_wrongwrongwrong', database: 'appdb' });
    out.bad = 'accepted';
  } catch (err) { out.bad = err.errno; }
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.log(JSON.stringify({ fatal: String(e), errno: e.errno })); process.exit(1); });
"""


def test_node_mariadb_change_user(my_ready, maria, node_mariadb_dir):
    b = my_ready
    needs_lexer(b)
    script = node_mariadb_dir / "change.js"
    script.write_text(MARIADB_CHANGE)
    env = dict(os.environ, SB_TOKEN=b.token)
    r = subprocess.run(["node", str(script), b.host, str(b.mysql_port)], cwd=node_mariadb_dir,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + b.log_text()[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["z"] is None and out["seven"] == 7, out
    assert out["bad"] == 1045, out
    assert b.wait_audit("login", where=lambda r: r.get("verb") == "change_user")


def test_change_user_pipelined_and_malformed(my_ready, maria):
    """A command sent right behind COM_CHANGE_USER (same write) runs after
    the reset, in order; a change user sent while a query runs waits for
    it; a malformed COM_CHANGE_USER ends only that session."""
    b = my_ready
    needs_lexer(b)
    c = RawMy(b.mysql_port, "alice", b.token)
    c.value("SET @sb_p = 9")
    auth = _native(b.token, c.nonce)
    cu = (b"\x11alice\0" + bytes([len(auth)]) + auth + b"appdb\0" + struct.pack("<H", 45)
          + b"mysql_native_password\0")
    q = b"\x03SELECT @sb_p"
    sleep = b"\x03SELECT SLEEP(0.5)"
    wire = b""
    for p in (sleep, cu, q):
        wire += struct.pack("<I", len(p))[:3] + b"\0" + p
    c.s.sendall(wire)
    # SLEEP's result first, whole
    seq, body = _read_packet(c.s)
    assert body[0] == 1, body
    for _ in range(3):  # column, EOF, row
        _read_packet(c.s)
    seq, body = _read_packet(c.s)
    assert body[:1] == b"\xfe", body
    # then the change user's OK, then the query's answer: NULL after the reset
    seq, body = _read_packet(c.s)
    assert (seq, body[:1]) == (1, b"\x00"), (seq, body)
    seq, body = _read_packet(c.s)
    assert body[0] == 1, body
    _read_packet(c.s)
    _read_packet(c.s)
    seq, row = _read_packet(c.s)
    assert row[:1] == b"\xfb", row  # NULL: the server session was reset
    _read_packet(c.s)
    c.close()
    for bad in (b"\x11alice", b"\x11alice\0\x14short", b"\x11"):
        c = RawMy(b.mysql_port, "alice", b.token)
        c._send(0, bad)
        seq, body = _read_packet(c.s)
        assert body[:1] == b"\xff", body
        assert c.closed()
    # the proxy goes on
    c = RawMy(b.mysql_port, "alice", b.token)
    assert c.value("SELECT 3") == "3"
    c.close()
