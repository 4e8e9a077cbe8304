"""Fake malicious backends for the backend-auth tests: a PostgreSQL and a
MySQL server, in a thread, that try to get the hosted secret out of the
proxy (issue 10 class 3). Each records every byte it received, so a test
can assert the secret (or a hash of it) never reached it."""
import base64
import os
import socket
import ssl
import struct
import threading


class FakeServer:
    """Accepts connections on a free loopback port and runs
    self.scenario(conn) for each in a thread; received bytes go to
    self.received (all connections)."""

    def __init__(self, scenario, tls_cert=None, tls_key=None):
        self.scenario = scenario
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.host, self.port = self.sock.getsockname()
        self.received = bytearray()
        self.events = []       # what the fake saw, in order (for asserts)
        self.errors = []
        self.tls_ctx = None
        if tls_cert:
            self.tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_ctx.load_cert_chain(str(tls_cert), str(tls_key))
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                self.scenario(self, conn)
            except Exception as e:  # noqa: BLE001 - recorded for the test
                self.errors.append(repr(e))
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def recv_exact(self, conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError("peer closed")
            buf += chunk
        self.received += buf
        return buf

    def close(self):
        self._stop = True
        self.thread.join(timeout=3)
        self.sock.close()


# ---------------------------------------------------------------- PostgreSQL

def pg_msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def pg_auth(code, data=b""):
    return pg_msg(b"R", struct.pack("!I", code) + data)


def pg_ready_after_ok():
    return (pg_auth(0) + pg_msg(b"S", b"server_version\x0015.0\x00") +
            pg_msg(b"K", struct.pack("!II", 4242, 1)) + pg_msg(b"Z", b"I"))


def pg_startup(fake, conn):
    """Read SSLRequest (answer S with TLS when the fake has a cert, else N)
    and the StartupMessage. Returns the (maybe TLS) connection."""
    while True:
        n = struct.unpack("!I", fake.recv_exact(conn, 4))[0]
        body = fake.recv_exact(conn, n - 4)
        code = struct.unpack("!I", body[:4])[0]
        if code == 80877103:  # SSLRequest
            if fake.tls_ctx:
                conn.sendall(b"S")
                conn = fake.tls_ctx.wrap_socket(conn, server_side=True)
                fake.events.append("tls")
            else:
                conn.sendall(b"N")
                fake.events.append("no-tls")
            continue
        fake.events.append("startup")
        return conn


def pg_read_msg(fake, conn):
    """One typed message from the proxy, or None when it closed."""
    try:
        h = fake.recv_exact(conn, 5)
        body = fake.recv_exact(conn, struct.unpack("!I", h[1:])[0] - 4)
    except (EOFError, OSError, socket.timeout):
        return None
    fake.events.append("msg:" + chr(h[0]))
    return h[:1], body


def pg_scenario(kind):
    """A PostgreSQL server that, after the startup, plays `kind`:
    cleartext / md5 (asks for the password), trust (AuthenticationOk at
    once), ok_mid_scram (AuthenticationOk right after SASLInitialResponse),
    final_first (SASLFinal before SASLContinue, with an all-zero
    signature), wrong_sig (a full SCRAM exchange with a wrong signature)."""

    def run(fake, conn):
        conn = pg_startup(fake, conn)
        if kind == "cleartext":
            conn.sendall(pg_auth(3))
        elif kind == "md5":
            conn.sendall(pg_auth(5, b"\x01\x02\x03\x04"))
        elif kind == "trust":
            conn.sendall(pg_ready_after_ok())
        else:
            conn.sendall(pg_auth(10, b"SCRAM-SHA-256\x00\x00"))
            m = pg_read_msg(fake, conn)
            if m is None:
                return
            first = m[1].split(b"\x00", 1)[1][4:].decode()  # after the length
            cnonce = first.split("r=", 1)[1]
            if kind == "ok_mid_scram":
                conn.sendall(pg_ready_after_ok())
            elif kind == "final_first":
                sig = base64.b64encode(b"\x00" * 32)
                conn.sendall(pg_auth(12, b"v=" + sig) + pg_ready_after_ok())
            elif kind == "wrong_sig":
                salt = base64.b64encode(os.urandom(16)).decode()
                sf = f"r={cnonce}srv,s={salt},i=4096".encode()
                conn.sendall(pg_auth(11, sf))
                if pg_read_msg(fake, conn) is None:
                    return
                sig = base64.b64encode(os.urandom(32))
                conn.sendall(pg_auth(12, b"v=" + sig) + pg_ready_after_ok())
        # Whatever the proxy sends next (a password?) is recorded; a
        # password is accepted (the test then sees what the proxy does
        # with a server it should not trust); queries get an error.
        while (m := pg_read_msg(fake, conn)) is not None:
            if m[0] == b"p" and kind in ("cleartext", "md5"):
                conn.sendall(pg_ready_after_ok())
            elif m[0] == b"Q":
                conn.sendall(pg_msg(b"E", b"SERROR\x00C42000\x00Mfake\x00\x00") +
                             pg_msg(b"Z", b"I"))

    return run


# ---------------------------------------------------------------- MySQL

def my_packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def my_read(fake, conn):
    try:
        h = fake.recv_exact(conn, 4)
        n = h[0] | h[1] << 8 | h[2] << 16
        body = fake.recv_exact(conn, n)
    except (EOFError, OSError, socket.timeout):
        return None
    fake.events.append("packet")
    return h[3], body


def my_greeting(plugin, scramble, tls=False):
    caps = (0x800 if tls else 0) | (0x1 | 0x8 | 0x200 | 0x8000 | 0x80000 | 0x100000 | 0x200000 | 0x2000 |
            0x10000 | 0x20000 | 0x40000 | 0x800000 | 0x1000000)
    return (b"\x0a" + b"5.5.5-10.11.0-MariaDB-fake\x00" + struct.pack("<I", 77) +
            scramble[:8] + b"\x00" + struct.pack("<H", caps & 0xFFFF) + b"\x2d" +
            struct.pack("<H", 2) + struct.pack("<H", caps >> 16) + bytes([21]) +
            b"\x00" * 10 + scramble[8:20] + b"\x00" + plugin + b"\x00")


MY_OK = b"\x00\x00\x00\x02\x00\x00\x00"


def my_scenario(kind, public_pem=None, private_key=None, secret=None):
    """A MySQL server without TLS playing `kind`:
    clear_switch   auth switch to mysql_clear_password
    rsa_own_key    caching_sha2 full auth; answers a key request with its own key
    native_switch  auth switch to mysql_native_password with its own nonce, then OK
    sha2_pinned    caching_sha2 full auth as the real server holding the pinned
                   private key (private_key: a cryptography-free decrypt callback)
    """
    scramble = b"abcdefghijklmnopqrst"

    def run(fake, conn):
        plugin = b"caching_sha2_password" if kind in ("rsa_own_key", "sha2_pinned") \
            else b"mysql_native_password"
        conn.sendall(my_packet(0, my_greeting(plugin, scramble, tls=fake.tls_ctx is not None)))
        p = my_read(fake, conn)
        if p is None:
            return
        if len(p[1]) == 32 and struct.unpack("<I", p[1][:4])[0] & 0x800:  # SSLRequest
            conn = fake.tls_ctx.wrap_socket(conn, server_side=True)
            fake.events.append("tls")
            p = my_read(fake, conn)
            if p is None:
                return
        seq = p[0] + 1
        if kind == "clear_switch":
            conn.sendall(my_packet(seq, b"\xfemysql_clear_password\x00"))
        elif kind == "native_switch":
            conn.sendall(my_packet(seq, b"\xfemysql_native_password\x00" + scramble + b"\x00"))
            r = my_read(fake, conn)
            if r is None:
                return
            fake.events.append(("native-response", r[1]))
            conn.sendall(my_packet(r[0] + 1, MY_OK))
        else:
            conn.sendall(my_packet(seq, b"\x01\x04"))  # perform_full_authentication
            r = my_read(fake, conn)
            if r is None:
                return
            fake.events.append(("full-auth", r[1]))
            if r[1] == b"\x02":
                conn.sendall(my_packet(r[0] + 1, b"\x01" + public_pem))
                r = my_read(fake, conn)
                if r is None:
                    return
                fake.events.append(("full-auth", r[1]))
            if kind == "sha2_pinned" and private_key and private_key(r[1], scramble) == secret:
                conn.sendall(my_packet(r[0] + 1, MY_OK))
                fake.events.append("accepted")
        while my_read(fake, conn) is not None:
            pass

    return run
