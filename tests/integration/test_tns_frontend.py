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

POLICY_RULES = """
rule no-drop deny
  verb DROP
"""


@pytest.fixture(scope="module")
def node_oracledb_dir(tmp_path_factory):
    return _npm_package_dir(tmp_path_factory, "oracledb", "6")


def _backend(tmp_path, **kw):
    be = TnsBackend(tmp_path / "tns", accounts={"scott": "tiger", "alice_db": "s3cret"}, **kw)
    be.start()
    return be


def _bastion(tmp_path, be, policy=None):
    b = Bastion(tmp_path / "sb", listeners=("tns",), policy=policy)
    b.add_user("alice")
    b.add_asset("ora", host=be.host, port=be.port, protocol="tns", service=be.service)
    # not hosted: the client logs in to the database itself (the password
    # stored here is never sent by the proxy)
    b.add_account("ora/scott", username="scott", password="unused")
    b.add_account("ora/other", username="alice_db", password="unused")
    b.grant("alice", "ora/scott", "write")
    b.grant("alice", "ora/other", "write")
    b.issue_token("alice", "ora/scott")
    b.start()
    return b


@pytest.fixture
def env(tmp_path):
    be = _backend(tmp_path)
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
