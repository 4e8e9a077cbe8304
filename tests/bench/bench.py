#!/usr/bin/python3
"""sqlbastion benchmarks: the proxy against direct, HAProxy (TCP) and PgBouncer.

Run through `make bench` (tests/bench/run.sh installs the tools, compiles the
C helpers and calls this file). Everything runs on 127.0.0.1 in temporary
directories and is stopped on exit, on error and on Ctrl-C.

    /usr/bin/python3 tests/bench/bench.py --help

What it measures (tests/bench/README.md explains how to read the output)
  pgbench      -S, 8 clients, -M simple/extended/prepared, and -S -C (a new
               connection per transaction): TPS, and the proxy's CPU time per
               transaction from /proc/PID/stat during the same run.
  cpu          proxy CPU µs per query over a fixed number of queries.
  features     sqlbastion with guard.rules vs an empty rule file, audit to
               disk vs tmpfs vs off (a separate -DSB_BENCH_NO_AUDIT build).
  idle         proxy RSS per idle logged-in session (2,000 and 10,000).
  stream       proxy RSS growth while one client streams ~1 GB.
  sysbench     MariaDB oltp_point_select / oltp_read_only (ps-mode auto and
               disable): direct, HAProxy, and sqlbastion once its MySQL
               frontend exists.
  classify     ns (thread CPU time) and MB/s per policy_evaluate()
               (tests/bench/bench_classify.c), up to 16 MiB INSERTs.
  tds          tests/bench/tds_bench.py: pytds round trips, sp_executesql and
               a 10k-row fetch through the tds listener vs straight to the
               TDS test backend (tests/tds_backend), same run.
  tns          tests/bench/tns_bench.py: python-oracledb Thin round trips,
               bound re-executes and a bulk fetch (relay MB/s) through the
               tns listener vs straight to the TNS test backend, same run.
  ssh          tests/bench/ssh_bench.py: COPY through ssh -N -L + the proxy
               vs the direct port vs PostgreSQL, SSH login cost, memory
               per tunnel channel.
  profile      sqlbastion under valgrind --tool=callgrind for a fixed
               pgbench -S run; top functions by inclusive instruction count.

Comparisons are interleaved: every round runs each setup once, in an order
rotated by one each round, and the table shows the median of the rounds, so
slow drift of the shared 2-core machine hits every column alike.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import bastion as bx  # noqa: E402  (fixture module owned by the integration tests)
from bastion import Bastion, PgCluster, client_env, conninfo, free_port, port_listening  # noqa: E402

GUARD = REPO / "etc" / "policies" / "guard.rules"
PG_BIN = bx.PG_BIN
SETUPS = ("direct", "haproxy", "pgbouncer", "sqlbastion")
PROXIES = ("haproxy", "pgbouncer", "sqlbastion")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# /proc readings


def proc_cpu_s(pid):
    """utime+stime of the whole process (all threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime is field 14, stime 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every interval seconds until stop()."""

    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = proc_rss_kb(pid)
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                self.peak = max(self.peak, proc_rss_kb(self.pid))
            except (OSError, RuntimeError):
                return
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()
        return self.peak


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# --------------------------------------------------------------------------
# processes we start (HAProxy, PgBouncer, MariaDB): always stopped


class Daemon:
    """A foreground server process in its own process group. stop() ends
    exactly this process (SIGTERM, then SIGKILL of its group)."""

    live = []

    def __init__(self, name, argv, *, cwd, log_path, user=None, port=None, env=None):
        self.name, self.argv, self.port = name, [str(a) for a in argv], port
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "ab")
        kw = {}
        if user:
            kw.update(user=user, group=user)
        self.proc = subprocess.Popen(self.argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env, **kw)
        Daemon.live.append(self)
        if port:
            self.wait_port(port)

    @property
    def pid(self):
        return self.proc.pid

    def wait_port(self, port, timeout=30):
        deadline = time.monotonic() + timeout
        while not port_listening("127.0.0.1", port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n"
                                   f"{self.log_path.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} not listening on {port}:\n"
                                   f"{self.log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        if self in Daemon.live:
            Daemon.live.remove(self)

    @classmethod
    def stop_all(cls):
        for d in list(reversed(cls.live)):
            try:
                d.stop(timeout=5)
            except Exception:  # noqa: BLE001
                pass


def haproxy_start(workdir, name, target_port, maxconn=1000):
    """HAProxy 2.6, TCP mode, one backend server, in the foreground (-db)."""
    port = free_port()
    cfg = Path(workdir) / f"{name}.cfg"
    cfg.write_text(f"""global
    maxconn {maxconn}
defaults
    mode tcp
    timeout connect 10s
    timeout client 1h
    timeout server 1h
listen {name}
    bind 127.0.0.1:{port}
    maxconn {maxconn}
    server s1 127.0.0.1:{target_port} maxconn {maxconn}
""")
    return Daemon(name, ["haproxy", "-db", "-f", cfg], cwd=workdir,
                  log_path=Path(workdir) / f"{name}.log", port=port)


def pgbouncer_start(workdir, name, pg, *, pool_mode, auth_type, userlist, pool_size,
                    max_clients=1000):
    """PgBouncer 1.18 in the foreground as the postgres user (it refuses root)."""
    d = Path(workdir) / name
    d.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (d / "userlist.txt").write_text(userlist)
    os.chmod(d / "userlist.txt", 0o600)
    (d / "pgbouncer.ini").write_text(f"""[databases]
appdb = host=127.0.0.1 port={pg.port} dbname=appdb
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = {auth_type}
auth_file = {d / 'userlist.txt'}
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = {max_clients}
max_db_connections = 0
logfile = {d / 'pgbouncer.log'}
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
""")
    bx._chown_tree(d)
    return Daemon(name, ["pgbouncer", d / "pgbouncer.ini"], cwd=d,
                  log_path=d / "stderr.log", user="postgres" if bx.IS_ROOT else None,
                  port=port)


# --------------------------------------------------------------------------
# endpoints: how a client reaches the database through each setup


class Endpoint:
    def __init__(self, name, host, port, user, password, pid=None, dbname="appdb"):
        self.name, self.host, self.port = name, host, port
        self.user, self.password, self.pid, self.dbname = user, password, pid, dbname

    def env(self):
        # Plaintext everywhere: libpq's default sslmode=prefer would negotiate
        # TLS with PostgreSQL (direct, through HAProxy) and with sqlbastion
        # but not with PgBouncer (no client TLS configured), mixing TLS and
        # plaintext columns.
        extra = {"PGSSLMODE": "disable"}
        if self.password:
            extra["PGPASSWORD"] = self.password
        return client_env(extra)

    def dsn(self):
        return conninfo(host=self.host, port=self.port, user=self.user,
                        dbname=self.dbname, sslmode="disable", gssencmode="disable",
                        connect_timeout=60)


def bastion_start(workdir, pg, backend=None, *, policy=GUARD, audit=None, name="sb",
                  listeners=("postgres",), bin_dir=None):
    """A sqlbastion instance (the integration fixture) for pg, its asset
    pointing at backend (host, port) or at pg itself. audit overrides the
    [audit] section; bin_dir picks another build (the no-audit bench build).
    Returns (bastion, endpoint)."""
    # The flood phase sends hundreds of failed logins a second from
    # 127.0.0.1, where every client of the bench runs: the per-source
    # lockout (default 50 failures) would then lock the bench's own
    # clients out of this instance for the flood and every later phase. The
    # idle phase opens thousands of connections at once from that address,
    # past the per-source cap on sessions not yet logged in (default 32).
    conf = {"limits": {"lockout_source_failures": 0, "max_unauthenticated_per_source": 0}}
    if audit:
        conf["audit"] = audit
    b = Bastion(Path(workdir) / name, policy=policy, conf=conf, listeners=listeners,
                bin_dir=bin_dir)
    if backend is None:
        tok = b.pg_ready(pg)
    else:
        b.add_user("alice")
        # The idle phase's backend is a PgBouncer with trust auth: the
        # proxy logs in to a server that asks no password only when the
        # asset allows weak authentication.
        b.add_asset("demo-pg", host=backend[0], port=backend[1], tls="disable",
                    extra=("--allow-weak-auth", "yes"))
        b.add_account("demo-pg/app", username="app", password=pg.passwords["app"])
        b.grant("alice", "demo-pg/app", "write")
        tok = b.issue_token("alice", "demo-pg/app")
        b.start()
    return b, Endpoint("sqlbastion", b.host, b.port, "alice", tok, pid=b.pid)


# --------------------------------------------------------------------------
# pgbench


def pgbench(ep, *, mode="simple", clients=8, threads=2, duration=None, transactions=None,
            connect=False, extra=()):
    argv = ["pgbench", "-n", "-S", "-c", clients, "-j", threads, "-M", mode,
            "-h", ep.host, "-p", ep.port, "-U", ep.user]
    if duration:
        argv += ["-T", duration]
    else:
        argv += ["-t", transactions]
    if connect:
        argv.append("-C")
    argv += list(extra) + [ep.dbname]
    cpu0 = proc_cpu_s(ep.pid) if ep.pid else None
    t0 = time.monotonic()
    r = bx.run(argv, env=ep.env(), check=False, timeout=(duration or 0) + 900)
    wall = time.monotonic() - t0
    cpu1 = proc_cpu_s(ep.pid) if ep.pid else None
    out = r.stdout
    tps = re.search(r"^tps = ([\d.]+)", out, re.M)
    txn = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    res = {"rc": r.returncode, "tps": float(tps.group(1)) if tps else None,
           "transactions": int(txn.group(1)) if txn else None,
           "failed": int(failed.group(1)) if failed else None, "wall_s": round(wall, 3)}
    if cpu0 is not None and res["transactions"]:
        res["proxy_cpu_s"] = round(cpu1 - cpu0, 3)
        res["proxy_cpu_us_per_txn"] = round((cpu1 - cpu0) * 1e6 / res["transactions"], 2)
    if r.returncode != 0 or not tps:
        res["error"] = (r.stderr or out)[-600:]
    return res


def strace_counts(text):
    """{syscall: calls} from `strace -c` output (the summary table)."""
    calls = {}
    for line in text.splitlines():
        f = line.split()
        # % time, seconds, usecs/call, calls, [errors,] syscall
        if len(f) in (5, 6) and f[-1] != "total" and f[3].isdigit():
            calls[f[-1]] = int(f[3])
    return calls


def rotations(names, rounds):
    names = list(names)
    for r in range(rounds):
        k = r % len(names)
        yield r, names[k:] + names[:k]


# --------------------------------------------------------------------------
# the benchmark


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = Path(tempfile.mkdtemp(prefix="sbb-"))
        os.chmod(self.work, 0o755)
        self.runs = []          # every single measurement, for the JSON file
        self.results = {}       # summary tables
        self.notes = []         # explanations printed under the table
        self.pg = None
        self.eps = {}
        self.bastions = []

    # ---- helpers ----

    def record(self, phase, **kw):
        kw = {"phase": phase, **kw}
        self.runs.append(kw)
        return kw

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def new_bastion(self, *args, **kw):
        b, ep = bastion_start(self.work, *args, **kw)
        self.bastions.append(b)
        return b, ep

    def close_bastion(self, b):
        if b in self.bastions:
            self.bastions.remove(b)
        problems = b.close()
        if problems:
            self.note(f"sqlbastion {b.dir.name}: " + "; ".join(problems))

    # ---- setup ----

    def setup_pg(self):
        log("starting PostgreSQL 15 and initializing pgbench tables")
        self.pg = pg = PgCluster.create(self.work / "pg")
        # room for 8 clients x 4 setups, PgBouncer pools and -C churn
        pg.sql("ALTER SYSTEM SET max_connections = 300;")
        pg.stop()
        pg.start()
        env = client_env({"PGPASSWORD": pg.passwords["app"]})
        bx.run(["pgbench", "-i", "-q", "-s", self.a.scale, "-h", pg.host, "-p", pg.port,
                "-U", "app", "appdb"], env=env, timeout=900)
        pg.sql("VACUUM ANALYZE;", dbname="appdb")
        self.eps["direct"] = Endpoint("direct", pg.host, pg.port, "app", pg.passwords["app"])

        verifier = pg.sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'app';").strip()
        self.scram_userlist = f'"app" "{verifier}"\n'
        self.plain_userlist = f'"app" "{pg.passwords["app"]}"\n'

        if set(self.a.phases.split(",")) <= {"flood", "classify"}:
            # The flood phase alone needs only the proxy (no HAProxy/PgBouncer).
            _, self.eps["sqlbastion"] = self.new_bastion(pg, name="sb-guard")
            return
        h = haproxy_start(self.work, "haproxy", pg.port, maxconn=2000)
        self.eps["haproxy"] = Endpoint("haproxy", "127.0.0.1", h.port, "app",
                                       pg.passwords["app"], pid=h.pid)
        # Session pooling, SCRAM with the server's own verifier in auth_file:
        # the client's PBKDF2 work is the same as for a direct login.
        b = pgbouncer_start(self.work, "pgbouncer", pg, pool_mode="session",
                            auth_type="scram-sha-256", userlist=self.scram_userlist,
                            pool_size=40)
        self.eps["pgbouncer"] = Endpoint("pgbouncer", "127.0.0.1", b.port, "app",
                                         pg.passwords["app"], pid=b.pid)
        _, self.eps["sqlbastion"] = self.new_bastion(pg, name="sb-guard")
        for name, ep in self.eps.items():
            r = bx.run_psql("SELECT count(*) FROM pgbench_branches", dict(
                host=ep.host, port=ep.port, user=ep.user, dbname="appdb",
                sslmode="disable"), password=ep.password)
            if r.returncode != 0:
                raise RuntimeError(f"{name}: cannot query: {r.stderr}")
        self.note("Login methods compared like with like: every client login is "
                  "SCRAM-SHA-256 with 4096 PBKDF2 iterations (direct and HAProxy: "
                  "PostgreSQL's verifier for role app; PgBouncer: the same verifier "
                  "copied from pg_authid into its auth_file; sqlbastion: the O&M "
                  "token's SCRAM verifier, 4096 iterations), so the client's PBKDF2 "
                  "cost is identical in every column of -C.")

    # ---- pgbench TPS ----

    def phase_pgbench(self):
        workloads = [("pgbench -S simple", dict(mode="simple")),
                     ("pgbench -S extended", dict(mode="extended")),
                     ("pgbench -S prepared", dict(mode="prepared")),
                     ("pgbench -S -C simple", dict(mode="simple", connect=True))]
        for wl, kw in workloads:
            vals = {s: [] for s in SETUPS}
            cpus = {s: [] for s in SETUPS}
            dur = self.a.duration if not kw.get("connect") else self.a.duration
            for rnd, order in rotations(SETUPS, self.a.rounds):
                for s in order:
                    res = pgbench(self.eps[s], duration=dur, **kw)
                    self.record("pgbench", workload=wl, setup=s, round=rnd,
                                order=order, **res)
                    log(f"{wl:24s} round {rnd} {s:10s} tps={res['tps']} "
                        f"cpu/txn={res.get('proxy_cpu_us_per_txn')}")
                    vals[s].append(res["tps"])
                    cpus[s].append(res.get("proxy_cpu_us_per_txn"))
            self.results.setdefault("tps", {})[wl] = {s: median(v) for s, v in vals.items()}
            self.results.setdefault("tps_cpu", {})[wl] = {s: median(v) for s, v in cpus.items()}
        self.note("pgbench -S -C against PgBouncer in session mode reuses its pooled "
                  "server connections (DISCARD ALL between clients), so it pays no "
                  "PostgreSQL backend start; direct, HAProxy and sqlbastion do "
                  "(sqlbastion opens one backend connection per session and logs in "
                  "with the hosted account's SCRAM password).")

    # ---- bad-login flood (issue 10 class 6) ----

    def phase_flood(self):
        """pgbench -S through sqlbastion, quiet and then while a helper
        process runs a few hundred failed SCRAM logins a second against the
        same proxy, interleaved: the logged-in throughput must stay within
        10% of quiet."""
        ep = self.eps["sqlbastion"]
        rate, dur = self.a.flood_rate, self.a.duration
        quiet, flood, floods = [], [], []
        for rnd in range(self.a.rounds):
            res = pgbench(ep, duration=dur, clients=4, threads=1)
            self.record("flood", workload="quiet", round=rnd, **res)
            quiet.append(res["tps"])
            helper = subprocess.Popen(
                [sys.executable, str(HERE / "login_flood.py"), ep.host, str(ep.port),
                 str(rate), str(dur + 2)], stdout=subprocess.PIPE, text=True)
            time.sleep(1)
            res = pgbench(ep, duration=dur, clients=4, threads=1)
            out, _ = helper.communicate(timeout=dur + 60)
            m = re.search(r"attempts=(\d+) completed=(\d+) refused=(\d+)", out or "")
            got = {k: int(v) for k, v in zip(("attempts", "completed", "refused"),
                                               m.groups())} if m else {}
            self.record("flood", workload="flood", round=rnd, flood=got, **res)
            flood.append(res["tps"])
            floods.append(got)
            log(f"flood round {rnd}: quiet tps={quiet[-1]} flood tps={flood[-1]} "
                f"bad logins={got}")
        q, f = median(quiet), median(flood)
        # Each flood run against the quiet run just before it: less exposed
        # to load drifting on a shared machine than the ratio of medians.
        pairs = [b / a for a, b in zip(quiet, flood) if a and b]
        self.results["flood"] = {"quiet_tps": q, "flood_tps": f,
                                 "ratio": round(f / q, 3) if q and f else None,
                                 "paired_ratio": round(median(pairs), 3) if pairs else None,
                                 "rate": rate, "bad_logins": floods}

    # ---- CPU per query over a fixed count ----

    def phase_cpu(self):
        n = self.a.cpu_queries
        per_client = max(1, n // 8)
        for mode in ("simple", "extended", "prepared"):
            wl = f"proxy CPU µs/query ({mode})"
            vals = {s: [] for s in PROXIES}
            for rnd, order in rotations(PROXIES, self.a.rounds):
                for s in order:
                    res = pgbench(self.eps[s], mode=mode, transactions=per_client)
                    cpu = res.get("proxy_cpu_us_per_txn")
                    self.record("cpu", workload=wl, setup=s, round=rnd, order=order,
                                queries=per_client * 8, **res)
                    log(f"{wl:32s} round {rnd} {s:10s} {cpu} µs/query")
                    vals[s].append(cpu)
            self.results.setdefault("cpu", {})[wl] = {s: median(v) for s, v in vals.items()}
        self.syscalls()

    def syscalls(self):
        """System calls per query of each proxy (strace -c on its process
        over a fixed pgbench -t run): on loopback most of a proxy's CPU is
        kernel time, so this is the count that explains the CPU column.
        strace slows the proxy down; only the counts are kept."""
        if not shutil.which("strace"):
            self.note("strace not installed: no syscalls-per-query row")
            return
        per_client = 250
        for mode in ("simple", "prepared"):
            wl = f"syscalls/query ({mode})"
            for s in PROXIES:
                ep = self.eps[s]
                out = self.work / f"strace-{s}-{mode}.txt"
                tr = subprocess.Popen(["strace", "-c", "-f", "-o", str(out), "-p", str(ep.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)  # attached
                res = pgbench(ep, mode=mode, transactions=per_client)
                tr.terminate()
                tr.wait(30)
                calls = strace_counts(out.read_text() if out.exists() else "")
                n = res.get("transactions") or 0
                if not n or not calls:
                    self.results.setdefault("syscalls", {}).setdefault(wl, {})[s] = None
                    continue
                per_q = {k: round(v / n, 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])
                         if v / n >= 0.05}
                total = round(sum(calls.values()) / n, 2)
                self.record("syscalls", workload=wl, setup=s, queries=n, per_query=per_q,
                            total=total)
                log(f"{wl:32s} {s:10s} {total} per query: {per_q}")
                self.results.setdefault("syscalls", {}).setdefault(wl, {})[s] = total

    # ---- feature cost: policy and audit ----

    def phase_features(self):
        pg = self.pg
        empty = self.work / "empty.rules"
        empty.write_text("# no rules: grant levels and fail-closed only\n")
        variants = {"guard+audit(disk)": self.eps["sqlbastion"]}
        _, variants["empty+audit(disk)"] = self.new_bastion(pg, policy=empty, name="sb-empty")
        shm = Path(tempfile.mkdtemp(prefix="sbb-audit-", dir="/dev/shm"))
        self.shm_dir = shm
        _, variants["guard+audit(tmpfs)"] = self.new_bastion(
            pg, name="sb-tmpfs", audit={"jsonl": str(shm / "audit.jsonl"), "sqlite": None})
        # "audit off": the product has no switch. run.sh builds a separate
        # binary with -DSB_BENCH_NO_AUDIT (audit_write/defer return at once)
        # only to measure what auditing costs.
        noaudit = REPO / "tests" / "bench" / "out" / "noaudit" / "bin"
        if (noaudit / "sqlbastion").exists():
            _, variants["guard+audit off (bench build)"] = self.new_bastion(
                pg, name="sb-noaudit", bin_dir=str(noaudit))
        else:
            self.note("no-audit bench build missing (run.sh builds it): no audit-off column")
        names = list(variants)
        for mode in ("simple", "prepared"):
            wl = f"pgbench -S {mode}"
            tps = {v: [] for v in names}
            cpu = {v: [] for v in names}
            for rnd, order in rotations(names, self.a.rounds):
                for v in order:
                    res = pgbench(variants[v], mode=mode, duration=self.a.duration)
                    self.record("features", workload=wl, setup=v, round=rnd, order=order, **res)
                    log(f"features {wl:20s} round {rnd} {v:24s} tps={res['tps']} "
                        f"cpu/txn={res.get('proxy_cpu_us_per_txn')}")
                    tps[v].append(res["tps"])
                    cpu[v].append(res.get("proxy_cpu_us_per_txn"))
            self.results.setdefault("features", {})[wl] = {
                v: {"tps": median(tps[v]), "cpu_us": median(cpu[v])} for v in names}
        for b in list(self.bastions):
            if b.dir.name != "sb-guard":
                self.close_bastion(b)
        shutil.rmtree(shm, ignore_errors=True)

    # ---- idle sessions ----

    def idle_clients(self, ep, n):
        """Open n idle logged-in clients through ep; returns a dict."""
        before = proc_rss_kb(ep.pid)
        p = subprocess.Popen([str(self.a.helpers / "idle_clients"), "-n", str(n), "-p", "64",
                              "-t", "900", ep.dsn()], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=ep.env(), start_new_session=True)
        try:
            line = p.stdout.readline().split(maxsplit=4)
            if not line or line[0] != "ready":
                raise RuntimeError(f"idle_clients: {p.stderr.read()[-500:]}")
            ok, failed, secs = int(line[1]), int(line[2]), float(line[3])
            err = line[4].strip() if len(line) > 4 else ""
            time.sleep(1.0)  # let the proxy finish logging in to its backends
            after = proc_rss_kb(ep.pid)
        finally:
            p.stdin.close()
            try:
                p.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        res = {"n": n, "ok": ok, "failed": failed, "login_s": secs, "rss_before_kb": before,
               "rss_after_kb": after, "first_error": err[:300]}
        if ok:
            res["kb_per_session"] = round((after - before) / ok, 2)
        time.sleep(1.0)
        return res

    def phase_idle(self):
        pg = self.pg
        hard = self.a.nofile_hard
        counts = list(self.a.idle)
        # A relaying proxy holds two descriptors per session (client + backend).
        big_cap = (hard - 200) // 2
        log(f"idle: RLIMIT_NOFILE hard limit {hard}; 2-socket proxies capped at {big_cap}")
        self.note("Idle sessions: PostgreSQL cannot hold 10,000 backends here, so for "
                  "this measurement every proxy's backend is a PgBouncer in transaction "
                  "pooling mode (pool of 10 server connections, trust auth) in front of "
                  "PostgreSQL; the PgBouncer column is such a PgBouncer with the clients "
                  "connected to it directly. sqlbastion still opens one backend "
                  "connection per session (to that PgBouncer); HAProxy likewise. Every "
                  "measurement uses freshly started processes (memory a process kept from "
                  "an earlier batch of clients would hide the cost). "
                  "Value = (RSS with N idle logged-in clients - RSS before) / N.")
        for n in counts:
            for s in PROXIES:
                cap = n if s == "pgbouncer" else min(n, big_cap)
                if cap < n:
                    self.note(f"Idle {n}: this container's RLIMIT_NOFILE hard limit is "
                              f"{hard} and cannot be raised (no CAP_SYS_RESOURCE); a "
                              f"relaying proxy needs 2 descriptors per session, so HAProxy "
                              f"and sqlbastion were measured with {cap} sessions.")
                pool = pgbouncer_start(self.work, f"pgbouncer-txn-{s}-{n}", pg,
                                       pool_mode="transaction", auth_type="trust",
                                       userlist=self.plain_userlist, pool_size=10,
                                       max_clients=n + 500)
                front = b = None
                try:
                    if s == "pgbouncer":
                        ep = Endpoint("pgbouncer", "127.0.0.1", pool.port, "app", None,
                                      pid=pool.pid)
                    elif s == "haproxy":
                        front = haproxy_start(self.work, f"haproxy-idle-{n}", pool.port,
                                              maxconn=cap + 50)
                        ep = Endpoint("haproxy", "127.0.0.1", front.port, "app", None,
                                      pid=front.pid)
                    else:
                        b, ep = self.new_bastion(pg, ("127.0.0.1", pool.port),
                                                 name=f"sb-idle-{n}")
                    res = self.idle_clients(ep, cap)
                finally:
                    if b:
                        self.close_bastion(b)
                    if front:
                        front.stop()
                    pool.stop()
                self.record("idle", workload=f"idle {n}", setup=s, **res)
                log(f"idle {n:6d} {s:10s} ok={res['ok']} failed={res['failed']} "
                    f"login {res['login_s']}s  {res.get('kb_per_session')} KiB/session "
                    f"{res['first_error'][:120]}")
                self.results.setdefault("idle", {}).setdefault(f"idle {n}", {})[s] = res

    # ---- streaming 1 GB ----

    def phase_stream(self):
        rows = self.a.stream_rows
        queries = {
            "COPY OUT": f"COPY (SELECT repeat('x',1000) FROM generate_series(1,{rows})) TO STDOUT",
            "big SELECT": f"SELECT repeat('x',1000) FROM generate_series(1,{rows})",
        }
        for qname, sql in queries.items():
            wl = f"stream {rows * 1001 / 1e9:.2f} GB {qname}"
            for s in SETUPS:
                ep = self.eps[s]
                sampler = RssSampler(ep.pid) if ep.pid else None
                before = proc_rss_kb(ep.pid) if ep.pid else None
                if sampler:
                    sampler.start()
                r = bx.run([self.a.helpers / "idle_clients", "--stream", sql, ep.dsn()],
                           env=ep.env(), check=False, timeout=1800)
                peak = sampler.stop() if sampler else None
                m = re.search(r"streamed (\d+) (\d+) ([\d.]+)", r.stdout)
                res = {"rc": r.returncode, "rss_before_kb": before, "rss_peak_kb": peak}
                if m:
                    res.update(bytes=int(m.group(1)), rows=int(m.group(2)),
                               seconds=float(m.group(3)),
                               mb_per_s=round(int(m.group(1)) / 1e6 / float(m.group(3)), 1))
                if peak is not None:
                    res["growth_mib"] = round((peak - before) / 1024, 2)
                if r.returncode != 0:
                    res["error"] = r.stderr[-400:]
                self.record("stream", workload=wl, setup=s, **res)
                log(f"{wl} {s:10s} {res.get('mb_per_s')} MB/s growth "
                    f"{res.get('growth_mib')} MiB {res.get('error', '')}")
                self.results.setdefault("stream", {}).setdefault(wl, {})[s] = res

    # ---- MySQL / sysbench ----

    def mysql_frontend_built(self):
        """Start a throw-away instance with a mysql listener and see whether
        the daemon listens on it or says the protocol is not built."""
        b = Bastion(self.work / "sb-probe", listeners=("postgres", "mysql"))
        try:
            b.start(timeout=4)
            return True
        except AssertionError:
            text = b.log_text()
            if "not built" not in text:
                log("mysql probe: " + text[-400:])
            return False
        finally:
            b.close()

    def phase_sysbench(self):
        built = self.mysql_frontend_built()
        self.results["mysql_frontend"] = built
        if not shutil.which("sysbench") or not shutil.which("mariadbd") and not Path(
                "/usr/sbin/mariadbd").exists():
            self.results["sysbench"] = "sysbench or mariadb-server not installed"
            return
        my = MariaDB.create(self.work / "mariadb")
        try:
            setups = {"direct": my.endpoint()}
            h = haproxy_start(self.work, "haproxy-my", my.port, maxconn=2000)
            setups["haproxy"] = dict(setups["direct"], port=h.port, pid=h.pid)
            if built:
                b = Bastion(self.work / "sb-my", listeners=("postgres", "mysql"))
                self.bastions.append(b)
                b.add_user("alice")
                b.add_asset("demo-my", protocol="mysql", host="127.0.0.1", port=my.port)
                b.add_account("demo-my/sb", username="sb", password=my.password)
                b.grant("alice", "demo-my/sb", "write")
                tok = b.issue_token("alice", "demo-my/sb")
                b.start()
                setups["sqlbastion"] = dict(host="127.0.0.1", port=b.ports["mysql"],
                                            user="alice", password=tok, pid=b.pid)
            else:
                self.note("MySQL: sqlbastion column n/a (mysql frontend not built); "
                          "direct and HAProxy are measured so the HAProxy target is known.")
            my.sysbench_prepare(self.a.sb_table_size)
            names = list(setups)
            for test in ("oltp_point_select", "oltp_read_only"):
                for ps in ("auto", "disable"):
                    wl = f"sysbench {test} ps={ps}"
                    vals = {s: [] for s in names}
                    cpus = {s: [] for s in names}
                    for rnd, order in rotations(names, self.a.rounds):
                        for s in order:
                            res = my.sysbench(self.work, test, setups[s], ps,
                                              self.a.duration, self.a.sb_table_size)
                            self.record("sysbench", workload=wl, setup=s, round=rnd,
                                        order=order, **res)
                            log(f"{wl:36s} round {rnd} {s:10s} qps={res.get('qps')} "
                                f"cpu/q={res.get('proxy_cpu_us_per_query')}")
                            vals[s].append(res.get("qps"))
                            if res.get("error"):
                                err = " ".join(res["error"].split())[-400:]
                                self.note(f"sysbench through {s} failed ({wl}): {err}")
                            cpus[s].append(res.get("proxy_cpu_us_per_query"))
                    row = {s: median(v) for s, v in vals.items()}
                    self.results.setdefault("sysbench", {})[wl] = row
                    self.results.setdefault("sysbench_cpu", {})[wl] = {
                        s: median(v) for s, v in cpus.items()}
            if built:
                self.mysql_stream(my, setups)
            h.stop()
        finally:
            my.stop()

    def mysql_stream(self, my, setups):
        rows = self.a.stream_rows
        wl = f"stream {rows * 1001 / 1e9:.2f} GB MySQL SELECT"
        ep = setups["sqlbastion"]
        sampler = RssSampler(ep["pid"])
        before = proc_rss_kb(ep["pid"])
        sampler.start()
        sql = (f"SELECT REPEAT('x',1000) FROM seq_1_to_{rows}")
        r = bx.run(["mariadb", "--quick", "--batch", "--skip-column-names", "-h", ep["host"],
                    "-P", ep["port"], "-u", ep["user"], "sbtest", "-e", sql],
                   env=client_env({"MYSQL_PWD": ep["password"]}), check=False, timeout=1800)
        peak = sampler.stop()
        res = {"rc": r.returncode, "growth_mib": round((peak - before) / 1024, 2)}
        if r.returncode != 0:
            res["error"] = r.stderr[-400:]
            self.note(f"big MySQL SELECT through sqlbastion failed: "
                      f"{' '.join(r.stderr.split())[-300:]}")
        self.record("stream", workload=wl, setup="sqlbastion", **res)
        self.results.setdefault("stream", {}).setdefault(wl, {})["sqlbastion"] = res

    # ---- classification micro-benchmark ----

    def phase_classify(self):
        r = bx.run([self.a.helpers / "bench_classify", GUARD], cwd=REPO, check=False)
        rows = {}
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) >= 6 and f[0] == "classify":
                mbps = int(f[3]) / float(f[4]) * 1000 if float(f[4]) > 0 else 0.0
                rows.setdefault(f[2], {})[f[1]] = {"bytes": int(f[3]), "ns": float(f[4]),
                                                   "mb_per_s": round(mbps, 1)}
                self.record("classify", workload=f[2], setup=f[1], bytes=int(f[3]),
                            ns_per_statement=float(f[4]), iterations=int(f[5]),
                            mb_per_s=round(mbps, 1))
        if r.returncode != 0:
            rows["error"] = r.stderr[-300:]
        self.results["classify"] = rows

    # ---- callgrind profile ----

    def phase_profile(self):
        """sqlbastion under callgrind. Three dumps: startup, run A (pgbench
        -t warm), run B (-t warm+N). Both runs pay the same 8 logins, so
        B - A is the cost of exactly 8*N queries and nothing else."""
        if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
            self.results["profile"] = "valgrind not installed"
            return
        pg = self.pg
        b = Bastion(self.work / "sb-cg")
        self.bastions.append(b)
        tok = b.pg_ready(pg, start=False)
        cgdir = self.work / "cg"
        cgdir.mkdir()
        out = cgdir / "callgrind.out"
        logf = open(self.work / "callgrind.log", "wb")
        p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              b.daemon, "-c", b.conf_path], cwd=b.dir, env=b._env(),
                             stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                             start_new_session=True)
        warm, n = self.a.profile_warm, self.a.profile_txn
        ep = Endpoint("sqlbastion", b.host, b.port, "alice", tok)

        def dump():
            bx.run(["callgrind_control", "-d", str(p.pid)], check=False, timeout=300)

        runs = {}
        try:
            deadline = time.monotonic() + 120
            while not port_listening("127.0.0.1", b.port):
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sqlbastion under callgrind did not start: "
                                       + (self.work / "callgrind.log").read_text()[-1000:])
                time.sleep(0.2)
            dump()                                   # startup
            for name, t in (("A", warm), ("B", warm + n)):
                res = pgbench(ep, mode=self.a.profile_mode, transactions=t)
                self.record("profile", workload=f"pgbench -S -M {self.a.profile_mode} "
                            f"-c 8 -t {t}", setup="sqlbastion(callgrind)", **res)
                runs[name] = res
                if res.get("error"):
                    raise RuntimeError(f"pgbench under callgrind: {res['error']}")
                if name == "A":
                    time.sleep(1)  # sessions end (audit session_end) before the dump
                    dump()
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(180)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            logf.close()
            self.bastions.remove(b)
            b.close()
        files = sorted(cgdir.glob("callgrind.out*"), key=lambda f: f.stat().st_mtime)
        if len(files) < 3:
            raise RuntimeError(f"expected 3 callgrind dumps, got {[f.name for f in files]}")
        fa, fb = files[1], files[2]
        ia, ta = callgrind_inclusive(fa)
        ib, tb = callgrind_inclusive(fb)
        queries = 8 * n
        per_q = (tb - ta) / queries
        rows = []
        for fn, ir in ib.items():
            d = ir[0] - ia.get(fn, (0, ""))[0]
            if d > 0:
                rows.append({"function": fn, "file": ir[1], "ir_per_query": round(d / queries),
                             "pct": round(100 * d / (tb - ta), 1)})
        rows.sort(key=lambda r: -r["ir_per_query"])
        keep = HERE / "out" / f"callgrind-{self.stamp}"
        keep.mkdir(exist_ok=True)
        for f, nm in ((files[0], "startup"), (fa, "runA"), (fb, "runB")):
            shutil.copy(f, keep / f"callgrind.out.{nm}")
        # logins: run A's total minus its queries at the per-query cost
        login_ir = (ta - 8 * warm * per_q) / 8
        self.results["profile"] = {
            "mode": self.a.profile_mode, "warm_txn": warm, "txn": n, "queries": queries,
            "ir_per_query": round(per_q), "ir_per_login_approx": round(login_ir),
            "top": rows[:self.a.profile_top],
            "dir": str(keep.relative_to(REPO))}

    # ---- output ----

    def table(self):
        R = self.results
        lines = []

        def fmt(v, unit="", nd=0):
            if v is None:
                return "-"
            if isinstance(v, float):
                return f"{v:,.{nd}f}{unit}"
            return f"{v:,}{unit}"

        def row(label, cells, width=24):
            return f"{label:<36s}" + "".join(f"{c:>{width}s}" for c in cells)

        head = row("workload", SETUPS)
        lines.append(head)
        lines.append("-" * len(head))
        for wl, v in R.get("tps", {}).items():
            d = v.get("direct")
            cells = []
            for s in SETUPS:
                x = v.get(s)
                if s == "direct" or x is None or not d:
                    cells.append(fmt(x, " tps"))
                else:
                    cells.append(f"{fmt(x, ' tps')} {x / d:.2f}x")
            lines.append(row(wl, cells))
        for wl, v in R.get("tps_cpu", {}).items():
            if any(v.get(s) for s in PROXIES):
                cells = ["-"] + [fmt(v.get(s), " µs/txn", 1) for s in PROXIES]
                lines.append(row(f"  proxy CPU during {wl.replace('pgbench -S ', '')}", cells))
        for wl, v in R.get("cpu", {}).items():
            cells = ["-"] + [fmt(v.get(s), " µs", 1) for s in PROXIES]
            lines.append(row(wl, cells))
        for wl, v in R.get("syscalls", {}).items():
            cells = ["-"] + [fmt(v.get(s), "", 1) for s in PROXIES]
            lines.append(row(wl, cells))
        for wl, v in R.get("idle", {}).items():
            cells = ["-"]
            for s in PROXIES:
                x = v.get(s)
                if not x:
                    cells.append("-")
                    continue
                c = fmt(x.get("kb_per_session"), " KiB/sess", 2)
                if x["ok"] != x["n"] or x["failed"]:
                    c += f" ({x['ok']}/{x['n']})"
                elif x["n"] != int(wl.split()[1]):
                    c += f" (n={x['n']})"
                cells.append(c)
            lines.append(row(f"RSS per idle session, {wl}", cells))
        for wl, v in R.get("stream", {}).items():
            if "MySQL" in wl:
                continue
            cells = []
            for s in SETUPS:
                x = v.get(s)
                if not x:
                    cells.append("-")
                elif x.get("error"):
                    cells.append("error")
                elif s == "direct":
                    cells.append(fmt(x.get("mb_per_s"), " MB/s", 0))
                else:
                    cells.append(f"+{fmt(x.get('growth_mib'), ' MiB', 1)} "
                                 f"{fmt(x.get('mb_per_s'), ' MB/s', 0)}")
            lines.append(row(f"RSS growth, {wl}", cells))
        out = ["", "== sqlbastion benchmark (medians of %d interleaved rounds; ratios = "
               "setup / direct in the same run) ==" % self.a.rounds, ""] + lines

        sb = R.get("sysbench")
        if sb:
            mcols = ("direct", "haproxy", "sqlbastion")
            mhead = f"{'MySQL workload (sysbench, 8 threads)':<40s}" + "".join(
                f"{c:>32s}" for c in mcols)
            out += ["", "== MySQL / MariaDB 10.11 (PgBouncer is PostgreSQL only) ==", mhead,
                    "-" * len(mhead)]
            if not isinstance(sb, dict):
                out.append(f"  n/a: {sb}")
                sb = {}
            nb = "n/a (mysql frontend not built)"
            for wl, v in sb.items():
                d = v.get("direct")
                cells = [fmt(d, " qps")]
                for s in ("haproxy", "sqlbastion"):
                    x = v.get(s)
                    if s not in v:
                        cells.append(nb)
                    elif x is None:
                        cells.append("failed (see notes)")
                    else:
                        cells.append(f"{fmt(x, ' qps')} {x / d:.2f}x" if x and d else fmt(x))
                out.append(f"{wl[9:]:<40s}" + "".join(f"{c:>32s}" for c in cells))
            for wl, v in R.get("sysbench_cpu", {}).items():
                cells = ["-", fmt(v.get("haproxy"), " µs/query", 1),
                         fmt(v.get("sqlbastion"), " µs/query", 1) if "sqlbastion" in v else nb]
                out.append(f"{'  proxy CPU ' + wl[9:]:<40s}" + "".join(f"{c:>32s}" for c in cells))
            for wl, v in R.get("stream", {}).items():
                if "MySQL" in wl:
                    x = v.get("sqlbastion", {})
                    if x.get("error") or x.get("rc"):
                        out.append(f"  RSS growth {wl}: failed (see notes)")
                    else:
                        out.append(f"  RSS growth {wl}: +{x.get('growth_mib')} MiB")
            if not self.results.get("mysql_frontend"):
                out.append(f"{'RSS growth, big MySQL SELECT':<40s}" + f"{'-':>32s}" * 2
                           + f"{nb:>32s}")

        feats = R.get("features")
        if feats:
            out += ["", "== cost of our own features (sqlbastion variants, interleaved; "
                    "ratio = variant / guard+audit(disk)) =="]
            for wl, v in feats.items():
                base = v.get("guard+audit(disk)", {})
                for name, x in v.items():
                    t, c = x.get("tps"), x.get("cpu_us")
                    ratio = f"{t / base['tps']:.3f}x" if t and base.get("tps") else "-"
                    out.append(f"  {wl:22s} {name:24s} {fmt(t, ' tps'):>14s} {ratio:>8s}"
                               f"   proxy CPU {fmt(c, ' µs/txn', 1)}")
        cls = R.get("classify")
        if cls:
            out += ["", "== classification cost (policy_evaluate, ns per statement) =="]
            for case, v in cls.items():
                if case == "error":
                    out.append(f"  error: {v}")
                    continue
                g, e = v.get("guard", {}), v.get("empty", {})
                out.append(f"  {case:22s} {g.get('bytes', 0):9d} B   "
                           f"guard.rules {g.get('ns', 0):>13,.0f} ns {g.get('mb_per_s', 0):>8,.1f} MB/s   "
                           f"empty policy {e.get('ns', 0):>13,.0f} ns {e.get('mb_per_s', 0):>8,.1f} MB/s")
        prof = R.get("profile")
        if isinstance(prof, dict):
            out += ["", f"== callgrind: sqlbastion, pgbench -S -M {prof['mode']} -c 8; "
                    f"run B (-t {prof['warm_txn'] + prof['txn']}) minus run A "
                    f"(-t {prof['warm_txn']}) = {prof['queries']:,} queries ==",
                    f"  {prof['ir_per_query']:,} instructions per query in the proxy "
                    f"(user space, excluding the kernel); one login costs about "
                    f"{prof['ir_per_login_approx']:,}",
                    "  inclusive Ir per query, top functions:"]
            for t in prof["top"]:
                out.append(f"  {t['pct']:6.1f}%  {t['ir_per_query']:>9,}  {t['function']}  "
                           f"({t['file']})")
            out.append(f"  dumps: {prof['dir']}/ (callgrind_annotate --inclusive=yes FILE)")
        elif prof:
            out.append(f"callgrind: {prof}")
        fl = R.get("flood")
        if fl:
            out += ["", f"== bad-login flood ({fl['rate']:.0f} failed SCRAM logins/s from a "
                    "helper process) while pgbench -S -c 4 runs through sqlbastion ==",
                    f"  quiet   {fmt(fl['quiet_tps'], ' tps', 0)}",
                    f"  flood   {fmt(fl['flood_tps'], ' tps', 0)}   "
                    f"ratio {fl['ratio']}, median of per-round ratios "
                    f"{fl.get('paired_ratio')}  (target >= 0.90)",
                    f"  bad logins per round: {fl['bad_logins']}"]
        for name, title in (("tds", "SQL Server (TDS): pytds through sqlbastion vs straight to the "
                                    "TDS test backend, same run"),
                            ("tns", "Oracle (TNS): python-oracledb Thin through sqlbastion vs "
                                    "straight to the TNS test backend, same run"),
                            ("ssh", "SSH-tunnel entry: COPY through ssh -N -L vs the direct port "
                                    "vs PostgreSQL, login cost, memory per channel")):
            if R.get(name):
                out += ["", f"== {title} ==", f"  ({R[name]['argv']})"]
                out += [f"  {line}" for line in R[name]["table"].splitlines()]
        tg = self.targets()
        if tg:
            out += ["", "== issue #6 targets =="]
            out += [f"  [{'HOLD' if ok is True else 'MISS' if ok is False else ' n/a'}] {t}"
                    for t, ok in tg]
        if self.notes:
            out += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(out)

    def targets(self):
        R = self.results
        res = []
        fl = R.get("flood")
        if fl and fl.get("ratio") is not None:
            res.append((f"bad-login flood: logged-in tps {fl['flood_tps']:,.0f} within 10% "
                        f"of quiet {fl['quiet_tps']:,.0f} ({fl['ratio']:.2f}x)",
                        fl["ratio"] >= 0.9))
        for wl, v in R.get("tps", {}).items():
            if "-C" in wl:
                continue
            sb, pb = v.get("sqlbastion"), v.get("pgbouncer")
            if sb and pb:
                res.append((f"{wl}: sqlbastion {sb:,.0f} >= PgBouncer {pb:,.0f} tps "
                            f"({sb / pb:.2f}x)", sb >= pb))
        sb = R.get("sysbench")
        if isinstance(sb, dict):
            v = sb.get("sysbench oltp_point_select ps=auto", {})
            if "sqlbastion" in v and v["sqlbastion"] and v.get("haproxy"):
                res.append((f"sysbench point_select: sqlbastion {v['sqlbastion']:,.0f} >= "
                            f"HAProxy {v['haproxy']:,.0f} qps", v["sqlbastion"] >= v["haproxy"]))
            elif "sqlbastion" in v:
                res.append(("sysbench point_select >= HAProxy: sysbench through sqlbastion "
                            "failed (MySQL frontend in progress; see notes)", False))
            else:
                res.append(("sysbench point_select >= HAProxy: mysql frontend not built", None))
        for wl, v in R.get("cpu", {}).items():
            sbc, pbc = v.get("sqlbastion"), v.get("pgbouncer")
            if sbc and pbc:
                res.append((f"{wl}: sqlbastion {sbc:.1f} <= PgBouncer {pbc:.1f}", sbc <= pbc))
        for wl, v in R.get("idle", {}).items():
            x = v.get("sqlbastion")
            if x and x.get("kb_per_session") is not None:
                held = x["ok"] == x["n"] and not x["failed"]
                txt = (f"{wl}: sqlbastion {x['kb_per_session']:.2f} KiB/session <= 6 KiB, "
                       f"{x['ok']}/{x['n']} held")
                if x["n"] < int(wl.split()[1]):
                    txt += f" (fd hard limit: {wl.split()[1]} not testable here)"
                res.append((txt, held and x["kb_per_session"] <= 6.0))
        for wl, v in R.get("stream", {}).items():
            x = v.get("sqlbastion")
            if x and x.get("growth_mib") is not None:
                if x.get("error") or x.get("rc"):
                    res.append((f"{wl}: sqlbastion RSS growth < 16 MiB: the stream failed "
                                "(see notes)", False))
                else:
                    res.append((f"{wl}: sqlbastion RSS growth {x['growth_mib']:.1f} MiB "
                                "< 16 MiB", x["growth_mib"] < 16))
        feats = R.get("features", {})
        for wl, v in feats.items():
            on = v.get("guard+audit(disk)", {}).get("tps")
            off = v.get("guard+audit off (bench build)", {}).get("tps")
            if on and off:
                res.append((f"{wl}: audit on {on / off:.3f}x audit off (bench build) >= 0.97",
                            on / off >= 0.97))
            elif on:
                res.append((f"{wl}: audit on >= 0.97x audit off: no-audit build missing", None))
        c = R.get("classify", {}).get("oltp_point_select", {}).get("guard")
        if c:
            res.append((f"classification {c['ns']:.0f} ns < 1 µs for the OLTP statement",
                        c["ns"] < 1000))
        # issue 11 item 5: literal-heavy statements at >= 500 MB/s (thread CPU)
        for case, v in R.get("classify", {}).items():
            g = v.get("guard") if isinstance(v, dict) else None
            if g and ("16m" in case or "100k" in case):
                res.append((f"classify {case}: {g['mb_per_s']:,.0f} MB/s >= 500",
                            g["mb_per_s"] >= 500))
        return res

    # ---- TDS, TNS and SSH-tunnel workloads (their own scripts) ----

    def run_script(self, name, script, args, timeout):
        """Runs tests/bench/SCRIPT (its own sandbox: test backend or
        PostgreSQL, and a sqlbastion), keeps its printed table for the
        report. A missing client module skips the phase with a note."""
        module = {"tds": "pytds", "tns": "oracledb", "ssh": "paramiko"}[name]
        if subprocess.run([sys.executable, "-c", f"import {module}"],
                          capture_output=True).returncode != 0:
            self.note(f"phase {name} skipped: {sys.executable} cannot import {module}")
            return
        argv = [sys.executable, str(HERE / script), *map(str, args)]
        env = dict(os.environ, SQLBASTION_BIN=str(REPO / "bin"))
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           cwd=REPO)
        if r.returncode != 0:
            raise RuntimeError(f"{script} exited {r.returncode}: {r.stderr[-1500:]}")
        shown = [str(Path(argv[1]).relative_to(REPO)), *argv[2:]]
        self.results[name] = {"argv": " ".join(shown), "table": r.stdout.rstrip()}
        log(f"{name}:\n{r.stdout.rstrip()}")

    def phase_tds(self):
        """tests/bench/tds_bench.py: pytds through the tds listener vs
        straight to the TDS test backend, same run."""
        self.run_script("tds", "tds_bench.py", ["--n", 300 if self.a.quick else 2000], 900)

    def phase_tns(self):
        """tests/bench/tns_bench.py: python-oracledb (Thin) through the tns
        listener vs straight to the TNS test backend, same run."""
        q = self.a.quick
        self.run_script("tns", "tns_bench.py",
                        ["--n", 300 if q else 2000, "--rows", 5000 if q else 50000], 900)

    def phase_ssh(self):
        """tests/bench/ssh_bench.py: COPY through ssh -N -L + the proxy vs the
        direct port vs PostgreSQL, login cost, memory per channel."""
        q = self.a.quick
        args = (["--mb", 64, "--channels", 10, "--logins", 5, "--storm", 4,
                 "--storm-seconds", 3] if q else ["--mb", 1024])
        self.run_script("ssh", "ssh_bench.py", args, 1800)

    # ---- driver ----

    def run(self):
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        (HERE / "out").mkdir(exist_ok=True)
        t0 = time.monotonic()
        phases = [p for p in self.a.phases.split(",") if p]
        try:
            if "classify" in phases:
                self.phase_classify()
            needs_pg = {"pgbench", "cpu", "features", "idle", "stream", "profile", "flood"}
            if needs_pg & set(phases):
                self.setup_pg()
            for name in ("pgbench", "flood", "cpu", "features", "stream", "idle", "sysbench",
                         "tds", "tns", "ssh", "profile"):
                if name in phases:
                    log(f"=== phase {name}")
                    try:
                        getattr(self, f"phase_{name}")()
                    except Exception as e:  # noqa: BLE001 - report and go on
                        if self.a.strict:
                            raise
                        log(f"phase {name} failed: {e}")
                        self.results.setdefault("errors", {})[name] = str(e)[-2000:]
                        self.note(f"phase {name} failed: {str(e)[-300:]}")
        finally:
            self.teardown()
        meta = {"started": self.stamp, "seconds": round(time.monotonic() - t0, 1),
                "args": {k: (str(v) if isinstance(v, Path) else v)
                         for k, v in vars(self.a).items()},
                "host": platform.node(), "kernel": platform.release(),
                "cpus": os.cpu_count(), "versions": tool_versions()}
        path = HERE / "out" / f"bench-{self.stamp}.json"
        try:
            targets = [{"target": t, "holds": ok} for t, ok in self.targets()]
        except Exception as e:  # noqa: BLE001 - keep the measurements anyway
            targets = [{"target": f"error evaluating targets: {e}", "holds": None}]
        path.write_text(json.dumps({"meta": meta, "results": self.results,
                                    "targets": targets, "notes": self.notes,
                                    "runs": self.runs}, indent=1, ensure_ascii=False) + "\n")
        text = self.table()
        print(text)
        (HERE / "out" / f"bench-{self.stamp}.txt").write_text(text + "\n")
        print(f"\nJSON: {path.relative_to(REPO)}")
        return 0 if not self.results.get("errors") else 1

    def teardown(self):
        for b in list(self.bastions):
            try:
                b.close()
            except Exception:  # noqa: BLE001
                pass
        self.bastions.clear()
        Daemon.stop_all()
        if self.pg:
            self.pg.destroy()
        if getattr(self, "shm_dir", None):
            shutil.rmtree(self.shm_dir, ignore_errors=True)
        if not self.a.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log(f"kept {self.work}")


# --------------------------------------------------------------------------
# MariaDB sandbox (for sysbench)


class MariaDB:
    def __init__(self, base):
        self.base = Path(base)
        self.port = None
        self.password = None
        self.daemon = None

    @classmethod
    def create(cls, base):
        import secrets
        self = cls(base)
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        data = self.base / "data"
        bx.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=mysql",
                "--auth-root-authentication-method=socket", "--skip-test-db"],
               timeout=300)
        shutil.chown(self.base, "mysql", "mysql")
        self.port = free_port()
        self.sock = self.base / "mysqld.sock"
        self.daemon = Daemon("mariadb", [
            "/usr/sbin/mariadbd", "--no-defaults", f"--datadir={data}", "--user=mysql",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.sock}",
            f"--pid-file={self.base / 'mysqld.pid'}", "--skip-log-bin",
            "--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=0",
            "--max-connections=500", "--skip-name-resolve",
            f"--log-error={self.base / 'error.log'}"],
            cwd=self.base, log_path=self.base / "stderr.log", port=self.port)
        self.password = secrets.token_urlsafe(18)
        self.sql(f"CREATE DATABASE sbtest; CREATE USER 'sb'@'127.0.0.1' IDENTIFIED BY "
                 f"'{self.password}'; GRANT ALL ON sbtest.* TO 'sb'@'127.0.0.1';")
        return self

    def sql(self, q):
        return bx.run(["mariadb", "--no-defaults", "-uroot", f"--socket={self.sock}"],
                      input=q, timeout=120)

    def endpoint(self):
        return dict(host="127.0.0.1", port=self.port, user="sb", password=self.password,
                    pid=None)

    def _cfg(self, workdir, ep, name):
        # sysbench reads options from a file: the password stays out of argv.
        p = Path(workdir) / f"sysbench-{name}.cfg"
        p.write_text(f"mysql-host={ep['host']}\nmysql-port={ep['port']}\n"
                     f"mysql-user={ep['user']}\nmysql-password={ep['password']}\n"
                     "mysql-db=sbtest\n")
        os.chmod(p, 0o600)
        return p

    def sysbench_prepare(self, table_size):
        cfg = self._cfg(self.base, self.endpoint(), "prepare")
        bx.run(["sysbench", f"--config-file={cfg}", "oltp_read_only", "--tables=4",
                f"--table-size={table_size}", "--threads=4", "prepare"], timeout=1200)

    def sysbench(self, workdir, test, ep, ps_mode, duration, table_size):
        cfg = self._cfg(workdir, ep, "run")
        cpu0 = proc_cpu_s(ep["pid"]) if ep.get("pid") else None
        r = bx.run(["sysbench", f"--config-file={cfg}", test, "--tables=4",
                    f"--table-size={table_size}", "--threads=8", f"--time={duration}",
                    f"--db-ps-mode={ps_mode}", "--rand-type=uniform", "run"],
                   check=False, timeout=duration + 300)
        cpu1 = proc_cpu_s(ep["pid"]) if ep.get("pid") else None
        m = re.search(r"queries:\s+(\d+)\s+\(([\d.]+) per sec", r.stdout)
        t = re.search(r"transactions:\s+(\d+)\s+\(([\d.]+) per sec", r.stdout)
        res = {"rc": r.returncode}
        if m:
            res.update(queries=int(m.group(1)), qps=float(m.group(2)))
        if t:
            res.update(transactions=int(t.group(1)), tps=float(t.group(2)))
        if cpu0 is not None and res.get("queries"):
            res["proxy_cpu_us_per_query"] = round((cpu1 - cpu0) * 1e6 / res["queries"], 2)
        if r.returncode != 0 or not m:
            res["error"] = (r.stderr or r.stdout)[-600:]
        return res

    def stop(self):
        if self.daemon:
            self.daemon.stop(timeout=30)
        shutil.rmtree(self.base, ignore_errors=True)



def callgrind_inclusive(path):
    """{function: (inclusive Ir, file)} and the total Ir of one callgrind dump
    (callgrind_annotate --inclusive=yes). A function listed twice (cycles,
    '2 suffixes) keeps its largest count."""
    ann = bx.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                 check=False, timeout=600).stdout
    total, fns = 0, {}
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S+):(\S.*?)(?:\s+\[(.*)\])?\s*$",
                     line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        where, fn = m.group(2), re.sub(r"'\d+$", "", m.group(3))
        where = Path(where).name if where != "???" else Path(m.group(4) or "?").name
        if fn.startswith("0x"):
            fn = f"{fn} in {where}"
        if fn not in fns or fns[fn][0] < ir:
            fns[fn] = (ir, where)
    return fns, total


def tool_versions():
    out = {}
    for name, argv in {"pgbench": ["pgbench", "--version"], "haproxy": ["haproxy", "-v"],
                       "pgbouncer": ["pgbouncer", "--version"],
                       "sysbench": ["sysbench", "--version"],
                       "postgres": [PG_BIN / "postgres", "--version"],
                       "mariadbd": ["/usr/sbin/mariadbd", "--version"],
                       "valgrind": ["valgrind", "--version"]}.items():
        try:
            r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                               timeout=10)
            out[name] = (r.stdout or r.stderr).splitlines()[0].strip()
        except Exception:  # noqa: BLE001
            out[name] = None
    try:
        out["sqlbastion_git"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
            text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        pass
    return out


ALL_PHASES = "classify,pgbench,flood,cpu,features,stream,idle,sysbench,tds,tns,ssh,profile"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 round, 2 s runs, small idle counts and stream, "
                         "no callgrind")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    ap.add_argument("--duration", type=int, help="seconds per pgbench/sysbench run (10)")
    ap.add_argument("--scale", type=int, help="pgbench scale factor (10)")
    ap.add_argument("--cpu-queries", type=int, help="queries per fixed CPU run (40000)")
    ap.add_argument("--idle", help="idle client counts, comma-separated (2000,10000)")
    ap.add_argument("--stream-rows", type=int, help="rows of 1000 bytes streamed (1000000)")
    ap.add_argument("--sb-table-size", type=int, help="sysbench rows per table (100000)")
    ap.add_argument("--profile-txn", type=int,
                    help="pgbench -t per client counted in the profile (run B - run A)")
    ap.add_argument("--profile-warm", type=int, default=50,
                    help="pgbench -t per client of run A (logins + warm-up)")
    ap.add_argument("--profile-mode", default="simple", choices=("simple", "extended",
                                                                  "prepared"))
    ap.add_argument("--profile-top", type=int, default=25)
    ap.add_argument("--flood-rate", type=float, default=300,
                    help="failed logins a second in the flood phase (300)")
    ap.add_argument("--phases", help=f"comma-separated subset of {ALL_PHASES}")
    ap.add_argument("--helpers", type=Path, default=HERE / "out" / "bin",
                    help="directory of the compiled C helpers (run.sh builds them)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--report", type=Path, metavar="JSON",
                    help="print the table of an earlier run's JSON file and exit")
    ap.add_argument("--strict", action="store_true", help="stop at the first failed phase")
    a = ap.parse_args()
    q = a.quick
    defaults = dict(rounds=1 if q else 3, duration=2 if q else 10, scale=1 if q else 10,
                    cpu_queries=4000 if q else 40000, idle="200,500" if q else "2000,10000",
                    stream_rows=50000 if q else 1000000, sb_table_size=10000 if q else 100000,
                    profile_txn=100 if q else 1000,
                    phases=ALL_PHASES.replace(",profile", "") if q else ALL_PHASES)
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.idle = [int(x) for x in str(a.idle).split(",") if x]
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    a.nofile_hard = hard
    if a.report:
        data = json.loads(a.report.read_text())
        for k, v in data["meta"]["args"].items():
            if k not in ("report",):
                setattr(a, k, v)
        bench = Bench.__new__(Bench)
        bench.a, bench.results, bench.notes = a, data["results"], data["notes"]
        print(bench.table())
        return 0
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    return Bench(a).run()


if __name__ == "__main__":
    sys.exit(main())
