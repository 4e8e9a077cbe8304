"""Completeness against MariaDB's own general log (issue 5): every statement
the server ran for the proxy's backend connections has its audit record, and
every allowed audit record has its server log entry.

Workload through the proxy: sysbench oltp_read_only with --db-ps-mode=auto
(binary prepared statements: COM_STMT_PREPARE / EXECUTE), pymysql text
statements (with client-side parameters), the Connector/C prepared-statement
program of test_mysql_proxy (a string parameter with quotes), and denied
statements (text and prepared).

Matching: the general log shows `Query <text>` for COM_QUERY and `Execute
<text with the parameters substituted>` for COM_STMT_EXECUTE; the audit has
the prepared text with `?` and the parameters as a JSON array. Each audit
record is rendered the way the server substitutes (numbers as they are,
strings quoted with backslash escapes, NULL) and the two multisets compared
after whitespace is normalized; as a second check, the executions per
prepared statement are counted on both sides (a `?` matches any value).
`Prepare`, `Close stmt`, `Connect`, `Quit` lines are protocol bookkeeping,
not statements: the proxy audits a prepared statement at each execution.
"""

import collections
import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager

import pytest

from audit_helpers import last_seq, verify
from bastion import run
from test_mysql_proxy import CONNECTOR_C, needs_lexer

# "241122 17:50:08\t     5 Connect\tapp@localhost on appdb using TCP/IP"
# "\t\t     5 Query\tSELECT 1"
_GL_RE = re.compile(r"^(?:\d{6}\s+\d{1,2}:\d{2}:\d{2})?\s+(?P<id>\d+) (?P<cmd>[A-Za-z]+(?: [A-Za-z]+)?)\t(?P<arg>.*)$")


def norm(sql):
    return " ".join(sql.split()).rstrip(";").strip()


@contextmanager
def general_log(maria, path):
    """The server's general log into path for the duration (reset after)."""
    maria.sql(f"SET GLOBAL log_output = 'FILE'; SET GLOBAL general_log_file = '{path}'; "
              "SET GLOBAL general_log = ON;")
    try:
        yield path
    finally:
        maria.sql("SET GLOBAL general_log = OFF;")


def parse_general_log(path, user="app"):
    """{thread id: [(command, argument)]} for the threads that connected as
    user; multi-line arguments joined back."""
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        m = _GL_RE.match(line)
        if m:
            entries.append([int(m.group("id")), m.group("cmd"), m.group("arg")])
        elif entries:
            entries[-1][2] += "\n" + line
    threads = {tid for tid, cmd, arg in entries
               if cmd == "Connect" and arg.startswith(f"{user}@")}
    out = collections.defaultdict(list)
    for tid, cmd, arg in entries:
        if tid in threads:
            out[tid].append((cmd, arg))
    return out


def server_statements(log):
    """Normalized Query / Execute texts, and the Prepare texts seen."""
    ran, prepared = [], set()
    for entries in log.values():
        for cmd, arg in entries:
            if cmd in ("Query", "Execute"):
                # the proxy's own catalog look-ups (my_routines.h) are not
                # the client's statements and are not audited
                if "/* sqlbastion:internal */" in arg:
                    continue
                ran.append(norm(arg))
            elif cmd == "Prepare":
                prepared.add(norm(arg))
    return ran, prepared


_ESC = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\0": "\\0",
        "\x1a": "\\Z"}


def render(sql, params):
    """The prepared text with params substituted as the general log shows
    them (MariaDB sql_prepare.cc: insert_params_with_log)."""
    if not params:
        return sql
    it = iter(params)

    def one(_):
        v = next(it)
        if v is None:
            return "NULL"
        if isinstance(v, bool):
            return str(int(v))
        if isinstance(v, (int, float)):
            return str(v)
        return "'" + "".join(_ESC.get(ch, ch) for ch in str(v)) + "'"
    return re.sub(r"\?", one, sql)


def template_regex(sql):
    return re.compile("^" + re.escape(norm(sql)).replace(r"\?", ".+?") + "$", re.S)


def test_audit_ground_truth_mysql(my_ready, maria, tmp_path):
    if not shutil.which("sysbench"):
        pytest.skip("sysbench not installed")
    b = my_ready
    needs_lexer(b)
    import pymysql

    # sysbench tables made directly on the server, before the log window.
    sb_common = ["--db-driver=mysql", "--mysql-db=appdb", "--mysql-ssl=off", "--tables=2",
                 "--table-size=1000"]
    drop = "DROP TABLE IF EXISTS appdb.sbtest1, appdb.sbtest2"
    maria.sql(drop)
    run(["sysbench", "oltp_read_only", *sb_common, f"--mysql-host={maria.host}",
         f"--mysql-port={maria.port}", "--mysql-user=app",
         f"--mysql-password={maria.passwords['app']}", "prepare"], timeout=300)
    src = tmp_path / "prog.c"
    src.write_text(CONNECTOR_C)
    flags = run(["pkg-config", "--cflags", "--libs", "libmariadb"]).stdout.split()
    run(["cc", "-o", tmp_path / "prog", src, *flags])

    log_path = maria.base / f"general-{os.getpid()}-{time.monotonic_ns()}.log"
    seq0 = last_seq(b)
    with general_log(maria, log_path):
        # sysbench: binary prepared statements (and BEGIN/COMMIT), ~5 s.
        r = run(["sysbench", "oltp_read_only", *sb_common, f"--mysql-host={b.host}",
                 f"--mysql-port={b.mysql_port}", "--mysql-user=alice",
                 f"--mysql-password={b.token}", "--db-ps-mode=auto", "--threads=2",
                 "--time=5", "--report-interval=0", "run"], timeout=120)
        assert "ignored errors:                      0" in r.stdout, r.stdout
        # pymysql: text statements, client-side parameters, denied ones.
        c = b.pymysql()
        cur = c.cursor()
        cur.execute("SELECT owner FROM accounts WHERE id = %s", (2,))
        cur.execute("SELECT owner, balance\n  FROM accounts\n WHERE owner = %s", ("it's",))
        cur.execute("SELECT count(*) FROM sbtest1 WHERE k > %s", (10,))
        for sql in ("DROP TABLE sbtest2", "TRUNCATE sbtest1"):
            with pytest.raises(pymysql.err.OperationalError) as ei:
                cur.execute(sql)
            assert ei.value.args[0] == 1227
        cur.execute("SELECT 'after the denied ones'")
        c.close()
        # Connector/C: server-side prepared, a quoted string parameter, a
        # denied prepare.
        env = dict(os.environ, MYSQL_PWD=b.token)
        p = subprocess.run([tmp_path / "prog", b.host, str(b.mysql_port), "alice", "appdb"],
                           env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and "row: bob" in p.stdout, p.stdout + p.stderr
        time.sleep(1.0)  # sessions end; the server's log lines are written
    log = parse_general_log(log_path)
    server, prepared = server_statements(log)
    try:
        log_path.unlink()
    except OSError:
        pass
    maria.sql(drop)

    recs = [x for x in b.audit_records("query") if x["seq"] > seq0]
    allowed = [x for x in recs if x.get("decision") in ("allow", "alert")]
    denied = [x for x in recs if x.get("decision") not in ("allow", "alert")]
    assert len(log) >= 4, f"expected sysbench, pymysql and C sessions in the log: {len(log)}"
    assert len(allowed) >= 500, len(allowed)
    assert any(x.get("params") for x in allowed), "no prepared executions audited"

    # 1. Rendered texts, as multisets.
    audited = collections.Counter(norm(render(x["statement"], x.get("params"))) for x in allowed)
    logged = collections.Counter(server)
    missing = logged - audited
    extra = audited - logged
    assert not missing, f"server ran statements with no audit record: {list(missing.items())[:5]}"
    assert not extra, f"allowed audit records the server never ran: {list(extra.items())[:5]}"

    # 2. Executions per prepared statement, values aside.
    templates = {norm(x["statement"]) for x in allowed if "params" in x}
    assert templates and templates <= prepared, templates - prepared
    for t in templates:
        rx = template_regex(t)
        n_server = sum(1 for s in server if rx.match(s))
        n_audit = sum(1 for x in allowed if norm(x["statement"]) == t and "params" in x)
        # another template may match the same text only if it is the same shape
        assert n_server >= n_audit, (t, n_server, n_audit)
    execs = [a for entries in log.values() for cmd, a in entries if cmd == "Execute"]
    assert len(execs) == sum(1 for x in allowed if "params" in x)

    print(f"\nMySQL ground truth: {len(server)} server statements ({len(execs)} executions of "
          f"{len(templates)} prepared statements) in {len(log)} connections = "
          f"{len(allowed)} allowed audit records; {len(denied)} denied, none on the server")

    # 3. Denied ones never reached the server.
    deny_texts = sorted(norm(x["statement"]) for x in denied)
    assert deny_texts == sorted(["DROP TABLE sbtest2", "TRUNCATE sbtest1",
                                 "DROP TABLE accounts"]), deny_texts
    for t in deny_texts:
        assert t not in logged
    assert verify(b).returncode == 0
