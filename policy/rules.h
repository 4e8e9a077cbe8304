/* policy/rules: the rule-file language, its parser and its matcher.
 *
 * A rule file is plain text, one rule per line, so that a policy reads well
 * in review and `grep no-drop` finds a rule:
 *
 *     # comment (a '#' after whitespace also starts a comment)
 *     <action> <name> [<condition> ...]
 *
 * action     allow | alert | deny | review | kill
 * name       letters, digits, '_', '-', '.'; at most 63 bytes; unique in the
 *            file; "fail-closed" is reserved
 * condition  key=value; every condition of a rule must hold. A value is
 *            bare (no spaces) or "double quoted" (\" and \\ inside). Lists
 *            are comma-separated and mean "any of"; a leading '!' negates
 *            the whole list ("none of": users=!carol,dave).
 *
 *   verb=DROP,TRUNCATE      a word matches the verb's first word, so DROP
 *                           matches "DROP TABLE"; INSERT/UPDATE/DELETE/MERGE
 *                           also match one run inside a CTE, PREPARE or
 *                           EXPLAIN ANALYZE. Quoted with a space it matches
 *                           the whole verb: verb="DROP TABLE","ALTER SYSTEM"
 *                           is written verb="DROP TABLE,ALTER SYSTEM".
 *   flag=writes,ddl         any of: writes ddl has-where trivial-where
 *                           no-where dynamic file-access rw-switch
 *                           unparseable privilege tx-control alter-drop
 *                           rename client-file server-admin. no-where = a DELETE/UPDATE without WHERE
 *                           or with a trivial one (WHERE 1=1, WHERE true).
 *                           client-file = the client uploads the data (MySQL
 *                           LOAD DATA LOCAL INFILE, PostgreSQL COPY FROM STDIN).
 *                           server-admin = runs the server (MySQL SET GLOBAL,
 *                           SHUTDOWN, replication; PostgreSQL ALTER SYSTEM,
 *                           pg_reload_conf(), replication slots).
 *   object=public.payroll   glob (* and ?), case-insensitive, on the names
 *                           of tables and other objects, compared part by
 *                           part from the right: "payroll" also matches
 *                           hr.payroll, and "public.payroll" also matches
 *                           an unqualified payroll (search_path may lead
 *                           there); but "hr.*" matches only names written
 *                           with a schema. Quoted names are compared
 *                           unquoted.
 *   function=pg_sleep,lo_*  glob on functions called, the same way.
 *   regex=/pattern/flags    PCRE2 on the statement's fingerprint (flags:
 *                           i m s x). Compiled at load time.
 *   users=alice,ops-*       glob on the bastion user (case-sensitive)
 *   assets=prod-*           glob on the asset name
 *   accounts=postgres       glob on the hosted database account
 *   hours=09:00-18:00       local time of the proxy, [from, to); a range may
 *                           wrap midnight (22:00-06:00)
 *   level=read,write        the session's grant level
 *
 * Rules are tried in file order for each statement; the first one whose
 * conditions all hold decides it (policy.c applies fail-closed and grant
 * levels first). This module does no I/O besides reading nothing: callers
 * hand it the file's text. It never logs; errors fill struct policy_error.
 */
#ifndef SB_POLICY_RULES_H
#define SB_POLICY_RULES_H

#include <stddef.h>

#include "policy/classify.h"
#include "policy/policy.h"

struct rules_set; /* immutable once parsed */

/* What one statement is matched against. Everything is borrowed. */
struct rules_input {
	const struct policy_request *req;
	const struct cls_stmt *st;
	const char *fp; /* the statement's fingerprint, not NUL-terminated */
	size_t fp_len;
	void *match_data; /* from rules_match_data_new(), needed by regex rules */
	int minute;       /* minute of the day for hours=, -1 until computed */
};

/* Parse len bytes of rule text; file names it in errors. Returns 0 and a new
 * set in *out, or -1 with *err filled (file, line, problem). */
int rules_parse(const char *file, const char *text, size_t len,
		struct rules_set **out, struct policy_error *err)
	__attribute__((warn_unused_result));

void rules_free(struct rules_set *rs);
size_t rules_count(const struct rules_set *rs);
int rules_have_regex(const struct rules_set *rs);

/* PCRE2 match data for rules_decide; NULL when out of memory. */
void *rules_match_data_new(void);
void rules_match_data_free(void *md);

/* Try the rules in order. Returns 1 with *action and *name (borrowed from
 * the set) when one matches, 0 when none does, -1 when a regex could not be
 * run to the end (match limit): the caller must fail closed. */
int rules_decide(const struct rules_set *rs, struct rules_input *in,
		 enum policy_action *action, const char **name);

#endif
