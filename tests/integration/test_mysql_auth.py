"""MySQL frontend authentication beyond the defaults (issue 3), against the
real MariaDB 10.11 fixture and real clients:

  Backend side: a hosted account that MariaDB authenticates with
  client_ed25519 (plugin auth_ed25519, `IDENTIFIED VIA ed25519`): the proxy
  signs the server's nonce with the hosted password. A wrong hosted secret
  is a login refusal whose reason (the server's 1045) is in the
  login_failed audit record only, never shown to the client.

  Client side: caching_sha2_password full authentication over plain TCP
  with the proxy's in-memory RSA key. PyMySQL speaks caching_sha2 the way it
  does to a MySQL 8 server (whose greeting names that plugin): fast path
  first; when that matches no token the proxy asks for full authentication,
  PyMySQL requests the public key and sends the token RSA-OAEP encrypted,
  and the proxy checks the decrypted token by its lookup hash, so the
  refusal reason is the cleartext check's.

  No correct client holding a valid token reaches full authentication: the
  fast path tries every token of the user that could still be valid, so a
  good token always matches there. The successful RSA login is therefore
  shown with PyMySQL whose fast-path answer is deliberately spoiled (and
  with a hand-written client on the wire), as an interop test of the
  exchange, not as a state real clients get into.
"""

import secrets
import socket
import struct

import pytest

from bastion import random_token_like
from test_mysql_clients import _greeting_scramble, _read_packet, _sha2_scramble
from test_mysql_proxy import needs_lexer

ED_USER = "app_ed"


# ---------------------------------------------------------------- helpers


def ed25519_account(maria):
    """Install auth_ed25519 on the session's MariaDB and create app_ed
    (IDENTIFIED VIA ed25519, all privileges on appdb) once; returns its
    password."""
    r = maria.sql("INSTALL SONAME 'auth_ed25519'", check=False)
    if r.returncode != 0 and "already" not in r.stderr:
        pytest.fail(f"INSTALL SONAME 'auth_ed25519' failed: {r.stderr}")
    pw = maria.passwords.get(ED_USER)
    if pw is None:
        pw = secrets.token_urlsafe(24)
        # The password travels on the CLI's stdin, not in argv.
        maria.sql(f"CREATE USER '{ED_USER}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('{pw}');"
                  f"GRANT ALL ON appdb.* TO '{ED_USER}'@'%';")
        maria.passwords[ED_USER] = pw
    assert maria.value(f"SELECT plugin FROM mysql.user WHERE user = '{ED_USER}'") == "ed25519"
    return pw


def ed25519_ready(b, maria, password):
    """alice -> demo-mysql/ed (hosted account app_ed with `password`), write
    grant, token; proxy started. Returns the token."""
    b.add_user("alice")
    b.add_asset("demo-mysql", host=maria.host, port=maria.port, protocol="mysql")
    b.add_account("demo-mysql/ed", username=ED_USER, password=password)
    b.grant("alice", "demo-mysql/ed", "write")
    token = b.issue_token("alice", "demo-mysql/ed")
    b.start()
    return token


def sha2_pymysql_class():
    """PyMySQL's Connection as it talks to a MySQL 8 server, whose greeting
    names caching_sha2_password: it then answers with the fast-path
    scramble and, if asked, does full authentication (public key request
    and RSA-OAEP over plain TCP). The proxy's greeting names
    mysql_native_password, which PyMySQL would otherwise use."""
    import pymysql

    class Sha2Connection(pymysql.connections.Connection):
        def _get_server_information(self):
            super()._get_server_information()
            self._auth_plugin_name = "caching_sha2_password"

    return Sha2Connection


def sha2_connect(b, token, user="alice", **kw):
    """A deferred Sha2Connection to the proxy (call .connect()); closed with b."""
    conn = sha2_pymysql_class()(host=b.host, port=b.mysql_port, user=user, password=token,
                                database="appdb", connect_timeout=10, autocommit=True,
                                defer_connect=True, **kw)
    b._conns.append(conn)
    return conn


def no_secret_leaked(b, *secrets_):
    log, audit = b.log_text(), b.audit_jsonl.read_text()
    for s in secrets_:
        assert s not in log, "a secret is in the proxy log"
        assert s not in audit, "a secret is in the audit log"
    assert "PRIVATE KEY" not in log


# ---------------------------------------------------------------- backend: client_ed25519


def test_mysql_backend_ed25519_login(my_bastion, maria):
    b = my_bastion
    pw = ed25519_account(maria)
    ed25519_ready(b, maria, pw)
    needs_lexer(b)
    # The mariadb CLI (Connector/C) through the proxy; the proxy logs in to
    # MariaDB as app_ed with client_ed25519.
    r = b.mysql("SELECT CURRENT_USER(); SELECT owner FROM accounts WHERE id = 2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"{ED_USER}@%", "bob"], r.stdout
    rec = b.wait_audit("login", user="alice")[0]
    assert rec["asset"] == "demo-mysql" and rec["account"] == ED_USER  # the database user
    # PyMySQL, several sessions: each backend login signs a fresh nonce.
    for i in range(8):
        c = b.pymysql()
        cur = c.cursor()
        cur.execute("SELECT CURRENT_USER(), count(*) FROM accounts WHERE id > %s", (i % 3,))
        assert cur.fetchone() == (f"{ED_USER}@%", 3 - i % 3)
        c.close()
    assert len(b.wait_audit("login", user="alice", count=9)) >= 9
    assert not b.audit_records("login_failed")
    no_secret_leaked(b, pw, b.token)


def test_mysql_backend_ed25519_wrong_secret(my_bastion, maria):
    """A wrong hosted secret for an ed25519 account: MariaDB refuses the
    signature (1045); the client hears only that the hosted account could
    not log in, the audit record has the server's reason."""
    b = my_bastion
    ed25519_account(maria)
    wrong = "not-the-ed25519-password-" + secrets.token_hex(4)
    ed25519_ready(b, maria, wrong)
    r = b.mysql("SELECT 1")
    assert r.returncode != 0
    assert "ERROR 1045 (28000)" in r.stderr, r.stderr
    assert "could not log in to the database with the hosted account" in r.stderr, r.stderr
    # the reason is not the client's to see
    assert "backend login failed" not in r.stderr and ED_USER not in r.stderr, r.stderr
    rec = b.wait_audit("login_failed")[0]
    assert rec["user"] == "alice" and rec["account"] == ED_USER, rec
    assert "backend login failed: 1045 (28000)" in rec["error"], rec
    assert f"Access denied for user '{ED_USER}'" in rec["error"], rec
    assert not b.audit_records("login")
    # PyMySQL too
    import pymysql
    with pytest.raises(pymysql.err.OperationalError) as ei:
        b.pymysql()
    assert ei.value.args[0] == 1045
    assert "backend login failed" not in str(ei.value)
    b.wait_audit("login_failed", count=2)
    no_secret_leaked(b, wrong, b.token)


# ---------------------------------------------------------------- client: caching_sha2 full auth, plain TCP


def test_mysql_sha2_plain_right_token_fast_path(my_ready, maria):
    """The right token with caching_sha2 over plain TCP: the fast path; no
    public key is asked for."""
    b = my_ready
    c = sha2_connect(b, b.token)
    c.connect()
    assert c.server_public_key is None  # PyMySQL sets it only after asking
    assert not c._secure
    cur = c.cursor()
    cur.execute("SELECT CURRENT_USER()")
    if cur.fetchone() is None:
        pytest.fail("no row")
    rec = b.wait_audit("login", user="alice")[0]
    assert rec["account"] == "app"
    no_secret_leaked(b, b.token)


def test_mysql_sha2_plain_wrong_token_rsa(my_ready, maria):
    """A wrong token with caching_sha2 over plain TCP: fast path misses,
    full authentication, PyMySQL fetches the proxy's public key and sends
    the token RSA-encrypted; the proxy decrypts it and refuses it with the
    cleartext check's reason (not a decryption error). Nothing secret in
    the logs."""
    import pymysql
    b = my_ready
    wrong = random_token_like()
    c = sha2_connect(b, wrong)
    with pytest.raises(pymysql.err.OperationalError) as ei:
        c.connect()
    assert ei.value.args[0] == 1045, ei.value
    assert "Access denied for user 'alice'" in ei.value.args[1]
    pem = c.server_public_key
    assert pem and pem.startswith(b"-----BEGIN PUBLIC KEY-----\n"), pem
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    assert load_pem_public_key(pem).key_size == 2048
    rec = b.wait_audit("login_failed")[0]
    assert rec["error"] == "bad token", rec  # what auth_check_token says
    # Another user's valid token is just as bad, also after decryption.
    b.add_user("bob")
    b.grant("bob", "demo-mysql/app", "write")
    tok_bob = b.issue_token("bob", "demo-mysql/app")
    c = sha2_connect(b, tok_bob, user="alice")
    with pytest.raises(pymysql.err.OperationalError):
        c.connect()
    assert b.wait_audit("login_failed", count=2)[1]["error"] == "bad token"
    # An unknown user gets the same exchange; the decrypted token's check
    # says why.
    c = sha2_connect(b, random_token_like(), user="mallory")
    with pytest.raises(pymysql.err.OperationalError):
        c.connect()
    assert c.server_public_key == pem
    assert b.wait_audit("login_failed", count=3)[2]["error"] == "unknown user"
    # The same key for every session (made once at start).
    c = sha2_connect(b, random_token_like())
    with pytest.raises(pymysql.err.OperationalError):
        c.connect()
    assert c.server_public_key == pem
    no_secret_leaked(b, wrong, tok_bob, b.tokens[("alice", "demo-mysql/app")])


def test_mysql_sha2_plain_rsa_cli(my_ready, maria):
    """The mariadb CLI (Connector/C's caching_sha2 plugin) over plain TCP
    with a wrong token takes the same RSA path (it always asks for the
    key) and is refused with the cleartext reason."""
    b = my_ready
    r = b.mysql("SELECT 1", token=random_token_like(), ssl=False,
                args=["--default-auth=caching_sha2_password"])
    assert r.returncode != 0 and "ERROR 1045 (28000)" in r.stderr, r.stderr
    assert b.wait_audit("login_failed")[0]["error"] == "bad token"


def test_mysql_sha2_plain_rsa_login_forced(my_ready, maria, monkeypatch):
    """Interop of the successful RSA path with PyMySQL's real RSA-OAEP code:
    its fast-path answer is spoiled (no real client state gets here with a
    valid token, see the module docstring), so the valid token reaches the
    proxy RSA-encrypted, decrypts, and logs in."""
    import pymysql._auth
    b = my_ready
    monkeypatch.setattr(pymysql._auth, "scramble_caching_sha2",
                        lambda password, nonce: b"\x00" * 32)
    c = sha2_connect(b, b.token)
    c.connect()
    assert c.server_public_key.startswith(b"-----BEGIN PUBLIC KEY-----")
    cur = c.cursor()
    cur.execute("SELECT CURRENT_USER()")
    assert cur.fetchone()[0].startswith("app@")
    rec = b.wait_audit("login", user="alice")[0]
    assert rec["account"] == "app"
    assert not b.audit_records("login_failed")
    no_secret_leaked(b, b.token)


def _sha2_full_auth_wire(port, token, how):
    """By hand on the wire: greeting, a caching_sha2 handshake response with
    a spoiled fast-path answer, then full authentication. how: "rsa" (ask
    for the key, encrypt with it), "clear" (send the token in clear, as a
    client that wrongly thinks the link is secure). Returns the packets
    received after the handshake response, up to OK or ERR."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    got = []
    try:
        seq, body = _read_packet(s)
        nonce = _greeting_scramble(body)
        auth = bytes(x ^ 0xFF for x in _sha2_scramble(token, nonce))  # spoiled
        caps = 0x1 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000
        payload = (struct.pack("<IIB23x", caps, 1 << 24, 45) + b"alice\0"
                   + bytes([len(auth)]) + auth + b"appdb\0" + b"caching_sha2_password\0")
        s.sendall(struct.pack("<I", len(payload))[:3] + b"\x01" + payload)

        def send(seq, data):
            s.sendall(struct.pack("<I", len(data))[:3] + bytes([seq]) + data)

        got.append(_read_packet(s))
        if got[-1] != (2, b"\x01\x04"):
            return got
        if how == "clear":
            send(3, token.encode() + b"\0")
        else:
            send(3, b"\x02")
            got.append(_read_packet(s))
            key = load_pem_public_key(got[-1][1][1:])
            plain = bytes(c ^ nonce[i % 20] for i, c in enumerate(token.encode() + b"\0"))
            enc = key.encrypt(plain, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                                  algorithm=hashes.SHA1(), label=None))
            send(5, enc)
        got.append(_read_packet(s))
        if got[-1][1][:1] == b"\x00":
            s.sendall(b"\x01\x00\x00\x00\x01")  # COM_QUIT
        return got
    finally:
        s.close()


def test_mysql_sha2_full_auth_wire(my_ready, maria):
    """The exchange packet by packet: perform_full_authentication (0x01
    0x04), the key as AuthMoreData (0x01 + PEM), then OK for the RSA
    ciphertext of the right token. The token in clear on a plain
    connection is refused (it is not a ciphertext), never taken."""
    b = my_ready
    got = _sha2_full_auth_wire(b.mysql_port, b.token, "rsa")
    assert [g[0] for g in got] == [2, 4, 6], got
    assert got[0][1] == b"\x01\x04"
    assert got[1][1].startswith(b"\x01-----BEGIN PUBLIC KEY-----\n")
    assert got[2][1][0] == 0x00, got  # OK
    b.wait_audit("login", user="alice")
    got = _sha2_full_auth_wire(b.mysql_port, b.token, "clear")
    assert [g[0] for g in got] == [2, 4] and got[1][1][0] == 0xFF, got
    assert struct.unpack("<H", got[1][1][1:3])[0] == 1045
    err = b.wait_audit("login_failed")[0]["error"]
    assert err.startswith("caching_sha2_password full authentication: RSA-encrypted token "
                          "has 37 bytes"), err
    assert len(b.audit_records("login")) == 1
    no_secret_leaked(b, b.token)
