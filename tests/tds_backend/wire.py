"""Bytes on the wire: a transport that is plain TCP or TLS (SSLObject over
memory BIOs, so the TLS handshake can travel inside PRELOGIN packets), and
TDS packet framing on top of it."""
import os
import socket
import ssl
import sys
import struct
import threading

HEADER = struct.Struct(">BBHHBB")   # type, status, length, spid, packet id, window

PKT_SQLBATCH = 0x01
PKT_REPLY = 0x04
PKT_RPC = 0x03
PKT_ATTENTION = 0x06
PKT_BULK = 0x07
PKT_TM = 0x0E
PKT_LOGIN7 = 0x10
PKT_SSPI = 0x11
PKT_PRELOGIN = 0x12

ST_EOM = 0x01
ST_RESET = 0x08
ST_RESET_SKIPTRAN = 0x10

DEBUG = bool(os.environ.get("TDS_BACKEND_DEBUG"))
MAX_MESSAGE = 64 * 1024 * 1024   # reassembly cap: larger is treated as malformed


class Malformed(Exception):
    """Input that breaks the protocol: the connection is closed."""


class Closed(Exception):
    """The peer went away."""


class Transport:
    """recv()/sendall() over a socket, optionally through TLS.

    TLS uses ssl.SSLObject on memory BIOs. During a TDS 7.x handshake the
    TLS records are wrapped in PRELOGIN packets (handshake_wrapped); after
    it, and for TDS 8.0 from the first byte, TLS records are raw on TCP."""

    def __init__(self, sock):
        self.sock = sock
        self.tls = None
        self._in = self._out = None
        self._lock = threading.Lock()       # SSLObject is not thread-safe
        self._send_lock = threading.Lock()
        self.pending = bytearray()           # plain bytes read ahead

    # -- raw socket -------------------------------------------------------
    def _sock_recv(self):
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, OSError) as e:
            raise Closed(str(e))
        if DEBUG:
            print("tds_backend: recv %d %s" % (len(data), data[:16].hex()), file=sys.stderr, flush=True)
        if not data:
            raise Closed("peer closed")
        return data

    def _sock_send(self, data):
        if DEBUG:
            print("tds_backend: send %d %s" % (len(data), data[:16].hex()), file=sys.stderr, flush=True)
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except (ConnectionError, OSError) as e:
                raise Closed(str(e))

    # -- TLS --------------------------------------------------------------
    def start_tls(self, context, wrapped):
        """Server-side handshake. wrapped: records travel in PRELOGIN
        packets (TDS 7.x); otherwise raw (TDS 8.0 strict)."""
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = context.wrap_bio(self._in, self._out, server_side=True)
        if not wrapped and self.pending:
            self._in.write(bytes(self.pending))
            self.pending.clear()
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush_tls(wrapped)
                if wrapped:
                    ptype, _status, payload = read_packet(self)
                    if ptype != PKT_PRELOGIN:
                        raise Malformed("expected a PRELOGIN packet with TLS, got 0x%02x" % ptype)
                    self._in.write(payload)
                else:
                    self._in.write(self._sock_recv())
            except ssl.SSLError as e:
                raise Malformed("TLS handshake failed: %s" % e)
        self._flush_tls(wrapped)
        self.tls = obj

    def _flush_tls(self, wrapped):
        data = self._out.read()
        if not data:
            return
        if wrapped:
            self._sock_send(HEADER.pack(PKT_PRELOGIN, ST_EOM, 8 + len(data), 0, 1, 0) + data)
        else:
            self._sock_send(data)

    def stop_tls(self):
        """Login-only encryption: back to cleartext, no close_notify."""
        self.tls = None

    def recv(self):
        if self.pending:
            data = bytes(self.pending)
            self.pending.clear()
            return data
        if self.tls is None:
            return self._sock_recv()
        while True:
            with self._lock:
                try:
                    data = self.tls.read(65536)
                except ssl.SSLWantReadError:
                    data = None
                except ssl.SSLZeroReturnError:
                    raise Closed("TLS closed")
                except ssl.SSLError as e:
                    raise Malformed("TLS: %s" % e)
                out = self._out.read()
            if out:
                self._sock_send(out)
            if data:
                return data
            raw = self._sock_recv()
            with self._lock:
                self._in.write(raw)

    def sendall(self, data):
        if self.tls is None:
            self._sock_send(data)
            return
        with self._lock:
            try:
                self.tls.write(data)
            except ssl.SSLError as e:
                raise Closed("TLS: %s" % e)
            out = self._out.read()
        self._sock_send(out)

    def peek_first_byte(self):
        """The first byte of the connection, kept for the next recv()."""
        if not self.pending:
            self.pending += self._sock_recv()
        return self.pending[0]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _read_exact(transport, n):
    buf = getattr(transport, "_readbuf", None)
    if buf is None:
        buf = transport._readbuf = bytearray()
    while len(buf) < n:
        buf += transport.recv()
    out = bytes(buf[:n])
    del buf[:n]
    return out


def read_packet(transport):
    """One TDS packet: (type, status, payload)."""
    ptype, status, length, _spid, _pid, _win = HEADER.unpack(_read_exact(transport, 8))
    if length < 8:
        raise Malformed("packet length %d" % length)
    return ptype, status, _read_exact(transport, length - 8)


def unread(transport, data):
    """Give bytes back (used when switching transports mid-stream)."""
    buf = getattr(transport, "_readbuf", None)
    if buf is None:
        buf = transport._readbuf = bytearray()
    buf[:0] = data


def read_message(transport):
    """A whole message (packets up to EOM): (type, status of the first packet, payload)."""
    ptype, status, payload = read_packet(transport)
    first_status = status
    parts = [payload]
    total = len(payload)
    while not status & ST_EOM:
        t, status, payload = read_packet(transport)
        if t != ptype:
            if t == PKT_ATTENTION:
                # cancel in the middle of sending a request: drop the request
                return PKT_ATTENTION, status, b""
            raise Malformed("packet type changed within a message (0x%02x then 0x%02x)" % (ptype, t))
        total += len(payload)
        if total > MAX_MESSAGE:
            raise Malformed("message larger than %d bytes" % MAX_MESSAGE)
        parts.append(payload)
    return ptype, first_status, b"".join(parts)


class Writer:
    """One reply message, flushed in packets of the negotiated size."""

    def __init__(self, transport, packet_size, spid, ptype=PKT_REPLY):
        self.transport = transport
        self.packet_size = packet_size
        self.spid = spid
        self.ptype = ptype
        self.buf = bytearray()
        self.packet_id = 1

    def add(self, data):
        self.buf += data
        room = self.packet_size - 8
        while len(self.buf) > room:
            self._send(bytes(self.buf[:room]), 0)
            del self.buf[:room]

    def end(self):
        self._send(bytes(self.buf), ST_EOM)
        self.buf.clear()
        self.packet_id = 1

    def _send(self, chunk, status):
        hdr = HEADER.pack(self.ptype, status, 8 + len(chunk), self.spid & 0xFFFF,
                          self.packet_id & 0xFF, 0)
        self.packet_id += 1
        self.transport.sendall(hdr + chunk)
