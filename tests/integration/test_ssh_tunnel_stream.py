"""1 GB through the SSH tunnel with the proxy's memory watched (issue 14).

psql runs `COPY (generated rows) TO STDOUT` through `ssh -N -L` and the
proxy: the bytes cross the backend socket, the PostgreSQL relay, the
socketpair to the SSH thread, libssh's channel (its window is the
backpressure) and OpenSSH. The proxy's RSS is sampled while they flow and
must stay flat: no stage may buffer what the next one has not taken. The
client counts what it got (the server's own count: COPY's row total).
The same stream on the direct port and the measurements of throughput,
per-channel memory and login cost live in tests/bench/ssh_bench.py.
"""

import os
import subprocess
import threading
import time

from bastion import LOCALHOST, client_env
from test_ssh_entry import Tunnel

# ASan keeps freed memory in quarantine, so RSS says nothing under SAN=1
# (and everything is several times slower): a quarter, memory not judged.
SAN = os.environ.get("SQLBASTION_SAN") == "1"
GB = 1 << 30
ROW = 1000                       # bytes of text per row, plus its newline
ROWS = (GB // 4 if SAN else GB) // (ROW + 1) + 1
RSS_GROWTH_MAX_KB = 64 * 1024


def test_one_gigabyte_copy_through_tunnel_keeps_rss_flat(bastion_factory, pg):
    b = bastion_factory(listeners=("postgres", "ssh"))
    b.pg_ready(pg)
    t = Tunnel(b, "alice", b.token, "demo-pg", pg.port)
    try:
        assert t.wait_ready(), t.stderr()
        info = f"host={LOCALHOST} port={t.local} user=app dbname=appdb sslmode=disable"
        sql = (f"COPY (SELECT repeat('x', {ROW}) FROM generate_series(1, {ROWS})) "
               "TO STDOUT")
        # warm up: one session through the tunnel, then the baseline
        warm = subprocess.run(["psql", "-X", "-At", info, "-c", "SELECT 1"],
                              capture_output=True, text=True, env=client_env(), timeout=30)
        assert warm.returncode == 0, warm.stderr
        rss0 = b.rss_kb()
        peak = [rss0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], b.rss_kb())
                time.sleep(0.1)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t0 = time.monotonic()
        p = subprocess.Popen(["psql", "-X", "-At", info, "-c", sql], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=client_env())
        got = 0
        while True:
            chunk = p.stdout.read(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        err = p.stderr.read().decode(errors="replace")
        rc = p.wait(timeout=60)
        elapsed = time.monotonic() - t0
        done.set()
        th.join()
        assert rc == 0, err
        assert got == ROWS * (ROW + 1), got
        grown = peak[0] - rss0
        print(f"\n1 GiB through the tunnel: {got / elapsed / 1e6:.0f} MB/s, "
              f"{elapsed:.1f} s, proxy RSS {rss0} kB -> peak {peak[0]} kB (+{grown} kB)")
        assert SAN or grown < RSS_GROWTH_MAX_KB, f"proxy RSS grew by {grown} kB streaming 1 GiB"
        rec = b.wait_audit("query_end", where=lambda r: r.get("entry") == "ssh" and
                           r.get("rows") == ROWS)
        assert rec
    finally:
        t.close()
