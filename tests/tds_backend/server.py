"""Listener, TLS contexts and the ground-truth log shared by sessions."""
import json
import os
import socket
import ssl
import sys
import threading
import time

from .session import Session


class Server:
    def __init__(self, config):
        self.config = config
        self.db_path = config["db"]
        self.log_path = config["log"]
        self._log_lock = threading.Lock()
        self.tls_wrapped = self.tls_strict = None
        if config.get("cert"):
            # TDS 7.x: TLS 1.2 at most, as SQL Server; no tickets (they would
            # arrive after a login-only handshake as raw bytes)
            self.tls_wrapped = self._context(config, ssl.TLSVersion.TLSv1_2)
            self.tls_strict = self._context(config, ssl.TLSVersion.TLSv1_3)
            self.tls_strict.set_alpn_protocols(["tds/8.0"])
        if config["encryption"] != "notsup" and not self.tls_wrapped:
            raise SystemExit("encryption %r needs a certificate" % config["encryption"])
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((config.get("host", "127.0.0.1"), int(config.get("port", 0))))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._spid = 50

    @staticmethod
    def _context(config, max_version):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(config["cert"], config["key"])
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = max_version
        ctx.options |= ssl.OP_NO_TICKET
        ctx.num_tickets = 0
        return ctx

    def ground_truth(self, entry):
        entry = dict(entry)
        entry["ts"] = time.time()
        line = json.dumps(entry, ensure_ascii=False, default=str)
        with self._log_lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def note(self, text):
        print("tds_backend: " + text, file=sys.stderr, flush=True)

    def serve_forever(self):
        while True:
            conn, _addr = self.sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spid += 1
            s = Session(self, conn, self._spid)
            threading.Thread(target=s.run, daemon=True).start()


def main(argv):
    if len(argv) != 1:
        raise SystemExit("usage: python3 -m tds_backend CONFIG.json")
    with open(argv[0], encoding="utf-8") as f:
        config = json.load(f)
    config.setdefault("encryption", "off")
    server = Server(config)
    port_file = config.get("port_file")
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.port)
        os.replace(tmp, port_file)
    print("tds_backend listening on 127.0.0.1:%d encryption=%s" % (server.port, config["encryption"]),
          flush=True)
    server.serve_forever()
