"""Issue 15 remnants: the system catalog reached without naming it as the
target of a write, through a hosted *superuser* account and the guard
policy (the corpus, test_policy_corpus.py, holds the one-statement cases).

- A trigger on an ordinary table whose function, made earlier by a DBA
  directly on the server, writes pg_authid: CREATE TRIGGER is decided by
  what the function does (the routine look-up of class 1), so it is a
  privilege change; a trigger whose function only edits NEW is allowed.
- An updatable view over a catalog table, and the UPDATE through it in a
  later statement of another batch: the CREATE VIEW is refused.
- `sqlbastionctl policy test` says what the daemon says for the statements
  it can judge offline.

Ground truth is the server's catalog, read directly as the superuser.
"""

import subprocess

import psycopg2
import pytest

from bastion import BIN_DIR, DEFAULT_POLICY


@pytest.fixture
def catalog_db(pg):
    """A victim role and the routines a DBA made; removed afterwards."""
    pg.sql("""
\\connect appdb
DROP ROLE IF EXISTS ev_cat_victim;
CREATE ROLE ev_cat_victim;
CREATE TABLE IF NOT EXISTS ev_cat_t (id int, name text);
CREATE OR REPLACE FUNCTION ev_cat_grant() RETURNS trigger LANGUAGE plpgsql AS
  $b$BEGIN UPDATE pg_authid SET rolcreaterole = true WHERE rolname = 'ev_cat_victim'; RETURN NEW; END$b$;
CREATE OR REPLACE FUNCTION ev_cat_lower() RETURNS trigger LANGUAGE plpgsql AS
  $b$BEGIN NEW.name := lower(NEW.name); RETURN NEW; END$b$;
""")
    yield
    pg.sql("""
\\connect appdb
DROP TABLE IF EXISTS ev_cat_t CASCADE;
DROP VIEW IF EXISTS ev_cat_v;
DROP FUNCTION IF EXISTS ev_cat_grant(), ev_cat_lower();
DROP ROLE IF EXISTS ev_cat_victim;
""")


def _value(pg, q):
    return pg.sql(f"\\connect appdb\n{q};\n").strip()


def _refused(conn, sql):
    with pytest.raises(psycopg2.Error) as ei:
        conn.cursor().execute(sql)
    assert "sqlbastion:" in str(ei.value), str(ei.value)
    return str(ei.value)


def test_trigger_is_judged_by_its_function(bastion, pg, catalog_db):
    token = bastion.pg_ready(pg, account="postgres")
    conn = bastion.connect(token=token)
    msg = _refused(conn, "CREATE TRIGGER ev_cat_tr BEFORE INSERT ON ev_cat_t "
                         "FOR EACH ROW EXECUTE FUNCTION ev_cat_grant()")
    assert "no-privilege-change" in msg
    assert _value(pg, "SELECT count(*) FROM pg_trigger WHERE tgname = 'ev_cat_tr'") == "0"
    # the benign twin runs, and the trigger does its (harmless) work
    cur = conn.cursor()
    cur.execute("CREATE TRIGGER ev_cat_tr2 BEFORE INSERT ON ev_cat_t "
                "FOR EACH ROW EXECUTE FUNCTION ev_cat_lower()")
    cur.execute("INSERT INTO ev_cat_t VALUES (1, 'MiXeD')")
    assert _value(pg, "SELECT name FROM ev_cat_t") == "mixed"
    assert _value(pg, "SELECT rolcreaterole FROM pg_authid "
                      "WHERE rolname = 'ev_cat_victim'") == "f"


def test_view_over_catalog_refused_before_it_is_used(bastion, pg, catalog_db):
    token = bastion.pg_ready(pg, account="postgres")
    conn = bastion.connect(token=token)
    for sql in ("CREATE VIEW ev_cat_v AS SELECT rolname, rolcreatedb FROM pg_authid",
                "CREATE VIEW ev_cat_v AS SELECT * FROM pg_catalog.pg_group",
                'CREATE VIEW ev_cat_v AS TABLE "pg_catalog"."pg_authid"',
                "CREATE VIEW ev_cat_v AS SELECT oid, relname FROM pg_class"):
        assert "no-privilege-change" in _refused(conn, sql)
        assert _value(pg, "SELECT to_regclass('public.ev_cat_v') IS NULL") == "t"
    # what a view over the catalog is for, reading it, still works
    conn.cursor().execute("CREATE VIEW ev_cat_v AS SELECT c.relname, n.nspname FROM "
                          "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace")
    assert _value(pg, "SELECT to_regclass('public.ev_cat_v') IS NULL") == "f"


@pytest.mark.parametrize("dialect,sql,rule", [
    ("pg", "CREATE VIEW v AS SELECT * FROM pg_authid", "no-privilege-change"),
    ("pg", "UPDATE pg_blob SET a = 1 WHERE id = 1", None),
    ("pg", "SELECT pg_reload_conf()", "no-server-admin"),
    ("mysql", "SET @@GLOBAL/**/.`max_connections` = 1", "no-server-admin"),
    ("mysql", "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DROP TABLE t; END", "no-drop"),
    ("mysql", "CREATE TRIGGER tr BEFORE INSERT ON u FOR EACH ROW SET NEW.a = 1", None),
])
def test_policy_test_agrees(dialect, sql, rule):
    r = subprocess.run([str(BIN_DIR / "sqlbastionctl"), "policy", "test", "--dialect", dialect,
                        "--policy", str(DEFAULT_POLICY), "-"], input=sql,
                       capture_output=True, text=True)
    if rule is None:
        assert r.returncode == 0, r.stdout + r.stderr
    else:
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"'{rule}'" in r.stdout
