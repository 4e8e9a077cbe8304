"""Not-hosted accounts on the SSH entry (issue 14): the proxy holds no
password for the account, the engineer gives the database password to the
database itself, end to end, through the tunnel.

Real clients on both sides: OpenSSH `ssh -N -L` (sshpass) and paramiko for
the tunnel; psql, psycopg2, the mariadb CLI, pymysql and JDBC drivers with
their default settings inside it; real PostgreSQL 15 and MariaDB 10.11
behind. Ground truth is the server's: its own connection log, and tables
that a denied statement aimed at are still there. The audit must name the
bastion user with "entry":"ssh", never the database account.
"""

import os
import shutil
import socket
import threading

import pytest

from bastion import LOCALHOST, client_env, run
from test_ssh_entry import Tunnel, ssh_records

pytestmark = pytest.mark.skipif(
    not (shutil.which("ssh") and shutil.which("sshpass")),
    reason="openssh-client and sshpass are needed (scripts/deps.sh test)")


def _not_hosted(b, asset, account, username, level="write"):
    b.add_account(f"{asset}/{account}", username=username, not_hosted=True)
    b.grant("alice", f"{asset}/{account}", level)
    return b.issue_token("alice", f"{asset}/{account}")


@pytest.fixture
def nh(bastion_factory, pg, maria):
    """alice with not-hosted accounts: demo-pg (tls disable) app, app_md5,
    app_plain; demo-pg-tls (tls require: the server offers
    SCRAM-SHA-256-PLUS) app; demo-mysql app. Listeners postgres, mysql, ssh."""
    b = bastion_factory(listeners=("postgres", "mysql", "ssh"))
    b.add_user("alice")
    # md5 and cleartext cross the backend leg only where the asset allows
    # weak auth (the rule for a hosted secret); demo-pg-strict does not
    b.add_asset("demo-pg", host=pg.host, port=pg.port, extra=("--allow-weak-auth", "yes"))
    b.add_asset("demo-pg-strict", host=pg.host, port=pg.port)
    b.add_asset("demo-pg-tls", host=pg.host, port=pg.port, tls="require")
    b.add_asset("demo-mysql", host=maria.host, port=maria.port, protocol="mysql")
    b.tok = {
        "pg": _not_hosted(b, "demo-pg", "app", "app"),
        "md5": _not_hosted(b, "demo-pg", "md5", "app_md5"),
        "plain": _not_hosted(b, "demo-pg", "plain", "app_plain"),
        "pgtls": _not_hosted(b, "demo-pg-tls", "app", "app"),
        "strict": _not_hosted(b, "demo-pg-strict", "md5", "app_md5"),
        "my": _not_hosted(b, "demo-mysql", "app", "app"),
    }
    b.start()
    tunnels = []

    def tunnel(kind, dest, dport):
        t = Tunnel(b, "alice", b.tok[kind], dest, dport)
        tunnels.append(t)
        assert t.wait_ready(), t.stderr()
        return t

    b.tunnel = tunnel
    yield b
    for t in tunnels:
        t.close()


def psql_via(t, sql, password, user="app", sslmode=None, extra=""):
    """psql with its default settings (sslmode=prefer, channel_binding=prefer)
    unless told otherwise; the database password in PGPASSWORD."""
    info = f"host={LOCALHOST} port={t.local} user={user} dbname=appdb {extra}"
    if sslmode:
        info += f" sslmode={sslmode}"
    env = client_env({"PGCONNECT_TIMEOUT": "10"})
    if password is not None:
        env["PGPASSWORD"] = password
    return run(["psql", "-X", "-w", "-v", "ON_ERROR_STOP=1", "-At", info, "-c", sql],
               check=False, env=env)


def _session_logins(b, asset):
    return [r for r in ssh_records(b, "login", user="alice", asset=asset)
            if r.get("verb") != "ssh"]


# ---------------------------------------------------------------- PostgreSQL

@pytest.mark.parametrize("kind,user", [("pg", "app"), ("md5", "app_md5"),
                                       ("plain", "app_plain")])
def test_psql_own_password_end_to_end(nh, pg, kind, user):
    """SCRAM, md5 and cleartext: the server asks, psql answers through the
    proxy, the server decides."""
    b = nh
    t = b.tunnel(kind, "demo-pg", pg.port)
    r = psql_via(t, "SELECT current_user, count(*) FROM accounts", pg.passwords[user],
                 user=user)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{user}|3"
    login = _session_logins(b, "demo-pg")[-1]
    assert login["user"] == "alice" and login["entry"] == "ssh", login
    q = [r for r in ssh_records(b, "query", user="alice") if "accounts" in r["statement"]]
    assert q and q[-1]["decision"] == "allow"
    # the server's own record: the account logged in, not alice
    assert f"connection authorized: user={user} database=appdb" in pg.log_text()
    assert pg.passwords[user] not in b.audit_jsonl.read_text()
    assert pg.passwords[user] not in b.log_text()


def test_weak_method_needs_the_assets_consent(nh, pg):
    """md5 to a plain backend leg, asset without --allow-weak-auth: refused,
    and the client hears why; with it, the login record says weak-auth."""
    b = nh
    t = b.tunnel("strict", "demo-pg-strict", pg.port)
    r = psql_via(t, "SELECT 1", pg.passwords["app_md5"], user="app_md5")
    assert r.returncode != 0 and "md5" in r.stderr, r.stderr
    fail = [r for r in ssh_records(b, "login_failed", user="alice", asset="demo-pg-strict")]
    assert fail and "md5" in fail[-1]["error"], fail
    t2 = b.tunnel("md5", "demo-pg", pg.port)
    assert psql_via(t2, "SELECT 1", pg.passwords["app_md5"], user="app_md5").returncode == 0
    login = _session_logins(b, "demo-pg")[-1]
    assert login.get("decision") == "weak-auth", login


def test_wrong_database_password_refused_and_audited(nh, pg):
    b = nh
    t = b.tunnel("pg", "demo-pg", pg.port)
    r = psql_via(t, "SELECT 1", "not-the-password")
    assert r.returncode != 0
    assert "password authentication failed" in r.stderr, r.stderr
    fail = [r for r in ssh_records(b, "login_failed", user="alice")
            if "backend login failed" in r.get("error", "")]
    assert fail and "28P01" in fail[-1]["error"], fail
    # the same tunnel, the right password: in
    r = psql_via(t, "SELECT 5", pg.passwords["app"])
    assert r.returncode == 0 and r.stdout.strip() == "5", r.stderr


def test_no_password_given_fails_cleanly(nh, pg):
    b = nh
    t = b.tunnel("pg", "demo-pg", pg.port)
    r = psql_via(t, "SELECT 1", None)
    assert r.returncode != 0
    assert "password" in r.stderr, r.stderr


def test_statements_policed_and_audited_as_bastion_user(nh, pg):
    b = nh
    t = b.tunnel("pg", "demo-pg", pg.port)
    r = psql_via(t, "DROP TABLE accounts", pg.passwords["app"])
    assert r.returncode != 0 and "blocked by rule" in r.stderr, r.stderr
    assert pg.sql("SELECT count(*) FROM accounts", dbname="appdb").strip() == "3"
    deny = [r for r in ssh_records(b, "query", user="alice") if r.get("decision") == "deny"]
    assert deny and "DROP" in deny[-1]["statement"].upper(), deny
    assert deny[-1]["account"] == "app" and deny[-1]["asset"] == "demo-pg"


def test_psycopg2_defaults_and_server_offering_channel_binding(nh, pg):
    """psycopg2 with libpq's defaults (sslmode=prefer, channel_binding=
    prefer) to an asset reached over TLS, where the server offers
    SCRAM-SHA-256-PLUS: the proxy strikes it and keeps the tunnel's leg
    plain, so the client's SCRAM goes through without channel binding."""
    import psycopg2
    b = nh
    t = b.tunnel("pgtls", "demo-pg-tls", pg.port)
    c = psycopg2.connect(host=LOCALHOST, port=t.local, user="app", dbname="appdb",
                         password=pg.passwords["app"], connect_timeout=10)
    try:
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            assert cur.fetchone()[0] is True  # the backend leg is TLS
            cur.execute("SELECT %s::int * 2", (21,))
            assert cur.fetchone()[0] == 42
    finally:
        c.close()
    # a client that demands channel binding fails, and says why
    with pytest.raises(psycopg2.OperationalError) as ei:
        psycopg2.connect(host=LOCALHOST, port=t.local, user="app", dbname="appdb",
                         password=pg.passwords["app"], connect_timeout=10,
                         channel_binding="require")
    assert "channel binding" in str(ei.value), ei.value


def test_tls_inside_tunnel_when_backend_leg_is_plain(nh, pg):
    b = nh
    t = b.tunnel("pg", "demo-pg", pg.port)
    r = psql_via(t, "SELECT 8", pg.passwords["app"], sslmode="require")
    assert r.returncode == 0 and r.stdout.strip() == "8", r.stderr


def test_same_account_on_direct_port_refused(nh, pg):
    import psycopg2
    b = nh
    with pytest.raises(psycopg2.OperationalError) as ei:
        psycopg2.connect(host=b.host, port=b.port, user="alice", password=b.tok["pg"],
                         dbname="appdb", sslmode="disable", connect_timeout=10)
    assert "not hosted" in str(ei.value) and "SSH" in str(ei.value), ei.value
    fail = [r for r in b.audit_records("login_failed", user="alice")
            if r.get("entry") == "direct"]
    assert fail and "not hosted" in fail[-1]["error"], fail


def test_pgjdbc_defaults_through_tunnel(nh, pg, tmp_path):
    from test_client_matrix import PG_JAR, _check, _jdbc, _json_tail
    b = nh
    t = b.tunnel("pg", "demo-pg", pg.port)
    url = f"jdbc:postgresql://{LOCALHOST}:{t.local}/appdb"
    out = _json_tail(_jdbc(tmp_path, PG_JAR, url, "app", pg.passwords["app"],
                           "SELECT ?::int + 1"))
    _check(out)
    assert _session_logins(b, "demo-pg")


def test_paramiko_channel_with_raw_psycopg2_socket(nh, pg):
    """paramiko's direct-tcpip channel, bridged to a local port for psycopg2."""
    paramiko = pytest.importorskip("paramiko")
    import psycopg2
    b = nh
    tr = paramiko.Transport((LOCALHOST, b.ports["ssh"]))
    tr.connect(username="alice", password=b.tok["pg"])
    srv = socket.socket()
    srv.bind((LOCALHOST, 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def bridge():
        try:
            pump()
        except OSError:
            pass  # the test closed its side first

    def pump():
        conn, _ = srv.accept()
        ch = tr.open_channel("direct-tcpip", ("demo-pg", pg.port), ("127.0.0.1", 1))
        import select
        while True:
            r, _, _ = select.select([conn, ch], [], [], 30)
            if not r:
                break
            if conn in r:
                d = conn.recv(65536)
                if not d:
                    break
                ch.sendall(d)
            if ch in r:
                d = ch.recv(65536)
                if not d:
                    break
                conn.sendall(d)
        conn.close()
        ch.close()

    th = threading.Thread(target=bridge, daemon=True)
    th.start()
    try:
        c = psycopg2.connect(host=LOCALHOST, port=port, user="app", dbname="appdb",
                             password=pg.passwords["app"], connect_timeout=10)
        with c.cursor() as cur:
            cur.execute("SELECT 6")
            assert cur.fetchone()[0] == 6
        c.close()
    finally:
        srv.close()
        tr.close()


# ---------------------------------------------------------------- MySQL / MariaDB

def mariadb_via(t, sql, password, user="app", extra=()):
    """The mariadb CLI with its defaults (no --ssl: none is offered inside
    the tunnel for a not-hosted account); the password in MYSQL_PWD."""
    env = client_env()
    if password is not None:
        env["MYSQL_PWD"] = password
    return run(["mariadb", "--no-defaults", "-h", LOCALHOST, "-P", str(t.local), "-u", user,
                "--batch", "--skip-column-names", "--connect-timeout=10", *extra, "appdb"],
               input=sql, check=False, env=env)


def test_mariadb_cli_own_password_end_to_end(nh, maria):
    b = nh
    t = b.tunnel("my", "demo-mysql", maria.port)
    r = mariadb_via(t, "SELECT current_user(), count(*) FROM accounts",
                    maria.passwords["app"], user="typed-name")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["app@%", "3"], r.stdout
    login = _session_logins(b, "demo-mysql")[-1]
    assert login["user"] == "alice" and login["account"] == "app", login
    assert maria.passwords["app"] not in b.audit_jsonl.read_text()
    assert maria.passwords["app"] not in b.log_text()


def test_mariadb_wrong_password_refused_in_servers_words(nh, maria):
    b = nh
    t = b.tunnel("my", "demo-mysql", maria.port)
    r = mariadb_via(t, "SELECT 1", "wrong-password")
    assert r.returncode != 0
    assert "Access denied for user 'app'" in r.stderr, r.stderr
    fail = [r for r in ssh_records(b, "login_failed", user="alice")
            if "backend login failed" in r.get("error", "")]
    assert fail and "1045" in fail[-1]["error"], fail
    r = mariadb_via(t, "SELECT 9", maria.passwords["app"])
    assert r.returncode == 0 and r.stdout.strip() == "9", r.stderr


def test_mysql_statements_policed_and_audited(nh, maria):
    b = nh
    t = b.tunnel("my", "demo-mysql", maria.port)
    r = mariadb_via(t, "DROP TABLE accounts", maria.passwords["app"])
    assert r.returncode != 0 and "blocked by rule" in r.stderr, r.stderr
    assert maria.value("SELECT count(*) FROM accounts", database="appdb") == "3"
    deny = [r for r in ssh_records(b, "query", user="alice", asset="demo-mysql")
            if r.get("decision") == "deny"]
    assert deny and "DROP" in deny[-1]["statement"].upper(), deny


def test_pymysql_defaults_through_tunnel(nh, maria):
    import pymysql
    b = nh
    t = b.tunnel("my", "demo-mysql", maria.port)
    c = pymysql.connect(host=LOCALHOST, port=t.local, user="app",
                        password=maria.passwords["app"], database="appdb",
                        connect_timeout=10, autocommit=True)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT owner FROM accounts WHERE id = %s", (2,))
            assert cur.fetchone()[0] == "bob"
    finally:
        c.close()
    with pytest.raises(pymysql.err.OperationalError) as ei:
        pymysql.connect(host=LOCALHOST, port=t.local, user="app", password="nope",
                        database="appdb", connect_timeout=10)
    assert ei.value.args[0] == 1045, ei.value


def test_mariadb_jdbc_defaults_through_tunnel(nh, maria, tmp_path):
    from test_client_matrix import MARIADB_JAR, _check, _jdbc, _json_tail
    b = nh
    t = b.tunnel("my", "demo-mysql", maria.port)
    url = f"jdbc:mariadb://{LOCALHOST}:{t.local}/appdb"
    out = _json_tail(_jdbc(tmp_path, MARIADB_JAR, url, "app", maria.passwords["app"],
                           "SELECT ? + 1"))
    _check(out)
    assert _session_logins(b, "demo-mysql")


def test_same_mysql_account_on_direct_port_refused(nh, maria):
    import pymysql
    b = nh
    with pytest.raises(pymysql.err.OperationalError) as ei:
        pymysql.connect(host=b.host, port=b.mysql_port, user="alice", password=b.tok["my"],
                        database="appdb", connect_timeout=10)
    assert "not hosted" in str(ei.value), ei.value


# ---------------------------------------------------------------- caching_sha2 (fake server)
# MariaDB has no caching_sha2_password: a scripted server plays MySQL 8's
# full authentication (cache miss) with pymysql as the client.

def _sha2_server(password, public_pem, decrypt):
    from fake_backends import MY_OK, my_greeting, my_packet, my_read
    import struct
    scramble = b"abcdefghijklmnopqrst"

    def run(fake, conn):
        conn.sendall(my_packet(0, my_greeting(b"caching_sha2_password", scramble,
                                              tls=fake.tls_ctx is not None)))
        p = my_read(fake, conn)
        if p is None:
            return
        if len(p[1]) == 32 and struct.unpack("<I", p[1][:4])[0] & 0x800:
            conn = fake.tls_ctx.wrap_socket(conn, server_side=True)
            fake.events.append("tls")
            p = my_read(fake, conn)
            if p is None:
                return
        fake.events.append(("user", p[1][32:p[1].index(b"\0", 32)].decode()))
        conn.sendall(my_packet(p[0] + 1, b"\x01\x04"))  # perform_full_authentication
        r = my_read(fake, conn)
        if r is None:
            return
        if r[1] == b"\x02":
            fake.events.append("key-request")
            conn.sendall(my_packet(r[0] + 1, b"\x01" + public_pem))
            r = my_read(fake, conn)
            if r is None:
                return
            got = decrypt(r[1], scramble)
        elif fake.tls_ctx is not None:
            fake.events.append("cleartext")
            got = r[1].rstrip(b"\0").decode(errors="replace")
        else:  # encrypted to a key the client already had (pinned)
            got = decrypt(r[1], scramble)
        if got == password:
            fake.events.append("accepted")
            conn.sendall(my_packet(r[0] + 1, MY_OK))
        else:
            conn.sendall(my_packet(r[0] + 1, b"\xff" + struct.pack("<H", 1045) +
                                   b"#28000Access denied for user 'app'"))
        while my_read(fake, conn) is not None:
            pass
    return run


@pytest.mark.parametrize("leg", ["plain-server-key", "plain-pinned", "tls", "tls-strict"])
def test_caching_sha2_full_auth_end_to_end(bastion_factory, tmp_path, leg):
    pymysql = pytest.importorskip("pymysql")
    pytest.importorskip("cryptography")  # pymysql's RSA for caching_sha2
    from fake_backends import FakeServer
    from test_backend_auth import _rsa_decrypt, _rsa_pair
    from bastion import make_server_cert, make_test_ca
    pw = "engineers-Own-pw-2718"
    priv, pub = _rsa_pair(tmp_path, "srv")
    tls = leg.startswith("tls")
    kw = {}
    if tls:
        ca, ca_key = make_test_ca(tmp_path, cn="fake CA")
        kw["tls_cert"], kw["tls_key"] = make_server_cert(tmp_path, ca, ca_key, name="fake")
    fake = FakeServer(_sha2_server(pw, pub.read_bytes(), _rsa_decrypt(priv)), **kw)
    try:
        b = bastion_factory(listeners=("mysql", "ssh"))
        b.add_user("alice")
        extra = []
        if leg in ("plain-server-key", "tls"):
            extra += ["--allow-weak-auth", "yes"]
        if leg == "plain-pinned":
            extra += ["--server-public-key", str(pub)]
        b.add_asset("fake-sha2", host=fake.host, port=fake.port, protocol="mysql",
                    tls="require" if tls else "disable", extra=extra)
        token = _not_hosted(b, "fake-sha2", "app", "app")
        b.start()
        t = Tunnel(b, "alice", token, "fake-sha2", fake.port)
        try:
            assert t.wait_ready(), t.stderr()
            connect = lambda: pymysql.connect(host=LOCALHOST, port=t.local, user="typed",
                                              password=pw, connect_timeout=10,
                                              autocommit=True)
            if leg == "tls-strict":
                with pytest.raises(pymysql.err.OperationalError) as ei:
                    connect()
                assert "unverified TLS" in str(ei.value) or "weak" in str(ei.value), ei.value
                assert "cleartext" not in fake.events
                return
            connect().close()
            assert "accepted" in fake.events, (fake.events, fake.errors)
            assert ("user", "app") in fake.events  # the account's name, not the typed one
            assert ("key-request" in fake.events) == (leg == "plain-server-key"), fake.events
            assert ("cleartext" in fake.events) == tls, fake.events
            login = _session_logins(b, "fake-sha2")[-1]
            assert login["user"] == "alice"
            assert pw not in b.audit_jsonl.read_text() and pw not in b.log_text()
        finally:
            t.close()
    finally:
        fake.close()


def test_token_issue_says_which_password_goes_inside_the_tunnel(nh):
    b = nh
    out = b.ctl("token", "issue", "alice", "demo-pg/app").stdout
    assert "ssh -N -L" in out and "app's own database password" in out, out
    b.add_account("demo-pg/hosted", username="app", password="x")
    b.grant("alice", "demo-pg/hosted", "read")
    out = b.ctl("token", "issue", "alice", "demo-pg/hosted").stdout
    assert "no database password" in out, out


def test_unreachable_database_said_plainly(bastion_factory):
    """Nothing listens at the asset's address: the client hears that the
    database could not be reached (no word about a hosted account)."""
    from bastion import free_port
    b = bastion_factory(listeners=("postgres", "ssh"))
    b.add_user("alice")
    port = free_port()
    b.add_asset("dead-pg", host="127.0.0.1", port=port)
    token = _not_hosted(b, "dead-pg", "app", "app")
    b.start()
    t = Tunnel(b, "alice", token, "dead-pg", port)
    try:
        assert t.wait_ready(), t.stderr()
        r = psql_via(t, "SELECT 1", "whatever")
        assert r.returncode != 0
        assert "could not reach the database" in r.stderr, r.stderr
        assert "hosted" not in r.stderr, r.stderr
        fail = ssh_records(b, "login_failed", user="alice", asset="dead-pg")
        assert fail and "backend login failed" in fail[-1]["error"], fail
    finally:
        t.close()
