/* MySQL called routines in the policy (issue 15 class 1): which names are
 * asked about (policy_request.routine), how they are qualified, and how a
 * body decides the call. The catalog is a table here. */
#include <stdlib.h>
#include <strings.h>

#include "policy/classify.h"
#include "policy/my_builtins.h"
#include "policy/policy.h"
#include "unit.h"

struct fake {
	const char *name; /* "db\x1f" "name" as asked */
	const char *body;
	const char *schema;
	unsigned mode;
};

static const struct fake catalog[] = {
	{"appdb\x1f" "wipe", "DELETE FROM t", "appdb", POLICY_MY_MODE_KNOWN},
	{"appdb\x1f" "report", "RETURN (SELECT count(*) FROM t)", "appdb", POLICY_MY_MODE_KNOWN},
	{"appdb\x1f" "outer_fn", "BEGIN RETURN inner_fn(); END", "other", POLICY_MY_MODE_KNOWN},
	{"other\x1f" "inner_fn", "BEGIN DROP TABLE x; RETURN 1; END", "other", POLICY_MY_MODE_KNOWN},
	{"appdb\x1f" "dyn", "BEGIN PREPARE s FROM @q; EXECUTE s; END", "appdb", POLICY_MY_MODE_KNOWN},
	{"appdb\x1f" "granter", "GRANT ALL ON *.* TO u", "appdb", POLICY_MY_MODE_KNOWN},
	/* under ANSI_QUOTES "x" is a name: DELETE without WHERE */
	{"appdb\x1f" "ansi", "DELETE FROM \"t\"", "appdb", POLICY_MY_MODE_KNOWN | POLICY_MY_ANSI_QUOTES},
	{"appdb\x1f" "count", "DELETE FROM t", "appdb", POLICY_MY_MODE_KNOWN},
	{"appdb\x1f" "hidden", NULL, "appdb", POLICY_MY_MODE_KNOWN},
};

static char asked[16][160];
static int n_asked;
static struct policy_routine def;

static int cb(void *ctx, const char *name, size_t len, const struct policy_routine **defs)
{
	(void)ctx;
	if (n_asked < 16)
		snprintf(asked[n_asked++], sizeof asked[0], "%.*s", (int)len, name);
	for (size_t i = 0; i < sizeof catalog / sizeof catalog[0]; i++) {
		/* names compare as the server's collation does: without case */
		if (strlen(catalog[i].name) == len && strncasecmp(catalog[i].name, name, len) == 0) {
			def = (struct policy_routine){.language = "sql", .body = catalog[i].body,
						      .body_len = catalog[i].body ? strlen(catalog[i].body) : 0,
						      .schema = catalog[i].schema,
						      .mysql_mode = catalog[i].mode};
			*defs = &def;
			return 1;
		}
	}
	return POLICY_ROUTINE_UNKNOWN;
}

static struct policy *pol;

static const char *decide(const char *sql, unsigned *flags)
{
	static struct policy_result r;
	static int init;
	if (!init) {
		policy_result_init(&r);
		init = 1;
	}
	n_asked = 0;
	struct policy_request q = {.dialect = POLICY_DIALECT_MYSQL, .level = POLICY_LEVEL_WRITE,
				   .sql = sql, .sql_len = strlen(sql), .routine = cb,
				   .database = "appdb", .mysql_mode = POLICY_MY_MODE_KNOWN};
	policy_evaluate(pol, &q, &r);
	if (flags)
		*flags = r.flags;
	return r.action >= POLICY_DENY ? r.rule : "allow";
}

int main(void)
{
	static const char rules[] =
		"deny no-drop verb=DROP\n"
		"deny no-unbounded-write flag=no-where\n"
		"deny no-privilege-change flag=privilege\n"
		"deny no-dynamic-sql flag=dynamic\n";
	struct policy_error err;
	pol = policy_load_text("t", rules, sizeof rules - 1, &err);
	CHECK(pol != NULL);
	unsigned fl;

	/* a CALL with or without parentheses, any spelling, asks for its procedure */
	CHECK_STR(decide("CALL wipe", NULL), "no-unbounded-write");
	CHECK_STR(asked[0], "appdb\x1f" "wipe");
	CHECK_STR(decide("call `appdb`.`WIPE`()", NULL), "no-unbounded-write");
	CHECK_STR(decide("/*!CALL wipe() */", NULL), "no-unbounded-write");
	CHECK_STR(decide("CALL granter()", NULL), "no-privilege-change");
	CHECK_STR(decide("CALL dyn()", NULL), "no-dynamic-sql");
	CHECK_STR(decide("CALL hidden()", NULL), "no-dynamic-sql");
	CHECK_STR(decide("CALL nosuch()", NULL), "no-dynamic-sql");
	/* functions in any expression */
	CHECK_STR(decide("SELECT 1 FROM t WHERE id = wipe()", NULL), "no-unbounded-write");
	CHECK_STR(decide("SELECT report(), count(*) FROM t", &fl), "allow");
	CHECK(!(fl & POLICY_F_DYNAMIC));
	CHECK(n_asked == 1); /* count is the server's */
	/* nested: the inner call resolves in the outer routine's schema */
	CHECK_STR(decide("SELECT outer_fn()", NULL), "no-drop");
	CHECK(n_asked == 2 && strcmp(asked[1], "other\x1f" "inner_fn") == 0);
	/* the body is read under its own sql_mode */
	CHECK_STR(decide("CALL ansi()", NULL), "no-unbounded-write");
	/* built-ins are not asked about; other spellings of grammar functions are */
	CHECK_STR(decide("SELECT now(), concat('a'), `concat`('b'), sleep (0), count(*) FROM t",
			 NULL), "allow");
	CHECK(n_asked == 0);
	CHECK_STR(decide("SELECT `count`(1)", NULL), "no-unbounded-write");
	CHECK_STR(decide("SELECT count (1)", NULL), "no-unbounded-write");
	CHECK_STR(decide("SELECT appdb.concat('x')", NULL), "no-dynamic-sql");
	CHECK(n_asked == 1 && strcmp(asked[0], "appdb\x1f" "concat") == 0);
	/* a procedure named like a built-in is a procedure */
	decide("CALL concat()", NULL);
	CHECK(n_asked == 1);
	/* reserved words before '(' are syntax, not calls */
	CHECK(my_reserved_word("RETURN", 6) && my_reserved_word("if", 2));
	CHECK(!my_reserved_word("until", 5) && !my_reserved_word("returns", 7));
	CHECK(my_builtin_function("COUNT", 5, 1) && !my_builtin_function("count", 5, 0));
	CHECK(my_builtin_function("Json_Extract", 12, 0));
	CHECK(!my_builtin_function("point", 5, 1) && !my_builtin_function("", 0, 1));
	/* CREATE DEFINER=... FUNCTION f: f is created, not called */
	CHECK_STR(decide("CREATE DEFINER='app'@'%' FUNCTION wipe() RETURNS INT RETURN (1)", &fl),
		  "allow");
	CHECK(n_asked == 0 && (fl & POLICY_F_DDL));
	/* without a callback (sqlbastionctl) CALL is dynamic */
	struct policy_result r;
	policy_result_init(&r);
	struct policy_request q = {.dialect = POLICY_DIALECT_MYSQL, .level = POLICY_LEVEL_WRITE,
				   .sql = "CALL report()", .sql_len = 13};
	policy_evaluate(pol, &q, &r);
	CHECK(r.flags & POLICY_F_DYNAMIC);
	policy_result_free(&r);
	policy_unref(pol);
	return UNIT_DONE("policy_my_routines");
}
