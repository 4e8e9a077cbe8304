"""Oracle Net packets and TTC field encodings (test backend, not Oracle).

What this module owns
  Packet      one TNS packet read from a socket (type, flags, payload).
  PacketIO    reads and writes whole packets on a socket; knows whether the
              session uses the 2-byte (pre-ACCEPT) or 4-byte (protocol >= 315,
              after ACCEPT) length header and splits long DATA payloads at
              the negotiated SDU.
  TTCReader   a TTC byte stream that spans DATA packets: getters pull the
              next DATA packet when the current one is used up, the way the
              clients do; a MARKER packet met while reading raises Break.
  TTCWriter   builds a TTC payload (ub1/ub2/ub4 variable-length integers,
              length-prefixed bytes, chunked long values, Oracle NUMBER).

Written from the client side of the protocol as python-oracledb thin and
node-oracledb thin encode it (see README.md).
"""

import socket
import struct

# packet types
CONNECT, ACCEPT, REFUSE, REDIRECT, DATA, RESEND, MARKER, CONTROL = 1, 2, 4, 5, 6, 11, 12, 14
DATA_FLAG_EOF = 0x0040
MARKER_BREAK, MARKER_RESET, MARKER_INTERRUPT = 1, 2, 3
LONG_LENGTH = 0xFE       # chunked value follows
NULL_LENGTH = 0xFF
MAX_SHORT = 252
CHUNK = 32767


class ProtocolError(Exception):
    """Input the backend cannot make sense of: the connection is closed."""


class Break(Exception):
    """The client sent a MARKER (break/interrupt) while a request was read."""


class Closed(Exception):
    """The client closed the connection (EOF or a DATA packet with EOF)."""


class Packet:
    __slots__ = ("ptype", "flags", "payload")

    def __init__(self, ptype, flags, payload):
        self.ptype, self.flags, self.payload = ptype, flags, payload


class PacketIO:
    MAX_PACKET = 4 * 1024 * 1024

    def __init__(self, sock):
        self.sock = sock
        self.large = False      # 4-byte length header once ACCEPTed (>= 315)
        self.sdu = 8192

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed("peer closed")
            buf += chunk
        return bytes(buf)

    def recv(self):
        hdr = self._recv_exact(8)
        if self.large:
            length = struct.unpack(">I", hdr[0:4])[0]
        else:
            length = struct.unpack(">H", hdr[0:2])[0]
        if length < 8 or length > self.MAX_PACKET:
            raise ProtocolError(f"bad packet length {length}")
        payload = self._recv_exact(length - 8)
        return Packet(hdr[4], hdr[5], payload)

    def send(self, ptype, payload, flags=0):
        length = 8 + len(payload)
        if self.large:
            hdr = struct.pack(">IBBH", length, ptype, flags, 0)
        else:
            hdr = struct.pack(">HHBBH", length, 0, ptype, flags, 0)
        self.sock.sendall(hdr + payload)

    def send_data(self, body, data_flags=0):
        """Send a TTC payload as one or more DATA packets of at most SDU."""
        room = max(self.sdu - 10, 256)
        pos = 0
        out = bytearray()
        while True:
            part = body[pos:pos + room]
            pos += len(part)
            pkt = struct.pack(">H", data_flags) + part
            length = 8 + len(pkt)
            if self.large:
                out += struct.pack(">IBBH", length, DATA, 0, 0)
            else:
                out += struct.pack(">HHBBH", length, 0, DATA, 0, 0)
            out += pkt
            if pos >= len(body):
                break
        self.sock.sendall(out)

    def send_marker(self, kind):
        self.send(MARKER, bytes([1, 0, kind]))


class TTCReader:
    """TTC stream over DATA packets (getters fetch more packets as needed)."""

    def __init__(self, io):
        self.io = io
        self.buf = b""
        self.pos = 0
        self.markers = []       # marker packets seen while waiting

    def drain_urgent(self):
        """Read a pending TCP urgent byte, if any; True when there was one."""
        try:
            return bool(self.io.sock.recv(1, socket.MSG_OOB | socket.MSG_DONTWAIT))
        except (OSError, ValueError):   # ValueError: TLS sockets take no flags
            return False

    def at_end(self):
        return self.pos >= len(self.buf)

    def discard_packet(self):
        self.pos = len(self.buf)

    def _next_packet(self):
        while True:
            pkt = self.io.recv()
            if pkt.ptype == DATA:
                if len(pkt.payload) < 2:
                    raise ProtocolError("short DATA packet")
                flags = struct.unpack(">H", pkt.payload[:2])[0]
                if flags & DATA_FLAG_EOF:
                    raise Closed("client sent EOF")
                if len(pkt.payload) == 2:
                    continue
                self.buf, self.pos = pkt.payload, 2
                return
            if pkt.ptype == MARKER:
                kind = pkt.payload[2] if len(pkt.payload) >= 3 else 0
                if kind == MARKER_RESET:
                    # a RESET outside a break: python-oracledb's out-of-band
                    # check right after ACCEPT (urgent "!" then RESET)
                    self.drain_urgent()
                    continue
                raise Break(kind)
            if pkt.ptype == CONTROL:
                continue
            raise ProtocolError(f"unexpected packet type {pkt.ptype}")

    def raw(self, n):
        if n < 0:
            raise ProtocolError("negative length")
        out = bytearray()
        while n > 0:
            if self.pos >= len(self.buf):
                self._next_packet()
            take = min(n, len(self.buf) - self.pos)
            out += self.buf[self.pos:self.pos + take]
            self.pos += take
            n -= take
        return bytes(out)

    def peek(self):
        if self.pos >= len(self.buf):
            self._next_packet()
        return self.buf[self.pos]

    def peek_at(self, offset):
        """Byte offset ahead in the current packet, or None past its end."""
        i = self.pos + offset
        return self.buf[i] if i < len(self.buf) else None

    def u8(self):
        return self.raw(1)[0]

    def u16(self):
        return struct.unpack(">H", self.raw(2))[0]

    def u16le(self):
        return struct.unpack("<H", self.raw(2))[0]

    def u32(self):
        return struct.unpack(">I", self.raw(4))[0]

    def _varint(self, maxlen, signed=False):
        first = self.u8()
        neg = bool(first & 0x80)
        length = first & 0x7F if neg else first
        if neg and not signed:
            raise ProtocolError("negative unsigned integer")
        if length > maxlen:
            raise ProtocolError(f"integer of {length} bytes")
        value = int.from_bytes(self.raw(length), "big") if length else 0
        return -value if neg else value

    def ub2(self):
        return self._varint(2)

    def ub4(self):
        return self._varint(4)

    def ub8(self):
        return self._varint(8)

    def sb4(self):
        return self._varint(4, signed=True)

    def bytes_with_length(self):
        """Length-prefixed value; None for NULL (length 0 or 255)."""
        n = self.u8()
        if n == 0 or n == NULL_LENGTH:
            return None
        if n != LONG_LENGTH:
            return self.raw(n)
        out = bytearray()
        while True:
            part = self.ub4()
            if part == 0:
                return bytes(out)
            if len(out) + part > PacketIO.MAX_PACKET * 16:
                raise ProtocolError("chunked value too long")
            out += self.raw(part)

    def str_with_length(self):
        b = self.bytes_with_length()
        return None if b is None else b.decode("utf-8", "replace")

    def until_nul(self, limit=256):
        out = bytearray()
        while True:
            c = self.u8()
            if c == 0:
                return bytes(out)
            out.append(c)
            if len(out) > limit:
                raise ProtocolError("unterminated string")


class TTCWriter:
    def __init__(self):
        self.b = bytearray()

    def u8(self, v):
        self.b.append(v & 0xFF)
        return self

    def u16(self, v):
        self.b += struct.pack(">H", v)
        return self

    def u16le(self, v):
        self.b += struct.pack("<H", v)
        return self

    def u32(self, v):
        self.b += struct.pack(">I", v)
        return self

    def raw(self, data):
        self.b += data
        return self

    def ub(self, v):
        """Variable-length unsigned (ub2/ub4/ub8 share the encoding)."""
        if v == 0:
            self.b.append(0)
        elif v <= 0xFF:
            self.b += bytes([1, v])
        elif v <= 0xFFFF:
            self.b += bytes([2]) + struct.pack(">H", v)
        elif v <= 0xFFFFFFFF:
            self.b += bytes([4]) + struct.pack(">I", v)
        else:
            self.b += bytes([8]) + struct.pack(">Q", v)
        return self

    ub2 = ub4 = ub8 = ub

    def sb(self, v):
        if v >= 0:
            return self.ub(v)
        mag = -v
        n = (mag.bit_length() + 7) // 8
        self.b += bytes([0x80 | n]) + mag.to_bytes(n, "big")
        return self

    def bytes_with_length(self, data):
        if data is None or len(data) == 0:
            self.b.append(0)
        elif len(data) <= MAX_SHORT:
            self.b.append(len(data))
            self.b += data
        else:
            self.b.append(LONG_LENGTH)
            for i in range(0, len(data), CHUNK):
                part = data[i:i + CHUNK]
                self.ub(len(part))
                self.b += part
            self.ub(0)
        return self

    def str_with_length(self, s):
        return self.bytes_with_length(None if s is None else s.encode())

    def key_value(self, key, value, flags=0):
        kb, vb = key.encode(), value.encode()
        self.ub(len(kb)).bytes_with_length(kb)
        self.ub(len(vb))
        if vb:
            self.bytes_with_length(vb)
        self.ub(flags)
        return self

    def getvalue(self):
        return bytes(self.b)


# ---- Oracle NUMBER (base-100, excess-64 exponent) ------------------------

def encode_number(value):
    """Python int/float/Decimal/str -> Oracle NUMBER bytes (no length)."""
    from decimal import Decimal
    d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if d.is_zero():
        return bytes([0x80])
    sign, digits, exp = d.normalize().as_tuple()
    digits = list(digits)
    # value = 0.d1d2... * 10^point
    point = len(digits) + exp
    if point % 2:
        digits.insert(0, 0)
        point += 1
    if len(digits) % 2:
        digits.append(0)
    pairs = [digits[i] * 10 + digits[i + 1] for i in range(0, len(digits), 2)][:20]
    while pairs and pairs[-1] == 0:
        pairs.pop()
    exponent = point // 2
    if not sign:
        return bytes([(exponent + 192) & 0xFF] + [p + 1 for p in pairs])
    out = [(~(exponent + 192)) & 0xFF] + [101 - p for p in pairs]
    if len(pairs) < 20:
        out.append(102)
    return bytes(out)


def decode_number(data):
    """Oracle NUMBER bytes -> int when integral, else Decimal."""
    from decimal import Decimal
    if not data:
        return None
    first = data[0]
    positive = bool(first & 0x80)
    if len(data) == 1:
        return 0 if positive else Decimal("-1e126")
    exp = (first if positive else (~first & 0xFF)) - 192
    mant = data[1:]
    if not positive and mant and mant[-1] == 102:
        mant = mant[:-1]
    pairs = [(b - 1) if positive else (101 - b) for b in mant]
    digits = "".join(f"{p:02d}" for p in pairs)
    value = Decimal(int(digits)) * (Decimal(100) ** (exp - len(pairs)))
    if not positive:
        value = -value
    if value == value.to_integral_value():
        return int(value)
    return value.normalize()
