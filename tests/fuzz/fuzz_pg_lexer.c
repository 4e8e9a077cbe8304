/* libFuzzer target: the PostgreSQL tokenizer, classifier and decision.
 *
 * Feeds the raw input to policy_evaluate under the shipped guard policy
 * (etc/policies/guard.rules, found from the repository root or from
 * tests/fuzz; SQLBASTION_GUARD overrides the path), plus a few extra rules so
 * that globs, scopes and the regex path run too. The first byte chooses the
 * session state (standard_conforming_strings, client encoding, grant level,
 * and with its top bit the MySQL tokenizer); the rest is the statement text. Besides crashes and sanitizer reports, it
 * checks the result's invariants: NUL-terminated strings within their
 * buffers, a known action, a message for every denial; and that the
 * decision is the same with the literal-tuple fast path turned off
 * (policy_request.plain_classify).
 *
 * Build from the repository root (every .c file of policy/ is needed):
 *   clang -fsanitize=fuzzer,address -I. tests/fuzz/fuzz_pg_lexer.c policy/[a-z]*.c \
 *       $(pkg-config --cflags --libs libpcre2-8)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static struct policy *guard, *extra;
static struct policy_result res;

static struct policy *load_guard(void)
{
	static const char *const paths[] = {"etc/policies/guard.rules",
					     "../../etc/policies/guard.rules",
					     "../etc/policies/guard.rules"};
	struct policy_error e;
	const char *env = getenv("SQLBASTION_GUARD");
	if (env)
		return policy_load(env, &e);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct policy *p = policy_load(paths[i], &e);
		if (p)
			return p;
	}
	return policy_load(NULL, &e); /* empty policy: still exercises the classifier */
}

static void check(const struct policy_result *r)
{
	if (!r->fingerprint || strlen(r->fingerprint) >= r->fingerprint_cap ||
	    !r->objects || strlen(r->objects) >= r->objects_cap ||
	    strlen(r->objects) > 1024 || (unsigned)r->action > POLICY_KILL ||
	    memchr(r->rule, '\0', sizeof r->rule) == NULL ||
	    memchr(r->verb, '\0', sizeof r->verb) == NULL ||
	    ((r->action == POLICY_DENY || r->action == POLICY_KILL) &&
	     strncmp(r->message, "sqlbastion: blocked by rule '", 29) != 0) ||
	    ((r->flags & POLICY_F_UNPARSEABLE) && r->action < POLICY_DENY))
		abort();
}

static struct policy_result plain;

/* Two results of the same text agree on everything a caller reads. */
static int same_result(const struct policy_result *x, const struct policy_result *y)
{
	return x->action == y->action && !strcmp(x->rule, y->rule) && !strcmp(x->verb, y->verb) &&
	       !strcmp(x->message, y->message) && x->flags == y->flags &&
	       x->n_statements == y->n_statements && !strcmp(x->fingerprint, y->fingerprint) &&
	       !strcmp(x->objects, y->objects) && x->use_seen == y->use_seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const encodings[] = {NULL, "SJIS", "GBK", "GB18030",
						"JOHAB", "UTF8", "BIG5", "UHC"};
	if (!guard) {
		struct policy_error e;
		static const char rules[] =
			"kill k1 object=public.pay*,*.secret? users=!x\n"
			"review r1 function=lo_*,pg_sl??p verb=\"DELETE,DROP TABLE\"\n"
			"alert a1 regex=/(a|b)*c+\\bFROM\\b/i hours=22:00-06:00 level=read,write\n";
		guard = load_guard();
		extra = policy_load_text("fuzz.rules", rules, sizeof rules - 1, &e);
		policy_result_init(&res);
		policy_result_init(&plain);
		if (!extra)
			fprintf(stderr, "fuzz.rules:%d: %s\n", e.line, e.message);
		if (!guard || !extra)
			abort();
	}
	if (size == 0)
		return 0;

	uint8_t mode = data[0];
	struct policy_request q = {0};
	q.dialect = (mode & 0x80) ? POLICY_DIALECT_MYSQL : POLICY_DIALECT_PG;
	q.level = (enum policy_level)((mode >> 4) & 3);
	q.user = "fuzz";
	q.asset = "prod-db";
	q.account = "app";
	q.sql = (const char *)data + 1;
	q.sql_len = size - 1;
	q.now = 1700000000;
	q.std_strings_off = mode & 1;
	q.client_encoding = encodings[(mode >> 1) & 7];

	const struct policy *pol = (mode & 0x40) ? extra : guard;
	policy_evaluate(pol, &q, &res);
	check(&res);
	/* the literal-tuple fast path decides exactly as the plain path */
	q.plain_classify = 1;
	policy_evaluate(pol, &q, &plain);
	if (!same_result(&res, &plain))
		abort();
	return 0;
}
