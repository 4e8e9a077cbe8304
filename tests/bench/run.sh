#!/usr/bin/env bash
# tests/bench/run.sh: `make bench` entry point.
#
# Installs the benchmark tools that are missing (Debian packages, with sudo
# when not root), compiles the C helpers with cc into tests/bench/out/bin/,
# raises the open-files limit, and runs tests/bench/bench.py with this
# script's arguments:
#
#   bash tests/bench/run.sh            full run (about 25 minutes on 2 cores)
#   bash tests/bench/run.sh --quick    smoke run (about 3 minutes)
#   bash tests/bench/run.sh --help     every option of bench.py
#
# It expects `make all` to have built bin/ (make bench does that first).
# Every server it starts runs in a temporary directory on 127.0.0.1 and is
# stopped on exit, error or Ctrl-C; the results land in tests/bench/out/.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

say() { printf '[run.sh] %s\n' "$*" >&2; }

# ---- tools ------------------------------------------------------------------
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_cmd haproxy || need+=(haproxy)
have_cmd pgbouncer || need+=(pgbouncer)
have_cmd sysbench || need+=(sysbench)
have_cmd pgbench || need+=(postgresql-client-15)
have_cmd valgrind || need+=(valgrind)
have_cmd strace || need+=(strace)
have_cmd callgrind_annotate || need+=(valgrind)
have_cmd mariadb || need+=(mariadb-client)
have_cmd pkg-config || need+=(pkg-config)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
[ -f /usr/include/postgresql/libpq-fe.h ] || need+=(libpq-dev)
pkg-config --exists libpcre2-8 2>/dev/null || need+=(libpcre2-dev)
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || need+=(python3-psycopg2)
# The tds, tns and ssh phases: their clients (the backends are the suite's
# own Python test backends, standing in for SQL Server and Oracle).
/usr/bin/python3 -c 'import pytds' 2>/dev/null || need+=(python3-tds)
/usr/bin/python3 -c 'import oracledb' 2>/dev/null || need+=(python3-oracledb)
/usr/bin/python3 -c 'import paramiko' 2>/dev/null || need+=(python3-paramiko)
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)
have_cmd ssh || need+=(openssh-client)
have_cmd sshpass || need+=(sshpass)
if [ ${#need[@]} -gt 0 ]; then
	mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
	say "installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_cmd[@]}" apt-get update -q
	# policy-rc.d 101: the packages must not start their system-wide services;
	# the benchmark runs its own instances on free ports.
	prc=/usr/sbin/policy-rc.d
	made_prc=0
	if [ ! -e "$prc" ]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$prc" >/dev/null
		"${sudo_cmd[@]}" chmod 755 "$prc"
		made_prc=1
	fi
	rc=0
	"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" || rc=$?
	[ "$made_prc" -eq 0 ] || "${sudo_cmd[@]}" rm -f "$prc"
	[ "$rc" -eq 0 ] || { say "apt-get install failed"; exit "$rc"; }
fi

# ---- helpers ----------------------------------------------------------------
[ -x bin/sqlbastion ] && [ -x bin/sqlbastionctl ] || {
	say "bin/sqlbastion is missing: run 'make all' (or 'make bench')"
	exit 1
}
out="$here/out/bin"
mkdir -p "$out"
cc=${CC:-cc}
# The "audit off" comparison needs a build whose audit_write/defer do nothing
# (SB_BENCH_NO_AUDIT); it lives only under tests/bench/out, never in bin/.
say "building the no-audit comparison binary (tests/bench/out/noaudit)"
make -s -C "$repo" BUILD="$repo/tests/bench/out/noaudit/build" \
	BIN="$repo/tests/bench/out/noaudit/bin" CC="cc -DSB_BENCH_NO_AUDIT" all >/dev/null
say "compiling C helpers into ${out#"$repo"/}"
# shellcheck disable=SC2046  # pkg-config output is meant to split
"$cc" -O2 -g -Wall -Wextra -I. -o "$out/bench_classify" tests/bench/bench_classify.c \
	policy/*.c $(pkg-config --cflags --libs libpcre2-8)
"$cc" -O2 -g -Wall -Wextra -I"$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)" \
	-o "$out/idle_clients" tests/bench/idle_clients.c -lpq

# ---- limits -----------------------------------------------------------------
# 10,000 idle sessions need 10,000 descriptors in the client and 20,000 in a
# relaying proxy. Raise the hard limit when allowed (root with
# CAP_SYS_RESOURCE), then the soft limit to the hard one; children inherit.
ulimit -Hn 1048576 2>/dev/null || ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "open files limit: soft $(ulimit -Sn), hard $(ulimit -Hn)"

# ---- run ----------------------------------------------------------------------
# bench.py stops every server it started in its own finally/atexit handlers;
# the trap covers what is left if it is killed outright: processes in its
# process groups (children started with start_new_session are found by the
# bench work directories they run in).
bench_pid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
		kill -TERM "$bench_pid" 2>/dev/null || true
		for _ in $(seq 1 30); do
			kill -0 "$bench_pid" 2>/dev/null || break
			sleep 1
		done
		kill -KILL "$bench_pid" 2>/dev/null || true
	fi
	# Anything still running from a bench work directory (bench.py was
	# SIGKILLed): those directories are ours alone.
	local pids
	pids=$(pgrep_ours || true)
	if [ -n "$pids" ]; then
		say "stopping leftovers: $pids"
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		sleep 2
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
	fi
	exit "$rc"
}
# Processes whose working directory is a bench temp dir (/tmp/sbb-*).
pgrep_ours() {
	local p cwd
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case "$cwd" in
		"${TMPDIR:-/tmp}"/sbb-*) echo "${p#/proc/}" ;;
		esac
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

/usr/bin/python3 "$here/bench.py" --helpers "$out" "$@" &
bench_pid=$!
wait "$bench_pid"
