"""Cancelling a query through the proxy with each client's own cancel path
(issue 11 item 3).

Ground truth is the server: the sleeping query returns early (SLEEP() answers
1, or the query fails with 1317 "Query execution was interrupted"), and the
general log shows `KILL QUERY <backend thread>` of the sleeping session's own
backend thread (found in the server's process list, never from the proxy).
Clients see the proxy's session id in the handshake; the proxy maps
`KILL QUERY <that id>` to the backend thread.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from bastion import client_env, run
from test_audit_mysql_ground_truth import general_log
from test_mysql_proxy import needs_lexer

MY_JAR = "/usr/share/java/mariadb-java-client.jar"


def _sleeping_thread(maria, marker, timeout=15):
    """The backend thread id running the statement that contains marker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = maria.value("SELECT id FROM information_schema.processlist "
                        f"WHERE info LIKE '%{marker}%' AND info NOT LIKE '%processlist%'")
        if v:
            return int(v)
        time.sleep(0.1)
    raise AssertionError(f"no backend thread runs {marker}")


@pytest.fixture
def glog(maria):
    """The server's general log on for the test; yields a reader."""
    path = maria.base / f"general-{os.getpid()}-{time.monotonic_ns()}.log"
    with general_log(maria, path):
        yield lambda: path.read_text(errors="replace") if path.exists() else ""


def _killed_in_log(glog, thread, timeout=5):
    """The general log shows KILL QUERY of exactly this backend thread."""
    pat = re.compile(rf"\bKILL\s+QUERY\s+\(?{thread}\)?\s*$", re.I | re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pat.search(glog()):
            return True
        time.sleep(0.1)
    return False


def _my_value(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    row = cur.fetchone()
    return row[0] if row else None


def _in_thread(fn):
    res = {}

    def body():
        t0 = time.monotonic()
        try:
            res["value"] = fn()
        except Exception as e:  # noqa: BLE001 - the error is the result
            res["error"] = repr(e)
        res["elapsed"] = time.monotonic() - t0
    t = threading.Thread(target=body)
    t.start()
    return t, res


def _interrupted(res):
    return (res.get("value") == 1 or "1317" in res.get("error", "")) and res["elapsed"] < 15


@pytest.mark.parametrize("which", ["proxy_id", "backend_id"])
def test_pymysql_kill_query(my_ready, maria, glog, which):
    """pymysql's thread_id() (the handshake id) and CONNECTION_ID() (the
    backend id, as a DBA reads it in SHOW PROCESSLIST) both cancel."""
    b = my_ready
    needs_lexer(b)
    victim = b.pymysql()
    killer = b.pymysql()
    backend_id = _my_value(victim, "SELECT CONNECTION_ID()")
    marker = f"SLEEP(30.{which == 'proxy_id' and 1 or 2})"
    t, res = _in_thread(lambda: _my_value(victim, f"SELECT {marker}"))
    thread = _sleeping_thread(maria, marker)
    assert thread == backend_id
    target = victim.thread_id() if which == "proxy_id" else backend_id
    _my_value(killer, f"KILL QUERY {target}")
    t.join(30)
    assert _interrupted(res), res
    assert _killed_in_log(glog, thread)
    # the session goes on
    assert _my_value(victim, "SELECT 7") == 7


@pytest.mark.parametrize("client_tls,backend_tls", [(False, "disable"), (True, "disable"),
                                                    (True, "require")])
def test_mysql_cli_ctrl_c(bastion_factory, maria, glog, client_tls, backend_tls):
    """The mariadb CLI on SIGINT opens a second connection (without a
    database) and sends KILL QUERY <handshake id>; over client TLS and over
    backend TLS too (that second login was `1043 Bad handshake`)."""
    b = bastion_factory(listeners=("postgres", "mysql"))
    b.mysql_ready(maria, tls=backend_tls)
    needs_lexer(b)
    env = client_env()
    env["MYSQL_PWD"] = b.token
    marker = f"SLEEP(30.3{int(client_tls)}{len(backend_tls)})"
    argv = ["mariadb", "--no-defaults", "-h", b.host, "-P", str(b.mysql_port), "-u", "alice",
            "--batch", "--skip-column-names", "--ssl" if client_tls else "--skip-ssl", "appdb"]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, text=True)
    try:
        p.stdin.write(f"SELECT {marker};\nSELECT 'after-cancel';\n")
        p.stdin.flush()
        thread = _sleeping_thread(maria, marker)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert time.monotonic() - t0 < 15
    assert "cannot connect" not in err, err
    assert _killed_in_log(glog, thread), err + b.log_text()[-2000:]
    # batch mode stops at the interrupted statement's error
    assert "1317" in err or "interrupted" in err, (out, err)
    assert not b.audit_records("login_failed")


NODE_CANCEL = r"""
const lib = process.argv[4];
(async () => {
  const out = {};
  const opts = { host: process.argv[2], port: Number(process.argv[3]), user: 'alice',
                 password: process.env.SB_TOKEN, database: 'appdb' };
  let a, k;
  if (lib === 'mysql2') {
    const m = require('mysql2/promise');
    a = await m.createConnection(opts); k = await m.createConnection(opts);
  } else {
    const m = require('mariadb');
    a = await m.createConnection(opts); k = await m.createConnection(opts);
  }
  out.threadId = a.threadId;
  const t0 = Date.now();
  const p = a.query('SELECT SLEEP(30.4) AS s').then(
    (r) => { out.value = Number((Array.isArray(r[0]) ? r[0][0] : r[0]).s); },
    (e) => { out.error = e.errno; });
  await new Promise((r) => setTimeout(r, Number(process.argv[5])));
  await k.query('KILL QUERY ' + a.threadId);
  await p;
  out.elapsed = (Date.now() - t0) / 1000;
  const after = await a.query('SELECT 7 AS x');
  out.after = Number((Array.isArray(after[0]) ? after[0][0] : after[0]).x);
  await a.end(); await k.end();
  console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ fatal: String(e), errno: e.errno })); process.exit(1); });
"""




def _node_cancel(b, maria, glog, d, lib):
    script = d / "cancel.js"
    script.write_text(NODE_CANCEL)
    env = dict(os.environ, SB_TOKEN=b.token)
    p = subprocess.Popen(["node", str(script), b.host, str(b.mysql_port), lib, "1500"], cwd=d,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    thread = _sleeping_thread(maria, "SLEEP(30.4)")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, out + err + b.log_text()[-2000:]
    res = json.loads(out.strip().splitlines()[-1])
    assert res["elapsed"] < 15, res
    assert res.get("value") == 1 or res.get("error") == 1317, res
    assert res["after"] == 7
    assert _killed_in_log(glog, thread)


def test_node_mysql2_kill_query(my_ready, maria, glog, mysql2_dir):  # noqa: F811
    needs_lexer(my_ready)
    _node_cancel(my_ready, maria, glog, mysql2_dir, "mysql2")


def test_node_mariadb_kill_query(my_ready, maria, glog, node_mariadb_dir):
    needs_lexer(my_ready)
    _node_cancel(my_ready, maria, glog, node_mariadb_dir, "mariadb")


JDBC_CANCEL = r"""
import java.sql.*;
public class Cancel {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection(a[0], "alice", System.getenv("SB_TOKEN"))) {
      final Statement st = c.createStatement();
      if (a[1].equals("cancel")) {
        new Thread(() -> {
          try { Thread.sleep(2000); st.cancel(); System.out.println("cancel-sent"); }
          catch (Exception e) { System.out.println("cancel-failed:" + e); }
        }).start();
      } else {
        st.setQueryTimeout(2);
      }
      long t0 = System.nanoTime();
      try (ResultSet rs = st.executeQuery("SELECT SLEEP(30.5)")) {
        rs.next();
        System.out.println("value:" + rs.getInt(1));
      } catch (SQLException e) {
        System.out.println("error:" + e.getErrorCode() + ":" + e.getMessage());
      }
      System.out.println("elapsed:" + (System.nanoTime() - t0) / 1e9);
      try (ResultSet rs = c.createStatement().executeQuery("SELECT 7")) {
        rs.next();
        System.out.println("after:" + rs.getInt(1));
      }
    }
  }
}
"""


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_connector_j_cancel(my_ready, maria, glog, tmp_path, how):
    """Connector/J Statement.cancel() (a second connection that sends KILL
    QUERY <handshake id>) and setQueryTimeout (on MariaDB, SET STATEMENT
    max_statement_time=N FOR ...: the server itself interrupts)."""
    if not os.path.exists(MY_JAR) or not shutil.which("javac"):
        pytest.skip("libmariadb-java / javac not installed")
    b = my_ready
    needs_lexer(b)
    (tmp_path / "Cancel.java").write_text(JDBC_CANCEL)
    run(["javac", "-d", tmp_path, tmp_path / "Cancel.java"], timeout=120)
    url = f"jdbc:mariadb://{b.host}:{b.mysql_port}/appdb"
    env = dict(os.environ, SB_TOKEN=b.token)
    r = subprocess.run(["java", "-cp", f"{tmp_path}:{MY_JAR}", "Cancel", url, how], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:] + b.log_text()[-3000:]
    out = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
    assert float(out["elapsed"]) < 15, r.stdout
    assert out.get("value") == "1" or out.get("error", "").startswith("1317") \
        or "interrupted" in out.get("error", ""), r.stdout + b.log_text()[-2000:]
    assert out["after"] == "7"
    log = glog()
    if how == "cancel":
        assert "cancel-sent" in r.stdout, r.stdout
        # A general-log line starts with "YYMMDD HH:MM:SS" when the second
        # changed since the previous line, with blanks otherwise.
        m = re.search(r"^(?:\d{6}\s+\d{1,2}:\d\d:\d\d)?\s*(\d+)\s+Query\s+SELECT SLEEP\(30\.5\)",
                      log, re.M)
        assert m, log[-3000:]
        assert _killed_in_log(glog, int(m.group(1))), log[-3000:]
    else:
        assert re.search(r"max_statement_time\s*=\s*2\b.*SLEEP\(30\.5\)", log, re.I), log[-3000:]


def test_backend_id_kill_is_owner_only(my_ready, maria, glog):
    """The plain `KILL QUERY n` also takes the server's thread id, but only
    of the user's own sessions: bob's backend thread id from alice gets
    "Unknown thread id" and nothing reaches the server; carol (`operate`)
    may cancel it."""
    import pymysql
    b = my_ready
    needs_lexer(b)
    tok_alice = b.token
    for u, level in (("bob", "write"), ("carol", "operate")):
        b.add_user(u)
        b.grant(u, "demo-mysql/app", level)
    bob = b.pymysql(user="bob", token=b.issue_token("bob", "demo-mysql/app"))
    carol = b.pymysql(user="carol", token=b.issue_token("carol", "demo-mysql/app"))
    alice = b.pymysql(user="alice", token=tok_alice)
    bob_thread = _my_value(bob, "SELECT CONNECTION_ID()")
    # ids may collide; this test needs a backend id that is no proxy id
    assert bob_thread > max(alice.thread_id(), carol.thread_id(), bob.thread_id()), bob_thread
    t, res = _in_thread(lambda: _my_value(bob, "SELECT SLEEP(3.6)"))
    thread = _sleeping_thread(maria, "SLEEP(3.6)")
    assert thread == bob_thread
    for sql in (f"KILL QUERY {bob_thread}", f"KILL {bob_thread}"):
        with pytest.raises(pymysql.err.Error) as ei:
            _my_value(alice, sql)
        assert ei.value.args[0] == 1094, ei.value
    with pytest.raises(pymysql.err.Error) as ei:
        alice.kill(bob_thread)  # COM_PROCESS_KILL
    assert ei.value.args[0] == 1094, ei.value
    t.join(30)
    assert res.get("value") == 0, res  # SLEEP ran to its end
    assert not _killed_in_log(glog, bob_thread, timeout=0.5)
    # operate: the server's thread id as written
    t, res = _in_thread(lambda: _my_value(bob, "SELECT SLEEP(30.6)"))
    _sleeping_thread(maria, "SLEEP(30.6)")
    _my_value(carol, f"KILL QUERY {bob_thread}")
    t.join(30)
    assert _interrupted(res), res
    assert _killed_in_log(glog, bob_thread)
