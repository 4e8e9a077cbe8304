/* policy/cls_roles: what a word does where it stands once the verb is
 * known (FROM/JOIN/INTO arm an object, WHERE starts the WHERE analysis,
 * BEGIN ATOMIC/CASE/END nest, ...) and what parentheses and an inner';'
 * open and close. Part of the classifier core (cls_core.h).
 */
#include "policy/cls_core.h"
#include "policy/cls_where.h"

#include <string.h>
#include <strings.h>

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
		cls_value_of(&b->nx, v, sizeof v);
		for (size_t i = 0; v[i]; i++)
			v[i] = (char)down((unsigned char)v[i]);
		if (cls_in_list(v, unsafe_languages, sizeof unsafe_languages / sizeof unsafe_languages[0]))
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
			cls_advance(b); /* to ATOMIC */
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
				cls_frames_close(b, 0);
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

void cls_on_word(struct cls_batch *b, int start, int alias)
{
	int kw = b->kw;
	struct cls_level *L = &b->lv[b->depth];

	if (kw && start && cls_nested_start(b, kw))
		return;
	if (kw && L->with && cls_with_main(b, kw))
		return;
	if (L->arm) {
		if (kw && is_skip(b, kw))
			return;
		if (namelike(kw) || (b->mysql && kw == KW_USER)) { /* mysql.user */
			cls_take_name(b, 0);
			return;
		}
		L->arm = OBJ_NONE;
	}
	if (kw && keyword_role(b, kw, alias))
		return;
	if (namelike(kw)) {
		cls_take_name(b, alias);
		return;
	}
	/* type/function-name keywords that are functions: left(), right() */
	if (b->nx.kind == LEX_LPAREN && !kw_flag(kw, KF_NOTFUNC) &&
	    cls_kwdefs[kw].cat == KC_T) {
		char nm[LEX_NAME_MAX + 1];
		size_t n = lex_ident_value(&b->cur, nm, sizeof nm);
		cls_function_called(b, nm, n, 0, cls_my_call_type(b));
		b->name_here = 1;
	}
}

/* ---- punctuation ------------------------------------------------------------------ */

void cls_on_lparen(struct cls_batch *b)
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

void cls_on_rparen(struct cls_batch *b)
{
	if (b->depth == 0) {
		b->st->flags |= POLICY_F_UNPARSEABLE; /* the server refuses it too */
		return;
	}
	cls_frames_close(b, b->depth);
	if (b->watch_depth == b->depth)
		cls_watch_finish(b);
	int p = b->lv[b->depth].paren;
	b->depth--;
	if (p == P_FROM || p == P_FROMFUNC)
		b->lv[b->depth].alias = 1;
}

/* ';' inside parentheses (CREATE RULE ... DO (a; b)) or a BEGIN ATOMIC body */
void cls_on_inner_semi(struct cls_batch *b)
{
	struct cls_level *L = &b->lv[b->depth];
	cls_frames_close(b, b->depth);
	L->start = 1;
	L->arm = L->list = L->with = OBJ_NONE;
}
