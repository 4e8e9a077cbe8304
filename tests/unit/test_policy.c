/* Unit tests for policy/: the PostgreSQL tokenizer, the classifier, the rule
 * language and the decision.
 *
 * Most cases are tables in data/ (run from tests/unit, as `make unit` does):
 * policy_pg_cases.txt (verb, flags, decision under the shipped guard policy,
 * statement count) and policy_pg_fingerprints.txt (fingerprint, objects).
 * The rest (tokens, rule-file errors, rule conditions, session state,
 * grant levels, limits) are written here. A timing loop prints ns per
 * statement; it does not assert, machines differ. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/lexer.h"
#include "policy/policy.h"
#include "unit.h"

#define GUARD "../../etc/policies/guard.rules"

static const struct {
	const char *name;
	unsigned bit;
} flag_table[] = {
	{"writes", POLICY_F_WRITES},         {"ddl", POLICY_F_DDL},
	{"has-where", POLICY_F_HAS_WHERE},   {"trivial-where", POLICY_F_WHERE_TRIVIAL},
	{"dynamic", POLICY_F_DYNAMIC},       {"file-access", POLICY_F_FILE_ACCESS},
	{"rw-switch", POLICY_F_RW_SWITCH},   {"unparseable", POLICY_F_UNPARSEABLE},
	{"privilege", POLICY_F_PRIVILEGE},   {"tx-control", POLICY_F_TX_CONTROL},
	{"no-where", POLICY_F_NO_WHERE},     {"alter-drop", POLICY_F_ALTER_DROP},
	{"rename", POLICY_F_RENAME},         {"ends-session", POLICY_F_ENDS_SESSION},
	{"client-file", POLICY_F_CLIENT_FILE},
	{"server-admin", POLICY_F_SERVER_ADMIN},
};

static const char *flags_str(unsigned f, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof flag_table / sizeof flag_table[0]; i++) {
		if (!(f & flag_table[i].bit))
			continue;
		size_t l = strlen(buf);
		snprintf(buf + l, cap - l, "%s%s", l ? "," : "", flag_table[i].name);
	}
	return buf[0] ? buf : "-";
}

/* Parse "a,b" or "-"; returns -1 on an unknown name. */
static long flags_parse(const char *s)
{
	unsigned f = 0;
	if (!strcmp(s, "-"))
		return 0;
	while (*s) {
		size_t n = strcspn(s, ",");
		size_t i;
		for (i = 0; i < sizeof flag_table / sizeof flag_table[0]; i++)
			if (strlen(flag_table[i].name) == n && !strncmp(s, flag_table[i].name, n))
				break;
		if (i == sizeof flag_table / sizeof flag_table[0])
			return -1;
		f |= flag_table[i].bit;
		s += n + (s[n] == ',');
	}
	return (long)f;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Decode <NL> <CR> <TAB> <NUL> <xHH> into out; returns the length. */
static size_t decode(const char *in, char *out)
{
	size_t n = 0;
	while (*in) {
		if (!strncmp(in, "<NL>", 4)) {
			out[n++] = '\n';
			in += 4;
		} else if (!strncmp(in, "<CR>", 4)) {
			out[n++] = '\r';
			in += 4;
		} else if (!strncmp(in, "<TAB>", 5)) {
			out[n++] = '\t';
			in += 5;
		} else if (!strncmp(in, "<NUL>", 5)) {
			out[n++] = '\0';
			in += 5;
		} else if (in[0] == '<' && in[1] == 'x' && in[4] == '>') {
			char hex[3] = {in[2], in[3], 0};
			out[n++] = (char)strtol(hex, NULL, 16);
			in += 5;
		} else {
			out[n++] = *in++;
		}
	}
	out[n] = '\0';
	return n;
}

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

static int eval(const struct policy *p, struct policy_result *r, const char *sql,
		size_t len, enum policy_level level)
{
	return eval_d(p, r, sql, len, level, POLICY_DIALECT_PG);
}

static int run_cases(const struct policy *guard, const char *file,
		     enum policy_dialect dialect)
{
	FILE *f = fopen(file, "r");
	char line[8192], sql[8192], fb[256];
	int lineno = 0, cases = 0;
	struct policy_result r;

	CHECK(f != NULL);
	if (!f)
		return 0;
	policy_result_init(&r);
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *fld[4];
		char *p = line;
		int bad = 0;
		for (int i = 0; i < 4; i++) {
			char *bar = strchr(p, '|');
			if (!bar) {
				bad = 1;
				break;
			}
			*bar = '\0';
			fld[i] = trim(p);
			p = bar + 1;
		}
		if (bad) {
			fprintf(stderr, "%s:%d: malformed line\n", file, lineno);
			unit_failed++;
			continue;
		}
		while (*p == ' ')
			p++;
		size_t len = decode(p, sql);
		long want_flags = flags_parse(fld[1]);
		char *want_rule = strchr(fld[2], '/');
		if (want_rule)
			*want_rule++ = '\0';
		cases++;
		eval_d(guard, &r, sql, len, POLICY_LEVEL_WRITE, dialect);
		int ok = strcmp(r.verb, fld[0]) == 0 && want_flags >= 0 &&
			 r.flags == (unsigned)want_flags &&
			 strcmp(policy_action_name(r.action), fld[2]) == 0 &&
			 (!want_rule || strcmp(r.rule, want_rule) == 0) &&
			 r.n_statements == (unsigned)atoi(fld[3]);
		if (ok) {
			unit_passed++;
		} else {
			unit_failed++;
			fprintf(stderr,
				"%s:%d: %s\n  got  %s | %s | %s%s%s | %u\n"
				"  want %s | %s | %s%s%s | %s\n  fp   %s\n",
				file, lineno, p, r.verb, flags_str(r.flags, fb, sizeof fb),
				policy_action_name(r.action), r.rule[0] ? "/" : "", r.rule,
				r.n_statements, fld[0], fld[1], fld[2], want_rule ? "/" : "",
				want_rule ? want_rule : "", fld[3], r.fingerprint);
		}
	}
	fclose(f);
	policy_result_free(&r);
	return cases;
}

static int run_fingerprints(const struct policy *guard)
{
	FILE *f = fopen("data/policy_pg_fingerprints.txt", "r");
	char line[8192], sql[8192];
	int lineno = 0, cases = 0;
	struct policy_result r;

	CHECK(f != NULL);
	if (!f)
		return 0;
	policy_result_init(&r);
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *a = strstr(s, " | ");
		char *b = a ? strstr(a + 3, " | ") : NULL;
		if (!b) {
			fprintf(stderr, "policy_pg_fingerprints.txt:%d: malformed line\n", lineno);
			unit_failed++;
			continue;
		}
		*a = *b = '\0';
		const char *want_fp = s, *want_obj = a + 3;
		if (!strcmp(want_obj, "-"))
			want_obj = "";
		size_t len = decode(b + 3, sql);
		cases++;
		eval(guard, &r, sql, len, POLICY_LEVEL_ADMIN);
		if (!strcmp(r.fingerprint, want_fp) && !strcmp(r.objects, want_obj)) {
			unit_passed++;
		} else {
			unit_failed++;
			fprintf(stderr, "policy_pg_fingerprints.txt:%d:\n  got  [%s] [%s]\n  want [%s] [%s]\n",
				lineno, r.fingerprint, r.objects, want_fp, want_obj);
		}
	}
	fclose(f);
	policy_result_free(&r);
	return cases;
}

/* The tokens of sql as "KIND:text" joined by spaces. */
static void tokens(const char *sql, int std_strings, enum lex_encoding enc,
		   char *out, size_t cap)
{
	static const char *kinds[] = {"EOF", "ID", "QID", "STR", "NUM", "PAR", "OP",
				      "(", ")", "[", "]", ",", ";", ".", "ERR"};
	struct lex lx;
	struct lex_token t;
	size_t n = 0;

	pgl_init(&lx, sql, strlen(sql), std_strings, enc);
	out[0] = '\0';
	while (pgl_next(&lx, &t) != LEX_EOF && n + 1 < cap) {
		n += (size_t)snprintf(out + n, cap - n, "%s%s:%.*s", n ? " " : "",
				      kinds[t.kind], (int)t.len, t.s);
		if (t.kind == LEX_ERROR)
			break;
	}
}

static void test_lexer(void)
{
	char buf[1024], v[128];
	struct lex lx;
	struct lex_token t;

	tokens("SELECT a.b, \"X\"\"y\" FROM t;", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "ID:SELECT ID:a .:. ID:b ,:, QID:\"X\"\"y\" ID:FROM ID:t ;:;");
	tokens("x::int <= $1 || 'a' /* c */ -- d", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "ID:x OP::: ID:int OP:<= PAR:$1 OP:|| STR:'a'");
	tokens("a=-1 1..10 .5e3 0x1F", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "ID:a OP:= OP:- NUM:1 NUM:1 OP:.. NUM:10 NUM:.5e3 NUM:0x1F");
	tokens("1+/*x*/2 @-- c", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "NUM:1 OP:+ NUM:2 OP:@");
	tokens("$a$ x $a$ $$y$$ foo$$ $", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "STR:$a$ x $a$ STR:$$y$$ ID:foo$$ OP:$");
	tokens("E'a\\'b' 'c\\' U&'d' B'1' x'2' n'3'", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "STR:E'a\\'b' STR:'c\\' STR:U&'d' STR:B'1' STR:x'2' STR:n'3'");
	tokens("'a\\' , ' c", 0, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "STR:'a\\' , ' ID:c");
	tokens("'a'\n  'b' 'c'", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "STR:'a'\n  'b' STR:'c'");
	tokens("U&\"a\" UESCAPE '!' x", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "QID:U&\"a\" ID:x");
	tokens("SELECT 'open", 1, LEX_ENC_ASCII_SAFE, buf, sizeof buf);
	CHECK_STR(buf, "ID:SELECT ERR:");

	/* values */
	pgl_init(&lx, "E'a\\x41\\n\\u00e9''q'", 19, 1, LEX_ENC_ASCII_SAFE);
	pgl_next(&lx, &t);
	lex_string_value(&t, v, sizeof v);
	CHECK_STR(v, "aA\n\xc3\xa9'q");
	pgl_init(&lx, "'a'\n'b'", 7, 1, LEX_ENC_ASCII_SAFE);
	pgl_next(&lx, &t);
	lex_string_value(&t, v, sizeof v);
	CHECK_STR(v, "ab");
	pgl_init(&lx, "$q$x'y$q$", 9, 1, LEX_ENC_ASCII_SAFE);
	pgl_next(&lx, &t);
	lex_string_value(&t, v, sizeof v);
	CHECK_STR(v, "x'y");
	pgl_init(&lx, "U&\"a\\0062c\"", 11, 1, LEX_ENC_ASCII_SAFE);
	pgl_next(&lx, &t);
	lex_ident_value(&t, v, sizeof v);
	CHECK_STR(v, "abc");
	pgl_init(&lx, "MixedCase", 9, 1, LEX_ENC_ASCII_SAFE);
	pgl_next(&lx, &t);
	lex_ident_value(&t, v, sizeof v);
	CHECK_STR(v, "mixedcase");
	/* identifiers are cut to 63 bytes, as the server does */
	char longid[100];
	memset(longid, 'a', 80);
	longid[80] = '\0';
	pgl_init(&lx, longid, 80, 1, LEX_ENC_ASCII_SAFE);
	pgl_next(&lx, &t);
	CHECK(lex_ident_value(&t, v, sizeof v) == 63);

	CHECK(lex_encoding_from_name("sjis") == LEX_ENC_SJIS);
	CHECK(lex_encoding_from_name("UTF8") == LEX_ENC_ASCII_SAFE);
	CHECK(lex_encoding_from_name(NULL) == LEX_ENC_ASCII_SAFE);
}

static void expect_error(const char *text, int line, const char *needle)
{
	struct policy_error e;
	struct policy *p = policy_load_text("test.rules", text, strlen(text), &e);
	CHECK(p == NULL);
	if (p) {
		policy_unref(p);
		return;
	}
	CHECK_STR(e.file, "test.rules");
	CHECK(e.line == line);
	if (!strstr(e.message, needle)) {
		unit_failed++;
		fprintf(stderr, "rule error for [%s]: got \"%s\", want \"%s\"\n", text,
			e.message, needle);
	} else {
		unit_passed++;
	}
}

static void test_rule_errors(void)
{
	expect_error("bogus x verb=DROP", 1, "unknown action 'bogus'");
	expect_error("# c\n\ndeny a verb=DROP\ndeny a verb=TRUNCATE\n", 4,
		     "rule 'a' defined twice (first on line 3)");
	expect_error("deny x colour=red", 1, "unknown condition 'colour'");
	expect_error("allow ok\ndeny x regex=/(unclosed/", 2, "bad regex");
	expect_error("deny x regex=/a/q", 1, "unknown regex flag");
	expect_error("deny x regex=/open", 1, "unterminated regex");
	expect_error("deny x regex=nope", 1, "regex must be written /pattern/flags");
	expect_error("deny x flag=nope", 1, "unknown flag 'nope'");
	expect_error("deny x hours=9-18", 1, "bad hours '9-18'");
	expect_error("deny x hours=09:00-09:00", 1, "empty hours range");
	expect_error("deny", 1, "rule has no name");
	expect_error("deny # no name", 1, "rule has no name");
	expect_error("deny bad!name", 1, "bad rule name");
	expect_error("deny fail-closed verb=DROP", 1, "reserved");
	expect_error("deny x verb", 1, "not key=value");
	expect_error("deny x users=\"open", 1, "unterminated quote");
	expect_error("deny x verb=DROP verb=TRUNCATE", 1, "given twice");
	expect_error("deny x level=root", 1, "unknown level 'root'");
	expect_error("deny x users=a,,b", 1, "empty item");
	expect_error("deny x users=", 1, "empty value");
	expect_error("\r\n\r\nkill\r\n", 3, "rule has no name");

	struct policy_error e;
	struct policy *p = policy_load("/nonexistent/x.rules", &e);
	CHECK(p == NULL);
	CHECK_STR(e.file, "/nonexistent/x.rules");
	CHECK(e.line == 0);
	CHECK(strstr(e.message, "cannot open") != NULL);

	p = policy_load(NULL, &e);
	CHECK(p != NULL && policy_rule_count(p) == 0);
	CHECK(policy_ref(p) == p);
	policy_unref(p);
	policy_unref(p);

	const char *ok = "# fine\n  allow  a   verb=SELECT  # trailing\n"
			 "deny b verb=\"DROP TABLE, drop   view\" flag=!ddl\n"
			 "review c regex=/a\\/b/i users=!x,y hours=22:00-06:00,12:00-24:00\n";
	p = policy_load_text("ok.rules", ok, strlen(ok), &e);
	CHECK(p != NULL);
	CHECK(policy_rule_count(p) == 3);
	policy_unref(p);
}

static struct policy *load(const char *text)
{
	struct policy_error e;
	struct policy *p = policy_load_text("t.rules", text, strlen(text), &e);
	if (!p)
		fprintf(stderr, "load failed: %s:%d: %s\n", e.file, e.line, e.message);
	CHECK(p != NULL);
	return p;
}

/* Evaluate with a full request; returns the deciding rule name. */
static const char *decide(const struct policy *p, struct policy_result *r,
			  const char *sql, const char *user, const char *asset,
			  enum policy_level level, time_t now)
{
	struct policy_request q = {0};
	q.level = level;
	q.user = user;
	q.asset = asset;
	q.account = "app";
	q.sql = sql;
	q.sql_len = strlen(sql);
	q.now = now;
	policy_evaluate(p, &q, r);
	return r->rule;
}

static void test_rule_semantics(void)
{
	struct policy_result r;
	time_t noon, night;
	struct tm tm = {0};

	policy_result_init(&r);
	tm.tm_year = 124;
	tm.tm_mon = 5;
	tm.tm_mday = 3;
	tm.tm_hour = 12;
	tm.tm_isdst = -1;
	noon = mktime(&tm);
	tm.tm_hour = 23;
	tm.tm_min = 30;
	night = mktime(&tm);

	struct policy *p = load(
		"allow dba-drop users=dba-* verb=DROP hours=22:00-06:00\n"
		"deny no-drop verb=DROP\n"
		"kill no-payroll object=public.payroll\n"
		"review prod-delete verb=DELETE assets=prod-*\n"
		"alert sleepers function=pg_sleep,lo_*\n"
		"deny big-scan regex=/^SELECT \\* FROM big\\b/i\n"
		"deny not-view verb=\"DROP VIEW\"\n"
		"deny readers-no-fn level=read function=*\n"
		"deny others-no-hr object=hr.* users=!alice\n");

	CHECK_STR(decide(p, &r, "DROP TABLE t", "dba-1", "a", POLICY_LEVEL_ADMIN, night), "dba-drop");
	CHECK(r.action == POLICY_ALLOW);
	CHECK_STR(decide(p, &r, "DROP TABLE t", "dba-1", "a", POLICY_LEVEL_ADMIN, noon), "no-drop");
	CHECK_STR(r.message, "sqlbastion: blocked by rule 'no-drop'");
	CHECK_STR(decide(p, &r, "DROP TABLE t", "bob", "a", POLICY_LEVEL_ADMIN, night), "no-drop");

	/* object globs compare parts from the right */
	CHECK_STR(decide(p, &r, "SELECT * FROM payroll", "bob", "a", POLICY_LEVEL_WRITE, noon), "no-payroll");
	CHECK(r.action == POLICY_KILL);
	CHECK_STR(r.message, "sqlbastion: blocked by rule 'no-payroll'");
	CHECK_STR(decide(p, &r, "SELECT * FROM \"public\".\"PAYROLL\"", "bob", "a", POLICY_LEVEL_WRITE, noon), "no-payroll");
	CHECK_STR(decide(p, &r, "SELECT * FROM db.public.payroll", "bob", "a", POLICY_LEVEL_WRITE, noon), "no-payroll");
	CHECK_STR(decide(p, &r, "SELECT * FROM hr.payroll", "alice", "a", POLICY_LEVEL_WRITE, noon), "");
	CHECK_STR(decide(p, &r, "SELECT * FROM hr.payroll", "bob", "a", POLICY_LEVEL_WRITE, noon), "others-no-hr");
	CHECK_STR(decide(p, &r, "SELECT 1; SELECT * FROM x JOIN public.payroll p ON true; DROP TABLE y",
			 "bob", "a", POLICY_LEVEL_WRITE, noon), "no-payroll");
	CHECK(r.action == POLICY_KILL && r.n_statements == 3);
	CHECK_STR(r.verb, "SELECT");

	/* verb=DELETE also sees a DELETE in a CTE; review message */
	CHECK_STR(decide(p, &r, "WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d",
			 "bob", "prod-eu", POLICY_LEVEL_WRITE, noon), "prod-delete");
	CHECK(r.action == POLICY_REVIEW);
	CHECK_STR(r.message, "sqlbastion: held for review by rule 'prod-delete'");
	CHECK_STR(decide(p, &r, "DELETE FROM t WHERE id = 1", "bob", "dev", POLICY_LEVEL_WRITE, noon), "");

	CHECK_STR(decide(p, &r, "SELECT pg_catalog.pg_sleep(5)", "bob", "dev", POLICY_LEVEL_WRITE, noon), "sleepers");
	CHECK(r.action == POLICY_ALERT && r.message[0] == '\0');
	CHECK_STR(decide(p, &r, "SELECT lo_get(1)", "bob", "dev", POLICY_LEVEL_WRITE, noon), "sleepers");
	CHECK_STR(decide(p, &r, "select * from BIG where x = 1", "bob", "dev", POLICY_LEVEL_WRITE, noon), "big-scan");
	CHECK_STR(decide(p, &r, "select * from bigger", "bob", "dev", POLICY_LEVEL_WRITE, noon), "");
	CHECK_STR(decide(p, &r, "DROP VIEW v", "bob", "dev", POLICY_LEVEL_WRITE, noon), "no-drop");
	CHECK_STR(decide(p, &r, "SELECT now()", "bob", "dev", POLICY_LEVEL_READ, noon), "readers-no-fn");
	CHECK_STR(decide(p, &r, "SELECT now()", "bob", "dev", POLICY_LEVEL_WRITE, noon), "");

	/* a batch takes its strongest statement: kill > deny > review */
	CHECK_STR(decide(p, &r, "DELETE FROM t WHERE id=1; DROP TABLE t", "bob", "prod-1",
			 POLICY_LEVEL_WRITE, noon), "no-drop");
	CHECK(r.action == POLICY_DENY);
	CHECK_STR(r.verb, "DROP TABLE");

	/* a rule can turn a forced denial into kill, never into allow */
	struct policy *k = load("allow everything\n");
	CHECK_STR(decide(k, &r, "SELECT 'open", "bob", "a", POLICY_LEVEL_WRITE, noon), "fail-closed");
	CHECK(r.action == POLICY_DENY);
	CHECK_STR(decide(k, &r, "INSERT INTO t VALUES (1)", "bob", "a", POLICY_LEVEL_READ, noon),
		  "grant-level:read");
	policy_unref(k);
	k = load("kill garbage flag=unparseable\n");
	CHECK_STR(decide(k, &r, "SELECT 'open", "bob", "a", POLICY_LEVEL_WRITE, noon), "garbage");
	CHECK(r.action == POLICY_KILL);
	policy_unref(k);

	/* hours may wrap midnight */
	k = load("deny night hours=22:00-06:00\n");
	CHECK_STR(decide(k, &r, "SELECT 1", "bob", "a", POLICY_LEVEL_WRITE, night), "night");
	CHECK_STR(decide(k, &r, "SELECT 1", "bob", "a", POLICY_LEVEL_WRITE, noon), "");
	policy_unref(k);
	k = load("deny day hours=!09:00-18:00\n");
	CHECK_STR(decide(k, &r, "SELECT 1", "bob", "a", POLICY_LEVEL_WRITE, night), "day");
	CHECK_STR(decide(k, &r, "SELECT 1", "bob", "a", POLICY_LEVEL_WRITE, noon), "");
	policy_unref(k);

	/* MySQL: fingerprint and objects from the default reading */
	eval_d(p, &r, "SELECT `a` FROM `db`.`T1` WHERE x = 'q' # c", 43,
	       POLICY_LEVEL_WRITE, POLICY_DIALECT_MYSQL);
	CHECK_STR(r.fingerprint, "SELECT `a` FROM `db`.`T1` WHERE x = ?");
	CHECK_STR(r.objects, "db.T1");

	policy_unref(p);
	policy_result_free(&r);
}

static void test_session_state(const struct policy *guard)
{
	struct policy_result r;
	struct policy_request q = {0};

	policy_result_init(&r);
	q.level = POLICY_LEVEL_WRITE;

	/* standard_conforming_strings = off: backslash escapes in '' strings */
	const char *s1 = "SELECT 'a\\' , ' ; DROP TABLE t; --'";
	q.sql = s1;
	q.sql_len = strlen(s1);
	policy_evaluate(guard, &q, &r);
	CHECK(r.action == POLICY_ALLOW && r.n_statements == 1);
	q.std_strings_off = 1;
	policy_evaluate(guard, &q, &r);
	CHECK_STR(r.rule, "no-drop");
	CHECK(r.n_statements == 2);
	q.std_strings_off = 0;

	/* SJIS: 0x95 0x5c is one character, the 0x5c is not a backslash */
	const char *s2 = "SELECT E'\x95\\'; DROP TABLE t; --'";
	q.sql = s2;
	q.sql_len = strlen(s2);
	policy_evaluate(guard, &q, &r);
	CHECK(r.action == POLICY_ALLOW && r.n_statements == 1);
	q.client_encoding = "SJIS";
	policy_evaluate(guard, &q, &r);
	CHECK_STR(r.rule, "no-drop");

	/* ... and may sit in a dollar-quote tag */
	const char *s3 = "SELECT $\x95\\$ ' $\x95\\$; DROP TABLE t; -- '";
	q.sql = s3;
	q.sql_len = strlen(s3);
	policy_evaluate(guard, &q, &r);
	CHECK_STR(r.rule, "no-drop");
	q.client_encoding = "GBK";
	policy_evaluate(guard, &q, &r);
	CHECK_STR(r.rule, "no-drop");
	q.client_encoding = NULL;
	policy_evaluate(guard, &q, &r);
	CHECK(r.action == POLICY_ALLOW);

	/* U& strings are refused while standard_conforming_strings is off */
	q.sql = "SELECT U&'x'";
	q.sql_len = 12;
	q.std_strings_off = 1;
	policy_evaluate(guard, &q, &r);
	CHECK_STR(r.rule, "fail-closed");
	policy_result_free(&r);
}

static void test_read_level(const struct policy *guard)
{
	static const struct {
		const char *sql;
		const char *rule;
	} cases[] = {
		{"SELECT * FROM t", ""},
		{"EXPLAIN DELETE FROM t", ""},
		{"COPY t TO STDOUT", ""},
		{"BEGIN", ""},
		{"SET search_path = x", ""},
		{"SELECT * FROM t FOR UPDATE", ""},
		{"INSERT INTO t VALUES (1)", "grant-level:read"},
		{"UPDATE t SET a = 1 WHERE id = 1", "grant-level:read"},
		{"SELECT nextval('s')", "grant-level:read"},
		{"CREATE TABLE x (a int)", "grant-level:read"},
		{"BEGIN READ WRITE", "grant-level:read"},
		{"SET default_transaction_read_only = off", "grant-level:read"},
		{"SELECT set_config('transaction_read_only', 'off', true)", "grant-level:read"},
		{"GRANT SELECT ON t TO x", "grant-level:read"},
		{"DO $$ BEGIN END $$", "grant-level:read"},
		{"SELECT 1; INSERT INTO t VALUES (1)", "grant-level:read"},
		{"EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "grant-level:read"},
		{"WITH x AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1", "grant-level:read"},
		{"COPY t FROM STDIN", "grant-level:read"},
		{"DROP TABLE t", "grant-level:read"},
	};
	struct policy_result r;
	policy_result_init(&r);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		eval(guard, &r, cases[i].sql, strlen(cases[i].sql), POLICY_LEVEL_READ);
		if (strcmp(r.rule, cases[i].rule)) {
			unit_failed++;
			fprintf(stderr, "read level: [%s] got rule \"%s\", want \"%s\"\n",
				cases[i].sql, r.rule, cases[i].rule);
		} else {
			unit_passed++;
		}
	}
	policy_result_free(&r);
}

static void test_limits(const struct policy *guard)
{
	struct policy_result r;
	size_t cap = 64 * 1024;
	char *big = malloc(cap);

	policy_result_init(&r);
	/* nesting deeper than the classifier follows: refused */
	size_t n = 0;
	n += (size_t)sprintf(big + n, "SELECT ");
	for (int i = 0; i < 300; i++)
		big[n++] = '(';
	big[n++] = '1';
	for (int i = 0; i < 300; i++)
		big[n++] = ')';
	eval(guard, &r, big, n, POLICY_LEVEL_WRITE);
	CHECK_STR(r.rule, "fail-closed");

	/* many objects: the objects field is bounded, the rules still see all */
	n = (size_t)sprintf(big, "SELECT * FROM ");
	for (int i = 0; i < 600; i++)
		n += (size_t)sprintf(big + n, "%stable_number_%d", i ? ", " : "", i);
	n += (size_t)sprintf(big + n, ", public.payroll");
	eval(guard, &r, big, n, POLICY_LEVEL_WRITE);
	CHECK(strlen(r.objects) <= 1024);
	CHECK(strlen(r.objects) > 4 && !strcmp(r.objects + strlen(r.objects) - 4, ",..."));
	struct policy *p = load("deny no-payroll object=payroll\n");
	eval(p, &r, big, n, POLICY_LEVEL_WRITE);
	CHECK_STR(r.rule, "no-payroll");
	policy_unref(p);

	/* results are reused: buffers kept, no stale text */
	eval(guard, &r, "SELECT 1", 8, POLICY_LEVEL_WRITE);
	size_t fcap = r.fingerprint_cap;
	eval(guard, &r, "SELECT 2", 8, POLICY_LEVEL_WRITE);
	CHECK(r.fingerprint_cap == fcap);
	CHECK_STR(r.fingerprint, "SELECT ?");
	CHECK_STR(r.objects, "");

	/* NULL text is an empty batch */
	struct policy_request q = {0};
	CHECK(policy_evaluate(guard, &q, &r) == 0);
	CHECK(r.n_statements == 0 && r.action == POLICY_ALLOW);
	free(big);
	policy_result_free(&r);
}

/* CPU time of this thread: stable on a busy machine, unlike wall time */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void bench_one(const struct policy *guard, const char *label,
		      const char *sql, size_t len, int iters)
{
	struct policy_result r;
	policy_result_init(&r);
	eval(guard, &r, sql, len, POLICY_LEVEL_WRITE); /* warm up buffers */
	double t0 = now_ns();
	for (int i = 0; i < iters; i++)
		eval(guard, &r, sql, len, POLICY_LEVEL_WRITE);
	double ns = (now_ns() - t0) / iters;
	printf("policy: %-24s %6zu bytes %9.0f ns/statement (CPU)\n", label, len, ns);
	policy_result_free(&r);
}

static void bench(const struct policy *guard)
{
	const char *oltp = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;";
	bench_one(guard, "OLTP point select", oltp, strlen(oltp), 200000);

	const char *upd = "UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 48213;";
	bench_one(guard, "OLTP update", upd, strlen(upd), 200000);

	char *big = malloc(16384);
	size_t n = (size_t)sprintf(big, "SELECT o.id, o.customer_id, o.total FROM orders o "
					"JOIN customers c ON c.id = o.customer_id WHERE o.id IN (");
	for (int i = 0; n < 10000; i++)
		n += (size_t)sprintf(big + n, "%s%d", i ? ", " : "", 100000 + i * 7);
	n += (size_t)sprintf(big + n, ") AND c.region = 'EU' ORDER BY o.id");
	bench_one(guard, "10 KB statement", big, n, 2000);
	free(big);
}

/* ---- ending sessions: ownership ------------------------------------------ */

/* The fake proxy: this user owns backend ids 42 and 43 and proxy session 5;
 * everything else (backend 7, proxy 6) belongs to someone else. */
static int fake_owns(void *ctx, uint64_t id, enum policy_session_id how)
{
	int *calls = ctx;
	(*calls)++;
	if (how == POLICY_SESSION_PROXY_ID)
		return id == 5;
	return id == 42 || id == 43;
}

static const char *kill_decide(const struct policy *p, struct policy_result *r,
			       enum policy_dialect d, enum policy_level level, const char *sql)
{
	static int calls;
	struct policy_request q = {.dialect = d, .level = level, .user = "tester",
				   .asset = "a", .account = "app", .sql = sql,
				   .sql_len = strlen(sql), .now = time(NULL),
				   .owns_session = fake_owns, .owns_ctx = &calls};
	policy_evaluate(p, &q, r);
	return policy_action_name(r->action);
}

static void test_session_kill(const struct policy *guard)
{
	struct policy_result r;
	policy_result_init(&r);
	static const struct {
		enum policy_dialect d;
		const char *sql, *write, *operate;
	} cases[] = {
		/* MySQL: the plain form names a proxy session id (the frontend
		 * rewrites it), every other form the server's thread id */
		{POLICY_DIALECT_MYSQL, "KILL 5", "allow", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL QUERY 5;", "allow", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL 42", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL 6", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL /**/ 42", "allow", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL /**/ 5", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL (42)", "allow", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL ((7))", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL HARD QUERY (42)", "allow", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL 41+1", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL 42.0", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL 0x2a", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL '42'", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL CONNECTION_ID()", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL (SELECT 42)", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL USER app", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL QUERY ID 42", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "/*!KILL 42*/", "allow", "allow"},
		{POLICY_DIALECT_MYSQL, "/*!KILL 7*/", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL 42; KILL 7", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL 42; KILL 43", "allow", "allow"},
		{POLICY_DIALECT_MYSQL, "KILL\v5", "deny", "allow"}, /* not the plain form */
		{POLICY_DIALECT_MYSQL, "BEGIN NOT ATOMIC KILL 7; END", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "SET STATEMENT max_statement_time=1 FOR KILL 7", "deny", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_cancel_backend(42)", "allow", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_terminate_backend(42, 1000)", "allow", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_cancel_backend(42), pg_terminate_backend(43)", "allow", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_cancel_backend(42), pg_terminate_backend(7)", "deny", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_terminate_backend(7)", "deny", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_terminate_backend(5)", "deny", "allow"}, /* a proxy id */
		{POLICY_DIALECT_PG, "SELECT pg_cancel_backend(42::int)", "deny", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_cancel_backend((42))", "deny", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_cancel_backend(pg_backend_pid())", "deny", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_cancel_backend(pg_cancel_backend(42)::int)", "deny", "allow"},
		{POLICY_DIALECT_PG, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity", "deny", "allow"},
		{POLICY_DIALECT_PG, "SELECT 1; SELECT pg_terminate_backend(7)", "deny", "allow"},
		{POLICY_DIALECT_PG, "EXPLAIN SELECT pg_terminate_backend(7)", "allow", "allow"},
		{POLICY_DIALECT_MYSQL, "CREATE EVENT e ON SCHEDULE AT NOW() DO KILL 42", "deny", "allow"},
		/* stored program bodies run later, as someone else: nobody's own */
		{POLICY_DIALECT_MYSQL, "CREATE EVENT e ON SCHEDULE AT NOW() DO BEGIN KILL 42; END",
		 "deny", "allow"},
		{POLICY_DIALECT_MYSQL,
		 "CREATE EVENT e ON SCHEDULE AT NOW() DO lbl: BEGIN SELECT 1; KILL 42; END", "deny",
		 "allow"},
		{POLICY_DIALECT_MYSQL, "CREATE PROCEDURE p() BEGIN SELECT 1; KILL 42; END", "deny", "allow"},
		{POLICY_DIALECT_MYSQL, "CREATE PROCEDURE p() BEGIN SELECT 1; END; KILL 42", "allow", "allow"},
		{POLICY_DIALECT_PG, "CREATE VIEW v AS SELECT pg_cancel_backend(42)", "deny", "allow"},
		/* a function that ends sessions when called later: nobody's own */
		{POLICY_DIALECT_PG,
		 "CREATE FUNCTION f() RETURNS bool LANGUAGE sql AS 'SELECT pg_terminate_backend(42)'",
		 "deny", "allow"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *w = kill_decide(guard, &r, cases[i].d, POLICY_LEVEL_WRITE, cases[i].sql);
		if (strcmp(w, cases[i].write) != 0)
			fprintf(stderr, "kill write: %s -> %s (%s)\n", cases[i].sql, w, r.rule);
		CHECK_STR(w, cases[i].write);
		if (!strcmp(w, "deny"))
			CHECK_STR(r.rule, "grant-level:operate");
		CHECK(r.flags & POLICY_F_ENDS_SESSION || strstr(cases[i].sql, "EXPLAIN SELECT"));
		w = kill_decide(guard, &r, cases[i].d, POLICY_LEVEL_OPERATE, cases[i].sql);
		CHECK_STR(w, cases[i].operate);
	}
	/* a read grant may cancel its own query, not others' */
	CHECK_STR(kill_decide(guard, &r, POLICY_DIALECT_MYSQL, POLICY_LEVEL_READ, "KILL QUERY 5"),
		  "allow");
	CHECK_STR(kill_decide(guard, &r, POLICY_DIALECT_MYSQL, POLICY_LEVEL_READ, "KILL QUERY 6"),
		  "deny");
	/* the plain form, exactly as the MySQL frontend maps it */
	int qy;
	uint64_t id;
	CHECK(policy_mysql_kill_plain("KILL 5", 6, &qy, &id) == 1 && id == 5 && !qy);
	CHECK(policy_mysql_kill_plain(" kill  query\t17 ;;", 18, &qy, &id) == 1 && id == 17 && qy);
	CHECK(policy_mysql_kill_plain("KILL SOFT CONNECTION 3", 22, &qy, &id) == 1 && id == 3);
	CHECK(policy_mysql_kill_plain("KILL /**/ 5", 11, &qy, &id) == 0);
	CHECK(policy_mysql_kill_plain("KILL (5)", 8, &qy, &id) == 0);
	CHECK(policy_mysql_kill_plain("KILL 5 6", 8, &qy, &id) == 0);
	CHECK(policy_mysql_kill_plain("KILL QUERY ID 5", 15, &qy, &id) == 0);
	CHECK(policy_mysql_kill_plain("KILL 5\0", 7, &qy, &id) == 0);
	policy_result_free(&r);
}

/* ---- versioned comments by the server's version ------------------------------ */

static const char *ver_decide(const struct policy *p, struct policy_result *r,
			      unsigned long version, int mariadb, const char *sql)
{
	struct policy_request q = {.dialect = POLICY_DIALECT_MYSQL, .level = POLICY_LEVEL_WRITE,
				   .user = "tester", .asset = "a", .account = "app", .sql = sql,
				   .sql_len = strlen(sql), .now = time(NULL),
				   .server_version = version, .server_mariadb = mariadb};
	policy_evaluate(p, &q, r);
	return policy_action_name(r->action);
}

static void test_versioned_comments(const struct policy *guard)
{
	struct policy_result r;
	policy_result_init(&r);
	int m;
	CHECK(policy_mysql_version("5.5.5-10.11.6-MariaDB-0+deb12u1", &m) == 101106 && m);
	CHECK(policy_mysql_version("10.11.6-MariaDB-log", &m) == 101106 && m);
	CHECK(policy_mysql_version("8.0.36", &m) == 80036 && !m);
	CHECK(policy_mysql_version("garbage", &m) == 0);
	CHECK(policy_mysql_version(NULL, &m) == 0);
	static const struct {
		const char *sql;
		const char *maria, *mysql8, *unknown;
	} cases[] = {
		{"SELECT 1 /*!999999 ; DROP TABLE t */", "allow", "allow", "deny"},
		{"SELECT 1 /*M!999999 ; DROP TABLE t */", "allow", "allow", "deny"},
		{"SELECT 1 /*M!100000 ; DROP TABLE t */", "deny", "allow", "deny"},
		{"SELECT 1 /*M! ; DROP TABLE t */", "deny", "allow", "deny"},
		{"SELECT 1 /*!50700 ; DROP TABLE t */", "allow", "deny", "deny"},
		{"SELECT 1 /*!50699 ; DROP TABLE t */", "deny", "deny", "deny"},
		{"SELECT 1 /*!101106 ; DROP TABLE t */", "deny", "allow", "deny"},
		{"SELECT 1 /*!101107 ; DROP TABLE t */", "allow", "allow", "deny"},
		{"SELECT 1 /*!80036 ; DROP TABLE t */", "allow", "deny", "deny"},
		{"/*!DROP TABLE t*/", "deny", "deny", "deny"},
		{"DELETE FROM t WHERE id = 9 /*!999999 OR 1=1 */", "allow", "allow", "deny"},
		/* fewer than 5 digits are no version: they are SQL */
		{"KILL /*!42*/", "deny", "deny", "deny"},
		{"SELECT 1 /*!1234 ; DROP TABLE t */", "deny", "deny", "deny"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *a = ver_decide(guard, &r, 101106, 1, cases[i].sql);
		if (strcmp(a, cases[i].maria))
			fprintf(stderr, "maria: %s -> %s\n", cases[i].sql, a);
		CHECK_STR(a, cases[i].maria);
		a = ver_decide(guard, &r, 80036, 0, cases[i].sql);
		if (strcmp(a, cases[i].mysql8))
			fprintf(stderr, "mysql8: %s -> %s\n", cases[i].sql, a);
		CHECK_STR(a, cases[i].mysql8);
		CHECK_STR(ver_decide(guard, &r, 0, 0, cases[i].sql), cases[i].unknown);
	}
	policy_result_free(&r);
}

int main(void)
{
	struct policy_error e;
	struct policy *guard = policy_load(GUARD, &e);
	if (!guard) {
		fprintf(stderr, "cannot load %s: %s:%d: %s\n", GUARD, e.file, e.line, e.message);
		return 1;
	}
	CHECK(policy_rule_count(guard) == 13);

	int n_cases = run_cases(guard, "data/policy_pg_cases.txt", POLICY_DIALECT_PG);
	int n_my = run_cases(guard, "data/policy_my_cases.txt", POLICY_DIALECT_MYSQL);
	int n_fp = run_fingerprints(guard);
	printf("policy: %d PostgreSQL cases, %d MySQL cases, %d fingerprint cases\n",
	       n_cases, n_my, n_fp);
	CHECK(n_cases >= 120);
	test_lexer();
	test_rule_errors();
	test_rule_semantics();
	test_session_state(guard);
	test_read_level(guard);
	test_limits(guard);
	test_session_kill(guard);
	test_versioned_comments(guard);
	bench(guard);
	policy_unref(guard);
	return UNIT_DONE("policy");
}
