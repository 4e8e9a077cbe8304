"""Audit sink failure: a full disk (a 1 MiB tmpfs under the audit file).
on_failure = close refuses statements with SQLSTATE 58030, logs one ERROR,
runs nothing unaudited, and recovers by itself when space returns;
on_failure = open runs them and WARNs at most every warn_interval s."""

import os
import subprocess
import time

import pytest

from audit_helpers import can_mount_tmpfs
from bastion import CommandFailed


@pytest.fixture
def tmpfs_audit(bastion_factory, pg):
    made = []

    def make(on_failure):
        b = bastion_factory(init=False, conf={"audit": {
            "jsonl": "var/audit/audit.jsonl", "sqlite": None,
            "on_failure": on_failure, "warn_interval": 1}})
        mnt = b.var / "audit"
        mnt.mkdir(parents=True)
        if not can_mount_tmpfs(mnt):
            pytest.skip("cannot mount a tmpfs here (needs root outside a container jail)")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)],
                       check=True)
        made.append(mnt)
        b.check_binaries()
        b.ctl("init")
        b.pg_ready(pg)
        return b, mnt

    yield make
    for mnt in made:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt):
    """Fill the tmpfs; returns the filler path."""
    filler = mnt / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_audit_disk_full_close(tmpfs_audit, pg):
    import psycopg2
    b, mnt = tmpfs_audit("close")
    assert b.psql("SELECT 'before'").stdout.strip() == "before"
    conn = b.connect()  # logged in before the disk fills
    cur = conn.cursor()
    filler = _fill(mnt)
    ran, refused = [], []
    for i in range(8):
        sql = f"SELECT 'while full {i}'"
        try:
            cur.execute(sql)
            cur.fetchall()
            ran.append(sql)
        except psycopg2.Error as e:
            assert e.pgcode == "58030" and "audit log unavailable" in str(e), str(e)
            refused.append(sql)
    # the last page of the file may still take a record or two; after that
    # every statement is refused, and the session stays usable
    assert len(refused) >= 5, (ran, refused)
    errors = [l for l in b.log_text().splitlines() if " ERROR " in l and "audit" in l]
    assert len(errors) == 1, errors
    filler.unlink()
    cur.execute("SELECT 'after'")
    assert cur.fetchall() == [("after",)]
    assert "writing again" in b.log_text()
    assert b.psql("SELECT 'new session'").stdout.strip() == "new session"
    stmts = [r.get("statement") for r in b.audit_records("query")]
    assert "SELECT 'after'" in stmts
    for sql in ran:  # nothing ran unaudited
        assert sql in stmts
    for sql in refused:
        assert sql not in stmts
    conn.close()
    b.stop()
    assert b.ctl("audit", "verify").returncode == 0


def test_audit_disk_full_open_warns(tmpfs_audit, pg):
    b, mnt = tmpfs_audit("open")
    filler = _fill(mnt)
    for i in range(3):
        assert b.psql(f"SELECT 'unaudited {i}'").stdout.strip() == f"unaudited {i}"
        time.sleep(0.8)
    time.sleep(1.5)
    warns = [l for l in b.log_text().splitlines() if "UNAUDITED" in l]
    assert 1 <= len(warns) <= 6, warns
    filler.unlink()
    assert b.psql("SELECT 'audited again'").stdout.strip() == "audited again"
    b.stop()
    assert os.path.exists(b.audit_jsonl)
    assert b.ctl("audit", "verify").returncode == 0
