"""Client messages: PRELOGIN options, LOGIN7, RPC requests with typed
parameters, ALL_HEADERS. Every reader raises wire.Malformed on bad input."""
import datetime
import decimal
import struct
import uuid

from .wire import Malformed

PL_VERSION, PL_ENCRYPTION, PL_INSTOPT, PL_THREADID, PL_MARS = 0, 1, 2, 3, 4
ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0, 1, 2, 3

PROC_NAMES = {1: "sp_cursor", 2: "sp_cursoropen", 3: "sp_cursorprepare",
              4: "sp_cursorexecute", 5: "sp_cursorprepexec", 6: "sp_cursorunprepare",
              7: "sp_cursorfetch", 8: "sp_cursoroption", 9: "sp_cursorclose",
              10: "sp_executesql", 11: "sp_prepare", 12: "sp_execute",
              13: "sp_prepexec", 14: "sp_prepexecrpc", 15: "sp_unprepare"}


class Reader:
    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise Malformed("truncated message")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt):
        s = struct.Struct(fmt)
        return s.unpack(self.take(s.size))

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return self.unpack("<H")[0]

    def u32(self):
        return self.unpack("<I")[0]

    def b_varchar(self):
        return self.take(self.u8() * 2).decode("utf-16-le", "surrogatepass")

    def us_varchar(self):
        return self.take(self.u16() * 2).decode("utf-16-le", "surrogatepass")

    def done(self):
        return self.pos >= len(self.data)


def parse_prelogin(data):
    """{option: bytes}"""
    r = Reader(data)
    opts = {}
    entries = []
    while True:
        tok = r.u8()
        if tok == 0xFF:
            break
        off, length = struct.unpack(">HH", r.take(4))
        entries.append((tok, off, length))
        if len(entries) > 64:
            raise Malformed("too many PRELOGIN options")
    for tok, off, length in entries:
        if off + length > len(data):
            raise Malformed("PRELOGIN option outside the packet")
        opts[tok] = data[off:off + length]
    return opts


def build_prelogin(encryption, version=bytes([16, 0, 0x03, 0xE8, 0, 0])):
    opts = [(PL_VERSION, version), (PL_ENCRYPTION, bytes([encryption])),
            (PL_INSTOPT, b"\x00"), (PL_THREADID, b""), (PL_MARS, b"\x00")]
    head_len = 5 * len(opts) + 1
    head, body = bytearray(), bytearray()
    for tok, val in opts:
        head += struct.pack(">BHH", tok, head_len + len(body), len(val))
        body += val
    return bytes(head) + b"\xff" + bytes(body)


def _unscramble(data):
    return bytes(((((b ^ 0xA5) >> 4) | ((b ^ 0xA5) << 4)) & 0xFF) for b in data)


def parse_login7(data):
    r = Reader(data)
    (length, version, packet_size, _progver, _pid, _connid, flags1, flags2,
     type_flags, flags3, _tz, _lcid) = r.unpack("<IIIIIIBBBBiI")
    fields = {}
    names = ["host", "user", "password", "app", "server", "extension",
             "library", "language", "database"]
    for name in names:
        off, ln = r.unpack("<HH")
        fields[name] = (off, ln)
    r.take(6)   # ClientID
    out = {"tds_version": version, "packet_size": packet_size,
           "flags1": flags1, "flags2": flags2, "type_flags": type_flags, "flags3": flags3}
    for name in names:
        off, ln = fields[name]
        if name == "extension":
            continue
        nbytes = ln * 2
        if off + nbytes > len(data):
            raise Malformed("LOGIN7 field %s outside the record" % name)
        raw = data[off:off + nbytes]
        if name == "password":
            raw = _unscramble(raw)
        out[name] = raw.decode("utf-16-le", "surrogatepass")
    sspi_off, sspi_len = r.unpack("<HH")
    out["sspi"] = sspi_len > 0 or bool(flags2 & 0x80)
    return out


def skip_all_headers(data, version):
    """Offset after ALL_HEADERS (TDS 7.2+); also the transaction descriptor."""
    if version < 0x72000000 or len(data) < 4:
        return 0, None
    total = struct.unpack_from("<I", data)[0]
    if total < 4 or total > len(data):
        # some clients omit it: accept a request without ALL_HEADERS
        return 0, None
    descriptor = None
    pos = 4
    while pos + 6 <= total:
        hlen, htype = struct.unpack_from("<IH", data, pos)
        if hlen < 6 or pos + hlen > total:
            raise Malformed("bad ALL_HEADERS entry")
        if htype == 2 and hlen >= 6 + 8:
            descriptor = data[pos + 6:pos + 14]
        pos += hlen
    return total, descriptor


# -- typed values ------------------------------------------------------------

FIXED = {0x1F: 0, 0x30: 1, 0x32: 1, 0x34: 2, 0x38: 4, 0x3A: 4, 0x3B: 4,
         0x3C: 8, 0x3D: 8, 0x3E: 8, 0x7A: 4, 0x7F: 8}
BYTELEN = {0x24, 0x26, 0x37, 0x3F, 0x68, 0x6A, 0x6C, 0x6D, 0x6E, 0x6F, 0x2F, 0x27, 0x2D, 0x25}
SCALED = {0x29, 0x2A, 0x2B}      # time, datetime2, datetimeoffset
USHORTLEN = {0xA5, 0xA7, 0xAD, 0xAF, 0xE7, 0xEF}
COLLATED = {0xA7, 0xAF, 0xE7, 0xEF, 0x23, 0x63, 0x2F, 0x27}
LONGLEN = {0x22, 0x23, 0x63}
CHAR_TYPES = {0xA7, 0xAF, 0x23, 0x2F, 0x27}
NCHAR_TYPES = {0xE7, 0xEF, 0x63}


class TypeInfo:
    def __init__(self, code, size=0, precision=0, scale=0):
        self.code, self.size, self.precision, self.scale = code, size, precision, scale

    @property
    def plp(self):
        return self.code in USHORTLEN and self.size == 0xFFFF


def read_type_info(r):
    code = r.u8()
    if code in FIXED:
        return TypeInfo(code, FIXED[code])
    if code in BYTELEN:
        ti = TypeInfo(code, r.u8())
        if code in (0x6A, 0x6C, 0x37, 0x3F):
            ti.precision, ti.scale = r.u8(), r.u8()
    elif code == 0x28:
        ti = TypeInfo(code, 3)
    elif code in SCALED:
        ti = TypeInfo(code, 0, scale=r.u8())
    elif code in USHORTLEN:
        ti = TypeInfo(code, r.u16())
    elif code in LONGLEN:
        ti = TypeInfo(code, r.u32())
    elif code == 0xF1:          # XML: schema present flag
        ti = TypeInfo(code, 0xFFFF)
        if r.u8():
            r.b_varchar(); r.b_varchar(); r.us_varchar()
        return ti
    else:
        raise Malformed("unsupported parameter type 0x%02x" % code)
    if code in COLLATED:
        r.take(5)
    return ti


def _read_plp(r):
    total = r.take(8)
    if total == b"\xff" * 8:
        return None
    parts = []
    while True:
        n = r.u32()
        if n == 0:
            break
        parts.append(r.take(n))
    return b"".join(parts)


def _to_text(ti, raw):
    if ti.code in NCHAR_TYPES:
        return raw.decode("utf-16-le", "surrogatepass")
    if ti.code in CHAR_TYPES:
        return raw.decode("cp1252", "replace")
    return raw


def _date_from_days(days):
    return datetime.date(1, 1, 1) + datetime.timedelta(days=days)


def _time_from(raw, scale):
    ticks = int.from_bytes(raw, "little")
    micro = ticks * 10**6 // 10**scale
    return (datetime.datetime(1, 1, 1) + datetime.timedelta(microseconds=micro)).time()


def read_value(r, ti):
    code = ti.code
    if code in FIXED:
        raw = r.take(ti.size)
        return _fixed(code, raw)
    if ti.plp or code == 0xF1:
        raw = _read_plp(r)
        return None if raw is None else _to_text(ti, raw) if code != 0xF1 else raw.decode("utf-16-le")
    if code in LONGLEN:
        n = struct.unpack("<i", r.take(4))[0]
        if n == -1:
            return None
        return _to_text(ti, r.take(n))
    if code in USHORTLEN:
        n = r.u16()
        if n == 0xFFFF:
            return None
        return _to_text(ti, r.take(n))
    n = r.u8()
    if n == 0:
        # zero length is NULL for the byte-length types, '' for legacy char/binary
        return "" if code in (0x2F, 0x27) else (b"" if code in (0x2D, 0x25) else None)
    raw = r.take(n)
    if code == 0x26:
        return int.from_bytes(raw, "little", signed=True)
    if code == 0x68:
        return bool(raw[0])
    if code == 0x6D:
        return struct.unpack("<f" if n == 4 else "<d", raw)[0]
    if code == 0x6E:
        return _fixed(0x7A if n == 4 else 0x3C, raw)
    if code == 0x6F:
        return _fixed(0x3A if n == 4 else 0x3D, raw)
    if code in (0x6A, 0x6C, 0x37, 0x3F):
        mag = int.from_bytes(raw[1:], "little")
        d = decimal.Decimal(mag).scaleb(-ti.scale)
        return d if raw[0] else -d
    if code == 0x24:
        return str(uuid.UUID(bytes_le=raw))
    if code == 0x28:
        return _date_from_days(int.from_bytes(raw, "little")).isoformat()
    if code == 0x29:
        return _time_from(raw, ti.scale).isoformat()
    if code in (0x2A, 0x2B):
        tlen = n - 3 - (2 if code == 0x2B else 0)
        t = _time_from(raw[:tlen], ti.scale)
        d = _date_from_days(int.from_bytes(raw[tlen:tlen + 3], "little"))
        return datetime.datetime.combine(d, t).isoformat(sep=" ")
    if code in (0x2F, 0x27):
        return raw.decode("cp1252", "replace")
    return raw


def _fixed(code, raw):
    if code == 0x1F:
        return None
    if code in (0x30,):
        return raw[0]
    if code == 0x32:
        return bool(raw[0])
    if code in (0x34, 0x38, 0x7F):
        return int.from_bytes(raw, "little", signed=True)
    if code == 0x3B:
        return struct.unpack("<f", raw)[0]
    if code == 0x3E:
        return struct.unpack("<d", raw)[0]
    if code == 0x3C:
        hi, lo = struct.unpack("<iI", raw)
        return decimal.Decimal((hi << 32) | lo).scaleb(-4)
    if code == 0x7A:
        return decimal.Decimal(struct.unpack("<i", raw)[0]).scaleb(-4)
    if code == 0x3D:
        days, ticks = struct.unpack("<iI", raw)
        return (datetime.datetime(1900, 1, 1) + datetime.timedelta(days=days, milliseconds=ticks * 10 / 3)).isoformat(sep=" ")
    if code == 0x3A:
        days, minutes = struct.unpack("<HH", raw)
        return (datetime.datetime(1900, 1, 1) + datetime.timedelta(days=days, minutes=minutes)).isoformat(sep=" ")
    raise Malformed("fixed type 0x%02x" % code)


class RpcCall:
    def __init__(self, proc, params, flags):
        self.proc = proc            # lower-case procedure name
        self.params = params        # [(name, value, is_output, TypeInfo)]
        self.flags = flags


def parse_rpc(data, version):
    """One RPC request may hold several calls separated by batch flags."""
    start, descriptor = skip_all_headers(data, version)
    r = Reader(data, start)
    calls = []
    while not r.done():
        n = r.u16()
        if n == 0xFFFF:
            pid = r.u16()
            proc = PROC_NAMES.get(pid)
            if proc is None:
                raise Malformed("unknown ProcID %d" % pid)
        else:
            proc = r.take(n * 2).decode("utf-16-le", "surrogatepass")
        flags = r.u16()
        params = []
        while not r.done() and r.data[r.pos] not in (0x80, 0xFE, 0xFF):
            name = r.b_varchar()
            status = r.u8()
            ti = read_type_info(r)
            value = read_value(r, ti)
            params.append((name, value, bool(status & 0x01), ti))
            if len(params) > 2100:
                raise Malformed("too many RPC parameters")
        calls.append(RpcCall(proc, params, flags))
        if not r.done():
            r.u8()   # batch separator
    return calls, descriptor


def parse_batch(data, version):
    start, descriptor = skip_all_headers(data, version)
    body = data[start:]
    if len(body) % 2:
        raise Malformed("odd SQLBatch length")
    return body.decode("utf-16-le", "surrogatepass"), descriptor
