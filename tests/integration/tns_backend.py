"""Test fixture for the Oracle Net test backend (tests/tns_backend/): a
stand-in for an Oracle server, run as its own /usr/bin/python3 process.

    be = TnsBackend(tmp_path, service="ORCLPDB1", accounts={"scott": "tiger"})
    be.start()
    oracledb.connect(user="scott", password="tiger", dsn=f"{be.host}:{be.port}/ORCLPDB1")
    be.ground_truth()        # [{"kind": "execute", "sql": ..., "binds": ...}, ...]
    be.stop()

Options: redirect=True (the listener port answers REDIRECT to a second port
where the real server listens; redirect="inline" puts the redirect data in
the REDIRECT packet itself, which only node-oracledb reads), resend=True
(the first CONNECT of each connection gets RESEND), require_native_encryption
=True (the backend demands Oracle native network encryption and refuses
clients that do not offer it), driver_hint=False (ignore the driver name
sent at login and tell raw from length-prefixed SQL text by the bytes
alone, as when a proxy logs in under its own name and relays the client's
calls; python-oracledb 1.2 writes SQL text raw, newer clients prefixed),
oob=True (ACCEPT offers out-of-band breaks: python-oracledb then sends its
OOB check, an urgent byte and a RESET marker, after ACCEPT, and sends
cancel() as an urgent byte instead of an INTERRUPT marker), tls=(cert_file,
key_file) (TCPS: every socket, the redirect target's too, starts with TLS;
a failed handshake is written to the ground truth as kind "tls_failed").

The accounts' passwords reach the child through its config file (mode 0600
in the test's own directory), never argv.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class TnsBackend:
    def __init__(self, directory, *, service="ORCLPDB1", accounts=None, redirect=False,
                 resend=False, require_native_encryption=False, sid=None,
                 driver_hint=True, oob=False, tls=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.service = service
        self.sid = sid or service
        self.accounts = dict(accounts if accounts is not None else {"scott": "tiger"})
        self.redirect = redirect
        self.resend = resend
        self.require_native_encryption = require_native_encryption
        self.driver_hint = driver_hint
        self.oob = oob
        self.tls = tls
        self.host = "127.0.0.1"
        self.port = None
        self.dispatcher_port = None
        self.proc = None
        self.truth_path = self.dir / "tns_ground_truth.jsonl"
        self.db_path = self.dir / "tns_backend.sqlite"
        self.log_path = self.dir / "tns_backend.log"

    def start(self, timeout=15):
        ready = self.dir / "tns_backend.ready"
        if ready.exists():
            ready.unlink()
        cfg = {
            "host": self.host, "port": 0, "service": self.service, "sid": self.sid,
            "accounts": self.accounts, "redirect": self.redirect, "resend": self.resend,
            "require_native_encryption": self.require_native_encryption,
            "driver_hint": self.driver_hint, "oob": self.oob,
            "db_path": str(self.db_path), "ground_truth": str(self.truth_path),
            "ready_file": str(ready),
        }
        if self.tls:
            cfg["tls_cert"], cfg["tls_key"] = str(self.tls[0]), str(self.tls[1])
        cfg_path = self.dir / "tns_backend.json"
        fd = os.open(cfg_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f)
        self.truth_path.touch()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PYTHON, "-m", "tests.tns_backend", str(cfg_path)],
                                     cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if ready.exists():
                info = json.loads(ready.read_text())
                self.port = info["port"]
                self.dispatcher_port = info.get("dispatcher_port")
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("TNS test backend did not start: " + self.log_path.read_text()[-2000:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def dsn(self, service=None):
        """EZConnect string host:port/service."""
        return f"{self.host}:{self.port}/{service or self.service}"

    def descriptor(self, *, sid=None, service=None, pad=0):
        """A full connect descriptor; pad adds a long connection class (a
        parameter both thin clients pass on) so the connect data exceeds
        what fits in the CONNECT packet (230 bytes)."""
        cd = f"(SID={sid})" if sid else f"(SERVICE_NAME={service or self.service})"
        if pad:
            cd += f"(POOL_CONNECTION_CLASS=SBPAD{'x' * pad})"
        return (f"(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST={self.host})(PORT={self.port}))"
                f"(CONNECT_DATA={cd}))")

    def ground_truth(self):
        out = []
        if self.truth_path.exists():
            for line in self.truth_path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    out.append(json.loads(line))
        return out

    def executed(self):
        return [e for e in self.ground_truth() if e.get("kind") == "execute"]

    def wait_ground_truth(self, pred, timeout=10):
        deadline = time.time() + timeout
        while True:
            matches = [e for e in self.ground_truth() if pred(e)]
            if matches or time.time() > deadline:
                return matches
            time.sleep(0.05)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
