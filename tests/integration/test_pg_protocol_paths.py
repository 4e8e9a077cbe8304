"""PostgreSQL paths the other suites leave out: backend login with each
method a server may ask of the hosted account besides SCRAM (md5, password,
trust), notices and LISTEN/NOTIFY relayed to the client, and the fast-path
FunctionCall (libpq's large-object calls, psql's \\lo_import): audited,
allowed on a write grant, refused on a read grant. Real PostgreSQL 15, real
psql and psycopg2."""

import hashlib
import os
import select
import shutil
import time

import pytest

from bastion import run


def proxy_for(b, pg, role, level="write", user="alice"):
    """user -> demo-pg/<role> with the role's password (trust has none to
    give, and the server never asks for it)."""
    if not b.running:
        b.add_user(user)
        # md5 / password / trust without verified TLS: only with the
        # explicit asset option (test_backend_auth.py has the refusals).
        b.add_asset("demo-pg", host=pg.host, port=pg.port, tls="disable",
                    extra=("--allow-weak-auth", "yes"))
    b.add_account(f"demo-pg/{role}", username=role,
                  password=pg.passwords[role] or "not-asked-for-by-trust")
    b.grant(user, f"demo-pg/{role}", level)
    return b.issue_token(user, f"demo-pg/{role}")


@pytest.mark.parametrize("role, method", [("app_md5", "md5"), ("app_plain", "password"),
                                          ("app_trust", "trust")])
def test_backend_login_with_each_hba_method(bastion, pg, role, method):
    b = bastion
    token = proxy_for(b, pg, role)
    b.start()
    hba = pg.sql(f"SELECT auth_method FROM pg_hba_file_rules WHERE '{role}' = ANY(user_name);")
    assert hba.split() == [method]  # the server really asks for this method
    r = b.psql("SELECT current_user")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == role
    login = b.wait_audit("login", user="alice")[-1]
    assert login["account"] == role
    # the weak method is on the login record
    assert login.get("decision") == "weak-auth"
    assert login.get("verb") == {"md5": "an md5 password", "password": "a cleartext password",
                                 "trust": "trust (no authentication)"}[method]
    # the hosted secret reached the server and nowhere else
    secret = pg.passwords[role]
    if secret:
        assert secret not in b.log_text()
        assert secret not in b.audit_jsonl.read_text()
    assert token not in b.log_text()


def test_notice_and_notification_reach_the_client(pg_ready, pg):
    b = pg_ready
    conn = b.connect()
    cur = conn.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS sb_notice_t (id int)")
    cur.execute("CREATE TABLE IF NOT EXISTS sb_notice_t (id int)")
    assert any("sb_notice_t" in n and "already exists" in n for n in conn.notices), conn.notices

    cur.execute("LISTEN sb_channel")
    other = pg.connect()
    other.autocommit = True
    other.cursor().execute("NOTIFY sb_channel, 'payload-7'")
    other.close()
    deadline = time.monotonic() + 5
    while not conn.notifies and time.monotonic() < deadline:
        select.select([conn], [], [], 0.5)
        conn.poll()
    assert conn.notifies, "NOTIFY never reached the client through the proxy"
    n = conn.notifies[0]
    assert (n.channel, n.payload) == ("sb_channel", "payload-7")
    # the session is still in step after the asynchronous messages
    cur.execute("SELECT 41 + 1")
    assert cur.fetchone()[0] == 42


@pytest.mark.parametrize("mode", ["extended", "prepared"])
def test_bound_parameters_are_in_the_audit(pg_ready, pg, tmp_path, mode):
    """What an auditor needs of a prepared statement is the values it ran
    with: the record of each Execute carries its Bind's parameters."""
    b = pg_ready
    script = tmp_path / "s.sql"
    script.write_text("\\set v 4242\nSELECT :v::int + 1 AS r, :v::text || 'x' AS s, NULL::int;\n")
    r = run([shutil.which("pgbench"), "-n", "-M", mode, "-c", "1", "-t", "3", "-f", str(script),
             "-h", b.host, "-p", str(b.port), "-U", "alice", "appdb"],
            env=dict(os.environ, PGPASSWORD=b.token), check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    recs = b.wait_audit("query", count=3, where=lambda e: "$1::int + 1" in e.get("statement", ""))
    assert [e["params"] for e in recs] == [["4242", "4242"]] * 3
    assert all(e["decision"] == "allow" for e in recs)


def test_function_call_allowed_on_write_and_audited(pg_ready, pg, tmp_path):
    b = pg_ready
    blob = tmp_path / "blob.bin"
    data = bytes(range(256)) * 40
    blob.write_bytes(data)
    r = b.psql(f"\\lo_import '{blob}'\n\\echo LASTOID=:LASTOID\n")
    assert r.returncode == 0, r.stderr
    oid = int(r.stdout.split("LASTOID=")[1].split()[0])
    try:
        got = pg.sql(f"SELECT encode(sha256(lo_get({oid})), 'hex');", dbname="appdb").strip()
        assert got == hashlib.sha256(data).hexdigest()
        calls = b.wait_audit("query", verb="FUNCTION CALL", decision="allow")
        assert all(c["statement"].startswith("FUNCTION CALL oid=") for c in calls)
        # lowrite's arguments are audited: the descriptor and the bytes
        # (binary, cut after 512 and marked with the full length)
        written = [c["params"][1] for c in calls if len(c.get("params", [])) == 2]
        assert any(w.startswith("\\x000102030405") and w.endswith("...(8192 bytes)")
                   for w in written), written
        assert b.wait_audit("query_end", where=lambda e: e.get("query_id") in
                            {c["query_id"] for c in calls})
    finally:
        pg.sql(f"SELECT lo_unlink({oid});", dbname="appdb")


def test_function_call_refused_on_read_grant(bastion, pg, tmp_path):
    b = bastion
    proxy_for(b, pg, "app", level="read")
    b.start()
    before = int(pg.sql("SELECT count(*) FROM pg_largeobject_metadata;", dbname="appdb"))
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"x" * 1000)
    r = b.psql(f"\\lo_import '{blob}'\n")
    assert r.returncode != 0
    assert "grant-level:read" in r.stderr
    rec = b.wait_audit("query", verb="FUNCTION CALL", decision="deny")[-1]
    assert rec["rule"] == "grant-level:read"
    after = int(pg.sql("SELECT count(*) FROM pg_largeobject_metadata;", dbname="appdb"))
    assert after == before
    # refused, not disconnected: the same client goes on
    assert b.psql("SELECT 1").stdout.strip() == "1"
