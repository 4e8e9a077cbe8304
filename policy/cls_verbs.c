/* policy/cls_verbs: the first word of a statement (verb_begin: verb and
 * flags), statements that begin inside another (a CTE's main statement,
 * a rule action, a wrapped statement of a MariaDB compound), and the DML
 * frames that say whether a WHERE belongs to a DELETE/UPDATE. Part of the
 * classifier core (cls_core.h).
 */
#include "policy/cls_core.h"

#include <string.h>
#include <strings.h>

/* ---- statement state ---------------------------------------------------------- */

/* verb = a [" " c], cut to fit (no snprintf: this runs per statement) */
void cls_set_verb(struct cls_batch *b, const char *a, const char *c)
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
void cls_frames_close(struct cls_batch *b, int d)
{
	while (b->nfr > 0 && b->fr[b->nfr - 1].depth >= d)
		frame_close(b);
}

void cls_dml_begin(struct cls_batch *b, int kw)
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
int cls_nested_start(struct cls_batch *b, int kw)
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
		cls_dml_begin(b, kw);
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
int cls_with_main(struct cls_batch *b, int kw)
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
		cls_set_verb(b, cls_kwdefs[kw].name, NULL);
	cls_nested_start(b, kw);
	return 1;
}

/* ---- the first word ----------------------------------------------------------- */

void cls_unknown_statement(struct cls_batch *b)
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
void cls_restart(struct cls_batch *b)
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
int cls_restart_verb(int kw)
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
void cls_procedural_begin(struct cls_batch *b)
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
		cls_set_verb(b, "BEGIN", "NOT ATOMIC");
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
	cls_restart(b);
	b->skip_words = fmt ? 3 : 0; /* FORMAT = JSON */
	return 1;
}

void cls_verb_begin(struct cls_batch *b, int kw)
{
	struct cls_level *L = &b->lv[b->depth];
	unsigned *fl = &b->st->flags;

	b->vid = kw;
	cls_set_verb(b, cls_kwdefs[kw].name, NULL);
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
		cls_dml_begin(b, kw);
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
			cls_set_verb(b, cls_kwdefs[kw].name, "PREPARED");
		break;
	case KW_PREPARE:
		if (b->mysql) { /* PREPARE s FROM 'text' | @var */
			*fl |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
		} else if (b->nkw == KW_TRANSACTION) {
			*fl |= POLICY_F_TX_CONTROL;
			cls_set_verb(b, "PREPARE", "TRANSACTION");
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
		cls_dml_begin(b, KW_INSERT);
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
		cls_unknown_statement(b);
		break;
	}
	cw_verb(b);
}
