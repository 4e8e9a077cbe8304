"""Helpers for sqlbastion integration tests: a PostgreSQL 15 sandbox and a
sqlbastion instance driven through the real binaries and real clients.

Nothing here depends on pytest, so the helpers can also be used from a
Python shell while debugging:

    /usr/bin/python3 -i tests/integration/bastion.py
    >>> pg = PgCluster.create(); b = Bastion(); b.pg_ready(pg); b.psql("SELECT 1")

What this module owns
  PgCluster  initdb'd cluster in a temp dir, TLS on (own CA), one role per
             backend auth method (scram, md5, password, trust), database appdb.
  Bastion    one sqlbastion instance in a temp dir: config, sqlbastionctl,
             the daemon process, its audit log, and client helpers (psql,
             psycopg2) pointed at its listener.

Processes are always reaped: every cluster and instance registers itself for
an atexit stop, on top of the pytest finalizers in conftest.py.

Secrets (database passwords, tokens) are passed to child processes through
stdin or the environment, never in argv.
"""

import atexit
import base64
import json
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("SQLBASTION_BIN") or REPO / "bin")
PG_BIN = Path(os.environ.get("SQLBASTION_PG_BIN", "/usr/lib/postgresql/15/bin"))
DEFAULT_POLICY = REPO / "etc" / "policies" / "guard.rules"
IS_ROOT = os.geteuid() == 0
LOCALHOST = "127.0.0.1"

# Markers a sanitizer (make check SAN=1) leaves in the daemon's stderr.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "WARNING: AddressSanitizer")

_live = []  # PgCluster and Bastion objects still holding processes


@atexit.register
def _reap_all():
    for obj in list(reversed(_live)):
        try:
            obj.emergency_stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


# --------------------------------------------------------------------------
# small utilities


class CommandFailed(subprocess.CalledProcessError):
    """CalledProcessError whose message carries stdout and stderr."""

    def __str__(self):
        return (f"command {self.cmd!r} exited with {self.returncode}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")


def run(argv, *, input=None, check=True, env=None, cwd=None, timeout=60):
    """subprocess.run with text I/O captured; raises CommandFailed on error."""
    r = subprocess.run([str(a) for a in argv], input=input, env=env, cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise CommandFailed(r.returncode, r.args, r.stdout, r.stderr)
    return r


_ports_given = set()


def free_port(host=LOCALHOST):
    """A TCP port nobody listens on, chosen below the kernel's ephemeral range
    (32768+ on Linux) so outgoing connections cannot grab it before the
    server that was given it binds. Never hands out the same port twice in
    one process."""
    for _ in range(500):
        port = random.randrange(20000, 32000)
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise RuntimeError("no free TCP port found in 20000-32000")


def _listening_ports():
    """Ports in LISTEN state according to /proc/net/tcp{,6}; None if unreadable."""
    ports = set()
    found = False
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":  # TCP_LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
            found = True
        except OSError:
            continue
    return ports if found else None


def port_listening(host, port):
    """True when something listens on port. Reads /proc so that the check
    does not open a connection (which the proxy would see as a client)."""
    ports = _listening_ports()
    if ports is not None:
        return port in ports
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def client_env(extra=None):
    """Environment for client programs: no inherited PG* settings, no
    ~/.pgpass, English messages, no GSSAPI negotiation, bounded connects."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({
        "PGPASSFILE": "/nonexistent/sqlbastion-tests-pgpass",
        "PGCONNECT_TIMEOUT": "10",
        "PGGSSENCMODE": "disable",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
    })
    if extra:
        env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def conninfo(**kw):
    """libpq key=value string; values quoted when needed; None values left out."""
    parts = []
    for k, v in kw.items():
        if v is None:
            continue
        v = str(v)
        if v == "" or re.search(r"[\s'\\]", v):
            v = "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        parts.append(f"{k}={v}")
    return " ".join(parts)


PSQL = PG_BIN / "psql" if (PG_BIN / "psql").exists() else Path(shutil.which("psql") or "psql")


def run_psql(sql, info, *, password=None, on_error_stop=True, tuples_only=True,
             verbose=False, args=(), extra_env=None, timeout=30):
    """Run the real psql with sql on stdin against conninfo dict info.
    The password goes in PGPASSWORD (environment), never in argv."""
    argv = [PSQL, "-X", "-w", "-q", "-v", f"ON_ERROR_STOP={1 if on_error_stop else 0}"]
    if tuples_only:
        argv += ["-A", "-t"]
    if verbose:
        argv += ["-v", "VERBOSITY=verbose"]
    argv += list(args)
    argv.append(conninfo(**info))
    env = client_env(extra_env)
    if password is not None:
        env["PGPASSWORD"] = password
    return run(argv, input=sql, check=False, env=env, timeout=timeout)


# --------------------------------------------------------------------------
# PostgreSQL sandbox


def _pg_user():
    return pwd.getpwnam("postgres")


def _as_pg(argv):
    """initdb and postgres refuse to run as root: run them as `postgres`."""
    argv = [str(a) for a in argv]
    return ["runuser", "-u", "postgres", "--"] + argv if IS_ROOT else argv


def _chown_tree(path):
    if not IS_ROOT:
        return
    u = _pg_user()
    for root, dirs, files in os.walk(path):
        os.chown(root, u.pw_uid, u.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), u.pw_uid, u.pw_gid)


def make_test_ca(directory, name="ca", cn="sqlbastion test CA"):
    """Self-signed CA with the openssl CLI (EC P-256: fast to make)."""
    directory = Path(directory)
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
         "-days", "30", "-subj", f"/CN={cn}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return crt, key


def make_server_cert(directory, ca_crt, ca_key, name="server",
                     san="IP:127.0.0.1,DNS:localhost", cn="localhost"):
    """Server certificate signed by the given CA, SAN as given."""
    directory = Path(directory)
    key, csr, crt = (directory / f"{name}.key", directory / f"{name}.csr",
                     directory / f"{name}.crt")
    ext = directory / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n")
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
         "-subj", f"/CN={cn}"])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "30", "-out", crt, "-extfile", ext])
    os.chmod(key, 0o600)
    return crt, key


class PgCluster:
    """A PostgreSQL 15 cluster for one test session.

    Attributes
      host, port          TCP endpoint (127.0.0.1 only)
      socket_dir          unix socket directory (superuser access, trust)
      data_dir, log_path  cluster files
      ca_file             CA that signed the server cert (sslrootcert)
      other_ca_file       an unrelated CA (verify-full must fail with it)
      cert_file, key_file server certificate (SAN IP:127.0.0.1, DNS:localhost)
      passwords           role -> password; app_trust maps to None
      methods             role -> pg_hba method it gets over host connections
      database            "appdb" (owned by app, table accounts with 3 rows)

    Roles: postgres (superuser, scram), app (scram, owns appdb),
    app_md5 (md5 verifier, pg_hba md5), app_plain (pg_hba password),
    app_trust (pg_hba trust, no password).
    """

    database = "appdb"
    superuser = "postgres"
    roles = ("app", "app_md5", "app_plain", "app_trust")
    methods = {"postgres": "scram-sha-256", "app": "scram-sha-256",
               "app_md5": "md5", "app_plain": "password", "app_trust": "trust"}
    accounts_rows = [(1, "alice", "100.00"), (2, "bob", "250.50"),
                     (3, "carol", "75.25")]

    def __init__(self, base_dir):
        self.base = Path(base_dir)
        self.host = LOCALHOST
        self.port = None
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "run"
        self.tls_dir = self.base / "tls"
        self.log_path = self.base / "postgres.log"
        self.passwords = {}
        self.running = False

    # ---- lifecycle ----

    @classmethod
    def create(cls, base_dir=None, port=None):
        """initdb, configure, start and populate a cluster. Returns it running."""
        if base_dir is None:
            base_dir = tempfile.mkdtemp(prefix="sb-pg-")
        self = cls(base_dir)
        _live.append(self)
        try:
            self._initdb(port or free_port())
            self.start()
            self._populate()
        except BaseException:
            self.destroy()
            raise
        return self

    def _initdb(self, port):
        self.port = port
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.tls_dir.mkdir(parents=True, exist_ok=True)
        self.ca_file, ca_key = make_test_ca(self.tls_dir)
        self.cert_file, self.key_file = make_server_cert(self.tls_dir, self.ca_file, ca_key)
        self.other_ca_file, _ = make_test_ca(self.tls_dir, "other-ca", "unrelated CA")
        os.chmod(self.base, 0o755)
        _chown_tree(self.base)
        run(_as_pg([PG_BIN / "initdb", "-D", self.data_dir, "-U", self.superuser,
                    "--auth-local=trust", "--auth-host=reject", "-E", "UTF8",
                    "--no-locale", "--no-sync"]), cwd=self.base)
        conf = f"""
# ---- sqlbastion test sandbox ----
listen_addresses = '{self.host}'
port = {self.port}
unix_socket_directories = '{self.socket_dir}'
max_connections = 200
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
ssl = on
ssl_cert_file = '{self.cert_file}'
ssl_key_file = '{self.key_file}'
ssl_ca_file = '{self.ca_file}'
password_encryption = scram-sha-256
log_connections = on
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
"""
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write(conf)
        # First matching line wins: one line per role whose method differs
        # from the default, then scram for everyone else.
        hba = ["# TYPE DATABASE USER ADDRESS METHOD",
               "local all all trust"]
        for role in ("app_md5", "app_plain", "app_trust"):
            hba.append(f"host all {role} 127.0.0.1/32 {self.methods[role]}")
        hba.append("host all all 127.0.0.1/32 scram-sha-256")
        (self.data_dir / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        _chown_tree(self.data_dir)

    def start(self):
        run(_as_pg([PG_BIN / "pg_ctl", "-D", self.data_dir, "-l", self.log_path,
                    "-w", "-t", "60", "start"]), cwd=self.base, timeout=90)
        self.running = True

    def stop(self, mode="fast"):
        if not self.running:
            return
        run(_as_pg([PG_BIN / "pg_ctl", "-D", self.data_dir, "-m", mode, "-w",
                    "-t", "60", "stop"]), cwd=self.base, check=False, timeout=90)
        self.running = False

    def reload(self):
        run(_as_pg([PG_BIN / "pg_ctl", "-D", self.data_dir, "reload"]), cwd=self.base)

    def destroy(self):
        """Stop the cluster and remove its directory."""
        try:
            self.stop()
        finally:
            if self in _live:
                _live.remove(self)
            shutil.rmtree(self.base, ignore_errors=True)

    def emergency_stop(self):
        if (self.data_dir / "postmaster.pid").exists():
            self.running = True
            self.stop("immediate")

    def _populate(self):
        for role in ("postgres", "app", "app_md5", "app_plain"):
            self.passwords[role] = secrets.token_urlsafe(18)
        self.passwords["app_trust"] = None
        p = self.passwords
        rows = ", ".join(f"({i}, '{o}', {b})" for i, o, b in self.accounts_rows)
        # Passwords travel on psql's stdin, not in argv.
        self.sql(f"""
ALTER ROLE postgres PASSWORD '{p["postgres"]}';
CREATE ROLE app LOGIN PASSWORD '{p["app"]}';
SET password_encryption = 'md5';
CREATE ROLE app_md5 LOGIN PASSWORD '{p["app_md5"]}';
RESET password_encryption;
CREATE ROLE app_plain LOGIN PASSWORD '{p["app_plain"]}';
CREATE ROLE app_trust LOGIN;
CREATE DATABASE appdb OWNER app;
\\connect appdb
SET ROLE app;
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL,
                       balance numeric(12,2) NOT NULL);
INSERT INTO accounts VALUES {rows};
GRANT ALL ON ALL TABLES IN SCHEMA public TO app_md5, app_plain, app_trust;
RESET ROLE;
GRANT CREATE ON SCHEMA public TO app_md5, app_plain, app_trust;
""")

    # ---- access ----

    def sql(self, query, dbname="postgres", check=True):
        """Run SQL as the superuser over the unix socket; returns stdout
        (unaligned, tuples only, '|' separated)."""
        argv = _as_pg([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                       "-h", self.socket_dir, "-p", self.port, "-U", self.superuser,
                       "-d", dbname])
        return run(argv, input=query, env=client_env(), cwd=self.base).stdout

    def dsn(self, user="app", dbname="appdb", sslmode="disable", password=None, **kw):
        """libpq conninfo over TCP for user (its password filled in)."""
        if password is None:
            password = self.passwords.get(user)
        return conninfo(host=self.host, port=self.port, user=user, dbname=dbname,
                        password=password, sslmode=sslmode, connect_timeout=10,
                        gssencmode="disable", **kw)

    def connect(self, user="app", dbname="appdb", sslmode="disable", password=None,
                autocommit=True, **kw):
        """psycopg2 connection straight to the cluster (not through a proxy)."""
        import psycopg2
        conn = psycopg2.connect(self.dsn(user, dbname, sslmode, password, **kw))
        conn.autocommit = autocommit
        return conn

    def psql(self, sql, user="app", dbname="appdb", sslmode="disable", password=None,
             host=None, hostaddr=None, sslrootcert=None, **kw):
        """Real psql straight to the cluster over TCP; password via PGPASSWORD.
        Extra keyword arguments go to run_psql (args, verbose, extra_env...)."""
        if password is None:
            password = self.passwords.get(user)
        info = dict(host=host or self.host, hostaddr=hostaddr, port=self.port,
                    user=user, dbname=dbname, sslmode=sslmode, sslrootcert=sslrootcert)
        return run_psql(sql, info, password=password, **kw)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------
# sqlbastion instance


class Bastion:
    """One sqlbastion instance in its own directory.

    Bastion(policy=..., listeners=("postgres",), conf=None, init=True)
      policy     rules file (default: the repo's etc/policies/guard.rules);
                 None = no `policy` key (empty policy)
      listeners  protocol names (each gets a free port) or {protocol: port}
      conf       {section: {key: value}} merged over the defaults; a value of
                 None removes the key
      init       run `sqlbastionctl init` right away
      env        extra environment for sqlbastion and sqlbastionctl

    Paths in the generated sqlbastion.conf are relative (var/...), so they
    resolve against the instance directory, as an operator would write them.
    """

    def __init__(self, directory=None, *, policy=DEFAULT_POLICY,
                 listeners=("postgres",), conf=None, init=True, env=None,
                 bin_dir=None):
        self.bin_dir = Path(bin_dir or BIN_DIR)
        self.daemon = self.bin_dir / "sqlbastion"
        self.ctl_bin = self.bin_dir / "sqlbastionctl"
        # Short paths: the admin socket must fit sun_path (108 bytes).
        self.dir = Path(directory or tempfile.mkdtemp(prefix="sb-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.dir / "sqlbastion.conf"
        self.log_path = self.dir / "sqlbastion.stderr.log"
        self.var = self.dir / "var"
        self.audit_jsonl = self.var / "audit" / "audit.jsonl"
        self.audit_sqlite = self.var / "audit" / "audit.db"
        self.state_db = self.var / "state.db"
        self.admin_socket = self.var / "sqlbastion.sock"
        self.host = LOCALHOST
        self.policy = policy
        if isinstance(listeners, dict):
            self.ports = {p: (port or free_port()) for p, port in listeners.items()}
        else:
            self.ports = {p: free_port() for p in listeners}
        self.port = self.ports.get("postgres")
        self.env = dict(env or {})
        self.proc = None
        self._log_f = None
        self._expect_exit = False
        self._conns = []
        self.user = None      # set by pg_ready / issue_token
        self.token = None
        self.target = None
        self.tokens = {}      # (user, target) -> token
        self.conf = self.default_conf()
        for section, keys in (conf or {}).items():
            sec = self.conf.setdefault(section, {})
            for k, v in keys.items():
                if v is None:
                    sec.pop(k, None)
                else:
                    sec[k] = v
        _live.append(self)
        try:
            self.write_conf()
            if init:
                self.check_binaries()
                self.ctl("init")
        except BaseException:
            self.close()  # the caller never gets this object to close
            raise

    # ---- configuration ----

    def default_conf(self):
        main = {
            "state_db": "var/state.db",
            "master_key": "var/master.key",
            "admin_socket": "var/sqlbastion.sock",
            "tls_cert": "var/tls/server.crt",
            "tls_key": "var/tls/server.key",
            "log": "-",  # stderr, which start() captures into log_path
        }
        if self.policy is not None:
            main["policy"] = str(Path(self.policy).resolve())
        return {
            "sqlbastion": main,
            "listeners": {p: f"{self.host}:{port}" for p, port in self.ports.items()},
            "audit": {"jsonl": "var/audit/audit.jsonl",
                      "sqlite": "var/audit/audit.db",
                      "on_failure": "close"},
            "limits": {"connect_timeout": 10, "login_timeout": 30},
        }

    def write_conf(self):
        lines = ["; written by tests/integration/bastion.py"]
        for section, keys in self.conf.items():
            lines.append(f"\n[{section}]")
            lines += [f"{k} = {v}" for k, v in keys.items()]
        self.conf_path.write_text("\n".join(lines) + "\n")

    def check_binaries(self):
        for b in (self.daemon, self.ctl_bin):
            if not os.access(b, os.X_OK):
                raise FileNotFoundError(
                    f"{b} is missing: build it with `make all`, or point "
                    "SQLBASTION_BIN at the directory holding sqlbastion and sqlbastionctl")

    def _env(self, extra=None):
        env = client_env(self.env)
        if extra:
            env.update(extra)
        return env

    # ---- sqlbastionctl ----

    def ctl(self, *args, input=None, check=True, env=None, timeout=60):
        """Run `sqlbastionctl -c CONF args...`. Raises CommandFailed (with
        stdout and stderr) on a non-zero exit unless check=False."""
        return run([self.ctl_bin, "-c", self.conf_path, *args], input=input,
                   check=check, env=self._env(env), cwd=self.dir, timeout=timeout)

    def add_user(self, name, *, source=None, max_sessions=None, check=True):
        args = ["user", "add", name]
        if source:
            args += ["--source", source if isinstance(source, str) else ",".join(source)]
        if max_sessions is not None:
            args += ["--max-sessions", str(max_sessions)]
        return self.ctl(*args, check=check)

    def add_asset(self, name, *, host, port, protocol="postgres", tls="disable",
                  service=None, extra=(), check=True):
        args = ["asset", "add", name, "--protocol", protocol, "--host", host,
                "--port", str(port), "--tls", tls]
        if service:
            args += ["--service", service]
        return self.ctl(*args, *extra, check=check)

    def add_account(self, target, *, username, password=None, secret_file=None,
                    secret_cmd=None, not_hosted=False, check=True):
        """target = "asset/account". Exactly one of password (sent with
        --password-stdin), secret_file, secret_cmd, not_hosted=True."""
        if sum(x is not None for x in (password, secret_file, secret_cmd)) + bool(not_hosted) != 1:
            raise ValueError("give exactly one of password, secret_file, secret_cmd, not_hosted")
        args = ["account", "add", target, "--username", username]
        if not_hosted:
            return self.ctl(*args, "--not-hosted", check=check)
        if password is not None:
            return self.ctl(*args, "--password-stdin", input=password + "\n", check=check)
        if secret_file is not None:
            return self.ctl(*args, "--secret-file", str(secret_file), check=check)
        return self.ctl(*args, "--secret-cmd", secret_cmd, check=check)

    def grant(self, user, target, level="write", *, hours=None, until=None, check=True):
        args = ["grant", "add", user, target, "--level", level]
        if hours:
            args += ["--hours", hours]
        if until:
            args += ["--until", until]
        return self.ctl(*args, check=check)

    def issue_token(self, user, target, ttl="8h"):
        """`token issue`; returns the token (first stdout line, alone)."""
        out = self.ctl("token", "issue", user, target, "--ttl", ttl).stdout
        lines = out.splitlines()
        token = lines[0].strip() if lines else ""
        assert token and " " not in token, f"token issue printed {out!r}"
        self.tokens[(user, target)] = token
        self.user, self.target, self.token = user, target, token
        return token

    def pg_ready(self, pg, *, user="alice", asset="demo-pg", account="app",
                 level="write", tls="disable", ttl="8h", start=True):
        """Standard setup: user alice, asset demo-pg -> pg (tls disable),
        hosted account demo-pg/app with app's password, a write grant and a
        token. Starts the proxy unless start=False. Returns the token."""
        target = f"{asset}/{account}"
        self.add_user(user)
        self.add_asset(asset, host=pg.host, port=pg.port, tls=tls)
        self.add_account(target, username=account, password=pg.passwords[account])
        self.grant(user, target, level)
        token = self.issue_token(user, target, ttl)
        if start:
            self.start()
        return token

    def mysql_ready(self, maria, *, user="alice", asset="demo-mysql", account="app",
                    level="write", tls="disable", ttl="8h", start=True):
        """The MySQL twin of pg_ready: user alice, asset demo-mysql -> maria
        (protocol mysql), hosted account demo-mysql/app with app's password,
        a grant and a token. The instance needs a "mysql" listener. Starts
        the proxy unless start=False. Returns the token."""
        target = f"{asset}/{account}"
        try:
            self.add_user(user)
        except CommandFailed as e:
            if "exists" not in (e.stderr + e.stdout):
                raise
        self.add_asset(asset, host=maria.host, port=maria.port, protocol="mysql", tls=tls)
        self.add_account(target, username=account, password=maria.passwords[account])
        self.grant(user, target, level)
        token = self.issue_token(user, target, ttl)
        if start:
            self.start()
        return token

    @property
    def mysql_port(self):
        return self.ports.get("mysql")

    def mysql(self, sql, user=None, token=None, database="appdb", ssl=False, args=(),
              timeout=60, extra_env=None):
        """The real mariadb CLI through the proxy's mysql listener (batch
        mode, no column names). The token goes in MYSQL_PWD, never argv."""
        user, token = self._client_args(user, token)
        argv = ["mariadb", "--no-defaults", "-h", self.host, "-P", str(self.mysql_port),
                "-u", user, "--batch", "--skip-column-names", "--connect-timeout=10"]
        argv.append("--ssl" if ssl else "--skip-ssl")
        argv += list(args)
        if database:
            argv.append(database)
        env = client_env(extra_env)
        if token is not None:
            env["MYSQL_PWD"] = token
        return run(argv, input=sql, check=False, env=env, timeout=timeout)

    def pymysql(self, user=None, token=None, database="appdb", **kw):
        """A pymysql connection through the proxy; closed by close()."""
        import pymysql
        user, token = self._client_args(user, token)
        conn = pymysql.connect(host=self.host, port=self.mysql_port, user=user,
                               password=token, database=database, connect_timeout=10,
                               autocommit=True, **kw)
        self._conns.append(conn)
        return conn

    # ---- the daemon ----

    def start(self, timeout=10, args=(), env=None):
        """Spawn `sqlbastion -c CONF`, stderr into log_path, and wait until
        every listener port is listening. Fails with the log if the process
        exits or is not listening within timeout seconds."""
        if self.proc and self.proc.poll() is None:
            raise RuntimeError("sqlbastion already running")
        self.check_binaries()
        self._log_f = open(self.log_path, "ab")
        self._expect_exit = False
        self.proc = subprocess.Popen(
            [str(self.daemon), "-c", str(self.conf_path), *map(str, args)],
            stdin=subprocess.DEVNULL, stdout=self._log_f, stderr=subprocess.STDOUT,
            cwd=self.dir, env=self._env(env), start_new_session=True)
        deadline = time.monotonic() + timeout
        pending = set(self.ports.values())
        while pending:
            rc = self.proc.poll()
            if rc is not None:
                self._expect_exit = True
                self._close_log()
                raise AssertionError(
                    f"sqlbastion exited with {rc} during start\n{self.log_text()}")
            pending = {p for p in pending if not port_listening(self.host, p)}
            if not pending:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    f"sqlbastion not listening on {sorted(pending)} after {timeout}s\n"
                    f"{self.log_text()}")
            time.sleep(0.05)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit status
        (negative = killed by that signal), None if never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._killpg()
                self.proc.wait(10)
        self._killpg()  # children left behind (a --secret-cmd still running)
        self._close_log()
        return self.proc.returncode

    def kill9(self):
        """SIGKILL the daemon on purpose (durability tests)."""
        self._expect_exit = True
        if self.running:
            self.proc.kill()
            self.proc.wait(10)
        return self.stop()

    def reload(self):
        """SIGHUP: reload policy, reopen logs."""
        self.proc.send_signal(signal.SIGHUP)

    def _killpg(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _close_log(self):
        if self._log_f:
            self._log_f.close()
            self._log_f = None

    def rss_kb(self):
        """Resident set size of the daemon in KiB (from /proc)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # ---- audit ----

    def audit_records(self, event=None, **match):
        """Records of audit.jsonl as dicts, in file order; filtered by event
        name and field equality when given. A trailing partial line is
        ignored (the writer appends whole lines)."""
        try:
            data = self.audit_jsonl.read_text()
        except FileNotFoundError:
            return []
        out = []
        # Split on "\n" only: str.splitlines() would also cut at U+2028,
        # \x1c and friends, which a JSON string may hold raw.
        lines = data.split("\n")
        for line in lines[:-1]:  # the last piece is "" or a partial line
            if not line.strip():
                continue
            rec = json.loads(line)
            if event is not None and rec.get("event") != event:
                continue
            if all(rec.get(k) == v for k, v in match.items()):
                out.append(rec)
        return out

    def wait_audit(self, event=None, timeout=5, count=1, where=None, **match):
        """Poll audit.jsonl until at least count records match (event, field
        equality, and the predicate where(rec) if given). Returns them; fails
        with the whole log when they do not appear in time."""
        deadline = time.monotonic() + timeout
        while True:
            recs = [r for r in self.audit_records(event, **match)
                    if where is None or where(r)]
            if len(recs) >= count:
                return recs
            if time.monotonic() > deadline:
                dump = "\n".join(json.dumps(r) for r in self.audit_records())
                raise AssertionError(
                    f"expected {count} audit record(s) event={event} {match}; "
                    f"audit.jsonl has:\n{dump}")
            time.sleep(0.05)

    # ---- clients through the proxy ----

    def _client_args(self, user, token):
        user = user if user is not None else self.user or "alice"
        token = token if token is not None else self.token
        return user, token

    def psql(self, sql, user=None, token=None, dbname="appdb", sslmode="disable",
             extra_env=None, **kw):
        """Real psql through the proxy's postgres listener. The token goes in
        PGPASSWORD, never in argv; defaults are the pg_ready user and token.
        Keyword arguments: on_error_stop, tuples_only, verbose, args, timeout,
        sslrootcert and other conninfo keys via info=dict(...)."""
        user, token = self._client_args(user, token)
        info = dict(host=self.host, port=self.port, user=user, dbname=dbname,
                    sslmode=sslmode)
        info.update(kw.pop("info", {}))
        return run_psql(sql, info, password=token, extra_env=extra_env, **kw)

    def dsn(self, user=None, token=None, dbname="appdb", sslmode="disable", **kw):
        """libpq conninfo (with password) for psycopg2 through the proxy."""
        user, token = self._client_args(user, token)
        return conninfo(host=self.host, port=self.port, user=user, dbname=dbname,
                        password=token, sslmode=sslmode, connect_timeout=10,
                        gssencmode="disable", **kw)

    def connect(self, user=None, token=None, dbname="appdb", sslmode="disable",
                autocommit=True, **kw):
        """psycopg2 connection through the proxy; closed by close()."""
        import psycopg2
        conn = psycopg2.connect(self.dsn(user, token, dbname, sslmode, **kw))
        conn.autocommit = autocommit
        self._conns.append(conn)
        return conn

    # ---- teardown ----

    def problems(self):
        """What went wrong in the daemon beyond the test's own assertions:
        a sanitizer report, or an exit other than a clean one on SIGTERM."""
        found = []
        log = self.log_text()
        for m in SANITIZER_MARKERS:
            if m in log:
                found.append(f"sanitizer report ({m!r}) in {self.log_path}")
                break
        if self.proc is not None and not self._expect_exit:
            rc = self.proc.returncode
            if rc not in (0, -signal.SIGTERM):
                found.append(f"sqlbastion exited with status {rc}")
        return found

    def close(self, keep=False):
        """Close client connections, stop the daemon, remove the directory
        (kept when keep=True). Returns problems() found on the way."""
        for c in self._conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        self._conns.clear()
        self.stop()
        found = self.problems()
        if self in _live:
            _live.remove(self)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return found

    def emergency_stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.stop(timeout=3)


def random_token_like():
    """A well-formed but unknown token ("sbt_" + 32 lower-case base32
    characters, as proxy/state.h makes them), for refusal tests."""
    return "sbt_" + base64.b32encode(secrets.token_bytes(20)).decode().lower()


if __name__ == "__main__":
    print(__doc__)
