#!/usr/bin/python3
"""Oracle (TNS) relay through sqlbastion vs direct to the TNS test backend, same run.

    cd <repo> && SQLBASTION_BIN=$PWD/bin /usr/bin/python3 tests/bench/tns_bench.py [--n 1000] [--rows 20000]

python-oracledb (Thin mode) runs N `SELECT 1 FROM dual` round trips, N
re-executions of one bound SELECT (a cursor re-execute: binds only, no SQL
text), and one fetch of ROWS rows of 1000 bytes (arraysize 1000), first
straight to the test backend (tests/tns_backend, Python on SQLite), then
through the proxy's tns listener with the token as the service name and a
not-hosted account. The backend is a slow Python server: the figures are the
proxy's added latency and relay cost against it, not Oracle's speed.
Results: a table on stdout (direct, proxy, proxy/direct)."""
import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import oracledb  # noqa: E402
from bastion import Bastion  # noqa: E402
from tns_backend import TnsBackend  # noqa: E402

ROW = 1000


def workload(connect, n, rows):
    out = {}
    with connect() as c:
        cur = c.cursor()
        t = time.perf_counter()
        for _ in range(n):
            cur.execute("SELECT 1 FROM dual")
            cur.fetchall()
        out["select 1 (us/query)"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        for i in range(n):
            cur.execute("SELECT id FROM blob_rows WHERE id = :1", [i % rows])
            cur.fetchall()
        out["bound re-execute (us/query)"] = (time.perf_counter() - t) / n * 1e6
        cur.arraysize = 1000
        t = time.perf_counter()
        cur.execute("SELECT id, pad FROM blob_rows")
        got = cur.fetchall()
        dt = time.perf_counter() - t
        assert len(got) == rows, len(got)
        out[f"fetch {rows} x 1000 B (MB/s)"] = rows * ROW / dt / 1e6
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=20000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tns-bench-"))
    be = TnsBackend(tmp / "backend", service="BENCHPDB", accounts={"scott": "tiger"})
    db = sqlite3.connect(be.db_path)
    db.execute("CREATE TABLE blob_rows (id NUMBER PRIMARY KEY, pad VARCHAR2(1000))")
    db.executemany("INSERT INTO blob_rows VALUES (?, ?)",
                   ((i, ("%08d" % i) * (ROW // 8)) for i in range(args.rows)))
    db.commit()
    db.close()
    be.start()
    b = Bastion(tmp / "bastion", listeners=("tns",))   # the guard policy
    try:
        b.add_user("alice")
        b.add_asset("ora", host=be.host, port=be.port, protocol="tns", service=be.service)
        b.add_account("ora/scott", username="scott", not_hosted=True)
        b.grant("alice", "ora/scott", "write")
        token = b.issue_token("alice", "ora/scott")
        b.start()
        direct = workload(lambda: oracledb.connect(user="scott", password="tiger",
                                                   dsn=be.dsn()), args.n, args.rows)
        proxied = workload(lambda: oracledb.connect(
            user="scott", password="tiger",
            dsn=f"127.0.0.1:{b.ports['tns']}/{token}"), args.n, args.rows)
        print(f"{'workload':32} {'direct':>10} {'proxy':>10} {'proxy/direct':>13}")
        for k in direct:
            print(f"{k:32} {direct[k]:10.1f} {proxied[k]:10.1f} {proxied[k] / direct[k]:12.2f}x")
    finally:
        b.close()
        be.stop()


if __name__ == "__main__":
    main()
