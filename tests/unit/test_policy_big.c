/* Unit tests: large literal-heavy statements and NUL bytes (issue 11 item 5).
 *
 * Real clients send a BLOB inside the statement text: MariaDB Connector/J
 * and node mariadb as _binary '...' with backslash escapes (a NUL byte as
 * backslash + NUL), others as 0x.. / X'..' hex, PostgreSQL clients as bytea
 * '\x..'. These must be classified (not fail-closed), the same way as the
 * small forms, in time linear in their size; a NUL outside a string literal
 * stays refused in both dialects.
 */
#include "policy/lex_scan.h"
#include "policy/policy.h"
#include "unit.h"

#include <stdlib.h>
#include <time.h>

#define GUARD "../../etc/policies/guard.rules"

static int eval_d(const struct policy *p, struct policy_result *r, const char *sql,
		  size_t len, enum policy_level level, enum policy_dialect dialect)
{
	struct policy_request q = {0};
	q.dialect = dialect;
	q.level = level;
	q.user = "tester";
	q.asset = "prod-db";
	q.account = "app";
	q.sql = sql;
	q.sql_len = len;
	q.now = time(NULL);
	return policy_evaluate(p, &q, r);
}

#define MY(p, r, s) eval_d((p), (r), (s), sizeof(s) - 1, POLICY_LEVEL_WRITE, POLICY_DIALECT_MYSQL)

static void test_nul(const struct policy *guard)
{
	struct policy_result r;
	policy_result_init(&r);

	/* data inside a string literal: Connector/J's escaped NUL, a raw NUL */
	MY(guard, &r, "INSERT INTO t VALUES ('a\\\0b')");
	CHECK(r.action == POLICY_ALLOW);
	CHECK_STR(r.fingerprint, "INSERT INTO t VALUES (?)");
	MY(guard, &r, "INSERT INTO t VALUES (_binary'\0', \"\0\0\", x'\0')");
	CHECK(r.action == POLICY_ALLOW);
	/* the statement after it is still read */
	MY(guard, &r, "SELECT 'x\0'; DROP TABLE t");
	CHECK(r.action == POLICY_DENY);
	CHECK_STR(r.rule, "no-drop");
	CHECK(r.n_statements == 2);

	/* anywhere else: the client and the server may not read the same text */
	MY(guard, &r, "SELECT 1\0");
	CHECK_STR(r.rule, "fail-closed");
	MY(guard, &r, "SELECT\0 1");
	CHECK_STR(r.rule, "fail-closed");
	MY(guard, &r, "SELECT 1 -- \0\nDROP TABLE t");
	CHECK(r.action == POLICY_DENY);
	MY(guard, &r, "SELECT 1 /* \0 */");
	CHECK_STR(r.rule, "fail-closed");
	MY(guard, &r, "SELECT `a\0b` FROM t");
	CHECK_STR(r.rule, "fail-closed");
	MY(guard, &r, "SELECT @'a\0'");
	CHECK_STR(r.rule, "fail-closed");
	MY(guard, &r, "SELECT 'a', '\0' \0");
	CHECK_STR(r.rule, "fail-closed");

	/* sql_mode readings: only a backslash before the token's quote can move
	 * its end, and then every mode's reading counts */
	MY(guard, &r, "SELECT 'a\\'; DROP TABLE t; -- '");
	CHECK_STR(r.rule, "no-drop");
	MY(guard, &r, "SELECT \"a\\\"; DROP TABLE t; -- \"");
	CHECK_STR(r.rule, "no-drop");
	MY(guard, &r, "SELECT 'a\\\\\\'; DROP TABLE t; -- '");
	CHECK_STR(r.rule, "no-drop");
	MY(guard, &r, "SELECT `a\\`; DROP TABLE t; -- `");
	CHECK_STR(r.rule, "no-drop");
	MY(guard, &r, "SELECT x'\\'; DROP TABLE t; -- '");
	CHECK_STR(r.rule, "no-drop");
	MY(guard, &r, "INSERT INTO t VALUES ('a\\nb\\tc\\\\', '\\\\'' ; DROP TABLE t -- ')");
	CHECK(r.action == POLICY_ALLOW);
	CHECK(r.n_statements == 1);

	/* PostgreSQL's Query is NUL-terminated: refused wherever it is */
	eval_d(guard, &r, "SELECT 'a\0b'", 12, POLICY_LEVEL_WRITE, POLICY_DIALECT_PG);
	CHECK_STR(r.rule, "fail-closed");
	policy_result_free(&r);
}

/* Every byte value, in a fixed pseudo-random order after 0..255. */
static void fill(unsigned char *b, size_t n)
{
	unsigned x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = i < 256 ? (unsigned char)i : (unsigned char)(x >> 16);
	}
}

/* "<head><value><tail>" where value is n bytes as: 'h' hex digits, 'e'
 * MySQL backslash escapes of \ ' " NUL (Connector/J), 'd' doubled quotes and
 * backslashes kept (PostgreSQL E'' with \\ and ''). *len gets the length. */
static char *build(const char *head, const char *tail, size_t n, char how, size_t *len)
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
	fill(raw, n);
	size_t k = h;
	memcpy(s, head, h);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = raw[i];
		if (how == 'h') {
			s[k++] = hx[c >> 4];
			s[k++] = hx[c & 15];
			continue;
		}
		if (how == 'd' && c == 0)
			c = '0'; /* PostgreSQL text holds no NUL */
		if (how == 'e' && (c == '\\' || c == '\'' || c == '"' || c == 0))
			s[k++] = '\\';
		if (how == 'd' && (c == '\\' || c == '\''))
			s[k++] = (char)c;
		s[k++] = (char)c;
	}
	memcpy(s + k, tail, t + 1);
	*len = k + t;
	free(raw);
	return s;
}

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct shape {
	const char *name;
	enum policy_dialect d;
	const char *head, *tail;
	char how;
	const char *fingerprint;
};

static const struct shape shapes[] = {
	{"mysql 0x", POLICY_DIALECT_MYSQL, "INSERT INTO blobs (id, b) VALUES (1, 0x", ")", 'h',
	 "INSERT INTO blobs(id, b) VALUES (?, ?)"},
	{"mysql X''", POLICY_DIALECT_MYSQL, "INSERT INTO blobs (id, b) VALUES (1, X'", "')", 'h',
	 "INSERT INTO blobs(id, b) VALUES (?, ?)"},
	{"mysql _binary", POLICY_DIALECT_MYSQL, "INSERT INTO blobs (id, b) VALUES (1, _binary '",
	 "')", 'e', "INSERT INTO blobs(id, b) VALUES (?, _binary ?)"},
	{"mysql comment", POLICY_DIALECT_MYSQL, "SELECT 1 /* ", " */ FROM t", 'h',
	 "SELECT ? FROM t"},
	{"mysql # comment", POLICY_DIALECT_MYSQL, "SELECT 1 # ", "\nFROM t", 'h',
	 "SELECT ? FROM t"},
	{"pg bytea", POLICY_DIALECT_PG, "INSERT INTO blobs (id, b) VALUES (1, '\\x", "')", 'h',
	 "INSERT INTO blobs(id, b) VALUES (?, ?)"},
	{"pg E''", POLICY_DIALECT_PG, "INSERT INTO blobs (id, b) VALUES (1, E'", "')", 'd',
	 "INSERT INTO blobs(id, b) VALUES (?, ?)"},
	{"pg comment", POLICY_DIALECT_PG, "SELECT 1 /* /* */ ", " */ FROM t", 'h',
	 "SELECT ? FROM t"},
	{"pg -- comment", POLICY_DIALECT_PG, "SELECT 1 -- ", "\nFROM t", 'h', "SELECT ? FROM t"},
};

/* Each shape at 16 MiB: classified as the small form is, refused at level
 * read when it writes; and 8x the size costs about 8x the time. */
static void test_big(const struct policy *guard)
{
	struct policy_result r;
	policy_result_init(&r);
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		const struct shape *sh = &shapes[i];
		size_t len, small_len;
		char *s = build(sh->head, sh->tail, 8u << 20, sh->how, &len);
		char *small = build(sh->head, sh->tail, 1u << 20, sh->how, &small_len);
		CHECK(s && small);
		if (!s || !small) {
			free(s);
			free(small);
			continue;
		}
		eval_d(guard, &r, s, len, POLICY_LEVEL_WRITE, sh->d);
		if (r.action != POLICY_ALLOW || strcmp(r.fingerprint, sh->fingerprint))
			fprintf(stderr, "%s: %s by '%s', fingerprint \"%.80s\"\n", sh->name,
				policy_action_name(r.action), r.rule, r.fingerprint);
		CHECK(r.action == POLICY_ALLOW);
		CHECK_STR(r.fingerprint, sh->fingerprint);
		eval_d(guard, &r, s, len, POLICY_LEVEL_READ, sh->d);
		CHECK((r.action == POLICY_DENY) == (sh->head[0] == 'I'));

		/* linear: best of 3 at 1 MiB and at 8 MiB, CPU time of this thread */
		double t_small = 1e30, t_big = 1e30;
		for (int k = 0; k < 3; k++) {
			double t0 = cpu_ns();
			eval_d(guard, &r, small, small_len, POLICY_LEVEL_WRITE, sh->d);
			double t1 = cpu_ns();
			eval_d(guard, &r, s, len, POLICY_LEVEL_WRITE, sh->d);
			double t2 = cpu_ns();
			if (t1 - t0 < t_small)
				t_small = t1 - t0;
			if (t2 - t1 < t_big)
				t_big = t2 - t1;
		}
		printf("policy_big: %-16s %9zu bytes %8.1f ms %7.0f MB/s\n", sh->name, len,
		       t_big / 1e6, (double)len / t_big * 1e3);
		CHECK(t_big < 20 * t_small + 2e6);
		free(s);
		free(small);
	}
	policy_result_free(&r);
}

/* The generated class table says what lex_scan.h's comments say. */
static void test_ctype(void)
{
	int bad = 0;
	for (int c = 0; c < 256; c++) {
		unsigned want = 0;
		if (c && strchr(" \t\n\r\f\v", c))
			want |= LC_SPACE;
		if (c >= '0' && c <= '9')
			want |= LC_DIGIT | LC_HEX | LC_WORD;
		if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			want |= LC_HEX;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
			want |= LC_WORD;
		if (c >= 0x80)
			want |= LC_WORD | LC_HIGH;
		if (c == '$')
			want |= LC_DOLLAR;
		if (c == '\'')
			want |= LC_SQUOTE;
		if (c == '"')
			want |= LC_DQUOTE;
		if (c == '\\')
			want |= LC_BSLASH;
		if (c == '`')
			want |= LC_BTICK;
		if (c == '\n' || c == '\r')
			want |= LC_NL;
		if (c && strchr("~!%^&*-+=|<>/:", c))
			want |= LC_MYOP;
		if (c == '*')
			want |= LC_STAR;
		if (c == '/')
			want |= LC_SLASH;
		if (lex_ctype[c] != want) {
			fprintf(stderr, "lex_ctype[%d] = 0x%04x, want 0x%04x\n", c, lex_ctype[c], want);
			bad++;
		}
	}
	CHECK(bad == 0);
}

int main(void)
{
	struct policy_error e;
	struct policy *guard = policy_load(GUARD, &e);
	if (!guard) {
		fprintf(stderr, "cannot load %s: %s:%d: %s\n", GUARD, e.file, e.line, e.message);
		return 1;
	}
	test_ctype();
	test_nul(guard);
	test_big(guard);
	policy_unref(guard);
	return UNIT_DONE("policy_big");
}
