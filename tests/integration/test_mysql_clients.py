"""More real MySQL clients through sqlbastion (issue 3): node mysql2 with
binary prepared statements (execute()), mysqlslap, and a client that starts
with caching_sha2_password (the fast path towards clients).

node mysql2 comes from the npm registry into a temp directory; without
node/npm or without a reachable registry that test skips and says why.
"""

import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess

import pytest

from bastion import run
from test_mysql_proxy import needs_lexer

# ---------------------------------------------------------------- node mysql2

MYSQL2_SCRIPT = r"""
const mysql = require('mysql2/promise');
(async () => {
  const out = {};
  const c = await mysql.createConnection({
    host: process.argv[2], port: Number(process.argv[3]), user: 'alice',
    password: process.env.SB_TOKEN, database: 'appdb', ssl: undefined,
  });
  const [rows] = await c.execute('SELECT id, owner FROM accounts WHERE id = ?', [1]);
  out.rows = rows;
  try {
    await c.execute('DROP TABLE accounts');
    out.drop = 'ran';
  } catch (e) {
    out.drop = { errno: e.errno, sqlState: e.sqlState, message: e.message };
  }
  const [after] = await c.query('SELECT count(*) AS n FROM accounts');
  out.after = after[0].n;
  // a second execute of the same statement reuses the server's statement
  const [again] = await c.execute('SELECT id, owner FROM accounts WHERE id = ?', [3]);
  out.again = again;
  await c.end();
  console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ fatal: String(e), errno: e.errno })); process.exit(1); });
"""




def test_mysql_node_mysql2_execute(my_ready, maria, mysql2_dir):
    b = my_ready
    needs_lexer(b)
    script = mysql2_dir / "run.js"
    script.write_text(MYSQL2_SCRIPT)
    env = dict(os.environ, SB_TOKEN=b.token)
    r = subprocess.run(["node", script, b.host, str(b.mysql_port)], cwd=mysql2_dir, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["rows"] == [{"id": 1, "owner": "alice"}]
    assert out["drop"]["errno"] == 1227, out
    assert out["drop"]["sqlState"] == "42000"
    assert "sqlbastion: blocked by rule 'no-drop'" in out["drop"]["message"]
    assert out["after"] == 3
    assert out["again"] == [{"id": 3, "owner": "carol"}]
    assert maria.value("SELECT count(*) FROM appdb.accounts") == "3"
    stmt = "SELECT id, owner FROM accounts WHERE id = ?"
    recs = b.wait_audit("query", count=2, statement=stmt)
    assert [x["params"] for x in recs] == [[1], [3]]
    assert all(x["decision"] == "allow" for x in recs)
    b.wait_audit("query_end", query_id=recs[0]["query_id"], session=recs[0]["session"],
                 where=lambda x: x.get("rows") == 1)
    d = b.wait_audit("query", decision="deny", statement="DROP TABLE accounts")[0]
    assert d["rule"] == "no-drop"


# ---------------------------------------------------------------- mysqlslap


def test_mysqlslap_through_proxy(my_ready, maria):
    """mysqlslap with its own queries only: --create-schema names the existing
    appdb, --query is a SELECT and --no-drop keeps it from dropping the schema
    afterwards (guard.rules denies DROP, and the schema is not its to drop);
    without --auto-generate-sql or --create it runs no DDL."""
    slap = shutil.which("mariadb-slap") or shutil.which("mysqlslap")
    if not slap:
        pytest.skip("mariadb-slap / mysqlslap not installed (Debian mariadb-client)")
    b = my_ready
    needs_lexer(b)
    env = dict(os.environ, MYSQL_PWD=b.token)
    query = "SELECT owner, balance FROM accounts WHERE id BETWEEN 1 AND 3"
    r = subprocess.run([slap, "--no-defaults", "-h", b.host, "-P", str(b.mysql_port),
                        "-u", "alice", "--skip-ssl", "--create-schema=appdb", "--no-drop",
                        f"--query={query}", "--concurrency=4", "--iterations=3",
                        "--number-of-queries=200"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Average number of seconds to run all queries" in r.stdout, r.stdout
    assert "error" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    # 3 iterations x 200 queries, all allowed and audited; no denial at all.
    recs = b.wait_audit("query", count=600, statement=query, decision="allow", timeout=10)
    assert len(recs) >= 600
    assert not b.audit_records("query", decision="deny")
    assert not [x for x in b.audit_records("query_end") if x.get("error")]


# ---------------------------------------------------------------- caching_sha2 fast path


def _read_packet(s):
    h = b""
    while len(h) < 4:
        d = s.recv(4 - len(h))
        if not d:
            raise ConnectionError("closed")
        h += d
    n = h[0] | h[1] << 8 | h[2] << 16
    body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            raise ConnectionError("closed")
        body += d
    return h[3], body


def _greeting_scramble(body):
    """The 20-byte nonce of a HandshakeV10 payload."""
    i = body.index(b"\0", 1) + 1      # after the version string
    part1 = body[i + 4:i + 12]         # after the connection id
    i += 4 + 8 + 1 + 2 + 1 + 2 + 2    # filler, caps lo, charset, status, caps hi
    alen = body[i]
    i += 1 + 10
    part2 = body[i:i + max(13, alen - 8)].rstrip(b"\0")
    return part1 + part2


def _sha2_scramble(token, nonce):
    h1 = hashlib.sha256(token.encode()).digest()
    h2 = hashlib.sha256(h1).digest()
    h3 = hashlib.sha256(h2 + nonce).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


def _sha2_login(port, user, token):
    """A client that starts with caching_sha2_password (like MySQL 8's), by
    hand: returns the packets the proxy answers the handshake response with,
    as (sequence id, payload) until an OK or ERR."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        seq, body = _read_packet(s)
        assert seq == 0 and body[0] == 10
        auth = _sha2_scramble(token, _greeting_scramble(body))
        caps = 0x1 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000  # ..., PLUGIN_AUTH
        payload = (struct.pack("<IIB23x", caps, 1 << 24, 45) + user.encode() + b"\0"
                   + bytes([len(auth)]) + auth + b"appdb\0" + b"caching_sha2_password\0")
        s.sendall(struct.pack("<I", len(payload))[:3] + b"\x01" + payload)
        got = []
        while True:
            seq, body = _read_packet(s)
            got.append((seq, body))
            # OK, ERR, or perform_full_authentication (this client stops there)
            if body[:1] in (b"\x00", b"\xff") or body == b"\x01\x04" or len(got) > 4:
                break
        if body[:1] == b"\x00":
            s.sendall(b"\x01\x00\x00\x00\x01")  # COM_QUIT
        return got
    finally:
        s.close()


def test_mysql_caching_sha2_fast_path_wire(my_ready, maria):
    """Fast path on a plain connection: fast_auth_success (0x01 0x03), then
    OK; no auth switch, no full authentication. A wrong token gets
    perform_full_authentication (0x01 0x04), as from a MySQL server whose
    cache misses (the RSA exchange that follows is in test_mysql_auth.py),
    and so does an unknown user: the answer does not tell who exists."""
    b = my_ready
    got = _sha2_login(b.mysql_port, "alice", b.token)
    assert got == [(2, b"\x01\x03"), (3, got[1][1])], got
    assert got[1][1][0] == 0x00, got
    b.wait_audit("login", user="alice")
    got = _sha2_login(b.mysql_port, "alice", b.token[:-1] + ("a" if b.token[-1] != "a" else "b"))
    assert got == [(2, b"\x01\x04")], got
    got = _sha2_login(b.mysql_port, "mallory", b.token)
    assert got == [(2, b"\x01\x04")], got


@pytest.mark.parametrize("ssl", [False, True])
def test_mysql_caching_sha2_client(my_ready, maria, ssl):
    """The MariaDB CLI (Connector/C) told to start with caching_sha2_password
    (MYSQL_DEFAULT_AUTH) logs in with the token: Connector/C sends no data
    for a plugin the greeting did not name, the proxy switches it to the
    same plugin with its nonce, and the client answers with the fast-path
    scramble (plain) or the token itself (inside TLS). A wrong token goes
    through full authentication (RSA with the proxy's key on plain TCP)
    and is refused with the cleartext check's reason."""
    b = my_ready
    needs_lexer(b)
    r = b.mysql("SELECT CURRENT_USER()", ssl=ssl,
                args=["--default-auth=caching_sha2_password"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("app@"), r.stdout
    rec = b.wait_audit("login", user="alice")[0]
    assert rec["account"] == "app"
    r = b.mysql("SELECT 1", ssl=ssl, token="sbt_" + "a" * 32,
                args=["--default-auth=caching_sha2_password"])
    assert r.returncode != 0
    assert "ERROR 1045" in r.stderr, r.stderr  # over TLS too: sent before the close
    assert "bad token" in b.wait_audit("login_failed")[0]["error"]


# ---------------------------------------------------------------- read grant: read-only server session


def test_mysql_read_grant_session_read_only(my_bastion, maria):
    """A read grant also makes the server session read-only (the proxy runs
    SET SESSION TRANSACTION READ ONLY after the backend login, before the
    client's first command, and again after COM_RESET_CONNECTION): a write
    the classifier cannot see (a view over a stored function that inserts;
    the function called by name is refused: its body, hidden from the
    account, makes it dynamic) fails on the server with 1792; reads work; a
    write grant is unaffected."""
    b = my_bastion
    b.mysql_ready(maria, level="write")
    needs_lexer(b)
    import pymysql
    maria.sql("""
CREATE TABLE IF NOT EXISTS appdb.ro_log (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20));
DROP FUNCTION IF EXISTS appdb.sb_touch;
DELIMITER //
CREATE FUNCTION appdb.sb_touch() RETURNS INT MODIFIES SQL DATA
BEGIN INSERT INTO appdb.ro_log (note) VALUES ('touched'); RETURN 1; END//
DELIMITER ;
CREATE OR REPLACE VIEW appdb.ro_view AS SELECT appdb.sb_touch() AS x;
DELETE FROM appdb.ro_log;
""")
    b.add_user("rita")
    b.grant("rita", "demo-mysql/app", "read")
    tok = b.issue_token("rita", "demo-mysql/app")
    c = b.pymysql(user="rita", token=tok)
    cur = c.cursor()
    cur.execute("SELECT owner FROM accounts WHERE id = 3")
    assert cur.fetchall() == (("carol",),)
    cur.execute("SELECT @@session.tx_read_only")
    assert cur.fetchone()[0] == 1

    def write_fails():
        with pytest.raises(pymysql.err.Error) as ei:
            cur.execute("SELECT sb_touch()")
        assert ei.value.args[0] == 1227, ei.value.args  # the proxy: a routine it cannot read
        with pytest.raises(pymysql.err.Error) as ei:
            cur.execute("SELECT x FROM ro_view")
        assert ei.value.args[0] == 1792, ei.value.args  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
        # the classifier let it through: the server refused it
        q = b.wait_audit("query", user="rita", statement="SELECT x FROM ro_view")[-1]
        assert q["decision"] == "allow", q
        cur.execute("SELECT count(*) FROM accounts")
        assert cur.fetchone()[0] == 3

    write_fails()
    # Switching back is a read-write switch the read level denies.
    with pytest.raises(pymysql.err.Error) as ei:
        cur.execute("SET SESSION TRANSACTION READ WRITE")
    assert ei.value.args[0] == 1227
    # COM_RESET_CONNECTION resets the access mode on the server: the proxy
    # sets it again (its reply is not relayed: the client sees one OK).
    COM_RESET_CONNECTION = 0x1F  # not in pymysql.constants.COMMAND
    c._execute_command(COM_RESET_CONNECTION, "")
    c._read_ok_packet()
    cur = c.cursor()
    cur.execute("SELECT @@session.tx_read_only")
    assert cur.fetchone()[0] == 1
    write_fails()
    assert maria.value("SELECT count(*) FROM appdb.ro_log") == "0"
    # The write grant's session is not read-only.
    w = b.pymysql(user="alice", token=b.tokens[("alice", "demo-mysql/app")])
    wc = w.cursor()
    wc.execute("SELECT x FROM ro_view")
    assert wc.fetchone()[0] == 1
    assert maria.value("SELECT count(*) FROM appdb.ro_log") == "1"
    maria.sql("DROP VIEW IF EXISTS appdb.ro_view; DROP FUNCTION IF EXISTS appdb.sb_touch; "
              "DROP TABLE IF EXISTS appdb.ro_log;")
