"""MySQL TLS handshakes through the proxy (issue 11 items 1 and 2).

1. A MySQL client sends SSLRequest and its TLS ClientHello without waiting
   for a reply; when both arrive in one read the proxy must hand the bytes
   to TLS (unlike PostgreSQL, where early bytes are an injection:
   CVE-2021-23214, still refused: test_pg_login).
2. With backend TLS (prefer / require / verify-full against a MariaDB with
   TLS on) every client logs in, including those that connect without a
   database (mysqlslap, the mariadb CLI's KILL QUERY connection): the
   proxy's SSLRequest and its HandshakeResponse after TLS must carry the
   same capabilities, or MariaDB answers 1043 Bad handshake.
"""
import hashlib
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time

import pytest

from test_audit_mysql_ground_truth import general_log


def _packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def _read_packet(sock):
    hdr = b""
    while len(hdr) < 4:
        chunk = sock.recv(4 - len(hdr))
        assert chunk, "connection closed"
        hdr += chunk
    n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        assert chunk, "connection closed"
        body += chunk
    return hdr[3], body


def _parse_greeting(g):
    assert g[0] == 10
    p = g.index(b"\0", 1) + 1
    p += 4  # connection id
    s1 = g[p:p + 8]
    p += 9
    caps = struct.unpack("<H", g[p:p + 2])[0]
    p += 3  # caps low, charset
    p += 2  # status
    caps |= struct.unpack("<H", g[p:p + 2])[0] << 16
    p += 2
    p += 1 + 10
    s2 = g[p:p + 12]
    return caps, s1 + s2


def _native(token, scramble):
    h1 = hashlib.sha1(token.encode()).digest()
    h2 = hashlib.sha1(hashlib.sha1(h1).digest()).digest()
    h3 = hashlib.sha1(scramble + hashlib.sha1(h1).digest()).digest()
    del h2
    return bytes(a ^ b for a, b in zip(h1, h3))


CLIENT_LONG_PASSWORD = 1
CLIENT_CONNECT_WITH_DB = 8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000


class _TLSOverSocket:
    """TLS on a socket through MemoryBIOs, so the ClientHello can be made
    before anything is sent and go out in the same send as the SSLRequest."""

    def __init__(self, sock):
        self.sock = sock
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_side=False)

    def client_hello(self):
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.out.read()

    def _pump_in(self):
        data = self.sock.recv(65536)
        assert data, "connection closed during TLS"
        self.inc.write(data)

    def finish_handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = self.out.read()
                if pending:
                    self.sock.sendall(pending)
                self._pump_in()
        pending = self.out.read()
        if pending:
            self.sock.sendall(pending)

    def sendall(self, data):
        self.tls.write(data)
        self.sock.sendall(self.out.read())

    def recv(self, n):
        while True:
            try:
                return self.tls.read(n)
            except ssl.SSLWantReadError:
                self._pump_in()


def _coalesced_login(b, database=b"appdb"):
    sock = socket.create_connection((b.host, b.mysql_port), timeout=10)
    try:
        _, greeting = _read_packet(sock)
        caps, scramble = _parse_greeting(greeting)
        assert caps & CLIENT_SSL, "proxy offers no TLS"
        mine = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL |
                CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                (CLIENT_CONNECT_WITH_DB if database else 0))
        fixed = struct.pack("<IIB", mine, 1 << 24, 45) + b"\0" * 23
        tls = _TLSOverSocket(sock)
        hello = tls.client_hello()
        assert hello
        # SSLRequest and ClientHello in ONE send: one read on the proxy.
        sock.sendall(_packet(1, fixed) + hello)
        tls.finish_handshake()
        auth = _native(b.token, scramble)
        resp = fixed + b"alice\0" + bytes([len(auth)]) + auth
        if database:
            resp += database + b"\0"
        resp += b"mysql_native_password\0"
        tls.sendall(_packet(2, resp))
        _, reply = _read_packet(tls)
        assert reply[:1] == b"\x00", f"login failed: {reply!r}"
        # A query over the same TLS session.
        q = b"\x03SELECT 'coalesced-tls-ok'"
        tls.sendall(_packet(0, q))
        seq, first = _read_packet(tls)
        assert first[0] == 1, first  # one column
        rows = b""
        for _ in range(4):
            _, pkt = _read_packet(tls)
            rows += pkt
        assert b"coalesced-tls-ok" in rows
    finally:
        sock.close()


def test_sslrequest_and_clienthello_in_one_send(my_ready, maria):
    b = my_ready
    for _ in range(3):
        _coalesced_login(b)
    assert "data received after SSLRequest" not in b.log_text()
    assert len(b.audit_records("login")) >= 3


def test_plaintext_after_sslrequest_is_not_read_as_sql(my_ready, maria):
    """Bytes behind the SSLRequest that are not TLS fail the TLS handshake:
    never run as a command."""
    b = my_ready
    marker = "sb_inject_%d" % os.getpid()
    sock = socket.create_connection((b.host, b.mysql_port), timeout=10)
    try:
        _read_packet(sock)
        fixed = struct.pack("<IIB", CLIENT_PROTOCOL_41 | CLIENT_SSL |
                            CLIENT_SECURE_CONNECTION, 1 << 24, 45) + b"\0" * 23
        sock.sendall(_packet(1, fixed) + _packet(0, b"\x03SELECT '" + marker.encode() + b"'"))
        sock.settimeout(5)
        try:
            while sock.recv(4096):
                pass
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        sock.close()
    assert marker not in maria.log_text()


def test_pymysql_tls_loop(my_ready):
    import pymysql
    b = my_ready
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for i in range(40):
        conn = pymysql.connect(host=b.host, port=b.mysql_port, user="alice",
                               password=b.token, database="appdb", connect_timeout=10,
                               ssl=ctx)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT %s", (i,))
                assert cur.fetchone()[0] == i
                cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
        finally:
            conn.close()
    assert "data received after SSLRequest" not in b.log_text()


# ---- item 2: backend TLS with clients that connect without a database ----

def _backend_tls_bastion(bastion_factory, maria, tls):
    conf = {"sqlbastion": {"backend_ca": str(maria.ca_file)}} if tls == "verify-full" else None
    b = bastion_factory(listeners=("postgres", "mysql"), conf=conf)
    b.mysql_ready(maria, tls=tls)
    return b


@pytest.mark.parametrize("tls", ["prefer", "require", "verify-full"])
def test_clients_over_backend_tls(bastion_factory, maria, tls):
    b = _backend_tls_bastion(bastion_factory, maria, tls)
    tag = f"sb_btls_{tls.replace('-', '_')}_{os.getpid()}"
    log_path = maria.base / f"general-btls-{os.getpid()}-{time.monotonic_ns()}.log"
    with general_log(maria, log_path):
        _run_clients(b, tag)
        time.sleep(0.5)
    log = log_path.read_text(errors="replace")
    log_path.unlink()
    # Ground truth: the server ran them, over TLS.
    assert f"{tag}_cli" in log and f"{tag}_pymysql" in log
    if shutil.which("mariadb-slap") or shutil.which("mysqlslap"):
        assert f"{tag}_slap" in log
    assert not [x for x in b.audit_records("login_failed")], b.audit_records("login_failed")


def _run_clients(b, tag):
    # mariadb CLI with and without a database (the Ctrl-C KILL QUERY
    # connection has none), TLS on and off towards the proxy.
    for ssl_on in (False, True):
        for db in ("appdb", None):
            r = b.mysql(f"SELECT '{tag}_cli', CONNECTION_ID()", database=db, ssl=ssl_on)
            assert r.returncode == 0, r.stdout + r.stderr
            assert f"{tag}_cli" in r.stdout
    # The backend session really is TLS.
    r = b.mysql("SHOW SESSION STATUS LIKE 'Ssl_cipher'", database=None)
    assert r.returncode == 0 and r.stdout.split()[1:], r.stdout + r.stderr
    # pymysql without a database.
    conn = b.pymysql(database=None)
    with conn.cursor() as cur:
        cur.execute(f"SELECT '{tag}_pymysql'")
        assert cur.fetchone()[0] == f"{tag}_pymysql"
    conn.close()
    # mysqlslap (connects without a database first).
    slap = shutil.which("mariadb-slap") or shutil.which("mysqlslap")
    if slap:
        env = dict(os.environ, MYSQL_PWD=b.token)
        r = subprocess.run([slap, "--no-defaults", "-h", b.host, "-P", str(b.mysql_port),
                            "-u", "alice", "--skip-ssl", "--create-schema=appdb", "--no-drop",
                            f"--query=SELECT '{tag}_slap'", "--concurrency=2",
                            "--iterations=2", "--number-of-queries=20"],
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Bad handshake" not in r.stdout + r.stderr


JAR = "/usr/share/java/mariadb-java-client.jar"


@pytest.mark.skipif(not (os.path.exists(JAR) and shutil.which("java")),
                    reason="no MariaDB Connector/J or java")
def test_jdbc_over_backend_tls(bastion_factory, maria, tmp_path):
    b = _backend_tls_bastion(bastion_factory, maria, "require")
    src = tmp_path / "Probe.java"
    src.write_text("""
import java.sql.*;
public class Probe {
  public static void main(String[] a) throws Exception {
    for (String db : new String[]{"appdb", ""}) {
      String url = "jdbc:mariadb://" + a[0] + ":" + a[1] + "/" + db + "?user=alice&password=" + System.getenv("SB_TOKEN") + "&useSsl=true&trustServerCertificate=true";
      try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
           ResultSet r = s.executeQuery("SELECT 'jdbc_btls_" + (db.isEmpty() ? "nodb" : db) + "'")) {
        r.next(); System.out.println(r.getString(1));
      }
    }
  }
}
""")
    env = dict(os.environ, SB_TOKEN=b.token)
    r = subprocess.run(["java", "-cp", JAR, str(src), b.host, str(b.mysql_port)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "jdbc_btls_appdb" in r.stdout and "jdbc_btls_nodb" in r.stdout
