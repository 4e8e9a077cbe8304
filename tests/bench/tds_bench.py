"""TDS workload through sqlbastion vs direct to the TDS test backend, same run.

    cd <repo> && SQLBASTION_BIN=$PWD/bin /usr/bin/python3 tests/bench/tds_bench.py [--n 2000]

pytds runs N `select 1` round trips, N sp_executesql calls with a
parameter, and one 10 000-row fetch, first straight to the backend, then
through the proxy (encryption off both ways; the backend is the Python
test server, so the figures measure the proxy's added latency against a
slow server, not SQL Server's speed)."""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import pytds  # noqa: E402
from bastion import Bastion  # noqa: E402
from tds_backend import TdsBackend  # noqa: E402


def workload(connect, n):
    out = {}
    with connect() as c:
        cur = c.cursor()
        t = time.perf_counter()
        for _ in range(n):
            cur.execute("select 1")
            cur.fetchall()
        out["select 1 (us/query)"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        for i in range(n):
            cur.execute("select %s", (i,))
            cur.fetchall()
        out["sp_executesql (us/query)"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        cur.execute("exec sb_rows 10000")
        rows = len(cur.fetchall())
        assert rows == 10000
        out["10k rows (ms)"] = (time.perf_counter() - t) * 1e3
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tds-bench-"))
    be = TdsBackend(tmp / "backend", encryption="notsup").start()
    policy = tmp / "policy.rules"
    policy.write_text("allow bench-procs regex=/^EXEC(UTE)? sb_/i\n")
    b = Bastion(tmp / "bastion", listeners=("tds",), policy=policy)
    try:
        b.add_user("alice")
        b.add_asset("sql1", host=be.host, port=be.port, protocol="tds",
                    extra=("--allow-weak-auth", "yes"))
        b.add_account("sql1/app", username="sa_app", password="pw")
        b.grant("alice", "sql1/app", "write")
        token = b.issue_token("alice", "sql1/app")
        b.start()
        direct = workload(lambda: pytds.connect(server=be.host, port=be.port, user="sa_app",
                                                password="pw", autocommit=True), args.n)
        proxied = workload(lambda: pytds.connect(server="127.0.0.1", port=b.ports["tds"],
                                                 user="alice", password=token,
                                                 autocommit=True), args.n)
        print(f"{'workload':28} {'direct':>10} {'proxy':>10} {'added':>10} {'proxy/direct':>13}")
        for k in direct:
            print(f"{k:28} {direct[k]:10.1f} {proxied[k]:10.1f} {proxied[k] - direct[k]:10.1f}"
                  f" {proxied[k] / direct[k]:12.2f}x")
    finally:
        b.close()
        be.stop()


if __name__ == "__main__":
    main()
