"""A MariaDB 10.11 sandbox for the sqlbastion integration tests.

MariaDB.create() runs mariadb-install-db into a temp directory and starts
mariadbd (as the `mysql` user when run as root) on a free 127.0.0.1 port,
with its unix socket in the same directory, TLS on (its own test CA, server
certificate for 127.0.0.1 / localhost) and max_allowed_packet raised to
256 MiB (64 MiB BLOB round trips). It makes:

  app        mysql_native_password account with a random password; all
             privileges on appdb.* and PROCESS (to see its threads)
  appdb      database with table accounts (id, owner, balance), 3 rows

Root reaches the server through the unix socket (no password) with
maria.sql(...), which tests use to check the server's side directly.

Nothing here depends on pytest. Passwords go to child processes through
the environment (MYSQL_PWD), never in argv.
"""

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bastion import (IS_ROOT, LOCALHOST, _live, client_env, free_port, make_server_cert,
                     make_test_ca, run)

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
MARIADB_CLI = shutil.which("mariadb") or "/usr/bin/mariadb"


def _chown_mysql(path):
    if not IS_ROOT:
        return
    u = pwd.getpwnam("mysql")
    for root, dirs, files in os.walk(path):
        os.chown(root, u.pw_uid, u.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), u.pw_uid, u.pw_gid)


class MariaDB:
    """A running mariadbd for one test session.

    Attributes: host, port, socket, base, ca_file, cert_file, key_file,
    passwords (account -> password), database ("appdb").
    """

    database = "appdb"
    accounts_rows = [(1, "alice", "100.00"), (2, "bob", "250.50"), (3, "carol", "75.25")]

    def __init__(self, base):
        self.base = Path(base)
        self.host = LOCALHOST
        self.port = None
        self.data_dir = self.base / "data"
        self.socket = self.base / "mysqld.sock"
        self.tls_dir = self.base / "tls"
        self.log_path = self.base / "mariadbd.log"
        self.passwords = {}
        self.proc = None

    @classmethod
    def create(cls, base_dir=None):
        self = cls(base_dir or tempfile.mkdtemp(prefix="sb-maria-"))
        _live.append(self)
        try:
            self._install()
            self.start()
            self._populate()
        except BaseException:
            self.destroy()
            raise
        return self

    def _install(self):
        self.port = free_port()
        self.tls_dir.mkdir(parents=True, exist_ok=True)
        self.ca_file, ca_key = make_test_ca(self.tls_dir)
        self.cert_file, self.key_file = make_server_cert(self.tls_dir, self.ca_file, ca_key)
        os.chmod(self.base, 0o755)
        # its own temporary directory: servers sharing /tmp lost each
        # other's #sql-temptable files when many test runs overlapped
        self.tmp_dir = self.base / "tmp"
        self.tmp_dir.mkdir(exist_ok=True)
        _chown_mysql(self.base)
        _chown_mysql(self.tmp_dir)
        argv = [INSTALL_DB, "--no-defaults", f"--datadir={self.data_dir}",
                "--auth-root-authentication-method=socket", "--skip-test-db"]
        if IS_ROOT:
            argv.append("--user=mysql")
        run(argv, cwd=self.base, timeout=120, env=dict(os.environ, TMPDIR=str(self.tmp_dir)))

    def start(self, timeout=60):
        argv = [MARIADBD, "--no-defaults", f"--datadir={self.data_dir}",
                f"--port={self.port}", f"--bind-address={self.host}",
                f"--socket={self.socket}", f"--pid-file={self.base / 'mariadbd.pid'}",
                f"--log-error={self.log_path}", "--skip-name-resolve",
                "--max-allowed-packet=256M", "--local-infile=1",
                f"--ssl-ca={self.ca_file}", f"--ssl-cert={self.cert_file}",
                f"--ssl-key={self.key_file}", "--innodb-buffer-pool-size=64M",
                "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin",
                "--max-connections=500", f"--tmpdir={self.tmp_dir}"]
        if IS_ROOT:
            argv.append("--user=mysql")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.proc.returncode}:\n"
                                   + self.log_text()[-3000:])
            if self.socket.exists():
                r = self.sql("SELECT 1", check=False)
                if r.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("mariadbd did not start:\n" + self.log_text()[-3000:])
            time.sleep(0.1)

    def _populate(self):
        pw = secrets.token_urlsafe(18)
        self.passwords["app"] = pw
        self.sql(f"""
CREATE DATABASE appdb;
CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('{pw}');
GRANT ALL ON appdb.* TO 'app'@'%';
GRANT PROCESS ON *.* TO 'app'@'%';
CREATE TABLE appdb.accounts (id INT PRIMARY KEY, owner VARCHAR(64) NOT NULL,
                             balance DECIMAL(12,2) NOT NULL);
INSERT INTO appdb.accounts VALUES (1,'alice',100.00),(2,'bob',250.50),(3,'carol',75.25);
""")

    # ---- direct access (root over the unix socket) ----

    def sql(self, query, database=None, check=True, timeout=60):
        """Run query with the mariadb CLI as root over the socket; returns the
        CompletedProcess (tab-separated rows in stdout, no column names)."""
        argv = [MARIADB_CLI, "--no-defaults", "-uroot", f"--socket={self.socket}",
                "--batch", "--skip-column-names"]
        if database:
            argv.append(database)
        return run(argv, input=query, check=check, timeout=timeout, env=client_env())

    def value(self, query, database=None):
        out = self.sql(query, database).stdout.strip()
        return out.splitlines()[0] if out else None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # ---- teardown ----

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def destroy(self):
        self.stop()
        if self in _live:
            _live.remove(self)
        shutil.rmtree(self.base, ignore_errors=True)

    def emergency_stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
