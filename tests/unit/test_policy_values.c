/* Unit tests: the literal-tuple fast path (policy/cls_values.c) decides
 * exactly as the plain token-by-token path (issue 11 item 5).
 *
 * Differential: random statements built around VALUES lists (and other
 * places where a '(' follows VALUES or ','), with adversarial literal
 * contents (doubled quotes, backslashes before quotes, comment and
 * statement markers inside and between literals, bytes 0x80-0xff, 0x5c as
 * the second byte of a multibyte character, NUL bytes, unterminated
 * literals), are classified with and without the fast path under every
 * lexing reading (PostgreSQL standard_conforming_strings on/off, MySQL
 * sql_mode unknown / NO_BACKSLASH_ESCAPES / ANSI_QUOTES, the client
 * encodings whose characters can hold a backslash). Both the classifier's
 * per-statement output (verb, flags, DML bits, fingerprint, names, kill
 * targets, the lexer's ambiguity bits) and policy_evaluate's whole result
 * must be identical. A few fixed cases check that the fast path is taken
 * and what it writes.
 */
#include "policy/classify.h"
#include "policy/policy.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define GUARD "../../etc/policies/guard.rules"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

struct buf {
	char s[8192];
	size_t n;
};

static void put(struct buf *b, const char *s)
{
	size_t l = strlen(s);
	if (b->n + l < sizeof b->s) {
		memcpy(b->s + b->n, s, l);
		b->n += l;
	}
}

static void putc_(struct buf *b, char c)
{
	if (b->n + 1 < sizeof b->s)
		b->s[b->n++] = c;
}

/* Bytes for the inside of a quoted literal: the tricky ones often. */
static void literal_body(struct buf *b)
{
	static const char *const bits[] = {
		"a", "xyz", "''", "'", "\\", "\\'", "\\\\", "\"", "\"\"", "*/", "/*", "--",
		"-- ", "#", ";", "\n", "`", "$$", "$a$", "(", ")", ",", "?", "@", "N", "0x",
		"\\0", "\\n", "\x81\\", "\x82'", "\xa1\\", "\x81\x30\x81\x30", "\xff", "\x80",
		"\xe3\x81\x82", "\x5c\x27", "DROP TABLE t",
	};
	int k = (int)rnd(6);
	for (int i = 0; i < k; i++) {
		if (rnd(20) == 0)
			putc_(b, '\0');
		else
			put(b, bits[rnd(sizeof bits / sizeof bits[0])]);
	}
}

static void item(struct buf *b)
{
	switch (rnd(30)) {
	case 0: case 1: case 2: case 3:
		put(b, "'");
		literal_body(b);
		put(b, "'");
		break;
	case 4:
		put(b, "\"");
		literal_body(b);
		put(b, "\"");
		break;
	case 5: put(b, "E'"); literal_body(b); put(b, "'"); break;
	case 6: put(b, "N'"); literal_body(b); put(b, "'"); break;
	case 7: put(b, rnd(2) ? "X'0a1B'" : "x'zz'"); break;
	case 8: put(b, "B'0101'"); break;
	case 9: put(b, rnd(2) ? "_binary '" : "_utf8mb4'"); literal_body(b); put(b, "'"); break;
	case 10: put(b, rnd(2) ? "12345" : "-7"); break;
	case 11: put(b, rnd(2) ? "1.5e-3" : "+2"); break;
	case 12: put(b, rnd(2) ? "0x1f" : "0b101"); break;
	case 13: put(b, rnd(2) ? "0x1g" : "1abc"); break;
	case 14: put(b, rnd(2) ? "NULL" : "null"); break;
	case 15: put(b, rnd(2) ? "TRUE" : "false"); break;
	case 16: put(b, "DEFAULT"); break;
	case 17: put(b, rnd(2) ? "now()" : "f(1, 'a')"); break;
	case 18: put(b, rnd(2) ? "?" : "$1"); break;
	case 19: put(b, rnd(2) ? "@v" : rnd(2) ? "col" : "mysql"); break;
	case 20: put(b, rnd(2) ? "(1)" : "(SELECT 1)"); break;
	case 21: put(b, rnd(2) ? "date '2026-12-02'" : "a.b"); break;
	case 22: put(b, rnd(2) ? "--5" : "- 5"); break;
	case 23: put(b, rnd(2) ? "'a'\n'b'" : "'a' -- c\n'b'"); break;
	case 24: put(b, rnd(2) ? "U&'d\\0061t'" : "$$x$$"); break;
	case 25: put(b, rnd(2) ? "`q`" : "\xe3\x81\x82"); break;
	case 26: put(b, rnd(2) ? "1 /* c */" : "/*!40000 1 */"); break;
	case 27: put(b, rnd(2) ? "'x" : "sleep(1)"); break;
	case 28: {
		static const char *const words[] = {
			"select", "current_user", "from", "where", "table", "into", "with", "insert",
			"values", "set", "on", "as", "join", "using", "returning", "row", "begin",
			"end", "case", "atomic", "Null", "True", "t", "a\x81", "a\xe3\x81\x82", "x\x81",
			"pg_read_file", "_binary", "next value for s", "e", "u&", "n", "$1", "a$b",
		};
		put(b, words[rnd(sizeof words / sizeof words[0])]);
		break;
	}
	default: put(b, "'plain'"); break;
	}
}

static void blank(struct buf *b)
{
	static const char *const sp[] = {"", "", "", " ", " ", "  ", "\n", "\t", " -- c\n", "/* c */",
					 "#c\n", "/*!", "*/"};
	put(b, sp[rnd(rnd(4) ? 6 : sizeof sp / sizeof sp[0])]);
}

static void tuples(struct buf *b)
{
	int n = 1 + (int)rnd(6);
	for (int t = 0; t < n; t++) {
		if (t) {
			blank(b);
			put(b, rnd(15) ? "," : ";");
			blank(b);
		}
		put(b, "(");
		blank(b);
		int k = (int)rnd(5);
		for (int i = 0; i < k; i++) {
			if (i) {
				blank(b);
				putc_(b, ',');
				blank(b);
			}
			if (rnd(4))
				put(b, rnd(3) ? "'s'" : rnd(2) ? "1" : "col");
			else
				item(b);
		}
		blank(b);
		if (rnd(30))
			put(b, ")");
	}
}

static void statement(struct buf *b)
{
	static const char *const heads[] = {
		"INSERT INTO t VALUES ", "INSERT INTO t (a, b) VALUES ", "insert into s.t values",
		"REPLACE INTO t VALUES ", "INSERT IGNORE t VALUES ", "VALUES ", "values",
		"SELECT * FROM (VALUES ", "INSERT INTO t SELECT * FROM (VALUES ",
		"DELETE FROM t WHERE (a, b) IN (VALUES ", "WITH x AS (VALUES ",
		"CREATE TABLE t AS VALUES ", "EXPLAIN ANALYZE INSERT INTO t VALUES ",
		"EXPLAIN INSERT INTO t VALUES ", "/*!40000 INSERT INTO t VALUES ", "SELECT f(1, ",
		"UPDATE t SET a = (", "SELECT * FROM t WHERE a IN (1, ", "KILL (",
		"SELECT pg_terminate_backend(1, ", "SELECT set_config('a', ",
		"INSERT INTO mysql.user VALUES ", "INSERT INTO pg_catalog.pg_authid VALUES ",
		"MERGE INTO t USING (VALUES ", "CREATE FUNCTION f() RETURNS int AS 'x' ; VALUES ",
		"SELECT 1 FROM t, (VALUES ", "COPY t FROM STDIN; INSERT INTO t VALUES ",
		"INSERT INTO t VALUES ROW", "PREPARE s AS INSERT INTO t VALUES ",
		"SET a = (VALUES ", "DO $$ BEGIN INSERT INTO t VALUES ", "BEGIN NOT ATOMIC INSERT INTO t VALUES ",
		/* states where a '(' after ',' is not quiet: FROM lists, write
		 * target lists, GRANT lists, WHERE, MERGE, DDL, KILL */
		"SELECT * FROM t, ", "DELETE FROM t1, ", "UPDATE t1, ", "TRUNCATE t, ",
		"GRANT SELECT ON t, ", "DELETE FROM t WHERE 1 IN (VALUES ",
		"UPDATE t SET a = 1 WHERE 1 = 1 OR 2 IN (VALUES ", "DELETE FROM t WHERE a IN (1, ",
		"MERGE INTO t USING s ON 1 IN (VALUES ", "CREATE TABLE t (a int) ENGINE = CONNECT, ",
		"ALTER TABLE t ADD x int, ", "KILL 1, ", "SELECT pg_terminate_backend(pid, ",
		"SELECT set_config(1, ", "VACUUM (VERBOSE), ", "SELECT a FROM t WHERE b = 1 AND c IN (VALUES ",
		"INSERT INTO t VALUES (1), ", "SELECT * FROM f(1, ", "SELECT 1 FROM (VALUES ",
		"EXPLAIN (ANALYZE, ", "COPY t FROM (VALUES ", "SET STATEMENT a = 1 FOR INSERT INTO t VALUES ",
		"CREATE FUNCTION f() BEGIN ATOMIC INSERT INTO t VALUES ",
		"SELECT * FROM VALUES ", "INSERT INTO values ", "INSERT INTO t.values ", "DELETE FROM t WHERE 1 IN (1, ", "SELECT * FROM t WHERE 1 IN (VALUES ",
	};
	static const char *const tails[] = {
		"", "", ";", "; DROP TABLE t", " ON DUPLICATE KEY UPDATE a = VALUES(a)", " */",
		") a", ") AS v(a, b)", " RETURNING *", "'", "\"", " -- x", ")) x", ", (SELECT 1)",
		" $$", " END", ";\nDELETE FROM t", ", now()", " , (1, 'a' ", ") WHERE a = 1",
		" f(1)", " pg_read_file('x')", ") x f(1)", ") AND 1 = 1", ") OR 1 = 1", "))",
	};
	b->n = 0;
	put(b, heads[rnd(sizeof heads / sizeof heads[0])]);
	tuples(b);
	put(b, tails[rnd(sizeof tails / sizeof tails[0])]);
}

/* ---- classifier level ---------------------------------------------------- */

struct snap {
	char text[32768];
	size_t n;
	int amb;
};

static void snap_put(struct snap *s, const void *p, size_t n)
{
	if (n && s->n + n < sizeof s->text) {
		memcpy(s->text + s->n, p, n);
		s->n += n;
	}
}

/* Everything the classifier reports for text under opts, as bytes. */
static void classify_all(const char *sql, size_t len, struct cls_opts *opts, struct snap *s)
{
	struct cls_batch *b = malloc(sizeof *b);
	struct policy_result out;
	struct cls_names names = {0};
	struct cls_stmt st;

	policy_result_init(&out);
	s->n = 0;
	if (!b)
		return;
	cls_begin(b, sql, len, opts, &out, &names);
	int rc;
	while ((rc = cls_next(b, &st)) == 1) {
		snap_put(s, st.verb, strlen(st.verb) + 1);
		snap_put(s, &st.flags, sizeof st.flags);
		snap_put(s, &st.dml, sizeof st.dml);
		snap_put(s, &st.call, sizeof st.call);
		snap_put(s, &st.kill, sizeof st.kill);
		snap_put(s, out.fingerprint + st.fp_start, st.fp_len);
		snap_put(s, "|", 1);
		snap_put(s, st.names, st.names_len);
		size_t bo = st.body ? (size_t)(st.body - sql) : (size_t)-1;
		snap_put(s, &bo, sizeof bo);
		snap_put(s, &st.body_len, sizeof st.body_len);
	}
	snap_put(s, &rc, sizeof rc);
	snap_put(s, out.objects, strlen(out.objects) + 1);
	s->amb = b->lx.ambiguous | (b->lx.versioned << 1);
	free(names.buf);
	policy_result_free(&out);
	free(b);
}

static struct snap sa, sb;

static int same_classification(const char *sql, size_t len, struct cls_opts opts)
{
	opts.plain_path = 0;
	classify_all(sql, len, &opts, &sa);
	opts.plain_path = 1;
	classify_all(sql, len, &opts, &sb);
	return sa.n == sb.n && memcmp(sa.text, sb.text, sa.n) == 0 && sa.amb == sb.amb;
}

/* ---- policy level ---------------------------------------------------------- */

static int same_result(const struct policy_result *x, const struct policy_result *y)
{
	return x->action == y->action && !strcmp(x->rule, y->rule) && !strcmp(x->verb, y->verb) &&
	       !strcmp(x->message, y->message) && x->flags == y->flags &&
	       x->n_statements == y->n_statements && !strcmp(x->fingerprint, y->fingerprint) &&
	       !strcmp(x->objects, y->objects) && x->use_seen == y->use_seen &&
	       !strcmp(x->use_db, y->use_db);
}

static void dump(const char *what, const char *sql, size_t len)
{
	fprintf(stderr, "%s differs for: ", what);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)sql[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('\n', stderr);
}

static void differential(const struct policy *guard)
{
	static const char *const pg_enc[] = {NULL, "SJIS", "BIG5", "GBK", "GB18030", "JOHAB"};
	static const char *const my_enc[] = {NULL, "sjis", "big5", "gbk", "gb18030"};
	static const unsigned my_modes[] = {0, POLICY_MY_MODE_KNOWN,
					    POLICY_MY_MODE_KNOWN | POLICY_MY_NO_BACKSLASH,
					    POLICY_MY_MODE_KNOWN | POLICY_MY_ANSI_QUOTES,
					    POLICY_MY_MODE_KNOWN | POLICY_MY_NO_BACKSLASH |
						    POLICY_MY_ANSI_QUOTES};
	struct policy_result r1, r2;
	struct buf b;
	int bad_cls = 0, bad_pol = 0, fast_taken = 0;

	policy_result_init(&r1);
	policy_result_init(&r2);
	/* VALUES_ITER / VALUES_SEED: longer or other runs by hand */
	const char *it = getenv("VALUES_ITER"), *seed = getenv("VALUES_SEED");
	int iters = it ? atoi(it) : 12000;
	if (seed)
		rng ^= strtoull(seed, NULL, 10) * 0x2545f4914f6cdd1dull;
	for (int i = 0; i < iters; i++) {
		statement(&b);
		int my = (int)rnd(2);
		struct policy_request q = {0};
		q.dialect = my ? POLICY_DIALECT_MYSQL : POLICY_DIALECT_PG;
		q.level = (enum policy_level)rnd(4);
		q.user = "tester";
		q.asset = "prod-db";
		q.account = "app";
		q.sql = b.s;
		q.sql_len = b.n;
		q.now = 1700000000;
		q.std_strings_off = !my && rnd(3) == 0;
		q.client_encoding = my ? my_enc[rnd(5)] : pg_enc[rnd(6)];
		q.mysql_mode = my ? my_modes[rnd(5)] : 0;
		q.server_version = my && rnd(2) ? 101106 : 0;
		q.server_mariadb = q.server_version != 0;

		/* the classifier under the same readings policy.c uses */
		struct cls_opts o = {.std_strings = !q.std_strings_off,
				     .enc = lex_encoding_from_name(q.client_encoding)};
		if (my)
			o = (struct cls_opts){
				.mysql = 1,
				.std_strings = (q.mysql_mode & POLICY_MY_NO_BACKSLASH) != 0,
				.ansi_quotes = (q.mysql_mode & POLICY_MY_ANSI_QUOTES) != 0,
				.enc = lex_my_encoding_from_name(q.client_encoding),
				.skip_versioned = (int)rnd(2)};
		if (!same_classification(b.s, b.n, o) && bad_cls++ < 5)
			dump("classification", b.s, b.n);
		/* was the fast path taken at all? (the fingerprints agree, so
		 * count statements where the plain path needs more tokens) */
		fast_taken += strstr(b.s, "VALUES (") != NULL;

		q.plain_classify = 0;
		int rc1 = policy_evaluate(guard, &q, &r1);
		q.plain_classify = 1;
		int rc2 = policy_evaluate(guard, &q, &r2);
		if ((rc1 != rc2 || !same_result(&r1, &r2)) && bad_pol++ < 5) {
			dump("policy result", b.s, b.n);
			fprintf(stderr, "  fast: %s %s %x %s\n  plain: %s %s %x %s\n",
				policy_action_name(r1.action), r1.rule, r1.flags, r1.fingerprint,
				policy_action_name(r2.action), r2.rule, r2.flags, r2.fingerprint);
		}
	}
	CHECK(bad_cls == 0);
	CHECK(bad_pol == 0);
	CHECK(fast_taken > 100);
	policy_result_free(&r1);
	policy_result_free(&r2);
}

/* ---- fixed cases ----------------------------------------------------------- */

/* Classify text with the fast path; returns the tokens cls_values read
 * (the fingerprint alone cannot tell the paths apart). */
static void fixed(void)
{
	struct cls_opts pg = {.std_strings = 1};
	struct cls_opts my = {.mysql = 1};
	struct policy_result out;
	struct cls_names names = {0};
	struct cls_stmt st;
	struct cls_batch *b = malloc(sizeof *b);

	policy_result_init(&out);
	if (!b) {
		CHECK(0);
		return;
	}
	const char *s = "INSERT INTO t VALUES (1, 'a''b', NULL), (-2, E'\\'', DEFAULT),(x'1f',b'1')";
	cls_begin(b, s, strlen(s), &pg, &out, &names);
	CHECK(cls_next(b, &st) == 1);
	CHECK_STR(out.fingerprint,
		  "INSERT INTO t VALUES (?, ?, NULL), (- ?, ?, DEFAULT), (?, ?)");
	CHECK(b->fast_stop == NULL && b->ntok == 26);
	CHECK(cls_next(b, &st) == 0);

	/* MySQL: an introducer, a backslash before the quote (ambiguous) */
	s = "INSERT INTO t VALUES (_binary'\\'', \"x\"), (0x1F, TRUE)";
	cls_begin(b, s, strlen(s), &my, &out, &names);
	CHECK(cls_next(b, &st) == 1);
	CHECK_STR(out.fingerprint, "INSERT INTO t VALUES (_binary ?, ?), (?, TRUE)");
	CHECK(b->lx.ambiguous == 1);

	/* a row it cannot take is read by the plain path; the next ones again
	 * by the fast path */
	s = "INSERT INTO t VALUES (1), (now()), (2), (3)";
	cls_begin(b, s, strlen(s), &pg, &out, &names);
	CHECK(cls_next(b, &st) == 1);
	CHECK_STR(out.fingerprint, "INSERT INTO t VALUES (?), (now()), (?), (?)");
	CHECK(st.names_len == 8 && st.names[0] == 'o' && st.names[3] == 'f');

	/* a statement after the list is still seen */
	s = "INSERT INTO t VALUES ('a;'), ('--');DROP TABLE u";
	cls_begin(b, s, strlen(s), &my, &out, &names);
	CHECK(cls_next(b, &st) == 1);
	CHECK(cls_next(b, &st) == 1);
	CHECK_STR(st.verb, "DROP TABLE");
	CHECK(cls_next(b, &st) == 0);

	/* NUL bytes inside MySQL strings the fast path passed, then a NUL
	 * outside one: still refused */
	static const char nul[] = "INSERT INTO t VALUES ('a\0b'), ('\0') \0";
	cls_begin(b, nul, sizeof nul - 1, &my, &out, &names);
	CHECK(cls_next(b, &st) == 1);
	CHECK(st.flags & POLICY_F_UNPARSEABLE);
	static const char nul2[] = "INSERT INTO t VALUES ('a\0b'), ('\0')";
	cls_begin(b, nul2, sizeof nul2 - 1, &my, &out, &names);
	CHECK(cls_next(b, &st) == 1);
	CHECK(!(st.flags & POLICY_F_UNPARSEABLE));

	/* SJIS: 0x81 0x5c is one character, the quote after it closes */
	s = "INSERT INTO t VALUES ('\x81\x5c'), (1); DROP TABLE u";
	struct cls_opts sj = {.mysql = 1, .enc = LEX_ENC_SJIS};
	cls_begin(b, s, strlen(s), &sj, &out, &names);
	CHECK(cls_next(b, &st) == 1);
	CHECK_STR(out.fingerprint, "INSERT INTO t VALUES (?), (?)");
	CHECK(cls_next(b, &st) == 1);
	CHECK_STR(st.verb, "DROP TABLE");
	/* ... and without it the backslash escapes the quote */
	cls_begin(b, s, strlen(s), &my, &out, &names);
	CHECK(cls_next(b, &st) == 1);
	CHECK(st.flags & POLICY_F_UNPARSEABLE);

	free(names.buf);
	policy_result_free(&out);
	free(b);
}

/* A 16 MiB list of small rows classifies in linear time (the fast path:
 * well under the plain path's ~35 ns per token). */
static void big_rows(const struct policy *guard)
{
	size_t cap = 16u << 20, n = 0;
	char *s = malloc(cap + 64);
	if (!s) {
		CHECK(0);
		return;
	}
	n += (size_t)snprintf(s, cap, "INSERT INTO t VALUES ");
	for (int i = 0; n < cap - 64; i++)
		n += (size_t)snprintf(s + n, cap + 64 - n, "%s(%d,'r%d',NULL)", i ? "," : "", i, i);
	struct policy_request q = {.dialect = POLICY_DIALECT_MYSQL, .level = POLICY_LEVEL_WRITE,
				   .user = "tester", .asset = "prod-db", .account = "app",
				   .sql = s, .sql_len = n, .now = 1700000000};
	struct policy_result r;
	policy_result_init(&r);
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	CHECK(policy_evaluate(guard, &q, &r) == 0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(r.action == POLICY_ALLOW);
	CHECK(strncmp(r.fingerprint, "INSERT INTO t VALUES (?, ?, NULL), (?, ?, NULL)", 47) == 0);
	/* generous for sanitizer builds and a shared machine; the plain
	 * path alone takes about 150 ms without sanitizers */
	CHECK(ms < 2000);
	printf("16 MiB of small rows: %.1f ms\n", ms);
	policy_result_free(&r);
	free(s);
}

int main(void)
{
	struct policy_error err;
	struct policy *guard = policy_load(GUARD, &err);
	if (!guard) {
		fprintf(stderr, "guard.rules: %s\n", err.message);
		return 1;
	}
	fixed();
	differential(guard);
	big_rows(guard);
	policy_unref(guard);
	return UNIT_DONE("test_policy_values");
}
