/* policy/classify: statement splitter and classifier (see classify.h).
 *
 * One pass, one token of lookahead, no allocation per token. Tokens come
 * from the dialect's tokenizer (pg_lexer.c or my_lexer.c); the few MySQL
 * forms that differ (DO, PREPARE ... FROM, LOAD DATA, SELECT ... INTO
 * OUTFILE, SET GLOBAL, REPLACE, RENAME TABLE) are checked where they occur,
 * the keyword list is in cls_words.h and its lookup in cls_keywords.c; WHERE
 * triviality is followed by cls_where.c, long VALUES lists of literals are
 * read by cls_values.c, write targets by cls_writes.c, KILL targets by
 * cls_kill.c, MariaDB compound statements by cls_wrappers.c. The state is a
 * small stack of parenthesis levels (what opened each level, whether the
 * next name there is an object, whether a WITH there still waits for its
 * main statement) and a stack of DML "frames" (each INSERT/UPDATE/DELETE/
 * MERGE found at a statement start, to see whether a WHERE belongs to it).
 * A few statement kinds (EXPLAIN, COPY, SET, PREPARE, DDL) read their first
 * words through a small phase machine.
 *
 * What this file does not do: it does not validate SQL (the server does),
 * it does not resolve names against a catalog (objects are names as
 * written, folded as the server folds them), and it does not look inside
 * function bodies given as strings (CREATE FUNCTION ... AS $$...$$, DO):
 * those are DDL or dynamic SQL, which rules can deny as a whole. MySQL
 * stored-program bodies (BEGIN ... END with inner ';') are split at every
 * ';', which over-classifies their inner statements (safe, but CREATE
 * PROCEDURE with control flow is refused as unparseable).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strcasestr */
#endif
#include "policy/cls_keywords.h"
#include "policy/cls_values.h"
#include "policy/cls_where.h"
#include "policy/classify.h"
#include "policy/my_builtins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static unsigned char up(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
}

static unsigned char down(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ---- functions the classifier knows ----------------------------------- */

static const struct {
	const char *name;
	unsigned char prefix; /* name is a prefix */
	unsigned flags;
} known_funcs[] = {
#define X(n, pre, fl) {n, pre, fl},
	CLS_FUNCTIONS(X)
#undef X
};

static unsigned func_flags(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof known_funcs / sizeof known_funcs[0]; i++) {
		size_t k = strlen(known_funcs[i].name);
		if (known_funcs[i].prefix ? (n >= k && memcmp(name, known_funcs[i].name, k) == 0)
					  : (n == k && memcmp(name, known_funcs[i].name, k) == 0))
			return known_funcs[i].flags;
	}
	return 0;
}

/* ---- buffers ----------------------------------------------------------- */

static int grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 256;
	while (n < need)
		n *= 2;
	char *p = realloc(*buf, n);
	if (!p)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

/* ---- the iterator ------------------------------------------------------ */

enum { OBJ_NONE, OBJ_FROM, OBJ_NAME };                  /* cls_level.arm */
enum { P_PLAIN, P_FUNC, P_FROM, P_FROMFUNC, P_WATCH }; /* cls_level.paren */

enum {
	PH_NONE,
	PH_KIND,        /* CREATE/ALTER/DROP: reading the object kind */
	PH_ALTER_NAME,  /* ALTER: waiting for the object name */
	PH_ALTER_ACT,   /* ALTER: the next word is an action */
	PH_ALTER_MID,   /* ALTER: inside an action; ',' starts the next */
	PH_COPY,        /* COPY: waiting for FROM or TO */
	PH_COPY_DIR,    /* COPY: the word after FROM or TO */
	PH_EXPLAIN,     /* after EXPLAIN */
	PH_EXPLAIN_OPT, /* EXPLAIN ( options ) */
	PH_PREPARE,     /* PREPARE name: waiting for AS */
	PH_DECLARE,     /* DECLARE name ...: waiting for FOR */
	PH_SET,         /* SET [SESSION|LOCAL] */
	PH_SET_NAME,    /* SET name: waiting for TO or = */
	PH_SET_VALUE,
	PH_RESET,
	PH_MY_LOAD,     /* MySQL LOAD DATA [LOCAL] INFILE */
};

static void lex_one(struct cls_batch *b)
{
	b->next_token(&b->lx, &b->nx);
	b->nkw = b->nx.kind == LEX_IDENT ? cls_kw_lookup(b->nx.s, b->nx.len) : 0;
}

static void shift(struct cls_batch *b)
{
	b->cur = b->nx;
	b->kw = b->nkw;
	lex_one(b);
}

void cls_begin(struct cls_batch *b, const char *sql, size_t len,
	       const struct cls_opts *opts, struct policy_result *out,
	       struct cls_names *names)
{
	cls_kw_init();
	memset(b, 0, offsetof(struct cls_batch, fr));
	b->d = cls_dialect_get(opts->mysql ? POLICY_DIALECT_MYSQL : opts->dialect);
	b->mysql = (b->d->forms & CLS_FORMS_MYSQL) != 0;
	b->d->lex_init(b, sql, len, opts);
	b->plain_path |= opts->plain_path; /* a dialect may have no fast path */
	b->body_mode = opts->body_mode;
	b->routines = opts->routines;
	b->out = out;
	b->names = names;
	cw_begin(b, opts);
	if (grow(&out->fingerprint, &out->fingerprint_cap, 64) ||
	    grow(&out->objects, &out->objects_cap, 64))
		b->oom = 1;
	else
		out->fingerprint[0] = out->objects[0] = '\0';
	lex_one(b);
	shift(b);
}

/* ---- fingerprint --------------------------------------------------------- */

static int is_cast_op(const struct lex_token *t)
{
	return t->kind == LEX_OP && t->len == 2 && t->s[0] == ':' && t->s[1] == ':';
}

static void fp_emit(struct cls_batch *b)
{
	const struct lex_token *t = &b->cur;
	struct policy_result *o = b->out;

	if (grow(&o->fingerprint, &o->fingerprint_cap, b->fp_len + t->len + 24)) {
		b->oom = 1;
		return;
	}
	char *f = o->fingerprint;
	size_t n = b->fp_len;
	int glue = b->fp_glue;
	b->fp_glue = 0;
	if (b->emitted++ == 0) {
		if (b->need_sep) {
			f[n++] = ';';
			f[n++] = ' ';
			b->need_sep = 0;
		}
		b->st->fp_start = n;
	} else {
		switch (t->kind) {
		case LEX_RPAREN: case LEX_RBRACKET: case LEX_LBRACKET:
		case LEX_COMMA: case LEX_SEMI: case LEX_DOT:
			glue = 1;
			break;
		case LEX_LPAREN:
			glue |= b->prev_name;
			break;
		default:
			glue |= is_cast_op(t);
			break;
		}
		if (!glue)
			f[n++] = ' ';
	}
	switch (t->kind) {
	case LEX_IDENT:
		for (size_t i = 0; i < t->len; i++)
			f[n++] = (char)((b->kw || b->upper_here) ? up((unsigned char)t->s[i])
								 : down((unsigned char)t->s[i]));
		b->upper_here = 0;
		break;
	case LEX_QIDENT:
		memcpy(f + n, t->s, t->len);
		n += t->len;
		if (t->uesc != '\\') {
			memcpy(f + n, " UESCAPE '", 10);
			n += 10;
			f[n++] = (char)t->uesc;
			f[n++] = '\'';
		}
		break;
	case LEX_STRING:
	case LEX_NUMBER:
		f[n++] = '?';
		break;
	default:
		memcpy(f + n, t->s, t->len);
		n += t->len;
		if (t->kind == LEX_LPAREN || t->kind == LEX_LBRACKET ||
		    t->kind == LEX_DOT || is_cast_op(t))
			b->fp_glue = 1;
		break;
	}
	b->fp_len = n;
}

/* Emit the current token and move to the next. */
static void advance(struct cls_batch *b)
{
	fp_emit(b);
	b->prev_kind = b->cur.kind;
	b->prev_s = b->cur.s;
	b->prev_len = b->cur.len;
	b->prev_kw = b->kw;
	b->prev_name = b->name_here;
	b->name_here = 0;
	shift(b);
}

/* ---- names and objects ----------------------------------------------------- */

static void names_add(struct cls_batch *b, char type, const char *nm, size_t n)
{
	struct cls_names *w = b->names;
	if (grow(&w->buf, &w->cap, w->len + n + 2)) {
		b->oom = 1;
		return;
	}
	w->buf[w->len++] = type;
	memcpy(w->buf + w->len, nm, n);
	w->len += n;
	w->buf[w->len++] = '\0';
}

/* Add one object to out->objects unless it is there already. */
static void objects_add(struct cls_batch *b, const char *nm, size_t n)
{
	struct policy_result *o = b->out;
	char item[4 * (LEX_NAME_MAX + 1)];
	size_t len = strlen(o->objects);

	if (n >= sizeof item)
		n = sizeof item - 1;
	for (size_t i = 0; i < n; i++)
		item[i] = nm[i] == CLS_NAME_SEP ? '.' : nm[i];
	for (const char *p = o->objects; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && memcmp(p, item, n) == 0)
			return;
		p += l + (e ? 1 : 0);
	}
	if (b->obj_cut)
		return;
	if (len + n + 2 > CLS_OBJECTS_MAX) {
		b->obj_cut = 1;
		if (len + 4 < CLS_OBJECTS_MAX && !grow(&o->objects, &o->objects_cap, len + 5))
			memcpy(o->objects + len, len ? ",..." : "...", 5);
		return;
	}
	if (grow(&o->objects, &o->objects_cap, len + n + 2)) {
		b->oom = 1;
		return;
	}
	if (len)
		o->objects[len++] = ',';
	memcpy(o->objects + len, item, n);
	o->objects[len + n] = '\0';
}

/* ---- statement state ---------------------------------------------------------- */

/* verb = a [" " c], cut to fit (no snprintf: this runs per statement) */
static void set_verb(struct cls_batch *b, const char *a, const char *c)
{
	char *v = b->st->verb;
	size_t n = strlen(a), m = c ? strlen(c) : 0, cap = sizeof b->st->verb - 1;

	if (n > cap)
		n = cap;
	memcpy(v, a, n);
	if (m && n < cap) {
		v[n++] = ' ';
		if (m > cap - n)
			m = cap - n;
		memcpy(v + n, c, m);
		n += m;
	}
	v[n] = '\0';
}

static void frame_close(struct cls_batch *b)
{
	struct cls_frame *f = &b->fr[--b->nfr];
	if (b->where_fr == b->nfr)
		b->where_fr = -1;
	if (f->where && f->depth <= CLS_MAX_DEPTH)
		f->trivial = b->wtriv[f->depth] || !b->wref[f->depth];
	if (f->kind & CLS_DML_MERGE) {
		/* MERGE ... ON true: every row matches */
		cw_merge_close(b, !f->where || f->trivial);
		return;
	}
	if (!(f->kind & (CLS_DML_DELETE | CLS_DML_UPDATE)))
		return;
	if (!f->where) {
		b->st->flags |= POLICY_F_NO_WHERE;
	} else {
		b->st->flags |= POLICY_F_HAS_WHERE;
		if (f->trivial)
			b->st->flags |= POLICY_F_WHERE_TRIVIAL | POLICY_F_NO_WHERE;
	}
}

/* Close the DML frames opened at depth d or deeper. */
static void frames_close(struct cls_batch *b, int d)
{
	while (b->nfr > 0 && b->fr[b->nfr - 1].depth >= d)
		frame_close(b);
}

static void dml_begin(struct cls_batch *b, int kw)
{
	unsigned bit = kw == KW_INSERT ? CLS_DML_INSERT :
		       kw == KW_UPDATE ? CLS_DML_UPDATE :
		       kw == KW_DELETE ? CLS_DML_DELETE : CLS_DML_MERGE;

	b->st->flags |= POLICY_F_WRITES;
	b->st->dml |= bit;
	cw_write_begin(b, cls_kwdefs[kw].name);
	/* MySQL: INSERT [IGNORE] t (INTO is optional); UPDATE t1, t2 and
	 * DELETE FROM t1, t2 write every table of the list */
	if (b->mysql && kw == KW_INSERT && b->nkw != KW_INTO)
		b->lv[b->depth].arm = OBJ_NAME;
	if (b->mysql && (kw == KW_UPDATE || kw == KW_DELETE))
		b->lv[b->depth].list = OBJ_NAME;
	if (b->nfr == CLS_MAX_FRAMES) {
		b->st->flags |= POLICY_F_UNPARSEABLE;
		return;
	}
	b->fr[b->nfr++] = (struct cls_frame){b->depth, (uint8_t)bit, 0, 0};
	if (kw == KW_UPDATE)
		b->lv[b->depth].arm = OBJ_NAME;
}

/* Does the DML word at cur really start a statement (and is not a column
 * named "delete")? Decided by the next token, as the grammar does. */
static int dml_starts(const struct cls_batch *b, int kw)
{
	switch (kw) {
	case KW_INSERT:
	case KW_MERGE:
		return b->nkw == KW_INTO;
	case KW_DELETE:
		return b->nkw == KW_FROM;
	case KW_UPDATE:
		return b->nx.kind == LEX_QIDENT ||
		       (b->nx.kind == LEX_IDENT && (namelike(b->nkw) || b->nkw == KW_ONLY));
	}
	return 0;
}

/* A statement word at a place where a statement may begin (after '(', an
 * inner ';', EXPLAIN, PREPARE ... AS, ...). Returns 1 if it was one. */
static int nested_start(struct cls_batch *b, int kw)
{
	struct cls_level *L = &b->lv[b->depth];

	switch (kw) {
	case KW_WITH:
		L->with = 1;
		return 1;
	case KW_TABLE:
		L->arm = OBJ_NAME;
		return 1;
	case KW_INSERT: case KW_UPDATE: case KW_DELETE: case KW_MERGE:
		if (!dml_starts(b, kw))
			return 0;
		dml_begin(b, kw);
		return 1;
	case KW_EXECUTE:
		b->st->flags |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
		return 1;
	case KW_KILL: /* MySQL CREATE EVENT ... DO KILL n: runs later, nobody's own */
		if (!b->mysql)
			return 0;
		b->st->flags |= POLICY_F_ENDS_SESSION;
		b->st->kill.unmapped++;
		return 1;
	case KW_CREATE:
		b->st->flags |= POLICY_F_DDL | POLICY_F_WRITES;
		return 1;
	}
	return 0;
}

/* After WITH ... the main statement: a statement word that does not name a
 * CTE (CTE names follow WITH, RECURSIVE or ','). */
static int with_main(struct cls_batch *b, int kw)
{
	switch (kw) {
	case KW_SELECT: case KW_VALUES: case KW_TABLE:
	case KW_INSERT: case KW_UPDATE: case KW_DELETE: case KW_MERGE:
		break;
	default:
		return 0;
	}
	if (b->prev_kind == LEX_COMMA)
		return 0;
	switch (b->prev_kw) {
	case KW_WITH: case KW_RECURSIVE: case KW_BY: case KW_CYCLE:
	case KW_SET: case KW_USING:
		return 0;
	}
	if (kw != KW_SELECT && kw != KW_VALUES && kw != KW_TABLE &&
	    !dml_starts(b, kw))
		return 0;
	b->lv[b->depth].with = 0;
	if (b->depth == 0 && b->vid == KW_WITH)
		set_verb(b, cls_kwdefs[kw].name, NULL);
	nested_start(b, kw);
	return 1;
}

static int is_skip(const struct cls_batch *b, int kw)
{
	if (kw_flag(kw, KF_SKIP))
		return 1;
	if (!kw_flag(kw, KF_GSKIP))
		return 0;
	switch (b->vid) {
	case KW_GRANT: case KW_REVOKE: case KW_TRUNCATE: case KW_LOCK:
	case KW_REINDEX: case KW_REFRESH: case KW_COMMENT: case KW_SECURITY:
		return 1;
	}
	return 0;
}

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
static void value_of(const struct lex_token *t, char *v, size_t cap)
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
static void watch_finish(struct cls_batch *b)
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

/* type: 'f' (in MySQL: written as a bare word directly followed by '('),
 * 'q' (MySQL: any other spelling, `f`(...), f (...)), 'p' (MySQL: the
 * procedure of a CALL); see cls_stmt.names. */
static void function_called(struct cls_batch *b, const char *nm, size_t n,
			    int from_item, char type)
{
	const char *last = nm;
	for (size_t i = 0; i < n; i++)
		if (nm[i] == CLS_NAME_SEP)
			last = nm + i + 1;
	size_t ln = (size_t)(nm + n - last);
	char folded[LEX_NAME_MAX + 1];

	names_add(b, type, nm, n);
	if (b->mysql && ln < sizeof folded) {
		/* MySQL function names ignore case, `LOAD_FILE` too */
		for (size_t i = 0; i < ln; i++)
			folded[i] = (char)down((unsigned char)last[i]);
		last = folded;
	}
	b->st->flags |= func_flags(last, ln) | cw_func_flags(b, last, ln);
	if (b->d->func_flags)
		b->st->flags |= b->d->func_flags(nm, n, last, ln);
	if (cls_kill_func(&b->kt, &b->st->kill, last, ln, b->mysql))
		b->st->flags |= POLICY_F_ENDS_SESSION;
	b->next_paren = from_item ? P_FROMFUNC : P_FUNC;
	if (ln == 10 && memcmp(last, "set_config", 10) == 0) {
		if (b->watch_depth)
			b->st->flags |= POLICY_F_RW_SWITCH; /* nested: give up */
		else
			b->next_paren = P_WATCH;
	}
}

/* cur is the last part of a called name and nx its '(': 'f', or in MySQL
 * 'q' unless written as a bare word directly followed by '(' (only that
 * spelling reaches the grammar's built-ins: count, now, ...). */
static char my_call_type(const struct cls_batch *b)
{
	if (!b->mysql)
		return 'f';
	if (b->cur.kind != LEX_IDENT)
		return 'q';
	/* RETURN (...), IF (...): a reserved word never calls a stored function */
	if (b->nx.s == b->cur.s + b->cur.len || my_reserved_word(b->cur.s, b->cur.len))
		return 'f';
	return 'q';
}

/* cur is the first part of a (possibly qualified) name: read it all and
 * decide whether it names an object, a function called, or neither. */
static void take_name(struct cls_batch *b, int alias)
{
	char nm[4 * (LEX_NAME_MAX + 1)];
	size_t n = 0;
	int parts = 0, single_kw = b->kw, before = b->prev_kw;
	int after_sep = b->prev_kind == LEX_COMMA || b->prev_kind == LEX_LPAREN;

	for (;;) {
		if (parts < 4) {
			char part[LEX_NAME_MAX + 1];
			size_t l = lex_ident_value(&b->cur, part, sizeof part);
			if (parts)
				nm[n++] = CLS_NAME_SEP;
			memcpy(nm + n, part, l);
			n += l;
		}
		parts++;
		if (b->nx.kind != LEX_DOT)
			break;
		advance(b); /* to the dot */
		if (b->nx.kind != LEX_IDENT && b->nx.kind != LEX_QIDENT)
			return; /* "t.*": a column reference */
		advance(b);
	}

	b->name_here = 1; /* "name(" is written without a space */
	if (b->call_proc) { /* MySQL CALL: the procedure, with or without () */
		b->call_proc = 0;
		if (b->nx.kind == LEX_LPAREN) {
			function_called(b, nm, n, 0, 'p');
		} else {
			names_add(b, 'p', nm, n);
		}
		return;
	}
	struct cls_level *L = &b->lv[b->depth];
	int arm = L->arm;
	if (b->w.zone && cw_name(b, nm, n, parts, arm != 0, after_sep))
		return; /* a MySQL modifier word: the object still follows */
	if (arm) {
		L->arm = OBJ_NONE;
		if (arm == OBJ_FROM && b->nx.kind == LEX_LPAREN) {
			function_called(b, nm, n, 1, my_call_type(b));
		} else {
			names_add(b, 'o', nm, n);
			if (arm == OBJ_FROM)
				L->alias = 1;
		}
		if (b->ph == PH_ALTER_NAME && b->depth == 0)
			b->ph = PH_ALTER_ACT;
		return;
	}
	if (alias || b->nx.kind != LEX_LPAREN)
		return;
	if (parts == 1 && kw_flag(single_kw, KF_NOTFUNC))
		return;
	if (before == KW_USING) /* CREATE INDEX ... USING gin (...) */
		return;
	function_called(b, nm, n, 0, my_call_type(b));
}

/* ---- DDL object kinds -------------------------------------------------- */


static int in_list(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w, list[i]) == 0)
			return 1;
	return 0;
}

static void kind_finish(struct cls_batch *b)
{
	const char *k = b->kind;
	struct cls_level *L = &b->lv[0];

	b->ph = PH_NONE;
	set_verb(b, cls_kwdefs[b->vid].name, k);
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
		kind_finish(b);
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
		if (in_list(w, clause, sizeof clause / sizeof clause[0])) {
			b->kind_skip = 1;
			return 1;
		}
		if (b->kind_skip) {
			if (in_list(w, routine_kinds, sizeof routine_kinds / sizeof routine_kinds[0]))
				b->kind_skip = 0;
			else if (++b->kind_skip < 24)
				return 1; /* a user name, CURRENT_USER, INVOKER, MERGE, ... */
			else
				b->kind_skip = 0;
		}
	}
	if (!b->kind[0]) {
		if (!in_list(w, kind_modifiers, sizeof kind_modifiers / sizeof kind_modifiers[0]))
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
	kind_finish(b);
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
static int phase_step(struct cls_batch *b)
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
			value_of(t, v, sizeof v);
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
			value_of(t, v, sizeof v);
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

/* ---- the first word ----------------------------------------------------------- */

static void unknown_statement(struct cls_batch *b)
{
	b->vid = -1;
	b->st->flags |= POLICY_F_UNPARSEABLE;
	if (b->cur.kind == LEX_IDENT && b->cur.len < CLS_VERB_MAX) {
		for (size_t i = 0; i < b->cur.len; i++)
			b->st->verb[i] = (char)up((unsigned char)b->cur.s[i]);
		b->st->verb[b->cur.len] = '\0';
	}
}

/* ---- wrapped statements (cls_wrappers.h) ------------------------------------- */

/* The statement a wrapper runs begins at the next token: read it as a new
 * statement, keeping the flags and names seen so far. */
static void restart(struct cls_batch *b)
{
	b->vid = 0;
	b->ph = PH_NONE;
	b->set_stmt = 0;
	b->kind[0] = '\0';
	memset(&b->lv[0], 0, sizeof b->lv[0]);
	b->lv[0].start = 1;
}

/* Words that start the statement a procedural part of a compound statement
 * wraps (DECLARE ... HANDLER FOR cond stmt, DECLARE c CURSOR FOR SELECT). */
static int restart_verb(int kw)
{
	switch (kw) {
	case KW_SELECT: case KW_INSERT: case KW_UPDATE: case KW_DELETE: case KW_REPLACE:
	case KW_CREATE: case KW_ALTER: case KW_DROP: case KW_TRUNCATE: case KW_RENAME:
	case KW_GRANT: case KW_REVOKE: case KW_KILL: case KW_FLUSH: case KW_SHUTDOWN:
	case KW_PURGE: case KW_CHANGE: case KW_INSTALL: case KW_UNINSTALL: case KW_LOAD:
	case KW_CALL: case KW_EXECUTE: case KW_PREPARE: case KW_DEALLOCATE: case KW_SET:
	case KW_RESET: case KW_OPTIMIZE: case KW_REPAIR: case KW_ANALYZE: case KW_CHECKSUM:
	case KW_BINLOG: case KW_XA: case KW_COMMIT: case KW_ROLLBACK: case KW_START:
	case KW_SAVEPOINT: case KW_RELEASE: case KW_LOCK: case KW_UNLOCK:
	case KW_USE: case KW_SHOW: case KW_EXPLAIN: case KW_DESCRIBE: case KW_WITH:
	case KW_VALUES: case KW_TABLE:
		return 1;
	}
	return 0;
}

/* A part of a compound statement that is control flow (IF c, UNTIL c,
 * DECLARE ..., label:): runs nothing itself. */
static void procedural_begin(struct cls_batch *b)
{
	size_t n = b->cur.len < CLS_VERB_MAX ? b->cur.len : CLS_VERB_MAX - 1;
	b->vid = -2;
	for (size_t i = 0; i < n; i++)
		b->st->verb[i] = (char)up((unsigned char)b->cur.s[i]);
	b->st->verb[n] = '\0';
}

/* MariaDB statements that run another: BEGIN NOT ATOMIC (a compound
 * statement), ANALYZE [FORMAT=JSON] stmt (runs stmt). Returns 1 when kw
 * began one. */
static int wrapper_begin(struct cls_batch *b, int kw)
{
	if (kw == KW_BEGIN && b->nkw == KW_NOT) {
		cls_compound_begin(&b->cmp);
		b->vid = -2;
		set_verb(b, "BEGIN", "NOT ATOMIC");
		return 1;
	}
	if (kw != KW_ANALYZE)
		return 0;
	int fmt = b->nx.kind == LEX_IDENT && b->nx.len == 6 && !strncasecmp(b->nx.s, "format", 6);
	switch (b->nkw) {
	case KW_SELECT: case KW_INSERT: case KW_UPDATE: case KW_DELETE: case KW_REPLACE:
	case KW_WITH: case KW_VALUES:
		break;
	default:
		if (!fmt && b->nx.kind != LEX_LPAREN)
			return 0; /* ANALYZE TABLE t */
	}
	restart(b);
	b->skip_words = fmt ? 3 : 0; /* FORMAT = JSON */
	return 1;
}

static void verb_begin(struct cls_batch *b, int kw)
{
	struct cls_level *L = &b->lv[b->depth];
	unsigned *fl = &b->st->flags;

	b->vid = kw;
	set_verb(b, cls_kwdefs[kw].name, NULL);
	if (b->mysql && wrapper_begin(b, kw))
		return;
	switch (kw) {
	case KW_SELECT: case KW_VALUES: case KW_SHOW: case KW_FETCH:
	case KW_MOVE: case KW_CLOSE: case KW_DEALLOCATE: case KW_LISTEN:
	case KW_UNLISTEN:
		break;
	case KW_TABLE:
		L->arm = OBJ_NAME;
		break;
	case KW_WITH:
		L->with = 1;
		break;
	case KW_INSERT: case KW_UPDATE: case KW_DELETE: case KW_MERGE:
		dml_begin(b, kw);
		break;
	case KW_COPY:
		b->ph = PH_COPY;
		L->arm = OBJ_NAME;
		cw_write_begin(b, "COPY"); /* counts when it copies FROM */
		break;
	case KW_CREATE: case KW_ALTER: case KW_DROP:
		*fl |= POLICY_F_DDL;
		b->ph = PH_KIND;
		b->kind[0] = '\0';
		cw_write_begin(b, cls_kwdefs[kw].name); /* its object may be a system one */
		break;
	case KW_TRUNCATE:
		*fl |= POLICY_F_DDL | POLICY_F_WRITES;
		L->arm = L->list = OBJ_NAME;
		cw_write_begin(b, "TRUNCATE");
		break;
	case KW_COMMENT: case KW_SECURITY: case KW_IMPORT:
		*fl |= POLICY_F_DDL;
		break;
	case KW_GRANT: case KW_REVOKE:
		*fl |= POLICY_F_PRIVILEGE;
		break;
	case KW_REASSIGN:
		*fl |= POLICY_F_PRIVILEGE | POLICY_F_DDL;
		break;
	case KW_VACUUM: case KW_ANALYZE: case KW_ANALYSE: case KW_CLUSTER:
	case KW_REINDEX: case KW_REFRESH: case KW_LOCK:
		*fl |= POLICY_F_WRITES;
		L->arm = L->list = OBJ_NAME;
		break;
	case KW_CHECKPOINT: case KW_NOTIFY:
		*fl |= POLICY_F_WRITES;
		break;
	case KW_BEGIN: case KW_START: case KW_SAVEPOINT: case KW_RELEASE:
	case KW_END: case KW_ABORT:
		*fl |= POLICY_F_TX_CONTROL;
		break;
	case KW_COMMIT: case KW_ROLLBACK:
		*fl |= POLICY_F_TX_CONTROL;
		if (b->nkw == KW_PREPARED)
			set_verb(b, cls_kwdefs[kw].name, "PREPARED");
		break;
	case KW_PREPARE:
		if (b->mysql) { /* PREPARE s FROM 'text' | @var */
			*fl |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
		} else if (b->nkw == KW_TRANSACTION) {
			*fl |= POLICY_F_TX_CONTROL;
			set_verb(b, "PREPARE", "TRANSACTION");
		} else {
			b->ph = PH_PREPARE;
		}
		break;
	case KW_DO: /* PostgreSQL: a code block; MySQL: DO expr, a SELECT */
		if (!b->mysql)
			*fl |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
		break;
	case KW_CALL:
		if (b->routines) { /* decided by the procedure's facts (policy.c) */
			b->st->call = 1;
			b->call_proc = b->mysql; /* the next name is the procedure */
			break;
		}
		/* fall through */
	case KW_EXECUTE: case KW_BINLOG:
		/* what runs cannot be seen here: assume it writes */
		*fl |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
		break;
	case KW_REPLACE: /* MySQL REPLACE INTO */
		dml_begin(b, KW_INSERT);
		break;
	case KW_RENAME: /* MySQL RENAME TABLE a TO b / RENAME USER */
		*fl |= POLICY_F_DDL | POLICY_F_RENAME;
		if (b->nkw == KW_USER)
			*fl |= POLICY_F_PRIVILEGE;
		break;
	case KW_DESCRIBE: case KW_DESC: /* MySQL: DESC t, or EXPLAIN */
		b->ph = PH_EXPLAIN;
		break;
	case KW_USE: case KW_HELP: case KW_HANDLER: case KW_UNLOCK: case KW_CHECK:
		break;
	case KW_XA:
		*fl |= POLICY_F_TX_CONTROL;
		break;
	case KW_KILL: /* ends or cancels sessions: cls_kill.c reads which */
		*fl |= POLICY_F_ENDS_SESSION;
		cls_kill_verb(&b->kt);
		break;
	case KW_FLUSH: case KW_OPTIMIZE: case KW_REPAIR:
	case KW_CHECKSUM: case KW_SHUTDOWN: case KW_PURGE: case KW_CHANGE:
		*fl |= POLICY_F_WRITES;
		break;
	case KW_INSTALL: case KW_UNINSTALL: /* plugins are shared libraries */
		*fl |= POLICY_F_DDL | POLICY_F_FILE_ACCESS;
		break;
	case KW_EXPLAIN:
		b->ph = PH_EXPLAIN;
		break;
	case KW_DECLARE:
		b->ph = PH_DECLARE;
		break;
	case KW_SET:
		b->ph = PH_SET;
		b->set_stmt = b->mysql && b->nkw == KW_STATEMENT; /* SET STATEMENT ... FOR */
		break;
	case KW_RESET:
		b->ph = PH_RESET;
		if (b->mysql) /* RESET MASTER, RESET REPLICA, ... */
			*fl |= POLICY_F_WRITES;
		break;
	case KW_DISCARD:
		if (b->nkw == KW_ALL) /* DISCARD ALL includes RESET ALL */
			*fl |= POLICY_F_RW_SWITCH;
		break;
	case KW_LOAD:
		if (b->mysql) {
			*fl |= POLICY_F_WRITES;
			b->ph = PH_MY_LOAD;
			b->load_local = 0;
			cw_write_begin(b, "LOAD");
		} else {
			*fl |= POLICY_F_FILE_ACCESS; /* loads a shared library */
		}
		break;
	default:
		b->st->verb[0] = '\0';
		unknown_statement(b);
		break;
	}
	cw_verb(b);
}

/* ---- words ------------------------------------------------------------------------ */

static int in_function_call(const struct cls_level *L)
{
	return L->paren == P_FUNC || L->paren == P_FROMFUNC || L->paren == P_WATCH;
}

/* Does ON at depth 0 of this statement name an object? */
static int on_names_object(const struct cls_batch *b)
{
	switch (b->vid) {
	case KW_GRANT: case KW_REVOKE: case KW_COMMENT: case KW_SECURITY:
		return 1;
	case KW_CREATE: case KW_ALTER: case KW_DROP:
		/* ON DELETE / ON UPDATE (foreign keys), ON COMMIT (temp
		 * tables), CREATE RULE ... AS ON INSERT TO t */
		if (b->nkw == KW_DELETE || b->nkw == KW_UPDATE ||
		    b->nkw == KW_INSERT || b->nkw == KW_SELECT || b->nkw == KW_COMMIT)
			return 0;
		return !strcmp(b->kind, "INDEX") || !strcmp(b->kind, "TRIGGER") ||
		       !strcmp(b->kind, "POLICY") || !strcmp(b->kind, "RULE") ||
		       !strcmp(b->kind, "STATISTICS");
	}
	return 0;
}

/* In a BEGIN ATOMIC body, does this CASE open an expression? After a
 * value it is a column label ("SELECT 1 case" is valid SQL); counting such
 * a CASE would make us look for one END too many and read statements the
 * server runs as part of the body. So CASE counts only where a value
 * cannot end: after an operator, '(' ',' '[' or an expression keyword. */
static int case_opens(const struct cls_batch *b)
{
	switch (b->prev_kind) {
	case LEX_OP: case LEX_LPAREN: case LEX_LBRACKET: case LEX_COMMA: case LEX_SEMI:
		return 1;
	case LEX_IDENT:
		break;
	default:
		return 0;
	}
	switch (b->prev_kw) {
	case KW_SELECT: case KW_WHEN: case KW_THEN: case KW_ELSE: case KW_AND:
	case KW_OR: case KW_NOT: case KW_IN: case KW_BY: case KW_DISTINCT:
	case KW_ALL: case KW_ANY: case KW_SOME: case KW_ON: case KW_WHERE:
	case KW_HAVING: case KW_RETURN: case KW_RETURNING: case KW_ATOMIC:
	case KW_LIKE: case KW_ILIKE: case KW_BETWEEN: case KW_LIMIT: case KW_OFFSET:
	case KW_TO: case KW_IS: case KW_VALUES:
		return 1;
	}
	return 0;
}

/* What a keyword does where it stands. Returns 1 if it acted as a keyword. */
static int keyword_role(struct cls_batch *b, int kw, int alias)
{
	struct cls_level *L = &b->lv[b->depth];
	char v[64];

	switch (kw) {
	case KW_FROM:
		if (b->vid == KW_GRANT || b->vid == KW_REVOKE) {
			L->arm = L->list = OBJ_NONE; /* REVOKE ... FROM role */
		} else if (b->prev_kw != KW_DISTINCT && !in_function_call(L)) {
			L->arm = L->list = OBJ_FROM;
		}
		return 1;
	case KW_JOIN:
		L->arm = OBJ_FROM;
		return 1;
	case KW_INTO:
		L->list = OBJ_NONE;
		L->arm = OBJ_NAME;
		if ((b->nfr > 0 && b->fr[b->nfr - 1].depth == b->depth &&
		     (b->fr[b->nfr - 1].kind & (CLS_DML_INSERT | CLS_DML_MERGE))) ||
		    b->vid == KW_IMPORT || b->vid == KW_LOAD)
			return 1; /* INSERT/MERGE/LOAD ... INTO table */
		if (b->mysql && (b->nkw == KW_OUTFILE || b->nkw == KW_DUMPFILE)) {
			b->st->flags |= POLICY_F_FILE_ACCESS; /* writes a server file */
			L->arm = OBJ_NONE;
			return 1;
		}
		if (b->mysql && b->nx.kind == LEX_PARAM) {
			L->arm = OBJ_NONE; /* SELECT ... INTO @variable */
			return 1;
		}
		b->st->flags |= POLICY_F_WRITES | POLICY_F_DDL; /* SELECT INTO table */
		return 1;
	case KW_SONAME: /* MySQL CREATE FUNCTION ... SONAME 'lib.so' */
		if (b->vid == KW_CREATE)
			b->st->flags |= POLICY_F_FILE_ACCESS;
		return 1;
	case KW_USING:
		if (b->nfr > 0 && b->fr[b->nfr - 1].depth == b->depth &&
		    (b->fr[b->nfr - 1].kind & (CLS_DML_DELETE | CLS_DML_MERGE)))
			L->arm = L->list = OBJ_FROM;
		return 1;
	case KW_ON:
		if (b->nfr > 0 && b->fr[b->nfr - 1].depth == b->depth &&
		    (b->fr[b->nfr - 1].kind & CLS_DML_MERGE))
			cls_where_begin(b); /* MERGE ... ON cond: which rows match */
		if (b->depth == 0 && on_names_object(b)) {
			L->arm = OBJ_NAME;
			L->list = (b->vid == KW_GRANT || b->vid == KW_REVOKE) ? OBJ_NAME : OBJ_NONE;
		}
		return 1;
	case KW_TABLE:
	case KW_REFERENCES:
		L->arm = OBJ_NAME;
		return 1;
	case KW_WHERE:
		L->arm = L->list = OBJ_NONE;
		cls_where_begin(b);
		return 1;
	case KW_AS:
		L->alias = (uint8_t)alias;
		if (b->depth == 0 && b->vid == KW_CREATE)
			L->start = 1; /* CREATE TABLE/VIEW ... AS query */
		return 1;
	case KW_DO:
	case KW_ALSO:
	case KW_INSTEAD:
		if (b->depth == 0 && b->vid == KW_CREATE) {
			L->start = 1; /* CREATE RULE ... DO [ALSO|INSTEAD] action */
			return 1;
		}
		return kw == KW_DO;
	case KW_LANGUAGE:
		if (b->depth != 0 || b->vid != KW_CREATE)
			return 0;
		value_of(&b->nx, v, sizeof v);
		for (size_t i = 0; v[i]; i++)
			v[i] = (char)down((unsigned char)v[i]);
		if (in_list(v, unsafe_languages, sizeof unsafe_languages / sizeof unsafe_languages[0]))
			b->st->flags |= POLICY_F_FILE_ACCESS; /* runs host code */
		return 1;
	case KW_READ:
		if (b->nkw == KW_WRITE &&
		    (b->vid == KW_BEGIN || b->vid == KW_START || b->vid == KW_SET)) {
			b->st->flags |= POLICY_F_RW_SWITCH;
			return 1;
		}
		return 0;
	case KW_ROW:
		/* MySQL CREATE TRIGGER ... FOR EACH ROW statement: the body */
		if (b->mysql && b->depth == 0 && b->vid == KW_CREATE &&
		    !strcmp(b->st->verb, "CREATE TRIGGER") && b->prev_len == 4 &&
		    !strncasecmp(b->prev_s, "each", 4)) {
			L->start = 1;
			return 1;
		}
		return 0;
	case KW_BEGIN:
		if ((b->may_atomic || b->atomic) && b->nkw == KW_ATOMIC) {
			b->atomic++;
			advance(b); /* to ATOMIC */
			L->start = 1;
			return 1;
		}
		return 0;
	case KW_CASE:
		if (b->atomic && case_opens(b))
			b->atomic++;
		return 1;
	case KW_END:
		/* counted unless surely a label: closing too early only shows
		 * more statements, closing too late would hide some */
		if (b->atomic && b->prev_kind != LEX_DOT && b->prev_kw != KW_AS) {
			if (--b->atomic == 0)
				frames_close(b, 0);
		}
		return 1;
	case KW_RETURNING:
		if (b->where_fr >= 0 && b->fr[b->where_fr].depth == b->depth)
			b->where_fr = -1;
		L->arm = L->list = OBJ_NONE;
		return 1;
	case KW_TO:
		if (b->prev_kw != KW_SIMILAR)
			L->arm = L->list = OBJ_NONE;
		return 1;
	}
	if (kw_flag(kw, KF_CLAUSE)) {
		L->arm = L->list = OBJ_NONE;
		return 1;
	}
	return 0;
}

static void on_word(struct cls_batch *b, int start, int alias)
{
	int kw = b->kw;
	struct cls_level *L = &b->lv[b->depth];

	if (kw && start && nested_start(b, kw))
		return;
	if (kw && L->with && with_main(b, kw))
		return;
	if (L->arm) {
		if (kw && is_skip(b, kw))
			return;
		if (namelike(kw) || (b->mysql && kw == KW_USER)) { /* mysql.user */
			take_name(b, 0);
			return;
		}
		L->arm = OBJ_NONE;
	}
	if (kw && keyword_role(b, kw, alias))
		return;
	if (namelike(kw)) {
		take_name(b, alias);
		return;
	}
	/* type/function-name keywords that are functions: left(), right() */
	if (b->nx.kind == LEX_LPAREN && !kw_flag(kw, KF_NOTFUNC) &&
	    cls_kwdefs[kw].cat == KC_T) {
		char nm[LEX_NAME_MAX + 1];
		size_t n = lex_ident_value(&b->cur, nm, sizeof nm);
		function_called(b, nm, n, 0, my_call_type(b));
		b->name_here = 1;
	}
}

/* ---- punctuation ------------------------------------------------------------------ */

static void on_lparen(struct cls_batch *b)
{
	struct cls_level *L = &b->lv[b->depth];
	int nd = b->depth + 1;

	if (nd > CLS_MAX_DEPTH) {
		b->st->flags |= POLICY_F_UNPARSEABLE;
		b->done = 1;
		return;
	}
	struct cls_level *N = &b->lv[nd];
	memset(N, 0, sizeof *N);
	N->start = 1;
	if (b->next_paren)
		N->paren = (uint8_t)b->next_paren;
	else if (L->arm == OBJ_FROM)
		N->paren = P_FROM;
	if (N->paren == P_FROM)
		N->arm = OBJ_FROM; /* FROM (a JOIN b ...) */
	if (N->paren == P_WATCH) {
		b->watch_depth = nd;
		b->watch_arg = 0;
		b->watch_n[0] = b->watch_n[1] = 0;
		b->watch_lit[0] = b->watch_lit[1] = 0;
	}
	b->next_paren = 0;
	if (b->kt.arm)
		cls_kill_lparen(&b->kt, nd);
	/* VACUUM (VERBOSE) t: the name still follows */
	if (!(b->depth == 0 && L->arm == OBJ_NAME &&
	      (b->vid == KW_VACUUM || b->vid == KW_ANALYZE || b->vid == KW_REINDEX ||
	       b->vid == KW_CLUSTER)))
		L->arm = OBJ_NONE;
	b->depth = nd;
}

static void on_rparen(struct cls_batch *b)
{
	if (b->depth == 0) {
		b->st->flags |= POLICY_F_UNPARSEABLE; /* the server refuses it too */
		return;
	}
	frames_close(b, b->depth);
	if (b->watch_depth == b->depth)
		watch_finish(b);
	int p = b->lv[b->depth].paren;
	b->depth--;
	if (p == P_FROM || p == P_FROMFUNC)
		b->lv[b->depth].alias = 1;
}

/* ';' inside parentheses (CREATE RULE ... DO (a; b)) or a BEGIN ATOMIC body */
static void on_inner_semi(struct cls_batch *b)
{
	struct cls_level *L = &b->lv[b->depth];
	frames_close(b, b->depth);
	L->start = 1;
	L->arm = L->list = L->with = OBJ_NONE;
}

/* ---- per token ------------------------------------------------------------------------ */

static void watch_token(struct cls_batch *b, const struct lex_token *t)
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

static int tok_word_in(const struct lex_token *t, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == t->len && !strncasecmp(t->s, list[i], t->len))
			return 1;
	return 0;
}

static void step(struct cls_batch *b)
{
	const struct lex_token *t = &b->cur;
	struct cls_level *L = &b->lv[b->depth];
	int start = L->start, alias = L->alias;

	L->start = L->alias = 0;
	b->ntok++;
	if (b->where_fr >= 0) /* following a WHERE: off the common path */
		cls_where_token(b, t, b->kw);
	watch_token(b, t);
	if (cw_wants_token(b))
		cw_token(b);
	if (b->kt.mode) /* reading a KILL target: off the common path */
		cls_kill_token(&b->kt, &b->st->kill, t, b->depth);
	if (b->depth == 0 && t->kind == LEX_IDENT && (b->vid == -2 || b->set_stmt) &&
	    ((b->vid == -2 && restart_verb(b->kw)) ||
	     (b->set_stmt && b->vid == KW_SET && b->kw == KW_FOR))) {
		/* the statement a procedural part or SET STATEMENT ... FOR wraps */
		int is_for = b->kw == KW_FOR;
		restart(b);
		if (is_for) {
			advance(b);
			return;
		}
	}
	if (t->kind == LEX_IDENT && t->len == 4 && !strncasecmp(t->s, "next", 4) &&
	    b->nx.kind == LEX_IDENT && b->nx.len == 5 && !strncasecmp(b->nx.s, "value", 5))
		b->st->flags |= POLICY_F_WRITES; /* NEXT VALUE FOR seq advances it */
	if (b->vid == KW_ALTER && b->depth == 0 && b->kw == KW_OWNER && b->nkw == KW_TO)
		b->st->flags |= POLICY_F_PRIVILEGE; /* ALTER ... OWNER TO: who holds it */
	if (b->vid == KW_CREATE && b->depth == 0 && t->kind == LEX_STRING &&
	    b->prev_kw == KW_AS && !b->st->body &&
	    (!strcmp(b->st->verb, "CREATE FUNCTION") || !strcmp(b->st->verb, "CREATE PROCEDURE"))) {
		b->st->body = t->s;
		b->st->body_len = t->len;
		b->st->body_flavor = t->flavor;
	}

	if (b->vid == 0) {
		if (b->skip_words) /* ANALYZE FORMAT=JSON stmt */
			b->skip_words--;
		else if (t->kind == LEX_LPAREN) /* (SELECT ...) UNION ... */
			on_lparen(b);
		else if (cls_compound_active(&b->cmp) &&
			 (cls_compound_procedural(t, &b->nx) ||
			  (t->kind == LEX_IDENT && !b->kw &&
			   (b->nx.kind == LEX_SEMI || b->nx.kind == LEX_EOF))))
			procedural_begin(b); /* ... or the label after END LOOP */
		else if (b->mysql && cls_compound_toplevel(t, &b->nx)) {
			/* MariaDB runs IF/CASE/LOOP/WHILE/REPEAT/FOR and labelled
			 * blocks outside stored programs too */
			cls_compound_begin(&b->cmp);
			procedural_begin(b);
		}
		else if (b->d->verb && b->d->verb(b, b->kw))
			; /* a statement of the dialect's own */
		else if (t->kind == LEX_IDENT && b->kw)
			verb_begin(b, b->kw);
		else
			unknown_statement(b);
		advance(b);
		return;
	}
	if (b->d->token && b->d->token(b)) {
		advance(b);
		return;
	}
	if (b->ph) {
		int r = phase_step(b);
		if (r == 1) {
			advance(b);
			return;
		}
		if (r == 2)
			start = 1;
	}
	switch (t->kind) {
	case LEX_LPAREN:
		on_lparen(b);
		break;
	case LEX_RPAREN:
		on_rparen(b);
		break;
	case LEX_SEMI:
		on_inner_semi(b);
		break;
	case LEX_COMMA:
		L->arm = L->list;
		break;
	case LEX_IDENT:
		on_word(b, start, alias);
		break;
	case LEX_QIDENT:
		take_name(b, L->arm ? 0 : alias);
		break;
	case LEX_OP:
		if (!(t->len == 1 && t->s[0] == '*')) /* FROM t * */
			L->arm = OBJ_NONE;
		break;
	default:
		L->arm = OBJ_NONE;
		break;
	}
	advance(b);
}

/* ---- tuples of literals ---------------------------------------------------------------- */

/* cur is a '(' after VALUES or ',': read the tuples of literals that start
 * here through cls_values.c instead of token by token. Taken only in a
 * state where, as step() shows, '(' ',' ')' and the items cls_values.c
 * accepts change nothing but the fingerprint, the token count and the
 * depth they leave as they found it: no phase, no WHERE or set_config
 * being followed, no KILL target, no write-target zone, MERGE or DDL
 * hooks (cls_writes.c), no name armed at this level, no pending function
 * parenthesis. Then it sets what step() would have left after the last
 * ')'. Returns 1 when it read at least one tuple. */
static int values_fast(struct cls_batch *b)
{
	struct cls_level *L = &b->lv[b->depth];
	struct cls_values_run r;

	if (b->plain_path || b->cur.s == b->fast_stop)
		return 0;
	if (!(b->prev_kind == LEX_COMMA || (b->prev_kind == LEX_IDENT && b->prev_kw == KW_VALUES)))
		return 0;
	if (b->vid <= 0 || b->ph != PH_NONE || b->where_fr >= 0 || b->watch_depth ||
	    b->next_paren || b->kt.mode || b->kt.arm || b->w.zone || b->w.merge_depth >= 0 ||
	    (b->st->flags & POLICY_F_DDL) || L->arm != OBJ_NONE || L->list != OBJ_NONE ||
	    b->depth + 1 > CLS_MAX_DEPTH || b->emitted == 0 || b->upper_here || b->name_here)
		return 0;
	if (b->fast_wait > 0) {
		b->fast_wait--;
		return 0;
	}
	if (!cls_values_scan(b, &r)) {
		/* Rows the fast path cannot take (a function call, a
		 * parameter): try again only after 1, 3, 7, ... 63 more
		 * chances, so that such a list costs little more than the
		 * plain path alone. */
		b->fast_stop = r.stop;
		if (b->fast_fails < 6)
			b->fast_fails++;
		b->fast_wait = (1 << b->fast_fails) - 1;
		return 0;
	}
	b->fast_fails = 0;
	b->fast_stop = r.stop;
	b->fp_len = r.fp_len;
	b->fp_glue = 0;
	b->ntok += r.ntok;
	b->emitted += r.ntok;
	/* the last token was ')' */
	b->prev_kind = LEX_RPAREN;
	b->prev_s = r.end - 1;
	b->prev_len = 1;
	b->prev_kw = b->prev_name = 0;
	L->start = L->alias = 0;
	memset(&b->lv[b->depth + 1], 0, sizeof b->lv[0]);
	b->resume(&b->lx, r.end);
	lex_one(b);
	shift(b);
	return 1;
}

/* ---- statements ------------------------------------------------------------------------ */

static void stmt_begin(struct cls_batch *b, struct cls_stmt *st)
{
	memset(st, 0, sizeof *st);
	b->call_proc = b->kind_skip = 0;
	st->fp_start = b->fp_len;
	b->st = st;
	b->depth = b->atomic = b->ntok = b->vid = b->ph = b->may_atomic = 0;
	b->emitted = b->fp_glue = 0;
	b->name_here = b->upper_here = 0;
	b->prev_kind = LEX_EOF;
	b->prev_kw = b->prev_name = 0;
	b->prev_s = NULL;
	b->prev_len = 0;
	b->kind[0] = '\0';
	b->explain_analyze = b->opt_name = b->opt_analyze = b->set_rw = 0;
	b->watch_depth = 0;
	b->next_paren = 0;
	cls_kill_reset(&b->kt, &st->kill);
	b->skip_words = b->set_stmt = 0;
	cls_compound_part(&b->cmp);
	b->where_fr = -1;
	b->nfr = 0;
	b->fast_fails = b->fast_wait = 0;
	cw_stmt_begin(b);
	memset(&b->lv[0], 0, sizeof b->lv[0]);
	b->lv[0].start = 1;
	b->names->len = 0;
	if (b->d->stmt_begin)
		b->d->stmt_begin(b);
}

static void stmt_end(struct cls_batch *b)
{
	struct cls_stmt *st = b->st;

	if (b->ph == PH_KIND)
		kind_finish(b);
	if (b->d->stmt_end)
		b->d->stmt_end(b);
	if (b->depth != 0 || b->atomic != 0)
		st->flags |= POLICY_F_UNPARSEABLE; /* unbalanced: the server refuses */
	frames_close(b, 0);
	cls_kill_end(&b->kt, &st->kill);
	cw_stmt_end(b);
	if ((b->vid == KW_EXPLAIN || b->vid == KW_DESC || b->vid == KW_DESCRIBE) &&
	    !b->explain_analyze) {
		st->flags &= POLICY_F_UNPARSEABLE; /* nothing is executed */
		st->dml = 0;
	}
	if (grow(&b->out->fingerprint, &b->out->fingerprint_cap, b->fp_len + 1)) {
		b->oom = 1;
		return;
	}
	b->out->fingerprint[b->fp_len] = '\0';
	st->fp_len = b->fp_len - st->fp_start;
	st->names = b->names->buf;
	st->names_len = b->names->len;
	for (size_t i = 0; i < b->names->len;) {
		const char *e = b->names->buf + i;
		size_t n = strlen(e + 1);
		if (e[0] == 'o')
			objects_add(b, e + 1, n);
		i += n + 2;
	}
}

/* In a function body: words of PL/pgSQL and SQL/PSM blocks that end one
 * statement and start the next (IF c THEN stmt; ...). */
static int body_block_word(const struct lex_token *t)
{
	static const char *const words[] = {"begin", "declare", "then", "else", "elsif",
					    "elseif", "loop", "exception", "end", "do",
					    "repeat"};
	return tok_word_in(t, words, sizeof words / sizeof words[0]);
}

/* Reading stopped inside a statement (parentheses nested deeper than
 * CLS_MAX_DEPTH; cur follows the '(' not counted): find the ';' that ends
 * it for the server, counting parentheses, so that st->text_end says
 * where. Left 0 (unknown) inside a compound statement or at a bad token. */
static void overflow_end(struct cls_batch *b)
{
	long d = (long)b->depth + 1;
	if (b->body_mode || cls_compound_active(&b->cmp) || b->atomic)
		return;
	for (;;) {
		enum lex_kind k = b->cur.kind;
		if (k == LEX_EOF || k == LEX_ERROR)
			return;
		if (k == LEX_LPAREN)
			d++;
		else if (k == LEX_RPAREN && d > 0)
			d--;
		else if (k == LEX_SEMI && d == 0) {
			b->st->text_end = (size_t)(b->cur.s - b->lx.base);
			return;
		}
		shift(b);
	}
}

int cls_next(struct cls_batch *b, struct cls_stmt *st)
{
	if (b->oom)
		return -1;
	while (!b->done) {
		stmt_begin(b, st);
		st->text_start = b->text_start;
		for (;;) {
			enum lex_kind k = b->cur.kind;
			if (k == LEX_EOF) {
				b->done = 1;
				break;
			}
			if (k == LEX_ERROR) {
				st->flags |= POLICY_F_UNPARSEABLE;
				b->ntok++;
				b->done = 1;
				break;
			}
			if (k == LEX_SEMI && b->depth == 0 && b->atomic == 0) {
				cls_compound_semi(&b->cmp);
				if (!b->body_mode && !cls_compound_active(&b->cmp))
					b->text_start = (size_t)(b->cur.s + b->cur.len - b->lx.base);
				shift(b);
				if (b->ntok)
					b->need_sep = 1;
				break;
			}
			/* the dialect's own boundaries (MySQL: stored program bodies) */
			int sp = b->d->split && b->depth == 0 && (b->d->split_kinds >> k & 1u)
					 ? b->d->split(b) : CLS_SPLIT_NO;
			if (sp == CLS_SPLIT_NEW) {
				b->need_sep = 1;
				break;
			}
			if (sp == CLS_SPLIT_SKIP || (k == LEX_IDENT && b->depth == 0 &&
			    ((b->body_mode && body_block_word(&b->cur)) ||
			     ((b->cmp.level || b->cmp.closing) &&
			      cls_compound_word(&b->cmp, &b->cur, &b->nx, b->ntok, b->vid == -2))))) {
				shift(b);
				if (b->ntok)
					b->need_sep = 1;
				break;
			}
			if (k == LEX_LPAREN && values_fast(b))
				continue;
			if (b->oom)
				return -1;
			step(b);
			if (b->oom)
				return -1;
			if (b->done) {
				st->flags |= POLICY_F_UNPARSEABLE;
				overflow_end(b);
				break;
			}
		}
		if (b->ntok == 0)
			continue;
		stmt_end(b);
		return b->oom ? -1 : 1;
	}
	return 0;
}

/* ---- services for dialect hooks (cls_dialect.h) --------------------------------------- */

void cls_set_verb(struct cls_batch *b, const char *a, const char *c)
{
	set_verb(b, a, c);
}

void cls_dialect_verb(struct cls_batch *b, const char *a, const char *c)
{
	b->vid = -3; /* none of the core's: no phase, no keyword role */
	set_verb(b, a, c);
}

void cls_arm_object(struct cls_batch *b)
{
	b->lv[b->depth].arm = OBJ_NAME;
}

void cls_add_name(struct cls_batch *b, char type, const char *nm, size_t n)
{
	names_add(b, type, nm, n);
}

void cls_skip(struct cls_batch *b)
{
	advance(b);
}

void cls_core_verb(struct cls_batch *b, int kw)
{
	verb_begin(b, kw);
}

void cls_dml_begin(struct cls_batch *b, int kw)
{
	dml_begin(b, kw);
}
