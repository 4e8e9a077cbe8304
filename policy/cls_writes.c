/* policy/cls_writes: write targets in system schemas, MERGE actions, and
 * foreign data that reaches files (see cls_writes.h).
 *
 * Everything here looks at tokens and names the classifier already reads,
 * in the same single pass: a fixed amount of work per token, no allocation.
 * Words are compared as text (not as classify.c's keyword ids) so that this
 * file depends only on classify.h and lexer.h.
 */
#include "policy/cls_writes.h"

#include <string.h>
#include <strings.h>

#include "policy/classify.h"

enum { CW_ZONE_NONE, CW_ZONE_FIRST, CW_ZONE_LIST };

/* MERGE: where in "WHEN [NOT] MATCHED [AND cond] THEN action" */
enum { MG_IDLE, MG_WHEN, MG_MATCHED, MG_COND, MG_THEN };

/* foreign-data and table-option phases */
enum { FD_NONE, FD_ENGINE, FD_ENGINE_VALUE };

static int word_is(const struct lex_token *t, const char *w)
{
	size_t n = strlen(w);
	return t->kind == LEX_IDENT && t->len == n && strncasecmp(t->s, w, n) == 0;
}

static int word_in(const struct lex_token *t, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (word_is(t, list[i]))
			return 1;
	return 0;
}

#define WORD_IN(t, list) word_in((t), (list), sizeof(list) / sizeof((list)[0]))

static int name_eq(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* ---- system schemas ------------------------------------------------------ */

/* Schemas whose tables are the server's own: a write there changes users,
 * privileges, routines or server state (PostgreSQL superusers can write
 * pg_catalog directly; MariaDB's mysql.* tables are its grant tables;
 * performance_schema setup tables and sys.sys_config are writable too). */
static int system_schema(const struct cls_batch *b, const char *s, size_t n)
{
	static const char *const pg[] = {"pg_catalog", "pg_toast", "information_schema"};
	static const char *const my[] = {"mysql", "performance_schema", "sys",
					 "information_schema"};
	const char *const *list = b->mysql ? my : pg;
	size_t cnt = b->mysql ? sizeof my / sizeof my[0] : sizeof pg / sizeof pg[0];
	for (size_t i = 0; i < cnt; i++)
		if (name_eq(s, n, list[i]))
			return 1;
	return 0;
}

/* Does the (qualified) name nm denote a table of a system schema? */
static int system_name(const struct cls_batch *b, const char *nm, size_t n, int parts)
{
	const char *part[4];
	size_t plen[4];
	int np = 0;
	const char *p = nm, *e = nm + n;
	while (np < 4) {
		const char *q = memchr(p, CLS_NAME_SEP, (size_t)(e - p));
		part[np] = p;
		plen[np++] = (size_t)((q ? q : e) - p);
		if (!q)
			break;
		p = q + 1;
	}
	(void)parts;
	const char *rel = part[np - 1];
	size_t rl = plen[np - 1];
	if (b->mysql) {
		if (np == 1) /* the current database's */
			return b->w.db_unknown || system_schema(b, b->w.db, strlen(b->w.db));
		for (int i = 0; i < np - 1; i++) /* db.t, or db.t.col in a join */
			if (system_schema(b, part[i], plen[i]))
				return 1;
		return 0;
	}
	/* pg_settings is a view whose update rule calls set_config(): a
	 * setting change, classified as such elsewhere */
	if (name_eq(rel, rl, "pg_settings"))
		return 0;
	if (np == 1) /* pg_catalog comes first on search_path unless moved */
		return rl > 3 && strncasecmp(rel, "pg_", 3) == 0;
	return system_schema(b, part[np - 2], plen[np - 2]);
}

/* ---- hooks --------------------------------------------------------------- */

void cw_begin(struct cls_batch *b, const struct cls_opts *opts)
{
	struct cls_writes *w = &b->w;
	w->db[0] = '\0';
	cw_stmt_begin(b);
	if (opts->database && *opts->database) {
		size_t n = strlen(opts->database);
		if (n >= sizeof w->db)
			n = sizeof w->db - 1;
		memcpy(w->db, opts->database, n);
		w->db[n] = '\0';
	}
	w->db_unknown = opts->database_unknown != 0;
	b->out->use_seen = 0;
	b->out->use_db[0] = '\0';
}

void cw_stmt_begin(struct cls_batch *b)
{
	struct cls_writes *w = &b->w;
	w->zone = CW_ZONE_NONE;
	w->zone_names = w->cat_hit = 0;
	w->merge_depth = -1;
	w->merge_ph = MG_IDLE;
	w->merge_open = w->merge_any = 0;
	w->fdw_ph = FD_NONE;
}

void cw_write_begin(struct cls_batch *b, const char *kw_name)
{
	struct cls_writes *w = &b->w;
	int list = !strcmp(kw_name, "TRUNCATE") ||
		   (b->mysql && (!strcmp(kw_name, "UPDATE") || !strcmp(kw_name, "DELETE")));
	w->zone = list ? CW_ZONE_LIST : CW_ZONE_FIRST;
	w->zone_depth = b->depth;
	w->ddl_create = !strcmp(kw_name, "CREATE");
	w->zone_names = 0;
	if (!strcmp(kw_name, "MERGE")) {
		w->merge_depth = b->depth;
		w->merge_ph = MG_IDLE;
		w->merge_open = w->merge_any = 0;
	}
}

int cw_name(struct cls_batch *b, const char *nm, size_t n, int parts, int armed,
	    int after_sep)
{
	static const char *const modifiers[] = {"low_priority", "delayed", "high_priority",
						"ignore", "quick"};
	struct cls_writes *w = &b->w;
	/* a list zone also takes UPDATE (mysql.user) SET ...: MySQL's table
	 * references may be parenthesized */
	if (!w->zone || b->depth < w->zone_depth ||
	    (b->depth > w->zone_depth && w->zone != CW_ZONE_LIST))
		return 0;
	if (b->mysql && armed && parts == 1 && b->cur.kind == LEX_IDENT &&
	    WORD_IN(&b->cur, modifiers))
		return 1; /* INSERT IGNORE t, UPDATE LOW_PRIORITY t */
	if (!armed && !(w->zone == CW_ZONE_LIST && after_sep))
		return 0;
	/* CREATE puts an unqualified PostgreSQL name in the first schema of
	 * search_path, pg_catalog only when a SET search_path put it there
	 * explicitly (not followed: README known limits); ALTER/DROP of an
	 * unqualified pg_authid find the catalog's */
	int pg_create = !b->mysql && parts == 1 && w->ddl_create;
	if (!pg_create && system_name(b, nm, n, parts))
		w->cat_hit = 1;
	w->zone_names++;
	if (w->zone == CW_ZONE_FIRST)
		w->zone = CW_ZONE_NONE;
	return 0;
}

/* Words that end the part of a write statement where its targets stand.
 * Not USING: MySQL's DELETE FROM a USING tbl a names its targets there. */
static int zone_end(const struct lex_token *t)
{
	if (t->kind != LEX_IDENT || t->len < 3 || t->len > 9)
		return 0;
	switch (t->s[0] | 0x20) { /* first letter: most words compare once */
	case 's': return word_is(t, "set") || word_is(t, "select");
	case 'w': return word_is(t, "where") || word_is(t, "with");
	case 'v': return word_is(t, "values") || word_is(t, "value");
	case 'o': return word_is(t, "order");
	case 'l': return word_is(t, "limit");
	case 'r': return word_is(t, "returning");
	case 'd': return word_is(t, "default");
	case 'p': return word_is(t, "partition");
	}
	return 0;
}

/* A WHEN MATCHED condition refers to the rows when it names anything but
 * constants and operator words. */
static int refers(const struct lex_token *t)
{
	static const char *const consts[] = {"true", "false", "null", "not", "is", "and",
					     "or", "unknown"};
	if (t->kind == LEX_QIDENT || t->kind == LEX_PARAM)
		return 1;
	return t->kind == LEX_IDENT && !WORD_IN(t, consts);
}

static void merge_token(struct cls_batch *b, const struct lex_token *t)
{
	struct cls_writes *w = &b->w;
	int at = b->depth == w->merge_depth;

	switch (w->merge_ph) {
	case MG_IDLE:
		if (at && word_is(t, "when")) {
			w->merge_ph = MG_WHEN;
			w->merge_matched = 1;
			w->merge_cond = 0;
		}
		return;
	case MG_WHEN:
		if (word_is(t, "not"))
			w->merge_matched = 0;
		else if (word_is(t, "matched"))
			w->merge_ph = MG_MATCHED;
		return;
	case MG_MATCHED:
		if (word_is(t, "and"))
			w->merge_ph = MG_COND;
		else if (word_is(t, "then"))
			w->merge_ph = MG_THEN;
		return;
	case MG_COND:
		if (at && word_is(t, "then"))
			w->merge_ph = MG_THEN;
		else if (refers(t))
			w->merge_cond = 1;
		return;
	case MG_THEN:
		w->merge_ph = MG_IDLE;
		if (word_is(t, "delete") || word_is(t, "update")) {
			b->st->dml |= word_is(t, "delete") ? CLS_DML_DELETE : CLS_DML_UPDATE;
			b->st->flags |= POLICY_F_WRITES;
			if (w->merge_matched) {
				w->merge_any = 1;
				if (!w->merge_cond)
					w->merge_open = 1;
			}
		} else if (word_is(t, "insert")) {
			b->st->dml |= CLS_DML_INSERT;
		}
		return;
	}
}

void cw_merge_close(struct cls_batch *b, int on_trivial)
{
	struct cls_writes *w = &b->w;
	/* Scope as for DELETE/UPDATE: the ON condition is the WHERE of the
	 * rows a WHEN MATCHED action changes, narrowed by the action's own
	 * AND condition. Inserting the unmatched rows has no scope. */
	if (w->merge_any) {
		b->st->flags |= POLICY_F_HAS_WHERE;
		if (on_trivial && w->merge_open)
			b->st->flags |= POLICY_F_WHERE_TRIVIAL | POLICY_F_NO_WHERE;
	}
	w->merge_depth = -1;
}

/* CREATE/ALTER/IMPORT: foreign data wrappers and table engines that read or
 * write server files or run programs. */
static void fdw_token(struct cls_batch *b, const struct lex_token *t)
{
	static const char *const file_opts[] = {"program", "filename"};
	struct cls_writes *w = &b->w;
	const char *v = b->st->verb;
	char val[LEX_NAME_MAX + 1];

	if (strncmp(v, "CREATE", 6) && strncmp(v, "ALTER", 5) && strncmp(v, "IMPORT", 6))
		return;
	if (t->kind == LEX_IDENT || t->kind == LEX_QIDENT) {
		size_t n = lex_ident_value(t, val, sizeof val);
		/* file_fdw itself, its handler or validator, a server on it */
		if (n >= 8 && !strncmp(val, "file_fdw", 8))
			b->st->flags |= POLICY_F_FILE_ACCESS;
		if (!strcmp(v, "CREATE EXTENSION") && n == 9 && !strcmp(val, "adminpack"))
			b->st->flags |= POLICY_F_FILE_ACCESS;
		/* OPTIONS (filename '...') / (SET program '...') */
		if (b->depth > 0 && (n == 7 || n == 8) &&
		    (!strcmp(val, file_opts[0]) || !strcmp(val, file_opts[1])) &&
		    b->nx.kind == LEX_STRING)
			b->st->flags |= POLICY_F_FILE_ACCESS;
	}
	if (!b->mysql || b->depth != 0)
		return;
	/* MariaDB: ENGINE = CONNECT reads and writes files (and more); DATA /
	 * INDEX DIRECTORY puts table files where the statement says */
	if (w->fdw_ph == FD_ENGINE && t->kind == LEX_OP && t->len == 1 && t->s[0] == '=') {
		w->fdw_ph = FD_ENGINE_VALUE; /* ENGINE = CONNECT */
		return;
	}
	if (w->fdw_ph != FD_NONE) { /* ENGINE [=] value */
		w->fdw_ph = FD_NONE;
		if (t->kind == LEX_IDENT || t->kind == LEX_QIDENT || t->kind == LEX_STRING) {
			lex_ident_value(t, val, sizeof val);
			if (!strcasecmp(val, "connect"))
				b->st->flags |= POLICY_F_FILE_ACCESS;
		}
		return;
	}
	if (word_is(t, "engine"))
		w->fdw_ph = FD_ENGINE;
	else if ((word_is(t, "data") || word_is(t, "index")) && word_is(&b->nx, "directory"))
		b->st->flags |= POLICY_F_FILE_ACCESS;
}

void cw_token(struct cls_batch *b)
{
	struct cls_writes *w = &b->w;
	const struct lex_token *t = &b->cur;

	/* MySQL USE db: later statements of the batch write there */
	if (b->mysql && b->depth == 0 && b->ntok == 2 && !strcmp(b->st->verb, "USE") &&
	    (t->kind == LEX_IDENT || t->kind == LEX_QIDENT)) {
		char v[LEX_NAME_MAX + 1];
		size_t n = lex_ident_value(t, v, sizeof v);
		memcpy(w->db, v, n + 1);
		w->db_unknown = 0;
		memcpy(b->out->use_db, v, n + 1);
		b->out->use_seen = 1;
	}
	if (w->zone && b->depth == w->zone_depth && zone_end(t))
		w->zone = CW_ZONE_NONE;
	if (w->merge_depth >= 0 && b->depth >= w->merge_depth)
		merge_token(b, t);
	if (b->st->flags & POLICY_F_DDL)
		fdw_token(b, t);
}

void cw_stmt_end(struct cls_batch *b)
{
	if (b->w.cat_hit && (b->st->flags & (POLICY_F_WRITES | POLICY_F_DDL)))
		b->st->flags |= POLICY_F_PRIVILEGE;
}
