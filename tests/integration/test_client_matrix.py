"""Every client the field uses, through the proxy, over plain TCP and over
TLS that the client verifies (the proxy's CA from `sqlbastionctl init`, host
name checked where the client can): one scenario each, as a DBA would try it.

Scenario (the same for every client and transport):
  1. log in with the bastion user and the O&M token;
  2. a statement with a bound parameter (the client's own way: server-side
     prepare where the client does that, client-side interpolation where it
     does not) returns the right value;
  3. a denied statement (`DROP TABLE matrix_victim`, guard policy rule
     no-drop) gets the proxy's error, and
  4. the same connection goes on working;
  5. ground truth: the table is still there on the server.

PostgreSQL: psql, psycopg2, pgjdbc (prepareThreshold=1: named server-side
statements), node pg, node postgres (porsager), pgbench (-M prepared).
MySQL: mariadb CLI, pymysql, MariaDB Connector/J with and without
useServerPrepStmts, node mysql2 (execute = COM_STMT_PREPARE), node mariadb,
mysqlslap, sysbench (binary prepared statements).
Node modules come from npm (skipped when the registry is unreachable).
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from bastion import client_env, make_test_ca, run
from conftest import _npm_package_dir
from test_mysql_proxy import needs_lexer

# plain: no TLS anywhere; tls: client-side TLS the client verifies;
# tls-both: the same, and the proxy's backend connection over TLS too
# (asset --tls require; issue 11 item 2 was a backend-TLS-only failure)
TRANSPORTS = ["plain", "tls", "tls-both"]
PG_JAR = "/usr/share/java/postgresql.jar"
MARIADB_JAR = "/usr/share/java/mariadb-java-client.jar"
DENIED = "DROP TABLE matrix_victim"


def _ca(b):
    return str(b.var / "tls" / "ca.crt")


def _backend_tls(b, transport, asset):
    if transport == "tls-both":
        b.ctl("asset", "set", asset, "--tls", "require")


@pytest.fixture
def pg_victim(pg, pg_ready, request):
    pg.psql("DROP TABLE IF EXISTS matrix_victim; CREATE TABLE matrix_victim (id int)")
    _backend_tls(pg_ready, request.getfixturevalue("transport"), "demo-pg")
    yield pg_ready
    pg.psql("DROP TABLE IF EXISTS matrix_victim")


def _pg_victim_there(pg):
    return pg.psql("SELECT to_regclass('public.matrix_victim') IS NOT NULL").stdout.strip() == "t"


@pytest.fixture
def my_victim(maria, my_ready, request):
    maria.sql("DROP TABLE IF EXISTS appdb.matrix_victim; CREATE TABLE appdb.matrix_victim (id INT)")
    needs_lexer(my_ready)
    _backend_tls(my_ready, request.getfixturevalue("transport"), "demo-mysql")
    yield my_ready
    maria.sql("DROP TABLE IF EXISTS appdb.matrix_victim")


def _my_victim_there(maria):
    return maria.value("SELECT COUNT(*) FROM information_schema.tables WHERE "
                       "table_schema = 'appdb' AND table_name = 'matrix_victim'") == "1"


def _json_tail(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _node(script_dir, source, args, env):
    path = script_dir / f"matrix_{os.getpid()}.js"
    path.write_text(source)
    return subprocess.run(["node", str(path), *map(str, args)], cwd=script_dir,
                          env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=90)


def _check(out):
    """The common outcome of steps 2-4, from a client's JSON report."""
    assert int(out["value"]) == 42, out
    assert "blocked by rule 'no-drop'" in out["denied"], out
    assert int(out["after"]) == 7, out


# ------------------------------------------------------------ PostgreSQL

def test_pg_psql(pg, pg_victim, transport):
    b = pg_victim
    kw = {}
    if transport != "plain":
        kw = dict(sslmode="verify-full", info={"sslrootcert": _ca(b)})
    r = b.psql(f"SELECT 41 + 1;\n{DENIED};\nSELECT 7;\n", on_error_stop=False, **kw)
    lines = r.stdout.split()
    assert lines == ["42", "7"], r.stdout + r.stderr
    assert "blocked by rule 'no-drop'" in r.stderr
    r = b.psql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", **kw)
    assert r.stdout.strip() == ("t" if transport == "tls-both" else "f"), r.stdout + r.stderr
    assert _pg_victim_there(pg)


def test_pg_psycopg2(pg, pg_victim, transport):
    import psycopg2
    b = pg_victim
    kw = dict(sslmode="verify-full", sslrootcert=_ca(b)) if transport != "plain" else {}
    conn = b.connect(**kw)
    cur = conn.cursor()
    cur.execute("SELECT %s + 1", (41,))
    assert cur.fetchone()[0] == 42
    with pytest.raises(psycopg2.Error) as e:
        cur.execute(DENIED)
    assert "blocked by rule 'no-drop'" in str(e.value) and e.value.pgcode == "42501"
    cur.execute("SELECT 7")
    assert cur.fetchone()[0] == 7
    if transport != "plain":
        assert conn.info.ssl_in_use
    assert _pg_victim_there(pg)


JDBC_SRC = r"""
import java.sql.*;
public class Matrix {
    public static void main(String[] a) throws Exception {
        // a[0] url, a[1] user, a[2] parameterised SELECT of ? + 1
        Connection c = DriverManager.getConnection(a[0], a[1], System.getenv("SB_TOKEN"));
        int value = 0;
        PreparedStatement ps = c.prepareStatement(a[2]);
        for (int i = 0; i < 3; i++) {   // past any prepare threshold
            ps.setInt(1, 41);
            ResultSet rs = ps.executeQuery();
            rs.next();
            value = rs.getInt(1);
        }
        String denied = "";
        try (Statement s = c.createStatement()) {
            s.execute("DROP TABLE matrix_victim");
        } catch (SQLException e) {
            denied = e.getMessage();
        }
        ResultSet rs = c.createStatement().executeQuery("SELECT 7");
        rs.next();
        System.out.println("{\"value\": " + value + ", \"after\": " + rs.getInt(1)
            + ", \"denied\": \"" + denied.replace("\\", "\\\\").replace("\"", "\\\"")
              .replace("\n", " ") + "\"}");
        c.close();
    }
}
"""


def _jdbc(tmp_path, jar, url, user, token, sql):
    if not (os.path.exists(jar) and shutil.which("javac")):
        pytest.skip(f"{jar} or javac not installed (scripts/deps.sh installs them)")
    (tmp_path / "Matrix.java").write_text(JDBC_SRC)
    run(["javac", "-d", str(tmp_path), str(tmp_path / "Matrix.java")], timeout=120)
    return run(["java", "-cp", f"{jar}:{tmp_path}", "Matrix", url, user, sql],
               env=dict(os.environ, SB_TOKEN=token), check=False, timeout=120)


def test_pg_jdbc(pg, pg_victim, transport, tmp_path):
    b = pg_victim
    url = f"jdbc:postgresql://{b.host}:{b.port}/appdb?prepareThreshold=1&gssEncMode=disable"
    url += (f"&sslmode=verify-full&sslrootcert={_ca(b)}" if transport != "plain"
            else "&sslmode=disable")
    out = _json_tail(_jdbc(tmp_path, PG_JAR, url, b.user, b.token, "SELECT ?::int + 1"))
    _check(out)
    assert _pg_victim_there(pg)


NODE_PG = r"""
const { Client } = require('pg');
const fs = require('fs');
const [host, port, user, ca] = process.argv.slice(2);
(async () => {
  const c = new Client({ host, port: +port, user, database: 'appdb',
                         password: process.env.SB_TOKEN,
                         ssl: ca ? { ca: fs.readFileSync(ca), rejectUnauthorized: true } : false });
  await c.connect();
  const v = await c.query({ name: 'plus', text: 'SELECT $1::int + 1 AS v', values: [41] });
  await c.query({ name: 'plus', text: 'SELECT $1::int + 1 AS v', values: [41] });
  let denied = '';
  try { await c.query('DROP TABLE matrix_victim'); } catch (e) { denied = e.message; }
  const after = await c.query('SELECT 7 AS a');
  console.log(JSON.stringify({ value: v.rows[0].v, denied, after: after.rows[0].a }));
  await c.end();
})().catch(e => { console.error(e); process.exit(1); });
"""

NODE_POSTGRES = r"""
const postgres = require('postgres');
const fs = require('fs');
const [host, port, user, ca] = process.argv.slice(2);
(async () => {
  const sql = postgres({ host, port: +port, user, database: 'appdb', pass: process.env.SB_TOKEN,
                         ssl: ca ? { ca: fs.readFileSync(ca), rejectUnauthorized: true } : false,
                         prepare: true, max: 1, connect_timeout: 10 });
  const x = 41;
  const v = await sql`SELECT ${x}::int + 1 AS v`;
  await sql`SELECT ${x}::int + 1 AS v`;
  let denied = '';
  try { await sql.unsafe('DROP TABLE matrix_victim'); } catch (e) { denied = e.message; }
  const after = await sql`SELECT 7 AS a`;
  console.log(JSON.stringify({ value: v[0].v, denied, after: after[0].a }));
  await sql.end();
})().catch(e => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="session")
def node_pg_dir(tmp_path_factory):
    return _npm_package_dir(tmp_path_factory, "pg", "8")


@pytest.fixture(scope="session")
def node_postgres_dir(tmp_path_factory):
    return _npm_package_dir(tmp_path_factory, "postgres", "3")


def test_pg_node_pg(pg, pg_victim, transport, node_pg_dir):
    b = pg_victim
    ca = _ca(b) if transport != "plain" else ""
    out = _json_tail(_node(node_pg_dir, NODE_PG, [b.host, b.port, b.user, ca],
                           {"SB_TOKEN": b.token}))
    _check(out)
    assert _pg_victim_there(pg)


def test_pg_node_postgres(pg, pg_victim, transport, node_postgres_dir):
    b = pg_victim
    ca = _ca(b) if transport != "plain" else ""
    out = _json_tail(_node(node_postgres_dir, NODE_POSTGRES, [b.host, b.port, b.user, ca],
                           {"SB_TOKEN": b.token}))
    _check(out)
    assert _pg_victim_there(pg)


def test_pg_pgbench(pg, pg_victim, transport, tmp_path):
    from audit_helpers import PGBENCH
    b = pg_victim
    script = tmp_path / "matrix.sql"
    script.write_text("\\set x random(1, 1000)\nSELECT :x + 1;\n")
    env = {"PGPASSWORD": b.token}
    if transport != "plain":
        env.update(PGSSLMODE="verify-full", PGSSLROOTCERT=_ca(b))
    else:
        env.update(PGSSLMODE="disable")
    r = run([PGBENCH, "-n", "-M", "prepared", "-c", "2", "-t", "200", "-f", str(script),
             "-h", b.host, "-p", b.port, "-U", b.user, "appdb"],
            env=client_env(env), check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "number of transactions actually processed: 400/400" in r.stdout, r.stdout
    # a denied statement in a pgbench script aborts that client, as direct
    script.write_text(f"{DENIED};\n")
    r = run([PGBENCH, "-n", "-c", "1", "-t", "1", "-f", str(script), "-h", b.host,
             "-p", b.port, "-U", b.user, "appdb"], env=client_env(env), check=False, timeout=60)
    assert "blocked by rule 'no-drop'" in r.stderr, r.stdout + r.stderr
    assert _pg_victim_there(pg)


# ------------------------------------------------------------ MySQL

def test_my_mariadb_cli(maria, my_victim, transport):
    b = my_victim
    args = ["--ssl-ca=" + _ca(b), "--ssl-verify-server-cert"] if transport != "plain" else []
    r = b.mysql(f"SELECT 41 + 1;\n{DENIED};\nSELECT 7;\n", ssl=transport != "plain",
                args=["--force", *args])
    assert r.stdout.split() == ["42", "7"], r.stdout + r.stderr
    assert "blocked by rule 'no-drop'" in r.stderr
    # the server's view: TLS on the proxy's backend connection or not
    r = b.mysql("SHOW SESSION STATUS LIKE 'Ssl_cipher'", ssl=transport != "plain", args=args)
    cipher = r.stdout.split("\t")[1].strip() if "\t" in r.stdout else ""
    assert bool(cipher) == (transport == "tls-both"), r.stdout + r.stderr
    assert _my_victim_there(maria)


def test_my_pymysql(maria, my_victim, transport):
    import pymysql
    b = my_victim
    kw = {"ssl": {"ca": _ca(b), "check_hostname": True}} if transport != "plain" else {}
    c = b.pymysql(**kw)
    with c.cursor() as cur:
        cur.execute("SELECT %s + 1", (41,))
        assert cur.fetchone()[0] == 42
        with pytest.raises(pymysql.MySQLError) as e:
            cur.execute(DENIED)
        assert e.value.args[0] == 1227 and "blocked by rule 'no-drop'" in e.value.args[1]
        cur.execute("SELECT 7")
        assert cur.fetchone()[0] == 7
    if transport != "plain":
        assert c._sock.version().startswith("TLS")
    assert _my_victim_there(maria)


@pytest.mark.parametrize("server_prepares", [False, True], ids=["client-ps", "server-ps"])
def test_my_mariadb_jdbc(maria, my_victim, transport, server_prepares, tmp_path):
    b = my_victim
    url = (f"jdbc:mariadb://{b.host}:{b.mysql_port}/appdb?"
           f"useServerPrepStmts={'true' if server_prepares else 'false'}")
    if transport != "plain":
        url += f"&sslMode=verify-full&serverSslCert={_ca(b)}"
    out = _json_tail(_jdbc(tmp_path, MARIADB_JAR, url, b.user, b.token, "SELECT ? + 1"))
    _check(out)
    assert _my_victim_there(maria)


NODE_MYSQL2 = r"""
const mysql = require('mysql2/promise');
const fs = require('fs');
const [host, port, user, ca] = process.argv.slice(2);
(async () => {
  const c = await mysql.createConnection({ host, port: +port, user, database: 'appdb',
      password: process.env.SB_TOKEN,
      ssl: ca ? { ca: fs.readFileSync(ca), rejectUnauthorized: true } : undefined });
  const [rows] = await c.execute('SELECT ? + 1 AS v', [41]);
  await c.execute('SELECT ? + 1 AS v', [41]);
  let denied = '';
  try { await c.query('DROP TABLE matrix_victim'); } catch (e) { denied = e.message; }
  const [after] = await c.query('SELECT 7 AS a');
  console.log(JSON.stringify({ value: rows[0].v, denied, after: after[0].a }));
  await c.end();
})().catch(e => { console.error(e); process.exit(1); });
"""

NODE_MARIADB = r"""
const mariadb = require('mariadb');
const fs = require('fs');
const [host, port, user, ca] = process.argv.slice(2);
(async () => {
  const c = await mariadb.createConnection({ host, port: +port, user, database: 'appdb',
      password: process.env.SB_TOKEN, connectTimeout: 10000,
      ssl: ca ? { ca: fs.readFileSync(ca), rejectUnauthorized: true } : false });
  const rows = await c.execute('SELECT ? + 1 AS v', [41]);
  const text = await c.query('SELECT ? + 1 AS v', [41]);
  let denied = '';
  try { await c.query('DROP TABLE matrix_victim'); } catch (e) { denied = e.message; }
  const after = await c.query('SELECT 7 AS a');
  console.log(JSON.stringify({ value: Number(rows[0].v), text: Number(text[0].v), denied,
                               after: Number(after[0].a) }));
  await c.end();
})().catch(e => { console.error(e); process.exit(1); });
"""


def test_my_node_mysql2(maria, my_victim, transport, mysql2_dir):
    b = my_victim
    ca = _ca(b) if transport != "plain" else ""
    out = _json_tail(_node(mysql2_dir, NODE_MYSQL2, [b.host, b.mysql_port, b.user, ca],
                           {"SB_TOKEN": b.token}))
    _check(out)
    assert _my_victim_there(maria)


def test_my_node_mariadb(maria, my_victim, transport, node_mariadb_dir):
    b = my_victim
    ca = _ca(b) if transport != "plain" else ""
    out = _json_tail(_node(node_mariadb_dir, NODE_MARIADB, [b.host, b.mysql_port, b.user, ca],
                           {"SB_TOKEN": b.token}))
    _check(out)
    assert out["text"] == 42
    assert _my_victim_there(maria)


def test_my_mysqlslap(maria, my_victim, transport):
    slap = shutil.which("mariadb-slap") or shutil.which("mysqlslap")
    if not slap:
        pytest.skip("mariadb-slap / mysqlslap not installed (Debian mariadb-client)")
    b = my_victim
    tls = ["--ssl", "--ssl-ca=" + _ca(b), "--ssl-verify-server-cert"] \
        if transport != "plain" else ["--skip-ssl"]
    base = [slap, "--no-defaults", "-h", b.host, "-P", str(b.mysql_port), "-u", b.user,
            *tls, "--create-schema=appdb", "--no-drop"]
    env = dict(os.environ, MYSQL_PWD=b.token)
    r = subprocess.run([*base, "--query=SELECT 41 + 1", "--concurrency=4", "--iterations=2",
                        "--number-of-queries=100"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Average number of seconds to run all queries" in r.stdout, r.stdout
    r = subprocess.run([*base, f"--query={DENIED}", "--concurrency=1", "--iterations=1"],
                       env=env, capture_output=True, text=True, timeout=60)
    # mysqlslap reports the failed query and exits 0, as it does direct
    assert "blocked by rule 'no-drop'" in r.stderr, r.stdout + r.stderr
    assert _my_victim_there(maria)


def test_my_sysbench(maria, my_victim, transport, tmp_path):
    if not shutil.which("sysbench"):
        pytest.skip("sysbench not installed")
    b = my_victim
    common = ["--db-driver=mysql", "--mysql-db=appdb", "--tables=1", "--table-size=200"]
    maria.sql("DROP TABLE IF EXISTS appdb.sbtest1")
    run(["sysbench", "oltp_point_select", *common, "--mysql-ssl=off",
         f"--mysql-host={maria.host}", f"--mysql-port={maria.port}", "--mysql-user=app",
         f"--mysql-password={maria.passwords['app']}", "prepare"], timeout=120)
    if transport != "plain":
        # sysbench 1.0 --mysql-ssl=on reads cacert.pem, client-cert.pem and
        # client-key.pem from its working directory: the proxy's CA, and a
        # throwaway client pair (the proxy asks for no client certificate)
        shutil.copy(_ca(b), tmp_path / "cacert.pem")
        crt, key = make_test_ca(tmp_path, name="client", cn="sysbench client")
        os.rename(crt, tmp_path / "client-cert.pem")
        os.rename(key, tmp_path / "client-key.pem")
    try:
        ssl = "--mysql-ssl=on" if transport != "plain" else "--mysql-ssl=off"
        r = subprocess.run(["sysbench", "oltp_point_select", *common, ssl, "--db-ps-mode=auto",
                            f"--mysql-host={b.host}", f"--mysql-port={b.mysql_port}",
                            f"--mysql-user={b.user}", f"--mysql-password={b.token}",
                            "--time=0", "--events=300", "--threads=2", "run"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(r"transactions:\s+300\s", r.stdout), r.stdout
        assert re.search(r"ignored errors:\s+0\s", r.stdout), r.stdout
    finally:
        maria.sql("DROP TABLE IF EXISTS appdb.sbtest1")
    assert _my_victim_there(maria)


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    return request.param
