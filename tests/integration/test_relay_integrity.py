"""Every byte a server sends reaches the client intact and in order, on both
frontends, plain and TLS, with a fast reader and with one that stalls.

The relay writes to a socket straight from the read callback when it can
(session.c write_now) and falls back to the event loop's write event when
the socket is full; a stalling reader forces that fallback and the
backpressure pause in the middle of a result, TLS adds the filter in
between. The client's output is compared with the rows computed here."""

import hashlib
import os
import subprocess
import time

import pytest

from audit_helpers import PGBENCH
from bastion import client_env

ROWS = 200_000


def expected_digest():
    """sha256 of "i<TAB>md5(i)\\n" for i = 1..ROWS, the rows both servers
    produce below."""
    h = hashlib.sha256()
    for i in range(1, ROWS + 1):
        s = str(i)
        h.update(f"{s}\t{hashlib.md5(s.encode()).hexdigest()}\n".encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def digest():
    return expected_digest()


def read_all(argv, env, stall):
    """Run argv and hash its stdout. With stall, stop reading for 150 ms
    after every MiB, long enough for the loopback socket buffers to fill and
    the proxy to pause the server side."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    h, total, next_stall = hashlib.sha256(), 0, 1 << 20
    while True:
        chunk = p.stdout.read(64 << 10)
        if not chunk:
            break
        h.update(chunk)
        total += len(chunk)
        if stall and total >= next_stall:
            time.sleep(0.15)
            next_stall += 1 << 20
    err = p.stderr.read().decode(errors="replace")
    p.wait(timeout=120)
    assert p.returncode == 0, err
    return h.hexdigest(), total


@pytest.mark.parametrize("sslmode", ["disable", "require"])
@pytest.mark.parametrize("stall", [False, True], ids=["fast-reader", "stalling-reader"])
def test_pg_stream_intact(pg_ready, digest, sslmode, stall):
    b = pg_ready
    sql = (f"COPY (SELECT i, md5(i::text) FROM generate_series(1, {ROWS}) i) TO STDOUT")
    env = client_env({"PGPASSWORD": b.token, "PGSSLMODE": sslmode})
    argv = ["psql", "-X", "-q", "-h", b.host, "-p", str(b.port), "-U", b.user,
            "-d", "appdb", "-c", sql]
    got, total = read_all(argv, env, stall)
    assert total > 7_000_000
    assert got == digest
    # The session's statement was audited with its row count.
    b.wait_audit("query_end", where=lambda e: e.get("rows") == ROWS)


@pytest.mark.parametrize("ssl", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("stall", [False, True], ids=["fast-reader", "stalling-reader"])
def test_mysql_stream_intact(my_ready, digest, ssl, stall):
    b = my_ready
    env = client_env({"MYSQL_PWD": b.token})
    argv = ["mariadb", "--no-defaults", "-h", b.host, "-P", str(b.mysql_port), "-u", b.user,
            "--batch", "--skip-column-names", "--quick", "--ssl" if ssl else "--skip-ssl",
            "-e", f"SELECT seq, md5(seq) FROM seq_1_to_{ROWS}", "appdb"]
    got, total = read_all(argv, env, stall)
    assert total > 7_000_000
    assert got == digest
    b.wait_audit("query_end", where=lambda e: e.get("rows") == ROWS)


def test_pg_many_small_round_trips_in_order(pg_ready):
    """Thousands of short statements on one connection, each answered
    before the next is sent: the shape pgbench and OLTP apps have. Every
    answer must be the one for its own statement."""
    b = pg_ready
    conn = b.connect()
    cur = conn.cursor()
    for i in range(3000):
        cur.execute("SELECT %s::int * 2", (i,))
        assert cur.fetchone()[0] == i * 2
    # Pipelined: one simple-query message holding many statements.
    script = ";".join(f"SELECT {i}" for i in range(500))
    r = b.psql(script)
    assert r.returncode == 0, r.stderr
    assert [int(x) for x in r.stdout.split()] == list(range(500))


@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_pg_copy_in_large_intact(pg_ready, pg, tmp_path, sslmode):
    """20 MB into the server: the client outruns the server, so the proxy
    pauses the client while the server side's output drains, and must
    resume it every time (a missed resume hangs the COPY)."""
    b = pg_ready
    pg.sql("CREATE TABLE IF NOT EXISTS bulk_in (id int, pad text);"
           " ALTER TABLE bulk_in OWNER TO app; TRUNCATE bulk_in;", dbname="appdb")
    src = tmp_path / "bulk.tsv"
    pad = "y" * 200
    with open(src, "w") as f:
        for i in range(100_000):
            f.write(f"{i}\t{pad}\n")
    r = b.psql(f"\\copy bulk_in FROM '{src}'", sslmode=sslmode, timeout=120)
    assert r.returncode == 0, r.stderr
    got = pg.sql("SELECT count(*), sum(id), min(length(pad)) FROM bulk_in", dbname="appdb")
    assert got.split() == ["100000|4999950000|200"], got


def test_pg_pipeline_both_directions_busy(pg_ready, tmp_path):
    """libpq pipeline mode (pgbench \\startpipeline): the client keeps
    sending 100 KB statements while the server answers the earlier ones, so
    the proxy pauses the client on a full server socket and then drains that
    socket from a server-read callback. The pause must be lifted there too
    (a missed resume hangs the run)."""
    b = pg_ready
    big = "x" * 100_000
    script = tmp_path / "pipeline.sql"
    script.write_text("\\startpipeline\n"
                      + f"SELECT length('{big}');\n" * 60
                      + "\\endpipeline\n")
    env = client_env({"PGPASSWORD": b.token, "PGSSLMODE": "disable"})
    r = subprocess.run([PGBENCH, "-n", "-M", "extended", "-c", "2", "-t", "5", "-f", str(script),
                        "-h", b.host, "-p", str(b.port), "-U", b.user, "appdb"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "number of transactions actually processed: 10/10" in r.stdout, r.stdout
