"""TTC session of the test backend (a stand-in for Oracle, not Oracle).

What this module owns
  Session   everything after ACCEPT on one connection: the network-options
            (ANO) exchange, protocol and data-type negotiation, O5LOGON,
            and the calls the thin clients make (OALL8 execute, re-execute,
            fetch, commit, rollback, ping, logoff, the close-cursor /
            end-to-end / set-schema piggybacks), plus BREAK/RESET markers.
  Cursor    one parsed statement: SQL, bind metadata, materialised rows.

Replies always end in a message that ends a client's read: STATUS for plain
calls, the end-of-call ERROR message (number 0, 1403 at end of fetch, or a
real ORA- error) for execute and fetch.  Every executed statement goes to
the ground-truth log before its reply is sent.

TTC field version is capped at 12 (19c) so both clients use the same
layout; see README.md for what is not implemented.
"""

import datetime
import re
import socket
import struct

from . import wire
from .o5logon import O5Logon
from .sqlexec import OraError, SqlSession, statement_kind

# message types
MSG_PROTOCOL, MSG_DATA_TYPES, MSG_FUNCTION, MSG_ERROR = 1, 2, 3, 4
MSG_ROW_HEADER, MSG_ROW_DATA, MSG_PARAMETER, MSG_STATUS = 6, 7, 8, 9
MSG_DESCRIBE_INFO, MSG_PIGGYBACK, MSG_ONEWAY_FN = 16, 17, 26

# functions
F_AUTH1, F_AUTH2, F_EXECUTE, F_FETCH, F_COMMIT, F_ROLLBACK = 118, 115, 94, 5, 14, 15
F_LOGOFF, F_PING, F_REEXECUTE, F_REEXECUTE_FETCH = 9, 147, 4, 78
F_CLOSE_CURSORS, F_END_TO_END, F_SET_SCHEMA = 105, 135, 152

# execute options
OPT_PARSE, OPT_BIND, OPT_DEFINE, OPT_EXECUTE, OPT_FETCH = 0x01, 0x08, 0x10, 0x20, 0x40
OPT_COMMIT, OPT_DESCRIBE = 0x100, 0x20000

FIELD_VERSION = 12          # TNS_CCAP_FIELD_VERSION_19_1
CCAP_FIELD_VERSION = 7
TXN_IN_PROGRESS = 0x02

# Oracle data types the backend reads and writes
T_VARCHAR, T_NUMBER, T_BINARY_INTEGER, T_LONG, T_DATE = 1, 2, 3, 8, 12
T_RAW, T_LONG_RAW, T_CHAR, T_BFLOAT, T_BDOUBLE = 23, 24, 96, 100, 101
T_TIMESTAMP, T_BOOLEAN = 180, 252

SERVER_BANNER = b"x86_64/Linux 2.4.xx"     # what 19c sends here
VERSION_NO = (19 << 24) | (3 << 16)          # 19.3.0.0.0, 18.1+ layout


def _compile_caps():
    caps = bytearray(45)
    caps[0] = 6             # SQL version
    caps[4] = 8 | 2 | 32 | 64   # O5LOGON, O5LOGON_NP, O7LOGON, long identifiers
    caps[CCAP_FIELD_VERSION] = FIELD_VERSION
    caps[8] = 1
    caps[15] = 0x20 | 0x01 | 0x08
    caps[16] = 0x10 | 0x80
    caps[17] = 3
    caps[18] = 7
    caps[19] = 3
    caps[21] = 1
    caps[23] = 0x01 | 0x02
    caps[26] = 0x04
    caps[27] = 1
    caps[31] = 0x10
    caps[34] = 12
    caps[37] = 0x10 | 0x20 | 0x80
    return bytes(caps)


RUNTIME_CAPS = bytes([2, 0, 0, 0, 0, 0, 0x01 | 0x04])


class BindMeta:
    __slots__ = ("ora_type", "flags", "buffer_size", "csfrm")

    def __init__(self, ora_type, flags, buffer_size, csfrm):
        self.ora_type, self.flags = ora_type, flags
        self.buffer_size, self.csfrm = buffer_size, csfrm


class Cursor:
    def __init__(self, cid, sql):
        self.id = cid
        self.sql = sql
        self.kind = statement_kind(sql)
        self.binds = []         # [BindMeta]
        self.columns = None     # [(name, ora_type)]
        self.rows = []
        self.pos = 0


class Session:
    def __init__(self, backend, io, sock, peer, target, connect_data, by_sid):
        self.b = backend
        self.io = io
        self.sock = sock
        self.peer = peer
        self.target = target
        self.by_sid = by_sid
        self.connect_data = connect_data
        self.r = wire.TTCReader(io)
        self.user = None
        self.authenticated = False
        self.logon = None
        self.driver = ""
        self.raw_text = None         # python-oracledb < 1.3 sends SQL without length
        self.cursors = {}
        self.next_cursor = 1
        self.sql = None
        self.sid = backend.next_session_id()
        self.serial = 1000 + self.sid
        self.seq = 0
        self.field_version = FIELD_VERSION
        self.pending_break = False
        self.e2e = {}

    # ---- logging ------------------------------------------------------------

    def log(self, kind, **kw):
        if self.e2e:
            kw.setdefault("end_to_end", dict(self.e2e))
        self.b.truth.write(kind=kind, session=self.sid, user=self.user,
                           service=self.target, by_sid=self.by_sid, **kw)

    # ---- main loop ------------------------------------------------------------

    def run(self):
        try:
            while True:
                try:
                    self._one_request()
                except wire.Break as b:
                    self._handle_break(b.args[0] if b.args else None)
        finally:
            if self.sql is not None:
                self.sql.close()

    def _one_request(self):
        mtype = self.r.u8()
        if mtype == 0xDE:
            if self.r.raw(3) != b"\xad\xbe\xef":
                raise wire.ProtocolError("bad network-options magic")
            return self._ano()
        if mtype == MSG_PROTOCOL:
            return self._protocol()
        if mtype == MSG_DATA_TYPES:
            return self._data_types()
        if mtype == MSG_PIGGYBACK:
            return self._piggyback()
        if mtype == MSG_ONEWAY_FN:       # e.g. DRCP session release: no reply
            self.r.discard_packet()
            return None
        if mtype != MSG_FUNCTION:
            raise wire.ProtocolError(f"unexpected TTC message type {mtype}")
        func = self.r.u8()
        self.seq = self.r.u8()
        if func in (F_AUTH1, F_AUTH2):
            return self._auth(func)
        if not self.authenticated:
            raise wire.ProtocolError(f"function {func} before login")
        if func == F_EXECUTE:
            return self._execute()
        if func in (F_REEXECUTE, F_REEXECUTE_FETCH):
            return self._reexecute(func)
        if func == F_FETCH:
            return self._fetch()
        if func == F_COMMIT:
            self.sql.commit()
            self.log("commit")
            return self._status()
        if func == F_ROLLBACK:
            self.sql.rollback()
            self.log("rollback")
            return self._status()
        if func == F_PING:
            return self._status()
        if func == F_LOGOFF:
            self.sql.rollback()
            self.log("logoff")
            self._status()
            self.authenticated = False
            return None
        self.r.discard_packet()
        return self._error(OraError(3115, f"unsupported network datatype or representation (function {func})"))

    def _handle_break(self, kind=None):
        """Client BREAK/INTERRUPT marker (already consumed): answer with a
        BREAK marker, wait for the client's RESET, answer RESET, then end
        the interrupted call with ORA-01013."""
        self.io.send_marker(wire.MARKER_BREAK)
        self._await_reset()
        self.r.discard_packet()
        self.log("break", marker=kind)
        self._error(OraError(1013, "user requested cancel of current operation"))

    def _await_reset(self):
        while True:
            pkt = self.io.recv()
            if pkt.ptype == wire.MARKER and len(pkt.payload) >= 3 \
                    and pkt.payload[2] == wire.MARKER_RESET:
                break
        self.io.send_marker(wire.MARKER_RESET)

    def _break_arrived(self):
        """Polled while a statement runs: True (marker consumed) when the
        client has sent a MARKER packet (python: INTERRUPT without OOB,
        node: INTERRUPT)."""
        hdr_len = 8
        if self.b.oob and self.r.drain_urgent():    # python with OOB: urgent "!" only
            self.pending_break = "urgent"
            return True
        try:
            head = self.sock.recv(hdr_len, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (OSError, ValueError):   # ValueError: TLS sockets take no flags                 # nothing waiting (or a dead socket,
            return False                # which the next read reports)
        if len(head) < hdr_len or head[4] != wire.MARKER:
            return False
        pkt = self.io.recv()
        self.pending_break = f"marker {pkt.payload[2] if len(pkt.payload) > 2 else '?'}"
        return True

    # ---- replies ----------------------------------------------------------------

    def _send(self, w):
        self.io.send_data(w.getvalue())

    def _call_status(self):
        return TXN_IN_PROGRESS if self.sql is not None and self.sql.in_txn else 0

    def _status(self):
        w = wire.TTCWriter().u8(MSG_STATUS).ub4(self._call_status()).ub2(0)
        self._send(w)

    def _end_of_call(self, w, num=0, message=None, cursor_id=0, rowcount=0, pos=0):
        """Append the end-of-call (ERROR) message; num 0 = success."""
        w.u8(MSG_ERROR)
        w.ub4(self._call_status())      # call status
        w.ub2(0)                         # end-to-end seq
        w.ub4(rowcount)                  # current row number
        w.ub2(num if num < 65536 else 0)
        w.ub2(0).ub2(0)                  # array elem errors
        w.ub2(cursor_id)
        w.ub2(pos)                       # error position
        w.raw(bytes(6))                  # sql type, fatal, flags, cursor opts, UPI, warning
        w.ub4(0).ub2(0).u8(0).ub4(0).ub2(0)   # rowid
        w.ub4(0)                         # OS error
        w.u8(0).u8(0)                    # statement number, call number
        w.ub2(0)                         # padding
        w.ub4(0)                         # success iters
        w.ub4(0)                         # oerrdd
        w.ub2(0).ub2(0).ub2(0)           # batch errors: codes, offsets, messages
        w.ub4(num)
        w.ub8(rowcount)
        if num:
            w.str_with_length(message + "\n")
        return w

    def _error(self, err, cursor_id=0):
        w = wire.TTCWriter()
        self._end_of_call(w, err.code, str(err), cursor_id=cursor_id, pos=err.pos)
        self._send(w)

    # ---- negotiation ----------------------------------------------------------

    def _ano(self):
        """Network options: answer 'no encryption, no checksum' (or fail the
        encryption service when native encryption is demanded)."""
        self.r.discard_packet()
        services = []
        for num in (4, 1, 2, 3):
            err = 12660 if (num == 2 and self.b.require_encryption) else 0
            sub = struct.pack(">HHI", 4, 5, 0x0B200200)
            services.append(struct.pack(">HHI", num, 1, err) + sub)
        body = b"".join(services)
        head = struct.pack(">IHIHB", 0xDEADBEEF, 13 + len(body), 0x0B200200,
                           len(services), 0)
        self.io.send_data(head + body)
        if self.b.require_encryption:
            self.log("refuse", error="ORA-12660: encryption or crypto-checksumming "
                                     "parameters incompatible")
            raise wire.Closed("native encryption required")

    def _protocol(self):
        self.r.u8()                 # client protocol version
        self.r.u8()                 # array terminator
        self.driver = self.r.until_nul().decode("ascii", "replace")
        fdo = bytearray(40)
        fdo[9:11] = (2000).to_bytes(2, "big")       # national charset AL16UTF16
        w = wire.TTCWriter().u8(MSG_PROTOCOL).u8(6).u8(0)
        w.raw(SERVER_BANNER + b"\x00")
        w.u16le(873)                # AL32UTF8
        w.u8(1)                     # server flags
        w.u16le(0)                  # elements
        w.u16(len(fdo)).raw(bytes(fdo))
        w.bytes_with_length(_compile_caps())
        w.bytes_with_length(RUNTIME_CAPS)
        self._send(w)

    def _data_types(self):
        self.r.u16le()              # client charset
        self.r.u16le()              # national charset
        self.r.u8()                 # encoding flags
        caps = self.r.raw(self.r.u8())
        self.r.raw(self.r.u8())     # runtime caps
        while True:
            dt = self.r.u16()
            if dt == 0:
                break
            conv = self.r.u16()
            if conv != 0:
                self.r.raw(4)
        self.field_version = min(FIELD_VERSION, caps[CCAP_FIELD_VERSION]) \
            if len(caps) > CCAP_FIELD_VERSION else FIELD_VERSION
        self._send(wire.TTCWriter().u8(MSG_DATA_TYPES).u16(0))

    # ---- login ------------------------------------------------------------------

    def _read_kv_pairs(self, n):
        out = {}
        for _ in range(n):
            self.r.ub4()
            key = self.r.str_with_length() or ""
            vlen = self.r.ub4()
            value = self.r.str_with_length() if vlen else ""
            self.r.ub4()
            out[key] = value
        return out

    def _auth(self, func):
        has_user = self.r.u8()
        user_len = self.r.ub4()
        self.r.ub4()                # auth mode
        self.r.u8()
        num_pairs = self.r.ub4()
        self.r.u8()
        self.r.u8()
        user = ""
        if has_user and user_len:
            # python-oracledb < 1.3 writes the name raw, later clients with
            # a length byte: a leading byte equal to the length is the prefix
            if user_len < 32 and self.r.peek() == user_len:
                self.r.u8()
            user = self.r.raw(user_len).decode("utf-8", "replace")
        pairs = self._read_kv_pairs(num_pairs)
        if func == F_AUTH1:
            self.user = user
            password = self.b.accounts.get(user) or self.b.accounts.get(user.lower()) \
                or self.b.accounts.get(user.upper())
            self.logon = O5Logon(password)
            params = self.logon.phase_one_params()
            self._send_params(params)
            return None
        if self.logon is None:
            raise wire.ProtocolError("auth phase two before phase one")
        self.driver_name = pairs.get("SESSION_CLIENT_DRIVER_NAME", "")
        m = re.match(r"python-oracledb thn : (\d+)\.(\d+)", self.driver_name)
        if not self.b.driver_hint:
            pass
        elif m:
            self.raw_text = (int(m.group(1)), int(m.group(2))) < (1, 3)
        elif self.driver_name.startswith("node-oracledb"):
            self.raw_text = False
        ok = self.logon.verify(pairs.get("AUTH_SESSKEY", ""), pairs.get("AUTH_PASSWORD", ""))
        if not ok:
            self.log("login", result="denied", driver=self.driver_name,
                     connect_data=self.connect_data)
            self.logon = None
            return self._error(OraError(1017, "invalid username/password; logon denied"))
        self.authenticated = True
        self.sql = SqlSession(self.b.db_path, should_stop=self._break_arrived)
        self.log("login", result="ok", driver=self.driver_name,
                 connect_data=self.connect_data, sdu=self.io.sdu,
                 large_header=self.io.large)
        params = [
            ("AUTH_SVR_RESPONSE", self.logon.server_response(), 0),
            ("AUTH_VERSION_STRING", "- Production", 0),
            ("AUTH_VERSION_SQL", "19", 0),
            ("AUTH_VERSION_NO", str(VERSION_NO), 0),
            ("AUTH_VERSION_STATUS", "0", 0),
            ("AUTH_CAPABILITY_TABLE", "", 0),
            ("AUTH_LAST_LOGIN", "", 0),
            ("AUTH_DBNAME", "ORCL", 0),
            ("AUTH_DB_MOUNT_ID", "0", 0),
            ("AUTH_DB_ID", "1234567890", 0),
            ("AUTH_USER_ID", str(100 + self.sid), 0),
            ("AUTH_SESSION_ID", str(self.sid), 0),
            ("AUTH_SERIAL_NUM", str(self.serial), 0),
            ("AUTH_INSTANCE_NO", "1", 0),
            ("AUTH_INSTANCENAME", "ORCL", 0),
            ("AUTH_SC_SERVICE_NAME", self.b.service, 0),
            ("AUTH_SC_DB_DOMAIN", "", 0),
            ("AUTH_MAX_OPEN_CURSORS", "300", 0),
            ("AUTH_MAX_IDEN_LENGTH", "128", 0),
        ]
        self._send_params(params)
        return None

    def _send_params(self, params):
        w = wire.TTCWriter().u8(MSG_PARAMETER).ub2(len(params))
        for key, value, flags in params:
            w.key_value(key, value, flags)
        w.u8(MSG_STATUS).ub4(0).ub2(0)
        self._send(w)

    # ---- piggybacks -------------------------------------------------------------

    def _piggyback(self):
        func = self.r.u8()
        self.r.u8()                 # seq
        if func == F_CLOSE_CURSORS:
            self.r.u8()
            ids = [self.r.ub4() for _ in range(self.r.ub4())]
            for cid in ids:
                self.cursors.pop(cid, None)
            self.log("close_cursors", cursors=ids)
        elif func == F_SET_SCHEMA:
            self.r.u8()
            self.r.raw(self.r.ub4())
        elif func == F_END_TO_END:
            self._end_to_end()
        else:
            raise wire.ProtocolError(f"unsupported piggyback function {func}")

    def _end_to_end(self):
        """Client identifier, module, action, client info, dbop (kept in
        self.e2e and put on later ground-truth lines)."""
        r = self.r
        r.u8()
        r.u8()                      # pointers cidnam, cidser
        r.ub4()                     # flags
        names = ("client_identifier", "module", "action", None, "client_info",
                 None, "dbop")
        present = []
        for i, name in enumerate(names):
            ptr = r.u8()
            n = r.ub4()
            if name is None:        # cideci/cidcct/cidecs and cidkstk/cidktgt
                r.u8()
                r.ub4()
                continue
            present.append((name, n if ptr else 0))
        for name, n in present:
            if n:
                self.e2e[name] = self._read_text(n).decode("utf-8", "replace")

    def _read_text(self, length, then_one=False):
        """A string whose length was sent earlier: python-oracledb < 1.3
        writes it raw, later clients length-prefixed (see _read_sql).
        then_one: the value is followed by ub4(1) (01 01), which settles a
        first byte that could be either a length or a character."""
        first = self.r.peek()
        if self.raw_text is None:
            prefixed = first == wire.LONG_LENGTH if length > wire.MAX_SHORT else first == length
            if prefixed and then_one and length <= wire.MAX_SHORT \
                    and self.r.peek_at(length) == 0x01:
                prefixed = False        # a prefixed text never ends in 0x01
        else:
            prefixed = not self.raw_text
        if not prefixed:
            return self.r.raw(length)
        return self.r.bytes_with_length() or b""

    # ---- execute -------------------------------------------------------------

    def _read_sql(self, length):
        """SQL text: python-oracledb < 1.3 writes it raw (its length is the
        sql_len field), later clients length-prefixed.  The driver name
        from login is the hint; without one (e.g. a proxy logged in under
        its own name), a first byte equal to the length (or the long-value
        marker) means prefixed."""
        return self._read_text(length, then_one=True)

    def _read_bind_meta(self, n):
        metas = []
        for _ in range(n):
            ora_type = self.r.u8()
            flags = self.r.u8()
            self.r.u8()             # precision
            self.r.u8()             # scale
            buffer_size = self.r.ub4()
            self.r.ub4()            # max array elements
            self.r.ub8()            # cont flags
            oid_len = self.r.ub4()
            if oid_len:
                self.r.bytes_with_length()
            self.r.ub2()            # version
            self.r.ub2()            # charset id
            csfrm = self.r.u8()
            self.r.ub4()            # max chars
            if self.field_version >= 8:
                self.r.ub4()        # oaccolid
            metas.append(BindMeta(ora_type, flags, buffer_size, csfrm))
        return metas

    def _read_bind_value(self, meta):
        """Every supported bind value is length-prefixed, so an undecodable
        one is still skipped whole and reported as ORA-03115 afterwards."""
        t = meta.ora_type
        if meta.flags & 0x40:
            return Unsupported("array binds")
        if t == T_BOOLEAN and self.r.peek() == 253:     # NULL boolean
            self.r.raw(2)
            return None
        data = self.r.bytes_with_length()
        if data is None:
            return None
        try:
            return _decode_bind(t, meta.csfrm, data)
        except (ValueError, IndexError, struct.error, UnicodeError) as e:
            return Unsupported(f"bind of type {t}: {e}")

    def _read_bind_rows(self, metas, count):
        """Values of long binds (buffer >= 32K) follow all the others."""
        rows = []
        order = [i for i, m in enumerate(metas) if m.buffer_size < 0x8000] + \
                [i for i, m in enumerate(metas) if m.buffer_size >= 0x8000]
        for _ in range(count):
            if self.r.u8() != MSG_ROW_DATA:
                raise wire.ProtocolError("expected bind row")
            row = [None] * len(metas)
            for i in order:
                row[i] = self._read_bind_value(metas[i])
            rows.append(row)
        return rows

    def _execute(self):
        r = self.r
        options = r.ub4()
        cursor_id = r.ub4()
        sql_ptr = r.u8()
        sql_len = r.ub4()
        r.u8()
        r.ub4()                     # al8i4 length (13)
        r.u8()
        r.u8()
        r.ub4()                     # prefetch buffer size
        num_iters = r.ub4()         # prefetch rows
        r.ub4()                     # max long size
        r.u8()
        num_binds = r.ub4()
        for _ in range(5):
            r.u8()                  # al8app, al8txn, al8txl, al8kv, al8kvl
        r.u8()
        num_defines = r.ub4()
        r.ub4()                     # registration id
        r.u8()
        r.u8()
        r.u8()
        r.ub4()                     # al8blv
        r.u8()
        r.ub4()                     # al8dnam
        r.ub4()                     # regid msb
        r.u8()
        r.ub4()                     # dml rowcounts
        r.u8()
        if self.field_version >= 8:
            r.u8()
            r.ub4()
            r.u8()
            r.ub4()
            r.u8()
            if self.field_version >= 9:
                r.u8()
                r.ub4()
        sql = None
        if sql_ptr:
            sql = self._read_sql(sql_len).decode("utf-8", "replace")
        al8i4 = [r.ub4() for _ in range(13)]
        if options & OPT_DEFINE:
            self._read_bind_meta(num_defines)     # defines: same layout
            metas = None
        else:
            metas = self._read_bind_meta(num_binds) if num_binds else []
        if sql is not None:
            if cursor_id == 0 or cursor_id not in self.cursors:
                cursor_id = self.next_cursor
                self.next_cursor += 1
            cur = Cursor(cursor_id, sql)
            self.cursors[cursor_id] = cur
        else:
            cur = self.cursors.get(cursor_id)
            if cur is None:
                r.discard_packet()
                return self._error(OraError(1001, "invalid cursor"))
        if metas is not None and (metas or sql is not None):
            cur.binds = metas
        bind_rows = []
        if metas and (options & OPT_BIND):
            nrows = 1 if cur.kind == "query" else max(al8i4[1], 1)
            bind_rows = self._read_bind_rows(metas, nrows)
        if options & OPT_DEFINE:
            # a define-only round trip (client asked for other fetch types)
            return self._send_rows(cur, num_iters, describe=False)
        if not (options & OPT_EXECUTE):
            w = wire.TTCWriter()
            if cur.kind == "query" and (options & OPT_DESCRIBE):
                try:                    # parse only: describe, do not log
                    self._run(cur, bind_rows[0] if bind_rows else [], log=False)
                except OraError as e:
                    return self._error(e, cursor_id=cur.id)
                self._describe(w, cur)
            self._end_of_call(w, cursor_id=cur.id)
            return self._send(w)
        commit = bool(options & OPT_COMMIT)
        return self._run_and_reply(cur, bind_rows or [[]], num_iters,
                                   fetch=bool(options & OPT_FETCH), describe=True,
                                   commit=commit)

    def _reexecute(self, func):
        r = self.r
        cursor_id = r.ub4()
        num_iters = r.ub4()
        r.ub4()                     # exec flags 1 (EXECUTE with fetch)
        flags2 = r.ub4()
        cur = self.cursors.get(cursor_id)
        if cur is None:
            r.discard_packet()
            return self._error(OraError(1001, "invalid cursor"))
        bind_rows = [[]]
        if cur.binds:
            nrows = 1 if (cur.kind == "query" or func == F_REEXECUTE_FETCH) else max(num_iters, 1)
            bind_rows = self._read_bind_rows(cur.binds, nrows)
        fetch = func == F_REEXECUTE_FETCH
        return self._run_and_reply(cur, bind_rows, num_iters if fetch else 0,
                                   fetch=fetch, describe=False, commit=bool(flags2 & 1))

    def _run(self, cur, binds, log=True):
        try:
            bad = [b for b in binds if isinstance(b, Unsupported)]
            if bad:
                raise OraError(3115, f"unsupported network datatype or representation "
                                     f"({bad[0].what})")
            cols, rows, count = self.sql.execute(cur.sql, binds)
        except OraError as e:
            if log:
                self.log("execute", cursor=cur.id, sql=cur.sql, binds=_jsonable(binds),
                         error=str(e))
            raise
        if cols is not None:
            cur.columns = _column_types(cols, rows)
            cur.rows, cur.pos = rows, 0
        if log:
            result = {"rows": len(rows)} if cols is not None else {"rowcount": count}
            self.log("execute", cursor=cur.id, sql=cur.sql, binds=_jsonable(binds),
                     result=result)
        return cols, rows, count

    def _run_and_reply(self, cur, bind_rows, num_iters, fetch, describe, commit):
        total = 0
        try:
            for binds in bind_rows:
                cols, rows, count = self._run(cur, binds)
                total += count
            if commit:
                self.sql.commit()
                self.log("commit", auto=True)
        except OraError as e:
            if self.pending_break:
                self.io.send_marker(wire.MARKER_BREAK)
                self._await_reset()
                self.log("break", marker=self.pending_break, during="execute")
                self.pending_break = False
            return self._error(e, cursor_id=cur.id)
        if cols is None:
            w = wire.TTCWriter()
            self._end_of_call(w, cursor_id=cur.id, rowcount=total)
            return self._send(w)
        return self._send_rows(cur, num_iters if fetch else 0, describe=describe)

    def _fetch(self):
        cursor_id = self.r.ub4()
        num_rows = self.r.ub4()
        cur = self.cursors.get(cursor_id)
        if cur is None or cur.columns is None:
            return self._error(OraError(1002, "fetch out of sequence"))
        return self._send_rows(cur, num_rows, describe=False)

    def _describe(self, w, cur):
        w.u8(MSG_DESCRIBE_INFO)
        w.u8(0)                     # chunked prefix (empty)
        w.ub4(4000 * len(cur.columns))  # max row size
        w.ub4(len(cur.columns))
        if cur.columns:
            w.u8(0)
        for i, (name, t) in enumerate(cur.columns):
            w.u8(t)
            w.u8(0)                 # flags
            w.u8(0)                 # precision
            w.u8(0)                 # scale (0: a single byte for both clients)
            w.ub4(22 if t == T_NUMBER else 4000)
            w.ub4(0)                # max array elements
            w.ub4(0)                # cont flags
            w.ub4(0)                # OID
            w.ub2(0)                # version
            w.ub2(873 if t == T_VARCHAR else 0)
            w.u8(1 if t == T_VARCHAR else 0)
            w.ub4(4000 if t == T_VARCHAR else 0)
            if self.field_version >= 8:
                w.ub4(0)            # oaccolid
            w.u8(1)                 # nullable
            w.u8(0)                 # v7 name length
            nb = name.encode()
            w.ub4(len(nb)).bytes_with_length(nb)
            w.ub4(0)                # schema
            w.ub4(0)                # type name
            w.ub2(i + 1)
            w.ub4(0)                # uds flags
        w.ub4(0)                    # current date
        w.ub4(0).ub4(0).ub4(0).ub4(0)
        w.ub4(0)                    # dcbqcky

    def _send_rows(self, cur, num_rows, describe):
        w = wire.TTCWriter()
        if describe:
            self._describe(w, cur)
        batch = cur.rows[cur.pos:cur.pos + num_rows] if num_rows else []
        if batch:
            w.u8(MSG_ROW_HEADER)
            w.u8(0).ub2(len(cur.columns)).ub4(0).ub4(len(batch)).ub2(0)
            w.ub4(0).ub4(0)
        for row in batch:
            w.u8(MSG_ROW_DATA)
            for (name, t), v in zip(cur.columns, row):
                _write_value(w, t, v)
        cur.pos += len(batch)
        if cur.pos >= len(cur.rows) and (num_rows or not describe):
            self._end_of_call(w, 1403, "ORA-01403: no data found", cursor_id=cur.id,
                              rowcount=cur.pos)
        else:
            self._end_of_call(w, cursor_id=cur.id, rowcount=cur.pos)
        self._send(w)


class Unsupported:
    def __init__(self, what):
        self.what = what

    def __str__(self):
        return f"<unsupported {self.what}>"


def _decode_bind(t, csfrm, data):
    if t in (T_VARCHAR, T_CHAR, T_LONG):
        return data.decode("utf-16-be" if csfrm == 2 else "utf-8")
    if t in (T_NUMBER, T_BINARY_INTEGER):
        return wire.decode_number(data)
    if t in (T_BDOUBLE, T_BFLOAT):
        b = bytearray(data)
        if b[0] & 0x80:
            b[0] &= 0x7F
        else:
            b = bytearray(x ^ 0xFF for x in b)
        v = struct.unpack(">d" if t == T_BDOUBLE else ">f", bytes(b))[0]
        return int(v) if v.is_integer() else v
    if t in (T_RAW, T_LONG_RAW):
        return data
    if t == T_BOOLEAN:
        return data[-1] == 1
    if t in (T_DATE, T_TIMESTAMP) and len(data) >= 7:
        d = datetime.datetime((data[0] - 100) * 100 + data[1] - 100, data[2], data[3],
                              data[4] - 1, data[5] - 1, data[6] - 1)
        return d.isoformat(sep=" ")
    return Unsupported(f"bind type {t}")


def _column_types(cols, rows):
    out = []
    for i, name in enumerate(cols):
        t = T_NUMBER
        seen = False
        for row in rows:
            v = row[i]
            if v is None:
                continue
            seen = True
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                t = T_RAW if isinstance(v, bytes) else T_VARCHAR
                break
        if not seen:
            t = T_VARCHAR
        out.append((name, t))
    return out


def _write_value(w, t, v):
    if v is None:
        w.u8(0)
    elif t == T_NUMBER:
        w.bytes_with_length(wire.encode_number(repr(v) if isinstance(v, float) else v))
    elif t == T_RAW:
        w.bytes_with_length(bytes(v))
    else:
        w.str_with_length(str(v))


def _jsonable(binds):
    out = []
    for v in binds:
        if isinstance(v, bytes):
            out.append({"hex": v.hex()})
        elif v is None or isinstance(v, (int, float, str, bool)):
            out.append(v)
        else:
            out.append(str(v))
    return out
