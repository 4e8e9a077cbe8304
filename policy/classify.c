/* policy/classify: statement splitter and classifier (see classify.h).
 *
 * One pass, one token of lookahead, no allocation per token. This file is
 * the token loop: it starts the dialect's tokenizer (cls_dialect.h: one
 * descriptor per dialect, cls_pg.c, cls_my.c, cls_tsql.c, cls_ora.c),
 * splits statements at ';' and where the dialect says, emits the
 * fingerprint, hands each token to the part of the core that reads it and
 * closes each statement. The core's other parts (cls_core.h):
 *   cls_verbs.c   the first word (verb and flags), DML frames, statements
 *                 that begin inside another
 *   cls_phases.c  the words right after some verbs (DDL kinds, ALTER
 *                 actions, COPY, EXPLAIN, SET/RESET, ...), set_config()
 *   cls_roles.c   what keywords and parentheses do where they stand
 *   cls_names.c   qualified names: objects and functions called
 * and its helpers: the keyword list in cls_words.h with its lookup in
 * cls_keywords.c; WHERE triviality in cls_where.c, long VALUES lists of
 * literals in cls_values.c, write targets in cls_writes.c, KILL targets in
 * cls_kill.c, MariaDB compound statements in cls_wrappers.c. The MySQL
 * forms that differ (DO, PREPARE ... FROM, LOAD DATA, SELECT ... INTO
 * OUTFILE, SET GLOBAL, REPLACE, RENAME TABLE) are checked where they occur
 * under the descriptor's CLS_FORMS_MYSQL; the T-SQL and Oracle forms live
 * in their descriptors' hooks. The state is a
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
#include "policy/cls_core.h"
#include "policy/cls_values.h"
#include "policy/cls_where.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- buffers ----------------------------------------------------------- */

int cls_grow(char **buf, size_t *cap, size_t need)
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
	/* asked per token: kept at hand */
	b->token_hook = b->d->token;
	b->split_kinds = b->d->split ? b->d->split_kinds : 0;
	b->d->lex_init(b, sql, len, opts);
	b->plain_path |= opts->plain_path; /* a dialect may have no fast path */
	b->body_mode = opts->body_mode;
	b->routines = opts->routines;
	b->out = out;
	b->names = names;
	cw_begin(b, opts);
	if (cls_grow(&out->fingerprint, &out->fingerprint_cap, 64) ||
	    cls_grow(&out->objects, &out->objects_cap, 64))
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

	if (cls_grow(&o->fingerprint, &o->fingerprint_cap, b->fp_len + t->len + 24)) {
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
void cls_advance(struct cls_batch *b)
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
	if (b->watch_depth) /* following set_config(): off the common path */
		cls_watch_token(b, t);
	if (cw_wants_token(b))
		cw_token(b);
	if (b->kt.mode) /* reading a KILL target: off the common path */
		cls_kill_token(&b->kt, &b->st->kill, t, b->depth);
	if (b->depth == 0 && t->kind == LEX_IDENT && (b->vid == -2 || b->set_stmt) &&
	    ((b->vid == -2 && cls_restart_verb(b->kw)) ||
	     (b->set_stmt && b->vid == KW_SET && b->kw == KW_FOR))) {
		/* the statement a procedural part or SET STATEMENT ... FOR wraps */
		int is_for = b->kw == KW_FOR;
		cls_restart(b);
		if (is_for) {
			cls_advance(b);
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
			cls_on_lparen(b);
		else if (cls_compound_active(&b->cmp) &&
			 (cls_compound_procedural(t, &b->nx) ||
			  (t->kind == LEX_IDENT && !b->kw &&
			   (b->nx.kind == LEX_SEMI || b->nx.kind == LEX_EOF))))
			cls_procedural_begin(b); /* ... or the label after END LOOP */
		else if (b->mysql && cls_compound_toplevel(t, &b->nx)) {
			/* MariaDB runs IF/CASE/LOOP/WHILE/REPEAT/FOR and labelled
			 * blocks outside stored programs too */
			cls_compound_begin(&b->cmp);
			cls_procedural_begin(b);
		}
		else if (b->d->verb && b->d->verb(b, b->kw))
			; /* a statement of the dialect's own */
		else if (t->kind == LEX_IDENT && b->kw)
			cls_verb_begin(b, b->kw);
		else
			cls_unknown_statement(b);
		cls_advance(b);
		return;
	}
	if (b->token_hook && b->token_hook(b)) {
		cls_advance(b);
		return;
	}
	if (b->ph) {
		int r = cls_phase_step(b);
		if (r == 1) {
			cls_advance(b);
			return;
		}
		if (r == 2)
			start = 1;
	}
	switch (t->kind) {
	case LEX_LPAREN:
		cls_on_lparen(b);
		break;
	case LEX_RPAREN:
		cls_on_rparen(b);
		break;
	case LEX_SEMI:
		cls_on_inner_semi(b);
		break;
	case LEX_COMMA:
		L->arm = L->list;
		break;
	case LEX_IDENT:
		cls_on_word(b, start, alias);
		break;
	case LEX_QIDENT:
		cls_take_name(b, L->arm ? 0 : alias);
		break;
	case LEX_OP:
		if (!(t->len == 1 && t->s[0] == '*')) /* FROM t * */
			L->arm = OBJ_NONE;
		break;
	default:
		L->arm = OBJ_NONE;
		break;
	}
	cls_advance(b);
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
		cls_kind_finish(b);
	if (b->d->stmt_end)
		b->d->stmt_end(b);
	if (b->depth != 0 || b->atomic != 0)
		st->flags |= POLICY_F_UNPARSEABLE; /* unbalanced: the server refuses */
	cls_frames_close(b, 0);
	cls_kill_end(&b->kt, &st->kill);
	cw_stmt_end(b);
	if ((b->vid == KW_EXPLAIN || b->vid == KW_DESC || b->vid == KW_DESCRIBE) &&
	    !b->explain_analyze) {
		st->flags &= POLICY_F_UNPARSEABLE; /* nothing is executed */
		st->dml = 0;
	}
	if (cls_grow(&b->out->fingerprint, &b->out->fingerprint_cap, b->fp_len + 1)) {
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
			cls_objects_add(b, e + 1, n);
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
			int sp = (b->split_kinds >> k & 1u) && b->depth == 0 ? b->d->split(b)
									     : CLS_SPLIT_NO;
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

void cls_dialect_verb(struct cls_batch *b, const char *a, const char *c)
{
	b->vid = -3; /* none of the core's: no phase, no keyword role */
	cls_set_verb(b, a, c);
}

void cls_arm_object(struct cls_batch *b)
{
	b->lv[b->depth].arm = OBJ_NAME;
}

void cls_add_name(struct cls_batch *b, char type, const char *nm, size_t n)
{
	cls_names_add(b, type, nm, n);
}

void cls_skip(struct cls_batch *b)
{
	cls_advance(b);
}

void cls_core_verb(struct cls_batch *b, int kw)
{
	cls_verb_begin(b, kw);
}
