"""One client connection: PRELOGIN (and TLS), LOGIN7, then requests.

A reader thread takes messages off the wire so an Attention can stop the
statement running in the session thread; the session thread answers
requests in order."""
import datetime
import decimal
import queue
import re
import struct
import threading
import time
import traceback

from . import tokens as T
from . import wire
from .decode import (ENCRYPT_NOT_SUP, ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_REQ,
                     Reader, build_prelogin, parse_batch, parse_login7,
                     parse_prelogin, parse_rpc, skip_all_headers)
from .tsql import PROCEDURES, Cancelled, Engine, TsqlError, split_batch
from .wire import Closed, Malformed

ENC_NAMES = {ENCRYPT_OFF: "off", ENCRYPT_ON: "on", ENCRYPT_NOT_SUP: "notsup", ENCRYPT_REQ: "req"}
ATTENTION = object()    # queue marker: an attention arrived
LOGIN_TIMEOUT = 30      # seconds from connect to a finished login, as SQL Server's
TM_NAMES = {0: "get_dtc_address", 1: "propagate", 5: "begin", 6: "promote", 7: "commit",
            8: "rollback", 9: "save"}


def _json_value(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "0x" + bytes(v).hex()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    return v


def _bind_value(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v


def decl_names(decl):
    """'@a int, @b nvarchar(10)' -> ['a', 'b']"""
    return [m.group(1) for m in re.finditer(r"@(\w+)\s", (decl or "") + " ")]


def mode_requires_tls(mode):
    return mode in ("on", "req", "strict")


class Reply:
    """Tokens of one reply message. The last DONE of a request is held
    back so it can be sent without DONE_MORE."""

    def __init__(self, session):
        self.s = session
        self.w = wire.Writer(session.transport, session.packet_size, session.spid)
        self.pending = None

    def add(self, data):
        self._flush_pending()
        self.w.add(data)

    def done(self, status, curcmd=0, count=0, token=T.TOK_DONE):
        self._flush_pending()
        if self.s.engine and self.s.engine.trancount:
            status |= T.DONE_INXACT
        self.pending = (status, curcmd, count, token)

    def _flush_pending(self):
        if self.pending:
            st, cmd, cnt, tok = self.pending
            self.w.add(T.done(st | T.DONE_MORE, cnt, cmd, self.s.version, tok))
            self.pending = None

    def finish(self, attention=False):
        """End the reply. A cancelled request still gets its own message
        closed first; the attention acknowledgement (DONE_ATTN) follows as
        a message of its own, which tedious waits for."""
        if attention:
            self.finish()
            self.w.add(T.done(T.DONE_ATTN, 0, 0, self.s.version))
            self.w.end()
            return
        if self.pending:
            st, cmd, cnt, tok = self.pending
            self.w.add(T.done(st, cnt, cmd, self.s.version, tok))
            self.pending = None
        else:
            self.w.add(T.done(T.DONE_FINAL, 0, 0, self.s.version))
        self.w.end()


class Session:
    def __init__(self, server, sock, spid):
        self.server = server
        self.transport = wire.Transport(sock)
        self.spid = spid
        self.version = T.TDS74
        self.packet_size = 4096
        self.user = None
        self.engine = None
        self.cancel = threading.Event()
        self.queue = queue.Queue()
        self.prepared = {}
        self.cursors = {}
        self.next_handle = 1
        self.tran_counter = 0
        self.descriptor = b"\x00" * 8
        self.encryption = "none"
        self.reply_lock = threading.Lock()
        self.closed = False
        self.login_only_delay = False

    def log(self, **entry):
        entry.setdefault("user", self.user)
        entry["spid"] = self.spid
        self.server.ground_truth(entry)

    # -- connection lifecycle --------------------------------------------
    def run(self):
        try:
            self.transport.sock.settimeout(LOGIN_TIMEOUT)
            if self._handshake():
                self.transport.sock.settimeout(None)
                self._serve()
        except (Closed, Malformed, ConnectionError, OSError) as e:
            self.server.note("spid %d closed: %s" % (self.spid, e))
        except Exception:   # noqa: BLE001 - a backend bug closes this connection only
            self.server.note("spid %d crashed:\n%s" % (self.spid, traceback.format_exc()))
        finally:
            if self.engine:
                self.engine.close()
            self.transport.close()

    def _handshake(self):
        cfg = self.server.config
        t = self.transport
        first = t.peek_first_byte()
        if first not in (0x16, wire.PKT_PRELOGIN, wire.PKT_LOGIN7):
            raise Malformed("connection does not start with PRELOGIN, LOGIN7 or TLS (0x%02x)" % first)
        strict = first == 0x16
        if strict:
            if not self.server.tls_strict:
                raise Malformed("TLS-first (TDS 8.0) connection but the backend has no certificate")
            t.start_tls(self.server.tls_strict, wrapped=False)
            alpn = t.tls.selected_alpn_protocol()
            self.encryption = "strict"
            if alpn not in (None, "tds/8.0"):
                raise Malformed("unexpected ALPN %r" % alpn)
        elif cfg["encryption"] == "strict":
            raise Malformed("the backend requires TDS 8.0 strict encryption")
        ptype, _st, payload = wire.read_message(t)
        if ptype == wire.PKT_LOGIN7 and not strict:
            # a pre-7.1 style client (jTDS ssl=off) skips PRELOGIN: no TLS
            if mode_requires_tls(cfg["encryption"]):
                self.log(kind="login", ok=False, error="LOGIN7 without PRELOGIN but %s requires encryption"
                         % cfg["encryption"])
                return False
            return self._login(parse_login7(payload), ENCRYPT_NOT_SUP)
        if ptype != wire.PKT_PRELOGIN:
            raise Malformed("expected PRELOGIN, got packet type 0x%02x" % ptype)
        opts = parse_prelogin(payload)
        client_enc = opts.get(1, b"\x02")[:1] or b"\x02"
        client_enc = client_enc[0] & 0x0F
        mode = cfg["encryption"]
        refuse = False
        if strict:
            answer = ENCRYPT_NOT_SUP if client_enc == ENCRYPT_NOT_SUP else ENCRYPT_ON
            answer = client_enc if client_enc in (ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_REQ) else answer
        elif mode == "notsup":
            answer = ENCRYPT_NOT_SUP
        elif mode == "off":
            answer = {ENCRYPT_OFF: ENCRYPT_OFF, ENCRYPT_ON: ENCRYPT_ON, ENCRYPT_REQ: ENCRYPT_ON,
                      ENCRYPT_NOT_SUP: ENCRYPT_NOT_SUP}.get(client_enc, ENCRYPT_NOT_SUP)
        else:   # on / req: the server requires encryption
            answer = ENCRYPT_ON if mode == "on" else ENCRYPT_REQ
            refuse = client_enc == ENCRYPT_NOT_SUP
        if refuse:
            self.log(kind="login", ok=False, error="client does not support encryption (%s required)" % mode,
                     client_encryption=ENC_NAMES.get(client_enc))
        w = wire.Writer(t, 4096, 0)
        w.add(build_prelogin(answer))
        w.end()
        if refuse:
            return False
        login_only = False
        if not strict and answer in (ENCRYPT_ON, ENCRYPT_REQ, ENCRYPT_OFF) and client_enc != ENCRYPT_NOT_SUP:
            t.start_tls(self.server.tls_wrapped, wrapped=True)
            login_only = answer == ENCRYPT_OFF
            self.encryption = "login-only" if login_only else "on"
        ptype, _st, payload = wire.read_message(t)
        if login_only:
            t.stop_tls()
            self.login_only_delay = True
        if ptype != wire.PKT_LOGIN7:
            raise Malformed("expected LOGIN7, got packet type 0x%02x" % ptype)
        login = parse_login7(payload)
        return self._login(login, client_enc)

    def _login(self, login, client_enc):
        v = login["tds_version"]
        if (v >> 24) < 0x70:        # TDS 8.0 spells itself 0x08000000
            v = T.TDS74
        self.version = min(v, T.TDS74)
        requested = login["packet_size"] or 4096
        user, password = login["user"], login["password"]
        accounts = self.server.config["accounts"]
        entry = dict(kind="login", user=user, app=login.get("app"), database=login.get("database"),
                     encryption=self.encryption, client_encryption=ENC_NAMES.get(client_enc),
                     tds_version="%08x" % login["tds_version"])
        reply = wire.Writer(self.transport, 4096, self.spid)
        if login["sspi"] or user not in accounts or accounts[user] != password:
            reason = "integrated authentication not supported" if login["sspi"] else (
                "unknown user" if user not in accounts else "wrong password")
            reply.add(T.error(18456, 1, 14, "Login failed for user '%s'." % user, self.version))
            reply.add(T.done(T.DONE_ERROR, 0, 0, self.version))
            self.log(ok=False, error=reason, **entry)     # before the client can see the reply
            self._login_only_pause()
            reply.end()
            return False
        self.user = user
        self.packet_size = max(512, min(requested, 32767))
        self.engine = Engine(self.server.db_path, self.spid, self.cancel, PROCEDURES)
        db = login.get("database") or "master"
        self.engine.database = db
        reply.add(T.env_database(db, "master"))
        reply.add(T.info(5701, 2, 0, "Changed database context to '%s'." % db, self.version))
        if self.version >= T.TDS71:
            reply.add(T.env_collation())
        reply.add(T.env_language("us_english"))
        reply.add(T.info(5703, 1, 0, "Changed language setting to us_english.", self.version))
        reply.add(T.loginack(self.version))
        reply.add(T.env_packet_size(self.packet_size, 4096))
        reply.add(T.done(T.DONE_FINAL, 0, 0, self.version))
        self.log(ok=True, **entry)
        self._login_only_pause()
        reply.end()
        return True

    def _login_only_pause(self):
        """jTDS (1.3.1, Java 17) loses a cleartext login reply that arrives
        before it has switched back from TLS; give it time (README)."""
        if self.login_only_delay:
            time.sleep(0.2)

    # -- requests -----------------------------------------------------------
    def _reader(self):
        try:
            while True:
                msg = wire.read_message(self.transport)
                if msg[0] == wire.PKT_ATTENTION:
                    self.cancel.set()
                    try:
                        self.engine.db.interrupt()
                    except Exception:   # noqa: BLE001 - closed db
                        pass
                    self.queue.put(ATTENTION)     # wakes an idle session thread
                    continue
                self.queue.put(msg)
        except (Closed, Malformed, OSError) as e:
            self.closed = True
            self.cancel.set()        # stop a running WAITFOR: nobody is waiting for it
            self.queue.put(e)

    def _serve(self):
        threading.Thread(target=self._reader, daemon=True).start()
        while True:
            try:
                msg = self.queue.get(timeout=1)
                if msg is ATTENTION:
                    raise queue.Empty
            except queue.Empty:
                if self.cancel.is_set() and not self.closed:
                    with self.reply_lock:
                        self.cancel.clear()
                        r = Reply(self)
                        r.w.add(T.done(T.DONE_ATTN, 0, 0, self.version))
                        r.w.end()
                    self.log(kind="attention", while_idle=True)
                continue
            if isinstance(msg, Exception):
                if isinstance(msg, Malformed):
                    self.server.note("spid %d malformed: %s" % (self.spid, msg))
                return
            ptype, status, payload = msg
            reply = Reply(self)
            if status & (wire.ST_RESET | wire.ST_RESET_SKIPTRAN):
                self._reset(reply, keep_tran=bool(status & wire.ST_RESET_SKIPTRAN))
            try:
                if ptype == wire.PKT_SQLBATCH:
                    self._batch(reply, payload)
                elif ptype == wire.PKT_RPC:
                    self._rpc(reply, payload)
                elif ptype == wire.PKT_TM:
                    self._tm(reply, payload)
                else:
                    raise Malformed("unexpected packet type 0x%02x after login" % ptype)
            except Cancelled:
                pass
            if self.closed:
                return
            with self.reply_lock:
                attn = self.cancel.is_set()
                self.cancel.clear()
                reply.finish(attention=attn)
            if attn:
                self.log(kind="attention", while_idle=False)

    def _reset(self, reply, keep_tran):
        e = self.engine
        if e.trancount and not keep_tran:
            e.rollback()
        e.implicit = False
        self.prepared.clear()
        self.cursors.clear()
        reply.add(T.env_reset_ack())

    def _tran_event(self, reply, what):
        if what == "begin":
            self.tran_counter += 1
            self.descriptor = struct.pack("<Q", self.spid << 32 | self.tran_counter)
            reply.add(T.env_begin_tran(self.descriptor))
        elif what == "commit":
            reply.add(T.env_commit_tran(self.descriptor))
        else:
            reply.add(T.env_rollback_tran(self.descriptor))

    def _run_statements(self, reply, stmts, params, in_proc):
        """Execute statements, encoding their events. Returns the first
        error text (or None)."""
        done_tok = T.TOK_DONEINPROC if in_proc else T.TOK_DONE
        first_error = None
        try:
            self.engine.check_batch(stmts, params)
        except TsqlError as e:
            self._error(reply, e, done_tok)
            return e.text
        for stmt in stmts:
            try:
                for ev in self.engine.execute(stmt, params):
                    self._event(reply, ev, done_tok, in_proc)
            except TsqlError as e:
                self._error(reply, e, done_tok)
                first_error = first_error or e.text
                if e.batch_abort:
                    break
        return first_error

    def _error(self, reply, e, done_tok):
        reply.add(T.error(e.number, e.state, e.klass, e.text, self.version))
        reply.done(T.DONE_ERROR, 0, 0, done_tok)

    def _event(self, reply, ev, done_tok, in_proc):
        kind = ev[0]
        if kind == "rows":
            _k, names, rows = ev
            cols = T.infer_columns(names, rows)
            reply.add(T.colmetadata(cols, self.version))
            for i, r in enumerate(rows):
                if i % 256 == 0 and self.cancel.is_set():
                    raise Cancelled()
                reply.w.add(T.row(cols, r, self.version))
        elif kind == "count":
            reply.done(T.DONE_COUNT, ev[2], ev[1], done_tok)
        elif kind == "done":
            reply.done(0, ev[1], 0, done_tok)
        elif kind == "info":
            reply.add(T.info(0, 1, 0, ev[1], self.version))
        elif kind == "tran":
            self._tran_event(reply, ev[1])
        elif kind == "database":
            reply.add(T.env_database(ev[1], "master"))
        elif kind == "status":
            reply.add(T.returnstatus(ev[1]))
        elif kind == "retval":
            _k, idx, name, value = ev
            reply.add(T.returnvalue(idx, name, T.column_for_value(name, value), value, self.version))

    def _batch(self, reply, payload):
        text, _desc = parse_batch(payload, self.version)
        try:
            stmts = split_batch(text)
        except TsqlError as e:
            self._error(reply, e, T.TOK_DONE)
            self.log(kind="batch", sql=text, statements=[], error=e.text)
            return
        try:
            err = self._run_statements(reply, stmts, None, in_proc=False)
        except Cancelled:
            self.log(kind="batch", sql=text, statements=stmts,
                     error="connection closed" if self.closed else "cancelled")
            raise
        self.log(kind="batch", sql=text, statements=stmts, error=err)

    # -- RPC ------------------------------------------------------------------
    def _rpc(self, reply, payload):
        calls, _desc = parse_rpc(payload, self.version)
        for call in calls:
            entry = dict(kind="rpc", proc=call.proc, sql=None,
                         params=[{"name": n, "value": _json_value(v), "output": o}
                                 for n, v, o, _ti in call.params])
            try:
                err = self._one_rpc(reply, call, entry)
            except Cancelled:
                entry["error"] = "connection closed" if self.closed else "cancelled"
                self.log(**entry)
                raise
            entry["error"] = err
            self.log(**entry)

    def _bind(self, decl, values):
        names = decl_names(decl)
        out = {}
        for i, (n, v, _o, _ti) in enumerate(values):
            key = n.lstrip("@") if n else (names[i] if i < len(names) else "P%d" % (i + 1))
            out[key] = _bind_value(v)
        return out

    def _returns(self, reply, status, retvals):
        reply.add(T.returnstatus(status))
        for idx, name, value in retvals:
            reply.add(T.returnvalue(idx, name, T.Column(name, "int4"), value, self.version))

    def _one_rpc(self, reply, call, entry):
        p = call.params
        proc = call.proc.lower()
        if proc.startswith("sys."):
            proc = proc[4:]
        err = None
        status = 0
        retvals = []
        if proc in ("sp_executesql", "sp_prepexec", "sp_prepare", "sp_execute", "sp_unprepare"):
            if proc == "sp_executesql":
                sql = p[0][1] if p else ""
                decl = p[1][1] if len(p) > 1 else ""
                values = p[2:]
            elif proc in ("sp_prepare", "sp_prepexec"):
                if len(p) < 3:
                    raise TsqlError(201, 16, 4, "Procedure or function '%s' expects parameter '@stmt', which was not supplied." % proc)
                handle = self._new_handle()
                decl, sql = p[1][1], p[2][1]
                values = p[3:] if proc == "sp_prepexec" else []
                entry["handle"] = handle
            elif proc == "sp_execute":
                handle = p[0][1] if p else None
                if handle not in self.prepared:
                    e = TsqlError(8179, 16, 2, "Could not find prepared statement with handle %s." % handle)
                    self._error(reply, e, T.TOK_DONEPROC)
                    entry["handle"] = handle
                    return e.text
                sql, decl = self.prepared[handle]
                values = p[1:]
                entry["handle"] = handle
            else:   # sp_unprepare
                handle = p[0][1] if p else None
                entry["handle"] = handle
                self.prepared.pop(handle, None)
                self._returns(reply, 0, [])
                reply.done(0, 0xE0, 0, T.TOK_DONEPROC)
                return None
            entry["sql"] = sql
            entry["decl"] = decl
            try:
                stmts = split_batch(sql or "")
            except TsqlError as e:
                self._error(reply, e, T.TOK_DONEPROC)
                return e.text
            params = self._bind(decl, values)
            if proc == "sp_prepare":
                try:
                    self.engine.check_batch(stmts, {k: None for k in decl_names(decl)})
                except TsqlError as e:
                    self._error(reply, e, T.TOK_DONEINPROC)
                    err = e.text
                else:
                    self.prepared[handle] = (sql, decl)
                    retvals.append((0, p[0][0], handle))
            else:
                if proc == "sp_prepexec":
                    self.prepared[handle] = (sql, decl)
                    retvals.append((0, p[0][0], handle))
                entry["params"] = [dict(d) for d in entry["params"]]
                entry["bound"] = {k: _json_value(v) for k, v in params.items()}
                err = self._run_statements(reply, stmts, params, in_proc=True)
        elif proc.startswith("sp_cursor"):
            return self._cursor_rpc(reply, proc, p, entry)
        else:
            args = [(n, _bind_value(v), o) for n, v, o, _ti in p]
            try:
                for ev in self.engine.call_procedure(proc, args):
                    if ev[0] == "status":
                        status = ev[1]
                    elif ev[0] == "retval":
                        retvals.append(ev[1:])
                    else:
                        self._event(reply, ev, T.TOK_DONEINPROC, True)
            except TsqlError as e:
                self._error(reply, e, T.TOK_DONEPROC)
                return e.text
        reply.add(T.returnstatus(status))
        for idx, name, value in retvals:
            reply.add(T.returnvalue(idx, name, T.column_for_value(name, value)
                                    if not isinstance(value, int) else T.Column(name, "int4"),
                                    value, self.version))
        reply.done(T.DONE_ERROR if err else 0, 0xE0, 0, T.TOK_DONEPROC)
        return err

    # -- server cursors (jTDS scrollable result sets) ---------------------------
    def _cursor_rpc(self, reply, proc, p, entry):
        """sp_cursoropen / sp_cursorprepare / sp_cursorexecute /
        sp_cursorprepexec / sp_cursorfetch / sp_cursorclose /
        sp_cursorunprepare / sp_cursoroption. Cursors are static: the rows
        are read at open and served from memory."""
        def val(i, default=None):
            return p[i][1] if len(p) > i and p[i][1] is not None else default
        outs = {}            # parameter index -> value for its RETURNVALUE
        if proc == "sp_cursorprepare":
            # @handle OUT, @params, @stmt, @options, @scrollopt OUT, @ccopt OUT
            decl, sql = val(1, ""), val(2, "")
            entry.update(sql=sql, decl=decl)
            try:
                self.engine.check_batch(split_batch(sql), {k: None for k in decl_names(decl)})
            except TsqlError as e:
                self._error(reply, e, T.TOK_DONEPROC)
                return e.text
            handle = self._new_handle()
            self.prepared[handle] = (sql, decl)
            entry["handle"] = handle
            outs = {0: handle, 4: val(4, 0) & 0xFFF, 5: val(5, 1)}
        elif proc in ("sp_cursoropen", "sp_cursorprepexec", "sp_cursorexecute"):
            if proc == "sp_cursoropen":
                # @cursor OUT, @stmt, @scrollopt, @ccopt, @rowcount [, @params, values...]
                sql, decl, values, slots = val(1, ""), val(5, ""), p[6:], (0, 2, 3, 4)
            elif proc == "sp_cursorprepexec":
                # @handle OUT, @cursor OUT, @params, @stmt, @scrollopt, @ccopt, @rowcount, values...
                decl, sql, values, slots = val(2, ""), val(3, ""), p[7:], (1, 4, 5, 6)
                handle = self._new_handle()
                self.prepared[handle] = (sql, decl)
                outs[0] = handle
                entry["handle"] = handle
            else:
                # @handle, @cursor OUT, @scrollopt, @ccopt, @rowcount, values...
                handle = val(0)
                entry["handle"] = handle
                if handle not in self.prepared:
                    e = TsqlError(8179, 16, 2, "Could not find prepared statement with handle %s." % handle)
                    self._error(reply, e, T.TOK_DONEPROC)
                    return e.text
                (sql, decl), values, slots = self.prepared[handle], p[5:], (1, 2, 3, 4)
            entry.update(sql=sql, decl=decl)
            params = self._bind(decl, values)
            entry["bound"] = {k: _json_value(v) for k, v in params.items()}
            try:
                names, rows = self._select(sql, params)
            except TsqlError as e:
                self._error(reply, e, T.TOK_DONEPROC)
                return e.text
            cols = T.infer_columns(names, rows)
            cid = 180150000 + self._new_handle()
            self.cursors[cid] = {"cols": cols, "rows": rows, "start": -1, "end": 0}
            entry["cursor"] = cid
            reply.add(T.colmetadata(cols, self.version))
            reply.done(0, 0xC1, 0, T.TOK_DONEINPROC)
            i_cursor, i_scroll, i_cc, i_rows = slots
            outs.update({i_cursor: cid, i_scroll: val(i_scroll, 0) & 0xFFF,
                         i_cc: val(i_cc, 1), i_rows: len(rows)})
        elif proc == "sp_cursorfetch":
            # @cursor, @fetchtype, @rownum, @nrows
            cid = val(0)
            entry["cursor"] = cid
            cur = self.cursors.get(cid)
            if cur is None:
                e = TsqlError(16916, 16, 1, "A cursor with the name '%s' does not exist." % cid)
                self._error(reply, e, T.TOK_DONEPROC)
                return e.text
            ftype, rownum, nrows = val(1, 2), val(2, 1), max(1, val(3, 1))
            rows, n = cur["rows"], len(cur["rows"])
            if ftype & 0x100:          # FETCH_INFO: position and row count
                outs = {2: 0 if cur["start"] < 0 else min(cur["start"] + 1, n + 1), 3: n}
            else:
                prev = cur["start"] - nrows
                start = {1: 0, 2: cur["end"], 4: 0 if prev < 0 < cur["start"] else prev, 8: max(n - nrows, 0),
                         16: rownum - 1 if rownum > 0 else n + rownum,
                         32: cur["start"] + rownum, 128: cur["start"]}.get(ftype & 0xFF, cur["end"])
                block = rows[start:start + nrows] if 0 <= start < n else []
                cur["start"] = min(max(start, -1), n)
                cur["end"] = min(max(start, 0) + len(block), n) if block else cur["start"]
                reply.add(T.colmetadata(cur["cols"], self.version))
                for r in block:
                    reply.w.add(T.row(cur["cols"], r, self.version))
                reply.done(T.DONE_COUNT, 0xC1, len(block), T.TOK_DONEINPROC)
        elif proc == "sp_cursorclose":
            entry["cursor"] = val(0)
            self.cursors.pop(val(0), None)
        elif proc == "sp_cursorunprepare":
            entry["handle"] = val(0)
            self.prepared.pop(val(0), None)
        elif proc != "sp_cursoroption":
            e = TsqlError(50000, 16, 1, "test backend: %s is not implemented" % proc)
            self._error(reply, e, T.TOK_DONEPROC)
            return e.text
        reply.add(T.returnstatus(0))
        for idx, value in sorted(outs.items()):
            if idx < len(p) and (p[idx][2] or proc == "sp_cursorfetch"):
                reply.add(T.returnvalue(idx, p[idx][0], T.Column(p[idx][0], "int4"), value, self.version))
        reply.done(0, 0xE0, 0, T.TOK_DONEPROC)
        return None

    def _select(self, sql, params):
        """The result set of a one-statement query (a cursor's rows)."""
        stmts = split_batch(sql)
        self.engine.check_batch(stmts, params)
        result = None
        for stmt in stmts:
            for ev in self.engine.execute(stmt, params):
                if ev[0] == "rows" and result is None:
                    result = (ev[1], ev[2])
        if result is None:
            raise TsqlError(16937, 16, 1, "A server cursor is not allowed on a remote stored procedure "
                            "or stored procedure with more than one SELECT statement.")
        return result

    def _new_handle(self):
        handle = self.next_handle
        self.next_handle += 1
        return handle

    # -- transaction manager ---------------------------------------------------
    def _tm(self, reply, payload):
        start, _desc = skip_all_headers(payload, self.version)
        r = Reader(payload, start)
        req = r.u16()
        name = TM_NAMES.get(req, "unknown-%d" % req)
        err = None
        try:
            if req == 5:
                ev = self.engine.begin()
                if ev:
                    self._tran_event(reply, "begin")
            elif req in (7, 8):
                if not r.done():
                    r.b_varchar()
                flags = r.u8() if not r.done() else 0
                ev = self.engine.commit() if req == 7 else self.engine.rollback()
                if ev:
                    self._tran_event(reply, ev[1])
                if flags & 0x01:     # fBeginXact: start a new transaction
                    if self.engine.begin():
                        self._tran_event(reply, "begin")
            elif req == 9:
                pass
            else:
                raise TsqlError(50000, 16, 1, "test backend: transaction manager request %s not supported" % name)
        except TsqlError as e:
            self._error(reply, e, T.TOK_DONE)
            err = e.text
        self.log(kind="tm", request=name, error=err)
