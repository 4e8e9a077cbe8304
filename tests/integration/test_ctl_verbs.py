"""sqlbastionctl verbs after their shared steps moved into one place
(proxy/ctl_steps.c, proxy/ctl_secret.c): every verb keeps its message, its
exit code, its audit record and its rollback.

Only the control plane runs here (no daemon, no database): the state DB and
the audit file are the ground truth, read back with the verbs' own listings
and with the audit file itself.
"""

import json
import os

import pytest


def _ctl(b, *args, input=None):
    r = b.ctl(*args, input=input, check=False)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture
def plane(bastion, tmp_path):
    """alice, asset a1 (postgres), account a1/app with a secret file, a
    read grant (id 1)."""
    b = bastion
    b.add_user("alice")
    b.add_asset("a1", host="127.0.0.1", port=1)
    secret = tmp_path / "app.secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    b.add_account("a1/app", username="app", secret_file=secret)
    b.grant("alice", "a1/app", "read")
    return b


# (args, exit code, a piece of stderr): each missing object, taken name and
# bad word gives the message it gave before the verbs shared their steps.
REFUSALS = [
    (("user", "add", "alice"), 1, "user alice already exists"),
    (("user", "add", "bad name!"), 2, "bad user name 'bad name!'"),
    (("user", "add", "bob", "--max-sessions", "x"), 2, "bad --max-sessions 'x'"),
    (("user", "add", "bob", "--source", "nonsense"), 2, "bad --source 'nonsense'"),
    (("user", "disable", "nobody"), 1, "no user nobody"),
    (("user", "remove", "nobody"), 1, "no user nobody"),
    (("user", "set", "nobody", "--max-sessions", "3"), 1, "no user nobody"),
    (("user", "set", "alice"), 2, "nothing to change"),
    (("user", "list", "extra"), 2, "unexpected argument 'extra'"),
    (("asset", "add", "a2", "--protocol", "postgres", "--port", "5432"), 2,
     "--host needs a host name or address"),
    (("asset", "add", "a2", "--protocol", "postgres", "--host", "h", "--port", "0"), 2,
     "--port needs a number from 1 to 65535"),
    (("asset", "add", "a2", "--protocol", "postgres", "--host", "h", "--port", "1",
      "--tls", "bogus"), 2, "--tls must be disable, prefer, require or verify-full"),
    (("asset", "add", "a1", "--protocol", "postgres", "--host", "h", "--port", "1"), 1,
     "asset a1 already exists"),
    (("asset", "set", "nothere", "--port", "5"), 1, "no asset nothere"),
    (("asset", "set", "a1"), 2, "nothing to change"),
    (("asset", "set", "a1", "--port", "70000"), 2, "--port needs a number"),
    (("asset", "set", "a1", "--host", ""), 2, "--host needs a host name or address"),
    (("asset", "remove", "nothere"), 1, "no asset nothere"),
    (("account", "add", "noslash", "--username", "u", "--secret-cmd", "true"), 2,
     "expected ASSET/ACCOUNT, not 'noslash'"),
    (("account", "add", "nothere/x", "--username", "u", "--secret-cmd", "true"), 1,
     "no asset nothere"),
    (("account", "add", "a1/x", "--username", "u"), 2, "give exactly one of"),
    (("account", "add", "a1/x", "--username", "u", "--secret-cmd", "a\nb"), 2,
     "--secret-cmd needs a one-line command"),
    (("account", "add", "a1/x", "--username", "u", "--secret-file", "/nonexistent/f"), 1,
     "secret file /nonexistent/f"),
    (("account", "add", "a1/app", "--username", "u", "--secret-cmd", "true"), 1,
     "account a1/app already exists"),
    (("account", "set", "a1/none", "--secret-cmd", "true"), 1, "no account a1/none"),
    (("account", "set", "a1/app", "--secret-cmd", "true", "--secret-file", "/x"), 2,
     "give exactly one of"),
    (("account", "remove", "a1/none"), 1, "no account a1/none"),
    (("grant", "add", "nobody", "a1/app", "--level", "read"), 1, "no user nobody"),
    (("grant", "add", "alice", "a1/none", "--level", "read"), 1, "no account a1/none"),
    (("grant", "revoke", "999"), 1, "no grant 999"),
    (("grant", "list", "nobody"), 1, "no user nobody"),
    (("token", "issue", "alice", "a1/none"), 1, "no account a1/none"),
    (("token", "issue", "nobody", "a1/app"), 1, "no user nobody"),
    (("token", "renew", "999"), 1, "no token 999"),
    (("token", "renew", "x"), 2, "bad token id 'x'"),
    (("token", "revoke", "999"), 1, "no token 999"),
    (("token", "revoke", "--user", "nobody"), 1, "no user nobody"),
    (("approve", "999"), 1, "no approval 999"),
    (("asset", "check", "a1/none"), 1, "no account a1/none"),
]


@pytest.mark.parametrize("args,code,msg", REFUSALS, ids=[" ".join(r[0]) for r in REFUSALS])
def test_refusal_keeps_message_and_code(plane, args, code, msg):
    before = len(plane.audit_records("admin"))
    rc, out, err = _ctl(plane, *args)
    assert rc == code, (rc, out, err)
    assert msg in err, err
    # A refused change writes no admin event.
    assert len(plane.audit_records("admin")) == before


def test_changes_record_their_objects(plane, tmp_path):
    b = plane
    secret = tmp_path / "rotated.secret"
    secret.write_text("again\n")
    secret.chmod(0o600)
    b.ctl("user", "add", "bob", "--max-sessions", "2")
    b.ctl("user", "set", "bob", "--source", "10.0.0.0/8")
    b.ctl("user", "disable", "bob")
    b.ctl("asset", "set", "a1", "--port", "2")
    b.ctl("account", "set", "a1/app", "--secret-file", str(secret))
    b.ctl("account", "add", "a1/cmd", "--username", "u", "--secret-cmd", "echo pw")
    tok = b.issue_token("alice", "a1/app")
    assert tok
    b.ctl("token", "revoke", "1")
    b.ctl("lockouts", "clear", "bob")
    b.ctl("grant", "revoke", "1")
    b.ctl("account", "remove", "a1/cmd")
    b.ctl("user", "remove", "bob")

    def last(verb):
        recs = b.audit_records("admin", verb=verb)
        assert recs, verb
        return recs[-1]

    assert last("user add")["objects"] == "user:bob"
    assert last("user set")["objects"] == "user:bob"
    assert last("user disable")["objects"] == "user:bob"
    r = last("asset set")
    assert (r["objects"], r["asset"]) == ("asset:a1", "a1")
    r = last("account set")
    assert r["objects"] == "account:a1/app,secret:file"
    assert (r["asset"], r["account"]) == ("a1", "app")
    # The secret's path and command never reach the record.
    assert "<redacted>" in r["statement"] and str(tmp_path) not in r["statement"]
    r = last("account add")
    assert r["objects"] == "account:a1/cmd,secret:cmd"
    assert "echo pw" not in r["statement"] and "<redacted>" in r["statement"]
    assert last("token issue")["objects"] == "token:1,user:alice,account:a1/app"
    assert last("token revoke")["objects"] == "token:1,user:alice,account:a1/app"
    assert last("lockouts clear")["objects"] == "user:bob,counters:0"
    assert last("grant revoke")["objects"] == "grant:1,user:alice,account:a1/app"
    assert last("account remove")["objects"] == "account:a1/cmd,grants:0,tokens:0"
    assert last("user remove")["objects"] == "user:bob,grants:0,tokens:0"
    # The statement is the command line, verb first.
    assert last("user set")["statement"] == "user set bob --source 10.0.0.0/8"


def test_revoked_token_refused_and_json_times(plane):
    b = plane
    b.issue_token("alice", "a1/app")
    tokens = [json.loads(x) for x in b.ctl("token", "list", "--json").stdout.splitlines()]
    assert len(tokens) == 1
    assert tokens[0]["revoked_at"] is None and tokens[0]["last_used"] is None
    assert tokens[0]["state"] == "active"
    b.ctl("token", "revoke", "1")
    tokens = [json.loads(x) for x in b.ctl("token", "list", "--json").stdout.splitlines()]
    assert isinstance(tokens[0]["revoked_at"], str) and tokens[0]["revoked_at"].endswith("Z")
    assert tokens[0]["state"] == "revoked"
    rc, _, err = _ctl(b, "token", "revoke", "1")
    assert rc == 1 and "token 1 is already revoked" in err
    rc, _, err = _ctl(b, "token", "renew", "1")
    assert rc == 1 and "token 1 is revoked; issue a new one" in err
    # No lockouts: the JSON form prints nothing, the table only its header.
    assert b.ctl("lockouts", "--json").stdout == ""
    assert b.ctl("lockouts").stdout.split() == [
        "SCOPE", "USER", "SOURCE", "STATE", "UNTIL", "FAILURES", "LOCKS"]


def test_secret_change_rolls_back_when_the_file_is_unusable(plane, tmp_path):
    """account set with a secret file that cannot be read: the change is
    rolled back (the account keeps its old secret kind) and nothing is
    recorded. The same for account add: no half-made account."""
    b = plane
    b.ctl("account", "set", "a1/app", "--secret-cmd", "echo pw")
    empty = tmp_path / "empty.secret"
    empty.write_text("")
    empty.chmod(0o600)
    before = len(b.audit_records("admin"))
    rc, _, err = _ctl(b, "account", "set", "a1/app", "--secret-file", str(empty))
    assert rc == 1, err
    listing = b.ctl("account", "list").stdout
    assert any(line.split()[:3] == ["a1/app", "app", "cmd"] for line in listing.splitlines()), \
        listing
    rc, _, err = _ctl(b, "account", "add", "a1/new", "--username", "u", "--secret-file",
                      str(empty))
    assert rc == 1, err
    assert "a1/new" not in b.ctl("account", "list").stdout
    assert len(b.audit_records("admin")) == before


def test_stored_password_sealed_not_recorded(plane):
    b = plane
    pw = "pw-" + os.urandom(6).hex()
    b.ctl("account", "add", "a1/stored", "--username", "u", "--password-stdin",
          input=pw + "\n")
    b.ctl("account", "set", "a1/stored", "--password-stdin", input=pw + "x\n")
    rc, _, err = _ctl(b, "account", "set", "a1/stored", "--password-stdin", input="\n")
    assert rc == 1 and "no password on standard input" in err
    assert pw not in b.audit_jsonl.read_text()
    # Sealed: neither password is in the state DB (or its WAL) in clear.
    db_files = list(b.dir.glob("var/state.db*"))
    assert db_files
    for f in db_files:
        assert pw.encode() not in f.read_bytes(), f


@pytest.mark.parametrize("verb", ["add", "set"])
def test_group_readable_secret_file_warned(plane, tmp_path, verb):
    """Both verbs that take --secret-file warn about a file others can read
    (account add always did; account set shares its checks now)."""
    f = tmp_path / "loose.secret"
    f.write_text("pw\n")
    f.chmod(0o644)
    target = "a1/loose" if verb == "add" else "a1/app"
    extra = ("--username", "u") if verb == "add" else ()
    r = plane.ctl("account", verb, target, *extra, "--secret-file", str(f))
    assert "readable by group or others" in r.stderr


def test_asset_check_pg_reports_server_error(bastion, pg):
    """asset check with a wrong hosted password: PostgreSQL's ErrorResponse
    is the message (ctl_check_pg.c read_reply), the exit code is 1, the
    check is recorded as failed, and the password is shown nowhere."""
    b = bastion
    wrong = "wrong-" + os.urandom(6).hex()
    b.add_asset("pgx", host=pg.host, port=pg.port, tls="disable")
    b.add_account("pgx/app", username="app", password=wrong)
    r = b.ctl("asset", "check", "pgx/app", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "server error: password authentication failed" in r.stderr, r.stderr
    assert wrong not in r.stdout + r.stderr
    rec = b.audit_records("admin", verb="asset check")[-1]
    assert rec["objects"] == "account:pgx/app,result:failed"
    assert wrong not in b.audit_jsonl.read_text()
