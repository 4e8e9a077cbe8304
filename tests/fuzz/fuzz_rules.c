/* libFuzzer target: the rule-file parser (policy/rules.c via
 * policy_load_text) and, for every input that parses, the matcher.
 *
 * The input is a rule file. A file that fails to parse must say where: a
 * line number within the file and a message. A file that parses is then
 * applied to a handful of statements of both dialects and every grant level,
 * so that globs, negated lists, hours and regexes compiled from fuzzed text
 * run too. Invariants besides crashes and sanitizer reports: the error line
 * lies inside the input, the result's strings are NUL-terminated, a denial
 * names a rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static const char *const statements[] = {
	"SELECT * FROM public.payroll WHERE id = 1",
	"DROP TABLE hr.salaries",
	"DELETE FROM t",
	"UPDATE t SET a = 1 WHERE 1=1",
	"COPY t TO PROGRAM 'curl x'",
	"SELECT pg_sleep(1), lo_import('/etc/passwd')",
	"SET default_transaction_read_only = off",
	"SELECT LOAD_FILE('/etc/passwd') INTO OUTFILE '/tmp/x'",
	"PREPARE s FROM @q",
};

static void check(const struct policy_result *r)
{
	if (!r->fingerprint || strlen(r->fingerprint) >= r->fingerprint_cap ||
	    (unsigned)r->action > POLICY_KILL ||
	    memchr(r->rule, '\0', sizeof r->rule) == NULL ||
	    ((r->action == POLICY_DENY || r->action == POLICY_KILL) && r->rule[0] == '\0'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy_result res;
	static int ready;
	if (!ready) {
		policy_result_init(&res);
		ready = 1;
	}
	struct policy_error e;
	memset(&e, 0, sizeof e);
	struct policy *p = policy_load_text("fuzz.rules", (const char *)data, size, &e);
	if (!p) {
		size_t lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (e.line < 0 || (size_t)e.line > lines || e.message[0] == '\0' ||
		    memchr(e.message, '\0', sizeof e.message) == NULL)
			abort();
		return 0;
	}
	for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++) {
		struct policy_request q = {0};
		q.dialect = (i & 1) ? POLICY_DIALECT_MYSQL : POLICY_DIALECT_PG;
		q.level = (enum policy_level)(i % 4);
		q.user = (i & 2) ? "alice" : "ops-carol";
		q.asset = "prod-db";
		q.account = "app";
		q.sql = statements[i];
		q.sql_len = strlen(statements[i]);
		q.now = 1700000000 + (int64_t)i * 7919;
		policy_evaluate(p, &q, &res);
		check(&res);
	}
	policy_unref(p);
	return 0;
}
