"""Issue 13: failed-login lockout, across frontends, with real clients.

Counters per (user, source IP) and per source IP live in the state DB. The
second source is 127.0.0.2 (loopback range): pymysql binds to it
(bind_address), so the proxy sees a different client address. A locked
login must look exactly like a wrong token to the client (no oracle).
"""

import json
import time

import pytest

from bastion import CommandFailed  # noqa: F401

LIMITS = {"lockout_failures": 3, "lockout_source_failures": 8, "lockout_window": 600,
          "lockout_time": 600, "lockout_max_time": 3600}


@pytest.fixture
def lk(bastion_factory, pg, maria):
    b = bastion_factory(listeners=("postgres", "mysql"), conf={"limits": dict(LIMITS)})
    b.pg_ready(pg, start=False)
    pg_token = b.token
    b.mysql_ready(maria, start=False)
    b.pg_token, b.my_token = pg_token, b.token
    b.start()
    return b


WRONG = "sbt_" + "a" * 32


def _pg_err(b, token, user="alice"):
    r = b.psql("SELECT 1", user=user, token=token)
    return r.returncode, r.stderr.strip()


def _my(b, token, user="alice", src="127.0.0.1"):
    """(ok, error code, message) of a pymysql login from src."""
    import pymysql
    try:
        c = pymysql.connect(host=b.host, port=b.mysql_port, user=user, password=token,
                            database="appdb", connect_timeout=10, bind_address=src)
    except pymysql.err.MySQLError as e:
        return False, e.args[0], e.args[1] if len(e.args) > 1 else ""
    c.close()
    return True, 0, ""


def _lockouts(b):
    return [json.loads(x) for x in b.ctl("lockouts", "--json").stdout.splitlines()]


def test_user_source_lock_no_oracle_and_other_source_ok(lk):
    b = lk
    # wrong tokens: the answer a client gets for a wrong token
    wrong = [_pg_err(b, WRONG) for _ in range(3)]
    assert all(rc != 0 for rc, _ in wrong)
    assert len({e for _, e in wrong}) == 1, wrong
    # now locked: the right token gets exactly the same answer
    rc, err = _pg_err(b, b.pg_token)
    assert rc != 0 and err == wrong[0][1], (err, wrong[0][1])
    rec = b.audit_records("login_failed")[-1]
    assert rec["error"].startswith("locked out"), rec
    # across frontends: MySQL from the same source is locked too, and its
    # answer equals a wrong token's
    ok, code, msg = _my(b, b.my_token)
    ok2, code2, msg2 = _my(b, WRONG)
    assert not ok and not ok2 and (code, msg) == (code2, msg2) == (code, msg)
    assert code == 1045
    # the same user from another source still logs in: no user-wide lock
    ok, code, msg = _my(b, b.my_token, src="127.0.0.2")
    assert ok, (code, msg)
    # listed, audited
    rows = _lockouts(b)
    mine = [r for r in rows if r["user"] == "alice" and r["source"] == "127.0.0.1"]
    assert mine and mine[0]["locked"] and mine[0]["scope"] == "user+source", rows
    start = b.wait_audit("admin", verb="lockout start", timeout=5)[0]
    assert start["user"] == "alice" and start["client"] == "127.0.0.1", start
    assert "alice" in b.ctl("lockouts").stdout


def test_source_ceiling_across_users(lk):
    b = lk
    # 8 failures from one source spread over users (2 each: under the
    # per-user threshold of 3)
    for u in ("u1", "u2", "u3", "u4"):
        for _ in range(2):
            ok, code, _ = _my(b, WRONG, user=u)
            assert not ok and code == 1045
    ok, code, _ = _my(b, b.my_token)
    assert not ok and code == 1045, "the source's ceiling must hold for alice too"
    rc, _ = _pg_err(b, b.pg_token)
    assert rc != 0
    ok, code, msg = _my(b, b.my_token, src="127.0.0.2")
    assert ok, (code, msg)
    src = [r for r in _lockouts(b) if r["scope"] == "source"]
    assert src and src[0]["source"] == "127.0.0.1" and src[0]["locked"]
    # clear the source: alice gets in again from it
    r = b.ctl("lockouts", "clear", "127.0.0.1")
    assert "cleared" in r.stdout
    rc, err = _pg_err(b, b.pg_token)
    assert rc == 0, err
    assert b.audit_records("admin", verb="lockouts clear")


def test_restart_keeps_counters_and_clear_lifts(lk):
    b = lk
    for _ in range(2):
        assert _pg_err(b, WRONG)[0] != 0
    b.stop()
    b.start()
    # the third failure after a restart still reaches the threshold
    assert _pg_err(b, WRONG)[0] != 0
    assert _pg_err(b, b.pg_token)[0] != 0
    b.stop()
    b.start()
    assert _pg_err(b, b.pg_token)[0] != 0, "a lock survives a restart"
    b.ctl("lockouts", "clear", "alice")
    rc, err = _pg_err(b, b.pg_token)
    assert rc == 0, err
    assert not [r for r in _lockouts(b) if r["user"] == "alice"]


def test_success_resets_user_counter(lk):
    b = lk
    for _ in range(2):
        assert _pg_err(b, WRONG)[0] != 0
    assert _pg_err(b, b.pg_token)[0] == 0
    for _ in range(2):
        assert _pg_err(b, WRONG)[0] != 0
    assert _pg_err(b, b.pg_token)[0] == 0, "the count started over after a success"


def test_unknown_user_counts_and_locks_alike(lk):
    """Guessing names is guessing too: an unknown user's failures lock that
    (name, source) pair the same way and look the same."""
    b = lk
    errs = {_pg_err(b, WRONG, user="nosuch")[1] for _ in range(4)}
    assert len(errs) == 1
    assert [r for r in _lockouts(b) if r["user"] == "nosuch" and r["locked"]]


def test_lock_ends_and_is_audited(bastion_factory, pg):
    b = bastion_factory(conf={"limits": {"lockout_failures": 2, "lockout_time": 2,
                                         "lockout_source_failures": 0}})
    b.pg_ready(pg)
    for _ in range(2):
        assert b.psql("SELECT 1", token=WRONG).returncode != 0
    assert b.psql("SELECT 1").returncode != 0
    b.wait_audit("admin", verb="lockout start", timeout=5)
    b.wait_audit("admin", verb="lockout end", timeout=8)
    assert b.psql("SELECT 1").returncode == 0
    # the next lock in a row is twice as long (exponential back-off)
    for _ in range(2):
        assert b.psql("SELECT 1", token=WRONG).returncode != 0
    rows = [json.loads(x) for x in b.ctl("lockouts", "--json").stdout.splitlines()]
    assert rows and rows[0]["locks"] == 1  # a success in between reset the run
    for _ in range(2):
        b.ctl("lockouts", "clear", "alice")


def test_backoff_doubles(bastion_factory, pg):
    import sqlite3
    b = bastion_factory(conf={"limits": {"lockout_failures": 1, "lockout_time": 1,
                                         "lockout_source_failures": 0}})
    b.pg_ready(pg)
    lengths = []
    for i in range(3):
        assert b.psql("SELECT 1", token=WRONG).returncode != 0
        db = sqlite3.connect(str(b.state_db))
        at, until, locks = db.execute(
            "SELECT locked_at, locked_until, locks FROM lockouts WHERE user = 'alice'").fetchone()
        db.close()
        lengths.append(until - at)
        assert locks == i + 1
        time.sleep(until - time.time() + 0.3)
    assert lengths == [1, 2, 4], lengths
