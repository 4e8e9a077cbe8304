/* policy/cls_tsql: the T-SQL (SQL Server) dialect descriptor.
 *
 * What SQL Server does differently from the core's PostgreSQL reading
 * (Transact-SQL reference):
 *   - ';' is optional: a batch "DROP TABLE t SELECT 1" is two statements.
 *     split() starts a new statement at a statement verb at depth 0 unless
 *     the verb continues the one being read (INSERT ... SELECT, MERGE ...
 *     THEN UPDATE, ON DELETE CASCADE, UNION SELECT, a GRANT's permission
 *     list, ALTER TABLE ... DROP COLUMN, a trigger's AFTER INSERT, ...).
 *     Splitting once too often only shows more statements.
 *   - GO alone on a line is sqlcmd's batch separator, not SQL: a separator.
 *     BEGIN/END blocks, ELSE and TRY/CATCH are separators too.
 *   - EXEC/EXECUTE runs a procedure or a string: EXEC('literal') and
 *     sp_executesql N'literal' have their text classified as a batch of its
 *     own (cls_stmt.body_batch); any other text (a variable, 'a'+'b') is
 *     dynamic; a named procedure is what the known-procedure table says,
 *     else dynamic (or a routine look-up with cls_opts.routines). The first
 *     statement of a batch may call a procedure without EXEC.
 *   - CREATE PROCEDURE/FUNCTION/TRIGGER/VIEW take the rest of the batch as
 *     their body: it is classified as a routine body.
 *   - server and file forms: KILL, SHUTDOWN, RECONFIGURE, BULK INSERT,
 *     BACKUP/RESTORE, DBCC, OPENROWSET/OPENDATASOURCE/OPENQUERY, DENY,
 *     LOGINs, EXECUTE AS, SAVE TRANSACTION.
 */
#include "policy/cls_tsql.h"
#include "policy/cls_keywords.h"

#include <string.h>
#include <strings.h>

static void ts_lex_init(struct cls_batch *b, const char *sql, size_t len,
			const struct cls_opts *opts)
{
	(void)opts;
	tsl_init(&b->lx, sql, len);
	b->next_token = tsl_next;
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

/* The previous token as a word (only when it was one). */
static int prev_is(const struct cls_batch *b, const char *w)
{
	struct lex_token t = {.kind = (enum lex_kind)b->prev_kind, .s = b->prev_s,
			      .len = b->prev_len};
	return b->prev_s && cls_word_is(&t, w);
}

/* "GO" or "GO 5" alone on its line: sqlcmd's batch separator. */
static int is_go(const struct cls_batch *b)
{
	const struct lex_token *t = &b->cur;
	if (!cls_word_is(t, "go"))
		return 0;
	struct lex_token rest = *t;
	if (b->nx.kind == LEX_NUMBER) {
		const char *p = t->s + t->len;
		while (p < b->nx.s && (*p == ' ' || *p == '\t'))
			p++;
		if (p == b->nx.s) /* the count on the same line */
			rest.len = (size_t)(b->nx.s + b->nx.len - t->s);
	}
	return cls_alone_on_line(b->lx.base, b->lx.end, &rest);
}

/* ---- statement boundaries ------------------------------------------------ */

/* Words after which a verb continues the statement. */
static const char *const set_ops[] = {"union", "all", "except", "intersect"};
static const char *const trigger_words[] = {"on", "for", "after", "of", "instead"};

/* Object kinds: "DROP TABLE IF EXISTS", "ALTER TABLE t DROP TABLE u". */
static const char *const object_kinds[] = {
	"table", "view", "procedure", "proc", "function", "database", "schema", "login",
	"user", "role", "trigger", "synonym", "type", "sequence", "assembly",
	"certificate", "credential", "endpoint", "server", "default", "rule",
	"statistics", "application", "queue", "service", "event", "external",
	"availability", "index", "partition", "fulltext", "xml", "master",
	"symmetric", "asymmetric", "security", "workload", "resource",
};

/* Verbs that start a statement wherever they stand at depth 0, unless
 * the word before makes them a part of it. */
static const char *const always_verbs[] = {
	"drop", "create", "truncate", "exec", "execute", "grant", "deny", "revoke",
	"kill", "bulk", "shutdown", "reconfigure", "use", "declare", "print",
	"raiserror", "throw", "waitfor", "goto", "return", "break", "continue", "if",
	"while", "commit", "rollback", "save", "backup", "restore", "dbcc", "open",
	"close", "fetch", "deallocate", "checkpoint", "revert", "setuser",
	"readtext", "writetext", "updatetext", "enable", "disable", "alter",
};

static int ts_split(struct cls_batch *b)
{
	struct ts_state *s = S(b);
	const struct lex_token *t = &b->cur;

	if (t->kind == LEX_NUMBER) {
		if (s->after_go && b->ntok == 0) {
			s->after_go = 0;
			return CLS_SPLIT_SKIP; /* GO 5 */
		}
		s->after_go = 0;
		return CLS_SPLIT_NO;
	}
	s->after_go = 0;
	if (t->kind != LEX_IDENT)
		return CLS_SPLIT_NO;
	if (is_go(b)) {
		s->after_go = 1;
		s->nstmt = 0; /* a new batch */
		return CLS_SPLIT_SKIP;
	}
	if (s->rest)
		return CLS_SPLIT_NO; /* a routine's body runs to the end of the batch */
	if (b->ntok == 0) {
		/* block words are not statements */
		if (cls_word_is(t, "begin") &&
		    !(cls_word_is(&b->nx, "tran") || cls_word_is(&b->nx, "transaction") ||
		      cls_word_is(&b->nx, "distributed") || cls_word_is(&b->nx, "dialog") ||
		      cls_word_is(&b->nx, "conversation")))
			return CLS_SPLIT_SKIP;
		if (cls_word_is(t, "end") || cls_word_is(t, "else") || cls_word_is(t, "try") ||
		    cls_word_is(t, "catch"))
			return CLS_SPLIT_SKIP;
		return CLS_SPLIT_NO;
	}
	if (cls_word_is(t, "case")) {
		s->cases++;
		return CLS_SPLIT_NO;
	}
	if (cls_word_is(t, "end")) {
		if (s->cases) {
			s->cases--;
			return CLS_SPLIT_NO;
		}
		return CLS_SPLIT_SKIP; /* IF c BEGIN stmt END */
	}
	if (cls_word_is(t, "else"))
		return s->cases ? CLS_SPLIT_NO : CLS_SPLIT_SKIP;
	if (cls_word_is(t, "begin")) {
		if (cls_word_is(&b->nx, "tran") || cls_word_is(&b->nx, "transaction") ||
		    cls_word_is(&b->nx, "distributed"))
			return CLS_SPLIT_NEW;
		return CLS_SPLIT_SKIP;
	}
	if (s->grant)
		return CLS_SPLIT_NO; /* GRANT SELECT, INSERT, EXECUTE ON ... TO */
	if (b->lv[0].with)
		return CLS_SPLIT_NO; /* WITH c AS (...) DELETE ... */

	struct lex_token prev = {.kind = b->prev_s ? (enum lex_kind)b->prev_kind : LEX_EOF,
				 .s = b->prev_s, .len = b->prev_len};
	int cursor = !strcmp(b->st->verb, "DECLARE"); /* DECLARE c CURSOR FOR ... */
	int ddl = b->vid == KW_CREATE || b->vid == KW_ALTER;
	if (cls_word_is(t, "select")) {
		if ((b->st->dml & CLS_DML_INSERT) && !s->src) {
			s->src = 1; /* INSERT INTO t SELECT */
			return CLS_SPLIT_NO;
		}
		if (WORD_IN(&prev, set_ops) || (cursor && cls_word_is(&prev, "for")))
			return CLS_SPLIT_NO; /* UNION SELECT */
		return CLS_SPLIT_NEW;
	}
	if (cls_word_is(t, "insert") || cls_word_is(t, "update") || cls_word_is(t, "delete") ||
	    cls_word_is(t, "merge")) {
		if (s->trigger || (cursor && cls_word_is(&prev, "for")) ||
		    ((b->st->dml & CLS_DML_MERGE) && cls_word_is(&prev, "then")) ||
		    (ddl && (WORD_IN(&prev, trigger_words) || prev.kind == LEX_COMMA)))
			return CLS_SPLIT_NO; /* AFTER INSERT, UPDATE; THEN DELETE; ON DELETE */
		return CLS_SPLIT_NEW;
	}
	if (cls_word_is(t, "set")) {
		if ((b->st->dml & (CLS_DML_UPDATE | CLS_DML_MERGE)) || b->vid == KW_ALTER ||
		    b->vid == KW_CREATE || prev_is(b, "delete") || prev_is(b, "update"))
			return CLS_SPLIT_NO;
		return CLS_SPLIT_NEW;
	}
	if (!WORD_IN(t, always_verbs))
		return CLS_SPLIT_NO;
	if (cls_word_is(&prev, "with"))
		return CLS_SPLIT_NO; /* WITH ROLLBACK IMMEDIATE, WITH EXECUTE AS */
	if ((cls_word_is(t, "exec") || cls_word_is(t, "execute")) &&
	    (b->st->dml & CLS_DML_INSERT) && !s->src)
		return CLS_SPLIT_NO; /* INSERT INTO t EXEC p */
	if (cls_word_is(t, "if") && WORD_IN(&prev, object_kinds))
		return CLS_SPLIT_NO; /* DROP TABLE IF EXISTS */
	if (cls_word_is(t, "fetch") && (prev_is(b, "rows") || prev_is(b, "row")))
		return CLS_SPLIT_NO; /* OFFSET n ROWS FETCH NEXT */
	if (b->vid == KW_ALTER &&
	    (cls_word_is(t, "drop") || cls_word_is(t, "alter") || cls_word_is(t, "enable") ||
	     cls_word_is(t, "disable")) &&
	    !(WORD_IN(&b->nx, object_kinds) && !cls_word_is(&b->nx, "index")))
		return CLS_SPLIT_NO; /* ALTER TABLE t DROP COLUMN c, ALTER COLUMN */
	return CLS_SPLIT_NEW;
}

/* ---- statements ------------------------------------------------------------ */

static int ts_verb(struct cls_batch *b, int kw)
{
	const struct lex_token *t = &b->cur;
	struct ts_state *s = S(b);
	unsigned *fl = &b->st->flags;

	if (t->kind == LEX_QIDENT && s->nstmt == 0) {
		/* [proc] args as the first statement of a batch: EXEC is optional */
		tsql_exec_begin(b, "EXECUTE");
		tsql_exec_token(b);
		return 1;
	}
	if (t->kind != LEX_IDENT)
		return 0;
	if (cls_word_is(t, "exec") || cls_word_is(t, "execute")) {
		tsql_exec_begin(b, "EXECUTE");
		return 1;
	}
	if (cls_word_is(t, "deny")) {
		cls_dialect_verb(b, "DENY", NULL);
		*fl |= POLICY_F_PRIVILEGE;
		s->grant = 1;
		return 1;
	}
	if (kw == KW_GRANT || kw == KW_REVOKE) {
		s->grant = 1;
		return 0;
	}
	if (kw == KW_KILL) {
		cls_dialect_verb(b, "KILL", NULL);
		*fl |= POLICY_F_ENDS_SESSION;
		b->st->kill.unmapped++; /* a SQL Server session id, no bastion one */
		return 1;
	}
	if (kw == KW_SHUTDOWN || cls_word_is(t, "reconfigure")) {
		cls_dialect_verb(b, kw == KW_SHUTDOWN ? "SHUTDOWN" : "RECONFIGURE", NULL);
		*fl |= POLICY_F_SERVER_ADMIN | POLICY_F_WRITES;
		return 1;
	}
	if (cls_word_is(t, "bulk")) {
		cls_dialect_verb(b, "BULK", "INSERT");
		*fl |= POLICY_F_WRITES | POLICY_F_FILE_ACCESS; /* reads a server file */
		s->bulk = 1;
		return 1;
	}
	if (cls_word_is(t, "backup") || cls_word_is(t, "restore")) {
		int restore = cls_word_is(t, "restore");
		cls_dialect_verb(b, restore ? "RESTORE" : "BACKUP", NULL);
		*fl |= POLICY_F_SERVER_ADMIN | POLICY_F_FILE_ACCESS;
		if (restore)
			*fl |= POLICY_F_WRITES | POLICY_F_DDL;
		return 1;
	}
	if (cls_word_is(t, "dbcc")) {
		cls_dialect_verb(b, "DBCC", NULL);
		*fl |= POLICY_F_SERVER_ADMIN | POLICY_F_WRITES;
		return 1;
	}
	if (cls_word_is(t, "save")) {
		cls_dialect_verb(b, "SAVE", "TRANSACTION");
		*fl |= POLICY_F_TX_CONTROL;
		return 1;
	}
	if (kw == KW_BEGIN) {
		if (cls_word_is(&b->nx, "dialog") || cls_word_is(&b->nx, "conversation")) {
			cls_dialect_verb(b, "BEGIN", "DIALOG");
			*fl |= POLICY_F_WRITES; /* Service Broker */
			return 1;
		}
		cls_dialect_verb(b, "BEGIN", "TRANSACTION");
		*fl |= POLICY_F_TX_CONTROL;
		return 1;
	}
	if (cls_word_is(t, "setuser")) {
		cls_dialect_verb(b, "SETUSER", NULL);
		*fl |= POLICY_F_PRIVILEGE;
		return 1;
	}
	if (cls_word_is(t, "enable") || cls_word_is(t, "disable")) {
		cls_dialect_verb(b, cls_word_is(t, "enable") ? "ENABLE" : "DISABLE", "TRIGGER");
		*fl |= POLICY_F_DDL;
		return 1;
	}
	if (cls_word_is(t, "writetext") || cls_word_is(t, "updatetext")) {
		cls_dialect_verb(b, "WRITETEXT", NULL);
		*fl |= POLICY_F_WRITES;
		return 1;
	}
	if (kw == KW_SET) {
		/* SET NOCOUNT ON, SET TRANSACTION ISOLATION LEVEL, SET @v = expr:
		 * session options and variables */
		cls_dialect_verb(b, "SET", cls_word_is(&b->nx, "transaction") ? "TRANSACTION" : NULL);
		return 1;
	}
	if (kw == KW_UPDATE && cls_word_is(&b->nx, "statistics")) {
		cls_dialect_verb(b, "UPDATE", "STATISTICS"); /* optimizer statistics */
		*fl |= POLICY_F_WRITES;
		return 1;
	}
	if (kw == KW_DELETE || kw == KW_INSERT) {
		/* DELETE t / INSERT t: FROM and INTO are optional */
		cls_core_verb(b, kw);
		if ((b->nx.kind == LEX_IDENT || b->nx.kind == LEX_QIDENT) &&
		    !cls_word_is(&b->nx, "from") && !cls_word_is(&b->nx, "into") &&
		    !cls_word_is(&b->nx, "top"))
			cls_arm_object(b);
		return 1;
	}
	static const char *const harmless[] = {
		"if", "while", "print", "raiserror", "throw", "waitfor", "goto", "return",
		"break", "continue", "open", "close", "fetch", "deallocate", "declare",
		"revert", "readtext", "use",
	};
	if (WORD_IN(t, harmless)) {
		char v[16];
		size_t n = t->len < sizeof v - 1 ? t->len : sizeof v - 1;
		for (size_t i = 0; i < n; i++)
			v[i] = (char)(t->s[i] >= 'a' && t->s[i] <= 'z' ? t->s[i] - 32 : t->s[i]);
		v[n] = '\0';
		cls_dialect_verb(b, v, NULL);
		return 1;
	}
	if (!kw && s->nstmt == 0) {
		/* proc args as the first statement of a batch */
		tsql_exec_begin(b, "EXECUTE");
		tsql_exec_token(b);
		return 1;
	}
	return 0;
}

static int ts_token(struct cls_batch *b)
{
	struct ts_state *s = S(b);
	const struct lex_token *t = &b->cur;

	if (t->kind != LEX_EOF)
		s->last_end = t->s + t->len;
	if (s->exec && s->exec != EX_DONE)
		return tsql_exec_token(b);
	if (s->rest) {
		/* BEGIN ... END and CASE ... END of the body: not BEGIN ATOMIC */
		return t->kind == LEX_IDENT &&
		       (b->kw == KW_CASE || b->kw == KW_END || b->kw == KW_BEGIN);
	}
	if (t->kind != LEX_IDENT || b->depth != 0)
		return 0;
	if (s->bulk) { /* BULK INSERT t FROM 'file' */
		s->bulk = 0;
		if (b->kw == KW_INSERT) {
			cls_arm_object(b);
			return 1;
		}
	}
	if (s->grant && (b->kw == KW_TO || b->kw == KW_FROM))
		s->grant = 0;
	if ((b->kw == KW_VALUES || cls_word_is(t, "default")) && (b->st->dml & CLS_DML_INSERT))
		s->src = 1;
	if ((cls_word_is(t, "exec") || cls_word_is(t, "execute")) && !s->grant &&
	    !cls_word_is(&b->nx, "as")) {
		s->src = 1; /* INSERT INTO t EXEC p: runs p */
		s->exec = EX_NAME;
		return 1;
	}
	if (b->vid == KW_CREATE || b->vid == KW_ALTER) {
		if (b->ntok <= 2 && b->vid == KW_CREATE && b->kw == KW_OR &&
		    cls_word_is(&b->nx, "alter")) {
			s->or_alter = 1; /* CREATE OR ALTER PROCEDURE */
			return 1;
		}
		if (s->or_alter) {
			s->or_alter = 0;
			return 1;
		}
		if (b->ntok <= 4 && !s->routine) {
			if (cls_word_is(t, "procedure") || cls_word_is(t, "proc") ||
			    cls_word_is(t, "function") || cls_word_is(t, "view"))
				s->routine = 1;
			if (cls_word_is(t, "trigger"))
				s->routine = s->trigger = 1;
			if (cls_word_is(t, "login") || cls_word_is(t, "user") ||
			    cls_word_is(t, "role") || cls_word_is(t, "credential") ||
			    cls_word_is(t, "authorization"))
				b->st->flags |= POLICY_F_PRIVILEGE;
			if (cls_word_is(t, "role") && prev_is(b, "server"))
				cls_set_verb(b, b->vid == KW_CREATE ? "CREATE" : "ALTER", "SERVER ROLE");
			if (cls_word_is(t, "assembly"))
				b->st->flags |= POLICY_F_FILE_ACCESS; /* loads a .NET DLL */
			if (cls_word_is(t, "endpoint"))
				b->st->flags |= POLICY_F_SERVER_ADMIN;
		}
		if (cls_word_is(t, "trustworthy"))
			b->st->flags |= POLICY_F_PRIVILEGE; /* lets its code act as the owner */
		if (s->routine && b->kw == KW_AS && !cls_word_is(&b->nx, "owner") &&
		    !cls_word_is(&b->nx, "caller") && !cls_word_is(&b->nx, "self") &&
		    !prev_is(b, "execute")) {
			/* the body: the rest of the batch */
			s->rest = 1;
			s->trigger = 0;
			s->body_at = b->nx.s;
			b->atomic = 1; /* ';' inside does not end the CREATE */
			return 1;
		}
	}
	return 0;
}

static unsigned ts_func_flags(const char *name, size_t n, const char *last, size_t ln)
{
	static const char *const files[] = {"openrowset", "opendatasource", "openquery",
					    "fn_get_audit_file", "fn_xe_file_target_read_file",
					    "fn_trace_gettable"};
	(void)name;
	(void)n;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (strlen(files[i]) == ln && strncasecmp(files[i], last, ln) == 0)
			return POLICY_F_FILE_ACCESS | (i == 2 ? POLICY_F_DYNAMIC : 0u);
	return 0;
}

static void ts_stmt_begin(struct cls_batch *b)
{
	struct ts_state *s = S(b);
	uint8_t after_go = s->after_go;
	uint16_t nstmt = s->nstmt;
	memset(s, 0, sizeof *s);
	s->after_go = after_go;
	s->nstmt = nstmt;
}

static void ts_stmt_end(struct cls_batch *b)
{
	struct ts_state *s = S(b);
	struct cls_stmt *st = b->st;

	if (s->exec == EX_NAME || s->exec == EX_RET || s->exec == EX_PAREN || s->exec == EX_TEXT)
		st->flags |= POLICY_F_DYNAMIC | POLICY_F_WRITES; /* what it runs was not seen */
	if (s->rest) {
		b->atomic = 0;
		if (!st->body && s->body_at && s->last_end && s->last_end >= s->body_at) {
			st->body = s->body_at;
			st->body_len = (size_t)(s->last_end - s->body_at);
			st->body_flavor = LEX_FL_RAW;
		}
	}
	if (s->nstmt < 0xffff && !s->after_go)
		s->nstmt++;
}

const struct cls_dialect cls_dialect_tsql = {
	.name = "tsql",
	.lex_init = ts_lex_init,
	.split = ts_split,
	.split_kinds = 1u << LEX_IDENT | 1u << LEX_NUMBER,
	.verb = ts_verb,
	.token = ts_token,
	.func_flags = ts_func_flags,
	.stmt_begin = ts_stmt_begin,
	.stmt_end = ts_stmt_end,
};
