"""SQL Server (TDS) frontend end to end (issue 16).

Real clients (tsql from FreeTDS, pymssql, pytds, node tedious, jTDS) go
through the proxy's `tds` listener to the TDS test backend
(tests/tds_backend/, statements run on SQLite; its ground-truth log says
what it executed). Each client runs with the encryption modes it
supports: off (login-only TLS), on/require (full TLS), none (the client
cannot encrypt), strict (TDS 8.0, TLS first). What ran is judged by the
backend's ground truth, never by the proxy's audit.

node tedious comes from the npm registry into a temp directory; without
node/npm or a reachable registry that test skips and says why.
"""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bastion import REPO
from tds_backend import TdsBackend

pytds = pytest.importorskip("pytds")

# The guard policy, with the test backend's procedures allowed by name
# (EXEC of a procedure is dynamic SQL to the guard rules).
TEST_POLICY = "allow test-procs regex=/^EXEC(UTE)? sb_/i\n" + \
    (REPO / "etc" / "policies" / "guard.rules").read_text()

UNICODE = "日本語 😀 ñ"
JTDS_JAR = Path("/usr/share/java/jtds.jar")


class Env:
    """One proxy with a tds listener in front of one test backend."""

    def __init__(self, b, be, token):
        self.b, self.be, self.token = b, be, token

    @property
    def port(self):
        return self.b.ports["tds"]

    @property
    def ca(self):
        return self.b.dir / "var" / "tls" / "ca.crt"

    def pytds(self, *, enc=None, token=None, database="master", autocommit=True, **kw):
        """enc None: the client cannot encrypt (NOT_SUP); "login": login-only; "on": full."""
        if enc:
            kw.update(cafile=str(self.ca), validate_host=False, enc_login_only=(enc == "login"))
        return pytds.connect(server="127.0.0.1", port=self.port, user="alice",
                             password=token or self.token, database=database,
                             autocommit=autocommit, login_timeout=10, timeout=30, **kw)

    def executed(self):
        return self.be.executed()

    def sqls(self):
        return [e.get("sql") for e in self.executed()]


@pytest.fixture
def tds_env(bastion_factory, tmp_path):
    made = []

    def make(*, encryption="off", asset_tls="disable", level="write", conf=None,
             weak="yes"):
        be = TdsBackend(tmp_path / f"backend{len(made)}", encryption=encryption).start()
        made.append(be)
        policy = tmp_path / "policy.rules"
        policy.write_text(TEST_POLICY)
        c = {"sqlbastion": {}}
        if be.ca_cert:
            c["sqlbastion"]["backend_ca"] = str(be.ca_cert)
        for k, v in (conf or {}).items():
            c.setdefault(k, {}).update(v)
        b = bastion_factory(listeners=("tds",), policy=policy, conf=c)
        b.add_user("alice")
        extra = ("--allow-weak-auth", weak) if weak else ()
        host = "localhost" if asset_tls == "verify-full" else be.host
        b.add_asset("sql1", host=host, port=be.port, protocol="tds", tls=asset_tls, extra=extra)
        b.add_account("sql1/app", username="sa_app", password="pw")
        b.grant("alice", "sql1/app", level)
        token = b.issue_token("alice", "sql1/app")
        b.start()
        return Env(b, be, token)

    yield make
    for be in made:
        be.stop()


# ------------------------------------------------------------------ clients

def run_tsql(env, sql, *, encryption="off", token=None, tds_version="7.4"):
    """tsql with freetds.conf encryption = off|request|require; returns stdout+stderr."""
    conf = env.b.dir / "freetds.conf"
    conf.write_text(f"[bx]\n host = 127.0.0.1\n port = {env.port}\n"
                    f" tds version = {tds_version}\n encryption = {encryption}\n")
    r = subprocess.run(["tsql", "-S", "bx", "-U", "alice", "-P", token or env.token],
                       input=sql + "\nexit\n", capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, FREETDSCONF=str(conf)))
    return r.stdout + r.stderr


def pymssql_connect(env, *, encryption="off", token=None):
    pymssql = pytest.importorskip("pymssql")
    conf = env.b.dir / "freetds-pymssql.conf"
    conf.write_text(f"[bxp]\n host = 127.0.0.1\n port = {env.port}\n"
                    f" tds version = 7.4\n encryption = {encryption}\n")
    os.environ["FREETDSCONF"] = str(conf)
    try:
        return pymssql.connect(server="bxp", port=str(env.port), user="alice", password=token or env.token,
                               database="master", autocommit=True, login_timeout=10)
    finally:
        os.environ.pop("FREETDSCONF", None)


TEDIOUS_SCRIPT = r"""
const { Connection, Request, TYPES } = require('tedious');
const fs = require('fs');
const [host, port, encrypt] = process.argv.slice(2);
const out = { rows: [], errors: [] };
const c = new Connection({
  server: host,
  authentication: { type: 'default', options: { userName: 'alice', password: process.env.SB_TOKEN } },
  options: { port: Number(port), database: 'master', trustServerCertificate: true,
             encrypt: encrypt === 'strict' ? 'strict' : encrypt === 'true',
             cryptoCredentialsDetails: { ca: fs.readFileSync(process.env.SB_CA) },
             rowCollectionOnRequestCompletion: true, connectTimeout: 15000, requestTimeout: 30000 },
});
function run(sql, params) {
  return new Promise((resolve) => {
    const r = new Request(sql, (err, n, rows) => {
      resolve({ err: err ? { number: err.number, message: err.message } : null,
                rows: (rows || []).map((row) => row.map((col) => col.value)) });
    });
    for (const [name, type, value] of params || []) r.addParameter(name, TYPES[type], value);
    if (params) c.execSql(r); else c.execSqlBatch(r);
  });
}
function prepared(sql, values) {
  return new Promise((resolve) => {
    const results = [];
    const r = new Request(sql, (err) => { if (err) results.push({ err: err.number, message: err.message }); });
    r.addParameter('a', TYPES.Int);
    r.on('row', (cols) => results.push(cols.map((col) => col.value)));
    r.on('prepared', async () => {
      for (const v of values) {
        await new Promise((res) => { r.once('requestCompleted', res); c.execute(r, { a: v }); });
      }
      await new Promise((res) => { r.once('requestCompleted', res); c.unprepare(r); });
      resolve(results);
    });
    c.prepare(r);
  });
}
c.on('connect', async (err) => {
  if (err) { console.log(JSON.stringify({ fatal: String(err.message) })); process.exit(1); }
  out.batch = await run("select 1 as x, N'" + process.env.SB_UNICODE + "' as u");
  out.params = await run('select @a + 1 as n, @b as s', [['a', 'Int', 41], ['b', 'NVarChar', 'tedious']]);
  out.drop = await run('drop table no_such_table');
  out.after = await run('select 2 as y');
  out.prepared = await prepared('select @a * 10 as p', [1, 2]);
  c.close();
});
c.on('end', () => { console.log(JSON.stringify(out)); });
c.connect();
"""


@pytest.fixture(scope="session")
def tedious_dir(tmp_path_factory):
    from conftest import _npm_package_dir
    return _npm_package_dir(tmp_path_factory, "tedious", "19")


def run_tedious(env, tedious_dir, encrypt):
    script = tedious_dir / "run.js"
    script.write_text(TEDIOUS_SCRIPT)
    r = subprocess.run(["node", script, "127.0.0.1", str(env.port), encrypt], cwd=tedious_dir,
                       env=dict(os.environ, SB_TOKEN=env.token, SB_UNICODE=UNICODE, SB_CA=str(env.ca)),
                       capture_output=True, text=True, timeout=90)
    assert r.stdout.strip(), r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


JTDS_SOURCE = r"""
import java.sql.*;
public class JtdsRun {
  public static void main(String[] a) throws Exception {
    Class.forName("net.sourceforge.jtds.jdbc.Driver");
    String url = "jdbc:jtds:sqlserver://127.0.0.1:" + a[0] + "/master;ssl=" + a[1];
    StringBuilder out = new StringBuilder();
    try (Connection c = DriverManager.getConnection(url, "alice", System.getenv("SB_TOKEN"))) {
      try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select 1 as x")) {
        r.next(); out.append("batch=").append(r.getInt(1)).append('\n');
      }
      try (PreparedStatement p = c.prepareStatement("select ? * 10 as p")) {
        for (int i = 1; i <= 2; i++) {
          p.setInt(1, i);
          try (ResultSet r = p.executeQuery()) { r.next(); out.append("prepared=").append(r.getInt(1)).append('\n'); }
        }
      }
      try (Statement s = c.createStatement()) { s.execute("create table jb (id int)"); }
      try (PreparedStatement p = c.prepareStatement("insert into jb values (?)")) {
        for (int i = 1; i <= 3; i++) { p.setInt(1, i); p.addBatch(); }
        out.append("batch_counts=").append(p.executeBatch().length).append('\n');
      }
      try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select count(*) from jb")) {
        r.next(); out.append("batched=").append(r.getInt(1)).append('\n');
      }
      try (Statement s = c.createStatement()) {
        s.execute("drop table no_such_table");
        out.append("drop=ran\n");
      } catch (SQLException e) {
        out.append("drop=").append(e.getErrorCode()).append(' ').append(e.getMessage()).append('\n');
      }
      try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select 2 as y")) {
        r.next(); out.append("after=").append(r.getInt(1)).append('\n');
      }
    } catch (SQLException e) {
      out.append("fatal=").append(e.getErrorCode()).append(' ').append(e.getMessage()).append('\n');
    }
    System.out.print(out);
  }
}
"""


def run_jtds(env, ssl):
    if not JTDS_JAR.exists() or not shutil.which("java"):
        pytest.skip("jTDS (libjtds-java) or java not installed")
    src = env.b.dir / "JtdsRun.java"
    src.write_text(JTDS_SOURCE)
    r = subprocess.run(["java", "-cp", str(JTDS_JAR), str(src), str(env.port), ssl],
                       env=dict(os.environ, SB_TOKEN=env.token), capture_output=True,
                       text=True, timeout=120)
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line), r.stderr


# ------------------------------------------------------------------ the matrix

def assert_denied_not_run(env):
    sqls = env.sqls()
    assert not any("no_such_table" in (s or "") for s in sqls), sqls
    # the refusal is in the audit as a deny by the guard rule
    recs = env.b.audit_records("query", decision="deny")
    assert any(r.get("rule") == "no-drop" for r in recs), recs


TSQL_MODES = {"off": "off", "request": "login-only", "require": "on"}  # FreeTDS: off = NOT_SUP, request = OFF


@pytest.mark.parametrize("mode", ["off", "request", "require"])
def test_tsql(tds_env, mode):
    env = tds_env()
    out = run_tsql(env, f"select 1 as x, N'{UNICODE}' as u\ngo\ndrop table no_such_table\ngo\n"
                        "select 2 as y\ngo", encryption=mode)
    assert UNICODE in out, out
    assert "Msg 229" in out and "sqlbastion: blocked by rule 'no-drop'" in out, out
    assert "\n2\n" in out, out
    assert_denied_not_run(env)
    login = env.b.audit_records("login")[-1]
    assert login["protocol"] == "tds" and login["account"] == "sa_app", login
    assert f"client encryption {TSQL_MODES[mode]}" in env.b.log_text()


@pytest.mark.parametrize("mode", ["off", "request", "require"])
def test_pymssql(tds_env, mode):
    env = tds_env()
    c = pymssql_connect(env, encryption=mode)
    cur = c.cursor()
    cur.execute("select %s + 1, %s", (41, UNICODE))
    assert cur.fetchall() == [(42, UNICODE)]
    with pytest.raises(Exception) as ei:
        cur.execute("drop table no_such_table")
    assert "229" in str(ei.value) and "no-drop" in str(ei.value)
    cur.execute("select 2")
    assert cur.fetchall() == [(2,)]
    c.close()
    assert_denied_not_run(env)
    assert f"client encryption {TSQL_MODES[mode]}" in env.b.log_text()


@pytest.mark.parametrize("enc", [None, "login", "on"])
def test_pytds(tds_env, enc):
    env = tds_env()
    with env.pytds(enc=enc) as c:
        cur = c.cursor()
        cur.execute("select %s + 1, %s", (41, UNICODE))
        assert cur.fetchall() == [(42, UNICODE)]
        with pytest.raises(pytds.OperationalError) as ei:
            cur.execute("drop table no_such_table")
        assert ei.value.number == 229 and "blocked by rule 'no-drop'" in str(ei.value)
        cur.execute("select 2")
        assert cur.fetchall() == [(2,)]
    assert_denied_not_run(env)
    want = {None: "off", "login": "login-only", "on": "on"}[enc]
    assert f"client encryption {want}" in env.b.log_text()


@pytest.mark.parametrize("encrypt", ["false", "true", "strict"])
def test_tedious(tds_env, tedious_dir, encrypt):
    env = tds_env()
    out = run_tedious(env, tedious_dir, encrypt)
    assert "fatal" not in out, out
    assert out["batch"]["rows"] == [[1, UNICODE]], out
    assert out["params"]["rows"] == [[42, "tedious"]], out
    assert out["drop"]["err"]["number"] == 229, out
    assert "blocked by rule 'no-drop'" in out["drop"]["err"]["message"]
    assert out["after"]["rows"] == [[2]], out
    assert out["prepared"] == [[10], [20]], out
    assert_denied_not_run(env)
    # prepared: the text ran under its handle twice
    assert sum(1 for e in env.executed() if e.get("proc") == "sp_execute") == 2, env.executed()


@pytest.mark.parametrize("ssl", ["off", "request", "require"])
def test_jtds(tds_env, ssl):
    env = tds_env()
    out, err = run_jtds(env, ssl)
    assert out.get("batch") == "1", (out, err[-2000:])
    assert out.get("prepared") == "20", out
    assert out.get("drop", "").startswith("229 "), out
    assert out.get("after") == "2", out
    assert_denied_not_run(env)
    # a batch of three executions, each decided and audited with its value
    assert out.get("batch_counts") == "3" and out.get("batched") == "3", out
    inserts = [q for q in env.b.audit_records("query") if "insert into jb" in q["statement"]]
    # sp_prepare (no values), then three sp_execute runs with theirs
    assert [q.get("params") for q in inserts] == [None, [1], [2], [3]], inserts
    want = {"off": "off", "request": "login-only", "require": "on"}[ssl]
    assert f"client encryption {want}" in env.b.log_text()
    # jTDS speaks TDS 7.1 and prepares with sp_prepare / sp_execute
    execs = [e for e in env.executed() if e.get("proc") in ("sp_execute", "sp_prepexec")]
    assert execs, env.executed()


# ------------------------------------------------------------------ login

def test_login_wrong_and_expired_token(tds_env):
    env = tds_env()
    with pytest.raises(pytds.OperationalError) as ei:
        env.pytds(token="sbt_wrongwrongwrongwrongwrongwrongwr")
    assert ei.value.number == 18456
    assert "Login failed for user 'alice'" in str(ei.value)
    token = env.b.issue_token("alice", "sql1/app", ttl="1s")
    time.sleep(2.2)
    with pytest.raises(pytds.OperationalError) as ei:
        env.pytds(token=token)
    assert ei.value.number == 18456
    fails = env.b.audit_records("login_failed")
    assert len(fails) >= 2 and all(f["protocol"] == "tds" for f in fails), fails
    # the reason is in the audit, never the token
    assert token not in env.b.audit_jsonl.read_text()
    assert not [e for e in env.be.ground_truth() if e["kind"] == "login"]


def test_require_tls_refuses_plain_client(tds_env):
    env = tds_env(conf={"sqlbastion": {"require_tls": "yes"}})
    with pytest.raises(Exception):
        env.pytds(enc=None)
    # an ENCRYPT_OFF client is moved to full TLS
    with env.pytds(enc="login") as c:
        cur = c.cursor()
        cur.execute("select 5")
        assert cur.fetchall() == [(5,)]
    assert "client encryption on" in env.b.log_text()


def test_strict_tls_first_with_alpn(tds_env):
    """A TDS 8.0 client starts with TLS and offers ALPN tds/8.0."""
    env = tds_env()
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{env.port}",
                        "-alpn", "tds/8.0"], input="", capture_output=True,
                       text=True, timeout=30)
    assert "ALPN protocol: tds/8.0" in r.stdout + r.stderr, r.stdout + r.stderr


def test_backend_tls_verify_full(tds_env):
    env = tds_env(encryption="on", asset_tls="verify-full", weak=None)
    with env.pytds() as c:
        cur = c.cursor()
        cur.execute("select 7")
        assert cur.fetchall() == [(7,)]
    login = [e for e in env.be.ground_truth() if e["kind"] == "login"][-1]
    assert login["ok"] and login["encryption"] == "on", login


def test_backend_tls_require_without_weak_auth_keeps_the_secret(tds_env):
    """require (unverified TLS): LOGIN7's password is merely obfuscated, so it
    does not go to an unverified server unless the asset allows weak auth."""
    env = tds_env(encryption="on", asset_tls="require", weak=None)
    with pytest.raises(pytds.OperationalError) as ei:
        env.pytds()
    assert ei.value.number == 18456
    assert not [e for e in env.be.ground_truth() if e["kind"] == "login"]


# ------------------------------------------------------------------ statements

def test_statements_and_audit_ground_truth(tds_env):
    env = tds_env()
    with env.pytds(autocommit=False) as c:
        cur = c.cursor()
        cur.execute("create table t (id int, v nvarchar(100), b varbinary(max))")
        c.commit()
        blob = bytes(range(256)) * 4096  # 1 MiB
        cur.execute("insert into t values (%s, %s, %s)", (1, None, pytds.Binary(blob)))
        cur.execute("insert into t values (%s, %s, %s)", (2, UNICODE, None))
        c.commit()
        cur.execute("select id, v from t order by id")
        assert cur.fetchall() == [(1, None), (2, UNICODE)]
        cur.execute("select b from t where id = 1")
        assert cur.fetchone()[0] == blob
        cur.execute("insert into t values (3, N'rolled back', null)")
        c.rollback()
        cur.execute("select count(*) from t")
        assert cur.fetchall() == [(2,)]
        with pytest.raises(pytds.ProgrammingError):
            cur.execute("select * from no_such_table_at_all")
        cur.execute("select 1; select 2, 3")
        assert cur.fetchall() == [(1,)]
        assert cur.nextset()
        assert cur.fetchall() == [(2, 3)]
        cur.execute("exec sb_rows 10000")
        assert len(cur.fetchall()) == 10000
        c.commit()
    # every statement the backend ran has the proxy's audit record, in order,
    # with its text and parameters
    gt = env.executed()
    tm_texts = ("BEGIN TRANSACTION", "COMMIT TRANSACTION", "ROLLBACK TRANSACTION")
    queries = [q for q in env.b.audit_records("query", decision="allow")
               if q["statement"] not in tm_texts]
    assert [q["statement"] for q in queries] == [e["sql"] for e in gt]
    for q, e in zip(queries, gt):
        assert q["statement"] == e["sql"], (q, e)
        if e["kind"] == "rpc" and e.get("proc") == "sp_executesql":
            values = [p["value"] for p in e["params"][2:]]
            shown = json.loads(json.dumps(q.get("params")))
            for got, want in zip(shown, values):
                if isinstance(want, str) and want.startswith("0x") and len(want) > 1026:
                    assert got.startswith(want[:1026]) and got.endswith("(1048576 bytes)")
                else:
                    assert got == want, (q, e)
    ends = {r["query_id"]: r for r in env.b.audit_records("query_end")}
    rows = [ends[q["query_id"]].get("rows") for q in queries if q["statement"] == "exec sb_rows 10000"]
    assert rows == [10000]
    errs = [ends[q["query_id"]] for q in queries if "no_such_table_at_all" in q["statement"]]
    assert errs and errs[0].get("error"), errs
    tms = [e for e in env.be.ground_truth() if e["kind"] == "tm"]
    assert tms, "pytds runs its transactions with transaction-manager requests"
    assert env.b.audit_records("query", statement="COMMIT TRANSACTION")


def test_cancel_waitfor_then_continue(tds_env):
    env = tds_env()
    c = pytds.connect(server="127.0.0.1", port=env.port, user="alice", password=env.token,
                      database="master", autocommit=True, login_timeout=10, timeout=1)
    cur = c.cursor()
    t0 = time.time()
    with pytest.raises(Exception):
        cur.execute("waitfor delay '00:00:05'")
    assert time.time() - t0 < 4
    cur.execute("select 42")
    assert cur.fetchall() == [(42,)]
    c.close()
    assert env.be.wait_ground_truth(lambda e: e["kind"] == "attention")
    q = env.b.audit_records("query", statement="waitfor delay '00:00:05'")[0]
    end = env.b.wait_audit("query_end", query_id=q["query_id"])[0]
    assert end.get("error") == "cancelled", end


def test_read_grant_denies_writes(tds_env):
    env = tds_env(level="read")
    with env.pytds() as c:
        cur = c.cursor()
        with pytest.raises(pytds.OperationalError) as ei:
            cur.execute("create table w (id int)")
        assert ei.value.number == 229
        cur.execute("select 1")
        assert cur.fetchall() == [(1,)]
    assert not any("create table w" in (s or "") for s in env.sqls())


def test_sp_executesql_denied_by_its_text(tds_env):
    """The SQL inside sp_executesql is what is decided, not the call."""
    env = tds_env()
    with env.pytds() as c:
        cur = c.cursor()
        with pytest.raises(pytds.OperationalError) as ei:
            cur.execute("drop table %s" % "x_param_table" + " -- %s", ("v",))
        assert ei.value.number == 229
        cur.execute("select %s", (3,))
        assert cur.fetchall() == [(3,)]
    assert not any("x_param_table" in (s or "") for s in env.sqls())


JTDS_CURSOR = r"""
import java.sql.*;
public class JtdsCursor {
  public static void main(String[] a) throws Exception {
    Class.forName("net.sourceforge.jtds.jdbc.Driver");
    String url = "jdbc:jtds:sqlserver://127.0.0.1:" + a[0] + "/master";
    try (Connection c = DriverManager.getConnection(url, "alice", System.getenv("SB_TOKEN"))) {
      try (Statement st = c.createStatement()) {
        st.execute("CREATE TABLE cur_t (id INT, s NVARCHAR(50))");
        st.execute("INSERT INTO cur_t VALUES (1, N'one'); INSERT INTO cur_t VALUES (2, N'two'); INSERT INTO cur_t VALUES (3, N'three')");
      }
      try (Statement st = c.createStatement(ResultSet.TYPE_SCROLL_INSENSITIVE, ResultSet.CONCUR_READ_ONLY);
           ResultSet rs = st.executeQuery("SELECT id, s FROM cur_t ORDER BY id")) {
        StringBuilder sb = new StringBuilder();
        while (rs.next()) sb.append(rs.getString(2)).append(",");
        System.out.println("scroll=" + sb);
        rs.absolute(2); System.out.println("abs2=" + rs.getString(2));
      }
      for (int round = 0; round < 2; round++)
      try (PreparedStatement ps = c.prepareStatement("SELECT s FROM cur_t WHERE id >= ? ORDER BY id",
             ResultSet.TYPE_SCROLL_INSENSITIVE, ResultSet.CONCUR_READ_ONLY)) {
        ps.setInt(1, 2 + round);
        try (ResultSet rs = ps.executeQuery()) { StringBuilder sb = new StringBuilder();
          while (rs.next()) sb.append(rs.getString(1)).append(","); System.out.println("pscroll" + round + "=" + sb); }
      }
      try (Statement st = c.createStatement(ResultSet.TYPE_SCROLL_INSENSITIVE, ResultSet.CONCUR_READ_ONLY)) {
        st.executeQuery("DELETE FROM cur_t");
        System.out.println("delete=ran");
      } catch (SQLException e) { System.out.println("delete=" + e.getErrorCode()); }
    }
  }
}
"""


def test_jtds_server_cursors(tds_env):
    """jTDS scrollable result sets: sp_cursoropen (the SQL is its 2nd
    parameter), sp_cursorprepare / sp_cursorexecute (by the confirmed
    handle), sp_cursorfetch / sp_cursorclose pass."""
    if not JTDS_JAR.exists() or not shutil.which("java"):
        pytest.skip("jTDS (libjtds-java) or java not installed")
    env = tds_env()
    src = env.b.dir / "JtdsCursor.java"
    src.write_text(JTDS_CURSOR)
    r = subprocess.run(["java", "-cp", str(JTDS_JAR), str(src), str(env.port)],
                       env=dict(os.environ, SB_TOKEN=env.token), capture_output=True,
                       text=True, timeout=120)
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert out.get("scroll") == "one,two,three,", (out, r.stderr[-2000:])
    assert out.get("abs2") == "two", out
    assert out.get("pscroll0") == "two,three," and out.get("pscroll1") == "three,", out
    # DELETE without WHERE, even inside sp_cursoropen, is refused by its text
    assert out.get("delete") == "229", out
    gt = env.be.ground_truth()
    procs = {e.get("proc") for e in gt}
    assert {"sp_cursoropen", "sp_cursorfetch"} <= procs, procs
    assert not any(e.get("proc") == "sp_cursoropen" and "DELETE" in (e.get("sql") or "")
                   for e in gt)
    opened = env.b.audit_records("query", statement="SELECT id, s FROM cur_t ORDER BY id")
    assert opened and opened[0]["decision"] == "allow", opened
