/* policy/cls_tsql_exec: T-SQL EXEC/EXECUTE (part of the T-SQL dialect,
 * cls_tsql.c). What SQL Server runs for each form (Transact-SQL reference,
 * "EXECUTE", "sp_executesql"):
 *   EXEC ('literal'), EXEC sp_executesql N'literal' [, params]: the literal,
 *     classified as a batch of its own (cls_stmt.body_batch);
 *   EXEC (@v), EXEC ('a' + @v), sp_executesql @v, EXEC @proc_var, ... AT srv:
 *     text that cannot be seen: dynamic;
 *   EXEC [@rc =] [db.][schema.]proc args: what the table of SQL Server's own
 *     procedures says (xp_cmdshell runs host commands, sp_configure changes
 *     the server, sp_addsrvrolemember grants, sp_help reads), any other
 *     procedure dynamic (or, with cls_opts.routines, decided by its body
 *     from the catalog, as a CALL);
 *   EXECUTE AS LOGIN|USER = '...': a change of security context.
 */
#include "policy/cls_tsql.h"

#include <string.h>
#include <strings.h>

/* ---- procedures SQL Server ships ----------------------------------------- */

static const struct {
	const char *name;
	unsigned flags;
} known_procs[] = {
	/* run operating-system commands, COM objects, registry, files */
	{"xp_cmdshell", POLICY_F_FILE_ACCESS | POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_oacreate", POLICY_F_FILE_ACCESS | POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_oamethod", POLICY_F_FILE_ACCESS | POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_execute_external_script", POLICY_F_FILE_ACCESS | POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_addextendedproc", POLICY_F_FILE_ACCESS | POLICY_F_DDL},
	{"xp_regwrite", POLICY_F_FILE_ACCESS | POLICY_F_WRITES},
	{"xp_regdeletekey", POLICY_F_FILE_ACCESS | POLICY_F_WRITES},
	{"xp_regdeletevalue", POLICY_F_FILE_ACCESS | POLICY_F_WRITES},
	{"xp_regread", POLICY_F_FILE_ACCESS},
	{"xp_dirtree", POLICY_F_FILE_ACCESS},
	{"xp_subdirs", POLICY_F_FILE_ACCESS},
	{"xp_fileexist", POLICY_F_FILE_ACCESS},
	{"xp_fixeddrives", POLICY_F_FILE_ACCESS},
	{"sp_attach_db", POLICY_F_FILE_ACCESS | POLICY_F_SERVER_ADMIN | POLICY_F_DDL},
	{"sp_detach_db", POLICY_F_FILE_ACCESS | POLICY_F_SERVER_ADMIN | POLICY_F_DDL},
	/* server configuration */
	{"sp_configure", POLICY_F_SERVER_ADMIN | POLICY_F_WRITES},
	{"sp_addlinkedserver", POLICY_F_SERVER_ADMIN | POLICY_F_WRITES},
	{"sp_addlinkedsrvlogin", POLICY_F_SERVER_ADMIN | POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_dropserver", POLICY_F_SERVER_ADMIN | POLICY_F_WRITES},
	{"sp_serveroption", POLICY_F_SERVER_ADMIN | POLICY_F_WRITES},
	{"sp_trace_setstatus", POLICY_F_SERVER_ADMIN | POLICY_F_WRITES},
	{"sp_procoption", POLICY_F_SERVER_ADMIN | POLICY_F_WRITES},
	/* who may do what */
	{"sp_addsrvrolemember", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_dropsrvrolemember", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_addrolemember", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_droprolemember", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_addlogin", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_droplogin", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_adduser", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_dropuser", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_grantlogin", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_revokelogin", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_denylogin", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_grantdbaccess", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_revokedbaccess", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_addrole", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_droprole", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_password", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_changedbowner", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_change_users_login", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	{"sp_setapprole", POLICY_F_PRIVILEGE},
	{"sp_defaultdb", POLICY_F_PRIVILEGE | POLICY_F_WRITES},
	/* schema changes */
	{"sp_rename", POLICY_F_DDL | POLICY_F_RENAME},
	{"sp_renamedb", POLICY_F_DDL | POLICY_F_RENAME},
	/* run text that cannot be seen */
	{"sp_msforeachtable", POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_msforeachdb", POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_prepare", POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_prepexec", POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_execute", POLICY_F_DYNAMIC | POLICY_F_WRITES},
	{"sp_cursoropen", POLICY_F_DYNAMIC | POLICY_F_WRITES},
	/* read-only catalog procedures */
	{"sp_help", 0}, {"sp_helptext", 0}, {"sp_helpindex", 0}, {"sp_helpdb", 0},
	{"sp_helpconstraint", 0}, {"sp_helprole", 0}, {"sp_helpuser", 0},
	{"sp_helprotect", 0}, {"sp_columns", 0}, {"sp_tables", 0}, {"sp_who", 0},
	{"sp_who2", 0}, {"sp_spaceused", 0}, {"sp_databases", 0},
	{"sp_server_info", 0}, {"sp_stored_procedures", 0}, {"sp_pkeys", 0},
	{"sp_fkeys", 0}, {"sp_statistics", 0}, {"sp_datatype_info", 0},
	{"sp_special_columns", 0}, {"sp_sproc_columns", 0}, {"sp_table_privileges", 0},
	{"sp_column_privileges", 0}, {"sp_describe_first_result_set", 0},
	{"sp_describe_undeclared_parameters", 0}, {"sp_lock", 0}, {"sp_depends", 0},
	{"sp_helpfile", 0}, {"sp_helpfilegroup", 0}, {"sp_monitor", 0},
};

/* 1 and *fl when the procedure is one of SQL Server's own. */
static int known_proc(const char *nm, size_t n, unsigned *fl)
{
	for (size_t i = 0; i < sizeof known_procs / sizeof known_procs[0]; i++) {
		if (strlen(known_procs[i].name) == n &&
		    strncasecmp(known_procs[i].name, nm, n) == 0) {
			*fl = known_procs[i].flags;
			return 1;
		}
	}
	return 0;
}

/* ---- EXEC ------------------------------------------------------------------- */

static void dynamic(struct cls_batch *b)
{
	b->st->flags |= POLICY_F_DYNAMIC | POLICY_F_WRITES;
	S(b)->exec = EX_DONE;
}

/* The text an EXEC runs is the string literal at cur: classify it. */
static void exec_literal(struct cls_batch *b)
{
	struct cls_stmt *st = b->st;
	if (st->body) { /* one literal per statement is followed */
		dynamic(b);
		return;
	}
	st->body = b->cur.s;
	st->body_len = b->cur.len;
	st->body_flavor = b->cur.flavor;
	st->body_batch = 1;
}

/* cur is the last part of the procedure an EXEC runs */
static void exec_proc(struct cls_batch *b)
{
	char nm[LEX_NAME_MAX + 1];
	size_t n = lex_ident_value(&b->cur, nm, sizeof nm);
	unsigned fl = 0;

	cls_add_name(b, 'p', nm, n);
	S(b)->exec = EX_DONE;
	if (n == 13 && strncasecmp(nm, "sp_executesql", 13) == 0) {
		S(b)->exec = EX_TEXT;
		return;
	}
	if (known_proc(nm, n, &fl)) {
		b->st->flags |= fl;
		return;
	}
	if (b->routines) /* what it does comes from the catalog (policy.c) */
		b->st->call = 1;
	else
		dynamic(b);
}

int tsql_exec_token(struct cls_batch *b)
{
	struct ts_state *s = S(b);
	const struct lex_token *t = &b->cur;

	switch (s->exec) {
	case EX_NAME:
		if (t->kind == LEX_PARAM) {
			if (b->nx.kind == LEX_OP && b->nx.len == 1 && b->nx.s[0] == '=') {
				s->exec = EX_RET; /* EXEC @rc = proc */
				return 0;
			}
			dynamic(b); /* EXEC @procname */
			return 0;
		}
		if (t->kind == LEX_LPAREN) {
			s->exec = EX_PAREN;
			return 0;
		}
		if (cls_word_is(t, "as")) {
			/* EXECUTE AS LOGIN|USER = '...': whose rights the session has */
			b->st->flags |= POLICY_F_PRIVILEGE;
			b->st->flags &= ~(unsigned)(POLICY_F_DYNAMIC | POLICY_F_WRITES);
			cls_set_verb(b, "EXECUTE", "AS");
			s->exec = EX_DONE;
			return 0;
		}
		if (t->kind == LEX_IDENT || t->kind == LEX_QIDENT || t->kind == LEX_DOT) {
			/* db.schema.proc, master..xp_cmdshell: to the last part */
			while (b->nx.kind == LEX_DOT ||
			       (b->cur.kind == LEX_DOT &&
				(b->nx.kind == LEX_IDENT || b->nx.kind == LEX_QIDENT)))
				cls_skip(b);
			if (b->cur.kind == LEX_IDENT || b->cur.kind == LEX_QIDENT)
				exec_proc(b);
			else
				dynamic(b);
			return 0;
		}
		dynamic(b);
		return 0;
	case EX_RET: /* the '=' */
		s->exec = EX_NAME;
		return 0;
	case EX_PAREN: /* EXEC ( 'text' ) */
		if (t->kind == LEX_STRING && b->nx.kind == LEX_RPAREN) {
			exec_literal(b);
			s->exec = EX_CLOSE;
			return 0;
		}
		dynamic(b); /* a variable, 'a' + 'b', ... */
		return 0;
	case EX_CLOSE: /* ')' then maybe AT linked_server */
		if (t->kind == LEX_RPAREN)
			return 0;
		if (cls_word_is(t, "at"))
			dynamic(b); /* runs on another server */
		s->exec = EX_DONE;
		return 0;
	case EX_TEXT: /* sp_executesql [@stmt =] N'text' [, params] */
		if (t->kind == LEX_PARAM && b->nx.kind == LEX_OP && b->nx.len == 1 &&
		    b->nx.s[0] == '=')
			return 0;
		if (t->kind == LEX_OP && t->len == 1 && t->s[0] == '=')
			return 0;
		if (t->kind == LEX_STRING &&
		    (b->nx.kind == LEX_COMMA || b->nx.kind == LEX_SEMI || b->nx.kind == LEX_EOF ||
		     b->nx.kind == LEX_IDENT)) {
			exec_literal(b);
			s->exec = EX_DONE;
			return 0;
		}
		dynamic(b);
		return 0;
	}
	return 0;
}

void tsql_exec_begin(struct cls_batch *b, const char *verb)
{
	cls_dialect_verb(b, verb, NULL);
	S(b)->exec = EX_NAME;
}
