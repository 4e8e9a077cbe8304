/* Unit tests for the T-SQL and Oracle dialects of policy/ (issues 12, 16,
 * 17): their tokenizers' boundaries, statement splitting without ';', and
 * the flags the dialect hooks set, through policy_evaluate as the TDS and
 * TNS frontends call it. The corpus (tests/integration/corpus/tsql_*.sql,
 * oracle_*.sql) holds the evasion cases; these pin the mechanisms. */
#include <stdlib.h>
#include <string.h>

#include "policy/lexer.h"
#include "policy/policy.h"
#include "unit.h"

static struct policy_result r;

static unsigned flags(struct policy *p, enum policy_dialect d, enum policy_level lv,
		      const char *sql, enum policy_action *a, int *n)
{
	struct policy_request q = {.dialect = d, .level = lv, .user = "u", .asset = "a",
				   .account = "n", .sql = sql, .sql_len = strlen(sql)};
	policy_evaluate(p, &q, &r);
	if (a)
		*a = r.action;
	if (n)
		*n = r.n_statements;
	return r.flags;
}

/* The tokens of sql as "kind:text|..." */
static const char *tokens(void (*init)(struct lex *, const char *, size_t),
			  enum lex_kind (*next)(struct lex *, struct lex_token *), const char *sql)
{
	static char out[512];
	struct lex lx;
	struct lex_token t;
	size_t n = 0;
	init(&lx, sql, strlen(sql));
	out[0] = '\0';
	for (;;) {
		enum lex_kind k = next(&lx, &t);
		if (k == LEX_EOF)
			break;
		if (k == LEX_ERROR) {
			n += (size_t)snprintf(out + n, sizeof out - n, "ERR");
			break;
		}
		n += (size_t)snprintf(out + n, sizeof out - n, "%d:%.*s|", (int)k, (int)t.len, t.s);
		if (n >= sizeof out)
			break;
	}
	return out;
}

#define TS(sql) tokens(tsl_init, tsl_next, sql)
#define OR(sql) tokens(oral_init, oral_next, sql)
#define T POLICY_DIALECT_TSQL
#define O POLICY_DIALECT_ORACLE
#define W POLICY_LEVEL_WRITE
#define R POLICY_LEVEL_READ

int main(void)
{
	static const char rules[] = "deny no-drop verb=DROP\ndeny no-dynamic flag=dynamic\n";
	struct policy_error e;
	struct policy *p = policy_load_text("t.rules", rules, strlen(rules), &e);
	enum policy_action a;
	int n;
	CHECK(p != NULL);
	policy_result_init(&r);

	/* T-SQL tokens: [ ]] ], N'' with '', nested comments, @vars, no backslash escape */
	CHECK_STR(TS("[a]]b] N'x''y' @v /* /* */ */ 'a\\'"), "2:[a]]b]|3:N'x''y'|5:@v|3:'a\\'|");
	CHECK_STR(TS("/* /* */ x"), "ERR");
	CHECK_STR(TS("[never"), "ERR");
	CHECK_STR(TS("0x1F $5.00 #tmp"), "4:0x1F|4:$5.00|1:#tmp|");
	/* Oracle tokens: q-quotes with any delimiter, non-nesting comments, binds */
	CHECK_STR(OR("q'[it's]' nq'<a>b>' Q'!x!' :b1 \"X\""),
		  "3:q'[it's]'|3:nq'<a>b>'|3:Q'!x!'|5::b1|2:\"X\"|");
	CHECK_STR(OR("/* a /* b */ c"), "1:c|");
	CHECK_STR(OR("q'[never'"), "ERR");
	CHECK_STR(OR("\"\""), "ERR");
	CHECK_STR(OR("a := 1 || 'x'"), "1:a|6::=|4:1|6:|||3:'x'|");

	/* T-SQL: statements without ';' */
	flags(p, T, W, "DROP TABLE t SELECT 1", &a, &n);
	CHECK(a == POLICY_DENY && n == 2);
	flags(p, T, W, "SELECT 1 DROP TABLE t", &a, &n);
	CHECK(a == POLICY_DENY && n == 2);
	CHECK(flags(p, T, W, "SELECT * FROM t DELETE FROM t", NULL, &n) & POLICY_F_NO_WHERE);
	CHECK(n == 2);
	flags(p, T, W, "INSERT INTO t SELECT a FROM u UNION ALL SELECT b FROM v", NULL, &n);
	CHECK(n == 1);
	flags(p, T, W, "SELECT 1\nGO\nSELECT 2\nGO 3\n", &a, &n);
	CHECK(a == POLICY_ALLOW && n == 2);
	flags(p, T, W, "SELECT CASE WHEN a = 1 THEN 2 ELSE 3 END FROM t", &a, &n);
	CHECK(a == POLICY_ALLOW && n == 1);
	/* EXEC: literals are read, everything else is dynamic */
	flags(p, T, W, "EXEC('DROP TABLE t')", &a, NULL);
	CHECK(a == POLICY_DENY && !(r.flags & POLICY_F_DYNAMIC));
	CHECK(flags(p, T, R, "EXEC('SELECT 1')", &a, NULL) == 0 && a == POLICY_ALLOW);
	CHECK(flags(p, T, W, "EXEC('DR'+'OP TABLE t')", NULL, NULL) & POLICY_F_DYNAMIC);
	CHECK(flags(p, T, W, "EXEC sp_executesql @s", NULL, NULL) & POLICY_F_DYNAMIC);
	CHECK(!(flags(p, T, R, "EXEC sp_executesql N'SELECT 1'", &a, NULL) & POLICY_F_DYNAMIC));
	CHECK(a == POLICY_ALLOW);
	CHECK(flags(p, T, W, "EXEC p", NULL, NULL) & POLICY_F_DYNAMIC);
	CHECK(flags(p, T, W, "EXEC master..xp_cmdshell 'dir'", NULL, NULL) & POLICY_F_FILE_ACCESS);
	CHECK(flags(p, T, W, "xp_cmdshell 'dir'", NULL, NULL) & POLICY_F_FILE_ACCESS);
	CHECK(flags(p, T, W, "EXEC sp_configure 'x', 1", NULL, NULL) & POLICY_F_SERVER_ADMIN);
	CHECK(flags(p, T, W, "EXEC sp_addsrvrolemember 'e', 'sysadmin'", NULL, NULL) &
	      POLICY_F_PRIVILEGE);
	/* server, file, privilege and session forms */
	CHECK(flags(p, T, W, "SELECT * FROM OPENROWSET(BULK 'x', SINGLE_CLOB) AS b", NULL, NULL) &
	      POLICY_F_FILE_ACCESS);
	CHECK(flags(p, T, W, "BULK INSERT t FROM 'x'", NULL, NULL) & POLICY_F_FILE_ACCESS);
	CHECK(flags(p, T, W, "RECONFIGURE", NULL, NULL) & POLICY_F_SERVER_ADMIN);
	CHECK(flags(p, T, W, "CREATE LOGIN x WITH PASSWORD = 'p'", NULL, NULL) & POLICY_F_PRIVILEGE);
	CHECK(flags(p, T, W, "ALTER SERVER ROLE sysadmin ADD MEMBER x", NULL, NULL) &
	      POLICY_F_PRIVILEGE);
	CHECK(flags(p, T, W, "DENY SELECT ON t TO u", NULL, NULL) & POLICY_F_PRIVILEGE);
	CHECK(flags(p, T, W, "KILL 52", &a, NULL) & POLICY_F_ENDS_SESSION);
	CHECK(a == POLICY_DENY); /* below operate, nobody's own session */
	CHECK(flags(p, T, R, "BEGIN TRAN", &a, NULL) & POLICY_F_TX_CONTROL);
	CHECK(a == POLICY_ALLOW);
	CHECK(flags(p, T, R, "SET TRANSACTION ISOLATION LEVEL SNAPSHOT", &a, NULL) == 0);
	CHECK(a == POLICY_ALLOW);
	flags(p, T, R, "SELECT * INTO t2 FROM t", &a, NULL);
	CHECK(a == POLICY_DENY);
	/* a routine's body is the rest of the batch, and is read */
	flags(p, T, W, "CREATE PROCEDURE p AS SELECT 1; DROP TABLE t", &a, &n);
	CHECK(a == POLICY_DENY && n == 1);
	CHECK(flags(p, T, W, "[DROP] TABLE t", &a, NULL) && a == POLICY_DENY);

	/* Oracle: blocks are one statement, dynamic, and their inside is read */
	flags(p, O, W, "BEGIN DELETE FROM t; IF x THEN NULL; END IF; END;\n/\nSELECT 1 FROM dual", &a,
	      &n);
	CHECK(a == POLICY_DENY && n == 2 && (r.flags & POLICY_F_NO_WHERE) &&
	      (r.flags & POLICY_F_DYNAMIC));
	flags(p, O, W, "DECLARE n NUMBER; BEGIN n := CASE WHEN 1 = 1 THEN 1 END; END;", NULL, &n);
	CHECK(n == 1 && !(r.flags & POLICY_F_UNPARSEABLE));
	CHECK(flags(p, O, W, "BEGIN NULL;", &a, NULL) & POLICY_F_UNPARSEABLE);
	flags(p, O, W, "CREATE PACKAGE BODY k AS PROCEDURE a IS BEGIN NULL; END a; END k;\n"
		       "SELECT 1 FROM dual", NULL, &n);
	CHECK(n == 2 && !(r.flags & POLICY_F_UNPARSEABLE));
	CHECK(flags(p, O, W, "EXECUTE IMMEDIATE 'x'", NULL, NULL) & POLICY_F_DYNAMIC);
	CHECK(flags(p, O, W, "ALTER SYSTEM KILL SESSION '1,2'", NULL, NULL) &
	      POLICY_F_ENDS_SESSION);
	CHECK(r.flags & POLICY_F_SERVER_ADMIN);
	CHECK(flags(p, O, W, "CREATE DIRECTORY d AS '/tmp'", NULL, NULL) & POLICY_F_FILE_ACCESS);
	CHECK(flags(p, O, W, "SELECT UTL_FILE.FOPEN('D','x','r') FROM dual", NULL, NULL) &
	      POLICY_F_FILE_ACCESS);
	CHECK(flags(p, O, W, "GRANT DBA TO x", NULL, NULL) & POLICY_F_PRIVILEGE);
	CHECK(flags(p, O, R, "SELECT q'[;DROP TABLE t;]' FROM dual", &a, NULL) == 0);
	CHECK(a == POLICY_ALLOW);
	CHECK(flags(p, O, R, "ALTER SESSION SET NLS_DATE_FORMAT = 'YYYY'", &a, NULL) == 0);
	CHECK(a == POLICY_ALLOW);
	CHECK(flags(p, O, R, "SELECT * FROM t FOR UPDATE", NULL, NULL) & POLICY_F_WRITES);

	policy_result_free(&r);
	policy_unref(p);
	return UNIT_DONE("policy_dialects");
}
