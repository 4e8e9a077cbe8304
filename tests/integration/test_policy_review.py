"""The review workflow end to end (README "Policy", "The review workflow").

A rule file with `review hold-deletes verb=DELETE object=orders`; real psql,
pgbench (extended protocol, named prepared statements) and the mariadb CLI
through the proxy; the real sqlbastionctl approvals / approve / reject; the
servers checked directly to prove what ran and what did not.

The approver is the OS user running the tests (root in CI): sqlbastionctl
names the user of its effective uid (SUDO_USER when run through sudo, which
these tests clear). The requester is the bastion user alice, except in the
self-approval test, where a bastion user named like the OS user asks.
"""

import hashlib
import json
import os
import pwd
import re
import secrets
import sqlite3

import pytest

from bastion import PG_BIN, client_env, run

RULES = """\
# tests/integration/test_policy_review.py
review hold-deletes verb=DELETE object=orders
"""

HELD = re.compile(r"sqlbastion: held for review by rule 'hold-deletes' \(approval (\d+)\)")

# sqlbastionctl takes SUDO_USER as the approver when run as root through
# sudo; the tests expect the plain OS user.
CTL_ENV = {"SUDO_USER": ""}


def os_user():
    """The name sqlbastionctl records: the user of the effective uid."""
    return pwd.getpwuid(os.geteuid()).pw_name


@pytest.fixture
def review_rules(tmp_path):
    path = tmp_path / "review.rules"
    path.write_text(RULES)
    return path


@pytest.fixture
def rv(bastion_factory, pg, review_rules):
    """alice on demo-pg/app with the review rule file, proxy started."""
    b = bastion_factory(policy=review_rules)
    b.pg_ready(pg)
    return b


def pg_orders(pg):
    """A fresh schema with table orders (ids 1..5) owned by app; its name."""
    schema = "rv_" + secrets.token_hex(4)
    r = pg.psql(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.orders (id int PRIMARY KEY);"
                f" INSERT INTO {schema}.orders SELECT generate_series(1, 5);")
    assert r.returncode == 0, r.stderr
    return schema


def pg_count(pg, schema):
    r = pg.psql(f"SELECT count(*) FROM {schema}.orders")
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


def held_id(stderr):
    m = HELD.search(stderr)
    assert m, f"no hold message in {stderr!r}"
    return int(m.group(1))


def approvals(b, *args):
    """`approvals --json [args]` as a dict id -> record."""
    out = b.ctl("approvals", "--json", *args, env=CTL_ENV).stdout
    recs = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["id"]: r for r in recs}


def set_times(b, aid, **cols):
    """Move a request's times back (created, decided) in the state DB, as
    if the clock had moved on; the daemon and sqlbastionctl see it at their
    next query (WAL, no restart)."""
    db = sqlite3.connect(str(b.state_db), timeout=10)
    try:
        for col, delta in cols.items():
            assert col in ("created", "decided")
            db.execute(f"UPDATE approvals SET {col} = {col} - ? WHERE id = ?", (delta, aid))
        db.commit()
    finally:
        db.close()


def query_records(b, aid):
    return [r for r in b.audit_records("query") if r.get("approval") == aid]


# ---------------------------------------------------------------- PostgreSQL


def test_review_hold_approve_run_once(rv, pg):
    b = rv
    schema = pg_orders(pg)
    sql = f"DELETE FROM {schema}.orders WHERE id <= 2"

    # Held: the client gets 42501 with the rule and the approval id, and
    # the session stays usable (psql sends the SELECT on the same session).
    r = b.psql(f"{sql};\nSELECT count(*) FROM {schema}.orders;", on_error_stop=False,
               verbose=True)
    assert "ERROR:  42501: sqlbastion: held for review by rule 'hold-deletes' (approval " \
        in r.stderr, r.stderr
    aid = held_id(r.stderr)
    assert r.stdout.strip() == "5"
    assert pg_count(pg, schema) == 5  # nothing deleted on the server

    hold = b.wait_audit("query", approval=aid)[0]
    assert hold["decision"] == "review"
    assert hold["rule"] == "hold-deletes"
    assert hold["verb"] == "DELETE"
    assert hold["user"] == "alice"
    stmt = hold["statement"]  # the exact text psql sent
    assert stmt.rstrip(";") == sql

    # The same statement again while pending: the same request.
    r = b.psql(sql + ";")
    assert r.returncode != 0 and held_id(r.stderr) == aid

    # Listed with who, where and the text; --json has it whole.
    table = b.ctl("approvals", env=CTL_ENV).stdout
    row = [line for line in table.splitlines() if line.split()[:1] == [str(aid)]]
    assert row, table
    assert "alice" in row[0] and "demo-pg/app" in row[0] and "hold-deletes" in row[0]
    assert "pending" in row[0] and sql in row[0]
    rec = approvals(b)[aid]
    assert rec["status"] == "pending"
    assert (rec["user"], rec["asset"], rec["account"], rec["protocol"]) == \
        ("alice", "demo-pg", "app", "postgres")
    assert rec["rule"] == "hold-deletes"
    assert rec["statement"] == stmt
    assert rec["sha256"] == hashlib.sha256(stmt.encode()).hexdigest()
    assert rec["session"] == hold["session"]
    assert rec["approver"] is None and rec["expires"]
    assert len(approvals(b)) == 1  # one request, however often it was sent

    # Approve, as the OS user running the tests.
    r = b.ctl("approve", str(aid), env=CTL_ENV)
    assert f"approval {aid} approved: alice may run it once on demo-pg/app" in r.stdout
    adm = b.wait_audit("admin", verb="approve")[0]
    assert adm["user"] == os_user()
    assert f"approval:{aid}" in adm["objects"] and "user:alice" in adm["objects"]
    assert adm["asset"] == "demo-pg"
    assert approvals(b) == {}  # no longer pending
    assert approvals(b, "--all")[aid]["status"] == "approved"
    assert approvals(b, "--all")[aid]["approver"] == os_user()

    # Sent again: runs, once.
    r = b.psql(sql + ";")
    assert r.returncode == 0, r.stderr
    assert pg_count(pg, schema) == 3
    recs = b.wait_audit("query", approval=aid, count=3)
    assert [x["decision"] for x in recs] == ["review", "review", "allow"]
    assert all(x["rule"] == "hold-deletes" for x in recs)
    ran = recs[-1]
    end = b.wait_audit("query_end", session=ran["session"], query_id=ran["query_id"])[0]
    assert end["rows"] == 2
    done = approvals(b, "--all")[aid]
    assert done["status"] == "used" and done["used_session"] == ran["session"]
    assert done["used"]

    # A third time: held again, as a new request; nothing more deleted.
    r = b.psql(sql + ";")
    assert r.returncode != 0
    aid2 = held_id(r.stderr)
    assert aid2 != aid
    assert pg_count(pg, schema) == 3
    assert approvals(b)[aid2]["status"] == "pending"

    # A used approval cannot be approved again.
    r = b.ctl("approve", str(aid), check=False, env=CTL_ENV)
    assert r.returncode == 1 and "is used" in r.stderr, r.stderr

    # grep finds both the hold and the run; the chain is intact.
    lines = [line for line in b.audit_jsonl.read_text().splitlines()
             if f'"approval":{aid},' in line]
    assert len(lines) == 3
    b.ctl("audit", "verify")


def test_review_reject_and_refusals(rv, pg):
    b = rv
    schema = pg_orders(pg)
    sql = f"DELETE FROM {schema}.orders WHERE id = 5"
    aid = held_id(b.psql(sql).stderr)

    r = b.ctl("reject", str(aid), env=CTL_ENV)
    assert f"approval {aid} rejected" in r.stdout
    adm = b.wait_audit("admin", verb="reject")[0]
    assert f"approval:{aid}" in adm["objects"]
    rec = approvals(b, "--all")[aid]
    assert rec["status"] == "rejected" and rec["approver"] == os_user()
    assert aid not in approvals(b)

    # A rejected request does not run; sent again it is a new request.
    r = b.psql(sql)
    assert r.returncode != 0
    aid2 = held_id(r.stderr)
    assert aid2 != aid
    assert pg_count(pg, schema) == 5

    # Refusals: decided already, unknown id, bad id, no id.
    r = b.ctl("approve", str(aid), check=False, env=CTL_ENV)
    assert r.returncode == 1 and f"approval {aid} is already rejected" in r.stderr, r.stderr
    r = b.ctl("reject", str(aid), check=False, env=CTL_ENV)
    assert r.returncode == 1 and "already rejected" in r.stderr
    r = b.ctl("approve", "999999", check=False, env=CTL_ENV)
    assert r.returncode == 1 and "no approval 999999" in r.stderr
    assert b.ctl("approve", "abc", check=False, env=CTL_ENV).returncode == 2
    assert b.ctl("approve", check=False, env=CTL_ENV).returncode == 2
    assert b.ctl("approvals", "--bogus", check=False, env=CTL_ENV).returncode == 2
    # No audit record for what was refused.
    assert len(b.audit_records("admin", verb="approve")) == 0
    assert len(b.audit_records("admin", verb="reject")) == 1
    assert approvals(b)[aid2]["status"] == "pending"


def test_review_self_approval_refused(rv, pg):
    b = rv
    me = os_user()
    b.add_user(me)
    b.grant(me, "demo-pg/app", "write")
    token = b.issue_token(me, "demo-pg/app")
    schema = pg_orders(pg)
    sql = f"DELETE FROM {schema}.orders WHERE id = 1"
    r = b.psql(sql, user=me, token=token)
    aid = held_id(r.stderr)
    assert approvals(b)[aid]["user"] == me

    r = b.ctl("approve", str(aid), check=False, env=CTL_ENV)
    assert r.returncode == 1, r.stdout
    assert f"requested by {me}: someone else must approve it" in r.stderr, r.stderr
    assert approvals(b)[aid]["status"] == "pending"
    assert b.audit_records("admin", verb="approve") == []
    r = b.psql(sql, user=me, token=token)
    assert held_id(r.stderr) == aid
    assert pg_count(pg, schema) == 5

    # Withdrawing one's own request is allowed.
    b.ctl("reject", str(aid), env=CTL_ENV)
    assert approvals(b, "--all")[aid]["status"] == "rejected"


def test_review_expiry(rv, pg):
    b = rv
    schema = pg_orders(pg)
    sql = f"DELETE FROM {schema}.orders WHERE id = 3"

    # A request not decided within the hour expires.
    aid = held_id(b.psql(sql).stderr)
    set_times(b, aid, created=3601)
    assert aid not in approvals(b)
    assert approvals(b, "--all")[aid]["status"] == "expired"
    r = b.ctl("approve", str(aid), check=False, env=CTL_ENV)
    assert r.returncode == 1 and "expired" in r.stderr, r.stderr
    # Sent again: a new request.
    aid2 = held_id(b.psql(sql).stderr)
    assert aid2 != aid

    # An approval not used within the hour expires: the statement is held.
    b.ctl("approve", str(aid2), env=CTL_ENV)
    set_times(b, aid2, decided=3601)
    r = b.psql(sql)
    assert r.returncode != 0
    aid3 = held_id(r.stderr)
    assert aid3 not in (aid, aid2)
    assert pg_count(pg, schema) == 5
    assert approvals(b, "--all")[aid2]["status"] == "expired"

    # Within the hour it runs.
    b.ctl("approve", str(aid3), env=CTL_ENV)
    set_times(b, aid3, decided=3000)
    r = b.psql(sql)
    assert r.returncode == 0, r.stderr
    assert pg_count(pg, schema) == 4


def pgbench(b, script, mode, transactions):
    """pgbench through the proxy with a custom script: -M extended (unnamed
    statement, Parse each time) or prepared (Parse once, then Bind/Execute)."""
    argv = [PG_BIN / "pgbench", "-n", "-M", mode, "-t", str(transactions), "-f", script,
            "-h", b.host, "-p", str(b.port), "-U", "alice", "appdb"]
    env = client_env({"PGPASSWORD": b.token})
    return run(argv, check=False, env=env, timeout=60)


def test_review_extended_protocol(rv, pg, tmp_path):
    b = rv
    schema = pg_orders(pg)
    sql = f"DELETE FROM {schema}.orders WHERE id > 3"
    script = tmp_path / "delete.sql"
    script.write_text(sql + "\n")

    # Held at Parse.
    r = pgbench(b, script, "prepared", 1)
    assert r.returncode != 0
    aid = held_id(r.stdout + r.stderr)
    assert pg_count(pg, schema) == 5
    b.ctl("approve", str(aid), env=CTL_ENV)

    # Parse uses the approval; the named statement then runs once: its
    # second Execute (next transaction) needs an approval of its own and is
    # held as a new request.
    r = pgbench(b, script, "prepared", 2)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    aid2 = held_id(out)
    assert aid2 != aid
    assert pg_count(pg, schema) == 3
    recs = b.wait_audit("query", approval=aid, count=2)
    assert [x["decision"] for x in recs] == ["review", "allow"]
    held2 = b.wait_audit("query", approval=aid2)[0]
    assert held2["decision"] == "review"
    assert approvals(b, "--all")[aid]["status"] == "used"

    # Unnamed statements (Parse at every Execute): one approval, one run.
    b.ctl("approve", str(aid2), env=CTL_ENV)
    pg.psql(f"INSERT INTO {schema}.orders VALUES (4), (5)")
    r = pgbench(b, script, "extended", 1)
    assert r.returncode == 0, r.stdout + r.stderr
    assert pg_count(pg, schema) == 3
    assert approvals(b, "--all")[aid2]["status"] == "used"


# ---------------------------------------------------------------- MySQL


def test_review_mysql(bastion_factory, maria, review_rules):
    b = bastion_factory(policy=review_rules, listeners=("postgres", "mysql"))
    b.mysql_ready(maria)
    table = "orders"
    db = "rv_" + secrets.token_hex(4)
    maria.sql(f"CREATE DATABASE {db}; GRANT ALL ON {db}.* TO 'app'@'%';"
              f" CREATE TABLE {db}.{table} (id INT PRIMARY KEY);"
              f" INSERT INTO {db}.{table} VALUES (1),(2),(3),(4),(5);")

    def count():
        return int(maria.value(f"SELECT count(*) FROM {db}.{table}"))

    sql = f"DELETE FROM {db}.{table} WHERE id <= 2"
    # Held: ERR 1227 (42000) with the message; the session goes on.
    r = b.mysql(f"{sql};\nSELECT 41 + 1;", args=["--force"])
    assert "ERROR 1227 (42000)" in r.stderr, r.stderr
    aid = held_id(r.stderr)
    assert r.stdout.strip() == "42"
    assert count() == 5
    hold = b.wait_audit("query", approval=aid)[0]
    assert hold["decision"] == "review" and hold["protocol"] == "mysql"
    rec = approvals(b)[aid]
    assert rec["protocol"] == "mysql" and rec["asset"] == "demo-mysql"
    assert rec["statement"] == hold["statement"]

    b.ctl("approve", str(aid), env=CTL_ENV)
    r = b.mysql(sql)
    assert r.returncode == 0, r.stderr
    assert count() == 3
    ran = b.wait_audit("query", approval=aid, count=2)[-1]
    assert ran["decision"] == "allow" and ran["rule"] == "hold-deletes"

    # Once: the next one is held again.
    r = b.mysql(sql)
    assert "ERROR 1227 (42000)" in r.stderr
    assert held_id(r.stderr) != aid
    assert count() == 3
