/* policy/cls_phases: the words right after some verbs, read through a small
 * phase machine (DDL object kinds, ALTER actions, COPY direction, EXPLAIN
 * options, PREPARE/DECLARE, SET/RESET of settings, MySQL LOAD DATA), and
 * set_config() watched for read-write switches. Part of the classifier
 * core (cls_core.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strcasestr */
#endif
#include "policy/cls_core.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int affirmative(const char *v)
{
	static const char *const yes[] = {"on", "true", "yes", "1", "t", "tr",
					   "tru", "y", "ye"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
	return 0;
}

/* Settings that make a session or the server writable (PostgreSQL, then
 * MySQL names). */
static int is_rw_guc(const char *v)
{
	static const char *const names[] = {
		"default_transaction_read_only", "transaction_read_only",
		"tx_read_only", "read_only", "super_read_only",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(v, names[i]) == 0)
			return 1;
	return 0;
}

/* Settings that make the server load a library from, or write to, a file
 * of its choosing (PostgreSQL libraries, MySQL log files). */
static int is_library_guc(const char *v)
{
	size_t n = strlen(v);
	return strcasecmp(v, "dynamic_library_path") == 0 ||
	       strcasecmp(v, "general_log_file") == 0 ||
	       strcasecmp(v, "slow_query_log_file") == 0 ||
	       (n >= 17 && strcasecmp(v + n - 17, "preload_libraries") == 0);
}

/* MySQL @@global.read_only -> read_only */
static void variable_name(const struct lex_token *t, char *v, size_t cap)
{
	const char *s = t->s, *e = t->s + t->len;
	for (const char *p = s; p < e; p++)
		if (*p == '@' || *p == '.')
			s = p + 1;
	size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
	memcpy(v, s, n);
	v[n] = '\0';
}

/* Value of a token used as a setting value: strings decoded, words folded,
 * numbers as written. */
void cls_value_of(const struct lex_token *t, char *v, size_t cap)
{
	if (t->kind == LEX_NUMBER) {
		size_t n = t->len < cap - 1 ? t->len : cap - 1;
		memcpy(v, t->s, n);
		v[n] = '\0';
	} else {
		lex_string_value(t, v, cap);
	}
}

/* set_config(name, value, is_local) closed: does it switch to read-write? */
void cls_watch_finish(struct cls_batch *b)
{
	int rw;
	if (!(b->watch_n[0] == 1 && b->watch_lit[0]))
		rw = 1; /* the setting's name is computed: assume the worst */
	else if (!strcasestr(b->watch_val[0], "transaction_read_only"))
		rw = 0;
	else
		rw = !(b->watch_n[1] == 1 && b->watch_lit[1] &&
		       affirmative(b->watch_val[1]));
	if (rw)
		b->st->flags |= POLICY_F_RW_SWITCH;
	if (b->watch_n[0] == 1 && b->watch_lit[0] && is_library_guc(b->watch_val[0]))
		b->st->flags |= POLICY_F_FILE_ACCESS;
	if (b->watch_n[0] == 1 && b->watch_lit[0])
		cw_setting(b, NULL, b->watch_val[0]);
	b->watch_depth = 0;
}

/* ---- DDL object kinds -------------------------------------------------- */


int cls_in_list(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w, list[i]) == 0)
			return 1;
	return 0;
}

void cls_kind_finish(struct cls_batch *b)
{
	const char *k = b->kind;
	struct cls_level *L = &b->lv[0];

	b->ph = PH_NONE;
	cls_set_verb(b, cls_kwdefs[b->vid].name, k);
	if (!strcmp(k, "ROLE") || !strcmp(k, "USER") || !strcmp(k, "GROUP") ||
	    !strcmp(k, "DEFAULT PRIVILEGES") || !strcmp(k, "OWNED"))
		b->st->flags |= POLICY_F_PRIVILEGE;
	if (!strcmp(k, "SYSTEM")) /* ALTER SYSTEM can set archive_command & co */
		b->st->flags |= POLICY_F_FILE_ACCESS;
	if (b->vid == KW_CREATE && (!strcmp(k, "FUNCTION") || !strcmp(k, "PROCEDURE")))
		b->may_atomic = 1;
	if (!*k || !strcmp(k, "SYSTEM") || !strcmp(k, "DEFAULT PRIVILEGES") ||
	    !strcmp(k, "OWNED"))
		return;
	L->arm = OBJ_NAME;
	if (b->vid == KW_DROP)
		L->list = OBJ_NAME;
	if (b->vid == KW_ALTER)
		b->ph = PH_ALTER_NAME;
}

/* PH_KIND: one more word of "CREATE [OR REPLACE] [TEMP] MATERIALIZED VIEW".
 * Returns 1 if the word belonged to the kind. */
static int kind_step(struct cls_batch *b)
{
	const struct lex_token *t = &b->cur;
	char w[24];
	size_t n = 0;

	if (b->kind_skip && t->kind != LEX_IDENT) {
		/* MySQL CREATE DEFINER = 'u'@'h' ...: the clause's tokens */
		if (++b->kind_skip < 24)
			return 1;
		b->kind_skip = 0;
	}
	if (t->kind != LEX_IDENT || t->len >= sizeof w) {
		cls_kind_finish(b);
		return 0;
	}
	for (; n < t->len; n++)
		w[n] = (char)up((unsigned char)t->s[n]);
	w[n] = '\0';
	if (b->mysql && !b->kind[0]) {
		/* CREATE [OR REPLACE] [ALGORITHM = a] [DEFINER = user] [SQL
		 * SECURITY s] PROCEDURE|FUNCTION|TRIGGER|EVENT|VIEW name: the
		 * clauses before the kind are skipped, so that the name is the
		 * object created (not a call) */
		static const char *const clause[] = {"ALGORITHM", "DEFINER", "SQL", "SECURITY"};
		static const char *const routine_kinds[] = {"PROCEDURE", "FUNCTION", "TRIGGER",
							    "EVENT", "VIEW", "AGGREGATE"};
		if (cls_in_list(w, clause, sizeof clause / sizeof clause[0])) {
			b->kind_skip = 1;
			return 1;
		}
		if (b->kind_skip) {
			if (cls_in_list(w, routine_kinds, sizeof routine_kinds / sizeof routine_kinds[0]))
				b->kind_skip = 0;
			else if (++b->kind_skip < 24)
				return 1; /* a user name, CURRENT_USER, INVOKER, MERGE, ... */
			else
				b->kind_skip = 0;
		}
	}
	if (!b->kind[0]) {
		if (!cls_in_list(w, kind_modifiers, sizeof kind_modifiers / sizeof kind_modifiers[0]))
			memcpy(b->kind, w, n + 1);
		b->upper_here = 1;
		return 1;
	}
	if (!strcmp(b->kind, "DEFAULT") && strcmp(w, "PRIVILEGES")) {
		memcpy(b->kind, w, n + 1); /* CREATE DEFAULT CONVERSION */
		b->upper_here = 1;
		return 1;
	}
	char cand[sizeof b->kind];
	int cl = snprintf(cand, sizeof cand, "%s %s", b->kind, w);
	if (cl > 0 && (size_t)cl < sizeof cand) {
		for (size_t i = 0; i < sizeof multi_kinds / sizeof multi_kinds[0]; i++) {
			if (!strncmp(multi_kinds[i], cand, (size_t)cl) &&
			    (multi_kinds[i][cl] == '\0' || multi_kinds[i][cl] == ' ')) {
				memcpy(b->kind, cand, (size_t)cl + 1);
				b->upper_here = 1;
				return 1;
			}
		}
	}
	cls_kind_finish(b);
	return 0;
}

/* ---- phases ------------------------------------------------------------------ */

static int is_eq_op(const struct lex_token *t)
{
	return t->kind == LEX_OP && ((t->len == 1 && t->s[0] == '=') ||
				     (t->len == 2 && t->s[0] == ':' && t->s[1] == '='));
}

/* Words at the start of some statements. Returns 1 when the token was
 * consumed, 0 to handle it as usual, 2 to handle it as a statement start. */
int cls_phase_step(struct cls_batch *b)
{
	const struct lex_token *t = &b->cur;
	int kw = b->kw, d = b->depth;
	char v[64];

	switch (b->ph) {
	case PH_KIND:
		return d == 0 ? kind_step(b) : 0;
	case PH_ALTER_ACT:
		if (d != 0 || t->kind == LEX_LPAREN || t->kind == LEX_RPAREN ||
		    (t->kind == LEX_OP && t->len == 1 && t->s[0] == '*'))
			return 0;
		b->ph = PH_ALTER_MID;
		if (kw == KW_DROP)
			b->st->flags |= POLICY_F_ALTER_DROP;
		else if (kw == KW_RENAME || kw == KW_CHANGE) /* MySQL CHANGE old new */
			b->st->flags |= POLICY_F_RENAME;
		return kw == KW_DROP || kw == KW_RENAME;
	case PH_ALTER_MID:
		if (d == 0 && t->kind == LEX_COMMA)
			b->ph = PH_ALTER_ACT;
		return 0;
	case PH_COPY:
		if (d != 0)
			return 0;
		if (kw == KW_FROM)
			b->st->flags |= POLICY_F_WRITES;
		if (kw != KW_FROM && kw != KW_TO)
			return 0;
		b->lv[0].arm = OBJ_NONE;
		b->ph = PH_COPY_DIR;
		return 1;
	case PH_COPY_DIR:
		b->ph = PH_NONE;
		if (kw == KW_STDIN) /* the client sends the rows (psql \copy too) */
			b->st->flags |= POLICY_F_CLIENT_FILE;
		if (kw != KW_STDIN && kw != KW_STDOUT)
			b->st->flags |= POLICY_F_FILE_ACCESS; /* 'file' or PROGRAM */
		return 1;
	case PH_EXPLAIN:
		if (b->skip_words) { /* MySQL EXPLAIN ANALYZE FORMAT = TREE */
			b->skip_words--;
			return 1;
		}
		if (b->mysql && t->kind == LEX_IDENT && t->len == 6 &&
		    !strncasecmp(t->s, "format", 6) && is_eq_op(&b->nx)) {
			b->skip_words = 2;
			return 1;
		}
		if (kw == KW_ANALYZE || kw == KW_ANALYSE) {
			b->explain_analyze = 1;
			return 1;
		}
		if (kw == KW_VERBOSE)
			return 1;
		if (t->kind == LEX_LPAREN) {
			b->ph = PH_EXPLAIN_OPT;
			b->opt_name = 1;
			return 0;
		}
		b->ph = PH_NONE;
		return 2;
	case PH_EXPLAIN_OPT:
		if (d == 0) {
			b->ph = PH_NONE;
			return 2;
		}
		if (d != 1)
			return 0;
		if (t->kind == LEX_COMMA) {
			b->opt_name = 1;
			b->opt_analyze = 0;
		} else if (b->opt_name) {
			b->opt_name = 0;
			lex_ident_value(t, v, sizeof v);
			if (!strcmp(v, "analyze") || !strcmp(v, "analyse"))
				b->explain_analyze = b->opt_analyze = 1;
			return 1;
		} else if (b->opt_analyze && t->kind != LEX_RPAREN) {
			cls_value_of(t, v, sizeof v);
			if (!strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0"))
				b->explain_analyze = 0;
		}
		return 0;
	case PH_PREPARE:
	case PH_DECLARE:
		if (b->prev_kw == KW_PREPARE || b->prev_kw == KW_DECLARE)
			return 1; /* the statement's or cursor's name */
		if (d == 0 && kw == (b->ph == PH_PREPARE ? KW_AS : KW_FOR)) {
			b->ph = PH_NONE;
			b->lv[0].start = 1;
			return 1;
		}
		return 0;
	case PH_SET:
		if (d != 0)
			return 0;
		if (b->mysql && (kw == KW_GLOBAL || kw == KW_PERSIST || kw == KW_PERSIST_ONLY))
			b->st->flags |= POLICY_F_SERVER_ADMIN; /* the server's setting */
		if (kw == KW_SESSION || kw == KW_LOCAL || kw == KW_GLOBAL ||
		    kw == KW_PERSIST || kw == KW_PERSIST_ONLY ||
		    (kw == KW_STATEMENT && b->set_stmt && b->prev_kw == KW_SET))
			return 1;
		b->ph = PH_NONE;
		if (t->kind == LEX_PARAM && t->len > 2 && t->s[1] == '@') {
			variable_name(t, v, sizeof v); /* MySQL SET @@global.x = v */
			cw_setting(b, t, v);
			b->set_rw = is_rw_guc(v);
			if (is_library_guc(v))
				b->st->flags |= POLICY_F_FILE_ACCESS;
			b->ph = PH_SET_NAME;
			return 1;
		}
		if (t->kind == LEX_IDENT && t->len == 8 && !strncasecmp(t->s, "password", 8))
			b->st->flags |= POLICY_F_PRIVILEGE; /* MySQL SET PASSWORD */
		if ((t->kind != LEX_IDENT && t->kind != LEX_QIDENT) ||
		    kw == KW_TRANSACTION || kw == KW_CHARACTERISTICS || kw == KW_ROLE ||
		    kw == KW_AUTHORIZATION || kw == KW_TIME || kw == KW_SCHEMA)
			return 0;
		lex_ident_value(t, v, sizeof v);
		cw_setting(b, t, v);
		b->set_rw = is_rw_guc(v);
		if (is_library_guc(v))
			b->st->flags |= POLICY_F_FILE_ACCESS;
		b->ph = PH_SET_NAME;
		return 1;
	case PH_SET_NAME:
		if (d == 0 && cw_set_name_part(b, t, v, sizeof v)) { /* @@session . x */
			b->set_rw = is_rw_guc(v);
			if (is_library_guc(v))
				b->st->flags |= POLICY_F_FILE_ACCESS;
			return 1;
		}
		if (d == 0 && (t->kind == LEX_DOT || b->prev_kind == LEX_DOT)) {
			b->set_rw = 0; /* a dotted name is an extension's setting */
			return 1;
		}
		if (d == 0 && (kw == KW_TO || is_eq_op(t))) {
			b->ph = PH_SET_VALUE;
			return 1;
		}
		b->ph = PH_NONE;
		return 0;
	case PH_SET_VALUE:
		if (d == 0 && t->kind == LEX_COMMA && b->mysql) {
			b->ph = PH_SET; /* SET a = 1, b = 2 */
			return 0;
		}
		if (d == 0 && t->kind != LEX_COMMA && b->set_rw) {
			cls_value_of(t, v, sizeof v);
			if (!affirmative(v)) /* off, false, 0, DEFAULT, ... */
				b->st->flags |= POLICY_F_RW_SWITCH;
		}
		return 0;
	case PH_MY_LOAD:
		if (d != 0)
			return 0;
		if (kw == KW_LOCAL) { /* the client's file, sent by the client */
			b->load_local = 1;
			b->st->flags |= POLICY_F_CLIENT_FILE;
			return 1;
		}
		if (kw != KW_INFILE)
			return 0;
		if (!b->load_local)
			b->st->flags |= POLICY_F_FILE_ACCESS; /* a file of the server */
		b->ph = PH_NONE;
		return 1;
	case PH_RESET:
		b->ph = PH_NONE;
		if (kw == KW_ALL) {
			b->st->flags |= POLICY_F_RW_SWITCH;
		} else if (t->kind == LEX_IDENT || t->kind == LEX_QIDENT) {
			lex_ident_value(t, v, sizeof v);
			if (is_rw_guc(v))
				b->st->flags |= POLICY_F_RW_SWITCH;
		}
		return 0;
	}
	return 0;
}

/* ---- per token ------------------------------------------------------------------------ */

void cls_watch_token(struct cls_batch *b, const struct lex_token *t)
{
	if (!b->watch_depth || b->depth < b->watch_depth)
		return;
	if (b->depth == b->watch_depth && t->kind == LEX_COMMA) {
		b->watch_arg++;
		return;
	}
	if (b->depth == b->watch_depth && t->kind == LEX_RPAREN)
		return;
	if (b->watch_arg > 1)
		return;
	int a = b->watch_arg;
	b->watch_n[a]++;
	b->watch_lit[a] = b->watch_n[a] == 1 && t->kind == LEX_STRING;
	if (b->watch_lit[a])
		lex_string_value(t, b->watch_val[a], sizeof b->watch_val[a]);
}
