"""The TDS test backend (tests/tds_backend/, standing in for SQL Server)
driven DIRECTLY (no proxy) by the five real clients, in every encryption
mode each client supports. These tests prove the backend is a faithful
enough server for the proxy tests built on it; the backend's own
ground-truth log is checked for what it executed.

Client x encryption (what the backend saw in PRELOGIN / how it ran):
  client    none(NOT_SUP)  login-only(OFF)  on/req(ON)  strict(TDS 8.0)
  tsql      yes            yes              yes         no: FreeTDS 1.3 has no TDS 8.0
  pymssql   yes            yes              yes         no: FreeTDS 1.3 underneath
  pytds     yes            yes              yes         no: pytds 1.11 has no TDS 8.0
  tedious   yes            no: sends NOT_SUP or ON only yes  yes
  jTDS      yes (no PRELOGIN at all, ssl=off)  yes  yes  no: jTDS 1.3 predates TDS 8.0
What a client cannot do at all:
  tsql      no parameters, no prepare, no cancel (its timeout drops the
            connection instead of sending an attention)
  pymssql   parameters are interpolated client-side (SQLBatch), no prepare
  pytds     no prepare API (parameters go through sp_executesql); cancel
            from another thread is not thread-safe, so its timeout is used
"""
import json
import socket
import struct
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bastion import run
from tds_backend import TdsBackend

UNI = "h\u00e9llo \u6f22\u5b57 \U0001F600"          # Latin-1, CJK and an emoji (surrogate pair)
BLOB = 1 << 20                                     # 1 MiB VARBINARY(MAX)
BIG_SQL = ("WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) "
           "SELECT i FROM n OPTION (MAXRECURSION 0)")
WAIT_SQL = "WAITFOR DELAY '00:00:05'"
JTDS_JAR = Path("/usr/share/java/jtds.jar")


# -- backends, one per server encryption mode, shared by the module ---------

@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    started = {}

    def get(mode):
        if mode not in started:
            started[mode] = TdsBackend(tmp_path_factory.mktemp("tds-" + mode),
                                       encryption=mode).start()
        return started[mode]
    yield get
    for b in started.values():
        b.stop()


def entries(backend, spid):
    return [e for e in backend.ground_truth() if e.get("spid") in spid]


def spids_of(backend, app, since):
    return {e["spid"] for e in backend.ground_truth()
            if e["kind"] == "login" and e.get("app") == app and e["ts"] >= since and e["ok"]}


def parse(out):
    """'key=value' lines printed by a client script -> dict"""
    d = {}
    for line in out.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.isidentifier():
            d[k] = v
    return d


def check_common(res, backend, spids, *, encryption, table, params, prepared, cancel, proc):
    """What every client scenario must have shown, plus the ground truth."""
    assert "SQL Server" in res["version"]
    assert res["row1"] == f"1|{UNI}|{BLOB}"
    assert res["row2"] == "2|None|None"
    assert res["big"] == "10000|50005000"
    assert res["sets"] == "1|x,2"
    assert res["syntax"] == "102"
    assert res["after"] == "42"
    assert res["count"] == "2"            # the rolled-back row is not there
    gt = entries(backend, spids)
    logins = [e for e in gt if e["kind"] == "login"]
    assert logins and all(e["encryption"] == encryption and e["user"] == "sa_app" for e in logins)
    ex = [e for e in gt if e["kind"] in ("batch", "rpc")]
    assert any(e.get("error", "").startswith("Incorrect syntax near") for e in ex if e.get("error"))
    assert any(e["kind"] == "batch" and "WITH n(i) AS" in e["sql"] for e in ex)
    if params:
        rpc = [e for e in ex if e["kind"] == "rpc" and e.get("sql") and table in e["sql"]
               and e["sql"].lstrip().upper().startswith("INSERT")]
        assert rpc, "parameterised INSERT not seen as an RPC"
        values = [p["value"] for e in rpc for p in e["params"]]
        assert UNI in values
        assert any(isinstance(v, str) and v.startswith("0x") and len(v) == 2 + 2 * BLOB for v in values)
    if prepared:
        assert res["prep"] == f"{UNI}|None"
        assert any(e["kind"] == "rpc" and e["proc"] in ("sp_prepare", "sp_prepexec") for e in ex)
        assert any(e["kind"] == "rpc" and e["proc"] == "sp_execute" and e.get("sql") for e in ex)
    if cancel:
        assert float(res["cancel_s"]) < 4.0, res
        waits = [e for e in ex if e["sql"] and WAIT_SQL in e["sql"]]
        assert waits and waits[-1]["error"] == "cancelled"
        assert any(e["kind"] == "attention" for e in gt)
    if proc:
        assert res["proc"] == "7|5"       # return status 7, @sum OUTPUT = 2 + 3
        assert any(e["kind"] == "rpc" and e["proc"] == "sb_add" for e in ex)


def check_wrong_password(backend, app, since, out):
    assert "18456" in out or "Login failed" in out, out
    bad = backend.wait_ground_truth(lambda e: e["kind"] == "login" and e.get("app") == app
                                    and e["ts"] >= since and not e["ok"])
    assert bad and bad[-1]["error"] == "wrong password"


# -- FreeTDS tsql --------------------------------------------------------------

def tsql_script(t):
    return f"""SELECT 'K_version' AS k, @@VERSION AS v
go
DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (id INT, s NVARCHAR(100), b VARBINARY(MAX))
go
INSERT INTO {t} VALUES (1, N'{UNI}', CAST(REPLICATE('a', {BLOB}) AS VARBINARY(MAX))); INSERT INTO {t} VALUES (2, NULL, NULL)
go
SELECT 'K_row' AS k, id, s, DATALENGTH(b) AS n FROM {t} ORDER BY id
go
SELECT 'K_blob' AS k, b FROM {t} WHERE id = 1
go
{BIG_SQL.replace("SELECT i FROM n", "SELECT 'K_n' AS k, i FROM n")}
go
SELECT 'K_set1' AS k, 1 AS a; SELECT 'K_set2' AS k, 'x' AS b, 2 AS c
go
SELEC 1
go
SELECT 'K_after' AS k, 42 AS v
go
BEGIN TRAN; INSERT INTO {t} (id) VALUES (3); ROLLBACK TRAN
go
SELECT 'K_count' AS k, COUNT(*) AS n FROM {t}
go
exit
"""


def freetds_conf(tmp_path, encryption):
    conf = tmp_path / f"freetds-{encryption}.conf"
    conf.write_text(f"[global]\n\tencryption = {encryption}\n\ttds version = auto\n")
    return conf


def run_tsql(backend, tmp_path, encryption, script, password="pw"):
    env = dict(os.environ, FREETDSCONF=str(freetds_conf(tmp_path, encryption)))
    r = subprocess.run(["tsql", "-H", backend.host, "-p", str(backend.port), "-U", "sa_app",
                        "-P", password], input=script, env=env, capture_output=True,
                       text=True, timeout=120)
    return r.stdout + r.stderr


def tsql_result(out):
    lines = [ln.split("\t") for ln in out.splitlines()]
    k = {}
    for f in lines:
        if f[0].startswith("K_") and len(f) > 1:
            k.setdefault(f[0], []).append(f[1:])
    ns = [int(f[0]) for f in k.get("K_n", [])]
    rows = k.get("K_row", [])
    norm = lambda v: "None" if v == "NULL" else v      # noqa: E731
    return {
        "version": k["K_version"][0][0],
        "row1": "|".join(norm(v) for v in rows[0]), "row2": "|".join(norm(v) for v in rows[1]),
        "blob_hex": k["K_blob"][0][0],
        "big": f"{len(ns)}|{sum(ns)}",
        "sets": f"{k['K_set1'][0][0]}|{k['K_set2'][0][0]},{k['K_set2'][0][1]}",
        "syntax": "102" if "Msg 102" in out else "",
        "after": k["K_after"][0][0], "count": k["K_count"][0][0],
    }


TSQL_MODES = [("off", "off", "none"), ("off", "request", "login-only"),
              ("off", "require", "on"), ("on", "require", "on"), ("req", "request", "on"),
              ("notsup", "off", "none")]


@pytest.mark.parametrize("server,client,expect", TSQL_MODES)
def test_tsql_direct(backends, tmp_path, server, client, expect):
    if not shutil.which("tsql"):
        pytest.skip("freetds-bin not installed")
    b = backends(server)
    since = time.time()
    out = run_tsql(b, tmp_path, client, tsql_script(f"t_tsql_{server}_{client}"))
    res = tsql_result(out)
    blob = res["blob_hex"].lower().removeprefix("0x")
    assert len(blob) == 2 * BLOB and set(blob) == {"6", "1"}, blob[:40]
    check_common(res, b, spids_of(b, "TSQL", since), encryption=expect,
                 table="t_tsql", params=False, prepared=False, cancel=False, proc=False)
    since = time.time()
    check_wrong_password(b, "TSQL", since, run_tsql(b, tmp_path, client, "exit\n", password="nope"))


def test_tsql_refused_when_server_requires_more(backends, tmp_path):
    """encryption=off in FreeTDS sends NOT_SUP: an 'on' server refuses it;
    a strict (TDS 8.0) server refuses a cleartext PRELOGIN."""
    if not shutil.which("tsql"):
        pytest.skip("freetds-bin not installed")
    for server in ("on", "strict"):
        b = backends(server)
        since = time.time()
        out = run_tsql(b, tmp_path, "off", "SELECT 1\ngo\nexit\n")
        assert "There was a problem connecting" in out or "failed" in out.lower(), out
        assert not spids_of(b, "TSQL", since)


# -- pymssql and pytds (Python DB-API, run as /usr/bin/python3 children) ------

PY_SCENARIO = r"""
import sys, time, threading, json
args = json.loads(sys.argv[1])
t, UNI, BLOB = args["table"], args["uni"], args["blob"]
def out(k, v): print(f"{k}={v}", flush=True)
c = connect(args)
cur = c.cursor()
cur.execute("SELECT @@VERSION"); out("version", cur.fetchone()[0])
cur.execute(f"DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (id INT, s NVARCHAR(100), b VARBINARY(MAX))")
cur.execute(f"INSERT INTO {t} VALUES (%s, %s, %s)", (1, UNI, binary(b"\x07" * BLOB)))
cur.execute(f"INSERT INTO {t} VALUES (%s, %s, %s)", (2, None, None))
for i in (1, 2):
    cur.execute(f"SELECT id, s, b FROM {t} WHERE id = %s", (i,))
    r = cur.fetchone()
    assert r[2] is None or r[2] == b"\x07" * BLOB
    out(f"row{i}", f"{r[0]}|{r[1]}|{None if r[2] is None else len(r[2])}")
cur.execute(args["big"]); rows = cur.fetchall(); out("big", f"{len(rows)}|{sum(r[0] for r in rows)}")
cur.execute("SELECT 1 AS a; SELECT 'x' AS b, 2 AS c")
s1 = cur.fetchall(); cur.nextset(); s2 = cur.fetchall(); out("sets", f"{s1[0][0]}|{s2[0][0]},{s2[0][1]}")
try:
    cur.execute("SELEC 1")
except Exception as e:
    out("syntax", 102 if "102" in str(e.args) or "Incorrect syntax" in str(e) else repr(e))
cur.execute("SELECT 42"); out("after", cur.fetchone()[0])
set_autocommit(c, False)
cur.execute(f"INSERT INTO {t} (id) VALUES (3)"); c.rollback()
set_autocommit(c, True)
cur.execute(f"SELECT COUNT(*) FROM {t}"); out("count", cur.fetchone()[0])
out("proc", callproc(cur))
t0 = time.time()
cancel(c, cur, args["wait"])
out("cancel_s", round(time.time() - t0, 2))
cur = c.cursor()
cur.execute("SELECT 42"); out("after_cancel", cur.fetchone()[0])
"""

PYMSSQL_CLIENT = r"""
import pymssql
def connect(a):
    return pymssql.connect(server=a["host"], port=a["port"], user="sa_app", password=a["password"],
                           autocommit=True, appname="pymssql-test")
def binary(b): return bytearray(b)     # pymssql quotes bytes as a string, bytearray as 0x...
def set_autocommit(c, on): c.autocommit(on)
def callproc(cur):
    r = cur.callproc("sb_add", (2, 3, pymssql.output(int)))
    return f"?|{r[2]}"          # pymssql's cursor does not expose the return status
def cancel(c, cur, sql):
    threading.Timer(0.5, c._conn.cancel).start()
    try:
        cur.execute(sql)
    except Exception:
        pass
"""

PYTDS_CLIENT = r"""
import pytds
def connect(a):
    kw = {}
    if a["tls"] != "none":
        kw["cafile"] = a["ca"]
        kw["enc_login_only"] = a["tls"] == "login-only"
    return pytds.connect("localhost", port=a["port"], user="sa_app", password=a["password"],
                         autocommit=True, timeout=2, appname="pytds-test", **kw)
def binary(b): return pytds.Binary(b)
def set_autocommit(c, on): c.autocommit = on
def callproc(cur):
    r = cur.callproc("sb_add", (2, 3, pytds.output(param_type=int)))
    return f"{cur.get_proc_return_status()}|{r[2]}"
def cancel(c, cur, sql):
    # pytds cancels (attention) when its timeout expires
    try:
        cur.execute(sql)
    except Exception:       # socket timeout: pytds sent the attention
        pass
"""


def run_python(client_src, backend, table, password="pw", **extra):
    args = dict(host=backend.host, port=backend.port, password=password, table=table, uni=UNI,
                blob=BLOB, big=BIG_SQL, wait=WAIT_SQL, ca=str(backend.ca_cert), **extra)
    return subprocess.run(["/usr/bin/python3", "-c", client_src + PY_SCENARIO, json.dumps(args)],
                          capture_output=True, text=True, timeout=120)


PYMSSQL_MODES = [("off", "off", "none"), ("off", "request", "login-only"),
                 ("off", "require", "on"), ("on", "require", "on")]


@pytest.mark.parametrize("server,client,expect", PYMSSQL_MODES)
def test_pymssql_direct(backends, tmp_path, server, client, expect):
    pytest.importorskip("pymssql")
    b = backends(server)
    env = dict(os.environ, FREETDSCONF=str(freetds_conf(tmp_path, client)))
    args = dict(host=b.host, port=b.port, password="pw", table=f"t_pymssql_{server}_{client}",
                uni=UNI, blob=BLOB, big=BIG_SQL, wait=WAIT_SQL, ca=str(b.ca_cert))
    since = time.time()
    r = subprocess.run(["/usr/bin/python3", "-c", PYMSSQL_CLIENT + PY_SCENARIO, json.dumps(args)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    res = parse(r.stdout)
    assert res["after_cancel"] == "42"
    assert res["proc"] == "?|5"                   # the OUTPUT parameter came back
    res["proc"] = "7|5"                             # (pymssql does not expose the status)
    check_common(res, b, spids_of(b, "pymssql-test", since), encryption=expect,
                 table="t_pymssql", params=False, prepared=False, cancel=True, proc=True)
    since = time.time()
    args["password"] = "nope"
    r = subprocess.run(["/usr/bin/python3", "-c", PYMSSQL_CLIENT + PY_SCENARIO, json.dumps(args)],
                       capture_output=True, text=True, timeout=60, env=env)
    check_wrong_password(b, "pymssql-test", since, r.stdout + r.stderr)


PYTDS_MODES = [("off", "none", "none"), ("off", "login-only", "login-only"),
               ("off", "on", "on"), ("on", "on", "on"), ("req", "login-only", "on"),
               ("notsup", "none", "none")]


@pytest.mark.parametrize("server,client,expect", PYTDS_MODES)
def test_pytds_direct(backends, server, client, expect):
    pytest.importorskip("pytds")
    if client != "none":
        pytest.importorskip("OpenSSL")      # pytds does TLS with pyOpenSSL
    b = backends(server)
    since = time.time()
    r = run_python(PYTDS_CLIENT, b, f"t_pytds_{server}_{client}".replace("-", "_"), tls=client)
    assert r.returncode == 0, r.stdout + r.stderr
    res = parse(r.stdout)
    assert res["after_cancel"] == "42"
    check_common(res, b, spids_of(b, "pytds-test", since), encryption=expect,
                 table="t_pytds", params=True, prepared=False, cancel=True, proc=True)
    since = time.time()
    r = run_python(PYTDS_CLIENT, b, "t_unused", password="nope", tls=client)
    check_wrong_password(b, "pytds-test", since, r.stdout + r.stderr)


# -- node tedious 19 -------------------------------------------------------------

TEDIOUS = r"""
const { Connection, Request, TYPES } = require('tedious');
const fs = require('fs');
const a = JSON.parse(process.argv[2]);
const encrypt = a.encrypt === 'strict' ? 'strict' : a.encrypt === 'true';
const c = new Connection({ server: 'localhost',
  authentication: { type: 'default', options: { userName: 'sa_app', password: a.password } },
  options: { port: a.port, encrypt, appName: 'tedious-test', database: 'master',
             cryptoCredentialsDetails: a.ca ? { ca: fs.readFileSync(a.ca) } : {} } });
const out = (k, v) => console.log(`${k}=${v}`);
function q(sql, params, opts) {
  return new Promise((res, rej) => {
    const sets = []; let cur = null;
    const r = new Request(sql, err => err ? rej(err) : res(sets));
    r.on('columnMetadata', () => { cur = []; sets.push(cur); });
    r.on('row', cols => cur.push(cols.map(x => x.value)));
    for (const [n, t, v] of (params || [])) r.addParameter(n, t, v);
    if (opts && opts.batch) c.execSqlBatch(r); else c.execSql(r);
    if (opts && opts.cancelAfter) setTimeout(() => c.cancel(), opts.cancelAfter);
  });
}
const t = a.table;
c.on('connect', async err => {
  if (err) { out('connect_error', err.message); process.exit(0); }
  try {
    out('version', (await q('SELECT @@VERSION AS v', null, {batch: true}))[0][0][0]);
    await q(`DROP TABLE IF EXISTS ${t}; CREATE TABLE ${t} (id INT, s NVARCHAR(100), b VARBINARY(MAX))`, null, {batch: true});
    await q(`INSERT INTO ${t} VALUES (@id, @s, @b)`, [['id', TYPES.Int, 1], ['s', TYPES.NVarChar, a.uni], ['b', TYPES.VarBinary, Buffer.alloc(a.blob, 7)]]);
    await q(`INSERT INTO ${t} VALUES (@id, @s, @b)`, [['id', TYPES.Int, 2], ['s', TYPES.NVarChar, null], ['b', TYPES.VarBinary, null]]);
    const rows = (await q(`SELECT id, s, b FROM ${t} WHERE id IN (@a, @b) ORDER BY id`, [['a', TYPES.Int, 1], ['b', TYPES.Int, 2]]))[0];
    for (const r of rows) out('row' + r[0], `${r[0]}|${r[1] === null ? 'None' : r[1]}|${r[2] === null ? 'None' : r[2].length}`);
    const big = (await q(a.big, null, {batch: true}))[0];
    out('big', `${big.length}|${big.reduce((s, x) => s + x[0], 0)}`);
    const sets = await q("SELECT 1 AS a; SELECT 'x' AS b, 2 AS c", null, {batch: true});
    out('sets', `${sets[0][0][0]}|${sets[1][0][0]},${sets[1][0][1]}`);
    try { await q('SELEC 1', null, {batch: true}); } catch (e) { out('syntax', e.number); }
    out('after', (await q('SELECT 42 AS x', null, {batch: true}))[0][0][0]);
    { // prepare once, execute twice, unprepare
      let next = null; const got = [];
      const r = new Request(`SELECT s FROM ${t} WHERE id = @id`, e => { const n = next; next = null; n(e); });
      r.addParameter('id', TYPES.Int);
      r.on('row', cols => got.push(cols[0].value === null ? 'None' : cols[0].value));
      await new Promise((res, rej) => { r.once('prepared', res); r.once('error', rej); c.prepare(r); });
      for (const id of [1, 2]) await new Promise((res, rej) => { next = e => e ? rej(e) : res(); c.execute(r, { id }); });
      await new Promise((res, rej) => { next = e => e ? rej(e) : res(); c.unprepare(r); });
      out('prep', got.join('|'));
    }
    await new Promise((res, rej) => c.beginTransaction(e => e ? rej(e) : res()));
    await q(`INSERT INTO ${t} (id) VALUES (3)`, null, {batch: true});
    await new Promise((res, rej) => c.rollbackTransaction(e => e ? rej(e) : res()));
    out('count', (await q(`SELECT COUNT(*) AS n FROM ${t}`, null, {batch: true}))[0][0][0]);
    await new Promise((res, rej) => c.beginTransaction(e => e ? rej(e) : res()));
    await q(`INSERT INTO ${t} (id) VALUES (4)`, null, {batch: true});
    await new Promise((res, rej) => c.commitTransaction(e => e ? rej(e) : res()));
    out('count_committed', (await q(`SELECT COUNT(*) AS n FROM ${t}`, null, {batch: true}))[0][0][0]);
    await new Promise((res, rej) => {
      let sum = null;
      const r = new Request('sb_add', (e, n, rows) => e ? rej(e) : res());
      r.addParameter('a', TYPES.Int, 2); r.addParameter('b', TYPES.Int, 3); r.addOutputParameter('sum', TYPES.Int);
      r.on('returnValue', (n, v) => { sum = v; });
      r.on('doneProc', (rc, more, status) => { out('proc', `${status}|${sum}`); });
      c.callProcedure(r);
    });
    const t0 = Date.now();
    try { await q(a.wait, null, {batch: true, cancelAfter: 500}); } catch (e) { out('cancel_code', e.code); }
    out('cancel_s', (Date.now() - t0) / 1000);
    out('after_cancel', (await q('SELECT 42 AS x', null, {batch: true}))[0][0][0]);
  } catch (e) { out('FAIL', e.message); }
  c.close();
});
c.connect();
"""

TEDIOUS_MODES = [("off", "false", "none"), ("off", "true", "on"), ("on", "true", "on"),
                 ("req", "true", "on"), ("strict", "strict", "strict"), ("notsup", "false", "none")]


def run_tedious(d, backend, encrypt, table, password="pw"):
    (d / "scenario.js").write_text(TEDIOUS)
    args = dict(port=backend.port, password=password, table=table, uni=UNI, blob=BLOB,
                big=BIG_SQL, wait=WAIT_SQL, encrypt=encrypt,
                ca=str(backend.ca_cert) if backend.ca_cert else None)
    r = subprocess.run(["node", "scenario.js", json.dumps(args)], cwd=d, capture_output=True,
                       text=True, timeout=120)
    return r


@pytest.mark.parametrize("server,client,expect", TEDIOUS_MODES)
def test_tedious_direct(backends, tedious_dir, server, client, expect):
    b = backends(server)
    since = time.time()
    r = run_tedious(tedious_dir, b, client, f"t_tedious_{server}_{client}")
    res = parse(r.stdout)
    assert "FAIL" not in res and "connect_error" not in res, r.stdout + r.stderr
    assert res["cancel_code"] == "ECANCEL" and res["after_cancel"] == "42"
    check_common(res, b, spids_of(b, "tedious-test", since), encryption=expect,
                 table="t_tedious", params=True, prepared=True, cancel=True, proc=True)
    gt = entries(b, spids_of(b, "tedious-test", since))
    assert res["count_committed"] == "3"
    assert [e["request"] for e in gt if e["kind"] == "tm"] == ["begin", "rollback", "begin", "commit"]
    since = time.time()
    r = run_tedious(tedious_dir, b, client, "t_unused", password="nope")
    check_wrong_password(b, "tedious-test", since, r.stdout + r.stderr)


def test_tedious_refused_without_encryption(backends, tedious_dir):
    """encrypt:false sends NOT_SUP: a server that requires encryption
    answers ON and tedious refuses to go on (it never logs in in clear)."""
    b = backends("on")
    r = run_tedious(tedious_dir, b, "false", "t_unused")
    assert "connect_error" in parse(r.stdout), r.stdout + r.stderr
    assert not [e for e in b.ground_truth() if e["kind"] == "login" and e.get("ok")
                and e.get("app") == "tedious-test" and e.get("encryption") == "none"]


# -- jTDS ---------------------------------------------------------------------------

JTDS = r"""
import java.sql.*;
public class JtdsScenario {
  static void out(String k, Object v) { System.out.println(k + "=" + v); }
  public static void main(String[] a) throws Exception {
    Class.forName("net.sourceforge.jtds.jdbc.Driver");
    String t = a[1], uni = a[2]; int blob = Integer.parseInt(a[3]);
    try (Connection c = DriverManager.getConnection(a[0], "sa_app", System.getenv("SB_PW"))) {
      try (Statement st = c.createStatement()) {
        try (ResultSet rs = st.executeQuery("SELECT @@VERSION")) { rs.next(); out("version", rs.getString(1)); }
        st.execute("DROP TABLE IF EXISTS " + t + "; CREATE TABLE " + t + " (id INT, s NVARCHAR(100), b VARBINARY(MAX))");
      }
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + t + " VALUES (?, ?, ?)")) {
        byte[] b = new byte[blob]; java.util.Arrays.fill(b, (byte) 7);
        ps.setInt(1, 1); ps.setString(2, uni); ps.setBytes(3, b); ps.executeUpdate();
        ps.setInt(1, 2); ps.setNull(2, Types.VARCHAR); ps.setNull(3, Types.VARBINARY); ps.executeUpdate();
      }
      StringBuilder prep = new StringBuilder();
      try (PreparedStatement ps = c.prepareStatement("SELECT id, s, b FROM " + t + " WHERE id = ?")) {
        for (int i = 1; i <= 2; i++) {
          ps.setInt(1, i);
          try (ResultSet rs = ps.executeQuery()) { rs.next(); byte[] b = rs.getBytes(3); String s = rs.getString(2);
            out("row" + i, rs.getInt(1) + "|" + (s == null ? "None" : s) + "|" + (b == null ? "None" : "" + b.length));
            prep.append(i == 1 ? "" : "|").append(s == null ? "None" : s); }
        }
      }
      out("prep", prep);
      try (Statement st = c.createStatement()) {
        try (ResultSet rs = st.executeQuery(a[4])) {
          long n = 0, sum = 0; while (rs.next()) { n++; sum += rs.getLong(1); } out("big", n + "|" + sum); }
        boolean r = st.execute("SELECT 1 AS a; SELECT 'x' AS b, 2 AS c");
        StringBuilder sets = new StringBuilder();
        while (true) {
          if (r) { ResultSet rs = st.getResultSet(); while (rs.next()) { int n = rs.getMetaData().getColumnCount();
              if (sets.length() > 0) sets.append("|");
              for (int i = 1; i <= n; i++) sets.append(i > 1 ? "," : "").append(rs.getString(i)); } }
          else if (st.getUpdateCount() == -1) break;
          r = st.getMoreResults();
        }
        out("sets", sets);
        try { st.execute("SELEC 1"); } catch (SQLException e) { out("syntax", e.getErrorCode()); }
        try (ResultSet rs = st.executeQuery("SELECT 42")) { rs.next(); out("after", rs.getInt(1)); }
      }
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) { st.executeUpdate("INSERT INTO " + t + " (id) VALUES (3)"); }
      c.rollback();
      c.setAutoCommit(true);
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM " + t)) { rs.next(); out("count", rs.getInt(1)); }
      try (CallableStatement cs = c.prepareCall("{? = call sb_add(?, ?, ?)}")) {
        cs.registerOutParameter(1, Types.INTEGER); cs.setInt(2, 2); cs.setInt(3, 3); cs.registerOutParameter(4, Types.INTEGER);
        cs.execute(); out("proc", cs.getInt(1) + "|" + cs.getInt(4));
      }
      try (Statement st = c.createStatement()) {
        st.setQueryTimeout(1);     // jTDS cancels with an attention when it expires
        long t0 = System.currentTimeMillis();
        try { st.execute(a[5]); } catch (SQLException e) { out("cancel_msg", e.getMessage()); }
        out("cancel_s", (System.currentTimeMillis() - t0) / 1000.0);
      }
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 42")) { rs.next(); out("after_cancel", rs.getInt(1)); }
    }
  }
}
"""

JTDS_MODES = [("off", "off", "none"), ("off", "request", "login-only"),
              ("off", "require", "on"), ("on", "require", "on"), ("req", "request", "on"),
              ("notsup", "off", "none")]


@pytest.fixture(scope="module")
def jtds_classes(tmp_path_factory):
    if not JTDS_JAR.exists() or not shutil.which("javac"):
        pytest.skip("libjtds-java / javac not installed")
    d = tmp_path_factory.mktemp("jtds")
    (d / "JtdsScenario.java").write_text(JTDS)
    run(["javac", "-cp", JTDS_JAR, "-d", d, d / "JtdsScenario.java"], timeout=180)
    return d


def run_jtds(d, backend, ssl, table, password="pw"):
    url = f"jdbc:jtds:sqlserver://{backend.host}:{backend.port}/master;ssl={ssl};appName=jtds-test"
    return subprocess.run(["java", "-cp", f"{d}:{JTDS_JAR}", "JtdsScenario", url, table, UNI,
                           str(BLOB), BIG_SQL, WAIT_SQL],
                          env=dict(os.environ, SB_PW=password), capture_output=True, text=True,
                          timeout=180)


@pytest.mark.parametrize("server,client,expect", JTDS_MODES)
def test_jtds_direct(backends, jtds_classes, server, client, expect):
    b = backends(server)
    since = time.time()
    r = run_jtds(jtds_classes, b, client, f"t_jtds_{server}_{client}")
    assert r.returncode == 0, r.stdout + r.stderr
    res = parse(r.stdout)
    assert res["after_cancel"] == "42"
    check_common(res, b, spids_of(b, "jtds-test", since), encryption=expect,
                 table="t_jtds", params=True, prepared=True, cancel=True, proc=True)
    since = time.time()
    r = run_jtds(jtds_classes, b, client, "t_unused", password="nope")
    assert r.returncode != 0
    check_wrong_password(b, "jtds-test", since, r.stdout + r.stderr)


# -- raw protocol: framing and malformed input -------------------------------------

def _packets(ptype, payload, size=4096, status_last=1):
    """payload split into TDS packets of at most `size` bytes each."""
    room = size - 8
    chunks = [payload[i:i + room] for i in range(0, len(payload), room)] or [b""]
    out = []
    for n, c in enumerate(chunks):
        last = n == len(chunks) - 1
        out.append(struct.pack(">BBHHBB", ptype, status_last if last else 0, 8 + len(c), 0, n + 1, 0) + c)
    return out


def _prelogin(enc=2):
    opts = [(0, bytes(6)), (1, bytes([enc])), (2, b"\x00"), (3, bytes(4)), (4, b"\x00")]
    head, body, off = b"", b"", 5 * len(opts) + 1
    for tok, val in opts:
        head += struct.pack(">BHH", tok, off + len(body), len(val))
        body += val
    return head + b"\xff" + body


def _login7(user, password, app="raw-test"):
    def scramble(s):
        return bytes((((b << 4) | (b >> 4)) & 0xFF) ^ 0xA5 for b in s.encode("utf-16-le"))
    fields = [("host", "h".encode("utf-16-le")), ("user", user.encode("utf-16-le")),
              ("password", scramble(password)), ("app", app.encode("utf-16-le")),
              ("server", b""), ("ext", b""), ("lib", "raw".encode("utf-16-le")),
              ("lang", b""), ("db", b"")]
    fixed = 94
    offs, data = [], b""
    for _name, raw in fields:
        offs.append(struct.pack("<HH", fixed + len(data), len(raw) // 2))
        data += raw
    head = struct.pack("<IIIIIIBBBBiI", fixed + len(data), 0x74000004, 4096, 7, 1, 0,
                       0xE0, 0x03, 0, 0, 0, 0x409)
    tail = bytes(6) + struct.pack("<HHHHHHI", fixed + len(data), 0, fixed + len(data), 0,
                                  fixed + len(data), 0, 0)
    return head + b"".join(offs) + tail + data


def _read_reply(sock):
    data = b""
    while True:
        hdr = _recv_exact(sock, 8)
        ptype, status, length = struct.unpack(">BBH", hdr[:4])
        data += _recv_exact(sock, length - 8)
        if status & 1:
            return data


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed")
        buf += chunk
    return buf


def _closed(sock, timeout=5):
    """True if the server closed the connection (EOF or reset)."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _raw_login(b, packet_size=4096, pieces=1):
    s = socket.create_connection((b.host, b.port), timeout=10)
    for p in _packets(0x12, _prelogin(), packet_size):
        s.sendall(p)
    _read_reply(s)
    for p in _packets(0x10, _login7("sa_app", "pw"), packet_size):
        for i in range(0, len(p), max(1, len(p) // pieces)):
            s.sendall(p[i:i + max(1, len(p) // pieces)])
            if pieces > 1:
                time.sleep(0.01)
    reply = _read_reply(s)
    assert b"\xad" in reply and "Microsoft SQL Server".encode("utf-16-le") in reply
    return s


def test_raw_tiny_packets_and_tcp_fragments(backends):
    """Requests split into 512-byte TDS packets, and those into TCP pieces,
    are reassembled; the reply comes in packets of the negotiated size."""
    b = backends("notsup")
    s = _raw_login(b, packet_size=512, pieces=7)
    sql = "SELECT N'" + UNI + "' AS u, '" + "y" * 3000 + "' AS pad; SELECT 7 AS seven"
    for p in _packets(0x01, struct.pack("<IIHQI", 22, 18, 2, 0, 1) + sql.encode("utf-16-le"), 512):
        s.sendall(p)
    reply = _read_reply(s)
    assert UNI.encode("utf-16-le") in reply and ("y" * 3000).encode("utf-16-le") in reply
    assert reply.count(b"\x81") >= 2     # two COLMETADATA: two result sets
    s.close()
    hit = b.wait_ground_truth(lambda e: e["kind"] == "batch" and e["sql"] == sql)
    assert hit and hit[0]["statements"][1] == "SELECT 7 AS seven" and hit[0]["error"] is None


@pytest.mark.parametrize("garbage", [
    b"\x12\x01\x00\x04\x00\x00\x01\x00",                      # packet length below the header
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",                      # not TDS at all
    struct.pack(">BBHHBB", 0x12, 1, 8 + 6, 0, 1, 0) + b"\x01\x7f\xff\x00\x01\xff",  # option past the end
    struct.pack(">BBHHBB", 0x01, 1, 8 + 4, 0, 1, 0) + b"abcd",  # SQLBatch before login
], ids=["short-length", "http", "prelogin-offset", "batch-first"])
def test_raw_malformed_prelogin_closes_only_that_connection(backends, garbage):
    b = backends("notsup")
    s = socket.create_connection((b.host, b.port), timeout=10)
    s.sendall(garbage)
    assert _closed(s)
    s.close()
    ok = _raw_login(b)        # the backend still serves others
    ok.close()


@pytest.mark.parametrize("request_bytes", [
    _packets(0x03, struct.pack("<IIHQI", 22, 18, 2, 0, 1) + b"\xff\xff\x63\x00\x00\x00")[0],  # unknown ProcID 99
    _packets(0x03, struct.pack("<IIHQI", 22, 18, 2, 0, 1) + b"\xff\xff\x0a\x00\x00\x00\x00\x00\x99")[0],  # bad type
    _packets(0x01, struct.pack("<IIHQI", 22, 18, 2, 0, 1) + b"abc")[0],    # odd UTF-16 length
    _packets(0x05, b"xx")[0],                                              # no such request type
], ids=["unknown-procid", "bad-param-type", "odd-batch", "bad-packet-type"])
def test_raw_malformed_request_after_login_closes_only_that_connection(backends, request_bytes):
    b = backends("notsup")
    victim = _raw_login(b)
    other = _raw_login(b)
    victim.sendall(request_bytes)
    assert _closed(victim)
    sql = "SELECT 1 AS still_here"
    other.sendall(_packets(0x01, struct.pack("<IIHQI", 22, 18, 2, 0, 1) + sql.encode("utf-16-le"))[0])
    assert "still_here".encode("utf-16-le") in _read_reply(other)
    other.close()
    victim.close()


JTDS_CURSOR = r"""
import java.sql.*;
public class JtdsCursor {
  public static void main(String[] a) throws Exception {
    Class.forName("net.sourceforge.jtds.jdbc.Driver");
    try (Connection c = DriverManager.getConnection(a[0], "sa_app", System.getenv("SB_PW"))) {
      try (Statement st = c.createStatement()) {
        st.execute("DROP TABLE IF EXISTS cur_t; CREATE TABLE cur_t (id INT, s NVARCHAR(50))");
        st.execute("INSERT INTO cur_t VALUES (1, N'one'); INSERT INTO cur_t VALUES (2, N'two'); INSERT INTO cur_t VALUES (3, N'three')");
      }
      try (Statement st = c.createStatement(ResultSet.TYPE_SCROLL_INSENSITIVE, ResultSet.CONCUR_READ_ONLY);
           ResultSet rs = st.executeQuery("SELECT id, s FROM cur_t ORDER BY id")) {
        StringBuilder sb = new StringBuilder();
        while (rs.next()) sb.append(rs.getString(2)).append(",");
        System.out.println("scroll=" + sb);
        rs.last(); System.out.println("last=" + rs.getInt(1) + "|" + rs.getRow());
        rs.absolute(2); System.out.println("abs2=" + rs.getString(2));
      }
      try (PreparedStatement ps = c.prepareStatement("SELECT s FROM cur_t WHERE id >= ? ORDER BY id",
             ResultSet.TYPE_SCROLL_INSENSITIVE, ResultSet.CONCUR_READ_ONLY)) {
        ps.setInt(1, 2);
        try (ResultSet rs = ps.executeQuery()) { StringBuilder sb = new StringBuilder();
          while (rs.next()) sb.append(rs.getString(1)).append(","); System.out.println("pscroll=" + sb); }
      }
    }
  }
}
"""


def test_jtds_scrollable_result_sets_use_server_cursors(backends, jtds_classes):
    """jTDS scrollable result sets go through sp_cursoropen, and prepared
    ones through sp_cursorprepare/sp_cursorexecute, then sp_cursorfetch /
    sp_cursorclose: the backend serves them from a static cursor."""
    (jtds_classes / "JtdsCursor.java").write_text(JTDS_CURSOR)
    run(["javac", "-cp", JTDS_JAR, "-d", jtds_classes, jtds_classes / "JtdsCursor.java"], timeout=180)
    b = backends("notsup")
    since = time.time()
    url = f"jdbc:jtds:sqlserver://{b.host}:{b.port}/master;appName=jtds-cursor"
    r = subprocess.run(["java", "-cp", f"{jtds_classes}:{JTDS_JAR}", "JtdsCursor", url],
                       env=dict(os.environ, SB_PW="pw"), capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    res = parse(r.stdout)
    assert res == {"scroll": "one,two,three,", "last": "3|3", "abs2": "two", "pscroll": "two,three,"}
    gt = entries(b, spids_of(b, "jtds-cursor", since))
    procs = [e["proc"] for e in gt if e["kind"] == "rpc"]
    for proc in ("sp_cursoropen", "sp_cursorfetch", "sp_cursorclose", "sp_cursorprepare", "sp_cursorexecute"):
        assert proc in procs
    opened = [e for e in gt if e.get("proc") == "sp_cursoropen"]
    assert opened[0]["sql"] == "SELECT id, s FROM cur_t ORDER BY id" and opened[0]["cursor"]
    executed = [e for e in gt if e.get("proc") == "sp_cursorexecute"]
    assert " ".join(executed[0]["sql"].split()) == "SELECT s FROM cur_t WHERE id >= @P0 ORDER BY id"
    assert list(executed[0]["bound"].values()) == [2]
