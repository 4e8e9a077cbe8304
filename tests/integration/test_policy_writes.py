"""Issue 15 classes 3 and 8 through the real proxy, judged by what the
servers did:

- client file upload (flag client-file): MySQL LOAD DATA LOCAL INFILE with
  pymysql (local_infile=True) is refused by guard.rules and the table gets
  no rows; a policy that allows the flag lets the same statement load them.
  PostgreSQL COPY ... FROM STDIN (psql's \\copy, psycopg2's copy_expert) is
  allowed by guard.rules and refused by a policy that denies the flag.
- the MySQL current database: after COM_INIT_DB or USE (confirmed by the
  server), an unqualified write into mysql.* is a privilege change; after a
  batch with USE that failed, the database is unknown and unqualified writes
  are refused until a USE succeeds.
- `sqlbastionctl policy test` gives the daemon's decision.
"""

import secrets
import subprocess

import pymysql
import pytest

from bastion import DEFAULT_POLICY

ALLOW_UPLOAD = "allow etl-upload flag=client-file verb=LOAD\n"
DENY_UPLOAD = "deny no-upload flag=client-file\n"


def _policy(tmp_path, first_line):
    """guard.rules with one rule put in front of it."""
    p = tmp_path / "policy.rules"
    p.write_text(first_line + DEFAULT_POLICY.read_text())
    return p


def _load_sql(path):
    return f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE loaded FIELDS TERMINATED BY ','"


def _prepare_loaded(maria):
    maria.sql("CREATE TABLE IF NOT EXISTS appdb.loaded LIKE appdb.accounts; "
              "DELETE FROM appdb.loaded;")


# ------------------------------------------------------------ LOAD DATA LOCAL

def test_load_data_local_denied_by_guard(bastion_factory, maria, tmp_path):
    b = bastion_factory(listeners=("mysql",))
    b.mysql_ready(maria, level="write")
    _prepare_loaded(maria)
    data = tmp_path / "rows.csv"
    data.write_text("300,dave,1.00\n301,erin,2.00\n")
    conn = b.pymysql(local_infile=True)
    cur = conn.cursor()
    with pytest.raises(pymysql.err.OperationalError) as ei:
        cur.execute(_load_sql(data))
    assert ei.value.args[0] == 1227, ei.value.args
    assert "no-client-file" in ei.value.args[1]
    # ground truth: nothing loaded; the session stays usable
    assert maria.value("SELECT count(*) FROM appdb.loaded") == "0"
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)
    # the same refusal in another spelling and inside a batch
    for sql in (f"load /**/ data local infile '{data}' into table loaded fields terminated by ','",
                f"SELECT 1; {_load_sql(data)}"):
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute(sql)
    assert maria.value("SELECT count(*) FROM appdb.loaded") == "0"
    rec = b.wait_audit("query", decision="deny", rule="no-client-file")
    assert rec


def test_load_data_local_allowed_by_policy(bastion_factory, maria, tmp_path):
    b = bastion_factory(listeners=("mysql",), policy=_policy(tmp_path, ALLOW_UPLOAD))
    b.mysql_ready(maria, level="write")
    _prepare_loaded(maria)
    data = tmp_path / "rows.csv"
    data.write_text("300,dave,1.00\n301,erin,2.00\n")
    conn = b.pymysql(local_infile=True)
    cur = conn.cursor()
    cur.execute(_load_sql(data))
    assert maria.value("SELECT count(*) FROM appdb.loaded") == "2"
    rec = b.wait_audit("query", decision="allow", rule="etl-upload")[0]
    assert rec["verb"] == "LOAD"
    # The allow rule covers only LOAD DATA LOCAL: other guard rules still hold.
    with pytest.raises(pymysql.err.OperationalError):
        cur.execute("DELETE FROM loaded")
    assert maria.value("SELECT count(*) FROM appdb.loaded") == "2"


# ------------------------------------------------------------ COPY FROM STDIN

def _copy_table(pg):
    pg.sql("CREATE TABLE IF NOT EXISTS up_t (id int, name text); ALTER TABLE up_t OWNER TO app;"
           " TRUNCATE up_t;", dbname="appdb")


def _count(pg):
    return pg.sql("SELECT count(*) FROM up_t", dbname="appdb").strip()


def test_copy_from_stdin_allowed_by_guard(bastion_factory, pg, tmp_path):
    b = bastion_factory()
    b.pg_ready(pg)
    _copy_table(pg)
    src = tmp_path / "in.csv"
    src.write_text("".join(f"{i},n{i}\n" for i in range(100)))
    r = b.psql(f"\\copy up_t FROM '{src}' WITH (FORMAT csv)")
    assert r.returncode == 0, r.stderr
    assert _count(pg) == "100"
    import io
    conn = b.connect()
    conn.cursor().copy_expert("COPY up_t FROM STDIN WITH (FORMAT csv)", io.StringIO("500,x\n"))
    assert _count(pg) == "101"
    rec = b.wait_audit("query", statement="COPY up_t FROM STDIN WITH (FORMAT csv)")[0]
    assert rec["decision"] == "allow"


def test_copy_from_stdin_denied_by_policy(bastion_factory, pg, tmp_path):
    b = bastion_factory(policy=_policy(tmp_path, DENY_UPLOAD))
    b.pg_ready(pg)
    _copy_table(pg)
    src = tmp_path / "in.csv"
    src.write_text("1,a\n2,b\n")
    r = b.psql(f"\\copy up_t FROM '{src}' WITH (FORMAT csv)")
    assert r.returncode != 0 and "no-upload" in r.stderr, r.stderr
    assert _count(pg) == "0"
    # COPY TO STDOUT is not an upload
    r = b.psql("\\copy up_t TO STDOUT")
    assert r.returncode == 0, r.stderr


# ------------------------------------------------- the MySQL current database

@pytest.fixture
def my_root(bastion_factory, maria):
    """A proxy whose hosted account may write the mysql schema, and a victim."""
    pw = secrets.token_urlsafe(18)
    maria.sql(f"DROP USER IF EXISTS 'wroot'@'%'; CREATE USER 'wroot'@'%' IDENTIFIED BY '{pw}';"
              " GRANT ALL PRIVILEGES ON *.* TO 'wroot'@'%';"
              " DROP USER IF EXISTS 'w_victim'@'%'; CREATE USER 'w_victim'@'%';")
    b = bastion_factory(listeners=("mysql",))
    b.add_user("alice")
    b.add_asset("demo-mysql", host=maria.host, port=maria.port, protocol="mysql")
    b.add_account("demo-mysql/wroot", username="wroot", password=pw)
    b.grant("alice", "demo-mysql/wroot", "write")
    b.issue_token("alice", "demo-mysql/wroot")
    b.start()
    return b


def _priv(maria):
    return maria.value("SELECT Priv FROM mysql.global_priv WHERE User = 'w_victim'")


UNQUALIFIED = "UPDATE global_priv SET Priv = JSON_SET(Priv, '$.access', 1) WHERE User = 'w_victim'"


def test_init_db_then_unqualified_catalog_write(my_root, maria):
    before = _priv(maria)
    conn = my_root.pymysql(database="appdb")
    conn.select_db("mysql")  # COM_INIT_DB
    cur = conn.cursor()
    with pytest.raises(pymysql.err.OperationalError) as ei:
        cur.execute(UNQUALIFIED)
    assert "no-privilege-change" in ei.value.args[1]
    assert _priv(maria) == before
    # back in appdb: an unqualified write is an ordinary write again
    conn.select_db("appdb")
    cur.execute("CREATE TABLE IF NOT EXISTS global_priv (User VARCHAR(80), Priv TEXT)")
    cur.execute("INSERT INTO global_priv VALUES ('w_victim', '{}')")
    cur.execute(UNQUALIFIED)
    assert _priv(maria) == before


def test_use_statement_then_unqualified_catalog_write(my_root, maria):
    before = _priv(maria)
    conn = my_root.pymysql(database="appdb")
    cur = conn.cursor()
    cur.execute("USE mysql")  # COM_QUERY, confirmed by the server's OK
    with pytest.raises(pymysql.err.OperationalError):
        cur.execute(UNQUALIFIED)
    assert _priv(maria) == before
    cur.execute("USE appdb")
    cur.execute("SELECT DATABASE()")
    assert cur.fetchone() == ("appdb",)


def test_failed_batch_with_use_leaves_database_unknown(my_root, maria):
    before = _priv(maria)
    conn = my_root.pymysql(database="appdb",
                           client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    cur = conn.cursor()
    # the USE runs, the statement after it fails: the server is in mysql now
    cur.execute("USE mysql; SELECT * FROM no_such_table_here")
    with pytest.raises(pymysql.err.ProgrammingError):
        while cur.nextset():
            pass
    cur.execute("SELECT DATABASE()")
    assert cur.fetchone() == ("mysql",)
    with pytest.raises(pymysql.err.OperationalError) as ei:
        cur.execute(UNQUALIFIED)
    assert "no-privilege-change" in ei.value.args[1]
    assert _priv(maria) == before
    # qualified writes elsewhere still work; a USE that succeeds makes it known
    cur.execute("CREATE TABLE IF NOT EXISTS appdb.wlog (a INT)")
    cur.execute("INSERT INTO appdb.wlog VALUES (1)")
    cur.execute("USE appdb")
    cur.execute("INSERT INTO wlog VALUES (2)")
    assert maria.value("SELECT count(*) FROM appdb.wlog WHERE a IN (1, 2)") >= "2"


# ------------------------------------------------- policy test = the daemon

@pytest.mark.parametrize("dialect,sql,want", [
    ("mysql", "LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t", 1),
    ("mysql", "USE mysql; INSERT INTO db VALUES ('%', 'x', 'y')", 1),
    ("mysql", "INSERT INTO evdb.t SELECT 1, User, 0 FROM mysql.user", 0),
    ("pg", "COPY t FROM STDIN", 0),
    ("pg", "UPDATE pg_authid SET rolsuper = true WHERE rolname = 'x'", 1),
    ("pg", "MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE", 1),
    ("pg", "CREATE FOREIGN TABLE f (l text) SERVER s OPTIONS (program 'id')", 1),
])
def test_policy_test_cli(bastion_factory, dialect, sql, want):
    b = bastion_factory()
    r = subprocess.run([str(b.ctl_bin), "policy", "test", "--dialect", dialect,
                        "--policy", str(DEFAULT_POLICY), sql],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == want, r.stdout + r.stderr


def test_policy_test_cli_database(bastion_factory):
    b = bastion_factory()
    base = [str(b.ctl_bin), "policy", "test", "--dialect", "mysql", "--policy",
            str(DEFAULT_POLICY)]
    r = subprocess.run(base + ["--database", "mysql", UNQUALIFIED], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "no-privilege-change" in r.stdout, r.stdout
    r = subprocess.run(base + ["--database", "appdb", UNQUALIFIED], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout
