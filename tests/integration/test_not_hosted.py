"""Accounts that are not hosted (`account add ... --not-hosted`, issue 14).

The proxy holds no password for such an account: the engineer gives the
database password to the database itself, which only the paths that can
carry it end to end allow (the SSH entry, TNS). On the direct PostgreSQL
and MySQL ports the one password field holds the token, so a good token for
a not-hosted account is refused with a message that says what to do, and
the audit says why. """

import psycopg2
import pymysql
import pytest

from bastion import CommandFailed


def _setup(b, pg, *, hosted=False):
    b.add_user("alice")
    b.add_asset("demo-pg", host=pg.host, port=pg.port)
    if hosted:
        b.add_account("demo-pg/app", username="app", password=pg.passwords["app"])
    else:
        b.add_account("demo-pg/app", username="app", not_hosted=True)
    b.grant("alice", "demo-pg/app", "write")
    return b.issue_token("alice", "demo-pg/app")


def test_ctl_records_and_lists_not_hosted(bastion, pg):
    out = _setup(bastion, pg)
    assert out
    listing = bastion.ctl("account", "list").stdout
    line = next(l for l in listing.splitlines() if l.startswith("demo-pg/app"))
    assert line.split()[-1] == "not-hosted"
    # Nothing to check the account with: said plainly, nothing else tried.
    r = bastion.ctl("asset", "check", "demo-pg/app", check=False)
    assert r.returncode != 0
    assert "not hosted" in (r.stderr + r.stdout)
    rec = [e for e in bastion.audit_records("admin") if e.get("verb") == "account add"]
    assert rec and "secret:not-hosted" in rec[-1].get("objects", "")


def test_secret_options_are_exclusive(bastion, pg):
    bastion.add_asset("demo-pg", host=pg.host, port=pg.port)
    r = bastion.ctl("account", "add", "demo-pg/app", "--username", "app", "--not-hosted",
                    "--secret-cmd", "echo x", check=False)
    assert r.returncode == 2
    assert "exactly one of" in r.stderr


def test_direct_postgres_port_refuses_with_clear_message(bastion, pg):
    token = _setup(bastion, pg)
    bastion.start()
    with pytest.raises(psycopg2.OperationalError) as ei:
        psycopg2.connect(host=bastion.host, port=bastion.port, user="alice",
                         password=token, dbname="appdb", sslmode="disable",
                         connect_timeout=10)
    assert "not hosted" in str(ei.value)
    assert "SSH entry" in str(ei.value)
    ev = bastion.wait_audit("login_failed")[0]
    assert "not hosted" in ev["error"] and "demo-pg/app" in ev["error"]
    assert token not in bastion.audit_jsonl.read_text()


def test_direct_mysql_port_refuses_with_clear_message(my_bastion, maria):
    b = my_bastion
    b.add_user("alice")
    b.add_asset("demo-mysql", host=maria.host, port=maria.port, protocol="mysql")
    b.add_account("demo-mysql/app", username="app", not_hosted=True)
    b.grant("alice", "demo-mysql/app", "write")
    token = b.issue_token("alice", "demo-mysql/app")
    b.start()
    with pytest.raises(pymysql.err.OperationalError) as ei:
        pymysql.connect(host=b.host, port=b.mysql_port, user="alice", password=token,
                        database="appdb", connect_timeout=10)
    assert "not hosted" in str(ei.value)
    ev = b.wait_audit("login_failed")[0]
    assert "not hosted" in ev["error"]


def test_account_set_switches_between_hosted_and_not(bastion, pg):
    token = _setup(bastion, pg)
    bastion.start()
    bastion.ctl("account", "set", "demo-pg/app", "--password-stdin",
                input=pg.passwords["app"] + "\n")
    conn = psycopg2.connect(host=bastion.host, port=bastion.port, user="alice",
                            password=token, dbname="appdb", sslmode="disable",
                            connect_timeout=10)
    with conn.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == "app"
    conn.close()
    bastion.ctl("account", "set", "demo-pg/app", "--not-hosted")
    with pytest.raises(psycopg2.OperationalError) as ei:
        psycopg2.connect(host=bastion.host, port=bastion.port, user="alice",
                         password=token, dbname="appdb", sslmode="disable",
                         connect_timeout=10)
    assert "not hosted" in str(ei.value)
    # The sealed password went with the switch: nothing left to fetch.
    r = bastion.ctl("asset", "check", "demo-pg/app", check=False)
    assert r.returncode != 0 and "not hosted" in (r.stderr + r.stdout)


def test_hosted_accounts_unchanged(pg_ready):
    assert pg_ready.psql("SELECT current_user").stdout.strip() == "app"
    listing = pg_ready.ctl("account", "list").stdout
    line = next(l for l in listing.splitlines() if l.startswith("demo-pg/app"))
    assert line.split()[-1] == "stored"


def test_bad_usage_named(bastion):
    with pytest.raises(CommandFailed):
        bastion.ctl("account", "add", "nope/app", "--username", "app", "--not-hosted")
