/* policy/cls_ora: the Oracle (SQL and PL/SQL) dialect descriptor.
 *
 * What Oracle does differently from the core's PostgreSQL reading (SQL
 * Language Reference, PL/SQL Language Reference):
 *   - BEGIN ... END; and DECLARE ... BEGIN ... END; are anonymous PL/SQL
 *     blocks: one statement to the server, with ';' inside. A block is
 *     dynamic (it runs code); its text is also classified as a body
 *     (cls_stmt.body, read in body mode) so that DROP or DELETE inside count
 *     too, the strongest winning. CREATE PROCEDURE/FUNCTION/PACKAGE [BODY]/
 *     TYPE BODY ... IS|AS and CREATE TRIGGER ... BEGIN|DECLARE run to the
 *     END that closes their block the same way. Block depth is counted on
 *     BEGIN, DECLARE, CASE and END (END IF / END LOOP close nothing; END
 *     CASE closes a CASE; a DECLARE section or a routine's IS|AS shares
 *     its BEGIN's END); a block that never closes is unparseable.
 *   - SQL*Plus ends a block with '/' alone on a line: a separator here.
 *   - EXECUTE IMMEDIATE, EXEC proc (SQL*Plus), CALL: dynamic; DBMS_SQL too.
 *   - ALTER SYSTEM runs the instance (server-admin; KILL|DISCONNECT SESSION
 *     ends sessions); CREATE DIRECTORY, UTL_FILE, DBMS_SCHEDULER,
 *     DBMS_JAVA, BFILENAME, ORGANIZATION EXTERNAL, CREATE JAVA|LIBRARY reach
 *     server files or programs; PURGE and FLASHBACK change schemas; AUDIT
 *     and NOAUDIT change the server's record; SELECT ... FOR UPDATE locks
 *     rows (a write); ALTER SESSION only sets session options.
 */
#include "policy/classify.h"
#include "policy/cls_keywords.h"

#include <string.h>
#include <strings.h>

#define ORA_MAX_BLOCK 62 /* block nesting followed (bits of decl) */

struct ora_state {
	uint64_t decl;       /* bit n: block level n is a DECLARE section or a
				routine's IS|AS: its BEGIN opens no new level */
	const char *body_at; /* where the block's text starts */
	const char *last_end;
	uint8_t block;       /* reading a block (b->atomic counts its depth) */
	uint8_t routine;     /* CREATE PROCEDURE & co: 'p' (IS|AS opens), 't' (trigger) */
	uint8_t sub;         /* PROCEDURE|FUNCTION inside a block: its IS|AS opens */
	uint8_t end_word;    /* after END: IF, LOOP, CASE (closed) or a label */
	uint8_t kill;        /* ALTER SYSTEM KILL|DISCONNECT SESSION */
	uint8_t slash;       /* the statement ended at a '/' line */
};

_Static_assert(sizeof(struct ora_state) <= sizeof(((struct cls_batch *)0)->dstate),
	       "ora_state fits cls_batch.dstate");

static struct ora_state *S(struct cls_batch *b)
{
	return (struct ora_state *)(void *)b->dstate;
}

static void ora_lex_init(struct cls_batch *b, const char *sql, size_t len,
			 const struct cls_opts *opts)
{
	(void)opts;
	oral_init(&b->lx, sql, len);
	b->next_token = oral_next;
	b->literal_end = NULL;
	b->resume = NULL;
	b->plain_path = 1; /* no literal fast path for this tokenizer */
}

static int word_in(const struct lex_token *t, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cls_word_is(t, list[i]))
			return 1;
	return 0;
}
#define WORD_IN(t, list) word_in(t, list, sizeof list / sizeof list[0])

static int prev_is(const struct cls_batch *b, const char *w)
{
	struct lex_token t = {.kind = b->prev_s ? (enum lex_kind)b->prev_kind : LEX_EOF,
			      .s = b->prev_s, .len = b->prev_len};
	return cls_word_is(&t, w);
}

/* '/' alone on a line: SQL*Plus runs the buffer. */
static int ora_split(struct cls_batch *b)
{
	const struct lex_token *t = &b->cur;
	if (t->len == 1 && t->s[0] == '/' && cls_alone_on_line(b->lx.base, b->lx.end, t)) {
		S(b)->slash = 1;
		return CLS_SPLIT_SKIP;
	}
	return CLS_SPLIT_NO;
}

/* ---- blocks ---------------------------------------------------------------- */

/* Open a block level; decl: it is a DECLARE section / IS|AS part. */
static void level_open(struct cls_batch *b, int decl)
{
	struct ora_state *s = S(b);
	if (b->atomic >= ORA_MAX_BLOCK) {
		b->st->flags |= POLICY_F_UNPARSEABLE;
		return;
	}
	b->atomic++;
	if (decl)
		s->decl |= (uint64_t)1 << b->atomic;
	else
		s->decl &= ~((uint64_t)1 << b->atomic);
}

static void block_begin(struct cls_batch *b, int decl, const char *at)
{
	struct ora_state *s = S(b);
	s->block = 1;
	s->body_at = at;
	level_open(b, decl);
}

/* One token inside a block; returns 1 when the core must not read it. */
static int block_token(struct cls_batch *b)
{
	struct ora_state *s = S(b);
	const struct lex_token *t = &b->cur;

	if (s->end_word) { /* the word after END */
		s->end_word = 0;
		if (t->kind == LEX_IDENT)
			return 1;
	}
	if (t->kind == LEX_SEMI) {
		s->sub = 0; /* PROCEDURE p; is a declaration */
		return 0;
	}
	if (t->kind != LEX_IDENT)
		return 0;
	if (b->kw == KW_BEGIN) {
		if (s->decl & ((uint64_t)1 << b->atomic))
			s->decl &= ~((uint64_t)1 << b->atomic); /* DECLARE ... BEGIN */
		else
			level_open(b, 0);
		return 1;
	}
	if (b->kw == KW_DECLARE) {
		level_open(b, 1);
		return 1;
	}
	if (b->kw == KW_CASE) {
		level_open(b, 0);
		return 1;
	}
	if (b->kw == KW_END) {
		if (cls_word_is(&b->nx, "if") || cls_word_is(&b->nx, "loop") ||
		    cls_word_is(&b->nx, "while")) {
			s->end_word = 1; /* END IF closes no level */
			return 1;
		}
		s->end_word = cls_word_is(&b->nx, "case");
		s->decl &= ~((uint64_t)1 << b->atomic);
		if (b->atomic > 0 && --b->atomic == 0)
			s->block = 0; /* the block is closed: ';' ends the statement */
		return 1;
	}
	if (cls_word_is(t, "procedure") || cls_word_is(t, "function")) {
		s->sub = 1;
		return 0;
	}
	if (s->sub && (b->kw == KW_AS || cls_word_is(t, "is")) && b->depth == 0) {
		s->sub = 0;
		level_open(b, 1);
		return 1;
	}
	return 0;
}

/* ---- words anywhere ------------------------------------------------------- */

static void word_flags(struct cls_batch *b)
{
	static const char *const files[] = {"utl_file", "dbms_scheduler", "dbms_java",
					    "dbms_backup_restore", "bfilename",
					    "dbms_datapump", "utl_file_dir"};
	static const char *const dyn[] = {"dbms_sql", "dbms_sys_sql", "dbms_job",
					  "dbms_xmlgen", "dbms_ijob"};
	const struct lex_token *t = &b->cur;
	struct lex_token w = *t;
	unsigned *fl = &b->st->flags;

	if (t->kind == LEX_QIDENT && t->len > 2) { /* "UTL_FILE".FOPEN */
		w.kind = LEX_IDENT;
		w.s = t->s + 1;
		w.len = t->len - 2;
	}
	if (w.kind != LEX_IDENT)
		return;
	if (WORD_IN(&w, files))
		*fl |= POLICY_F_FILE_ACCESS;
	if (WORD_IN(&w, dyn))
		*fl |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
	if (cls_word_is(&w, "execute") && cls_word_is(&b->nx, "immediate"))
		*fl |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
	if (cls_word_is(&w, "external") && prev_is(b, "organization"))
		*fl |= POLICY_F_FILE_ACCESS; /* reads server files through a directory */
	if (cls_word_is(&w, "update") && prev_is(b, "for") && b->vid == KW_SELECT)
		*fl |= POLICY_F_WRITES; /* SELECT ... FOR UPDATE locks the rows */
	if ((cls_word_is(&w, "kill") || cls_word_is(&w, "disconnect")) &&
	    cls_word_is(&b->nx, "session") && b->vid == KW_ALTER)
		/* the verb is known to be ALTER SYSTEM only after this word */
		S(b)->kill = 1;
}

/* ---- statements ------------------------------------------------------------ */

static int ora_verb(struct cls_batch *b, int kw)
{
	const struct lex_token *t = &b->cur;
	unsigned *fl = &b->st->flags;

	if (t->kind != LEX_IDENT)
		return 0;
	word_flags(b);
	if (kw == KW_BEGIN || kw == KW_DECLARE) {
		cls_dialect_verb(b, kw == KW_BEGIN ? "BEGIN" : "DECLARE", NULL);
		*fl |= POLICY_F_DYNAMIC | POLICY_F_WRITES; /* an anonymous block runs code */
		block_begin(b, kw == KW_DECLARE, t->s);
		return 1;
	}
	if (kw == KW_EXECUTE || cls_word_is(t, "exec")) {
		/* EXECUTE IMMEDIATE 'text'; SQL*Plus EXEC proc(...) */
		cls_dialect_verb(b, "EXECUTE", cls_word_is(&b->nx, "immediate") ? "IMMEDIATE" : NULL);
		*fl |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
		return 1;
	}
	if (kw == KW_PURGE || cls_word_is(t, "flashback")) {
		/* PURGE TABLE|RECYCLEBIN removes dropped objects for good;
		 * FLASHBACK TABLE rewinds a table */
		cls_dialect_verb(b, kw == KW_PURGE ? "PURGE" : "FLASHBACK", NULL);
		*fl |= POLICY_F_DDL | POLICY_F_WRITES;
		cls_arm_object(b);
		return 1;
	}
	if (cls_word_is(t, "audit") || cls_word_is(t, "noaudit")) {
		cls_dialect_verb(b, cls_word_is(t, "audit") ? "AUDIT" : "NOAUDIT", NULL);
		*fl |= POLICY_F_SERVER_ADMIN | POLICY_F_DDL;
		return 1;
	}
	if (cls_word_is(t, "administer")) { /* ADMINISTER KEY MANAGEMENT */
		cls_dialect_verb(b, "ADMINISTER", NULL);
		*fl |= POLICY_F_SERVER_ADMIN | POLICY_F_PRIVILEGE;
		return 1;
	}
	return 0;
}

static int ora_token(struct cls_batch *b)
{
	struct ora_state *s = S(b);
	const struct lex_token *t = &b->cur;

	if (t->kind != LEX_EOF)
		s->last_end = t->s + t->len;
	word_flags(b);
	if (s->block)
		return block_token(b);
	if (t->kind != LEX_IDENT || b->depth != 0)
		return 0;
	if (b->vid == KW_CREATE && !s->routine && b->ntok <= 6) {
		if (cls_word_is(t, "procedure") || cls_word_is(t, "function") ||
		    cls_word_is(t, "package") ||
		    (cls_word_is(t, "type") && cls_word_is(&b->nx, "body")))
			s->routine = 'p';
		else if (cls_word_is(t, "trigger"))
			s->routine = 't';
		else if (cls_word_is(t, "java") || cls_word_is(t, "library") ||
			 cls_word_is(t, "directory"))
			b->st->flags |= POLICY_F_FILE_ACCESS; /* host code, server paths */
		return 0;
	}
	if (b->vid == KW_ALTER && b->ntok <= 3 && cls_word_is(t, "directory"))
		b->st->flags |= POLICY_F_FILE_ACCESS;
	if (s->routine == 'p' && (b->kw == KW_AS || cls_word_is(t, "is"))) {
		/* CREATE PROCEDURE p (...) IS|AS declarations BEGIN ... END */
		block_begin(b, 1, b->nx.s);
		return 1;
	}
	if (s->routine == 't' && (b->kw == KW_BEGIN || b->kw == KW_DECLARE)) {
		block_begin(b, b->kw == KW_DECLARE, t->s);
		return 1;
	}
	return 0;
}

static void ora_stmt_begin(struct cls_batch *b)
{
	memset(S(b), 0, sizeof(struct ora_state));
}

static void ora_stmt_end(struct cls_batch *b)
{
	struct ora_state *s = S(b);
	struct cls_stmt *st = b->st;
	const char *v = st->verb;

	if (s->slash && b->atomic) /* '/' ran the block as it stands */
		b->atomic = 0;
	if (s->body_at && s->last_end && s->last_end >= s->body_at && !st->body) {
		st->body = s->body_at;
		st->body_len = (size_t)(s->last_end - s->body_at);
		st->body_flavor = LEX_FL_RAW;
	}
	if (!strcmp(v, "ALTER SYSTEM")) {
		st->flags |= POLICY_F_SERVER_ADMIN;
		if (s->kill) {
			st->flags |= POLICY_F_ENDS_SESSION;
			st->kill.unmapped++; /* 'sid,serial#': no bastion session */
		}
	}
	if (!strcmp(v, "ALTER SESSION"))
		st->flags &= ~(unsigned)POLICY_F_DDL; /* NLS and optimizer options */
	if (!strcmp(v, "CREATE DIRECTORY") || !strcmp(v, "ALTER DIRECTORY"))
		st->flags |= POLICY_F_FILE_ACCESS;
	s->slash = 0;
}

const struct cls_dialect cls_dialect_oracle = {
	.name = "oracle",
	.lex_init = ora_lex_init,
	.split = ora_split,
	.split_kinds = 1u << LEX_OP,
	.verb = ora_verb,
	.token = ora_token,
	.stmt_begin = ora_stmt_begin,
	.stmt_end = ora_stmt_end,
};
