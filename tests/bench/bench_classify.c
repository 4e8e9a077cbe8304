/* bench_classify: nanoseconds per policy_evaluate() call.
 *
 * Measures what the proxy pays per statement for classification and the rule
 * decision, outside any socket: policy_evaluate() on a typical OLTP point
 * select, on two 10 KB statements and on 16 MiB INSERTs of the shapes real
 * clients send a BLOB in (MySQL 0x hex, Connector/J's _binary '...' with
 * backslash escapes, PostgreSQL bytea '\x..' and a long VALUES list; an
 * X'..' hex literal, one long quoted string and ~100k small rows in both
 * dialects), with a
 * rule file (guard.rules) and with the empty policy (classification alone). One result struct is reused
 * across calls, as a session does, so steady-state allocation is what a
 * session sees. It does not measure the audit write or the relay.
 *
 * Build (run.sh does this):
 *   cc -O2 -I. tests/bench/bench_classify.c policy/\*.c \
 *      $(pkg-config --cflags --libs libpcre2-8)
 * Run:  bench_classify [RULES_FILE [CASE]]  (no file = guard.rules of the repo;
 *       CASE: only the cases whose name contains it)
 * Output, one line per case, for tests/bench/bench.py to parse:
 *   classify <policy> <case> <bytes> <ns_per_statement> <iterations> <action> <rule>
 * (bench.py derives MB/s from bytes and ns). Cases starting "my_" are read
 * in the MySQL dialect, the others in PostgreSQL's.
 */
#include "policy/policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this thread: what a statement costs the event loop, and
 * stable when other processes share the machine (wall time is not) */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A 10 KB multi-row INSERT, the shape of a batch loader. Caller frees. */
static char *big_insert(size_t target)
{
	char *s = malloc(target + 256);
	if (!s)
		return NULL;
	size_t n = (size_t)snprintf(s, target + 256,
		"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime, filler) VALUES ");
	for (int i = 0; n < target - 80; i++) {
		n += (size_t)snprintf(s + n, target + 256 - n,
			"%s(%d, %d, %d, %d, now(), 'row %d')", i ? ", " : "",
			i % 10 + 1, 1, 48213 + i, i * 7 - 5000, i);
	}
	s[n] = '\0';
	return s;
}

/* A 10 KB SELECT with a long IN list and a join, the shape of an ORM query. */
static char *big_select(size_t target)
{
	char *s = malloc(target + 256);
	if (!s)
		return NULL;
	size_t n = (size_t)snprintf(s, target + 256,
		"SELECT a.aid, a.abalance, b.bbalance FROM pgbench_accounts a "
		"JOIN pgbench_branches b ON b.bid = a.bid WHERE a.aid IN (");
	for (int i = 0; n < target - 40; i++)
		n += (size_t)snprintf(s + n, target + 256 - n, "%s%d", i ? ", " : "",
				      100000 + i * 37);
	n += (size_t)snprintf(s + n, target + 256 - n, ") ORDER BY a.aid");
	s[n] = '\0';
	return s;
}

#define BIG (16u << 20)

/* Deterministic pseudo-random bytes (every byte value, like a BLOB). */
static void fill_bytes(unsigned char *b, size_t n)
{
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = i < 256 ? (unsigned char)i : (unsigned char)x;
	}
}

/* "<head><hex digits of n bytes><tail>". Caller frees. */
static char *hex_insert(const char *head, size_t n, const char *tail)
{
	static const char hx[] = "0123456789abcdef";
	size_t h = strlen(head), t = strlen(tail);
	unsigned char *raw = malloc(n);
	char *s = malloc(h + 2 * n + t + 1);
	if (!raw || !s) {
		free(raw);
		free(s);
		return NULL;
	}
	fill_bytes(raw, n);
	memcpy(s, head, h);
	for (size_t i = 0; i < n; i++) {
		s[h + 2 * i] = hx[raw[i] >> 4];
		s[h + 2 * i + 1] = hx[raw[i] & 15];
	}
	memcpy(s + h + 2 * n, tail, t + 1);
	free(raw);
	return s;
}

/* Connector/J's text-protocol BLOB: _binary '...' with \, \', \" and
 * backslash-NUL escapes, every other byte raw. *len gets the length (the
 * text holds NUL bytes). Caller frees. */
static char *escaped_insert(size_t n, size_t *len)
{
	const char *head = "INSERT INTO blobs (id, b) VALUES (1, _binary '";
	unsigned char *raw = malloc(n);
	char *s = malloc(strlen(head) + 2 * n + 3);
	if (!raw || !s) {
		free(raw);
		free(s);
		return NULL;
	}
	fill_bytes(raw, n);
	size_t k = strlen(head);
	memcpy(s, head, k);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = raw[i];
		if (c == '\\' || c == '\'' || c == '"' || c == 0)
			s[k++] = '\\';
		s[k++] = (char)c;
	}
	s[k++] = '\'';
	s[k++] = ')';
	s[k] = '\0';
	*len = k;
	free(raw);
	return s;
}

/* A multi-row INSERT of about target bytes (a bulk loader's batch). */
static char *values_insert(size_t target)
{
	char *s = malloc(target + 256);
	if (!s)
		return NULL;
	size_t n = (size_t)snprintf(s, target + 256,
		"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime, filler) VALUES ");
	for (int i = 0; n < target - 120; i++)
		n += (size_t)snprintf(s + n, target + 256 - n,
			"%s(%d, %d, %d, %d, '2026-12-02 04:15:00', 'row %d it''s \\n')",
			i ? ", " : "", i % 10 + 1, 1, 48213 + i, i * 7 - 5000, i);
	s[n] = '\0';
	return s;
}

/* One quoted string of about n bytes of text: every printable byte, UTF-8,
 * newlines, doubled quotes and escaped backslashes (read the same with
 * backslash escapes on or off). Caller frees. */
static char *string_insert(size_t n)
{
	static const char *const bits[] = {"lorem ipsum ", "it''s ", "\\\\", "\n-- ",
					   "/* */ ", "; DROP ", "\xc3\xa9t\xc3\xa9 ",
					   "(1, 2), ", "\"q\" ", "`b` ", "#x\n", "$$ "};
	const char *head = "INSERT INTO docs (id, body) VALUES (1, '";
	size_t h = strlen(head), k = h;
	char *s = malloc(n + 64);
	if (!s)
		return NULL;
	memcpy(s, head, h);
	for (unsigned i = 0; k < n; i++) {
		const char *b = bits[i * 7 % (sizeof bits / sizeof bits[0])];
		size_t l = strlen(b);
		memcpy(s + k, b, l);
		k += l;
	}
	memcpy(s + k, "')", 3);
	return s;
}

/* target bytes of small rows, mixed literals as a bulk loader or a dump
 * writes them: (12, 'name 12', NULL, 3.5, -7, X'0c'). Caller frees. */
static char *tuples_insert(size_t target)
{
	char *s = malloc(target + 256);
	if (!s)
		return NULL;
	size_t n = (size_t)snprintf(s, target + 256, "INSERT INTO items VALUES ");
	for (int i = 0; n < target - 100; i++)
		n += (size_t)snprintf(s + n, target + 256 - n, "%s(%d,'name %d',%s,%d.5,-%d,X'%02x')",
				      i ? "," : "", i, i, i % 3 ? "NULL" : "TRUE", i % 1000, i % 7,
				      i & 0xff);
	s[n] = '\0';
	return s;
}

static int bench_one(const struct policy *p, const char *pname, const char *cname,
		     const char *sql, size_t len)
{
	int my = strncmp(cname, "my_", 3) == 0;
	struct policy_request req = {
		.dialect = my ? POLICY_DIALECT_MYSQL : POLICY_DIALECT_PG,
		.level = POLICY_LEVEL_WRITE,
		.user = "alice",
		.asset = "demo-pg",
		.account = "app",
		.sql = sql,
		.sql_len = len ? len : strlen(sql),
		.now = time(NULL),
	};
	struct policy_result res;
	policy_result_init(&res);

	/* warm up (grows the result buffers), then calibrate to ~0.3 s */
	int big = req.sql_len > (1u << 20);
	for (int i = 0; i < (big ? 2 : 100); i++)
		(void)policy_evaluate(p, &req, &res);
	long iters = big ? 1 : 1000;
	double t0, dt;
	for (;;) {
		t0 = now_ns();
		for (long i = 0; i < iters; i++)
			(void)policy_evaluate(p, &req, &res);
		dt = now_ns() - t0;
		if (dt > 3e8 || iters > 100000000L)
			break;
		iters *= dt > 1e6 ? (long)(3.2e8 / dt) + 1 : 10;
		if (iters < 1)
			iters = 1;
	}
	/* best of three timed runs of the calibrated length */
	double best = dt / (double)iters;
	for (int r = 0; r < 2; r++) {
		t0 = now_ns();
		for (long i = 0; i < iters; i++)
			(void)policy_evaluate(p, &req, &res);
		double per = (now_ns() - t0) / (double)iters;
		if (per < best)
			best = per;
	}
	printf("classify %s %s %zu %.1f %ld %s %s\n", pname, cname, req.sql_len, best,
	       iters, policy_action_name(res.action), res.rule[0] ? res.rule : "-");
	policy_result_free(&res);
	return 0;
}

int main(int argc, char **argv)
{
	const char *rules = argc > 1 ? argv[1] : "etc/policies/guard.rules";
	struct policy_error err;
	struct policy *guard = policy_load(rules, &err);
	if (!guard) {
		fprintf(stderr, "bench_classify: %s:%d: %s\n", err.file, err.line,
			err.message);
		return 1;
	}
	struct policy *empty = policy_load(NULL, &err);
	if (!empty) {
		fprintf(stderr, "bench_classify: empty policy: %s\n", err.message);
		return 1;
	}
	char *ins = big_insert(10240), *sel = big_select(10240);
	if (!ins || !sel)
		return 1;
	const char *oltp = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213";
	size_t esc_len = 0;
	char *my_hex = hex_insert("INSERT INTO blobs (id, b) VALUES (1, 0x", BIG / 2, ")");
	char *my_esc = escaped_insert(BIG - BIG / 8, &esc_len);
	char *pg_hex = hex_insert("INSERT INTO blobs (id, b) VALUES (1, '\\x", BIG / 2, "')");
	char *vals = values_insert(BIG);
	char *xhex = hex_insert("INSERT INTO blobs (id, b) VALUES (1, X'", BIG / 2, "')");
	char *str = string_insert(BIG);
	char *tup = tuples_insert(100000 * 38); /* ~100k rows */
	if (!my_hex || !my_esc || !pg_hex || !vals || !xhex || !str || !tup)
		return 1;
	struct {
		const char *name;
		const char *sql;
		size_t len;
	} cases[] = {
		{"oltp_point_select", oltp, 0},
		{"my_oltp_point_select", oltp, 0},
		{"insert_10k", ins, 0},
		{"select_10k", sel, 0},
		{"my_insert_16m_hex", my_hex, 0},
		{"my_insert_16m_binary", my_esc, esc_len},
		{"my_insert_16m_values", vals, 0},
		{"insert_16m_bytea", pg_hex, 0},
		{"insert_16m_values", vals, 0},
		/* one hex literal, one quoted string, ~100k small rows: both dialects */
		{"insert_16m_xhex", xhex, 0},
		{"my_insert_16m_xhex", xhex, 0},
		{"insert_16m_string", str, 0},
		{"my_insert_16m_string", str, 0},
		{"insert_100k_rows", tup, 0},
		{"my_insert_100k_rows", tup, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (argc > 2 && !strstr(cases[i].name, argv[2]))
			continue;
		bench_one(guard, "guard", cases[i].name, cases[i].sql, cases[i].len);
		bench_one(empty, "empty", cases[i].name, cases[i].sql, cases[i].len);
	}
	free(ins);
	free(sel);
	free(my_hex);
	free(my_esc);
	free(pg_hex);
	free(vals);
	free(xhex);
	free(str);
	free(tup);
	policy_unref(guard);
	policy_unref(empty);
	return 0;
}
