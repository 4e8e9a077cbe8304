"""The fixtures themselves, without the proxy: the PostgreSQL sandbox gives
each role the auth method it claims, over plain TCP and TLS, and the Bastion
helper writes a sane instance. If these fail, nothing else here means much."""

import pytest

from bastion import conninfo, free_port


ROLES = ("app", "app_md5", "app_plain", "app_trust")


@pytest.mark.parametrize("sslmode,ssl", [("disable", "f"), ("require", "t")])
@pytest.mark.parametrize("role", ROLES)
def test_role_login_direct(pg, role, sslmode, ssl):
    r = pg.psql("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
                "SELECT count(*) FROM accounts;", user=role, sslmode=sslmode)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [f"{role}|{ssl}", str(len(pg.accounts_rows))]


@pytest.mark.parametrize("role", ["app", "app_md5", "app_plain"])
def test_wrong_password_refused_direct(pg, role):
    r = pg.psql("SELECT 1", user=role, password="not-the-password")
    assert r.returncode != 0
    assert "password authentication failed" in r.stderr


def test_each_role_gets_its_hba_method(pg):
    # First host line matching 127.0.0.1 and the role decides (pg_hba order).
    rules = pg.sql("SELECT array_to_string(user_name, ','), auth_method "
                   "FROM pg_hba_file_rules WHERE type = 'host' ORDER BY line_number")
    rules = [line.split("|") for line in rules.splitlines()]
    for role, want in pg.methods.items():
        got = next(m for users, m in rules if role in users.split(",") or users == "all")
        assert got == want, (role, rules)
    stored = dict(line.split("|") for line in pg.sql(
        "SELECT rolname, left(rolpassword, 14) FROM pg_authid "
        "WHERE rolname LIKE 'app%'").splitlines())
    assert stored["app"].startswith("SCRAM-SHA-256$")
    assert stored["app_md5"].startswith("md5")
    assert stored["app_plain"].startswith("SCRAM-SHA-256$")
    assert stored["app_trust"] == ""


@pytest.mark.parametrize("host,hostaddr", [("localhost", "127.0.0.1"), ("127.0.0.1", None)])
def test_verify_full_with_test_ca(pg, host, hostaddr):
    r = pg.psql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                sslmode="verify-full", sslrootcert=pg.ca_file, host=host, hostaddr=hostaddr)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "t"


def test_verify_full_rejects_other_ca(pg):
    r = pg.psql("SELECT 1", sslmode="verify-full", sslrootcert=pg.other_ca_file)
    assert r.returncode != 0
    assert "certificate verify failed" in r.stderr


def test_psycopg2_direct(pg):
    conn = pg.connect(user="app_md5", sslmode="require")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT owner FROM accounts ORDER BY id")
            assert [r[0] for r in cur.fetchall()] == [o for _, o, _ in pg.accounts_rows]
    finally:
        conn.close()


def test_superuser_helpers(pg):
    assert pg.sql("SELECT current_user, current_setting('ssl')") .strip() == "postgres|on"
    assert pg.sql("SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database "
                  "WHERE datname = 'appdb'").strip() == "app"
    conn = pg.connect(user="postgres", dbname="postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            assert cur.fetchone()[0] is True
    finally:
        conn.close()


def test_bastion_writes_instance_config(bastion_factory):
    # init=False: needs no binaries, only checks what the helper writes.
    b = bastion_factory(init=False, listeners=("postgres", "mysql"),
                        conf={"limits": {"idle_timeout": 5}, "audit": {"sqlite": None}})
    text = b.conf_path.read_text()
    assert f"postgres = 127.0.0.1:{b.port}" in text
    assert f"mysql = 127.0.0.1:{b.ports['mysql']}" in text
    assert "idle_timeout = 5" in text
    assert "sqlite" not in text
    assert "policy = /" in text  # absolute path to the repo's guard.rules
    assert len(str(b.admin_socket)) < 100  # fits sun_path
    assert b.audit_records() == []


def test_free_ports_are_distinct():
    ports = {free_port() for _ in range(50)}
    assert len(ports) == 50


def test_conninfo_quoting():
    assert conninfo(host="h", password="a b'c", x=None) == "host=h password='a b\\'c'"
