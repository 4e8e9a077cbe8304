"""The Oracle Net test backend (tests/tns_backend/, a stand-in for Oracle)
against the two real thin clients, DIRECT (no proxy): python-oracledb
(Debian python3-oracledb, Thin mode) and node-oracledb (npm, Thin mode).

These prove the backend is a faithful enough server for the proxy's TNS
tests: if a scenario fails here, it would fail through the proxy for a
reason that is not the proxy's.  Statement fate is judged from the
backend's ground-truth log.
"""

import pytest

from conftest import _npm_package_dir
from tns_backend import TnsBackend
from tns_clients import run_node

oracledb = pytest.importorskip("oracledb")


@pytest.fixture(scope="module")
def node_oracledb_dir(tmp_path_factory):
    return _npm_package_dir(tmp_path_factory, "oracledb", "6")


@pytest.fixture
def backend(tmp_path):
    be = TnsBackend(tmp_path / "tns", accounts={"scott": "tiger", "alice": "s3cret!"})
    be.start()
    yield be
    be.stop()


def _py_connect(be, dsn=None, user="scott", password="tiger"):
    return oracledb.connect(user=user, password=password, dsn=dsn or be.dsn())


def _logins(be, result="ok"):
    return [e for e in be.ground_truth() if e["kind"] == "login" and e["result"] == result]


# ------------------------------------------------------------ python-oracledb

def test_py_service_name_select_and_ground_truth(backend):
    with _py_connect(backend) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM dual")
        assert cur.fetchall() == [(1,)]
        assert conn.version.startswith("19.")
    ex = backend.executed()
    assert [e["sql"] for e in ex] == ["SELECT 1 FROM dual"]
    assert ex[0]["user"] == "scott" and ex[0]["service"] == "ORCLPDB1"
    assert ex[0]["result"] == {"rows": 1}
    assert _logins(backend)[0]["by_sid"] is False


def test_py_sid_descriptor(backend):
    with _py_connect(backend, backend.descriptor(sid="ORCLPDB1")) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 'x' FROM dual")
        assert cur.fetchone() == ("x",)
    assert _logins(backend)[0]["by_sid"] is True


def test_py_long_descriptor(backend):
    dsn = backend.descriptor(pad=400)
    assert len(dsn) > 230
    with _py_connect(backend, dsn) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 2 FROM dual")
        assert cur.fetchone() == (2,)
    cdata = _logins(backend)[0]["connect_data"]
    assert "SBPAD" in cdata and len(cdata) > 400


def test_py_unknown_service_and_sid_are_refused(backend):
    with pytest.raises(oracledb.Error) as e:
        _py_connect(backend, backend.dsn("NOSUCH"))
    assert "ORA-12514" in str(e.value)
    with pytest.raises(oracledb.Error) as e:
        _py_connect(backend, backend.descriptor(sid="NOSUCH"))
    assert "ORA-12505" in str(e.value)
    assert not _logins(backend)


def test_py_wrong_password_and_unknown_user(backend):
    with pytest.raises(oracledb.DatabaseError) as e:
        _py_connect(backend, password="wrong")
    assert "ORA-01017" in str(e.value)
    with pytest.raises(oracledb.DatabaseError) as e:
        _py_connect(backend, user="nobody", password="tiger")
    assert "ORA-01017" in str(e.value)
    assert len(_logins(backend, "denied")) == 2
    assert not _logins(backend) and not backend.executed()


def test_py_binds_reexecute_errors_commit_rollback(backend):
    with _py_connect(backend) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id NUMBER(10), name VARCHAR2(50))")
        cur.execute("INSERT INTO t VALUES (:1, :2)", [1, "one"])
        cur.execute("INSERT INTO t VALUES (:1, :2)", [2, "two"])   # re-execute
        assert cur.rowcount == 1
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
        with pytest.raises(oracledb.DatabaseError) as e:
            cur.execute("FROB the database")
        assert "ORA-00900" in str(e.value)
        cur.execute("SELECT count(*) FROM t")                       # session goes on
        assert cur.fetchone() == (2,)
    ex = backend.executed()
    ins = [e for e in ex if e["sql"].startswith("INSERT INTO t VALUES (:1")]
    assert [e["binds"] for e in ins] == [[1, "one"], [2, "two"]]
    assert ins[0]["cursor"] == ins[1]["cursor"]
    sel = [e for e in ex if e["sql"] == q]
    assert [e["binds"] for e in sel] == [[1], [2]]
    assert sel[0]["cursor"] == sel[1]["cursor"]
    assert [e["error"][:9] for e in ex if "error" in e] == ["ORA-00942", "ORA-00900"]
    kinds = [e["kind"] for e in backend.ground_truth()]
    assert "commit" in kinds and "rollback" in kinds


def test_py_multi_packet_results_and_binds(backend):
    big = "x" * 20000
    with _py_connect(backend) as conn:
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
    sel = [e for e in backend.executed() if e["sql"] == "SELECT :1 FROM dual"]
    assert sel[0]["binds"] == [big]
    assert sum(1 for e in backend.executed() if e["sql"].startswith("INSERT INTO big")) == 5000


def test_py_cancel_interrupts_and_session_goes_on(backend):
    """conn.cancel() from another thread: the INTERRUPT marker reaches the
    backend mid-statement, the break/reset exchange runs, ORA-01013."""
    import threading
    import time
    with _py_connect(backend) as conn:
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
    assert any(e["kind"] == "break" for e in backend.ground_truth())


def test_py_redirect(tmp_path):
    be = TnsBackend(tmp_path / "tns", redirect=True).start()
    try:
        with _py_connect(be) as conn:
            cur = conn.cursor()
            cur.execute("SELECT 3 FROM dual")
            assert cur.fetchone() == (3,)
        gt = be.ground_truth()
        assert [e["kind"] for e in gt][:2] == ["redirect", "login"]
        assert str(be.dispatcher_port) in gt[0]["to"]
    finally:
        be.stop()


def test_py_resend(tmp_path):
    be = TnsBackend(tmp_path / "tns", resend=True).start()
    try:
        with _py_connect(be, be.descriptor(pad=300)) as conn:
            cur = conn.cursor()
            cur.execute("SELECT 4 FROM dual")
            assert cur.fetchone() == (4,)
        assert [e["kind"] for e in be.ground_truth()][:2] == ["resend", "login"]
    finally:
        be.stop()


def test_py_native_encryption_required_is_refused(tmp_path):
    be = TnsBackend(tmp_path / "tns", require_native_encryption=True).start()
    try:
        with pytest.raises(oracledb.Error) as e:
            _py_connect(be)
        assert "12660" in str(e.value)
        assert not _logins(be)
    finally:
        be.stop()


# ------------------------------------------------------------ node-oracledb

def test_node_scenarios(backend, node_oracledb_dir):
    steps = [
        {"op": "execute", "sql": "SELECT 1 FROM dual"},
        {"op": "execute", "sql": "CREATE TABLE nt (id NUMBER(10), name VARCHAR2(50))"},
        {"op": "execute", "sql": "INSERT INTO nt VALUES (:1, :2)", "binds": [1, "one"]},
        {"op": "execute", "sql": "INSERT INTO nt VALUES (:1, :2)", "binds": [2, "two"]},
        {"op": "commit"},
        {"op": "execute", "sql": "INSERT INTO nt VALUES (:id, :name)",
         "binds": {"id": 3, "name": "three"}},
        {"op": "rollback"},
        {"op": "execute", "sql": "SELECT id, name FROM nt WHERE id >= :lo ORDER BY id",
         "binds": {"lo": 1}},
        {"op": "execute", "sql": "SELECT id, name FROM nt WHERE id >= :lo ORDER BY id",
         "binds": {"lo": 2}},
        {"op": "execute", "sql": "SELECT * FROM no_such_table"},
        {"op": "execute", "sql": "SELECT count(*) FROM nt"},
        {"op": "executeMany", "sql": "INSERT INTO nt VALUES (:1, :2)",
         "binds": [[i, f"bulk {i}"] for i in range(100, 5100)]},
        {"op": "commit"},
        {"op": "execute", "sql": "SELECT id, name FROM nt WHERE id >= 100 ORDER BY id"},
        {"op": "execute", "sql": "SELECT :1 FROM dual", "binds": ["y" * 20000]},
        {"op": "ping"},
        {"op": "executeWithBreak", "sql": "SELECT sb_sleep(20) FROM dual", "afterMs": 500},
        {"op": "execute", "sql": "SELECT 7 FROM dual"},
    ]
    out = run_node(node_oracledb_dir, backend.dsn(), "scott", "tiger", steps)
    assert out["connect"] == "ok", out
    res = out["results"]
    assert res[0] == {"rows": [[1]]}
    assert res[2] == {"rowsAffected": 1} and res[3] == {"rowsAffected": 1}
    assert res[7] == {"rows": [[1, "one"], [2, "two"]]}
    assert res[8] == {"rows": [[2, "two"]]}
    assert res[9]["error"]["errorNum"] == 942
    assert res[10] == {"rows": [[2]]}
    assert res[11] == {"rowsAffected": 5000}
    big = res[13]["rows"]
    assert len(big) == 5000 and big[-1] == [5099, "bulk 5099"]
    assert res[14] == {"rows": [["y" * 20000]]}
    assert res[15] == {"ok": True}
    assert res[16]["error"]["errorNum"] == 1013 and res[16]["ms"] < 10000, res[16]
    assert res[17] == {"rows": [[7]]}
    assert out["closed"] is True
    ex = backend.executed()
    sel = [e for e in ex if e["sql"].startswith("SELECT id, name FROM nt WHERE id >= :lo")]
    assert [e["binds"] for e in sel] == [[1], [2]]
    assert sel[0]["cursor"] == sel[1]["cursor"]
    assert _logins(backend)[0]["driver"].startswith("node-oracledb")


def test_node_connect_variants(backend, node_oracledb_dir):
    one = [{"op": "execute", "sql": "SELECT 1 FROM dual"}]
    for cs in (backend.descriptor(sid="ORCLPDB1"), backend.descriptor(pad=400)):
        out = run_node(node_oracledb_dir, cs, "scott", "tiger", one)
        assert out["connect"] == "ok" and out["results"] == [{"rows": [[1]]}], out
    out = run_node(node_oracledb_dir, backend.dsn(), "scott", "wrong", one)
    assert "ORA-01017" in out["connect"]["message"], out
    # node reports the listener's ERR=12514 / 12505 as its own NJS-518 / NJS-519
    out = run_node(node_oracledb_dir, backend.dsn("NOSUCH"), "scott", "tiger", one)
    assert out["connect"]["code"] == "NJS-518", out
    assert 'Service "NOSUCH" is not registered' in out["connect"]["message"]
    out = run_node(node_oracledb_dir, backend.descriptor(sid="NOSUCH"), "scott", "tiger", one)
    assert out["connect"]["code"] == "NJS-519", out
    logins = [e for e in backend.ground_truth() if e["kind"] == "login"]
    assert [e["result"] for e in logins] == ["ok", "ok", "denied"]
    assert logins[0]["by_sid"] is True and "SBPAD" in logins[1]["connect_data"]


@pytest.mark.parametrize("mode", ["resend", "redirect", "redirect-inline"])
def test_node_resend_and_redirect(tmp_path, node_oracledb_dir, mode):
    kw = {"resend": True} if mode == "resend" else \
        {"redirect": "inline" if mode == "redirect-inline" else True}
    be = TnsBackend(tmp_path / "tns", **kw).start()
    try:
        out = run_node(node_oracledb_dir, be.dsn(), "scott", "tiger",
                       [{"op": "execute", "sql": "SELECT 5 FROM dual"}])
        assert out["connect"] == "ok" and out["results"] == [{"rows": [[5]]}], out
        kinds = [e["kind"] for e in be.ground_truth()]
        assert kinds[:2] == [mode.split("-")[0], "login"], kinds
    finally:
        be.stop()


def test_node_native_encryption_required_is_refused(tmp_path, node_oracledb_dir):
    be = TnsBackend(tmp_path / "tns", require_native_encryption=True).start()
    try:
        out = run_node(node_oracledb_dir, be.dsn(), "scott", "tiger",
                       [{"op": "execute", "sql": "SELECT 1 FROM dual"}])
        assert out["connect"] != "ok" and "12660" in out["connect"]["message"], out
    finally:
        be.stop()
