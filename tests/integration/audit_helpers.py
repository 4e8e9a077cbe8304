"""Helpers for the audit integration tests (tests/integration/test_audit_*.py).

Ground truth from the PostgreSQL server itself: log_statement = all on the
`pg` fixture cluster (ALTER SYSTEM + reload, reset afterwards), the server
log parsed into the statements it ran, and pgbench driven through the proxy.
"""

import contextlib
import os
import re
import subprocess
from pathlib import Path

from bastion import PG_BIN, client_env, run

PGBENCH = PG_BIN / "pgbench"

# "2026-11-22 16:04:05.123 UTC [1234] app@appdb LOG:  statement: SELECT 1"
# "... LOG:  execute P_0: SELECT ..." / "execute <unnamed>: ..."
_LOG_RE = re.compile(
    r"^\S+ \S+ \S+ \[(?P<pid>\d+)\] (?P<user>[^@\s]*)@(?P<db>\S*) LOG:  "
    r"(?P<kind>statement|execute [^:]+): (?P<sql>.*)$")
# "... [1234] app@appdb DETAIL:  parameters: $1 = '8021', $2 = NULL"
_DETAIL_RE = re.compile(
    r"^\S+ \S+ \S+ \[(?P<pid>\d+)\] (?P<user>[^@\s]*)@(?P<db>\S*) DETAIL:  "
    r"parameters: (?P<params>.*)$")
_PARAM_RE = re.compile(r"\$\d+ = (?:NULL|'((?:[^']|'')*)')")


# The proxy's own catalog queries (protocols/pgsql/pg_internal.h) run on the
# client's backend connection; they are not the client's statements and are
# not audited, so the comparisons leave them out explicitly.
INTERNAL_TAG = "/* sqlbastion:internal */"


def norm(sql):
    """Statement text compared between the server log and the audit."""
    return sql.strip().rstrip(";").strip()


@contextlib.contextmanager
def log_all_statements(pg):
    """log_statement = all on the cluster for the duration; yields the byte
    offset of the server log where this window starts."""
    pg.sql("ALTER SYSTEM SET log_statement = 'all';")
    pg.reload()
    pg.sql("SELECT pg_reload_conf();")
    # the setting applies to new backends (and, after the reload signal, to
    # old ones); wait until a fresh session sees it
    for _ in range(100):
        if pg.sql("SHOW log_statement;").strip() == "all":
            break
    try:
        yield pg.log_path.stat().st_size
    finally:
        pg.sql("ALTER SYSTEM RESET log_statement;")
        pg.reload()


def server_statements(pg, offset, user="app", db="appdb"):
    """Statements the server logged after offset for user@db, normalized,
    in order."""
    with open(pg.log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    out = []
    for line in text.splitlines():
        m = _LOG_RE.match(line)
        if m and m.group("user") == user and m.group("db") == db:
            if INTERNAL_TAG not in m.group("sql"):
                out.append(norm(m.group("sql")))
    return out


def server_executions(pg, offset, user="app", db="appdb"):
    """(statement, parameters) of each extended-protocol execution the
    server logged with parameters after offset: the statement from the
    `execute` line, the values from the DETAIL line after it (None = NULL)."""
    with open(pg.log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    last_execute, out = {}, []
    for line in text.splitlines():
        m = _LOG_RE.match(line)
        if m and m.group("user") == user and m.group("db") == db:
            if m.group("kind").startswith("execute"):
                last_execute[m.group("pid")] = norm(m.group("sql"))
                if INTERNAL_TAG in m.group("sql"):
                    last_execute[m.group("pid")] = None
            continue
        d = _DETAIL_RE.match(line)
        if d and d.group("pid") in last_execute:
            params = tuple(None if v.group(0).endswith("NULL") else v.group(1).replace("''", "'")
                           for v in _PARAM_RE.finditer(d.group("params")))
            sql = last_execute.pop(d.group("pid"))
            if sql is not None:
                out.append((sql, params))
    return out


def audit_executions(b, since_seq=0):
    """(statement, parameters) of the audit's allowed query records that
    carry params, after since_seq."""
    return [(norm(r["statement"]), tuple(r["params"])) for r in b.audit_records("query")
            if r["seq"] > since_seq and r.get("decision") == "allow" and "params" in r]


def audit_statements(b, decision=None, since_seq=0):
    """(statement, decision) of the audit's query records after since_seq."""
    out = []
    for r in b.audit_records("query"):
        if r["seq"] <= since_seq:
            continue
        if decision is None or r.get("decision") == decision:
            out.append(norm(r.get("statement", "")))
    return out


def last_seq(b):
    recs = b.audit_records()
    return recs[-1]["seq"] if recs else 0


def pgbench_init(pg, scale=1):
    """pgbench tables in appdb, made directly on the server as app."""
    env = client_env({"PGPASSWORD": pg.passwords["app"]})
    run([PGBENCH, "-i", "-q", "-s", scale, "-h", pg.host, "-p", pg.port, "-U", "app",
         "appdb"], env=env, timeout=120)


def pgbench_argv(b, *, transactions=200, clients=2, protocol="simple", extra=()):
    return [str(PGBENCH), "-n", "-S", "-M", protocol, "-c", str(clients), "-j", "1",
            "-t", str(transactions), "-h", b.host, "-p", str(b.port), "-U", b.user,
            *extra, "appdb"]


def pgbench(b, **kw):
    """pgbench -S through the proxy; returns (returncode, stdout, stderr)."""
    env = client_env({"PGPASSWORD": b.token})
    r = subprocess.run(pgbench_argv(b, **kw), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def pgbench_tps(out):
    m = re.search(r"tps = ([0-9.]+)", out)
    return float(m.group(1)) if m else None


def pgbench_popen(b, **kw):
    env = client_env({"PGPASSWORD": b.token})
    return subprocess.Popen(pgbench_argv(b, **kw), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def verify(b, *files, check=False):
    """`sqlbastionctl audit verify [FILES]`: the CompletedProcess."""
    return b.ctl("audit", "verify", *map(str, files), check=check)


def can_mount_tmpfs(directory):
    """True when this process may mount a tmpfs (root, not in a jail)."""
    if os.geteuid() != 0:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(directory)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return False
    subprocess.run(["umount", str(directory)], check=False)
    return True


def lines(path):
    return Path(path).read_bytes().splitlines(keepends=True)
