"""Fixture wrapper for the TDS test backend (tests/tds_backend/), the
stand-in for SQL Server: starts it as a child process of /usr/bin/python3
on a free loopback port and reads its ground-truth log.

    b = TdsBackend(tmpdir, encryption="on"); b.start()
    ... connect a client to b.host:b.port as sa_app / pw ...
    b.ground_truth()  # [{"kind": "batch", "sql": ..., "user": ...}, ...]
    b.stop()

encryption: what the server answers in PRELOGIN
  "off"     TLS available, not required: ENCRYPT_OFF clients get login-only
            TLS, ENCRYPT_ON/REQ clients full TLS, NOT_SUP clients none
  "on"/"req" encryption required (answer ON / REQ): full TLS; a NOT_SUP
            client is refused
  "notsup"  no TLS at all (answer NOT_SUP)
  "strict"  TDS 8.0 only: TLS first (ALPN tds/8.0), then PRELOGIN inside
A TLS-first connection is accepted in every mode that has a certificate.
The account passwords go to the backend in its config file (0600), never
in argv."""
import atexit
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from bastion import make_server_cert, make_test_ca

TESTS_DIR = Path(__file__).resolve().parents[1]
PYTHON = "/usr/bin/python3"


class TdsBackend:
    def __init__(self, directory, *, accounts=None, encryption="off",
                 tls_cert=None, tls_key=None):
        if encryption not in ("off", "on", "req", "notsup", "strict"):
            raise ValueError(encryption)
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.accounts = dict(accounts or {"sa_app": "pw"})
        self.encryption = encryption
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.ca_cert = None
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.log_path = self.dir / "ground_truth.jsonl"
        self.db_path = self.dir / "backend.sqlite3"
        self.stderr_path = self.dir / "backend.stderr"

    def start(self, timeout=15):
        if self.tls_cert is None and self.encryption != "notsup":
            self.ca_cert, ca_key = make_test_ca(self.dir, name="tds-ca", cn="tds backend test CA")
            self.tls_cert, self.tls_key = make_server_cert(self.dir, self.ca_cert, ca_key,
                                                           name="tds-server")
        port_file = self.dir / "port"
        if port_file.exists():
            port_file.unlink()
        config = {"accounts": self.accounts, "encryption": self.encryption,
                  "cert": str(self.tls_cert) if self.tls_cert else None,
                  "key": str(self.tls_key) if self.tls_key else None,
                  "log": str(self.log_path), "db": str(self.db_path),
                  "port_file": str(port_file)}
        cfg = self.dir / "backend.json"
        fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        env = dict(os.environ, PYTHONPATH=str(TESTS_DIR), PYTHONDONTWRITEBYTECODE="1")
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([PYTHON, "-m", "tds_backend", str(cfg)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr,
                                     start_new_session=True)
        atexit.register(self.stop)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if port_file.exists():
                self.port = int(port_file.read_text())
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("TDS backend did not start: " + self.stderr_text()[-2000:])

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "_stderr", None):
            self._stderr.close()
            self._stderr = None

    def ground_truth(self):
        """Every entry of the ground-truth log, in order."""
        try:
            text = self.log_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def wait_ground_truth(self, pred, timeout=10):
        """Entries matching pred, waiting until there is at least one."""
        deadline = time.time() + timeout
        while True:
            hits = [e for e in self.ground_truth() if pred(e)]
            if hits or time.time() > deadline:
                return hits
            time.sleep(0.05)

    def executed(self):
        """Batches and RPCs only (not logins, attentions, tm)."""
        return [e for e in self.ground_truth() if e["kind"] in ("batch", "rpc")]
