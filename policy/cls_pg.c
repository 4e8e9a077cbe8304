/* policy/cls_pg: the PostgreSQL dialect descriptor. The core's own forms
 * are PostgreSQL's, so it only names the tokenizer (pg_lexer.c). */
#include "policy/classify.h"

static void pg_lex_init(struct cls_batch *b, const char *sql, size_t len,
			const struct cls_opts *opts)
{
	pgl_init(&b->lx, sql, len, opts->std_strings, opts->enc);
	b->next_token = pgl_next;
	b->literal_end = pgl_literal_end;
	b->resume = pgl_resume;
}

const struct cls_dialect cls_dialect_pg = {
	.name = "pg",
	.lex_init = pg_lex_init,
};
