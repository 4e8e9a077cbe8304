"""The hosted credential goes only to a server that proves who it is, or by
a method that does not give it away (issue 10 class 3).

Fake malicious backends (fake_backends.py) ask for the secret in every way
the protocols allow; the fake records all it received, and the test
asserts the secret (or its md5 / an RSA ciphertext of it) never arrived,
the client got the generic login error, and the login_failed record says
why. Benign twins run against the real PostgreSQL 15 / MariaDB 10.11:
SCRAM over unverified TLS, md5 / password / trust with the explicit
--allow-weak-auth (audited as weak-auth) or over verify-full TLS, and a
MySQL caching_sha2 full authentication with a pinned server key.
"""
import hashlib
import subprocess

import pytest

from bastion import make_server_cert, make_test_ca, run
from fake_backends import FakeServer, my_scenario, pg_scenario

SECRET = "hosted-Secret-4711-do-not-leak"


def _fake_asset(b, fake, protocol="postgres", tls="prefer", extra=()):
    b.add_user("alice")
    b.add_asset("fake", host=fake.host, port=fake.port, protocol=protocol, tls=tls,
                extra=extra)
    b.add_account("fake/app", username="app", password=SECRET)
    b.grant("alice", "fake/app", "write")
    return b.issue_token("alice", "fake/app")


def _assert_not_leaked(fake, b):
    got = bytes(fake.received)
    assert SECRET.encode() not in got
    inner = hashlib.md5((SECRET + "app").encode()).hexdigest()
    assert inner.encode() not in got
    assert hashlib.md5((inner.encode() + b"\x01\x02\x03\x04")).hexdigest().encode() not in got
    assert SECRET not in b.log_text()
    assert SECRET not in b.audit_jsonl.read_text()


def _pg_refused(b, fake, why):
    r = b.psql("SELECT 'must-not-run'", info={"connect_timeout": "10"})
    assert r.returncode != 0
    assert "could not log in to the database with the hosted account" in r.stderr, r.stderr
    assert "must-not-run" not in r.stdout
    rec = b.wait_audit("login_failed", where=lambda x: why in (x.get("error") or ""))
    assert rec
    assert not b.audit_records("login")
    _assert_not_leaked(fake, b)


# ---------------------------------------------------------------- PostgreSQL fakes

@pytest.mark.parametrize("kind, why", [
    ("cleartext", "backend asks for a cleartext password without TLS"),
    ("md5", "backend asks for an md5 password without TLS"),
    ("trust", "trust (no authentication)"),
    ("ok_mid_scram", "AuthenticationOk before SCRAM completed"),
    ("final_first", "SCRAM signature is wrong"),
    ("wrong_sig", "SCRAM signature is wrong"),
])
def test_pg_fake_backend_gets_nothing(bastion, kind, why):
    fake = FakeServer(pg_scenario(kind))
    try:
        b = bastion
        _fake_asset(b, fake)
        b.start()
        _pg_refused(b, fake, why)
        # The fake never saw a password message after asking for one.
        if kind in ("cleartext", "md5"):
            assert "msg:p" not in fake.events, fake.events
        # Nothing was ever relayed as a query.
        assert "msg:Q" not in fake.events, fake.events
    finally:
        fake.close()


@pytest.mark.parametrize("tls", ["require", "prefer"])
def test_pg_fake_over_unverified_tls_gets_no_password(bastion, tmp_path, tls):
    """require / prefer with TLS but no certificate check is just as exposed
    to an on-path server: no cleartext password there either."""
    ca, ca_key = make_test_ca(tmp_path, cn="attacker CA")
    crt, key = make_server_cert(tmp_path, ca, ca_key, name="fake")
    fake = FakeServer(pg_scenario("cleartext"), tls_cert=crt, tls_key=key)
    try:
        b = bastion
        _fake_asset(b, fake, tls=tls)
        b.start()
        _pg_refused(b, fake, "a cleartext password over unverified TLS")
        assert "tls" in fake.events
    finally:
        fake.close()


def test_pg_fake_with_allow_weak_auth_gets_password_and_audit_says_so(bastion):
    """The explicit option does what it says (and the login is audited as
    weak): proves the refusals above come from the rule, not from a broken
    fake."""
    fake = FakeServer(pg_scenario("cleartext"))
    try:
        b = bastion
        _fake_asset(b, fake, extra=("--allow-weak-auth", "yes"))
        b.start()
        b.psql("SELECT 1", info={"connect_timeout": "10"})
        rec = b.wait_audit("login")[-1]
        assert rec.get("decision") == "weak-auth" and rec.get("verb") == "a cleartext password"
        assert SECRET.encode() in bytes(fake.received)
    finally:
        fake.close()


# ---------------------------------------------------------------- PostgreSQL real twins

def _real_pg(b, pg, role, tls, extra=(), conf_ca=False):
    b.add_user("alice")
    b.add_asset("demo-pg", host=pg.host, port=pg.port, tls=tls, extra=extra)
    b.add_account(f"demo-pg/{role}", username=role,
                  password=pg.passwords[role] or "not-asked-for-by-trust")
    b.grant("alice", f"demo-pg/{role}", "write")
    token = b.issue_token("alice", f"demo-pg/{role}")
    b.start()
    return token


@pytest.mark.parametrize("tls", ["prefer", "require", "disable"])
def test_pg_scram_without_verified_tls_works(bastion, pg, tls):
    b = bastion
    _real_pg(b, pg, "app", tls)
    r = b.psql("SELECT current_user || ':' || coalesce((SELECT ssl::text FROM pg_stat_ssl"
               " WHERE pid = pg_backend_pid()), 'x')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("app:false" if tls == "disable" else "app:true")
    rec = b.wait_audit("login")[-1]
    assert "decision" not in rec


@pytest.mark.parametrize("role, method", [("app_md5", "an md5 password"),
                                          ("app_plain", "a cleartext password"),
                                          ("app_trust", "trust (no authentication)")])
def test_pg_weak_method_refused_without_option(bastion, pg, role, method):
    b = bastion
    _real_pg(b, pg, role, "prefer")
    r = b.psql("SELECT 'weak-must-not-run'")
    assert r.returncode != 0
    assert "could not log in to the database with the hosted account" in r.stderr, r.stderr
    b.wait_audit("login_failed", where=lambda x: method in (x.get("error") or ""))


@pytest.mark.parametrize("role, method", [("app_md5", "an md5 password"),
                                          ("app_plain", "a cleartext password")])
def test_pg_weak_method_over_verify_full_needs_no_option(bastion_factory, pg, role, method):
    b = bastion_factory(conf={"sqlbastion": {"backend_ca": str(pg.ca_file)}})
    _real_pg(b, pg, role, "verify-full")
    r = b.psql("SELECT current_user")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == role
    rec = b.wait_audit("login")[-1]
    assert "decision" not in rec  # not weak: the server's identity is proven


def test_pg_verify_full_refuses_a_server_of_another_ca(bastion_factory, pg, tmp_path):
    other, _ = make_test_ca(tmp_path, cn="some other CA")
    b = bastion_factory(conf={"sqlbastion": {"backend_ca": str(other)}})
    _real_pg(b, pg, "app_md5", "verify-full")
    r = b.psql("SELECT 1")
    assert r.returncode != 0
    b.wait_audit("login_failed")


# ---------------------------------------------------------------- MySQL fakes

def _my_refused(b, fake, why):
    r = b.mysql("SELECT 'must-not-run'", database=None)
    assert r.returncode != 0
    assert "could not log in to the database with the hosted account" in r.stderr, r.stderr
    b.wait_audit("login_failed", where=lambda x: why in (x.get("error") or ""))
    assert not b.audit_records("login")
    _assert_not_leaked(fake, b)


def _rsa_pair(tmp_path, name):
    priv, pub = tmp_path / f"{name}.key", tmp_path / f"{name}.pub"
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", priv])
    run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub])
    return priv, pub


def _rsa_decrypt(priv):
    def dec(ciphertext, scramble):
        r = subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", str(priv),
                            "-pkeyopt", "rsa_padding_mode:oaep"], input=ciphertext,
                           capture_output=True)
        if r.returncode != 0:
            return None
        plain = bytes(c ^ scramble[i % len(scramble)] for i, c in enumerate(r.stdout))
        return plain.rstrip(b"\x00").decode(errors="replace")
    return dec


def test_mysql_fake_clear_password_switch(my_bastion):
    fake = FakeServer(my_scenario("clear_switch"))
    try:
        b = my_bastion
        _fake_asset(b, fake, protocol="mysql")
        b.start()
        _my_refused(b, fake, "mysql_clear_password without TLS")
    finally:
        fake.close()


@pytest.mark.parametrize("tls", ["require", "prefer"])
def test_mysql_fake_clear_password_over_unverified_tls(my_bastion, tmp_path, tls):
    """require / prefer with TLS to a server whose certificate nobody
    checked: no mysql_clear_password, no caching_sha2 cleartext either."""
    ca, ca_key = make_test_ca(tmp_path, cn="attacker CA")
    crt, key = make_server_cert(tmp_path, ca, ca_key, name="fake")
    for kind, why in (("clear_switch", "mysql_clear_password over unverified TLS"),
                      ("rsa_own_key", "full authentication (cleartext) over unverified TLS")):
        fake = FakeServer(my_scenario(kind, public_pem=b"unused"), tls_cert=crt, tls_key=key)
        try:
            b = my_bastion
            if not b.running:
                b.add_user("alice")
            b.add_asset(f"fake-{kind}", host=fake.host, port=fake.port, protocol="mysql",
                        tls=tls)
            b.add_account(f"fake-{kind}/app", username="app", password=SECRET)
            b.grant("alice", f"fake-{kind}/app", "write")
            b.issue_token("alice", f"fake-{kind}/app")
            if not b.running:
                b.start()
            r = b.mysql("SELECT 'must-not-run'", database=None)
            assert r.returncode != 0
            b.wait_audit("login_failed", where=lambda x: why in (x.get("error") or ""))
            assert "tls" in fake.events
            _assert_not_leaked(fake, b)
        finally:
            fake.close()


def test_mysql_fake_own_rsa_key(my_bastion, tmp_path):
    """caching_sha2 full auth without TLS: the proxy must not ask for (or
    encrypt to) the key the server sends."""
    priv, pub = _rsa_pair(tmp_path, "attacker")
    fake = FakeServer(my_scenario("rsa_own_key", public_pem=pub.read_bytes()))
    try:
        b = my_bastion
        _fake_asset(b, fake, protocol="mysql")
        b.start()
        _my_refused(b, fake, "RSA to a key the server sends")
        assert not [e for e in fake.events if isinstance(e, tuple) and e[0] == "full-auth"]
    finally:
        fake.close()


def test_mysql_fake_rsa_key_not_used_with_pinned_key(my_bastion, tmp_path):
    """With a pinned key the proxy encrypts to it at once, never asks the
    server: the fake holding another key learns nothing; the holder of the
    pinned private key (the real server) decrypts the secret."""
    attacker_priv, attacker_pub = _rsa_pair(tmp_path, "attacker")
    real_priv, real_pub = _rsa_pair(tmp_path, "real")
    fake = FakeServer(my_scenario("rsa_own_key", public_pem=attacker_pub.read_bytes()))
    try:
        b = my_bastion
        _fake_asset(b, fake, protocol="mysql",
                    extra=("--server-public-key", str(real_pub)))
        b.start()
        b.mysql("SELECT 1", database=None)
        sent = [e[1] for e in fake.events if isinstance(e, tuple) and e[0] == "full-auth"]
        assert len(sent) == 1 and sent[0] != b"\x02"  # no key request
        scramble = b"abcdefghijklmnopqrst"
        assert _rsa_decrypt(attacker_priv)(sent[0], scramble) is None
        assert _rsa_decrypt(real_priv)(sent[0], scramble) == SECRET
        assert SECRET.encode() not in bytes(fake.received)
    finally:
        fake.close()


def test_mysql_caching_sha2_full_auth_with_pinned_key_logs_in(my_bastion, tmp_path):
    """Benign twin: a server holding the pinned key's private half accepts."""
    priv, pub = _rsa_pair(tmp_path, "real")
    fake = FakeServer(my_scenario("sha2_pinned", public_pem=pub.read_bytes(),
                                  private_key=_rsa_decrypt(priv), secret=SECRET))
    try:
        b = my_bastion
        _fake_asset(b, fake, protocol="mysql", extra=("--server-public-key", str(pub)))
        b.start()
        b.mysql("SELECT 1", database=None)
        assert "accepted" in fake.events, fake.events
        b.wait_audit("login")
    finally:
        fake.close()


def test_mysql_fake_native_switch_gets_only_a_scramble(my_bastion):
    """mysql_native_password with the server's nonce is challenge-response
    (20-byte nonce: not replayable against another nonce): allowed over any
    transport; the fake gets a scramble, never the secret."""
    fake = FakeServer(my_scenario("native_switch"))
    try:
        b = my_bastion
        _fake_asset(b, fake, protocol="mysql")
        b.start()
        b.mysql("SELECT 1", database=None)
        resp = [e[1] for e in fake.events if isinstance(e, tuple) and e[0] == "native-response"]
        assert resp and len(resp[0]) == 20
        _assert_not_leaked(fake, b)
    finally:
        fake.close()


def test_mysql_weak_option_rejects_bad_key_file(my_bastion, tmp_path):
    b = my_bastion
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n")
    r = b.ctl("asset", "add", "x", "--protocol", "mysql", "--host", "127.0.0.1", "--port",
              "3306", "--server-public-key", str(bad), check=False)
    assert r.returncode != 0 and "RSA public key" in r.stderr
    r = b.ctl("asset", "add", "y", "--protocol", "postgres", "--host", "127.0.0.1", "--port",
              "5432", "--allow-weak-auth", "maybe", check=False)
    assert r.returncode != 0


# ---------------------------------------------------------------- asset check

def _check(b, target):
    return b.ctl("asset", "check", target, check=False)


def test_asset_check_pg_reports_tls_and_method(bastion_factory, pg):
    b = bastion_factory(conf={"sqlbastion": {"backend_ca": str(pg.ca_file)}})
    b.add_asset("pg-prefer", host=pg.host, port=pg.port, tls="prefer")
    b.add_asset("pg-plain", host=pg.host, port=pg.port, tls="disable")
    b.add_asset("pg-verified", host=pg.host, port=pg.port, tls="verify-full")
    for asset in ("pg-prefer", "pg-plain", "pg-verified"):
        b.add_account(f"{asset}/app", username="app", password=pg.passwords["app"])
        b.add_account(f"{asset}/md5", username="app_md5", password=pg.passwords["app_md5"])
    r = _check(b, "pg-prefer/app")
    assert r.returncode == 0, r.stderr
    assert "PostgreSQL 15" in r.stdout and "tls on, not verified; auth scram-sha-256" in r.stdout
    r = _check(b, "pg-plain/app")
    assert r.returncode == 0 and "tls off; auth scram-sha-256" in r.stdout, r.stdout + r.stderr
    # md5 without a verified server: refused, and says why.
    r = _check(b, "pg-prefer/md5")
    assert r.returncode != 0 and "md5" in r.stderr and "--allow-weak-auth" in r.stderr, r.stderr
    r = _check(b, "pg-verified/md5")
    assert r.returncode == 0 and "tls on, verified; auth md5" in r.stdout, r.stdout + r.stderr
    assert pg.passwords["app_md5"] not in r.stdout + r.stderr


def test_asset_check_pg_fake_gets_no_password(bastion):
    fake = FakeServer(pg_scenario("cleartext"))
    try:
        b = bastion
        _fake_asset(b, fake)
        r = _check(b, "fake/app")
        assert r.returncode != 0 and "cleartext password" in r.stderr, r.stderr
        assert "msg:p" not in fake.events
        assert SECRET.encode() not in bytes(fake.received)
    finally:
        fake.close()


def test_asset_check_mysql_reports_tls_and_method(my_bastion, maria):
    b = my_bastion
    b.add_asset("my-prefer", host=maria.host, port=maria.port, protocol="mysql", tls="prefer")
    b.add_account("my-prefer/app", username="app", password=maria.passwords["app"])
    r = _check(b, "my-prefer/app")
    assert r.returncode == 0, r.stderr
    assert "MariaDB" in r.stdout and "tls on, not verified; auth mysql_native_password" in r.stdout


def test_asset_check_mysql_fake_clear_password_refused(my_bastion):
    fake = FakeServer(my_scenario("clear_switch"))
    try:
        b = my_bastion
        _fake_asset(b, fake, protocol="mysql")
        r = _check(b, "fake/app")
        assert r.returncode != 0, r.stdout
        assert SECRET.encode() not in bytes(fake.received)
    finally:
        fake.close()


# ---------------------------------------------------------------- control plane

def test_new_asset_defaults_to_verify_full_when_a_ca_is_configured(bastion_factory, pg):
    b = bastion_factory(conf={"sqlbastion": {"backend_ca": str(pg.ca_file)}})
    r = b.ctl("asset", "add", "d1", "--protocol", "postgres", "--host", pg.host,
              "--port", str(pg.port))
    assert "tls verify-full" in r.stdout and "strong auth only" in r.stdout, r.stdout
    b2 = bastion_factory()
    r = b2.ctl("asset", "add", "d2", "--protocol", "postgres", "--host", pg.host,
               "--port", str(pg.port))
    assert "tls prefer" in r.stdout, r.stdout


def test_asset_auth_columns_migrate_idempotently(bastion, pg):
    """A state DB made before the options (no columns) gets them at the next
    open, keeps its assets, and the options work; opening again is a no-op."""
    import sqlite3
    b = bastion
    b.add_asset("old", host=pg.host, port=pg.port)
    db = b.dir / "var" / "state.db"
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE assets DROP COLUMN weak_auth")
    con.execute("ALTER TABLE assets DROP COLUMN server_public_key")
    con.commit()
    con.close()
    for _ in range(2):
        assert "old" in b.ctl("asset", "list").stdout
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(assets)")]
    con.close()
    assert "weak_auth" in cols and "server_public_key" in cols
    r = b.ctl("asset", "add", "new", "--protocol", "postgres", "--host", pg.host,
              "--port", str(pg.port), "--allow-weak-auth", "yes")
    assert "weak auth allowed" in r.stdout


def test_asset_set_toggles_weak_auth_for_the_next_login(bastion, pg):
    """`asset set --allow-weak-auth` changes an existing asset: an md5 login
    refused before is let through (and audited as weak-auth) after `yes`,
    and refused again after `no`."""
    b = bastion
    _real_pg(b, pg, "app_md5", "prefer")
    assert b.psql("SELECT 1").returncode != 0
    r = b.ctl("asset", "set", "demo-pg", "--allow-weak-auth", "yes")
    assert "weak auth allowed" in r.stdout, r.stdout
    r = b.psql("SELECT current_user")
    assert r.returncode == 0 and r.stdout.strip() == "app_md5", r.stderr
    assert b.wait_audit("login")[-1].get("decision") == "weak-auth"
    b.ctl("asset", "set", "demo-pg", "--allow-weak-auth", "no")
    assert b.psql("SELECT 'after-no'").returncode != 0
    admin = [e for e in b.audit_records() if e.get("event") == "admin"
             and "--allow-weak-auth" in (e.get("statement") or "")]
    assert len(admin) == 2
    r = b.ctl("asset", "set", "demo-pg", "--server-public-key", "/nonexistent", check=False)
    assert r.returncode != 0  # a MySQL-only option on a PostgreSQL asset, or no such file
