/* policy/cls_my: the MySQL/MariaDB dialect descriptor: its tokenizer
 * (my_lexer.c, with executable comments read by server version), the MySQL
 * grammar forms of the core (CLS_FORMS_MYSQL), and the statement
 * boundaries of stored program bodies (cls_writes.c cw_split). */
#include "policy/classify.h"

static void my_lex_init(struct cls_batch *b, const char *sql, size_t len,
			const struct cls_opts *opts)
{
	myl_init(&b->lx, sql, len, opts->std_strings, opts->ansi_quotes, opts->enc);
	b->lx.skip_versioned = opts->skip_versioned;
	b->lx.server_version = opts->server_version;
	b->lx.server_mariadb = opts->server_mariadb;
	b->next_token = myl_next;
	b->literal_end = myl_literal_end;
	b->resume = myl_resume;
}

const struct cls_dialect cls_dialect_mysql = {
	.name = "mysql",
	.forms = CLS_FORMS_MYSQL,
	.lex_init = my_lex_init,
	.split = cw_split,
	.split_kinds = 1u << LEX_IDENT | 1u << LEX_QIDENT,
};
