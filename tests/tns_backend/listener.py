"""Oracle Net listener of the test backend (a stand-in for Oracle, not Oracle).

What this module owns
  Backend      the listening sockets (main port, and with redirect a second
               port where the "dispatcher" serves), one thread per client.
  connect phase  reads CONNECT (connect data inline, or in the DATA packet
               that follows when it is longer than 230 bytes) and answers
               RESEND (first CONNECT of a connection, when asked), REDIRECT
               (main port, when asked), REFUSE (unknown SERVICE_NAME/SID:
               ERR=12514/12505; ERR=12660 when native encryption is demanded
               from a client that offers none) or ACCEPT (protocol version
               min(client, 318), 4-byte length headers from 315, the
               client's SDU; with oob, the "can receive attention"
               option so python-oracledb sends breaks as TCP urgent data).
After ACCEPT the connection is handed to ttc.Session.
"""

import json
import os
import re
import socket
import ssl
import struct
import threading
import time
import traceback

from . import wire
from .ttc import Session

ACCEPT_VERSION_MAX = 318
NSINANOSERVICES = 0x08
CAN_RECV_ATTENTION = 0x0400     # global service option: out-of-band breaks


class GroundTruth:
    """Appends one JSON line per executed thing; thread safe."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, **entry):
        entry.setdefault("ts", time.time())
        line = json.dumps(entry, default=str, sort_keys=True)
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class Backend:
    def __init__(self, cfg):
        self.cfg = cfg
        self.service = cfg.get("service", "ORCLPDB1")
        self.sid = cfg.get("sid") or self.service
        self.accounts = cfg.get("accounts", {})
        self.redirect = cfg.get("redirect", False)
        self.resend = bool(cfg.get("resend", False))
        self.require_encryption = bool(cfg.get("require_native_encryption", False))
        self.driver_hint = bool(cfg.get("driver_hint", True))
        self.oob = bool(cfg.get("oob", False))
        self.db_path = cfg["db_path"]
        self.truth = GroundTruth(cfg["ground_truth"])
        self.host = cfg.get("host", "127.0.0.1")
        self.tls = None
        if cfg.get("tls_cert"):         # TCPS: TLS first on every socket
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(cfg["tls_cert"], cfg["tls_key"])
        self.main = self._listen(cfg.get("port", 0))
        self.port = self.main.getsockname()[1]
        self.dispatcher = None
        if self.redirect:
            self.dispatcher = self._listen(0)
            self.dispatcher_port = self.dispatcher.getsockname()[1]
        self.session_seq = 0
        self.lock = threading.Lock()

    def _listen(self, port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, port))
        s.listen(64)
        return s

    def serve_forever(self):
        threads = [threading.Thread(target=self._accept_loop, args=(self.main, True),
                                    daemon=True)]
        if self.dispatcher:
            threads.append(threading.Thread(target=self._accept_loop,
                                            args=(self.dispatcher, False), daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _accept_loop(self, lsock, is_main):
        while True:
            try:
                conn, peer = lsock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._handle, args=(conn, peer, is_main),
                             daemon=True).start()

    def next_session_id(self):
        with self.lock:
            self.session_seq += 1
            return self.session_seq

    # ---- connect phase ----------------------------------------------------

    def _read_connect(self, io):
        """Returns (connect packet payload, connect data text)."""
        pkt = io.recv()
        if pkt.ptype != wire.CONNECT:
            raise wire.ProtocolError(f"expected CONNECT, got type {pkt.ptype}")
        p = pkt.payload
        if len(p) < 26:
            raise wire.ProtocolError("short CONNECT")
        data_len, data_off = struct.unpack(">HH", p[16:20])
        if data_len and len(p) + 8 >= data_off + data_len:
            cdata = p[data_off - 8:data_off - 8 + data_len]
        elif data_len:
            more = io.recv()
            if more.ptype != wire.DATA:
                raise wire.ProtocolError("expected DATA with connect data")
            cdata = more.payload[2:2 + data_len]
        else:
            cdata = b""
        return p, cdata.decode("ascii", "replace"), pkt.flags

    def _handle(self, conn, peer, is_main):
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError) as e:
                self.truth.write(kind="tls_failed", error=str(e))
                conn.close()
                return
        io = wire.PacketIO(conn)
        try:
            resent = False
            while True:
                p, cdata, pflags = self._read_connect(io)
                if self.resend and not resent:
                    resent = True
                    io.send(wire.RESEND, b"")
                    self.truth.write(kind="resend", connect_data=cdata)
                    continue
                break
            if is_main and self.redirect:
                self._send_redirect(io, cdata)
                return
            service = _field(cdata, "SERVICE_NAME")
            sid = _field(cdata, "SID")
            target = service or sid
            if service is not None and service.upper() != self.service.upper():
                return self._refuse(io, 12514, cdata)
            if service is None and (sid is None or sid.upper() not in
                                    (self.sid.upper(), self.service.upper())):
                return self._refuse(io, 12505, cdata)
            client_version = struct.unpack(">H", p[0:2])[0]
            client_no_na = bool(p[25] & NSINANOSERVICES) if len(p) > 25 else False
            if self.require_encryption and client_no_na:
                return self._refuse(io, 12660, cdata)
            version = min(client_version, ACCEPT_VERSION_MAX)
            sdu = struct.unpack(">H", p[6:8])[0]
            if version >= 315 and len(p) >= 58:
                sdu = struct.unpack(">I", p[50:54])[0] or sdu
            sdu = max(512, min(sdu, 2 * 1024 * 1024))
            flag1 = NSINANOSERVICES if client_no_na else 0
            client_options = struct.unpack(">H", p[4:6])[0]
            options = CAN_RECV_ATTENTION if self.oob and client_options & CAN_RECV_ATTENTION else 0
            body = struct.pack(">HHHHHHHBB", version, options, min(sdu, 65535), 65535,
                               0x0100, 0, 45, 0, flag1)
            body += bytes(8) + struct.pack(">II", sdu, 65535 if version < 315 else sdu)
            body += bytes(1) + struct.pack(">I", 0)
            io.send(wire.ACCEPT, body)
            if version >= 315:
                io.large = True
            io.sdu = sdu
            sess = Session(self, io, conn, peer, target, connect_data=cdata,
                           by_sid=service is None)
            sess.run()
        except (wire.Closed, ConnectionError, OSError):
            pass
        except wire.ProtocolError as e:
            self.truth.write(kind="protocol_error", error=str(e), peer=str(peer))
        except Exception as e:  # noqa: BLE001 - one connection fails, not the backend
            self.truth.write(kind="internal_error", error=repr(e),
                             trace=traceback.format_exc()[-4000:], peer=str(peer))
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _refuse(self, io, code, cdata):
        text = (f"(DESCRIPTION=(TMP=)(VSNNUM=318767104)(ERR={code})"
                f"(ERROR_STACK=(ERROR=(CODE={code})(EMFI=4))))").encode()
        io.send(wire.REFUSE, struct.pack(">BBH", 4, 4, len(text)) + text)
        self.truth.write(kind="refuse", error=f"ORA-{code}", connect_data=cdata)

    def _send_redirect(self, io, cdata):
        addr = (f"(ADDRESS=(PROTOCOL=TCP)(HOST={self.host})"
                f"(PORT={self.dispatcher_port}))")
        data = addr.encode() + b"\x00" + cdata.encode()
        if self.redirect == "inline":   # data inside the REDIRECT packet
            io.send(wire.REDIRECT, struct.pack(">H", len(data)) + data, flags=0x02)
        else:                           # REDIRECT header, data in a DATA packet
            io.send(wire.REDIRECT, struct.pack(">H", len(data)), flags=0x02)
            io.send(wire.DATA, struct.pack(">H", 0) + data)
        self.truth.write(kind="redirect", to=addr)
        # wait for the client to go away (it reconnects to the dispatcher)
        try:
            io.sock.settimeout(5)
            io.sock.recv(1)
        except OSError:
            pass


def _field(cdata, name):
    m = re.search(r"\(\s*" + name + r"\s*=\s*([^)]*?)\s*\)", cdata, re.I)
    return m.group(1) if m else None


def main(cfg_path):
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    b = Backend(cfg)
    ready = {"port": b.port, "host": b.host, "pid": os.getpid()}
    if b.dispatcher:
        ready["dispatcher_port"] = b.dispatcher_port
    tmp = cfg["ready_file"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(ready, f)
    os.replace(tmp, cfg["ready_file"])
    b.serve_forever()
