"""Reply tokens (server to client) and the column types the backend sends.

Encodings follow MS-TDS for the negotiated version: TDS 7.2+ gets 8-byte
DONE row counts, 4-byte user types, PLP for (MAX) values and 4-byte error
line numbers; TDS 7.1 clients get NTEXT/IMAGE for long values instead of
PLP."""
import struct

TDS71 = 0x71000001
TDS72 = 0x72090002
TDS73B = 0x730B0003
TDS74 = 0x74000004

COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])   # SQL_Latin1_General_CP1_CI_AS
SERVER_NAME = "SBTDSTEST"
PROG_NAME = "Microsoft SQL Server"
PROG_VERSION = bytes([16, 0, 0x03, 0xE8])            # 16.0.1000

DONE_FINAL = 0x00
DONE_MORE = 0x01
DONE_ERROR = 0x02
DONE_INXACT = 0x04
DONE_COUNT = 0x10
DONE_ATTN = 0x20
DONE_SRVERROR = 0x100

TOK_DONE, TOK_DONEPROC, TOK_DONEINPROC = 0xFD, 0xFE, 0xFF

PLP_NULL = b"\xff" * 8
PLP_UNKNOWN_LEN = b"\xfe\xff\xff\xff\xff\xff\xff\xff"


def b_varchar(s):
    e = s.encode("utf-16-le")
    return bytes([len(e) // 2]) + e


def us_varchar(s):
    e = s.encode("utf-16-le")
    return struct.pack("<H", len(e) // 2) + e


def done(status, rowcount=0, curcmd=0xC1, version=TDS74, token=TOK_DONE):
    if version >= TDS72:
        return struct.pack("<BHHQ", token, status, curcmd, rowcount)
    return struct.pack("<BHHI", token, status, curcmd, rowcount & 0xFFFFFFFF)


def _envchange(kind, new, old):
    body = bytes([kind]) + new + old
    return struct.pack("<BH", 0xE3, len(body)) + body


def env_database(new, old="master"):
    return _envchange(1, b_varchar(new), b_varchar(old))


def env_language(new):
    return _envchange(2, b_varchar(new), b_varchar(""))


def env_packet_size(new, old):
    return _envchange(4, b_varchar(str(new)), b_varchar(str(old)))


def env_collation():
    return _envchange(7, bytes([5]) + COLLATION, b"\x00")


def env_begin_tran(descriptor):
    return _envchange(8, bytes([8]) + descriptor, b"\x00")


def env_commit_tran(descriptor):
    return _envchange(9, b"\x00", bytes([8]) + descriptor)


def env_rollback_tran(descriptor):
    return _envchange(10, b"\x00", bytes([8]) + descriptor)


def env_reset_ack():
    return _envchange(18, b"\x00", b"\x00")


def _message(token, number, state, klass, text, line, version, proc=""):
    body = (struct.pack("<iBB", number, state, klass) + us_varchar(text) +
            b_varchar(SERVER_NAME) + b_varchar(proc) +
            (struct.pack("<i", line) if version >= TDS72 else struct.pack("<H", line)))
    return struct.pack("<BH", token, len(body)) + body


def error(number, state, klass, text, version, line=1, proc=""):
    return _message(0xAA, number, state, klass, text, line, version, proc)


def info(number, state, klass, text, version, line=1):
    return _message(0xAB, number, state, klass, text, line, version)


def loginack(version):
    body = bytes([1]) + struct.pack(">I", version) + b_varchar(PROG_NAME) + PROG_VERSION
    return struct.pack("<BH", 0xAD, len(body)) + body


def returnstatus(value):
    return struct.pack("<Bi", 0x79, value)


# -- column types ----------------------------------------------------------

class Column:
    """A result (or output parameter) column: name, TDS type and how to
    encode a value. kind is one of int4 int8 float nvarchar varbinary."""

    def __init__(self, name, kind, long_value=False):
        self.name = name
        self.kind = kind
        self.long = long_value   # (MAX) / NTEXT / IMAGE

    def type_info(self, version):
        k = self.kind
        if k == "int4":
            return b"\x26\x04"
        if k == "int8":
            return b"\x26\x08"
        if k == "float":
            return b"\x6d\x08"
        if k == "nvarchar":
            if not self.long:
                return b"\xe7" + struct.pack("<H", 8000) + COLLATION
            if version >= TDS72:
                return b"\xe7\xff\xff" + COLLATION
            return b"\x63" + struct.pack("<i", 0x7FFFFFFF) + COLLATION + us_varchar("t")
        if k == "varbinary":
            if not self.long:
                return b"\xa5" + struct.pack("<H", 8000)
            if version >= TDS72:
                return b"\xa5\xff\xff"
            return b"\x22" + struct.pack("<i", 0x7FFFFFFF) + us_varchar("t")
        raise ValueError(k)

    def encode(self, value, version):
        k = self.kind
        if k in ("int4", "int8"):
            if value is None:
                return b"\x00"
            return (b"\x04" + struct.pack("<i", value)) if k == "int4" else (b"\x08" + struct.pack("<q", value))
        if k == "float":
            return b"\x00" if value is None else b"\x08" + struct.pack("<d", float(value))
        if k == "nvarchar":
            data = None if value is None else str(value).encode("utf-16-le", "surrogatepass")
        else:
            data = None if value is None else bytes(value)
        if not self.long:
            return b"\xff\xff" if data is None else struct.pack("<H", len(data)) + data
        if version >= TDS72:
            if data is None:
                return PLP_NULL
            out = [struct.pack("<Q", len(data))]
            for i in range(0, len(data), 65536):
                chunk = data[i:i + 65536]
                out.append(struct.pack("<I", len(chunk)) + chunk)
            out.append(b"\x00\x00\x00\x00")
            return b"".join(out)
        # TDS 7.1: text pointer + timestamp, then a 4-byte length
        if data is None:
            return b"\x00"
        return b"\x10" + b"\x00" * 16 + b"\x00" * 8 + struct.pack("<i", len(data)) + data

    def metadata(self, version):
        usertype = struct.pack("<I", 0) if version >= TDS72 else struct.pack("<H", 0)
        return usertype + struct.pack("<H", 0x0001 | 0x0008) + self.type_info(version) + b_varchar(self.name)


def colmetadata(columns, version):
    return struct.pack("<BH", 0x81, len(columns)) + b"".join(c.metadata(version) for c in columns)


def row(columns, values, version):
    if version >= TDS73B and any(v is None for v in values):
        bitmap = bytearray((len(columns) + 7) // 8)
        parts = []
        for i, (c, v) in enumerate(zip(columns, values)):
            if v is None:
                bitmap[i // 8] |= 1 << (i % 8)
            else:
                parts.append(c.encode(v, version))
        return b"\xd2" + bytes(bitmap) + b"".join(parts)
    return b"\xd1" + b"".join(c.encode(v, version) for c, v in zip(columns, values))


def returnvalue(ordinal, name, column, value, version):
    usertype = struct.pack("<I", 0) if version >= TDS72 else struct.pack("<H", 0)
    body = (struct.pack("<H", ordinal) + b_varchar(name) + b"\x01" + usertype +
            struct.pack("<H", 0x0001 | 0x0008) + column.type_info(version) +
            column.encode(value, version))
    return b"\xac" + body


def infer_columns(names, rows):
    """SQLite is dynamically typed: pick each column's TDS type from its values."""
    cols = []
    for i, name in enumerate(names):
        vals = [r[i] for r in rows if r[i] is not None]
        if vals and all(isinstance(v, int) for v in vals):
            kind = "int4" if all(-2**31 <= v < 2**31 for v in vals) else "int8"
            cols.append(Column(name, kind))
        elif vals and all(isinstance(v, (int, float)) for v in vals):
            cols.append(Column(name, "float"))
        elif vals and all(isinstance(v, (bytes, bytearray, memoryview)) for v in vals):
            cols.append(Column(name, "varbinary", any(len(v) > 8000 for v in vals)))
        else:
            long_value = any(len(str(v).encode("utf-16-le", "surrogatepass")) > 8000 for v in vals)
            cols.append(Column(name, "nvarchar", long_value))
    return cols


def column_for_value(name, value):
    return infer_columns([name], [(value,)])[0]
