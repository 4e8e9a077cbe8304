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
#include "policy/cls_pgcatalog.h"

enum { CW_ZONE_NONE, CW_ZONE_FIRST, CW_ZONE_LIST };

/* MERGE: where in "WHEN [NOT] MATCHED [AND cond] THEN action" */
enum { MG_IDLE, MG_WHEN, MG_MATCHED, MG_COND, MG_THEN };

/* foreign-data and table-option phases */
enum { FD_NONE, FD_ENGINE, FD_ENGINE_VALUE };

/* CREATE VIEW: before AS, after AS (the query's first word to come), in
 * the query */
enum { VW_NONE, VW_HEAD, VW_AS, VW_QUERY };

/* MySQL stored program bodies: where cw_split is */
enum { BD_NONE, BD_EACH, BD_ROW, BD_BEGIN };

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

static int system_name(const struct cls_batch *b, const char *nm, size_t n, int parts);

/* information_schema's tables (not views): writable by a superuser and
 * reached unqualified after SET search_path = information_schema. A user
 * table of the same name is reached qualified. */
static int infoschema_table(const char *s, size_t n)
{
	return name_eq(s, n, "sql_features") || name_eq(s, n, "sql_implementation_info") ||
	       name_eq(s, n, "sql_parts") || name_eq(s, n, "sql_sizing");
}

/* A relation the server writes through a view to: a catalog table or a
 * catalog view it updates (pg_group, ...), an information_schema table;
 * MySQL: any table of mysql, performance_schema (setup tables) or sys. */
static int writable_system_name(const struct cls_batch *b, const char *nm, size_t n)
{
	const char *rel = nm, *schema = NULL;
	size_t sl = 0;
	for (size_t i = 0; i < n; i++)
		if (nm[i] == CLS_NAME_SEP) {
			schema = rel;
			sl = (size_t)(nm + i - rel);
			rel = nm + i + 1;
		}
	size_t rl = (size_t)(nm + n - rel);
	if (b->mysql) { /* information_schema holds views of no table */
		const char *db = schema ? schema : b->w.db;
		size_t dl = schema ? sl : strlen(b->w.db);
		return !((schema || !b->w.db_unknown) && name_eq(db, dl, "information_schema")) &&
		       system_name(b, nm, n, 0);
	}
	/* information_schema's views and pg_toast's tables do not take DML */
	if (schema && name_eq(schema, sl, "information_schema"))
		return infoschema_table(rel, rl);
	if (schema && !name_eq(schema, sl, "pg_catalog"))
		return 0;
	char k = pgcat_relation_kind(rel, rl);
	return k == 'r' || k == 'u' || (!schema && infoschema_table(rel, rl));
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
	/* pg_catalog comes first on search_path unless moved: an unqualified
	 * name that pg_catalog has is the catalog's (a user table of that name
	 * is reached only qualified: public.pg_class), any other is not
	 * (pg_blob); after SET search_path to another system schema, every
	 * unqualified name may be one of its tables */
	if (np == 1)
		return pgcat_relation_kind(rel, rl) != 0 || infoschema_table(rel, rl);
	return system_schema(b, part[np - 2], plen[np - 2]);
}

/* ---- hooks --------------------------------------------------------------- */

void cw_begin(struct cls_batch *b, const struct cls_opts *opts)
{
	struct cls_writes *w = &b->w;
	w->db[0] = '\0';
	w->body_ph = BD_NONE;
	w->defer_left = w->defer_cmp = 0;
	w->sys_path = 0;
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
	w->view_ph = VW_NONE;
	w->view_cat = w->view_fixed = w->view_from = w->zone_view = w->zone_force = 0;
	w->alter_type = 0;
	w->scope_only = 0;
	w->path_watch = 0;
	w->prog = 0;
	w->body_skip = 0;
	if (w->body_ph != BD_BEGIN) /* an event's DO BEGIN spans the split */
		w->body_ph = BD_NONE;
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
	if (!armed && !w->zone_force && !(w->zone == CW_ZONE_LIST && after_sep))
		return 0;
	/* CREATE puts an unqualified PostgreSQL name in the first schema of
	 * search_path: pg_catalog only after a SET search_path put it first
	 * (followed within the batch: README known limits); ALTER/DROP of an
	 * unqualified pg_authid find the catalog's */
	int pg_create = !b->mysql && parts == 1 && w->ddl_create;
	if (w->zone_view) {
		if (writable_system_name(b, nm, n))
			w->view_cat = 1;
	} else if (pg_create ? w->sys_path : system_name(b, nm, n, parts)) {
		w->cat_hit = 1;
	}
	w->zone_names++;
	w->zone_force = 0;
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
static void view_token(struct cls_batch *b, const struct lex_token *t);
static void on_table_token(struct cls_batch *b, const struct lex_token *t);
static void stored_setting_token(struct cls_batch *b, const struct lex_token *t);
static void alter_token(struct cls_batch *b, const struct lex_token *t);
static void using_end(struct cls_batch *b);

/* Engines that keep no rows of their own: ALTER TABLE t ENGINE=x empties t. */
static int rowless_engine(const char *v)
{
	return !strcasecmp(v, "blackhole") || !strcasecmp(v, "mrg_myisam") ||
	       !strcasecmp(v, "merge") || !strcasecmp(v, "mrg_isam");
}

/* Engines that reach another server. */
static int remote_engine(const char *v)
{
	return !strcasecmp(v, "federated") || !strcasecmp(v, "federatedx") ||
	       !strcasecmp(v, "spider");
}

/* DDL that reaches outside the database by its verb alone. */
static void outside_verb(struct cls_batch *b)
{
	const char *v = b->st->verb;
	if (!strcmp(v, "CREATE SUBSCRIPTION") || !strcmp(v, "ALTER SUBSCRIPTION") ||
	    !strcmp(v, "CREATE TABLESPACE") || (!strncmp(v, "CREATE", 6) && strstr(v, "LANGUAGE")) ||
	    (b->mysql && (!strcmp(v, "CREATE SERVER") || !strcmp(v, "ALTER SERVER"))))
		b->st->flags |= POLICY_F_FILE_ACCESS;
	if (!strcmp(v, "ALTER SYSTEM"))
		b->st->flags |= POLICY_F_SERVER_ADMIN;
}

static void fdw_token(struct cls_batch *b, const struct lex_token *t)
{
	static const char *const file_opts[] = {"program", "filename"};
	struct cls_writes *w = &b->w;
	const char *v = b->st->verb;
	char val[LEX_NAME_MAX + 1];

	if (strncmp(v, "CREATE", 6) && strncmp(v, "ALTER", 5) && strncmp(v, "IMPORT", 6))
		return;
	outside_verb(b);
	if (t->kind == LEX_IDENT || t->kind == LEX_QIDENT) {
		size_t n = lex_ident_value(t, val, sizeof val);
		/* file_fdw itself, its handler or validator, a server on it */
		if (n >= 8 && !strncmp(val, "file_fdw", 8))
			b->st->flags |= POLICY_F_FILE_ACCESS;
		/* servers that connect elsewhere (as dblink() does) */
		if ((n == 12 && !strcmp(val, "postgres_fdw")) || (n == 10 && !strcmp(val, "dblink_fdw")))
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
			if (!strcasecmp(val, "connect") || remote_engine(val))
				b->st->flags |= POLICY_F_FILE_ACCESS;
			if (!strncmp(v, "ALTER", 5) && rowless_engine(val)) {
				b->st->flags |= POLICY_F_WRITES | POLICY_F_NO_WHERE;
				b->st->dml |= CLS_DML_DELETE;
			}
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

	/* SET search_path [=|TO] first, ...: an unqualified CREATE later in
	 * the batch lands in first (pg_catalog: a catalog change) */
	if (w->path_watch && b->depth == 0 &&
	    (t->kind == LEX_IDENT || t->kind == LEX_QIDENT || t->kind == LEX_STRING) &&
	    !word_is(t, "to") && !word_is(t, "search_path")) {
		char v[LEX_NAME_MAX + 1];
		if (t->kind == LEX_STRING)
			lex_string_value(t, v, sizeof v);
		else
			lex_ident_value(t, v, sizeof v);
		w->path_watch = 0;
		w->sys_path = !strcasecmp(v, "pg_catalog") || !strcasecmp(v, "information_schema") ||
			      !strcasecmp(v, "pg_toast");
	}

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
	if (b->st->flags & POLICY_F_DDL) {
		fdw_token(b, t);
		view_token(b, t);
		on_table_token(b, t);
		alter_token(b, t);
		stored_setting_token(b, t);
	}
}

void cw_stmt_end(struct cls_batch *b)
{
	if (b->w.cat_hit && (b->st->flags & (POLICY_F_WRITES | POLICY_F_DDL)))
		b->st->flags |= POLICY_F_PRIVILEGE;
	if (b->w.view_cat && !b->w.view_fixed)
		b->st->flags |= POLICY_F_PRIVILEGE;
	if (b->st->flags & POLICY_F_DDL) {
		outside_verb(b); /* the verb is whole only now (CREATE LANGUAGE x) */
		using_end(b);
	}
	struct cls_writes *w = &b->w;
	if (w->defer_cmp && !cls_compound_active(&b->cmp))
		w->defer_cmp = 0;
	if (w->defer_left || w->defer_cmp) {
		b->st->deferred = 1;
		if (cls_compound_active(&b->cmp))
			w->defer_cmp = 1; /* a body that is a labelled block or an IF */
		if (b->st->flags & POLICY_F_ENDS_SESSION)
			b->st->kill.unmapped++; /* runs later as another session */
	}
	if (w->defer_left)
		w->defer_left--;
}

/* ---- views, triggers and rules over catalogs ----------------------------- */

/* Aggregates: a view whose select list has one is not updatable. */
static int aggregate_word(const struct lex_token *t)
{
	static const char *const aggs[] = {
		"count", "sum", "min", "max", "avg", "array_agg", "string_agg", "group_concat",
		"bool_and", "bool_or", "every", "json_agg", "jsonb_agg", "json_object_agg",
		"jsonb_object_agg", "json_arrayagg", "json_objectagg", "bit_and", "bit_or",
		"bit_xor", "std", "stddev", "stddev_pop", "stddev_samp", "variance",
		"var_pop", "var_samp", "xmlagg",
	};
	return WORD_IN(t, aggs);
}

/* Words at a view query's own level that make it one the server does not
 * write through. */
static int view_fixing_word(const struct lex_token *t)
{
	static const char *const words[] = {"distinct", "group", "having", "limit", "offset",
					    "fetch", "union", "intersect", "except", "window",
					    "over"};
	return WORD_IN(t, words);
}

static void zone_open(struct cls_writes *w, int depth, uint8_t kind, uint8_t view)
{
	w->zone = kind;
	w->zone_depth = depth;
	w->ddl_create = 0;
	w->zone_view = view;
	w->zone_force = 0;
}

static void view_token(struct cls_batch *b, const struct lex_token *t)
{
	struct cls_writes *w = &b->w;
	const char *v = b->st->verb;

	switch (w->view_ph) {
	case VW_NONE:
		/* CREATE [OR REPLACE] [ALGORITHM=..] [DEFINER=..] VIEW; MySQL
		 * ALTER VIEW v AS ... replaces the query too */
		if (b->depth == 0 && word_is(t, "view") &&
		    (!strncmp(v, "CREATE", 6) || (b->mysql && !strncmp(v, "ALTER", 5))) &&
		    !(b->prev_s && b->prev_len == 12 && !strncasecmp(b->prev_s, "materialized", 12))) {
			w->view_ph = VW_HEAD;
			w->view_cat = w->view_fixed = w->view_from = 0;
		}
		return;
	case VW_HEAD:
		if (word_is(t, "recursive"))
			w->view_fixed = 1; /* CREATE RECURSIVE VIEW: a CTE */
		if (b->depth == 0 && word_is(t, "as"))
			w->view_ph = VW_AS;
		return;
	case VW_AS:
		if (t->kind == LEX_LPAREN)
			return; /* AS (SELECT ...) */
		w->view_ph = VW_QUERY;
		w->view_depth = b->depth;
		if (word_is(t, "table")) /* PostgreSQL: AS TABLE pg_authid */
			zone_open(w, b->depth, CW_ZONE_FIRST, 1);
		else if (!word_is(t, "select"))
			w->view_fixed = 1; /* WITH ..., VALUES ... */
		return;
	}
	if (b->depth != w->view_depth) {
		/* FROM (SELECT ...) / FROM f(x): PostgreSQL writes through a
		 * plain table only; MySQL may merge a derived table (the zone
		 * keeps reading the names inside) */
		if (b->depth == w->view_depth + 1 && w->view_from && !b->mysql &&
		    b->prev_kind == LEX_LPAREN)
			w->view_fixed = 1;
		return;
	}
	if (word_is(t, "from")) {
		w->view_from = 1;
		zone_open(w, b->depth, CW_ZONE_LIST, 1);
		return;
	}
	if (view_fixing_word(t) || (aggregate_word(t) && b->nx.kind == LEX_LPAREN)) {
		w->view_fixed = 1;
		return;
	}
	if (word_is(t, "where") || word_is(t, "order"))
		w->view_from = 0;
	/* PostgreSQL updates a view over exactly one FROM item; MySQL also
	 * joins (one table per statement) */
	if (w->view_from && !b->mysql &&
	    (t->kind == LEX_COMMA || word_is(t, "join") || word_is(t, "natural") ||
	     word_is(t, "cross")))
		w->view_fixed = 1;
}

/* ALTER DATABASE|ROLE|USER|FUNCTION|PROCEDURE ... SET name, CREATE
 * FUNCTION ... SET name: a setting every later session (or call) gets.
 * Same names as a SET: allow_system_table_mods (catalog DDL), libraries
 * loaded at session start (code the server runs). */
static void stored_setting_token(struct cls_batch *b, const struct lex_token *t)
{
	const char *v = b->st->verb;
	char name[LEX_NAME_MAX + 1];
	size_t n;

	if (b->mysql || b->depth != 0 || (t->kind != LEX_IDENT && t->kind != LEX_QIDENT) ||
	    !(b->prev_kind == LEX_IDENT && b->prev_len == 3 && b->prev_s &&
	      !strncasecmp(b->prev_s, "set", 3)))
		return;
	if (strncmp(v, "ALTER", 5) && strncmp(v, "CREATE", 6))
		return;
	n = lex_ident_value(t, name, sizeof name);
	cw_setting(b, NULL, name);
	if ((n >= 17 && !strcmp(name + n - 17, "preload_libraries")) ||
	    !strcmp(name, "dynamic_library_path"))
		b->st->flags |= POLICY_F_FILE_ACCESS;
}

/* CREATE TRIGGER/POLICY ... ON t, CREATE RULE ... TO t: an object of the
 * statement that lives elsewhere than its name. */
static void on_table_token(struct cls_batch *b, const struct lex_token *t)
{
	const char *v = b->st->verb;
	if (b->depth != 0 || strncmp(v, "CREATE", 6))
		return;
	if ((word_is(t, "on") && strstr(v, "TRIGGER") && !strstr(v, "EVENT TRIGGER")) ||
	    (word_is(t, "on") && strstr(v, "POLICY")) ||
	    (word_is(t, "to") && strstr(v, "RULE"))) {
		zone_open(&b->w, 0, CW_ZONE_FIRST, 0);
		b->w.zone_force = 1; /* RULE ... TO t: the classifier does not arm t */
	}
}

/* ALTER ... TYPE x USING expr: where the reader is */
enum { AT_NONE, AT_TYPE, AT_USING };

/* Does a token of a USING expression refer to the row (a column), rather
 * than being a constant, an operator word, a function or a type name? */
static int using_refers(struct cls_batch *b, const struct lex_token *t)
{
	static const char *const words[] = {
		"true", "false", "null", "not", "is", "and", "or", "unknown", "as", "case",
		"when", "then", "else", "end", "precision", "varying", "zone", "time", "with",
		"without", "interval", "collate", "array", "row", "current_date",
		"current_time", "current_timestamp", "localtime", "localtimestamp",
		"current_user", "session_user", "user", "default", "distinct", "from", "in",
		"between", "like", "ilike", "similar", "escape", "at", "select",
	};
	struct cls_writes *w = &b->w;
	int prev_cast = b->prev_kind == LEX_OP && b->prev_len == 2 && b->prev_s &&
			b->prev_s[0] == ':' && b->prev_s[1] == ':';
	int prev_as = b->prev_kind == LEX_IDENT && b->prev_len == 2 && b->prev_s &&
		      !strncasecmp(b->prev_s, "as", 2);
	int type_part = w->using_type && b->prev_kind == LEX_DOT;

	w->using_type = 0;
	if (t->kind != LEX_IDENT && t->kind != LEX_QIDENT)
		return 0;
	if (prev_cast || prev_as || type_part) { /* ::text, AS int, pg_catalog.int4 */
		w->using_type = b->nx.kind == LEX_DOT;
		return 0;
	}
	if (b->nx.kind == LEX_LPAREN) /* a function: its arguments decide */
		return 0;
	return t->kind == LEX_QIDENT || !WORD_IN(t, words);
}

/* The USING expression ended: one that refers to no column overwrites
 * every row (USING 'x', USING NULL, USING now()): an UPDATE without WHERE.
 * One that converts the column (USING c::int) is schema work. */
static void using_end(struct cls_batch *b)
{
	struct cls_writes *w = &b->w;
	if (w->alter_type == AT_USING && !w->using_ref) {
		b->st->flags |= POLICY_F_WRITES | POLICY_F_NO_WHERE;
		b->st->dml |= CLS_DML_UPDATE;
	}
	w->alter_type = AT_NONE;
}

/* ALTER TABLE actions that lose or rewrite rows. */
static void alter_token(struct cls_batch *b, const struct lex_token *t)
{
	struct cls_writes *w = &b->w;
	/* MariaDB also ALTER [ONLINE] [IGNORE] TABLE, whose verb reads "ALTER
	 * ONLINE": the action words below occur in ALTER TABLE only */
	if (strncmp(b->st->verb, "ALTER TABLE", 11) &&
	    !(b->mysql && !strncmp(b->st->verb, "ALTER", 5)))
		return;
	if (w->alter_type == AT_USING) {
		if (b->depth == 0 && t->kind == LEX_COMMA) {
			using_end(b);
			return;
		}
		if (using_refers(b, t))
			w->using_ref = 1;
		return;
	}
	if (b->depth != 0)
		return;
	if (t->kind == LEX_COMMA) {
		w->alter_type = AT_NONE;
		return;
	}
	if (t->kind != LEX_IDENT)
		return;
	if (!b->mysql && word_is(t, "type")) {
		w->alter_type = AT_TYPE; /* ALTER [COLUMN] c [SET DATA] TYPE x [USING e] */
	} else if (!b->mysql && w->alter_type == AT_TYPE && word_is(t, "using")) {
		w->alter_type = AT_USING;
		w->using_ref = w->using_type = 0;
	} else if (word_is(t, "detach") && word_is(&b->nx, "partition")) {
		b->st->flags |= POLICY_F_ALTER_DROP; /* its rows leave the table */
	} else if (b->mysql && word_is(t, "discard")) {
		b->st->flags |= POLICY_F_ALTER_DROP; /* DISCARD TABLESPACE deletes the file */
	} else if (b->mysql && word_is(t, "truncate") && word_is(&b->nx, "partition")) {
		b->st->flags |= POLICY_F_WRITES | POLICY_F_NO_WHERE;
		b->st->dml |= CLS_DML_DELETE;
	}
}

/* ---- server administration, settings, functions -------------------------- */

void cw_verb(struct cls_batch *b)
{
	static const char *const admin[] = {"SHUTDOWN", "RESTART", "PURGE", "CHANGE"};
	static const char *const repl[] = {"master", "slave", "replica", "all",
					   "group_replication", "slaves", "replicas"};
	const char *v = b->st->verb;
	if (!b->mysql)
		return;
	for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++)
		if (!strcmp(v, admin[i]))
			b->st->flags |= POLICY_F_SERVER_ADMIN;
	/* RESET MASTER, START SLAVE, STOP ALL SLAVES; not RESET QUERY CACHE
	 * nor START TRANSACTION */
	if ((!strcmp(v, "RESET") || !strcmp(v, "START") || !strcmp(v, "STOP")) &&
	    WORD_IN(&b->nx, repl))
		b->st->flags |= POLICY_F_SERVER_ADMIN;
}

/* MySQL @@global.x, @@persist.x; also @@global alone, which is how the
 * tokenizer reads @@global . `x` and @@GLOBAL/ * * /.x */
static int global_variable(const struct lex_token *t)
{
	if (t->kind != LEX_PARAM)
		return 0;
	if (t->len >= 9 && !strncasecmp(t->s, "@@persist", 9))
		return 1;
	return t->len >= 8 && !strncasecmp(t->s, "@@global", 8) && (t->len == 8 || t->s[8] == '.');
}

void cw_setting(struct cls_batch *b, const struct lex_token *t, const char *name)
{
	if (t && global_variable(t))
		b->st->flags |= POLICY_F_SERVER_ADMIN;
	b->w.scope_only = t && t->kind == LEX_PARAM && b->mysql &&
			  (name_eq(t->s, t->len, "@@session") || name_eq(t->s, t->len, "@@local") ||
			   name_eq(t->s, t->len, "@@global") || name_eq(t->s, t->len, "@@persist") ||
			   name_eq(t->s, t->len, "@@persist_only"));
	if (!strcasecmp(name, "allow_system_table_mods"))
		b->st->flags |= POLICY_F_PRIVILEGE; /* DDL on the catalogs */
	/* settings that take the session out of the server's own record or
	 * checks: the binary log and general log (MySQL), statement logging
	 * and triggers/foreign keys via the replication role (PostgreSQL) */
	if (b->mysql ? (!strcasecmp(name, "sql_log_bin") || !strcasecmp(name, "sql_log_off"))
		     : (!strcasecmp(name, "session_replication_role") ||
			!strcasecmp(name, "log_statement")))
		b->st->flags |= POLICY_F_SERVER_ADMIN;
	if (t && !b->mysql && !strcasecmp(name, "search_path"))
		b->w.path_watch = 1; /* its first schema is where CREATE puts things */
	if (t && b->mysql && !strcasecmp(name, "default") && word_is(&b->nx, "role"))
		b->st->flags |= POLICY_F_PRIVILEGE; /* SET DEFAULT ROLE r FOR user */
}

int cw_set_name_part(struct cls_batch *b, const struct lex_token *t, char *v, size_t cap)
{
	if (!b->w.scope_only || t->kind == LEX_DOT)
		return 0;
	b->w.scope_only = 0;
	if (b->prev_kind != LEX_DOT || (t->kind != LEX_IDENT && t->kind != LEX_QIDENT))
		return 0;
	if (cap <= LEX_NAME_MAX)
		return 0;
	lex_ident_value(t, v, cap);
	return 1;
}

/* PostgreSQL functions that run the server: configuration reloads, WAL and
 * backups, replication slots and origins (a slot left behind keeps WAL
 * until the disk fills; dropping one breaks a replica), statistics resets. */
static const char *const admin_funcs[] = {
	"pg_backup_start", "pg_backup_stop", "pg_copy_logical_replication_slot",
	"pg_copy_physical_replication_slot", "pg_create_logical_replication_slot",
	"pg_create_physical_replication_slot", "pg_create_restore_point",
	"pg_drop_replication_slot", "pg_import_system_collations",
	"pg_log_backend_memory_contexts", "pg_logical_slot_get_binary_changes",
	"pg_logical_slot_get_changes", "pg_promote", "pg_reload_conf",
	"pg_replication_origin_advance", "pg_replication_origin_create",
	"pg_replication_origin_drop", "pg_replication_origin_session_reset",
	"pg_replication_origin_session_setup", "pg_replication_origin_xact_reset",
	"pg_replication_origin_xact_setup", "pg_replication_slot_advance",
	"pg_rotate_logfile", "pg_start_backup", "pg_stop_backup", "pg_switch_wal",
	"pg_wal_replay_pause", "pg_wal_replay_resume",
};

unsigned cw_func_flags(const struct cls_batch *b, const char *name, size_t n)
{
	if (b->mysql || n < 8 || strncasecmp(name, "pg_", 3))
		return 0;
	if (n >= 13 && !strncasecmp(name, "pg_stat_reset", 13))
		return POLICY_F_SERVER_ADMIN;
	for (size_t i = 0; i < sizeof admin_funcs / sizeof admin_funcs[0]; i++)
		if (name_eq(name, n, admin_funcs[i]))
			return POLICY_F_SERVER_ADMIN;
	return 0;
}

/* ---- MySQL stored program bodies ----------------------------------------- */

int cw_split(struct cls_batch *b)
{
	struct cls_writes *w = &b->w;
	const struct lex_token *t = &b->cur;

	if (w->body_ph == BD_BEGIN && b->ntok == 0) { /* after an event's DO */
		w->body_ph = BD_NONE;
		cls_compound_begin(&b->cmp);
		w->defer_cmp = 1;
		return 1;
	}
	if (cls_compound_active(&b->cmp) || b->ntok < 1 ||
	    (strncmp(b->st->verb, "CREATE", 6) && strncmp(b->st->verb, "ALTER", 5)))
		return 0;
	if (w->prog == 0) {
		/* the first of these words says what is created; DEFINER=u@h,
		 * OR REPLACE, IF NOT EXISTS may come before */
		if (word_is(t, "trigger"))
			w->prog = 't';
		else if (word_is(t, "event"))
			w->prog = 'e';
		else if (word_is(t, "procedure") || word_is(t, "function"))
			w->prog = 'p';
		else if (word_is(t, "table") || word_is(t, "view") || word_is(t, "index") ||
			 word_is(t, "database") || word_is(t, "schema") || word_is(t, "user"))
			w->prog = '-';
		return 0;
	}
	switch (w->prog) {
	case 't': /* ... FOR EACH ROW [FOLLOWS|PRECEDES other] stmt */
		if (w->body_ph == BD_NONE) {
			if (word_is(t, "each") && word_is(&b->nx, "row"))
				w->body_ph = BD_EACH;
			return 0;
		}
		if (w->body_ph == BD_EACH) {
			w->body_ph = BD_ROW; /* the word ROW */
			return 0;
		}
		if (w->body_skip) {
			w->body_skip--;
			return 0;
		}
		if (word_is(t, "follows") || word_is(t, "precedes")) {
			w->body_skip = 1;
			return 0;
		}
		w->body_ph = BD_NONE;
		if (word_is(t, "begin")) {
			cls_compound_begin(&b->cmp);
			w->defer_cmp = 1;
			return 1;
		}
		w->defer_left = 2; /* this statement and the body's */
		return 2;
	case 'e': /* CREATE/ALTER EVENT ... DO stmt */
		if (!word_is(t, "do"))
			return 0;
		if (word_is(&b->nx, "begin"))
			w->body_ph = BD_BEGIN;
		w->defer_left = 2;
		return 1;
	case 'p': /* CREATE PROCEDURE/FUNCTION ... BEGIN ... END */
		if (!word_is(t, "begin"))
			return 0;
		cls_compound_begin(&b->cmp);
		w->defer_cmp = 1;
		return 1;
	}
	return 0;
}
