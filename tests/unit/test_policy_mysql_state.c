/* Unit tests for the MySQL side of issue 10 class 1 / issue 15 class 9 in
 * policy/: text read under the sql_mode and character_set_client the
 * server confirmed (policy_request.mysql_mode, client_encoding), with
 * MariaDB's multibyte rules (a lead byte + valid trail is one character,
 * one byte is skipped after a backslash). */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "unit.h"

static const char RULES[] = "deny no-drop verb=DROP\n";

static enum policy_action decide(struct policy *p, const char *sql, size_t len, unsigned mode,
				 const char *cs)
{
	struct policy_result r;
	policy_result_init(&r);
	struct policy_request q = {.dialect = POLICY_DIALECT_MYSQL, .level = POLICY_LEVEL_WRITE,
				   .user = "u", .asset = "a", .account = "n", .sql = sql,
				   .sql_len = len, .client_encoding = cs, .mysql_mode = mode};
	policy_evaluate(p, &q, &r);
	enum policy_action a = r.action;
	policy_result_free(&r);
	return a;
}

#define D(p, s, mode, cs) decide(p, s, sizeof(s) - 1, mode, cs)
#define KNOWN POLICY_MY_MODE_KNOWN

int main(void)
{
	struct policy_error e;
	struct policy *p = policy_load_text("t.rules", RULES, strlen(RULES), &e);
	CHECK(p != NULL);

	/* issue 15 class 9: one string under the default sql_mode */
	CHECK(D(p, "SELECT 'it\\'s; DROP TABLE t; -- '", KNOWN, "utf8mb4") == POLICY_ALLOW);
	/* unknown mode: both readings, the strongest wins (as before) */
	CHECK(D(p, "SELECT 'it\\'s; DROP TABLE t; -- '", 0, NULL) == POLICY_DENY);
	/* confirmed NO_BACKSLASH_ESCAPES: the DROP is a statement */
	CHECK(D(p, "SELECT 'a\\'; DROP TABLE t; -- '", KNOWN | POLICY_MY_NO_BACKSLASH, "utf8mb4") ==
	      POLICY_DENY);
	/* confirmed ANSI_QUOTES: "a\" is an identifier */
	CHECK(D(p, "SELECT \"a\\\"; DROP TABLE t; -- \"", KNOWN | POLICY_MY_ANSI_QUOTES, "utf8mb4") ==
	      POLICY_DENY);
	CHECK(D(p, "SELECT \"a\\\"; DROP TABLE t; -- \"", KNOWN, "utf8mb4") == POLICY_ALLOW);

	/* SJIS / CP932 / GBK / BIG5: lead + 0x5C is one character */
	static const char sjis[] = "SELECT '\x81\\'; DROP TABLE t; -- '";
	CHECK(D(p, sjis, KNOWN, "utf8mb4") == POLICY_ALLOW);
	CHECK(D(p, sjis, KNOWN, "latin1") == POLICY_ALLOW);
	CHECK(D(p, sjis, KNOWN, "sjis") == POLICY_DENY);
	CHECK(D(p, sjis, KNOWN, "cp932") == POLICY_DENY);
	CHECK(D(p, sjis, KNOWN, "gbk") == POLICY_DENY);
	CHECK(D(p, sjis, KNOWN, "gb18030") == POLICY_DENY);
	CHECK(D(p, sjis, KNOWN, "big5") == POLICY_ALLOW); /* 0x81 is no BIG5 lead byte */
	static const char big5[] = "SELECT '\xa4\\'; DROP TABLE t; -- '";
	CHECK(D(p, big5, KNOWN, "big5") == POLICY_DENY);
	/* a lead byte without a valid trail stands alone: the quote after it
	 * closes the string, and the rest is another string */
	static const char bad_trail[] = "SELECT '\x81\x27\\'; DROP TABLE t; -- '";
	CHECK(D(p, bad_trail, KNOWN, "sjis") == POLICY_ALLOW);
	/* one byte is skipped after a backslash, not a character */
	static const char esc_lead[] = "SELECT '\\\x81\\'; DROP TABLE t; -- '";
	CHECK(D(p, esc_lead, KNOWN, "sjis") == POLICY_ALLOW);
	/* a benign SJIS string ending in a 0x5C trail byte */
	static const char hyou[] = "SELECT '\x95\\', 'x'";
	CHECK(D(p, hyou, KNOWN, "sjis") == POLICY_ALLOW);

	policy_unref(p);
	return UNIT_DONE("policy_mysql_state");
}
