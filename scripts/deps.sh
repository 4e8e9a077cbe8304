#!/usr/bin/env bash
# scripts/deps.sh - the ONE list of Debian packages sqlbastion needs, and the
# installer `make demo`, `make check` and .ci/run all call, so the three
# cannot drift apart.
#
#   bash scripts/deps.sh SET...      install what SET needs and is missing
#   bash scripts/deps.sh --list SET  print SET's packages, one a line
#
# Sets (each includes the ones before it where it says so):
#   build   compiler, pkg-config and the -dev packages `make all` links
#   demo    build + PostgreSQL 15, MariaDB, their clients (make demo)
#   test    demo + the integration suite's drivers and clients (make check)
#   ci      test + clang and libFuzzer's runtime (.ci/run, make fuzz)
#
# Fast when nothing is missing: one dpkg-query for the packages, one python3
# for the modules the tests import, no apt-get at all (well under a second).
# Otherwise: apt-get update + install of the missing ones only, as root or
# through sudo, with the packages' system services kept from starting
# (policy-rc.d): the demo and the tests start their own servers.
#
# Environment
#   CI_SKIP_APT=1     do not check or install anything (offline machines, or
#                     a machine set up by hand); SQLBASTION_SKIP_APT=1 too
#   DEPS_DRY_RUN=1    say what would be installed, install nothing
# Exit status: 0 all present (or installed), 1 something missing that could
# not be installed (the message names it), 2 usage.
set -euo pipefail

DEPS_BUILD=(
	build-essential pkg-config openssl
	libssl-dev libevent-dev libpq-dev libmariadb-dev libpcre2-dev libsqlite3-dev
	libssh-dev
)
DEPS_DEMO=(
	"${DEPS_BUILD[@]}"
	python3 iproute2 procps
	postgresql-15 postgresql-client-15
	mariadb-server mariadb-client
)
DEPS_TEST=(
	"${DEPS_DEMO[@]}"
	postgresql-contrib sqlite3 util-linux
	python3-pytest python3-psycopg2 python3-pymysql
	libpostgresql-jdbc-java default-jdk-headless libmariadb-java
	sysbench
	openssh-client sshpass python3-paramiko
	freetds-bin python3-pymssql python3-tds libjtds-java
	python3-oracledb python3-cryptography
)
DEPS_CI=(
	"${DEPS_TEST[@]}"
	clang libclang-rt-14-dev
)
# Python modules the integration tests import, and the package of each:
# checked by importing them with Debian's python3, the one the tests run.
PY_MODULES=(pytest:python3-pytest psycopg2:python3-psycopg2 pymysql:python3-pymysql
	paramiko:python3-paramiko pytds:python3-tds pymssql:python3-pymssql
	oracledb:python3-oracledb cryptography:python3-cryptography)
PY=/usr/bin/python3

say() { printf 'deps: %s\n' "$*" >&2; }

packages_of() {
	case $1 in
	build) printf '%s\n' "${DEPS_BUILD[@]}" ;;
	demo) printf '%s\n' "${DEPS_DEMO[@]}" ;;
	test) printf '%s\n' "${DEPS_TEST[@]}" ;;
	ci) printf '%s\n' "${DEPS_CI[@]}" ;;
	*) say "unknown set '$1' (build, demo, test, ci)"; exit 2 ;;
	esac
	# node + npm for the node client tests (their modules come from npm).
	# Only when missing: some images ship their own Node.js, whose bundled
	# npm conflicts with Debian's npm package.
	if [ "$1" = test ] || [ "$1" = ci ]; then
		command -v node >/dev/null 2>&1 || echo nodejs
		command -v npm >/dev/null 2>&1 || echo npm
	fi
	return 0
}

if [ "${1:-}" = --list ]; then
	[ $# -eq 2 ] || { say "usage: deps.sh --list SET"; exit 2; }
	list=$(packages_of "$2") || exit 2
	printf '%s\n' "$list" | sort -u
	exit 0
fi
[ $# -ge 1 ] || { say "usage: deps.sh SET... (build, demo, test, ci)"; exit 2; }
for set in "$@"; do
	case $set in
	build | demo | test | ci) ;;
	*) say "unknown set '$set' (build, demo, test, ci)"; exit 2 ;;
	esac
done

if [ "${CI_SKIP_APT:-0}" = 1 ] || [ "${SQLBASTION_SKIP_APT:-0}" = 1 ]; then
	say "CI_SKIP_APT=1: not checking packages"
	exit 0
fi

wanted=()
for set in "$@"; do
	mapfile -t -O "${#wanted[@]}" wanted < <(packages_of "$set")
done
want_py=0
for set in "$@"; do
	case $set in test | ci) want_py=1 ;; esac
done
mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | sort -u)

# ---- what is missing
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
	# One call for all; a package dpkg never heard of prints nothing for it.
	declare -A installed=()
	while read -r name status; do
		[ "$status" = installed ] && installed[$name]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${wanted[@]}" 2>/dev/null || true)
	for p in "${wanted[@]}"; do
		[ -n "${installed[$p]:-}" ] || missing+=("$p")
	done
else
	say "no dpkg-query: checking commands only (not a Debian system?)"
	for c in cc make pkg-config openssl; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
fi
# A package can be installed and its module still not importable (a broken
# install, a stray module shadowing it): ask python3 itself. Prints the
# packages of the modules that fail.
# One interpreter for all of them (a start per module was most of the
# check's time).
py_missing() {
	[ $want_py -eq 1 ] || return 0
	local failed m
	if [ -x "$PY" ]; then
		failed=$("$PY" - "${PY_MODULES[@]}" 2>/dev/null <<-'EOF'
			import importlib, sys
			for spec in sys.argv[1:]:
			    try:
			        importlib.import_module(spec.split(":")[0])
			    except Exception:
			        print(spec)
			EOF
		) || failed=$(printf '%s\n' "${PY_MODULES[@]}")
	else
		failed=$(printf '%s\n' "${PY_MODULES[@]}")
	fi
	while IFS= read -r m; do
		[ -n "$m" ] || continue
		say "python module ${m%%:*} cannot be imported by $PY"
		echo "${m#*:}"
	done <<<"$failed"
}
mapfile -t -O "${#missing[@]}" missing < <(py_missing)
if [ ${#missing[@]} -eq 0 ]; then
	say "all ${#wanted[@]} packages for '$*' present"
	exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

# ---- install them
if [ "${DEPS_DRY_RUN:-0}" = 1 ]; then
	say "would install: ${missing[*]}"
	exit 0
fi
say "installing: ${missing[*]}"
command -v apt-get >/dev/null 2>&1 ||
	{ say "missing ${missing[*]} and no apt-get: install them by hand (or CI_SKIP_APT=1)"; exit 1; }
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 ||
		{ say "missing ${missing[*]}: run as root or install sudo (or CI_SKIP_APT=1)"; exit 1; }
	SUDO=(sudo)
fi
# Installing postgresql-15 / mariadb-server must not start their system
# services. policy-rc.d exit 101 tells invoke-rc.d "not allowed" (Debian
# policy 9.3.3); one already there is kept.
POLICY_RC=/usr/sbin/policy-rc.d
made_policy_rc=0
if [ ! -e "$POLICY_RC" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY_RC" >/dev/null
	"${SUDO[@]}" chmod 755 "$POLICY_RC"
	made_policy_rc=1
fi
restore_policy_rc() { [ $made_policy_rc -eq 0 ] || "${SUDO[@]}" rm -f "$POLICY_RC"; }
trap restore_policy_rc EXIT
# openjdk's postinst needs this in slim images (man pages are excluded).
"${SUDO[@]}" mkdir -p /usr/share/man/man1
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
restore_policy_rc
trap - EXIT
mapfile -t still < <(py_missing)
if [ ${#still[@]} -gt 0 ]; then
	say "installed, yet $PY still cannot import what ${still[*]} provide: see the errors of $PY -c 'import pytest, psycopg2, pymysql'"
	exit 1
fi
say "done"
