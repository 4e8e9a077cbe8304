"""Live sessions and kill through the real sqlbastionctl and the admin socket;
admin events written by the daemon when it runs (single writer)."""

import json
import os
import stat
import time

import pytest


def _sessions(b):
    out = b.ctl("sessions", "--json").stdout
    return json.loads(out)


def test_audit_sessions_and_kill_cli(pg_ready):
    b = pg_ready
    sock = b.admin_socket
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700

    conn = b.connect()
    cur = conn.cursor()
    cur.execute("SELECT 'idle after this'")
    cur.fetchall()

    sess = [s for s in _sessions(b) if s.get("user") == "alice"]
    assert len(sess) == 1, sess
    s = sess[0]
    assert s["asset"] == "demo-pg" and s["account"] == "app"
    assert s["database"] == "appdb" and s["protocol"] == "postgres"
    assert s["bytes_in"] > 0 and s["bytes_out"] > 0 and s["since"].endswith("Z")

    table = b.ctl("sessions").stdout.splitlines()
    assert table[0].split()[:9] == ["ID", "USER", "ASSET", "ACCOUNT", "CLIENT", "SINCE",
                                    "BYTES_IN", "BYTES_OUT", "STATEMENT"]
    assert any(line.split()[0] == str(s["id"]) and "alice" in line for line in table[1:])

    r = b.ctl("kill", str(s["id"]))
    assert f"session {s['id']} killed" in r.stdout
    end = b.wait_audit("session_end", session=s["id"])[0]
    assert end["error"] == "killed by root", end
    admin = b.wait_audit("admin", verb="kill")[0]
    assert admin["user"] == "root" and admin["statement"] == f"kill {s['id']}"
    with pytest.raises(Exception):
        cur.execute("SELECT 1")
        cur.fetchall()
    deadline = time.monotonic() + 5
    while any(x["id"] == s["id"] for x in _sessions(b)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(x["id"] == s["id"] for x in _sessions(b))

    bad = b.ctl("kill", "999999", check=False)
    assert bad.returncode == 1 and "no live session 999999" in bad.stderr


def test_audit_admin_events_through_daemon(pg_ready):
    b = pg_ready
    before = len(b.audit_records("admin"))
    b.add_user("bob")  # while the daemon runs: the event goes over the socket
    rec = b.wait_audit("admin", verb="user add")[-1]
    assert rec["user"] == "root" and "bob" in rec["statement"]
    assert len(b.audit_records("admin")) == before + 1
    r = b.ctl("reload")
    assert "reloaded" in r.stdout
    b.wait_audit("admin", verb="reload")
    assert b.ctl("audit", "verify").returncode == 0
    b.stop()
    # daemon gone: the verbs say so; admin events go straight to the file
    r = b.ctl("sessions", check=False)
    assert r.returncode == 1 and "not running" in r.stderr
    r = b.ctl("reload", check=False)
    assert r.returncode == 1 and "not running" in r.stderr
    b.add_user("carol")
    assert b.audit_records("admin", verb="user add")[-1]["statement"].endswith("carol")
    assert b.ctl("audit", "verify").returncode == 0


def test_audit_second_daemon_refused(pg_ready, bastion_factory):
    b = pg_ready
    r = b.ctl("sessions")
    assert r.returncode == 0
    # another daemon on the same files: the audit lock refuses it
    import subprocess
    p = subprocess.run([str(b.daemon), "-c", str(b.conf_path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=20)
    assert p.returncode != 0
    assert "locked by another process" in p.stderr or "in use" in p.stderr
    assert b.running
