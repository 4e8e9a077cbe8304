/* libFuzzer target: the MySQL/MariaDB tokenizer on its own, then the whole
 * MySQL classification and decision.
 *
 * The first byte chooses the lexer modes (bit 0 NO_BACKSLASH_ESCAPES, bit 1
 * ANSI_QUOTES, bit 2 versioned comments read as comments, bits 3-4 the
 * client encoding, bit 5 the grant level, bit 6 a known MariaDB 10.11
 * server version, bit 7 an operate grant); the rest is the text. Checks, on
 * top of crashes and sanitizer reports: every token lies inside the input
 * and the lexer always moves forward and ends (EOF or ERROR); then
 * policy_evaluate under the guard policy keeps its result invariants
 * (NUL-terminated strings inside their buffers, unparseable text denied)
 * and decides exactly as with the literal-tuple fast path turned off
 * (policy_request.plain_classify), in the ASCII-safe character set and in
 * the one bits 3-4 choose.
 *
 * Build from the repository root:
 *   clang -fsanitize=fuzzer,address -I. tests/fuzz/fuzz_my_lexer.c policy/[a-z]*.c \
 *       $(pkg-config --cflags --libs libpcre2-8)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/lexer.h"
#include "policy/policy.h"

static struct policy *guard;
static struct policy_result res;

static struct policy *load_guard(void)
{
	static const char *const paths[] = {"etc/policies/guard.rules",
					     "../../etc/policies/guard.rules",
					     "../etc/policies/guard.rules"};
	struct policy_error e;
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct policy *p = policy_load(paths[i], &e);
		if (p)
			return p;
	}
	return policy_load(NULL, &e);
}

/* Sessions "owned" by the fuzzed user: odd ids. */
static int owns_odd(void *ctx, uint64_t id, enum policy_session_id how)
{
	(void)ctx;
	(void)how;
	return (int)(id & 1);
}

static struct policy_result plain;
static const char *const my_encs[] = {NULL, "sjis", "gbk", "gb18030"};

/* Two results of the same text agree on everything a caller reads. */
static int same_result(const struct policy_result *x, const struct policy_result *y)
{
	return x->action == y->action && !strcmp(x->rule, y->rule) && !strcmp(x->verb, y->verb) &&
	       !strcmp(x->message, y->message) && x->flags == y->flags &&
	       x->n_statements == y->n_statements && !strcmp(x->fingerprint, y->fingerprint) &&
	       !strcmp(x->objects, y->objects) && x->use_seen == y->use_seen &&
	       !strcmp(x->use_db, y->use_db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum lex_encoding encs[] = {LEX_ENC_ASCII_SAFE, LEX_ENC_SJIS,
						 LEX_ENC_DOUBLE, LEX_ENC_GB18030};
	if (!guard) {
		guard = load_guard();
		policy_result_init(&res);
		policy_result_init(&plain);
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const char *sql = (const char *)data + 1;
	size_t len = size - 1;

	struct lex lx;
	struct lex_token t;
	myl_init(&lx, sql, len, mode & 1, (mode >> 1) & 1, encs[(mode >> 3) & 3]);
	lx.skip_versioned = (mode >> 2) & 1;
	if ((mode >> 6) & 1) {
		lx.server_version = 101106;
		lx.server_mariadb = 1;
	}
	const char *last = sql;
	for (size_t n = 0;; n++) {
		enum lex_kind k = myl_next(&lx, &t);
		if (k == LEX_EOF || k == LEX_ERROR)
			break;
		if (t.s < sql || t.s + t.len > sql + len || t.s < last || n > len + 1)
			abort();
		last = t.s;
	}

	struct policy_request req = {.dialect = POLICY_DIALECT_MYSQL,
				     .level = (mode >> 5) & 1 ? POLICY_LEVEL_READ
							      : POLICY_LEVEL_WRITE,
				     .user = "fuzz", .asset = "a", .account = "b",
				     .sql = sql, .sql_len = len, .now = 0,
				     .server_version = (mode >> 6) & 1 ? 101106 : 0,
				     .server_mariadb = (mode >> 6) & 1,
				     .owns_session = owns_odd};
	if ((mode >> 7) & 1)
		req.level = POLICY_LEVEL_OPERATE;
	(void)policy_evaluate(guard, &req, &res);
	if (!res.fingerprint || strlen(res.fingerprint) >= res.fingerprint_cap ||
	    !res.objects || strlen(res.objects) >= res.objects_cap ||
	    (unsigned)res.action > POLICY_KILL ||
	    ((res.flags & POLICY_F_UNPARSEABLE) && res.action < POLICY_DENY))
		abort();
	/* the literal-tuple fast path decides exactly as the plain path, also
	 * under a client character set whose characters can hold a backslash */
	req.plain_classify = 1;
	(void)policy_evaluate(guard, &req, &plain);
	if (!same_result(&res, &plain))
		abort();
	req.client_encoding = my_encs[(mode >> 3) & 3];
	req.plain_classify = 0;
	(void)policy_evaluate(guard, &req, &res);
	req.plain_classify = 1;
	(void)policy_evaluate(guard, &req, &plain);
	if (!same_result(&res, &plain))
		abort();
	return 0;
}
