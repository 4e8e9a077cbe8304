#!/usr/bin/env bash
# scripts/demo.sh - what `make demo` runs: a complete sqlbastion in front of a
# throwaway PostgreSQL 15, ready for psql, in one command.
#
#   make demo                    (or: bash scripts/demo.sh [options])
#
#   1. installs what is missing (Debian/Ubuntu apt; sudo when not root)
#   2. builds bin/sqlbastion and bin/sqlbastionctl (make all)
#   3. wipes and recreates ./demo/ holding everything:
#        demo/pg/               PostgreSQL 15 sandbox on a free 127.0.0.1 port,
#                               TLS on, database appdb with table accounts,
#                               account `app` with a random scram password
#        demo/sqlbastion.conf   the instance config (paths relative to demo/)
#        demo/var/              state.db, master.key, tls/, audit/audit.jsonl
#        demo/connect.txt       the banner below, token included (mode 0600)
#        demo/maria/            MariaDB sandbox (asset demo-mysql)
#        demo/tds/, demo/tns/   TEST BACKENDS standing in for SQL Server and
#                               Oracle (tests/tds_backend, tests/tns_backend:
#                               Python on SQLite; no real server installs
#                               here), when Debian's python3 can run them
#      and registers, with the real sqlbastionctl: user alice, asset demo-pg,
#      hosted account demo-pg/app (password piped on stdin), a write grant
#      and an 8h token; the same for demo-mysql and demo-mssql (tds), and
#      demo-oracle (tns) with the not-hosted account demo-oracle/scott
#   4. prints how to connect (psql, mysql, tsql, python-oracledb, and the
#      ssh -N -L line of the SSH-tunnel entry), watch the audit log and
#      search it
#   5. runs sqlbastion in the foreground; Ctrl-C (or SIGTERM, or any error)
#      stops the proxy, the PostgreSQL and MariaDB sandboxes and the test
#      backends and leaves nothing running.
#
# Running it again starts from scratch: what an earlier demo left running
# (its proxy, MariaDB, PostgreSQL and test backends, found by pid file and by their paths
# under demo/, even when that demo's shell was killed with SIGKILL) is
# stopped, then demo/ is wiped.
#
# Options
#   --no-build   skip `make all` (use the binaries already in bin/)
#   --pg-only    only the PostgreSQL sandbox (prints a superuser psql line),
#                for working on the proxy with a debugger
#   -h, --help
#
# Environment
#   SQLBASTION_BIN      directory of sqlbastion and sqlbastionctl (default bin/)
#   SQLBASTION_PG_BIN   PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   DEMO_PROXY_PORT     proxy port to prefer (default 6432; a free one otherwise)
#   DEMO_MYSQL_PORT, DEMO_TDS_PORT, DEMO_TNS_PORT, DEMO_SSH_PORT
#                       the same for the mysql (3307), tds (1433), tns (11521)
#                       and ssh (60022) listeners
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=$ROOT/demo
CONF=$DEMO/sqlbastion.conf
BIN=${SQLBASTION_BIN:-$ROOT/bin}
PG_BIN=${SQLBASTION_PG_BIN:-/usr/lib/postgresql/15/bin}
PY=/usr/bin/python3
POLICY=$ROOT/etc/policies/guard.rules

BUILD=1
PG_ONLY=0
for arg in "$@"; do
	case $arg in
	--no-build) BUILD=0 ;;
	--pg-only) PG_ONLY=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo: unknown option $arg (try --help)" >&2; exit 2 ;;
	esac
done

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
say() { printf '%s==> %s%s\n' "$B" "$*" "$N"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1

# initdb and postgres refuse to run as root: run them as the postgres user.
as_pg() {
	if [ $IS_ROOT -eq 1 ]; then
		(cd "$PGHOME" && runuser -u postgres -- "$@")
	else
		(cd "$PGHOME" && "$@")
	fi
}

# A free TCP port on 127.0.0.1; the arguments are tried first.
free_port() {
	"$PY" - "$@" <<'EOF'
import socket, sys
for p in [int(a) for a in sys.argv[1:]] + [0]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        port = s.getsockname()[1]
        s.close()
    print(port)
    break
EOF
}

# ---------------------------------------------------------------- 1. packages
say "checking what the demo needs"
# The package list lives in scripts/deps.sh, shared with make check and CI.
bash "$ROOT/scripts/deps.sh" demo || die "cannot install the packages the demo needs (see above)"

# ---------------------------------------------------------------- 2. build
if [ $BUILD -eq 1 ] && [ $PG_ONLY -eq 0 ]; then
	say "building (make all)"
	env -u MAKEFLAGS -u MAKELEVEL make -C "$ROOT" -j"$(nproc)" all
fi

# ---------------------------------------------------------------- 3. sandbox
PROXY_PID=   # sqlbastion (or the idle wait of --pg-only)
MARIA_PID=   # mariadbd of the MariaDB sandbox
TDS_PID=     # the TDS test backend (python3 -m tds_backend), standing in for SQL Server
TNS_PID=     # the Oracle Net test backend (python3 -m tests.tns_backend)
PG_STARTED=0
CLEANED=0
cleanup() {
	[ $CLEANED -eq 1 ] && return
	CLEANED=1
	trap - INT TERM HUP EXIT
	if [ -n "$PROXY_PID" ] && kill -0 "$PROXY_PID" 2>/dev/null; then
		[ $PG_ONLY -eq 1 ] || echo "demo: stopping sqlbastion (pid $PROXY_PID)" >&2
		kill -TERM "$PROXY_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$PROXY_PID" 2>/dev/null || true
		wait "$PROXY_PID" 2>/dev/null || true
	fi
	rm -f "$DEMO/var/sqlbastion.pid"
	if [ -n "$MARIA_PID" ] && kill -0 "$MARIA_PID" 2>/dev/null; then
		echo "demo: stopping the MariaDB sandbox" >&2
		kill -TERM "$MARIA_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$MARIA_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$MARIA_PID" 2>/dev/null || true
	fi
	local pid
	for pid in $TDS_PID $TNS_PID; do
		kill -0 "$pid" 2>/dev/null || continue
		echo "demo: stopping a test backend (pid $pid)" >&2
		stop_pids 50 "$pid"
		wait "$pid" 2>/dev/null || true
	done
	if [ $PG_STARTED -eq 1 ]; then
		echo "demo: stopping the PostgreSQL sandbox" >&2
		as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true
	fi
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 129' HUP   # terminal closed
trap 'rc=$?; cleanup; exit $rc' EXIT

# A previous demo may still be running (another terminal), or have left its
# servers behind (its shell was killed with SIGKILL, so no trap ran). Stop
# everything it started before its directory is wiped: a server whose data
# directory is deleted under it keeps running, holding its port and memory.

# Pids of live processes named comm whose command line contains needle (a
# path only that demo's processes carry), never this script.
pids_of() {
	local comm=$1 needle=$2 d pid cmd
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$pid" = $$ ] && continue
		[ "$(cat "$d/comm" 2>/dev/null)" = "$comm" ] || continue
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		case $cmd in *"$needle"*) echo "$pid" ;; esac
	done
}

# TERM the pids, wait up to $1 tenths of a second for all to exit, then KILL
# those left. Prints nothing.
stop_pids() {
	local tenths=$1 pid alive
	shift
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	for _ in $(seq "$tenths"); do
		alive=0
		for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive -eq 1 ] || return 0
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null || true
}

# The pid in file $1 if that process is alive and named $2.
pid_from() {
	local pid
	[ -f "$1" ] || return 0
	pid=$(tr -dc 0-9 <"$1")
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
	return 0
}

stop_previous() {
	local pid pids
	# The previous demo.sh itself, if alive: its trap stops its proxy and
	# servers; wait for it so it cannot stop the servers made next.
	if [ -f "$DEMO/demo.pid" ]; then
		pid=$(tr -dc 0-9 <"$DEMO/demo.pid")
		if [ -n "$pid" ] && [ "$pid" != $$ ] && grep -qs 'demo\.sh' "/proc/$pid/cmdline"; then
			say "stopping the previous demo (pid $pid)"
			stop_pids 300 "$pid"
		fi
	fi
	# What it left: the proxy (or --pg-only's idle wait) ...
	mapfile -t pids < <({ pid_from "$DEMO/var/sqlbastion.pid" sqlbastion
		pid_from "$DEMO/var/sqlbastion.pid" sleep
		pids_of sqlbastion "$CONF"; } | sort -u)
	if [ ${#pids[@]} -gt 0 ]; then
		say "stopping the previous demo proxy (pid ${pids[*]})"
		stop_pids 100 "${pids[@]}"
	fi
	# ... the MariaDB sandbox ...
	mapfile -t pids < <({ pid_from "$DEMO/maria/mariadbd.pid" mariadbd
		pids_of mariadbd "--datadir=$DEMO/maria/data"; } | sort -u)
	if [ ${#pids[@]} -gt 0 ]; then
		say "stopping the previous MariaDB sandbox (pid ${pids[*]})"
		stop_pids 300 "${pids[@]}"
	fi
	# ... the TDS and TNS test backends (their config files are under demo/) ...
	mapfile -t pids < <({ pids_of python3 "$DEMO/tds/backend.json"
		pids_of python3 "$DEMO/tns/backend.json"; } | sort -u)
	if [ ${#pids[@]} -gt 0 ]; then
		say "stopping the previous test backends (pid ${pids[*]})"
		stop_pids 50 "${pids[@]}"
	fi
	# ... and the PostgreSQL sandbox (maybe in /tmp behind the demo/pg link).
	local old=$DEMO/pg
	[ -L "$old" ] && old=$(readlink "$old")
	if [ -f "$old/data/postmaster.pid" ]; then
		say "stopping the previous PostgreSQL sandbox"
		PGHOME=$old as_pg "$PG_BIN/pg_ctl" -D "$old/data" -m fast -w -t 30 stop >/dev/null || true
	fi
	mapfile -t pids < <(pids_of postgres "-D $old/data")
	[ ${#pids[@]} -eq 0 ] || stop_pids 100 "${pids[@]}"
	if [ -L "$DEMO/pg" ]; then rm -rf "$old"; fi
}
if [ -d "$DEMO" ]; then
	PGHOME=$DEMO stop_previous
	rm -rf "$DEMO"
fi

say "creating $DEMO"
mkdir -p "$DEMO/var"
echo $$ >"$DEMO/demo.pid"
# The postgres user must reach its files; under a private home it cannot, so
# the cluster then lives in /tmp behind the demo/pg symlink.
PGHOME=$DEMO/pg
mkdir -p "$PGHOME"
if [ $IS_ROOT -eq 1 ]; then
	chown postgres: "$PGHOME"
	if ! runuser -u postgres -- test -w "$PGHOME"; then
		rmdir "$PGHOME"
		tmp=$(mktemp -d /tmp/sqlbastion-demo-pg.XXXXXX)
		ln -s "$tmp" "$PGHOME"
		PGHOME=$tmp
		chown postgres: "$PGHOME"
	fi
fi
PGDATA=$PGHOME/data
mkdir -p "$PGHOME/run" "$PGHOME/tls"
chmod 700 "$PGHOME/run"

say "PostgreSQL 15 sandbox"
PG_PORT=$(free_port)
# Backend TLS, so the asset's --tls prefer really encrypts proxy -> database.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
	-subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$PGHOME/tls/server.key" -out "$PGHOME/tls/server.crt" 2>/dev/null
chmod 600 "$PGHOME/tls/server.key"
[ $IS_ROOT -eq 1 ] && chown -R postgres: "$PGHOME"
as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=reject \
	-E UTF8 --no-locale >"$PGHOME/initdb.log" 2>&1 || { cat "$PGHOME/initdb.log" >&2; die "initdb failed"; }
cat >>"$PGDATA/postgresql.conf" <<EOF

# ---- sqlbastion demo sandbox ----
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGHOME/run'
password_encryption = scram-sha-256
ssl = on
ssl_cert_file = '$PGHOME/tls/server.crt'
ssl_key_file = '$PGHOME/tls/server.key'
log_connections = on
EOF
cat >"$PGDATA/pg_hba.conf" <<'EOF'
# TYPE  DATABASE USER ADDRESS       METHOD
local   all      all                trust
host    all      all  127.0.0.1/32  scram-sha-256
EOF
[ $IS_ROOT -eq 1 ] && chown postgres: "$PGDATA/pg_hba.conf"
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGHOME/postgres.log" -w -t 60 start >/dev/null ||
	{ cat "$PGHOME/postgres.log" >&2; die "PostgreSQL did not start"; }
PG_STARTED=1

APP_PW=$(openssl rand -hex 24)
# The password reaches psql and sqlbastionctl on stdin only (printf is a builtin).
{
	printf "CREATE ROLE app LOGIN PASSWORD '%s';\n" "$APP_PW"
	cat <<'SQL'
CREATE DATABASE appdb OWNER app;
\connect appdb
SET ROLE app;
CREATE TABLE accounts (
    id      int PRIMARY KEY,
    owner   text NOT NULL,
    iban    text NOT NULL,
    balance numeric(12,2) NOT NULL
);
INSERT INTO accounts VALUES
    (1, 'alice', 'DE89 3704 0044 0532 0130 00', 1520.00),
    (2, 'bob',   'FR14 2004 1010 0505 0001 3M02 606', 310.75),
    (3, 'carol', 'GB29 NWBK 6016 1331 9268 19', 98000.10),
    (4, 'dave',  'NL91 ABNA 0417 1643 00', 42.00);
SQL
} | as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGHOME/run" -p "$PG_PORT" \
	-U postgres -d postgres

if [ $PG_ONLY -eq 1 ]; then
	unset APP_PW
	cat <<EOF

${B}PostgreSQL sandbox on 127.0.0.1:$PG_PORT${N} (database appdb, table accounts)
  superuser:  runuser -u postgres -- psql -h $PGHOME/run -p $PG_PORT -U postgres appdb
  log:        $PGHOME/postgres.log
Ctrl-C stops it.
EOF
	sleep infinity &
	PROXY_PID=$!
	echo "$PROXY_PID" >"$DEMO/var/sqlbastion.pid"
	wait "$PROXY_PID" || true
	exit 0
fi

# ---------------------------------------------------------------- sqlbastion
for b in sqlbastion sqlbastionctl; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing: \`make all\` has not built it yet"
done
ctl() { "$BIN/sqlbastionctl" -c "$CONF" "$@"; }

PROXY_PORT=$(free_port "${DEMO_PROXY_PORT:-6432}")
SSH_PORT=$(free_port "${DEMO_SSH_PORT:-60022}")
if [ -f "$POLICY" ]; then
	policy_line="policy       = $POLICY"
else
	echo "demo: warning: $POLICY not found; running without a rules file" >&2
	policy_line="; policy     = $POLICY   (not written yet)"
fi
cat >"$CONF" <<EOF
; sqlbastion demo instance, written by scripts/demo.sh; wiped by every \`make demo\`.
; Relative paths resolve against this file's directory (demo/).

[sqlbastion]
state_db     = var/state.db
master_key   = var/master.key
admin_socket = var/sqlbastion.sock
$policy_line
tls_cert     = var/tls/server.crt
tls_key      = var/tls/server.key
log          = -                     ; diagnostics to this terminal

[listeners]
postgres = 127.0.0.1:$PROXY_PORT
ssh      = 127.0.0.1:$SSH_PORT           ; SSH-tunnel entry (ssh -N -L ..., token as password)
; mysql  = 127.0.0.1:3307            ; issue 3: MariaDB demo asset (demo_mysql below)
; tds    = 127.0.0.1:1433            ; SQL Server clients (demo_tds below, test backend)
; tns    = 127.0.0.1:11521           ; Oracle clients (demo_tns below, test backend)

[audit]
jsonl      = var/audit/audit.jsonl
sqlite     = var/audit/audit.db
on_failure = close
EOF

say "registering alice, demo-pg, demo-pg/app, a write grant and a token"
init_out=$(ctl init)
printf '%s\n' "$init_out"
KNOWN_HOSTS=$(printf '%s\n' "$init_out" | sed -n 's/^# known_hosts: //p' | head -1)
ctl user add alice
ctl asset add demo-pg --protocol postgres --host 127.0.0.1 --port "$PG_PORT" --tls prefer
printf '%s\n' "$APP_PW" | ctl account add demo-pg/app --username app --password-stdin
unset APP_PW
ctl grant add alice demo-pg/app --level write
token_out=$(ctl token issue alice demo-pg/app --ttl 8h)
TOKEN=${token_out%%$'\n'*}
[ -n "$TOKEN" ] || die "sqlbastionctl token issue printed no token"

# A MariaDB sandbox (mariadb-install-db into demo/maria on a free port, run
# as the mysql user when root), the mysql listener in $CONF, asset
# demo-mysql, account demo-mysql/app with a random password piped on stdin,
# a write grant, a token, and the `mysql` line in the banner.
MY_TOKEN=
demo_mysql() {
	local maria=$DEMO/maria my_port app_pw out
	MY_PROXY_PORT=$(free_port "${DEMO_MYSQL_PORT:-3307}")
	my_port=$(free_port)
	say "starting a MariaDB sandbox on 127.0.0.1:$my_port"
	mkdir -p "$maria"
	chmod 755 "$maria"
	local as_user=()
	if [ $IS_ROOT -eq 1 ]; then
		chown mysql: "$maria"
		as_user=(--user=mysql)
	fi
	mariadb-install-db --no-defaults --datadir="$maria/data" "${as_user[@]}" \
		--auth-root-authentication-method=socket --skip-test-db >"$maria/install.log" 2>&1 ||
		die "mariadb-install-db failed (see $maria/install.log)"
	/usr/sbin/mariadbd --no-defaults --datadir="$maria/data" --port="$my_port" \
		--bind-address=127.0.0.1 --socket="$maria/mysqld.sock" --pid-file="$maria/mariadbd.pid" \
		--log-error="$maria/mariadbd.log" --skip-name-resolve --skip-log-bin \
		--innodb-buffer-pool-size=64M "${as_user[@]}" >/dev/null 2>&1 &
	MARIA_PID=$!
	for _ in $(seq 300); do
		mariadb --no-defaults -uroot --socket="$maria/mysqld.sock" -e 'SELECT 1' >/dev/null 2>&1 && break
		kill -0 "$MARIA_PID" 2>/dev/null || die "mariadbd exited (see $maria/mariadbd.log)"
		sleep 0.1
	done
	app_pw=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(18))')
	mariadb --no-defaults -uroot --socket="$maria/mysqld.sock" <<EOSQL || die "cannot populate MariaDB"
CREATE DATABASE appdb;
CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('$app_pw');
GRANT ALL ON appdb.* TO 'app'@'%';
CREATE TABLE appdb.accounts (id INT PRIMARY KEY, owner VARCHAR(64), balance DECIMAL(12,2));
INSERT INTO appdb.accounts VALUES (1,'alice',100.00),(2,'bob',250.50),(3,'carol',75.25);
EOSQL
	sed -i "s|^; mysql  = 127.0.0.1:3307 .*|mysql    = 127.0.0.1:$MY_PROXY_PORT|" "$CONF"
	say "registering demo-mysql, demo-mysql/app, a write grant and a token"
	ctl asset add demo-mysql --protocol mysql --host 127.0.0.1 --port "$my_port" --tls prefer
	printf '%s\n' "$app_pw" | ctl account add demo-mysql/app --username app --password-stdin
	unset app_pw
	ctl grant add alice demo-mysql/app --level write
	out=$(ctl token issue alice demo-mysql/app --ttl 8h)
	MY_TOKEN=${out%%$'\n'*}
	[ -n "$MY_TOKEN" ] || die "sqlbastionctl token issue printed no token"
}
demo_mysql

# Test backends for SQL Server and Oracle. Neither server can be installed
# here, so the demo runs the suite's own protocol test backends (Python,
# statements executed on SQLite) in their place, and says so in the banner.
# Each needs Debian's /usr/bin/python3; a backend that cannot start is
# skipped with a warning, the rest of the demo goes on.

# Writes JSON config $1 (mode 0600: it holds the account password) from
# python literal $2 evaluated with the environment in scope.
write_backend_config() {
	(umask 077 && "$PY" -c 'import json, os, sys; json.dump(eval(sys.argv[2]), open(sys.argv[1], "w"))' "$1" "$2")
}

# Waits up to 15 s for file $1 written by backend pid $2; 1 if it never came.
wait_backend_file() {
	for _ in $(seq 150); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The TDS test backend standing in for SQL Server on a free port (login
# encrypted with its own certificate, which the asset verifies: the hosted
# password is never sent to an unverified server), the tds listener in $CONF,
# asset demo-mssql, hosted account demo-mssql/app, a write grant, a token,
# and the `tsql` line in the banner.
TDS_TOKEN=
demo_tds() {
	local dir=$DEMO/tds out
	if ! PYTHONPATH=$ROOT/tests "$PY" -c 'import tds_backend.server, pytds' 2>/dev/null; then
		echo "demo: no SQL Server stand-in: $PY cannot import the TDS test backend (python3-tds); skipping demo-mssql" >&2
		return 0
	fi
	mkdir -p "$dir"
	say "starting the TDS TEST BACKEND (a stand-in for SQL Server)"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		-subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
	chmod 600 "$dir/server.key"
	TDS_APP_PW=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(18))') \
	DIR=$dir write_backend_config "$dir/backend.json" \
		'{"accounts": {"app": os.environ["TDS_APP_PW"]}, "encryption": "off",
		  "cert": os.environ["DIR"] + "/server.crt", "key": os.environ["DIR"] + "/server.key",
		  "log": os.environ["DIR"] + "/ground_truth.jsonl", "db": os.environ["DIR"] + "/backend.sqlite3",
		  "port_file": os.environ["DIR"] + "/port"}'
	"$PY" - "$dir/backend.sqlite3" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE accounts (id INT PRIMARY KEY, owner NVARCHAR(64), balance DECIMAL(12,2))")
db.executemany("INSERT INTO accounts VALUES (?,?,?)", [(1, "alice", 100.0), (2, "bob", 250.5), (3, "carol", 75.25)])
db.commit()
EOF
	PYTHONPATH=$ROOT/tests PYTHONDONTWRITEBYTECODE=1 "$PY" -m tds_backend "$dir/backend.json" \
		>"$dir/backend.log" 2>&1 &
	TDS_PID=$!
	if ! wait_backend_file "$dir/port" "$TDS_PID"; then
		echo "demo: the TDS test backend did not start (see $dir/backend.log); skipping demo-mssql" >&2
		return 0
	fi
	local be_port
	be_port=$(tr -dc 0-9 <"$dir/port")
	TDS_PROXY_PORT=$(free_port "${DEMO_TDS_PORT:-1433}")
	sed -i "s|^; tds    = 127.0.0.1:1433 .*|tds      = 127.0.0.1:$TDS_PROXY_PORT|" "$CONF"
	sed -i "s|^tls_key      = .*|&\nbackend_ca   = tds/server.crt      ; the TDS test backend's certificate (asset demo-mssql)|" "$CONF"
	say "registering demo-mssql (TDS test backend on 127.0.0.1:$be_port), demo-mssql/app, a write grant and a token"
	ctl asset add demo-mssql --protocol tds --host 127.0.0.1 --port "$be_port" --tls verify-full
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["accounts"]["app"])' "$dir/backend.json" |
		ctl account add demo-mssql/app --username app --password-stdin
	ctl grant add alice demo-mssql/app --level write
	out=$(ctl token issue alice demo-mssql/app --ttl 8h)
	TDS_TOKEN=${out%%$'\n'*}
	[ -n "$TDS_TOKEN" ] || die "sqlbastionctl token issue printed no token"
}

# The Oracle Net test backend standing in for Oracle (service DEMOPDB,
# database account scott with a random password the engineer types, as TNS
# accounts are not hosted), the tns listener, asset demo-oracle, account
# demo-oracle/scott --not-hosted, a write grant, a token and the
# python-oracledb line in the banner.
TNS_TOKEN=
TNS_DB_PW=
demo_tns() {
	local dir=$DEMO/tns out
	if ! (cd "$ROOT" && "$PY" -c 'import tests.tns_backend.listener' 2>/dev/null); then
		echo "demo: no Oracle stand-in: $PY cannot import the TNS test backend; skipping demo-oracle" >&2
		return 0
	fi
	mkdir -p "$dir"
	say "starting the ORACLE NET (TNS) TEST BACKEND (a stand-in for Oracle)"
	TNS_DB_PW=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(12))')
	TNS_DB_PW=$TNS_DB_PW DIR=$dir write_backend_config "$dir/backend.json" \
		'{"host": "127.0.0.1", "port": 0, "service": "DEMOPDB", "sid": "DEMOPDB",
		  "accounts": {"scott": os.environ["TNS_DB_PW"]}, "redirect": False, "resend": False,
		  "require_native_encryption": False, "driver_hint": True, "oob": False,
		  "db_path": os.environ["DIR"] + "/backend.sqlite", "ground_truth": os.environ["DIR"] + "/ground_truth.jsonl",
		  "ready_file": os.environ["DIR"] + "/ready"}'
	"$PY" - "$dir/backend.sqlite" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE accounts (id NUMBER PRIMARY KEY, owner VARCHAR2(64), balance NUMBER)")
db.executemany("INSERT INTO accounts VALUES (?,?,?)", [(1, "alice", 100.0), (2, "bob", 250.5), (3, "carol", 75.25)])
db.commit()
EOF
	(cd "$ROOT" && exec env PYTHONDONTWRITEBYTECODE=1 "$PY" -m tests.tns_backend "$dir/backend.json" \
		>"$dir/backend.log" 2>&1) &
	TNS_PID=$!
	if ! wait_backend_file "$dir/ready" "$TNS_PID"; then
		echo "demo: the TNS test backend did not start (see $dir/backend.log); skipping demo-oracle" >&2
		TNS_DB_PW=
		return 0
	fi
	local be_port
	be_port=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$dir/ready")
	TNS_PROXY_PORT=$(free_port "${DEMO_TNS_PORT:-11521}")
	sed -i "s|^; tns    = 127.0.0.1:11521 .*|tns      = 127.0.0.1:$TNS_PROXY_PORT|" "$CONF"
	say "registering demo-oracle (TNS test backend on 127.0.0.1:$be_port), demo-oracle/scott (not hosted), a write grant and a token"
	ctl asset add demo-oracle --protocol tns --host 127.0.0.1 --port "$be_port" --service DEMOPDB --tls disable
	ctl account add demo-oracle/scott --username scott --not-hosted
	ctl grant add alice demo-oracle/scott --level write
	out=$(ctl token issue alice demo-oracle/scott --ttl 8h)
	TNS_TOKEN=${out%%$'\n'*}
	[ -n "$TNS_TOKEN" ] || die "sqlbastionctl token issue printed no token"
}
demo_tds
demo_tns

# ---------------------------------------------------------------- 5. run
say "starting sqlbastion on 127.0.0.1:$PROXY_PORT"
"$BIN/sqlbastion" -c "$CONF" &
PROXY_PID=$!
echo "$PROXY_PID" >"$DEMO/var/sqlbastion.pid"
for _ in $(seq 100); do
	kill -0 "$PROXY_PID" 2>/dev/null || { wait "$PROXY_PID" || true; die "sqlbastion exited during start"; }
	ss -Hltn "sport = :$PROXY_PORT" 2>/dev/null | grep -q . && break
	sleep 0.1
done
ss -Hltn "sport = :$PROXY_PORT" | grep -q . || die "sqlbastion is not listening on $PROXY_PORT"

# ---------------------------------------------------------------- 4. banner
if [ "$PWD" = "$ROOT" ]; then rel=; else rel=$ROOT/; fi
if [ "$BIN" = "$ROOT/bin" ]; then ctlpath=${rel}bin/sqlbastionctl; else ctlpath=$BIN/sqlbastionctl; fi
banner() {
	cat <<EOF

================================================================================
 sqlbastion demo: proxy on 127.0.0.1:$PROXY_PORT in front of PostgreSQL 15
 (Ctrl-C stops the proxy, the PostgreSQL and MariaDB sandboxes and the
 SQL Server / Oracle test backends)

 Log in as the O&M engineer alice; her O&M token is the password:

   PGPASSWORD=$TOKEN psql "host=127.0.0.1 port=$PROXY_PORT user=alice dbname=appdb"

 or let psql prompt, and paste the token at "Password for user alice:":

   psql "host=127.0.0.1 port=$PROXY_PORT user=alice dbname=appdb"
   token: $TOKEN

 try:  SELECT * FROM accounts;  DROP TABLE accounts;

 The token crosses this link: have psql verify the bastion with the demo's
 local CA (made by sqlbastionctl init):

   psql "host=127.0.0.1 port=$PROXY_PORT user=alice dbname=appdb sslmode=verify-full sslrootcert=${rel}demo/var/tls/ca.crt"
   JDBC: jdbc:postgresql://127.0.0.1:$PROXY_PORT/appdb?user=alice&sslmode=verify-full&sslrootcert=$DEMO/var/tls/ca.crt
EOF
	if [ -n "$MY_TOKEN" ]; then
		cat <<EOF

 MariaDB through the same proxy (port $MY_PROXY_PORT); paste alice's MariaDB
 token at "Enter password:":

   mysql -h 127.0.0.1 -P $MY_PROXY_PORT -u alice -p appdb
   token: $MY_TOKEN

 verifying the bastion:
   mysql -h 127.0.0.1 -P $MY_PROXY_PORT -u alice -p --ssl-ca=${rel}demo/var/tls/ca.crt --ssl-verify-server-cert appdb
EOF
	fi
	if [ -n "$TDS_TOKEN" ]; then
		cat <<EOF

 SQL Server clients (port $TDS_PROXY_PORT). demo-mssql is a TEST BACKEND
 standing in for SQL Server (tests/tds_backend: Python, statements run on
 SQLite), not a real SQL Server. Paste alice's SQL Server token at "Password:":

   tsql -H 127.0.0.1 -p $TDS_PROXY_PORT -U alice
   token: $TDS_TOKEN

 try:  SELECT * FROM accounts  (then "go");  DROP TABLE accounts  (then "go")
EOF
	fi
	if [ -n "$TNS_TOKEN" ]; then
		cat <<EOF

 Oracle clients (port $TNS_PROXY_PORT). demo-oracle is a TEST BACKEND standing
 in for Oracle (tests/tns_backend: Python, statements run on SQLite), not a
 real Oracle. The token is the service name; the user name and password are
 the database account's own (account scott is not hosted):

   dsn=127.0.0.1:$TNS_PROXY_PORT/$TNS_TOKEN   user scott, password $TNS_DB_PW

 python-oracledb (Thin mode), asking for scott's password:
   SB_TOKEN=$TNS_TOKEN $PY -c 'import getpass, os, oracledb; c = oracledb.connect(user="scott", password=getpass.getpass("scott password: "), dsn="127.0.0.1:$TNS_PROXY_PORT/" + os.environ["SB_TOKEN"]); print(c.cursor().execute("SELECT * FROM accounts").fetchall())'
EOF
	fi
	cat <<EOF

 The SSH-tunnel entry (the classic bastion path): alice's PostgreSQL token
 is the SSH password; the database login inside the tunnel needs none:

   ssh -N -L 54321:demo-pg:$PG_PORT alice@127.0.0.1 -p $SSH_PORT
   psql "host=127.0.0.1 port=54321 user=app dbname=appdb"

 the bastion's SSH host key (for ~/.ssh/known_hosts):
   $KNOWN_HOSTS

 Audit log, one JSON object per line:
   ${rel}demo/var/audit/audit.jsonl
   tail -f ${rel}demo/var/audit/audit.jsonl
   $ctlpath -c ${rel}demo/sqlbastion.conf audit search --user alice --grep DROP

 The database endpoint and the real password of account app never leave the
 proxy: sqlbastion logs in to 127.0.0.1:$PG_PORT for alice.
================================================================================

EOF
}
(umask 077 && banner >"$DEMO/connect.txt")
banner

rc=0
wait "$PROXY_PID" || rc=$?
PROXY_PID=
echo "demo: sqlbastion exited with status $rc" >&2
exit "$rc"
