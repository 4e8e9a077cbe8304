"""MySQL / MariaDB frontend end to end: real MariaDB 10.11, real clients
(mariadb CLI, mysqldump, pymysql, a Connector/C program, JDBC, sysbench)
through sqlbastion, with the audit records checked.

Tests that need statements to be *allowed* skip while the policy engine has
no MySQL lexer yet (it then fails closed: every statement is denied by rule
"fail-closed"); login, refusal and malformed-packet tests run regardless.
"""

import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bastion import CommandFailed, random_token_like, run

HERE = Path(__file__).resolve().parent


def needs_lexer(b):
    """Skip when the policy cannot classify MySQL yet (everything denied)."""
    r = b.mysql("SELECT 1")
    if r.returncode != 0 and "fail-closed" in r.stderr:
        pytest.skip("policy has no MySQL lexer yet: every statement is denied (fail-closed)")
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- login


def test_mysql_login_and_audit(my_ready, maria):
    b = my_ready
    r = b.mysql("SELECT 1")
    # With or without the lexer, the login itself must work and be audited.
    assert "Access denied" not in r.stderr, r.stderr
    rec = b.wait_audit("login", user="alice")[0]
    assert rec["protocol"] == "mysql"
    assert rec["asset"] == "demo-mysql"
    assert rec["account"] == "app"
    assert rec["database"] == "appdb"
    b.wait_audit("session_end", user="alice")


def test_mysql_query_through_proxy(my_ready, maria):
    needs_lexer(my_ready)
    r = my_ready.mysql("SELECT id, owner FROM accounts ORDER BY id; SELECT @@version")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["1\talice", "2\tbob", "3\tcarol"]
    assert "MariaDB" in lines[3]
    q = my_ready.wait_audit("query", where=lambda x: "FROM accounts" in x["statement"])[0]
    assert q["decision"] == "allow"
    end = my_ready.wait_audit("query_end", query_id=q["query_id"], session=q["session"])[0]
    assert end["rows"] == 3


@pytest.mark.parametrize("how", ["wrong", "unknown-user", "revoked", "expired", "empty"])
def test_mysql_login_refused(my_bastion, maria, how):
    b = my_bastion
    token = b.mysql_ready(maria)
    user = "alice"
    if how == "wrong":
        token = random_token_like()
    elif how == "unknown-user":
        user = "mallory"
    elif how == "revoked":
        out = b.ctl("token", "list").stdout
        tid = [ln.split()[0] for ln in out.splitlines() if ln.split() and ln.split()[0].isdigit()][-1]
        b.ctl("token", "revoke", tid)
    elif how == "expired":
        token = b.issue_token("alice", "demo-mysql/app", ttl="1s")
        time.sleep(2.1)
    elif how == "empty":
        token = ""
    r = b.mysql("SELECT 1", user=user, token=token)
    assert r.returncode != 0
    assert "ERROR 1045 (28000)" in r.stderr, r.stderr
    assert f"Access denied for user '{user}'@'127.0.0.1'" in r.stderr
    rec = b.wait_audit("login_failed")[0]
    expect = {"wrong": "bad token", "unknown-user": "unknown user", "revoked": "revoked",
              "expired": "expired", "empty": "empty password"}[how]
    assert expect in rec["error"], rec


def test_mysql_client_tls(my_bastion, maria):
    b = my_bastion
    b.conf["sqlbastion"]["require_tls"] = "yes"
    b.write_conf()
    b.mysql_ready(maria)
    r = b.mysql("SELECT 1", ssl=False)
    assert r.returncode != 0 and "TLS is required" in r.stderr, r.stderr
    r = b.mysql("SHOW SESSION STATUS LIKE 'Ssl_cipher'", ssl=True)
    assert "Access denied" not in r.stderr and "TLS" not in r.stderr, r.stderr
    assert b.wait_audit("login", user="alice")


def test_mysql_clear_password_needs_tls(my_ready, maria):
    """mysql_clear_password sends the token itself: only over TLS. Without
    TLS the proxy switches the client to mysql_native_password."""
    b = my_ready
    args = ["--default-auth=mysql_clear_password", "--enable-cleartext-plugin"]
    r = b.mysql("SELECT 1", ssl=True, args=args)
    assert "Access denied" not in r.stderr, r.stderr
    r = b.mysql("SELECT 1", ssl=False, args=args)
    assert "Access denied" not in r.stderr, r.stderr
    assert len(b.wait_audit("login", count=2)) == 2


@pytest.mark.parametrize("tls", ["require", "verify-full"])
def test_mysql_backend_tls(my_bastion, maria, tls):
    b = my_bastion
    b.conf["sqlbastion"]["backend_ca"] = str(maria.ca_file)
    b.write_conf()
    b.mysql_ready(maria, tls=tls)
    r = b.mysql("SELECT 1")
    assert "Access denied" not in r.stderr, r.stderr
    b.wait_audit("login", user="alice")


def test_mysql_backend_refuses_hosted_account(my_bastion, maria):
    b = my_bastion
    b.add_user("alice")
    b.add_asset("demo-mysql", host=maria.host, port=maria.port, protocol="mysql")
    b.add_account("demo-mysql/app", username="app", password="not-the-password")
    b.grant("alice", "demo-mysql/app", "write")
    b.issue_token("alice", "demo-mysql/app")
    b.start()
    r = b.mysql("SELECT 1")
    assert "could not log in to the database with the hosted account" in r.stderr, r.stderr
    rec = b.wait_audit("login_failed")[0]
    assert "backend login failed" in rec["error"] and "1045" in rec["error"]
    assert "not-the-password" not in b.audit_jsonl.read_text()
    assert "not-the-password" not in b.log_text()


# ---------------------------------------------------------------- statements


def test_mysql_deny_and_continue(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    r = b.mysql("DROP TABLE accounts; SELECT count(*) FROM accounts", args=["--force"])
    assert "ERROR 1227 (42000)" in r.stderr, r.stderr
    assert "sqlbastion: blocked by rule 'no-drop'" in r.stderr
    assert r.stdout.strip() == "3"
    assert maria.value("SELECT count(*) FROM appdb.accounts") == "3"
    d = b.wait_audit("query", decision="deny")[0]
    assert d["rule"] == "no-drop" and d["statement"] == "DROP TABLE accounts"


def test_mysql_multi_statement_denied_whole(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    r = b.mysql("INSERT INTO accounts VALUES (90,'x',1) ; DROP TABLE accounts ;\n",
                args=["--force", "--delimiter=$$"])
    assert "ERROR 1227" in r.stderr, r.stderr
    # Nothing of the batch ran: checked on the server directly.
    assert maria.value("SELECT count(*) FROM appdb.accounts WHERE id = 90") == "0"
    b.wait_audit("query", decision="deny", rule="no-drop")


def test_mysql_pymysql_and_deny(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    import pymysql
    c = b.pymysql()
    cur = c.cursor()
    cur.execute("SELECT owner FROM accounts WHERE id = %s", (2,))
    assert cur.fetchall() == (("bob",),)
    with pytest.raises(pymysql.err.OperationalError) as ei:
        cur.execute("TRUNCATE accounts")
    assert ei.value.args[0] == 1227
    cur.execute("SELECT count(*) FROM accounts")
    assert cur.fetchone()[0] == 3


def test_mysql_init_db_and_field_list(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    c = b.pymysql(database=None)
    c.select_db("appdb")
    cur = c.cursor()
    cur.execute("SELECT DATABASE()")
    assert cur.fetchone()[0] == "appdb"
    b.wait_audit("query", statement="USE appdb")
    c.ping()


CONNECTOR_C = r"""
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* usage: prog host port user db (password in MYSQL_PWD) */
int main(int argc, char **argv)
{
	MYSQL *m = mysql_init(NULL);
	if (!mysql_real_connect(m, argv[1], argv[3], getenv("MYSQL_PWD"), argv[4], atoi(argv[2]), NULL, 0)) {
		printf("connect: %u %s\n", mysql_errno(m), mysql_error(m));
		return 1;
	}
	MYSQL_STMT *st = mysql_stmt_init(m);
	const char *bad = "DROP TABLE accounts";
	if (mysql_stmt_prepare(st, bad, strlen(bad)) != 0)
		printf("prepare-denied: %u %s\n", mysql_stmt_errno(st), mysql_stmt_error(st));
	mysql_stmt_close(st);
	st = mysql_stmt_init(m);
	const char *q = "SELECT owner FROM accounts WHERE id = ? AND owner <> ?";
	if (mysql_stmt_prepare(st, q, strlen(q)) != 0) {
		printf("prepare: %s\n", mysql_stmt_error(st));
		return 1;
	}
	int id = 2;
	char who[] = "nobody \"quoted\"";
	unsigned long wl = strlen(who);
	MYSQL_BIND in[2];
	memset(in, 0, sizeof in);
	in[0].buffer_type = MYSQL_TYPE_LONG;
	in[0].buffer = &id;
	in[1].buffer_type = MYSQL_TYPE_STRING;
	in[1].buffer = who;
	in[1].length = &wl;
	mysql_stmt_bind_param(st, in);
	if (mysql_stmt_execute(st) != 0) {
		printf("execute: %s\n", mysql_stmt_error(st));
		return 1;
	}
	char owner[64];
	unsigned long ol = 0;
	MYSQL_BIND out[1];
	memset(out, 0, sizeof out);
	out[0].buffer_type = MYSQL_TYPE_STRING;
	out[0].buffer = owner;
	out[0].buffer_length = sizeof owner;
	out[0].length = &ol;
	mysql_stmt_bind_result(st, out);
	mysql_stmt_store_result(st);
	while (mysql_stmt_fetch(st) == 0)
		printf("row: %.*s\n", (int)ol, owner);
	/* execute again with the same types (no new-params-bound flag) */
	id = 3;
	if (mysql_stmt_execute(st) != 0) {
		printf("execute2: %s\n", mysql_stmt_error(st));
		return 1;
	}
	mysql_stmt_store_result(st);
	while (mysql_stmt_fetch(st) == 0)
		printf("row: %.*s\n", (int)ol, owner);
	mysql_stmt_close(st);
	if (mysql_query(m, "SELECT 41+1") == 0) {
		MYSQL_RES *r = mysql_store_result(m);
		MYSQL_ROW row = mysql_fetch_row(r);
		printf("after: %s\n", row[0]);
		mysql_free_result(r);
	}
	if (mysql_change_user(m, "root", "", NULL) != 0)
		printf("change-user: %u\n", mysql_errno(m));
	mysql_close(m);
	return 0;
}
"""


def test_mysql_connector_c_prepared(my_ready, maria, tmp_path):
    b = my_ready
    needs_lexer(b)
    src = tmp_path / "prog.c"
    src.write_text(CONNECTOR_C)
    flags = run(["pkg-config", "--cflags", "--libs", "libmariadb"]).stdout.split()
    run(["cc", "-o", tmp_path / "prog", src, *flags])
    env = dict(os.environ, MYSQL_PWD=b.token)
    r = subprocess.run([tmp_path / "prog", b.host, str(b.mysql_port), "alice", "appdb"],
                       env=env, capture_output=True, text=True, timeout=60)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "prepare-denied: 1227 sqlbastion: blocked by rule 'no-drop'" in out
    assert "row: bob" in out and "row: carol" in out
    assert "after: 42" in out
    assert "change-user: 1045" in out  # COM_CHANGE_USER with no token: refused (issue 11)
    recs = b.wait_audit("query", count=2,
                        where=lambda x: x["statement"].startswith("SELECT owner FROM accounts WHERE id = ? AND"))
    assert recs[0]["params"] == [2, "nobody \"quoted\""]
    assert recs[1]["params"] == [3, "nobody \"quoted\""]
    denied = b.wait_audit("query", decision="deny", statement="DROP TABLE accounts")
    assert denied


def test_mysql_load_data_local(bastion_factory, maria, tmp_path):
    # No rule file: whether guard.rules lets LOAD DATA LOCAL through is the
    # policy's call; here the grant level alone decides.
    b = bastion_factory(listeners=("mysql",), policy=None)
    b.mysql_ready(maria, level="write")
    needs_lexer(b)
    data = tmp_path / "rows.csv"
    data.write_text("200,dave,1.00\n201,erin,2.00\n")
    maria.sql("CREATE TABLE IF NOT EXISTS appdb.loaded LIKE appdb.accounts; "
              "DELETE FROM appdb.loaded;")
    r = b.mysql(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE loaded FIELDS TERMINATED BY ','",
                args=["--local-infile=1"])
    assert r.returncode == 0, r.stderr
    assert maria.value("SELECT count(*) FROM appdb.loaded") == "2"
    # A read grant: the statement itself is refused, the file never read.
    b.issue_token("alice", "demo-mysql/app")
    b.add_user("rita")
    b.grant("rita", "demo-mysql/app", "read")
    tok = b.issue_token("rita", "demo-mysql/app")
    r = b.mysql(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE loaded FIELDS TERMINATED BY ','",
                user="rita", token=tok, args=["--local-infile=1"])
    assert "ERROR 1227" in r.stderr, r.stderr
    assert maria.value("SELECT count(*) FROM appdb.loaded") == "2"


def test_mysql_big_blob_round_trip(my_bastion, maria):
    b = my_bastion
    b.conf["limits"]["max_message"] = 256 * 1024 * 1024
    b.write_conf()
    b.mysql_ready(maria)
    needs_lexer(b)
    maria.sql("CREATE TABLE IF NOT EXISTS appdb.blobs (id INT PRIMARY KEY, b LONGBLOB); "
              "DELETE FROM appdb.blobs;")
    blob = os.urandom(64 * 1024 * 1024)
    c = b.pymysql(max_allowed_packet=256 * 1024 * 1024)
    cur = c.cursor()
    cur.execute("INSERT INTO blobs VALUES (1, %s)", (blob,))
    cur.execute("SELECT b FROM blobs WHERE id = 1")
    got = cur.fetchone()[0]
    assert len(got) == len(blob) and got == blob
    end = b.wait_audit("query_end", where=lambda x: x.get("rows") == 1, count=2)
    assert end


def test_mysql_kill_query_from_second_session(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    import pymysql
    a = b.pymysql()
    victim = a.thread_id()  # the proxy's id (session id), from the handshake
    result = {}

    def slow():
        t0 = time.monotonic()
        try:
            cur = a.cursor()
            cur.execute("SELECT SLEEP(30)")
            result["value"] = cur.fetchone()[0]
        except pymysql.err.Error as e:
            result["error"] = e.args
        result["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(1.0)
    k = b.pymysql()
    k.cursor().execute(f"KILL QUERY {victim}")
    t.join(20)
    assert result.get("elapsed", 99) < 10, result
    # The session is still usable after its query was cancelled.
    cur = a.cursor()
    cur.execute("SELECT 7")
    assert cur.fetchone()[0] == 7
    # An unknown id is the server's error, with the proxy's id in it.
    with pytest.raises(pymysql.err.Error) as ei:
        k.cursor().execute("KILL QUERY 999999")
    assert ei.value.args[0] == 1094


def test_mysql_kill_other_users_session_needs_operate(my_bastion, maria):
    b = my_bastion
    b.mysql_ready(maria)
    needs_lexer(b)
    import pymysql
    a = b.pymysql()
    b.add_user("bob")
    b.grant("bob", "demo-mysql/app", "write")
    tok_bob = b.issue_token("bob", "demo-mysql/app")
    k = b.pymysql(user="bob", token=tok_bob)
    with pytest.raises(pymysql.err.Error) as ei:
        k.cursor().execute(f"KILL QUERY {a.thread_id()}")
    # refused by the policy (grant-level:operate, 1227) before the frontend's
    # own owner check (1095) is reached
    assert ei.value.args[0] in (1095, 1227)


def test_mysqldump_through_proxy(my_ready, maria):
    b = my_ready
    needs_lexer(b)
    env = dict(os.environ, MYSQL_PWD=b.token)
    r = subprocess.run(["mysqldump", "--no-defaults", "-h", b.host, "-P", str(b.mysql_port),
                        "-u", "alice", "--skip-ssl", "--single-transaction", "appdb",
                        "accounts"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "INSERT INTO `accounts`" in r.stdout and "'carol'" in r.stdout


JDBC = r"""
import java.sql.*;
public class Jdbc {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection(a[0], "alice", System.getenv("SB_TOKEN"))) {
      try (PreparedStatement ps = c.prepareStatement("SELECT owner FROM accounts WHERE id = ?")) {
        ps.setInt(1, 3);
        try (ResultSet rs = ps.executeQuery()) { rs.next(); System.out.println("row:" + rs.getString(1)); }
      }
      try (Statement st = c.createStatement()) {
        try { st.execute("DROP TABLE accounts"); } catch (SQLException e) {
          System.out.println("denied:" + e.getErrorCode());
        }
        try (ResultSet rs = st.executeQuery("SELECT count(*) FROM accounts")) { rs.next(); System.out.println("count:" + rs.getInt(1)); }
      }
      System.out.println("product:" + c.getMetaData().getDatabaseProductName());
    }
  }
}
"""
JDBC_JAR = Path("/usr/share/java/mariadb-java-client.jar")


@pytest.mark.parametrize("server_prep", [False, True])
def test_mysql_jdbc(my_ready, maria, tmp_path, server_prep):
    if not JDBC_JAR.exists() or not shutil.which("javac"):
        pytest.skip("libmariadb-java / javac not installed")
    b = my_ready
    needs_lexer(b)
    (tmp_path / "Jdbc.java").write_text(JDBC)
    run(["javac", "-d", tmp_path, tmp_path / "Jdbc.java"], timeout=120)
    url = (f"jdbc:mariadb://{b.host}:{b.mysql_port}/appdb?sslMode=disable"
           f"&useServerPrepStmts={'true' if server_prep else 'false'}")
    env = dict(os.environ, SB_TOKEN=b.token)
    r = subprocess.run(["java", "-cp", f"{tmp_path}:{JDBC_JAR}", "Jdbc", url], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "row:carol" in r.stdout and "denied:1227" in r.stdout and "count:3" in r.stdout
    assert "product:MariaDB" in r.stdout


def test_mysql_sysbench_read_write(my_ready, maria):
    if not shutil.which("sysbench"):
        pytest.skip("sysbench not installed")
    b = my_ready
    needs_lexer(b)
    common = ["--db-driver=mysql", f"--mysql-host={b.host}", f"--mysql-port={b.mysql_port}",
              "--mysql-user=alice", f"--mysql-password={b.token}", "--mysql-db=appdb",
              "--mysql-ssl=off", "--tables=4", "--table-size=10000"]
    # sysbench only takes the password in argv; the token is short-lived
    # and this is a test instance.
    # guard.rules denies DROP through the proxy: tables are dropped directly.
    drop = "DROP TABLE IF EXISTS appdb.sbtest1, appdb.sbtest2, appdb.sbtest3, appdb.sbtest4"
    maria.sql(drop)
    run(["sysbench", "oltp_read_write", *common, "prepare"], timeout=300)
    r = run(["sysbench", "oltp_read_write", *common, "--threads=2", "--time=10",
             "--report-interval=0", "run"], timeout=120)
    stats = {}
    for ln in r.stdout.splitlines():
        key, _, val = ln.partition(":")
        if val.split():
            stats[key.strip()] = val.split()[0]
    assert stats["ignored errors"] == "0", r.stdout
    assert int(stats["transactions"]) > 0, r.stdout
    assert "FATAL" not in r.stdout + r.stderr
    maria.sql(drop)


# ---------------------------------------------------------------- malformed input


def _greeting(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    h = s.recv(4)
    n = h[0] | h[1] << 8 | h[2] << 16
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return s, h[3], body


def _closed(s):
    try:
        s.settimeout(5)
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.parametrize("bad", ["wrong-seq", "huge-length", "truncated", "garbage"])
def test_mysql_malformed_packets_close_that_connection(my_ready, maria, bad):
    b = my_ready
    s, seq, body = _greeting(b.mysql_port)
    assert seq == 0 and body[0] == 10
    assert b"5.5.5-10.11.0-MariaDB-sqlbastion" in body
    if bad == "wrong-seq":
        payload = struct.pack("<IIB23x", 0x000FA685, 1 << 24, 45) + b"alice\0\0"
        s.sendall(struct.pack("<I", len(payload))[:3] + bytes([7]) + payload)
    elif bad == "huge-length":
        s.sendall(b"\xff\xff\xff\x01" + b"x" * 100)
    elif bad == "truncated":
        payload = struct.pack("<I", 0x000FA685)  # 4 of 32 bytes
        s.sendall(struct.pack("<I", len(payload))[:3] + b"\x01" + payload)
    else:
        s.sendall(b"\x05\x00\x00\x01GARBAGE-GARBAGE")
    assert _closed(s)
    s.close()
    # The proxy is still there for everyone else.
    r = b.mysql("SELECT 1")
    assert "Access denied" not in r.stderr and r.returncode in (0, 1), r.stderr
    assert b.running
