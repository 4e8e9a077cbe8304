"""Issue 10 class 6: denial of service before login.

Raw sockets hold connections open without logging in; the proxy must
refuse the ones over max_unauthenticated(_per_source) at once (the kernel
accepts, the proxy closes), while logged-in sessions do not count. Failed
logins over failed_login_records_per_source are summarised, never lost.
RSA decryptions of MySQL full authentication are capped per source. At the
open-files limit the listener backs off instead of spinning.
"""
import os
import re
import socket
import struct
import time

import psycopg2
import pytest

from bastion import conninfo

PG_V3 = 196608


def hold(host, port, n, src="127.0.0.1"):
    """n raw TCP connections that never send anything."""
    out = []
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.settimeout(5)
        s.connect((host, port))
        out.append(s)
    return out


def closed_by_proxy(s, wait=2.0):
    """True when the proxy closed s (EOF or reset) within wait seconds."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def still_open(s):
    return not closed_by_proxy(s, wait=0.3)


def pg_login(b, host="127.0.0.1"):
    conn = psycopg2.connect(conninfo(host=b.host, port=b.port, user="alice",
                                     password=b.token, dbname="appdb", sslmode="disable",
                                     connect_timeout=5))
    with conn.cursor() as c:
        c.execute("SELECT 1")
        assert c.fetchone() == (1,)
    return conn


def test_unauthenticated_limits_per_source_and_global(bastion_factory, pg):
    b = bastion_factory(conf={"limits": {"max_unauthenticated": 8,
                                         "max_unauthenticated_per_source": 5}})
    b.pg_ready(pg)
    held = hold(b.host, b.port, 5)
    time.sleep(0.2)
    extra = hold(b.host, b.port, 1)[0]
    assert closed_by_proxy(extra), "6th unauthenticated connection from one source kept"
    assert all(still_open(s) for s in held)
    # A real login from the same source is refused too while 5 wait...
    with pytest.raises(psycopg2.OperationalError):
        pg_login(b)
    # ...and works once one of them leaves.
    held.pop().close()
    time.sleep(0.2)
    conn = pg_login(b)
    # Logged-in sessions hold no slot: 6 more logins from the same source.
    conns = [pg_login(b) for _ in range(6)]
    # Global: 4 held from 127.0.0.1 + 4 from 127.0.0.2 = 8; a 9th source is refused.
    other = hold(b.host, b.port, 4, src="127.0.0.2")
    time.sleep(0.2)
    third = hold(b.host, b.port, 1, src="127.0.0.3")[0]
    assert closed_by_proxy(third), "connection over max_unauthenticated kept"
    assert all(still_open(s) for s in other)
    for c in conns + [conn]:
        c.close()
    for s in held + other:
        s.close()
    log = b.log_text()
    assert re.search(r"refused \d+ connections over max_unauthenticated \(8\)", log), log[-2000:]
    # No audit record for a refused connection (they cost nothing).
    assert not [r for r in b.audit_records("login_failed") if r.get("client", "").startswith("127.0.0.3")]


def test_refused_connections_free_their_slot_after_close(bastion_factory, pg):
    """Slots come back: connections that close (EOF before startup, a bad
    startup, a failed login) leave the count at zero."""
    # Lockout off: this test is about connection slots, and its ten failed
    # logins would otherwise lock alice out of the last, good one.
    b = bastion_factory(conf={"limits": {"max_unauthenticated_per_source": 3,
                                         "lockout_failures": 0,
                                         "lockout_source_failures": 0}})
    b.pg_ready(pg)
    for _ in range(10):
        for s in hold(b.host, b.port, 3):
            s.sendall(struct.pack("!II", 8, 0x12345678))  # unknown protocol
            s.close()
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(conninfo(host=b.host, port=b.port, user="alice",
                                      password="wrong", dbname="appdb", sslmode="disable"))
    time.sleep(0.3)
    pg_login(b).close()


def test_failed_login_records_summarised_without_losing_count(bastion_factory, pg):
    b = bastion_factory(conf={"limits": {"failed_login_records_per_source": 3}})
    b.pg_ready(pg)
    n = 40
    t0 = time.monotonic()
    for i in range(n):
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(conninfo(host=b.host, port=b.port, user=f"nobody{i}",
                                      password="x", dbname="appdb", sslmode="disable"))
    elapsed = time.monotonic() - t0
    deadline = time.monotonic() + 5
    while True:
        recs = b.audit_records("login_failed")
        single = [r for r in recs if r.get("user")]
        summaries = [r for r in recs if not r.get("user")]
        total = len(single) + sum(int(re.match(r"(\d+) more failed logins from 127\.0\.0\.1",
                                               r["error"]).group(1)) for r in summaries)
        if total >= n or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert total == n, (len(single), [r["error"] for r in summaries])
    # at most 3 a second were written one by one
    assert len(single) <= 3 * (int(elapsed) + 2), (len(single), elapsed)
    assert summaries, "no summary record"
    assert all(r["client"] == "127.0.0.1" for r in summaries)
    # The chain still verifies with the summaries in it.
    out = b.ctl("audit", "verify")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mysql_rsa_decryptions_capped_per_source(bastion_factory, maria):
    """Unknown users over caching_sha2 full authentication cost the proxy an
    RSA-2048 decryption each: past expensive_logins_per_source a second the
    login is refused before decrypting. The real user still logs in once
    the burst is over."""
    import pymysql
    from test_mysql_auth import sha2_connect
    b = bastion_factory(listeners=("postgres", "mysql"),
                        conf={"limits": {"expensive_logins_per_source": 3,
                                         "failed_login_records_per_source": 0}})
    token = b.mysql_ready(maria)
    for i in range(10):
        c = sha2_connect(b, "x" * 40, user=f"ghost{i}")
        with pytest.raises(pymysql.err.OperationalError):
            c.connect()
    recs = b.wait_audit("login_failed", count=10)
    reasons = [r["error"] for r in recs]
    assert reasons.count("unknown user") <= 4, reasons
    assert sum("too many logins from this address" in r for r in reasons) >= 6, reasons
    assert "over expensive_logins_per_source" in b.log_text()
    time.sleep(1.2)
    conn = b.pymysql(token=token)
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return soft, hard
    raise AssertionError("no open-files line")


def test_rlimit_raised_and_listener_backs_off_at_emfile(bastion_factory, pg):
    b = bastion_factory(conf={"limits": {"max_unauthenticated": 0,
                                         "max_unauthenticated_per_source": 0}})
    b.pg_ready(pg)
    soft, hard = nofile(b.pid)
    assert soft == hard, (soft, hard)  # raised to the hard limit at start
    # Lower the daemon's limit so a few connections exhaust it.
    used = len(os.listdir(f"/proc/{b.pid}/fd"))
    lim = used + 12
    rc = os.system(f"prlimit --pid {b.pid} --nofile={lim}:{lim}")
    assert rc == 0
    held = hold(b.host, b.port, 12)
    time.sleep(0.3)
    # More wait in the backlog: the listener hits EMFILE.
    waiting = hold(b.host, b.port, 20)
    time.sleep(0.5)
    cpu0 = proc_cpu_s(b.pid)
    time.sleep(2.0)
    spent = proc_cpu_s(b.pid) - cpu0
    assert spent < 0.5, f"listener spinning at EMFILE: {spent:.2f} s CPU in 2 s"
    assert b.running
    assert "not accepting for" in b.log_text()
    for s in held + waiting:
        s.close()
    time.sleep(0.5)
    rc = os.system(f"prlimit --pid {b.pid} --nofile={lim + 200}:{lim + 200}")
    pg_login(b).close()  # accepting again


def test_pg_login_checks_capped_per_source(bastion_factory, pg):
    """logins_per_source: past it a source's SCRAM exchanges are refused
    before any state lookup; another source is not affected; the first one
    logs in again once its bucket refills."""
    from test_hardening import scram_salt
    b = bastion_factory(conf={"limits": {"logins_per_source": 5,
                                         "failed_login_records_per_source": 0}})
    b.pg_ready(pg)
    refused = 0
    for i in range(15):
        try:
            scram_salt(b, f"ghost{i}")
        except (AssertionError, EOFError, OSError):
            refused += 1
    assert refused >= 9, refused
    reasons = [r["error"] for r in b.wait_audit("login_failed", count=refused)]
    assert sum("too many logins from this address" in r for r in reasons) == refused
    # Another source has its own bucket.
    assert scram_salt(b, "ghost-elsewhere", src="127.0.0.2")
    time.sleep(1.1)
    pg_login(b).close()
    assert "over logins_per_source (5/s)" in b.log_text()
