/* ctl_policy: "policy test": how an administrator debugs a rule.
 *
 *   sqlbastionctl [-c CONF] policy test --dialect pg|mysql|tsql|oracle [--level L]
 *                 [--user U] [--asset A] [--account N] [--database DB]
 *                 [--policy FILE] 'SQL' | -
 *
 * --database: MySQL, the session's current database (the daemon knows it
 * from the login, COM_INIT_DB and USE statements the server ran); without
 * it, no database is selected, as after a login without one.
 *
 * ("-" reads the text from stdin; put "--" before text that starts with '-'.)
 *
 * Prints each statement the server would see with its classification (verb,
 * flags, objects, functions called, fingerprint), then the decision for the
 * whole text as the proxy would take it (action, deciding rule, message).
 * The rules come from --policy FILE, else from the configuration's `policy`
 * key (the same file the daemon loads); no daemon, state DB or audit log is
 * touched. The session is assumed to be in the server's default modes
 * (PostgreSQL standard_conforming_strings on; for MySQL the proxy also
 * reads text under the other sql_modes when they could matter, and the
 * decision line reflects that, while the per-statement lines show the
 * default reading).
 *
 * Exit: 0 when the decision is allow or alert, 1 when it is review, deny or
 * kill (so a script can assert on it), 2 on a usage error or a policy that
 * does not load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/classify.h"
#include "policy/my_builtins.h"
#include "policy/policy.h"
#include "proxy/ctl.h"

static const struct {
	const char *name;
	unsigned bit;
} flag_names[] = {
	{"writes", POLICY_F_WRITES},          {"ddl", POLICY_F_DDL},
	{"has-where", POLICY_F_HAS_WHERE},    {"trivial-where", POLICY_F_WHERE_TRIVIAL},
	{"no-where", POLICY_F_NO_WHERE},      {"dynamic", POLICY_F_DYNAMIC},
	{"file-access", POLICY_F_FILE_ACCESS}, {"rw-switch", POLICY_F_RW_SWITCH},
	{"unparseable", POLICY_F_UNPARSEABLE}, {"privilege", POLICY_F_PRIVILEGE},
	{"tx-control", POLICY_F_TX_CONTROL},  {"alter-drop", POLICY_F_ALTER_DROP},
	{"rename", POLICY_F_RENAME},            {"ends-session", POLICY_F_ENDS_SESSION},
	{"client-file", POLICY_F_CLIENT_FILE},
	{"server-admin", POLICY_F_SERVER_ADMIN},
};

static void print_flags(unsigned flags)
{
	int any = 0;
	for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
		if (flags & flag_names[i].bit) {
			printf("%s%s", any ? "," : "", flag_names[i].name);
			any = 1;
		}
	}
	if (!any)
		fputs("-", stdout);
	putchar('\n');
}

/* Print the names of kind 'o' or 'f' of one statement, parts joined by '.'. */
static void print_names(const struct cls_stmt *st, char kind)
{
	const char *p = st->names, *end = st->names ? st->names + st->names_len : NULL;
	int any = 0;
	while (p && p < end) {
		char k = *p++;
		size_t n = strnlen(p, (size_t)(end - p));
		if (k == kind || (kind == 'f' && (k == 'q' || k == 'p'))) {
			fputs(any ? ", " : "", stdout);
			for (size_t i = 0; i < n; i++)
				putchar(p[i] == CLS_NAME_SEP ? '.' : p[i]);
			any = 1;
		}
		p += n + 1;
	}
	if (!any)
		fputs("-", stdout);
	putchar('\n');
}

/* Does the statement call a routine the daemon would ask the server's
 * catalog about (a CALL; MySQL: a function the server does not resolve to
 * a built-in)? */
static int calls_stored_routine(const struct cls_stmt *st, enum policy_dialect d)
{
	if (st->flags & POLICY_F_DYNAMIC && strncmp(st->verb, "CALL", 4) == 0)
		return 1;
	for (size_t i = 0; i < st->names_len; i += strlen(st->names + i) + 1) {
		const char *e = st->names + i;
		if (d != POLICY_DIALECT_MYSQL || e[0] == 'o')
			continue;
		size_t n = strlen(e + 1);
		if (e[0] == 'p' || strchr(e + 1, CLS_NAME_SEP) ||
		    !(my_builtin_function(e + 1, n, e[0] == 'f') ||
		      (e[0] == 'f' && my_reserved_word(e + 1, n))))
			return 1;
	}
	return 0;
}

/* Classify every statement and print it; *calls: one calls a stored
 * routine (calls_stored_routine). CTL_OK or CTL_FAIL. */
static int print_statements(struct ctl *c, enum policy_dialect d, const char *sql,
			    size_t sql_len, const char *database, int *calls)
{
	struct policy_result r;
	struct cls_names names = {0};
	struct cls_batch *b = calloc(1, sizeof *b);
	struct cls_stmt st;
	int rc, n = 0;
	policy_result_init(&r);
	r.fingerprint = calloc(1, 64);
	r.fingerprint_cap = 64;
	r.objects = calloc(1, 64);
	r.objects_cap = 64;
	if (!b || !r.fingerprint || !r.objects) {
		free(b);
		policy_result_free(&r);
		return ctl_fail(c, "out of memory");
	}
	struct cls_opts opts = {.std_strings = 1, .enc = LEX_ENC_ASCII_SAFE,
				.mysql = d == POLICY_DIALECT_MYSQL, .dialect = d,
				.database = database};
	if (d == POLICY_DIALECT_MYSQL)
		opts.std_strings = 0;
	cls_begin(b, sql, sql_len, &opts, &r, &names);
	while ((rc = cls_next(b, &st)) > 0) {
		printf("statement %d\n", ++n);
		printf("  verb         %s\n", st.verb[0] ? st.verb : "(unknown)");
		fputs("  flags        ", stdout);
		print_flags(st.flags);
		fputs("  objects      ", stdout);
		print_names(&st, 'o');
		fputs("  functions    ", stdout);
		print_names(&st, 'f');
		printf("  fingerprint  %.*s\n", (int)st.fp_len, r.fingerprint + st.fp_start);
		*calls |= calls_stored_routine(&st, d);
	}
	free(b);
	free(names.buf);
	policy_result_free(&r);
	if (rc < 0)
		return ctl_fail(c, "out of memory");
	if (n == 0)
		puts("(no statement)");
	return CTL_OK;
}

int ctl_policy_test(struct ctl *c, int argc, char **argv)
{
	const char *dialect = NULL, *level = "write", *user = "", *asset = "", *account = "";
	const char *file = NULL, *database = NULL, *pos[1];
	int npos;
	const struct ctl_opt opts[] = {
		{"--dialect", 1, &dialect, NULL}, {"--level", 1, &level, NULL},
		{"--user", 1, &user, NULL},       {"--asset", 1, &asset, NULL},
		{"--account", 1, &account, NULL}, {"--policy", 1, &file, NULL},
		{"--database", 1, &database, NULL},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, &npos) != CTL_OK)
		return CTL_USAGE;
	struct policy_request req = {0};
	if (!dialect)
		return ctl_usage(c, "--dialect pg|mysql|tsql|oracle is required");
	if (strcmp(dialect, "pg") == 0 || strcmp(dialect, "postgres") == 0)
		req.dialect = POLICY_DIALECT_PG;
	else if (strcmp(dialect, "mysql") == 0 || strcmp(dialect, "mariadb") == 0)
		req.dialect = POLICY_DIALECT_MYSQL;
	else if (strcmp(dialect, "tsql") == 0 || strcmp(dialect, "mssql") == 0)
		req.dialect = POLICY_DIALECT_TSQL;
	else if (strcmp(dialect, "oracle") == 0)
		req.dialect = POLICY_DIALECT_ORACLE;
	else
		return ctl_usage(c, "--dialect: '%s' is not pg, mysql, tsql or oracle", dialect);
	if (policy_level_parse(level, &req.level) != 0)
		return ctl_usage(c, "--level: '%s' is not read, write, operate or admin", level);
	if (!file)
		file = c->cfg.policy[0] ? c->cfg.policy : NULL;
	char *in = NULL;
	size_t sql_len = strlen(pos[0]); /* stdin text may hold NUL bytes */
	if (strcmp(pos[0], "-") == 0) { /* the text on stdin */
		size_t cap = 0, len = 0, got;
		do {
			if (len + 4096 + 1 > cap) {
				char *nb = realloc(in, cap = cap ? cap * 2 : 8192);
				if (!nb) {
					free(in);
					return ctl_fail(c, "out of memory");
				}
				in = nb;
			}
			got = fread(in + len, 1, cap - len - 1, stdin);
			len += got;
		} while (got > 0);
		in[len] = '\0';
		pos[0] = in;
		sql_len = len;
	}

	struct policy_error perr = {0};
	struct policy *p = policy_load(file, &perr);
	if (!p) {
		if (perr.line > 0)
			fprintf(stderr, "sqlbastionctl: %s: %s:%d: %s\n", c->verb, perr.file,
				perr.line, perr.message);
		else
			fprintf(stderr, "sqlbastionctl: %s: %s: %s\n", c->verb,
				perr.file[0] ? perr.file : file, perr.message);
		free(in);
		return CTL_USAGE;
	}
	printf("policy       %s (%zu rules)\n", file ? file : "(none)", policy_rule_count(p));
	printf("session      dialect=%s level=%s user=%s asset=%s account=%s\n",
	       cls_dialect_get(req.dialect)->name, policy_level_name(req.level),
	       *user ? user : "-", *asset ? asset : "-", *account ? account : "-");
	if (database)
		printf("database     %s\n", database);
	int calls = 0;
	int rc = print_statements(c, req.dialect, pos[0], sql_len, database, &calls);
	if (rc != CTL_OK) {
		policy_unref(p);
		free(in);
		return rc;
	}

	struct policy_result r;
	policy_result_init(&r);
	req.user = user;
	req.asset = asset;
	req.account = account;
	req.database = database;
	req.sql = pos[0];
	req.sql_len = sql_len;
	req.now = c->now ? c->now : time(NULL);
	(void)policy_evaluate(p, &req, &r);
	printf("decision     %s", policy_action_name(r.action));
	if (r.rule[0])
		printf(" by rule '%s' (statement verb %s)", r.rule, r.verb[0] ? r.verb : "?");
	else
		fputs(" (no rule matched)", stdout);
	putchar('\n');
	fputs("batch flags  ", stdout);
	print_flags(r.flags);
	if (r.message[0])
		printf("message      %s\n", r.message);
	if ((r.flags & POLICY_F_ENDS_SESSION) && req.level < POLICY_LEVEL_OPERATE)
		puts("note         ends or cancels sessions: whose they are is known only to the "
		     "daemon (live sessions); offline none counts as the user's own");
	if (req.dialect == POLICY_DIALECT_MYSQL && strstr(pos[0], "/*"))
		puts("note         versioned comments: the daemon reads them by the backend's "
		     "version; offline both readings count");
	if (calls)
		puts("note         called routines: the daemon decides a call by the routine's body "
		     "from the server's catalog; offline it cannot know routine bodies, so calls "
		     "are judged by name and CALL is dynamic");
	rc = r.action >= POLICY_REVIEW ? CTL_FAIL : CTL_OK;
	policy_result_free(&r);
	policy_unref(p);
	free(in);
	return rc;
}
