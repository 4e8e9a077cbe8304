/* bench_classify: nanoseconds per policy_evaluate() call.
 *
 * Measures what the proxy pays per statement for classification and the rule
 * decision, outside any socket: policy_evaluate() on a typical OLTP point
 * select and on two 10 KB statements, with a rule file (guard.rules) and
 * with the empty policy (classification alone). One result struct is reused
 * across calls, as a session does, so steady-state allocation is what a
 * session sees. It does not measure the audit write or the relay.
 *
 * Build (run.sh does this):
 *   cc -O2 -I. tests/bench/bench_classify.c policy/\*.c \
 *      $(pkg-config --cflags --libs libpcre2-8)
 * Run:  bench_classify [RULES_FILE]      (no file = guard.rules of the repo)
 * Output, one line per case, for tests/bench/bench.py to parse:
 *   classify <policy> <case> <bytes> <ns_per_statement> <iterations> <action> <rule>
 */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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

static int bench_one(const struct policy *p, const char *pname, const char *cname,
		     const char *sql)
{
	struct policy_request req = {
		.dialect = POLICY_DIALECT_PG,
		.level = POLICY_LEVEL_WRITE,
		.user = "alice",
		.asset = "demo-pg",
		.account = "app",
		.sql = sql,
		.sql_len = strlen(sql),
		.now = time(NULL),
	};
	struct policy_result res;
	policy_result_init(&res);

	/* warm up (grows the result buffers), then calibrate to ~0.3 s */
	for (int i = 0; i < 100; i++)
		(void)policy_evaluate(p, &req, &res);
	long iters = 1000;
	double t0, dt;
	for (;;) {
		t0 = now_ns();
		for (long i = 0; i < iters; i++)
			(void)policy_evaluate(p, &req, &res);
		dt = now_ns() - t0;
		if (dt > 3e8 || iters > 100000000L)
			break;
		iters *= dt > 1e6 ? (long)(3.2e8 / dt) + 1 : 10;
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
	struct {
		const char *name;
		const char *sql;
	} cases[] = {
		{"oltp_point_select", oltp},
		{"insert_10k", ins},
		{"select_10k", sel},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bench_one(guard, "guard", cases[i].name, cases[i].sql);
		bench_one(empty, "empty", cases[i].name, cases[i].sql);
	}
	free(ins);
	free(sel);
	policy_unref(guard);
	policy_unref(empty);
	return 0;
}
