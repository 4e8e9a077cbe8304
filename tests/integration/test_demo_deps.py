"""The README's two commands (issue 11, items 7 and 8).

- scripts/deps.sh is the one package list and installer behind make demo,
  make check and .ci/run: a no-op when everything is there, it notices a
  Python module the tests cannot import, CI_SKIP_APT=1 skips it.
- make demo stops what an earlier demo left running (even one whose shell
  was killed with SIGKILL) before wiping demo/, and Ctrl-C leaves nothing.
  Run on a copy of scripts/ and etc/ in a temp directory, with the real
  PostgreSQL and MariaDB sandboxes it makes.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bastion import BIN_DIR, run

ROOT = Path(__file__).resolve().parents[2]
DEPS = ROOT / "scripts" / "deps.sh"


def deps(*args, env=None):
    e = dict(os.environ)
    e.pop("CI_SKIP_APT", None)
    e.update(env or {})
    return run(["/bin/bash", DEPS, *args], check=False, env=e, timeout=120)


def test_deps_noop_when_present():
    t0 = time.monotonic()
    r = deps("test", env={"DEPS_DRY_RUN": "1"})
    assert r.returncode == 0, r.stderr
    assert "would install" not in r.stderr and "present" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 5


def test_deps_notices_missing_python_module(tmp_path):
    # A module shadowing pymysql that cannot be imported: the test suite
    # would stop with an ImportError, so deps.sh must want python3-pymysql.
    (tmp_path / "pymysql.py").write_text("raise ImportError('simulated: not installed')\n")
    r = deps("test", env={"DEPS_DRY_RUN": "1", "PYTHONPATH": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "python module pymysql cannot be imported" in r.stderr, r.stderr
    assert re.search(r"would install: python3-pymysql$", r.stderr, re.M), r.stderr
    # The build set does not need Python modules.
    r = deps("build", env={"DEPS_DRY_RUN": "1", "PYTHONPATH": str(tmp_path)})
    assert r.returncode == 0 and "would install" not in r.stderr, r.stderr


def test_deps_skip_and_usage():
    r = deps("test", env={"CI_SKIP_APT": "1", "PATH": "/nonexistent"})
    assert r.returncode == 0 and "CI_SKIP_APT=1" in r.stderr, r.stderr
    assert deps("nosuchset").returncode == 2
    assert deps().returncode == 2


def test_deps_sets_nest_and_callers_share_them():
    sets = {}
    for name in ("build", "demo", "test", "ci"):
        r = deps("--list", name)
        assert r.returncode == 0, r.stderr
        sets[name] = set(r.stdout.split())
    assert sets["build"] < sets["demo"] < sets["test"] < sets["ci"]
    assert {"python3-pytest", "python3-psycopg2", "python3-pymysql"} <= sets["test"]
    assert {"postgresql-15", "mariadb-server"} <= sets["demo"]
    # No second list to drift: the callers go through deps.sh.
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^check:\n\t@bash scripts/deps\.sh test$", makefile, re.M)
    assert "scripts/deps.sh ci" in (ROOT / ".ci" / "run").read_text()
    demo = (ROOT / "scripts" / "demo.sh").read_text()
    assert 'scripts/deps.sh" demo' in demo
    for f in (ROOT / ".ci" / "run", ROOT / "scripts" / "demo.sh"):
        assert "apt-get install" not in f.read_text(), f


# ---------------------------------------------------------------- demo

@pytest.fixture
def demo_root():
    """A copy of scripts/ and etc/ in /tmp (not pytest's 0700 tmp_path: as
    root the demo runs its servers as postgres and mysql, who must reach
    their data directories)."""
    base = Path(tempfile.mkdtemp(prefix="sbdemo-"))
    os.chmod(base, 0o755)
    root = base / "repo"
    (root / "scripts").mkdir(parents=True)
    for f in ("demo.sh", "deps.sh"):
        shutil.copy(ROOT / "scripts" / f, root / "scripts" / f)
    shutil.copytree(ROOT / "etc", root / "etc")
    # The SQL Server and Oracle stand-ins the demo starts (test backends).
    for d in ("tds_backend", "tns_backend"):
        shutil.copytree(ROOT / "tests" / d, root / "tests" / d)
    yield root
    for p in _demo_pids(root):  # a failed test: leave nothing running
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(base, ignore_errors=True)


def _start_demo(root, log):
    env = dict(os.environ, SQLBASTION_BIN=str(BIN_DIR), CI_SKIP_APT="1",
               DEMO_PROXY_PORT="0", DEMO_MYSQL_PORT="0", DEMO_SSH_PORT="0",
               DEMO_TDS_PORT="0", DEMO_TNS_PORT="0")
    f = open(log, "w")
    # Its own session, as a terminal gives it: Ctrl-C goes to the group.
    p = subprocess.Popen(["bash", root / "scripts" / "demo.sh", "--no-build"], cwd=root,
                         stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    f.close()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        text = Path(log).read_text()
        if "====" in text:
            return p
        if p.poll() is not None:
            break
        time.sleep(0.3)
    p.kill()
    raise AssertionError(f"demo did not start:\n{Path(log).read_text()}")


def _demo_pids(root):
    """pid -> command line of every process using this demo's paths."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(root) in cmd and "pytest" not in cmd:
            found[int(d.name)] = cmd
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (its parent, the killed shell, is gone).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _check_banner_lines(banner, kinds):
    """The SQL Server, Oracle and SSH lines the banner prints work as
    printed (token on stdin or in the environment, never argv)."""
    if shutil.which("tsql"):
        assert "tds_backend" in kinds, kinds
        assert "TEST BACKEND\n standing in for SQL Server" in banner, banner
        m = re.search(r"^   (tsql -H 127\.0\.0\.1 -p \d+ -U alice)\n   token: (\S+)$", banner, re.M)
        assert m, banner
        r = subprocess.run(m.group(1).split(), capture_output=True, text=True, timeout=60,
                           input=f"{m.group(2)}\nSELECT owner FROM accounts\ngo\n"
                                 "DROP TABLE accounts\ngo\nSELECT count(*) FROM accounts\ngo\nexit\n")
        out = r.stdout + r.stderr
        assert "carol" in out and "blocked by rule 'no-drop'" in out, out
        assert re.search(r"^3$", out, re.M), out   # the table survived, the session went on
    assert "tns_backend" in kinds, kinds
    assert "TEST BACKEND standing\n in for Oracle" in banner, banner
    m = re.search(r"^   dsn=(127\.0\.0\.1:\d+/\S+)   user scott, password (\S+)$", banner, re.M)
    assert m, banner
    line = re.search(r"^   SB_TOKEN=(\S+) (/usr/bin/python3) -c '(.*)'$", banner, re.M)
    assert line and m.group(1).endswith("/" + line.group(1)), banner
    r = subprocess.run([line.group(2), "-c", line.group(3)], capture_output=True, text=True,
                       timeout=60, input=m.group(2) + "\n",
                       env=dict(os.environ, SB_TOKEN=line.group(1)))
    assert "(3, 'carol', 75.25)" in r.stdout, r.stdout + r.stderr
    # The SSH-tunnel entry is listening and printed.
    assert re.search(r"^   ssh -N -L 54321:demo-pg:\d+ alice@127\.0\.0\.1 -p \d+$", banner, re.M), banner


def test_demo_rerun_after_sigkill_stops_leftovers_and_ctrl_c_cleans(demo_root, tmp_path):
    if not (shutil.which("mariadb-install-db") and Path("/usr/lib/postgresql/15/bin/initdb").exists()):
        pytest.skip("PostgreSQL 15 / MariaDB not installed")
    root = demo_root
    first = _start_demo(root, tmp_path / "demo1.log")
    old = _demo_pids(root)
    kinds = " ".join(old.values())
    assert "sqlbastion -c" in kinds and "mariadbd" in kinds and "postgres -D" in kinds, old
    banner = (root / "demo" / "connect.txt").read_text()
    assert "sslmode=verify-full sslrootcert=demo/var/tls/ca.crt" in banner, banner
    assert "--ssl-ca=demo/var/tls/ca.crt --ssl-verify-server-cert appdb" in banner, banner
    _check_banner_lines(banner, kinds)

    # SIGKILL the script only: its proxy and servers are orphaned.
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    time.sleep(0.5)
    left = [p for p in old if p != first.pid and _alive(p)]
    assert left, "nothing was left behind: the test would prove nothing"

    second = _start_demo(root, tmp_path / "demo2.log")
    try:
        log2 = (tmp_path / "demo2.log").read_text()
        assert "stopping the previous MariaDB sandbox" in log2, log2
        assert "stopping the previous test backends" in log2, log2
        still = {p: old[p] for p in old if _alive(p)}
        assert not still, f"the first demo's processes survive: {still}"
        new = _demo_pids(root)
        assert "mariadbd" in " ".join(new.values()) and "sqlbastion -c" in " ".join(new.values())
    finally:
        # Ctrl-C: SIGINT to the whole foreground group.
        os.killpg(second.pid, signal.SIGINT)
        try:
            second.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in _demo_pids(root)):
        time.sleep(0.2)
    rest = {p: c for p, c in _demo_pids(root).items() if _alive(p)}
    assert not rest, f"processes left after Ctrl-C: {rest}"
    assert second.returncode in (0, 130), (tmp_path / "demo2.log").read_text()
