"""PostgreSQL frontend, first slice: token login, a refused login, a denied
statement that leaves the session usable, and the audit records of each.
Contract: DESIGN.md (audit fields, SQLSTATE 42501, "sqlbastion: blocked by rule")."""

import re
import secrets

import psycopg2
import pytest

from bastion import random_token_like

RFC3339_US_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|\+00:00)$")
CLIENT = re.compile(r"^127\.0\.0\.1:\d+$")
# Always written (null when unknown): ts event session user client protocol
# seq hash. Other fields are left out when they do not apply (no rule matched,
# no objects), so each test asks only for what its event must carry.
ALWAYS = ("ts", "event", "session", "user", "client", "protocol", "seq", "hash")
SESSION_FIELDS = ALWAYS + ("asset", "account", "database")
QUERY_FIELDS = SESSION_FIELDS + ("statement", "fingerprint", "verb", "decision")


def assert_fields(rec, fields):
    missing = [f for f in fields if f not in rec]
    assert not missing, f"{rec.get('event')} record lacks {missing}: {rec}"
    assert RFC3339_US_UTC.match(rec["ts"]), rec["ts"]
    assert re.fullmatch(r"[0-9a-f]{64}", rec["hash"]), rec["hash"]


def make_victim(pg):
    """A throwaway table owned by app, so a proxy that wrongly lets DROP
    through cannot break the shared `accounts` table."""
    name = "victim_" + secrets.token_hex(4)
    pg.sql(f"CREATE TABLE {name} (id int); ALTER TABLE {name} OWNER TO app;", dbname="appdb")
    return name


def table_exists(pg, name):
    return pg.sql(f"SELECT to_regclass('public.{name}') IS NOT NULL", dbname="appdb").strip() == "t"


def test_login_and_select_1(pg_ready):
    b = pg_ready
    assert b.token.startswith("sbt_")
    r = b.psql("SELECT 1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"

    login = b.wait_audit("login", user="alice")[0]
    assert_fields(login, SESSION_FIELDS)
    assert login["protocol"] == "postgres"
    assert login["asset"] == "demo-pg"
    assert login["account"] == "app"
    assert login["database"] == "appdb"
    assert CLIENT.match(login["client"]), login["client"]

    q = b.wait_audit("query", where=lambda r: r.get("statement", "").strip() == "SELECT 1")[0]
    assert_fields(q, QUERY_FIELDS)
    assert q["session"] == login["session"]
    assert q["decision"] == "allow"
    assert q["verb"] == "SELECT"
    assert q["user"] == "alice"


def test_select_rows_reach_client_and_audit(pg_ready, pg):
    b = pg_ready
    r = b.psql("SELECT owner FROM accounts ORDER BY id;")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [o for _, o, _ in pg.accounts_rows]
    q = b.wait_audit("query", where=lambda r: "FROM accounts" in (r.get("statement") or ""))[0]
    assert "accounts" in (q.get("objects") or ""), q
    assert q["fingerprint"]
    end = b.wait_audit("query_end", session=q["session"],
                       where=lambda r: r.get("rows") == len(pg.accounts_rows))[0]
    assert end["duration_us"] is not None and end["duration_us"] >= 0
    b.wait_audit("session_end", session=q["session"])


def test_wrong_token_refused(pg_ready):
    b = pg_ready
    bad = random_token_like()
    r = b.psql("SELECT 1", token=bad)
    assert r.returncode != 0
    assert "password authentication failed" in r.stderr, r.stderr

    rec = b.wait_audit("login_failed", user="alice")[0]
    assert_fields(rec, ALWAYS)
    reason = rec.get("error") or rec.get("reason")
    assert reason, f"login_failed without a reason: {rec}"
    # The reason is for the auditor, not the client.
    assert reason not in r.stderr
    # Neither the wrong token nor the right one is written anywhere.
    for secret in (bad, b.token):
        assert secret not in b.audit_jsonl.read_text()
        assert secret not in b.log_text()


def test_unknown_user_refused_like_bad_token(pg_ready):
    b = pg_ready
    r = b.psql("SELECT 1", user="mallory", token=random_token_like())
    assert r.returncode != 0
    assert "password authentication failed" in r.stderr, r.stderr
    assert "does not exist" not in r.stderr  # user existence is not revealed
    b.wait_audit("login_failed", user="mallory")


def test_drop_blocked_session_continues_psql(pg_ready, pg):
    b = pg_ready
    victim = make_victim(pg)
    script = f"SELECT 'before';\nDROP TABLE {victim};\nSELECT 'after';\n"
    r = b.psql(script, on_error_stop=False, verbose=True)
    assert r.returncode == 0, r.stderr  # psql goes on after an error
    assert r.stdout.split() == ["before", "after"], (r.stdout, r.stderr)
    assert "42501" in r.stderr, r.stderr
    assert "sqlbastion: blocked by rule" in r.stderr, r.stderr
    assert table_exists(pg, victim)

    deny = b.wait_audit("query", decision="deny",
                        where=lambda r: victim in (r.get("statement") or ""))[0]
    assert_fields(deny, QUERY_FIELDS + ("rule",))
    assert deny["rule"], deny
    assert "DROP" in (deny.get("verb") or ""), deny
    after = b.wait_audit("query", decision="allow",
                         where=lambda r: "'after'" in (r.get("statement") or ""))[0]
    assert after["session"] == deny["session"]
    assert after["seq"] > deny["seq"]


def test_drop_blocked_session_continues_psycopg2(pg_ready, pg):
    b = pg_ready
    victim = make_victim(pg)
    conn = b.connect()
    with conn.cursor() as cur:
        with pytest.raises(psycopg2.Error) as e:
            cur.execute(f"DROP TABLE {victim}")
        assert e.value.pgcode == "42501"
        assert e.value.diag.message_primary.startswith("sqlbastion: blocked by rule '"), \
            e.value.diag.message_primary
        cur.execute("SELECT count(*) FROM accounts")
        assert cur.fetchone()[0] == len(pg.accounts_rows)
    assert table_exists(pg, victim)


def test_audit_chain_verifies(pg_ready):
    b = pg_ready
    assert b.psql("SELECT 1; SELECT 2;").returncode == 0
    b.wait_audit("session_end")
    recs = b.audit_records()
    seqs = [r["seq"] for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    # Admin changes made with sqlbastionctl are events too.
    assert any(r["event"] == "admin" for r in recs)
    r = b.ctl("audit", "verify")
    assert r.returncode == 0


def test_secrets_not_in_state_or_logs(pg_ready, pg):
    b = pg_ready
    assert b.psql("SELECT 1").returncode == 0
    b.wait_audit("session_end")
    paths = sorted(b.state_db.parent.glob(b.state_db.name + "*"))  # with -wal/-shm
    for path in paths + [b.audit_jsonl, b.log_path]:
        data = path.read_bytes()
        assert b.token.encode() not in data, path
        assert pg.passwords["app"].encode() not in data, path
