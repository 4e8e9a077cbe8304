"""`sqlbastionctl audit search` through the real CLI, as an auditor uses it:
every filter (user, asset, account, session, verb, decision, event, time
range, text) narrows the answer to exactly the records it names, and --json
gives the records themselves. Traffic from two users on two assets through
a real PostgreSQL 15 and psql."""

import json
import time

import pytest


@pytest.fixture
def two_users(bastion, pg):
    """alice: demo-pg/app (write); bob: demo-pg2/app_md5 (read). alice runs
    a SELECT, a refused DROP and an INSERT; bob a SELECT and a refused write."""
    b = bastion
    b.add_user("alice")
    b.add_user("bob")
    b.add_asset("demo-pg", host=pg.host, port=pg.port, tls="disable")
    b.add_asset("demo-pg2", host=pg.host, port=pg.port, tls="disable",
                extra=("--allow-weak-auth", "yes"))  # app_md5: md5 in clear
    b.add_account("demo-pg/app", username="app", password=pg.passwords["app"])
    b.add_account("demo-pg2/app_md5", username="app_md5", password=pg.passwords["app_md5"])
    b.grant("alice", "demo-pg/app", "write")
    b.grant("bob", "demo-pg2/app_md5", "read")
    alice = b.issue_token("alice", "demo-pg/app")
    bob = b.issue_token("bob", "demo-pg2/app_md5")
    b.start()
    b.psql("CREATE TABLE IF NOT EXISTS search_t (id int)", user="alice", token=alice)
    b.psql("SELECT 'alice-marker-1'", user="alice", token=alice)
    b.psql("DROP TABLE search_t", user="alice", token=alice, on_error_stop=False)
    b.psql("INSERT INTO search_t VALUES (1)", user="alice", token=alice)
    b.psql("SELECT 'bob-marker-2'", user="bob", token=bob)
    b.psql("INSERT INTO search_t VALUES (2)", user="bob", token=bob, on_error_stop=False)
    b.wait_audit("session_end", count=6)
    return b


def search(b, *args):
    """audit search --json: the records, one JSON object per line."""
    out = b.ctl("audit", "search", "--json", *args).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def statements(recs):
    return sorted(r.get("statement") for r in recs if r.get("event") == "query")


def test_filters_narrow_to_exactly_what_they_name(two_users):
    b = two_users
    everything = b.audit_records()
    by_file = lambda **m: [r for r in everything if all(r.get(k) == v for k, v in m.items())]

    for args, match in [(("--user", "bob"), {"user": "bob"}),
                        (("--asset", "demo-pg2"), {"asset": "demo-pg2"}),
                        (("--account", "app_md5"), {"account": "app_md5"}),
                        (("--decision", "deny"), {"decision": "deny"}),
                        (("--verb", "INSERT"), {"verb": "INSERT"}),
                        (("--event", "login"), {"event": "login"})]:
        got = search(b, *args)
        want = by_file(**match)
        assert want, f"the fixture made no record with {match}"
        assert sorted(r["seq"] for r in got) == sorted(r["seq"] for r in want), args

    # filters combine: alice's refused statements are her DROP only
    got = search(b, "--user", "alice", "--decision", "deny")
    assert statements(got) == ["DROP TABLE search_t"]
    assert got[0]["rule"]
    # bob's refused INSERT: the read grant
    assert statements(search(b, "--user", "bob", "--decision", "deny")) == [
        "INSERT INTO search_t VALUES (2)"]

    # --session: one session's records, login to session_end
    sess = by_file(event="query", statement="SELECT 'alice-marker-1'")[0]["session"]
    got = search(b, "--session", str(sess))
    assert {r["session"] for r in got} == {sess}
    assert [r["event"] for r in got][0] == "login" and got[-1]["event"] == "session_end"

    # text
    got = search(b, "--grep", "bob-marker")
    assert statements(got) == ["SELECT 'bob-marker-2'"]


def test_time_range(two_users):
    b = two_users
    assert search(b, "--since", "-1h", "--grep", "alice-marker")
    assert not search(b, "--until", "2020-01-01", "--grep", "alice-marker")
    assert not search(b, "--since", "2999-01-01")
    time.sleep(1.1)
    b.psql("SELECT 'later-marker'", user="alice", token=b.tokens[("alice", "demo-pg/app")])
    b.wait_audit("query", statement="SELECT 'later-marker'")
    ts = b.audit_records("query", statement="SELECT 'later-marker'")[0]["ts"]
    got = search(b, "--since", ts[:19] + "Z")
    assert "SELECT 'later-marker'" in statements(got)
    assert "SELECT 'alice-marker-1'" not in statements(got)


def test_bad_filters_are_refused_with_a_reason(two_users):
    b = two_users
    for args in (("--session", "abc"), ("--since", "yesterday-ish"), ("--limit", "0")):
        r = b.ctl("audit", "search", *args, check=False)
        assert r.returncode != 0
        assert args[0] in r.stderr, r.stderr
