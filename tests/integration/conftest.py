"""pytest fixtures for sqlbastion integration tests (helpers in bastion.py).

Fixtures
  pg                session: a PostgreSQL 15 cluster (bastion.PgCluster)
  bastion_factory   function: make(**Bastion kwargs) -> Bastion, all closed at teardown
  bastion           function: bastion_factory() with the defaults (initialised, not started)
  pg_ready          function: `bastion` after bastion.pg_ready(pg): alice, demo-pg,
                    demo-pg/app, write grant, token in .token, proxy started
  maria             session: a MariaDB 10.11 server (mariadb.MariaDB)
  my_bastion        function: a Bastion with a mysql listener, not started
  my_ready          function: my_bastion after mysql_ready(maria): alice, demo-mysql,
                    demo-mysql/app, write grant, token, proxy started

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/integration
SQLBASTION_BIN picks the binaries (default <repo>/bin); SQLBASTION_KEEP=1 keeps
the instance directory of a failed test.
"""

import os
import signal
import shutil
import subprocess
import sys

import pytest

from bastion import BIN_DIR, Bastion, PgCluster


def _sigterm(signum, frame):
    # A CI timeout sends SIGTERM: unwind so finalizers and atexit stop the
    # clusters and proxies instead of leaving them running.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _sigterm)
    if sys.executable != "/usr/bin/python3" and not os.environ.get("SQLBASTION_ANY_PYTHON"):
        # psycopg2/pymysql come from Debian packages; another interpreter
        # would fail later with a confusing ImportError.
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise pytest.UsageError(
                "run the integration tests with /usr/bin/python3 -m pytest "
                "(python3-psycopg2 is a Debian package)")


def pytest_report_header(config):
    return f"sqlbastion binaries: {BIN_DIR}"


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(node):
    return any(getattr(getattr(node, "rep_" + w, None), "failed", False)
               for w in ("setup", "call"))


@pytest.fixture(scope="session")
def pg():
    cluster = PgCluster.create()
    yield cluster
    cluster.destroy()


@pytest.fixture
def bastion_factory(request):
    made = []

    def make(**kw):
        b = Bastion(**kw)
        made.append(b)
        return b

    yield make

    failed = _failed(request.node)
    keep = failed and os.environ.get("SQLBASTION_KEEP") == "1"
    problems = []
    for b in made:
        if failed:
            # Shown under "Captured stdout teardown" of the failed test.
            print(f"\n---- sqlbastion log ({b.log_path}) ----")
            print("\n".join(b.log_text().splitlines()[-200:]))
            print(f"---- audit ({b.audit_jsonl}) ----")
            try:
                print("\n".join(b.audit_jsonl.read_text().splitlines()[-50:]))
            except OSError:
                print("(none)")
            if keep:
                print(f"---- instance kept in {b.dir} ----")
        problems += b.close(keep=keep)
    if problems:
        print("\n".join(problems))
    if problems and not failed:
        pytest.fail("sqlbastion misbehaved: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def bastion(bastion_factory):
    return bastion_factory()


@pytest.fixture
def pg_ready(bastion, pg):
    bastion.pg_ready(pg)
    return bastion


# ---- MySQL / MariaDB (issue 3) ----

from mariadb import MariaDB  # noqa: E402


@pytest.fixture(scope="session")
def maria():
    server = MariaDB.create()
    yield server
    server.destroy()


@pytest.fixture
def my_bastion(bastion_factory):
    return bastion_factory(listeners=("postgres", "mysql"))


@pytest.fixture
def my_ready(my_bastion, maria):
    my_bastion.mysql_ready(maria)
    return my_bastion


# ---- node clients from the npm registry (installed once per test run)

def _npm_package_dir(tmp_path_factory, package, version):
    """A directory with node_modules/<package> installed by npm, or skip."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm not installed (Debian packages nodejs npm)")
    d = tmp_path_factory.mktemp("node-" + package)
    (d / "package.json").write_text('{"name": "sb-%s-test", "private": true}\n' % package)
    try:
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-progress",
                            "--loglevel=error", f"{package}@{version}"], cwd=d,
                           capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm could not install {package} within 180 s (registry unreachable?)")
    if r.returncode != 0 or not (d / "node_modules" / package).is_dir():
        pytest.skip(f"npm could not install {package} from the registry: "
                    + (r.stderr.strip().splitlines() or ["?"])[-1][:200])
    return d


@pytest.fixture(scope="session")
def node_mariadb_dir(tmp_path_factory):
    return _npm_package_dir(tmp_path_factory, "mariadb", "3")


@pytest.fixture(scope="session")
def mysql2_dir(tmp_path_factory):
    return _npm_package_dir(tmp_path_factory, "mysql2", "3")


@pytest.fixture(scope="session")
def tedious_dir(tmp_path_factory):
    """node tedious 19 (the TDS client), installed once per test run."""
    return _npm_package_dir(tmp_path_factory, "tedious", "19")
