"""The TNS (Oracle Net) frontend end to end: real thin clients
(python-oracledb from Debian, node-oracledb from npm) through sqlbastion's
`tns` listener to the Oracle Net test backend (tests/tns_backend/, a
stand-in for Oracle: no Oracle server can be installed here).

The O&M token is the service name (or SID); the client logs in to the
database with the account's own user name and password (a not-hosted
account). Statement fate is judged from the backend's ground-truth log;
the audit is compared with it.
"""

import json

import pytest

from bastion import Bastion
from conftest import _npm_package_dir
from tns_backend import TnsBackend
from tns_clients import run_node

oracledb = pytest.importorskip("oracledb")

@pytest.fixture(scope="module")
def node_oracledb_dir(tmp_path_factory):
    return _npm_package_dir(tmp_path_factory, "oracledb", "6")


def _backend(tmp_path, **kw):
    be = TnsBackend(tmp_path / "tns", accounts={"scott": "tiger", "alice_db": "s3cret"}, **kw)
    be.start()
    return be


def _bastion(tmp_path, be):
    b = Bastion(tmp_path / "sb", listeners=("tns",))   # the guard policy
    b.add_user("alice")
    b.add_asset("ora", host=be.host, port=be.port, protocol="tns", service=be.service)
    # not hosted: the client logs in to the database itself
    b.add_account("ora/scott", username="scott", not_hosted=True)
    b.add_account("ora/other", username="alice_db", not_hosted=True)
    b.grant("alice", "ora/scott", "write")
    b.grant("alice", "ora/other", "write")
    b.issue_token("alice", "ora/scott")
    b.start()
    return b


@pytest.fixture
def env(tmp_path, request):
    kw = getattr(request, "param", {})
    be = _backend(tmp_path, **kw)
    b = _bastion(tmp_path, be)
    yield b, be
    print(b.log_path.read_text()[-4000:] if b.log_path.exists() else "")
    print(be.log_path.read_text()[-3000:] if be.log_path.exists() else "")
    b.close()
    be.stop()


def _dsn(b, token):
    return f"127.0.0.1:{b.ports['tns']}/{token}"


def _audit(b):
    return [json.loads(l) for l in b.audit_jsonl.read_text().splitlines() if l.strip()]


def test_py_token_as_service_name(env):
    b, be = env
    with oracledb.connect(user="scott", password="tiger", dsn=_dsn(b, b.token)) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM dual")
        assert cur.fetchall() == [(1,)]
    ex = be.executed()
    assert [e["sql"] for e in ex] == ["SELECT 1 FROM dual"]
    assert ex[0]["service"] == "ORCLPDB1"
    recs = _audit(b)
    login = [r for r in recs if r["event"] == "login"]
    assert login and login[0]["user"] == "alice" and login[0]["account"] == "scott"
    assert b.token not in b.audit_jsonl.read_text()


def _connect(b, token=None, *, dsn=None, user="scott", password="tiger"):
    return oracledb.connect(user=user, password=password, dsn=dsn or _dsn(b, token or b.token))


def _descriptor(b, token, *, sid=False, pad=0):
    cd = f"(SID={token})" if sid else f"(SERVICE_NAME={token})"
    if pad:
        cd += f"(POOL_CONNECTION_CLASS=SBPAD{'x' * pad})"
    return (f"(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=127.0.0.1)(PORT={b.ports['tns']}))"
            f"(CONNECT_DATA={cd}))")


def _params(r):
    p = r.get("params")
    return json.loads(p) if isinstance(p, str) else p


def _queries(b):
    return [r for r in _audit(b) if r["event"] == "query"]


def test_py_token_as_sid_and_long_descriptor(env):
    b, be = env
    with _connect(b, dsn=_descriptor(b, b.token, sid=True)) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 'x' FROM dual")
        assert cur.fetchone() == ("x",)
    with _connect(b, dsn=_descriptor(b, b.token.upper(), pad=400)) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 2 FROM dual")
        assert cur.fetchone() == (2,)
    logins = [e for e in be.ground_truth() if e["kind"] == "login" and e["result"] == "ok"]
    # the backend always gets its real service name, never the token
    assert len(logins) == 2 and all(e["by_sid"] is False for e in logins)
    assert "SBPAD" in logins[1]["connect_data"] and b.token not in logins[1]["connect_data"]
    recs = [r for r in _audit(b) if r["event"] == "login"]
    assert len(recs) == 2
    info = _params(recs[0])
    assert "program" in info


def test_py_bad_and_expired_token_refused(env):
    b, be = env
    with pytest.raises(oracledb.Error) as e:
        _connect(b, "sbt_" + "a" * 32)
    assert "ORA-12514" in str(e.value) or "DPY-6001" in str(e.value)
    with pytest.raises(oracledb.Error) as e:
        _connect(b, dsn=_descriptor(b, "sbt_nope", sid=True))
    assert "ORA-12505" in str(e.value) or "DPY-6003" in str(e.value)
    short = b.issue_token("alice", "ora/scott", ttl="1s")
    import time
    time.sleep(2.2)
    with pytest.raises(oracledb.Error) as e:
        _connect(b, short)
    assert "12514" in str(e.value) or "DPY-6001" in str(e.value)
    failed = [r for r in _audit(b) if r["event"] == "login_failed"]
    assert [r["error"] for r in failed] == ["bad token", "bad token", "token expired"]
    assert short not in b.audit_jsonl.read_text()
    assert not [e for e in be.ground_truth() if e["kind"] == "login"]


def test_py_wrong_password_and_other_account(env):
    b, be = env
    with pytest.raises(oracledb.DatabaseError) as e:
        _connect(b, password="wrong")
    assert "ORA-01017" in str(e.value)
    other = b.issue_token("alice", "ora/other")
    # a token for the account alice_db used to log in as scott: the proxy ends it
    with pytest.raises(oracledb.Error):
        _connect(b, other, user="scott", password="tiger")
    assert not [e for e in be.ground_truth() if e["kind"] == "login" and e["result"] == "ok"]
    failed = [r for r in _audit(b) if r["event"] == "login_failed"]
    assert any("is not the token's account" in r["error"] for r in failed), failed
    with _connect(b, other, user="alice_db", password="s3cret") as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM dual")
        assert cur.fetchone() == (1,)


def test_py_binds_reexecute_commit_rollback_and_audit(env):
    b, be = env
    with _connect(b) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id NUMBER(10), name VARCHAR2(50))")
        cur.execute("INSERT INTO t VALUES (:1, :2)", [1, "one"])
        cur.execute("INSERT INTO t VALUES (:1, :2)", [2, "two"])   # re-execute
        conn.commit()
        cur.execute("INSERT INTO t VALUES (:id, :name)", id=3, name="three")
        conn.rollback()
        q = "SELECT id, name FROM t WHERE id >= :lo ORDER BY id"
        cur.execute(q, lo=1)
        assert cur.fetchall() == [(1, "one"), (2, "two")]
        cur.execute(q, lo=2)                                         # re-execute
        assert cur.fetchall() == [(2, "two")]
        with pytest.raises(oracledb.DatabaseError) as e:
            cur.execute("SELECT * FROM no_such_table")
        assert "ORA-00942" in str(e.value)
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone() == (2,)
    ex = be.executed()
    qs = _queries(b)
    # every statement the backend executed has its audit record, in order,
    # with the same text and binds
    assert [e["sql"] for e in ex] == [r["statement"] for r in qs]
    for e, r in zip(ex, qs):
        want = e.get("binds") or None
        got = _params(r)
        assert got == want, (e, r)
    import time
    deadline = time.time() + 3   # query_end records are flushed within 100 ms
    while True:
        ends = {r["query_id"]: r for r in _audit(b) if r["event"] == "query_end"}
        if all(r["query_id"] in ends for r in qs) or time.time() > deadline:
            break
        time.sleep(0.05)
    missing = [r["statement"] for r in qs if r["query_id"] not in ends]
    assert not missing, missing
    errs = [ends[r["query_id"]].get("error") for r in qs if r["statement"].startswith("SELECT * FROM no")]
    assert errs and errs[0].startswith("ORA-00942"), errs


def test_py_multi_packet_results_and_binds(env):
    b, be = env
    big = "x" * 20000
    with _connect(b) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE big (n NUMBER, s VARCHAR2(100))")
        cur.executemany("INSERT INTO big VALUES (:1, :2)",
                        [(i, f"row {i}") for i in range(5000)])
        conn.commit()
        cur.arraysize = 500
        cur.execute("SELECT n, s FROM big ORDER BY n")
        rows = cur.fetchall()
        assert len(rows) == 5000 and rows[4999] == (4999, "row 4999")
        cur.execute("SELECT :1 FROM dual", [big])
        assert cur.fetchone() == (big,)
    qs = _queries(b)
    sel = [r for r in qs if r["statement"] == "SELECT :1 FROM dual"]
    assert _params(sel[0]) == [big]
    ins = [r for r in qs if r["statement"].startswith("INSERT INTO big")]
    assert len(ins) == 1 and len(_params(ins[0])) == 5000


def test_py_deny_and_continue(env):
    b, be = env
    with _connect(b) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE d (id NUMBER)")
        cur.execute("INSERT INTO d VALUES (1)")
        with pytest.raises(oracledb.DatabaseError) as e:
            cur.execute("DROP TABLE d")
        assert "ORA-01031" in str(e.value)
        assert "sqlbastion: blocked by rule 'no-drop'" in str(e.value)
        cur.execute("SELECT count(*) FROM d")
        assert cur.fetchone() == (1,)
    assert "DROP TABLE d" not in [e["sql"] for e in be.executed()]
    deny = [r for r in _queries(b) if r["statement"] == "DROP TABLE d"]
    assert deny and deny[0]["decision"] == "deny" and deny[0]["rule"] == "no-drop"


# redirect-inline: python-oracledb 1.2.1 cannot read that layout itself,
# but through the proxy it never sees the REDIRECT: the proxy follows it
@pytest.mark.parametrize("env", [{"redirect": True}, {"redirect": "inline"}, {"resend": True}],
                         indirect=True, ids=["redirect", "redirect-inline", "resend"])
def test_py_redirect_and_resend(env):
    b, be = env
    with _connect(b) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 3 FROM dual")
        assert cur.fetchone() == (3,)
    kinds = [e["kind"] for e in be.ground_truth()]
    assert kinds[:2] in (["redirect", "login"], ["resend", "login"]), kinds
    login = [r for r in _audit(b) if r["event"] == "login"]
    assert len(login) == 1


# ------------------------------------------------------------ node-oracledb

def test_node_scenarios(env, node_oracledb_dir):
    b, be = env
    q = "SELECT id, name FROM nt WHERE id >= :lo ORDER BY id"
    steps = [
        {"op": "execute", "sql": "SELECT 1 FROM dual"},
        {"op": "execute", "sql": "CREATE TABLE nt (id NUMBER(10), name VARCHAR2(50))"},
        {"op": "execute", "sql": "INSERT INTO nt VALUES (:1, :2)", "binds": [1, "one"]},
        {"op": "execute", "sql": "INSERT INTO nt VALUES (:1, :2)", "binds": [2, "two"]},
        {"op": "commit"},
        {"op": "execute", "sql": "INSERT INTO nt VALUES (:id, :name)",
         "binds": {"id": 3, "name": "three"}},
        {"op": "rollback"},
        {"op": "execute", "sql": q, "binds": {"lo": 1}},
        {"op": "execute", "sql": q, "binds": {"lo": 2}},
        {"op": "execute", "sql": "SELECT * FROM no_such_table"},
        {"op": "execute", "sql": "DROP TABLE nt"},
        {"op": "execute", "sql": "SELECT count(*) FROM nt"},
        {"op": "executeMany", "sql": "INSERT INTO nt VALUES (:1, :2)",
         "binds": [[i, f"bulk {i}"] for i in range(100, 5100)]},
        {"op": "commit"},
        {"op": "execute", "sql": "SELECT id, name FROM nt WHERE id >= 100 ORDER BY id"},
        {"op": "execute", "sql": "SELECT :1 FROM dual", "binds": ["y" * 20000]},
        {"op": "ping"},
        {"op": "execute", "sql": "SELECT 7 FROM dual"},
        {"op": "executeWithBreak", "sql": "SELECT sb_sleep(20) FROM dual", "afterMs": 500},
        {"op": "execute", "sql": "SELECT 8 FROM dual"},
    ]
    out = run_node(node_oracledb_dir, _dsn(b, b.token), "scott", "tiger", steps)
    assert out["connect"] == "ok", (out, b.log_path.read_text()[-2000:])
    res = out["results"]
    assert res[0] == {"rows": [[1]]}, res
    assert res[2] == {"rowsAffected": 1} and res[3] == {"rowsAffected": 1}, res
    assert res[7] == {"rows": [[1, "one"], [2, "two"]]}, res
    assert res[8] == {"rows": [[2, "two"]]}, res
    assert res[9]["error"]["errorNum"] == 942, res
    assert res[10]["error"]["errorNum"] == 1031, res
    assert "sqlbastion: blocked by rule 'no-drop'" in res[10]["error"]["message"], res
    assert res[11] == {"rows": [[2]]}, res
    assert res[12] == {"rowsAffected": 5000}, res
    assert len(res[14]["rows"]) == 5000, res[14]
    assert res[15] == {"rows": [["y" * 20000]]}, res[15]
    assert res[16] == {"ok": True} and res[17] == {"rows": [[7]]}, res
    assert res[18]["error"]["errorNum"] == 1013 and res[18]["ms"] < 10000, res[18]
    assert res[19] == {"rows": [[8]]}, res
    ex = be.executed()
    assert "DROP TABLE nt" not in [e["sql"] for e in ex]
    # the ground truth logs the executeMany row by row, the audit as one
    # record with every row's binds
    def bulk(e):
        return e["sql"] == "INSERT INTO nt VALUES (:1, :2)" and (e.get("binds") or [0])[0] >= 100
    qs = [r for r in _queries(b) if r["decision"] == "allow"]
    many = [r for r in qs if r["statement"] == "INSERT INTO nt VALUES (:1, :2)"
            and isinstance((_params(r) or [None])[0], list)]
    assert len(many) == 1, [(r["statement"][:20], str(_params(r))[:60]) for r in qs][9:]
    assert len(_params(many[0])) == 5000
    assert _params(many[0])[4999] == [5099, "bulk 5099"]
    assert sum(1 for e in ex if bulk(e)) == 5000
    ex = [e for e in ex if not bulk(e)]
    qs = [r for r in qs if r is not many[0]]
    assert [e["sql"] for e in ex] == [r["statement"] for r in qs]
    for e, r in zip(ex, qs):
        assert _params(r) == (e.get("binds") or None), (e, r)


def test_node_connect_variants(env, node_oracledb_dir):
    b, be = env
    one = [{"op": "execute", "sql": "SELECT 1 FROM dual"}]
    for cs in (_descriptor(b, b.token, sid=True), _descriptor(b, b.token, pad=400)):
        out = run_node(node_oracledb_dir, cs, "scott", "tiger", one)
        assert out["connect"] == "ok" and out["results"] == [{"rows": [[1]]}], out
    out = run_node(node_oracledb_dir, _dsn(b, b.token), "scott", "wrong", one)
    assert "ORA-01017" in out["connect"]["message"], out
    out = run_node(node_oracledb_dir, _dsn(b, "sbt_bogus"), "scott", "tiger", one)
    assert out["connect"]["code"] == "NJS-518", out
    out = run_node(node_oracledb_dir, _descriptor(b, "sbt_bogus", sid=True), "scott", "tiger", one)
    assert out["connect"]["code"] == "NJS-519", out
    other = b.issue_token("alice", "ora/other")
    out = run_node(node_oracledb_dir, _dsn(b, other), "scott", "tiger", one)
    assert out["connect"] != "ok", out
    logins = [e for e in be.ground_truth() if e["kind"] == "login"]
    assert [e["result"] for e in logins] == ["ok", "ok", "denied"], logins


@pytest.mark.parametrize("env", [{"redirect": True}, {"redirect": "inline"}, {"resend": True}],
                         indirect=True, ids=["redirect", "redirect-inline", "resend"])
def test_node_redirect_and_resend(env, node_oracledb_dir):
    b, be = env
    out = run_node(node_oracledb_dir, _dsn(b, b.token), "scott", "tiger",
                   [{"op": "execute", "sql": "SELECT 5 FROM dual"}])
    assert out["connect"] == "ok" and out["results"] == [{"rows": [[5]]}], out


@pytest.mark.parametrize("env", [{"require_native_encryption": True}], indirect=True,
                         ids=["native-encryption"])
def test_py_native_encryption_required(env):
    """A database that demands Oracle native network encryption: thin
    clients cannot offer it, so its listener refuses (ORA-12660), and the
    proxy relays that refusal; the audit says why."""
    b, be = env
    with pytest.raises(oracledb.Error) as e:
        _connect(b)
    assert "12660" in str(e.value)
    import time
    time.sleep(0.3)
    ends = [r for r in _audit(b) if r["event"] == "session_end"]
    assert ends and "ORA-12660" in json.dumps(ends[0]), ends
    assert not [e for e in be.ground_truth() if e["kind"] == "login"]


def test_ctl_native_encryption_option(env):
    b, be = env
    out = b.ctl("asset", "set", "ora", "--native-encryption", "allow").stdout
    assert "native encryption allowed" in out or out == "" or "ora" in out
    r = b.ctl("asset", "set", "ora", "--native-encryption", "maybe", check=False)
    assert r.returncode != 0
    b.add_asset("pg1", host="127.0.0.1", port=5432)
    r = b.ctl("asset", "set", "pg1", "--native-encryption", "allow", check=False)
    assert r.returncode != 0 and "tns" in (r.stderr + r.stdout)


def test_py_cancel_marker_passes_and_session_goes_on(env):
    """conn.cancel(): the break MARKER goes through the relay, the backend
    answers ORA-01013, the session goes on."""
    import threading
    import time
    b, be = env
    with _connect(b) as conn:
        cur = conn.cursor()
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        t0 = time.time()
        with pytest.raises(oracledb.DatabaseError) as e:
            cur.execute("SELECT sb_sleep(20) FROM dual")
        assert "ORA-01013" in str(e.value)
        assert time.time() - t0 < 10
        cur.execute("SELECT 6 FROM dual")
        assert cur.fetchone() == (6,)
    assert any(e["kind"] == "break" for e in be.ground_truth())


def test_py_end_to_end_attributes_piggyback(env):
    """module / action / client_identifier ride as a piggyback before the
    next call: the call after them is still read and audited."""
    b, be = env
    with _connect(b) as conn:
        conn.module = "billing"
        conn.action = "nightly"
        conn.client_identifier = "alice@laptop"
        cur = conn.cursor()
        cur.execute("SELECT :1 FROM dual", ["piggy"])
        assert cur.fetchone() == ("piggy",)
        with pytest.raises(oracledb.DatabaseError) as e:
            cur.execute("DROP TABLE x")
        assert "no-drop" in str(e.value)
    qs = _queries(b)
    assert [r["statement"] for r in qs] == ["SELECT :1 FROM dual", "DROP TABLE x"]
    assert _params(qs[0]) == ["piggy"]
