"""A raw PostgreSQL v3 protocol client for the pipelining tests: psycopg2
logs in through the proxy (SCRAM with the token), then the test writes
hand-made messages on a dup of that socket, many per write, and reads the
replies message by message."""

import os
import socket
import struct


def _msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


def _z(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def Q(sql):
    return _msg(b"Q", _z(sql))


def P(name, sql, types=()):
    return _msg(b"P", _z(name) + _z(sql) + struct.pack("!H", len(types)) +
                b"".join(struct.pack("!I", t) for t in types))


def _values(values):
    out = struct.pack("!H", len(values))
    for v in values:
        if v is None:
            out += struct.pack("!i", -1)
        else:
            v = v.encode() if isinstance(v, str) else v
            out += struct.pack("!i", len(v)) + v
    return out


def B(portal, stmt, params=()):
    return _msg(b"B", _z(portal) + _z(stmt) + struct.pack("!H", 0) + _values(params) +
                struct.pack("!H", 0))


def E(portal="", max_rows=0):
    return _msg(b"E", _z(portal) + struct.pack("!I", max_rows))


def S():
    return _msg(b"S")


def H():
    return _msg(b"H")


def C(kind, name):
    return _msg(b"C", kind.encode() + _z(name))


def D(kind, name):
    return _msg(b"D", kind.encode() + _z(name))


def F(oid, args=()):
    return _msg(b"F", struct.pack("!IH", oid, 0) + _values(args) + struct.pack("!H", 0))


def error_fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return out


class RawPg:
    """An authenticated raw session through the proxy."""

    def __init__(self, b, timeout=30, **kw):
        self.conn = b.connect(**kw)
        self.conn.autocommit = True
        self.sock = socket.socket(fileno=os.dup(self.conn.fileno()))
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, *msgs):
        self.sock.sendall(b"".join(msgs))

    def read(self):
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!I", self.buf[1:5])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("proxy closed the connection")
            self.buf += chunk
        n = struct.unpack("!I", self.buf[1:5])[0]
        t, body = self.buf[:1].decode(), self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return t, body

    def until_ready(self, count=1):
        """Messages up to and including `count` ReadyForQuery."""
        out = []
        while count:
            t, body = self.read()
            out.append((t, body))
            if t == "Z":
                count -= 1
        return out

    def run(self, *msgs, ready=1):
        self.send(*msgs)
        return self.until_ready(ready)

    def close(self):
        try:
            self.sock.sendall(_msg(b"X"))
        except OSError:
            pass
        self.sock.close()
        self.conn.close()


def errors(replies):
    """(SQLSTATE, message) of every ErrorResponse in replies."""
    return [(f.get("C"), f.get("M")) for f in
            (error_fields(b) for t, b in replies if t == "E")]


def rows(replies):
    """First column of each DataRow, as text."""
    out = []
    for t, body in replies:
        if t == "D":
            n = struct.unpack("!i", body[2:6])[0]
            out.append(None if n < 0 else body[6:6 + n].decode("utf-8", "replace"))
    return out
