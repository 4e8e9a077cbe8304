"""The SSH-tunnel entry (issue 14): `[listeners] ssh`, real OpenSSH
(`ssh -N -L` through sshpass) and paramiko on the client side, psql, the
mariadb CLI, psycopg2 and pymysql through the tunnel.

Ground truth is the server's: the table a denied DROP aimed at is still
there. The audit must name the bastion user (never the database account
typed in the client) and "entry":"ssh".
"""

import os
import re
import shutil
import socket
import stat
import subprocess
import time

import pytest

from bastion import LOCALHOST, client_env, free_port, run

pytestmark = pytest.mark.skipif(
    not (shutil.which("ssh") and shutil.which("sshpass")),
    reason="openssh-client and sshpass are needed (scripts/deps.sh test)")


# ---------------------------------------------------------------- helpers

def known_hosts_file(b):
    """The known_hosts line `init` printed for the ssh listener, in a file."""
    out = b.ctl("init").stdout
    lines = [ln.split("# known_hosts: ", 1)[1] for ln in out.splitlines()
             if ln.startswith("# known_hosts: ")]
    assert lines, out
    path = b.dir / "known_hosts"
    path.write_text(lines[0] + "\n")
    return path


def ssh_base(b, user, port_opts=()):
    kh = known_hosts_file(b)
    return ["ssh", "-F", "/dev/null", "-o", f"UserKnownHostsFile={kh}",
            "-o", "StrictHostKeyChecking=yes", "-o", "PubkeyAuthentication=no",
            "-o", "GSSAPIAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
            "-o", "ConnectTimeout=10", "-o", "ExitOnForwardFailure=yes",
            "-p", str(b.ports["ssh"]), *port_opts, f"{user}@{LOCALHOST}"]


class Tunnel:
    """`sshpass -e ssh -N -L local:dest:port user@bastion` (token in SSHPASS)."""

    def __init__(self, b, user, token, dest, dport, auth="password"):
        self.local = free_port()
        # auth None: OpenSSH's own order (keyboard-interactive first)
        pref = ["-o", f"PreferredAuthentications={auth}"] if auth else []
        argv = ["sshpass", "-e"] + ssh_base(
            b, user, ["-N", *pref,
                      "-L", f"{LOCALHOST}:{self.local}:{dest}:{dport}"])
        env = dict(os.environ, SSHPASS=token)
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def wait_ready(self, timeout=15):
        """True once the local port listens; False if ssh exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection((LOCALHOST, self.local), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stderr(self):
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            return ""
        return err

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def ssh_ready(bastion_factory, pg, maria):
    """alice with a write grant + token on demo-pg/app and demo-mysql/app,
    listeners postgres, mysql and ssh."""
    b = bastion_factory(listeners=("postgres", "mysql", "ssh"))
    b.pg_ready(pg, start=False)
    b.mysql_ready(maria, start=False)
    b.start()
    tunnels = []

    def tunnel(user, token, dest, dport, auth="password", ready=True):
        t = Tunnel(b, user, token, dest, dport, auth)
        tunnels.append(t)
        if ready:
            assert t.wait_ready(), t.stderr()
        return t

    b.tunnel = tunnel
    b.pg_token = b.tokens[("alice", "demo-pg/app")]
    b.my_token = b.tokens[("alice", "demo-mysql/app")]
    yield b
    for t in tunnels:
        t.close()


def psql_via(t, sql, user="app", sslmode="disable"):
    info = f"host={LOCALHOST} port={t.local} user={user} dbname=appdb sslmode={sslmode}"
    return run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", info, "-c", sql],
               check=False, env=client_env({"PGCONNECT_TIMEOUT": "10"}))


def mariadb_via(t, sql, user="app"):
    return run(["mariadb", "--no-defaults", "-h", LOCALHOST, "-P", str(t.local), "-u", user,
                "--batch", "--skip-column-names", "--skip-ssl", "--connect-timeout=10",
                "appdb"], input=sql, check=False, env=client_env())


def ssh_records(b, event, **match):
    return [r for r in b.audit_records(event, **match) if r.get("entry") == "ssh"]


# ---------------------------------------------------------------- host key

def test_init_makes_host_key_and_prints_fingerprint(ssh_ready, pg):
    b = ssh_ready
    key = b.var / "ssh" / "host_ed25519"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    out = b.ctl("init").stdout
    assert "ssh host key" in out and "SHA256:" in out, out
    # init keeps the key; token issue prints the tunnel lines and the same key
    before = key.read_bytes()
    b.ctl("init")
    assert key.read_bytes() == before
    issued = b.ctl("token", "issue", "alice", "demo-pg/app").stdout
    assert f":demo-pg:{pg.port} alice@127.0.0.1 -p {b.ports['ssh']}" in issued, issued
    fp = [ln for ln in out.splitlines() if "fingerprint" in ln][0].split()[-1]
    assert fp in issued
    # ssh-keygen agrees with the fingerprint we print
    if shutil.which("ssh-keygen"):
        r = run(["ssh-keygen", "-l", "-f", key], check=False)
        assert fp in r.stdout, (fp, r.stdout, r.stderr)


def test_direct_records_say_entry_direct(ssh_ready):
    b = ssh_ready
    assert b.psql("SELECT 1", token=b.pg_token).returncode == 0
    rec = b.wait_audit("login", user="alice")[-1]
    assert rec["entry"] == "direct", rec


# ---------------------------------------------------------------- login

@pytest.mark.parametrize("auth", ["password", "keyboard-interactive", None])
def test_psql_through_tunnel(ssh_ready, pg, auth):
    b = ssh_ready
    t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port, auth=auth)
    r = psql_via(t, "SELECT count(*) FROM accounts")
    assert r.returncode == 0 and r.stdout.strip() == "3", r.stderr
    # the SSH login and the session's login, both as the bastion user
    ssh_login = ssh_records(b, "login", user="alice", verb="ssh")
    assert ssh_login and ssh_login[-1]["client"].startswith("127.0.0.1:"), ssh_login
    sess = [r for r in ssh_records(b, "login", user="alice") if r.get("verb") != "ssh"]
    assert sess and sess[-1]["account"] == "app" and sess[-1]["asset"] == "demo-pg", sess
    q = ssh_records(b, "query", user="alice")
    assert any("count(*)" in r.get("statement", "") for r in q), q


def test_denied_statement_through_tunnel_does_not_run(ssh_ready, pg):
    b = ssh_ready
    t = b.tunnel("alice", b.pg_token, pg.host, pg.port)  # by registered host:port
    r = psql_via(t, "DROP TABLE accounts")
    assert r.returncode != 0
    assert pg.sql("SELECT count(*) FROM accounts", dbname="appdb").strip() == "3"
    deny = [r for r in ssh_records(b, "query", user="alice") if r.get("decision") != "allow"]
    assert deny and "DROP" in deny[-1]["statement"].upper(), deny
    # deny-and-continue: the same tunnel serves the next session
    assert psql_via(t, "SELECT 1").stdout.strip() == "1"


def test_password_typed_in_client_is_ignored(ssh_ready, pg):
    """A GUI that sends the token (or anything) again as the database
    password still logs in: the SSH login is the identity."""
    b = ssh_ready
    t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
    env = client_env({"PGPASSWORD": "not-the-password", "PGCONNECT_TIMEOUT": "10"})
    info = f"host={LOCALHOST} port={t.local} user=app dbname=appdb sslmode=disable"
    r = run(["psql", "-X", "-At", info, "-c", "SELECT 7"], check=False, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "7", r.stderr


def test_tls_inside_tunnel(ssh_ready, pg):
    b = ssh_ready
    t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
    r = psql_via(t, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                 sslmode="require")
    assert r.returncode == 0, r.stderr


def test_mariadb_cli_through_tunnel(ssh_ready, maria):
    b = ssh_ready
    t = b.tunnel("alice", b.my_token, "demo-mysql", maria.port)
    r = mariadb_via(t, "SELECT count(*) FROM accounts")
    assert r.returncode == 0 and r.stdout.strip() == "3", r.stderr
    r = mariadb_via(t, "DROP TABLE accounts")
    assert r.returncode != 0
    r = mariadb_via(t, "SELECT count(*) FROM accounts")
    assert r.stdout.strip() == "3", r.stderr
    q = ssh_records(b, "query", user="alice", asset="demo-mysql")
    assert any(r.get("decision") != "allow" for r in q), q


def test_drivers_several_channels_one_connection(ssh_ready, pg, maria):
    import psycopg2
    import pymysql
    b = ssh_ready
    tp = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
    conns = [psycopg2.connect(host=LOCALHOST, port=tp.local, user="app", dbname="appdb",
                              connect_timeout=10) for _ in range(3)]
    try:
        for i, c in enumerate(conns):
            c.autocommit = True
            with c.cursor() as cur:
                cur.execute("SELECT %s::int + 1", (i,))
                assert cur.fetchone()[0] == i + 1
    finally:
        for c in conns:
            c.close()
    sess = {r["session"] for r in ssh_records(b, "login", user="alice", asset="demo-pg")
            if r.get("verb") != "ssh"}
    assert len(sess) >= 3, sess
    # one SSH login for the three sessions
    assert len(ssh_records(b, "login", user="alice", verb="ssh")) == 1
    tm = b.tunnel("alice", b.my_token, "demo-mysql", maria.port)
    c = pymysql.connect(host=LOCALHOST, port=tm.local, user="app", password="ignored",
                        database="appdb", connect_timeout=10, autocommit=True)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT owner FROM accounts WHERE id = %s", (2,))
            assert cur.fetchone()[0] == "bob"
    finally:
        c.close()


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("how", ["wrong", "revoked", "expired", "unknown-user"])
def test_bad_token_refused_and_audited(ssh_ready, pg, how):
    b = ssh_ready
    user, token = "alice", b.pg_token
    if how == "wrong":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif how == "revoked":
        out = b.ctl("token", "list").stdout
        tid = [ln.split()[0] for ln in out.splitlines()
               if ln.split() and ln.split()[0].isdigit() and "demo-pg" in ln][0]
        b.ctl("token", "revoke", tid)
    elif how == "expired":
        token = b.issue_token("alice", "demo-pg/app", ttl="1s")
        time.sleep(2.1)
    elif how == "unknown-user":
        user = "mallory"
    t = b.tunnel(user, token, "demo-pg", pg.port, ready=False)
    assert not t.wait_ready(timeout=10)
    err = t.stderr()
    assert "Permission denied" in err, err
    rec = b.wait_audit("login_failed", user=user, where=lambda r: r.get("entry") == "ssh")[-1]
    expect = {"wrong": "bad token", "revoked": "revoked", "expired": "expired",
              "unknown-user": "unknown user"}[how]
    assert expect in rec["error"], rec
    assert rec["client"].startswith("127.0.0.1:"), rec
    assert not ssh_records(b, "login", user=user, verb="ssh") or how == "unknown-user"


def test_shell_and_exec_refused(ssh_ready):
    paramiko = pytest.importorskip("paramiko")
    b = ssh_ready
    cl = paramiko.SSHClient()
    cl.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    cl.connect(LOCALHOST, port=b.ports["ssh"], username="alice", password=b.pg_token,
               allow_agent=False, look_for_keys=False, timeout=10)
    try:
        with pytest.raises(paramiko.SSHException):
            cl.exec_command("id", timeout=10)
        with pytest.raises(paramiko.SSHException):
            cl.invoke_shell()
        tr = cl.get_transport()
        with pytest.raises(paramiko.SSHException):
            tr.request_port_forward("127.0.0.1", 0)
        assert tr.is_active()  # refusals do not end the connection
    finally:
        cl.close()
    b.wait_audit("login_failed", user="alice",
                 where=lambda r: r.get("entry") == "ssh" and "session channel" in r["error"])
    # OpenSSH without -N asks for a shell: refused, nothing runs
    r = run(["sshpass", "-e"] + ssh_base(b, "alice", ["-o", "PreferredAuthentications=password"])
            + ["id"], check=False, env=dict(os.environ, SSHPASS=b.pg_token), timeout=30)
    assert r.returncode != 0 and "uid=" not in r.stdout, (r.stdout, r.stderr)


@pytest.mark.parametrize("dest", ["10.255.255.1:5432", "localhost:22", "demo-mysql:MYPORT",
                                  "demo-pg:1", "PGHOST:1"])
def test_destination_not_granted_refused(ssh_ready, pg, maria, dest):
    paramiko = pytest.importorskip("paramiko")
    b = ssh_ready
    host, port = dest.split(":")
    port = maria.port if port == "MYPORT" else int(port)
    host = pg.host if host == "PGHOST" else host
    tr = paramiko.Transport((LOCALHOST, b.ports["ssh"]))
    try:
        tr.connect(username="alice", password=b.pg_token)
        with pytest.raises(paramiko.ChannelException) as ei:
            tr.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 5555), timeout=10)
        assert ei.value.code == 1  # SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
        # the granted destination on the same connection still opens
        ch = tr.open_channel("direct-tcpip", ("demo-pg", pg.port), ("127.0.0.1", 5555),
                             timeout=10)
        ch.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")  # SSLRequest
        assert ch.recv(1) in (b"S", b"N")
        ch.close()
    finally:
        tr.close()
    rec = b.wait_audit("login_failed", user="alice",
                       where=lambda r: r.get("entry") == "ssh" and "not granted" in r["error"])
    assert f"{host}:{port}" in rec[-1]["error"], rec


def test_paramiko_mysql_greeting_via_kbdint(ssh_ready, maria):
    paramiko = pytest.importorskip("paramiko")
    b = ssh_ready
    tr = paramiko.Transport((LOCALHOST, b.ports["ssh"]))
    try:
        tr.start_client(timeout=10)
        tr.auth_interactive("alice", lambda title, instr, prompts: [b.my_token] * len(prompts))
        ch = tr.open_channel("direct-tcpip", (maria.host, maria.port), ("127.0.0.1", 1),
                             timeout=10)
        hdr = ch.recv(4)
        assert len(hdr) == 4 and hdr[3] == 0  # the proxy greets first (seq 0)
        ch.close()
    finally:
        tr.close()


def test_channel_before_auth_and_garbage_end_only_that_connection(ssh_ready, pg):
    b = ssh_ready
    s = socket.create_connection((LOCALHOST, b.ports["ssh"]), timeout=5)
    banner = s.recv(256)
    assert banner.startswith(b"SSH-2.0-"), banner
    s.sendall(b"SSH-2.0-x\r\n" + os.urandom(4096))
    s.settimeout(10)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
    t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
    assert psql_via(t, "SELECT 1").stdout.strip() == "1"
    assert b.running


# ---------------------------------------------------------------- lifecycle

def live_sessions(b):
    import json
    return json.loads(b.ctl("sessions", "--json").stdout)


def test_sessions_listing_and_kill_close_the_channel(ssh_ready, pg):
    """`sessions` names the SSH connection; `kill` ends the session and
    closes its channel even though the client keeps its socket open."""
    import psycopg2
    b = ssh_ready
    t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
    conn = psycopg2.connect(host=LOCALHOST, port=t.local, user="app", dbname="appdb",
                            connect_timeout=10)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        sess = [s for s in live_sessions(b) if s.get("entry") == "ssh"]
        assert len(sess) == 1, sess
        conn_id = ssh_records(b, "login", user="alice", verb="ssh")[-1]["session"]
        assert sess[0]["ssh_connection"] == conn_id and sess[0]["user"] == "alice", sess
        assert f"ssh#{conn_id}" in b.ctl("sessions").stdout
        b.ctl("kill", str(sess[0]["id"]))
        with pytest.raises(psycopg2.Error):
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        b.wait_audit("session_end", session=sess[0]["id"])
    finally:
        conn.close()
    # the SSH connection itself survives: a new channel works
    assert psql_via(t, "SELECT 2").stdout.strip() == "2"


def test_revoked_token_ends_tunnel_sessions_and_connection(ssh_ready, pg):
    import psycopg2
    b = ssh_ready
    t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
    conn = psycopg2.connect(host=LOCALHOST, port=t.local, user="app", dbname="appdb",
                            connect_timeout=10)
    conn.autocommit = True
    try:
        out = b.ctl("token", "list").stdout
        tid = [ln.split()[0] for ln in out.splitlines()
               if ln.split() and ln.split()[0].isdigit() and "demo-pg" in ln][0]
        b.ctl("token", "revoke", tid)
        end = b.wait_audit("session_end", timeout=15,
                           where=lambda r: r.get("entry") == "ssh")[-1]
        assert "revoked" in (end.get("error") or ""), end
        with pytest.raises(psycopg2.Error):
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
    finally:
        conn.close()
    # the SSH connection itself ends too (re-checked every 5 s)
    t.proc.wait(timeout=20)
    end = b.wait_audit("session_end", verb="ssh", timeout=5)[-1]
    assert end["entry"] == "ssh" and "revoked" in end["error"], end


def test_session_limit_counts_channels(bastion_factory, pg):
    b = bastion_factory(listeners=("postgres", "ssh"))
    b.pg_ready(pg, start=False)
    b.ctl("user", "set", "alice", "--max-sessions", "1")
    b.start()
    import psycopg2
    t = Tunnel(b, "alice", b.token, "demo-pg", pg.port)
    try:
        assert t.wait_ready(), t.stderr()
        first = psycopg2.connect(host=LOCALHOST, port=t.local, user="app", dbname="appdb",
                                 connect_timeout=10)
        try:
            with pytest.raises(psycopg2.Error):
                psycopg2.connect(host=LOCALHOST, port=t.local, user="app", dbname="appdb",
                                 connect_timeout=10)
            b.wait_audit("login_failed", where=lambda r: r.get("entry") == "ssh" and
                         "session limit" in r.get("error", ""))
        finally:
            first.close()
    finally:
        t.close()


def test_require_tls_does_not_apply_inside_the_tunnel(bastion_factory, pg):
    """The SSH channel is the encryption: require_tls = yes still refuses a
    plaintext client on the direct port but not inside the tunnel."""
    b = bastion_factory(listeners=("postgres", "ssh"),
                        conf={"sqlbastion": {"require_tls": "yes"}})
    b.pg_ready(pg)
    assert b.psql("SELECT 1").returncode != 0
    t = Tunnel(b, "alice", b.token, "demo-pg", pg.port)
    try:
        assert t.wait_ready(), t.stderr()
        assert psql_via(t, "SELECT 3").stdout.strip() == "3"
    finally:
        t.close()


def test_disabled_user_ends_ssh_connection(ssh_ready, pg):
    b = ssh_ready
    t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
    b.ctl("user", "disable", "alice")
    t.proc.wait(timeout=20)
    end = b.wait_audit("session_end", verb="ssh", timeout=5)[-1]
    assert "disabled" in end["error"], end


def test_parallel_ssh_logins_all_succeed(ssh_ready):
    """Key exchanges of several clients at once, in one SSH thread: none
    fails (a regression: re-driving the key exchange by hand after the
    event loop had taken the session over broke some of them)."""
    paramiko = pytest.importorskip("paramiko")
    import threading
    b = ssh_ready
    errors, done = [], []

    def worker():
        for _ in range(5):
            try:
                tr = paramiko.Transport((LOCALHOST, b.ports["ssh"]))
                tr.connect(username="alice", password=b.pg_token)
                done.append(tr.is_authenticated())
                tr.close()
            except Exception as e:  # noqa: BLE001 - collected and reported
                errors.append(repr(e))
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert done == [True] * 20


@pytest.mark.parametrize("kind", ["pgjdbc", "mariadb-jdbc"])
def test_jdbc_through_tunnel(ssh_ready, pg, maria, kind, tmp_path):
    """A JDBC driver with server-side prepares through the tunnel; the
    password it sends is ignored; DROP is denied and the session goes on."""
    from test_client_matrix import MARIADB_JAR, PG_JAR, _check, _jdbc, _json_tail
    b = ssh_ready
    if kind == "pgjdbc":
        t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
        url = (f"jdbc:postgresql://{LOCALHOST}:{t.local}/appdb?prepareThreshold=1"
               "&gssEncMode=disable&sslmode=disable")
        out = _json_tail(_jdbc(tmp_path, PG_JAR, url, "app", "typed-again", "SELECT ?::int + 1"))
    else:
        t = b.tunnel("alice", b.my_token, "demo-mysql", maria.port)
        url = f"jdbc:mariadb://{LOCALHOST}:{t.local}/appdb?useServerPrepStmts=true"
        out = _json_tail(_jdbc(tmp_path, MARIADB_JAR, url, "app", "typed-again", "SELECT ? + 1"))
    _check(out)
    assert ssh_records(b, "query", user="alice")


# ---------------------------------------------------------------- audit search

def test_audit_search_by_entry(ssh_ready, pg):
    """`audit search --entry ssh` finds the tunnel's records and only them;
    an index made before the entry column gets it (filled from the lines)."""
    import json
    import sqlite3
    b = ssh_ready
    assert b.psql("SELECT 41", token=b.pg_token).returncode == 0
    t = b.tunnel("alice", b.pg_token, "demo-pg", pg.port)
    assert psql_via(t, "SELECT 42").stdout.strip() == "42"
    b.wait_audit("query", user="alice")

    def search(*args):
        out = b.ctl("audit", "search", "--json", *args).stdout
        return [json.loads(ln) for ln in out.splitlines() if ln.strip()]

    ssh = search("--entry", "ssh", "--event", "query")
    assert any("SELECT 42" in r["statement"] for r in ssh), ssh
    assert all(r["entry"] == "ssh" for r in ssh), ssh
    direct = search("--entry", "direct", "--event", "query")
    assert any("SELECT 41" in r["statement"] for r in direct), direct
    assert all(r["entry"] == "direct" for r in direct), direct
    assert search("--entry", "web") == []
    # readable output too
    out = b.ctl("audit", "search", "--entry", "ssh", "--grep", "SELECT 42").stdout
    assert "SELECT 42" in out, out
    # an old index (no entry column) is migrated in place
    con = sqlite3.connect(b.audit_sqlite)
    con.execute("ALTER TABLE records DROP COLUMN entry")
    con.commit()
    con.close()
    ssh2 = search("--entry", "ssh", "--event", "query")
    assert [r["seq"] for r in ssh2] == [r["seq"] for r in ssh], (ssh2, ssh)


# ---------------------------------------------------------------- limits

def test_unauthenticated_ssh_connections_limited_per_source(bastion_factory, pg):
    """SSH connections that have not logged in count against the direct
    listeners' max_unauthenticated_per_source: past it, a new one is closed
    before any key exchange; other sources and, once a slot frees, the same
    source log in."""
    paramiko = pytest.importorskip("paramiko")
    from test_dos_limits import closed_by_proxy, hold, still_open
    b = bastion_factory(listeners=("postgres", "ssh"),
                        conf={"limits": {"max_unauthenticated_per_source": 3}})
    b.pg_ready(pg)
    port = b.ports["ssh"]
    held = hold(LOCALHOST, port, 3)
    time.sleep(0.3)
    extra = hold(LOCALHOST, port, 1)[0]
    assert closed_by_proxy(extra), "4th unauthenticated SSH connection from one source kept"
    assert all(still_open(s) for s in held)

    def login(src):
        sock = socket.create_connection((LOCALHOST, port), timeout=10,
                                        source_address=(src, 0))
        tr = paramiko.Transport(sock)
        try:
            tr.connect(username="alice", password=b.token)
            return tr.is_authenticated()
        finally:
            tr.close()

    with pytest.raises(Exception):
        login("127.0.0.1")
    assert login("127.0.0.2")
    held.pop().close()
    time.sleep(0.3)
    assert login("127.0.0.1")
    # logged-in SSH connections hold no slot
    trs = []
    for _ in range(4):
        tr = paramiko.Transport((LOCALHOST, port))
        tr.connect(username="alice", password=b.token)
        trs.append(tr)
    for tr in trs:
        tr.close()
    for s in held:
        s.close()
    assert re.search(r"\d+ over max_unauthenticated_per_source \(3\)",
                     b.log_text()), b.log_text()[-2000:]
