"""TCPS (Oracle Net over TLS) through the `tns` listener, both sides.

Client side: a TCPS client starts TLS at once; the proxy answers with its
server certificate (var/tls/server.crt, signed by var/tls/ca.crt) and reads
the CONNECT inside TLS. `require_tls = yes` refuses a plain CONNECT.
Backend side: the asset's --tls (disable|prefer|require|verify-full); the
test backend (tests/tns_backend/) speaks TCPS with a certificate from its
own CA, which `backend_ca` names for verify-full.

python-oracledb 1.2.1 thin takes a CA only as a PEM "wallet": the file
ewallet.pem in `wallet_location` (loaded with load_verify_locations).
Statement fate is judged from the backend's ground-truth log.
"""

import json
import shutil
from pathlib import Path

import pytest

from bastion import Bastion, make_server_cert, make_test_ca
from tns_backend import TnsBackend

oracledb = pytest.importorskip("oracledb")


def _audit(b):
    return [json.loads(l) for l in b.audit_jsonl.read_text().splitlines() if l.strip()]


def _wallet(tmp_path, name, ca_file):
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    shutil.copy(ca_file, d / "ewallet.pem")
    return str(d)


@pytest.fixture
def backend_ca(tmp_path):
    d = tmp_path / "betls"
    d.mkdir()
    ca, ca_key = make_test_ca(d, "be-ca", "tns backend CA")
    crt, key = make_server_cert(d, ca, ca_key, "be-server")
    other, _ = make_test_ca(d, "other-ca", "unrelated CA")
    return {"ca": ca, "cert": crt, "key": key, "other": other}


def _setup(tmp_path, *, backend_tls=None, asset_tls="disable", conf=None, **be_kw):
    be = TnsBackend(tmp_path / "tns", accounts={"scott": "tiger"}, tls=backend_tls, **be_kw)
    be.start()
    b = Bastion(tmp_path / "sb", listeners=("tns",), conf=conf)
    b.add_user("alice")
    b.add_asset("ora", host=be.host, port=be.port, protocol="tns", service=be.service,
                tls=asset_tls)
    b.add_account("ora/scott", username="scott", not_hosted=True)
    b.grant("alice", "ora/scott", "write")
    b.issue_token("alice", "ora/scott")
    b.start()
    return b, be


@pytest.fixture
def cleanup():
    objs = []
    yield objs
    for o in objs:
        if isinstance(o, Bastion):
            print(o.log_path.read_text()[-3000:] if o.log_path.exists() else "")
            o.close()
        else:
            print(o.log_path.read_text()[-2000:] if o.log_path.exists() else "")
            o.stop()


def _tcps_connect(b, tmp_path, *, descriptor=False):
    wallet = _wallet(tmp_path, "proxy-wallet", b.dir / "var" / "tls" / "ca.crt")
    port = b.ports["tns"]
    if descriptor:
        dsn = (f"(DESCRIPTION=(ADDRESS=(PROTOCOL=tcps)(HOST=127.0.0.1)(PORT={port}))"
               f"(CONNECT_DATA=(SERVICE_NAME={b.token})))")
    else:
        dsn = f"tcps://127.0.0.1:{port}/{b.token}"
    return oracledb.connect(user="scott", password="tiger", dsn=dsn,
                            wallet_location=wallet, ssl_server_dn_match=False)


def _plain_connect(b):
    return oracledb.connect(user="scott", password="tiger",
                            dsn=f"127.0.0.1:{b.ports['tns']}/{b.token}")


def _run_statements(conn):
    cur = conn.cursor()
    cur.execute("SELECT :a FROM dual", a=7)
    assert cur.fetchall() == [(7,)]
    cur.execute("SELECT 'tcps' FROM dual")
    assert cur.fetchone() == ("tcps",)


def _check_audit(b, be):
    sqls = [e["sql"] for e in be.executed()]
    assert sqls == ["SELECT :a FROM dual", "SELECT 'tcps' FROM dual"]
    q = [r["statement"] for r in _audit(b) if r["event"] == "query"]
    assert q == sqls
    assert b.token not in b.audit_jsonl.read_text()


@pytest.mark.parametrize("descriptor", [False, True])
def test_py_tcps_client_plain_backend(tmp_path, cleanup, descriptor):
    b, be = _setup(tmp_path)
    cleanup += [b, be]
    with _tcps_connect(b, tmp_path, descriptor=descriptor) as conn:
        _run_statements(conn)
    _check_audit(b, be)
    assert "client TLS (TCPS) established" in b.log_path.read_text()


def test_py_plain_client_tcps_backend_verify_full(tmp_path, cleanup, backend_ca):
    b, be = _setup(tmp_path, backend_tls=(backend_ca["cert"], backend_ca["key"]),
                   asset_tls="verify-full",
                   conf={"sqlbastion": {"backend_ca": str(backend_ca["ca"])}})
    cleanup += [b, be]
    with _plain_connect(b) as conn:
        _run_statements(conn)
    _check_audit(b, be)


@pytest.mark.parametrize("mode", ["require", "prefer"])
def test_py_plain_client_tcps_backend_unverified(tmp_path, cleanup, backend_ca, mode):
    b, be = _setup(tmp_path, backend_tls=(backend_ca["cert"], backend_ca["key"]),
                   asset_tls=mode)
    cleanup += [b, be]
    with _plain_connect(b) as conn:
        _run_statements(conn)
    _check_audit(b, be)


def test_py_tcps_backend_wrong_ca_refused(tmp_path, cleanup, backend_ca):
    b, be = _setup(tmp_path, backend_tls=(backend_ca["cert"], backend_ca["key"]),
                   asset_tls="verify-full",
                   conf={"sqlbastion": {"backend_ca": str(backend_ca["other"])}})
    cleanup += [b, be]
    with pytest.raises(oracledb.Error):
        _plain_connect(b)
    # the database never saw a CONNECT, let alone the client's O5LOGON
    assert not [e for e in be.ground_truth() if e.get("kind") in ("login", "execute")]
    fails = [r for r in _audit(b) if r["event"] == "login_failed"]
    assert fails, _audit(b)


def test_py_tcps_backend_wrong_host_name_refused(tmp_path, cleanup, backend_ca):
    """verify-full checks the name too: a certificate from the right CA for
    another host is refused."""
    d = tmp_path / "betls"
    crt, key = make_server_cert(d, backend_ca["ca"], backend_ca["ca"].with_suffix(".key"),
                                "elsewhere", san="DNS:db.elsewhere.example",
                                cn="db.elsewhere.example")
    b, be = _setup(tmp_path, backend_tls=(crt, key), asset_tls="verify-full",
                   conf={"sqlbastion": {"backend_ca": str(backend_ca["ca"])}})
    cleanup += [b, be]
    with pytest.raises(oracledb.Error):
        _plain_connect(b)
    assert not [e for e in be.ground_truth() if e.get("kind") in ("login", "execute")]
    assert [r for r in _audit(b) if r["event"] == "login_failed"]


def test_py_tcps_backend_redirect(tmp_path, cleanup, backend_ca):
    """The backend listener REDIRECTs: the new address gets TLS (verified)
    again before the CONNECT."""
    b, be = _setup(tmp_path, backend_tls=(backend_ca["cert"], backend_ca["key"]),
                   asset_tls="verify-full", redirect=True,
                   conf={"sqlbastion": {"backend_ca": str(backend_ca["ca"])}})
    cleanup += [b, be]
    with _tcps_connect(b, tmp_path) as conn:
        _run_statements(conn)
    _check_audit(b, be)
    assert "redirects to 127.0.0.1" in b.log_path.read_text()


def test_py_tcps_backend_but_asset_disable_fails(tmp_path, cleanup, backend_ca):
    b, be = _setup(tmp_path, backend_tls=(backend_ca["cert"], backend_ca["key"]),
                   asset_tls="disable")
    cleanup += [b, be]
    with pytest.raises(oracledb.Error):
        _plain_connect(b)
    assert not be.executed()


def test_py_tcps_both_sides(tmp_path, cleanup, backend_ca):
    b, be = _setup(tmp_path, backend_tls=(backend_ca["cert"], backend_ca["key"]),
                   asset_tls="verify-full",
                   conf={"sqlbastion": {"backend_ca": str(backend_ca["ca"])}})
    cleanup += [b, be]
    with _tcps_connect(b, tmp_path) as conn:
        _run_statements(conn)
    _check_audit(b, be)


def test_py_require_tls_refuses_plain(tmp_path, cleanup):
    b, be = _setup(tmp_path, conf={"sqlbastion": {"require_tls": "yes"}})
    cleanup += [b, be]
    with pytest.raises(oracledb.Error) as ei:
        _plain_connect(b)
    assert "12564" in str(ei.value)
    assert not [e for e in be.ground_truth() if e.get("kind") == "login"]
    fails = [r for r in _audit(b) if r["event"] == "login_failed"]
    assert fails and "TLS required" in json.dumps(fails[0])
    # TCPS still gets in
    with _tcps_connect(b, tmp_path) as conn:
        _run_statements(conn)
    _check_audit(b, be)


@pytest.fixture(scope="module")
def node_oracledb_dir(tmp_path_factory):
    from conftest import _npm_package_dir
    return _npm_package_dir(tmp_path_factory, "oracledb", "6")


def test_node_tcps_both_sides(tmp_path, cleanup, backend_ca, node_oracledb_dir):
    """node-oracledb thin: TCPS to the proxy (the proxy's CA as the PEM
    wallet named in the descriptor's SECURITY section), TCPS verify-full on
    to the backend."""
    from tns_clients import run_node
    b, be = _setup(tmp_path, backend_tls=(backend_ca["cert"], backend_ca["key"]),
                   asset_tls="verify-full",
                   conf={"sqlbastion": {"backend_ca": str(backend_ca["ca"])}})
    cleanup += [b, be]
    # node-oracledb loads ewallet.pem as its client key and certificate too
    # (tls.createSecureContext cert/key/ca from the one file), so the wallet
    # holds a throwaway client key pair besides the proxy's CA; the proxy
    # asks for no client certificate.
    wallet = _wallet(tmp_path, "node-wallet", b.dir / "var" / "tls" / "ca.crt")
    crt, key = make_server_cert(tmp_path / "betls", backend_ca["ca"],
                                backend_ca["ca"].with_suffix(".key"), "node-client")
    pem = Path(wallet) / "ewallet.pem"
    # the client certificate first: node takes the file's first one as its own
    pem.write_text(Path(crt).read_text() + pem.read_text() + Path(key).read_text())
    cs = (f"(DESCRIPTION=(ADDRESS=(PROTOCOL=tcps)(HOST=127.0.0.1)(PORT={b.ports['tns']}))"
          f"(CONNECT_DATA=(SERVICE_NAME={b.token}))"
          f"(SECURITY=(SSL_SERVER_DN_MATCH=FALSE)(MY_WALLET_DIRECTORY={wallet})))")
    steps = [{"op": "execute", "sql": "SELECT :a FROM dual", "binds": {"a": 7}},
             {"op": "execute", "sql": "SELECT 'tcps' FROM dual"}]
    out = run_node(node_oracledb_dir, cs, "scott", "tiger", steps)
    assert out["connect"] == "ok", (out, b.log_path.read_text()[-2000:])
    assert out["results"] == [{"rows": [[7]]}, {"rows": [["tcps"]]}], out
    _check_audit(b, be)
    assert "client TLS (TCPS) established" in b.log_path.read_text()


def test_py_tcps_server_dn_match(tmp_path, cleanup):
    """python-oracledb's own name check (ssl_server_dn_match on, the
    default): the proxy's certificate names localhost."""
    b, be = _setup(tmp_path)
    cleanup += [b, be]
    wallet = _wallet(tmp_path, "proxy-wallet", b.dir / "var" / "tls" / "ca.crt")
    with oracledb.connect(user="scott", password="tiger",
                          dsn=f"tcps://localhost:{b.ports['tns']}/{b.token}",
                          wallet_location=wallet) as conn:
        _run_statements(conn)
    _check_audit(b, be)
    # a wallet without the proxy's CA: the client refuses the certificate
    other = tmp_path / "other"
    other.mkdir()
    ca, _ = make_test_ca(other, "x-ca", "unrelated")
    with pytest.raises(oracledb.Error):
        oracledb.connect(user="scott", password="tiger",
                         dsn=f"tcps://127.0.0.1:{b.ports['tns']}/{b.token}",
                         wallet_location=_wallet(tmp_path, "bad-wallet", ca),
                         ssl_server_dn_match=False)
