/* policy/cls_where: WHERE triviality (see cls_where.h). */
#include "policy/cls_where.h"

#include "policy/classify.h"
#include "policy/cls_keywords.h"

#include <string.h>
#include <strings.h>

void cls_where_begin(struct cls_batch *b)
{
	if (b->nfr > 0 && b->fr[b->nfr - 1].depth == b->depth) {
		struct cls_frame *f = &b->fr[b->nfr - 1];
		f->where = 1;
		f->trivial = 1;
		b->where_fr = b->nfr - 1;
		b->wref[b->depth] = b->wtriv[b->depth] = 0;
		b->wlast_ntok = b->weq_ntok = -10;
	}
}

/* Words that may stand in a WHERE without referring to a row: operators
 * spelled as words and SQL value functions (no parentheses). */
static const char *const where_words[] = {
	"like", "ilike", "similar", "escape", "xor", "div", "mod", "regexp", "rlike",
	"sounds", "unknown", "isnull", "notnull", "glob", "current_user", "session_user",
	"current_role", "current_date", "current_time", "current_timestamp", "localtime",
	"localtimestamp", "current_catalog", "current_schema", "bool", "boolean", "int",
	"integer", "text", "varchar", "char", "signed", "unsigned", "utc_date",
	"utc_time", "utc_timestamp",
};

static int tok_word_in(const struct lex_token *t, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == t->len && !strncasecmp(t->s, list[i], t->len))
			return 1;
	return 0;
}

/* Does token t, inside a WHERE, refer to the rows (a column, a parameter)?
 * Function names (followed by '('), type names after '::' or CAST's AS,
 * operator words and value functions do not; their arguments decide. */
static int where_refers(struct cls_batch *b, const struct lex_token *t, int kw)
{
	if (t->kind == LEX_PARAM)
		return 1;
	if (t->kind != LEX_IDENT && t->kind != LEX_QIDENT)
		return 0;
	if (b->nx.kind == LEX_LPAREN)
		return 0; /* f(...) */
	if (b->prev_kind == LEX_OP && b->prev_len == 2 && b->prev_s[0] == ':' && b->prev_s[1] == ':')
		return 0; /* x::type */
	if (t->kind == LEX_QIDENT)
		return 1;
	if (kw_flag(kw, KF_TRIVIAL) || (kw == 0 && b->prev_kw == KW_AS))
		return 0;
	return !tok_word_in(t, where_words, sizeof where_words / sizeof where_words[0]);
}

static int where_is_or(struct cls_batch *b, const struct lex_token *t, int kw)
{
	if (kw == KW_OR)
		return 1;
	if (!b->mysql)
		return 0;
	if (t->kind == LEX_OP && t->len == 2 && t->s[0] == '|' && t->s[1] == '|')
		return 1; /* MySQL: || is OR unless PIPES_AS_CONCAT */
	return t->kind == LEX_IDENT && t->len == 3 && !strncasecmp(t->s, "xor", 3);
}

void cls_where_token(struct cls_batch *b, const struct lex_token *t, int kw)
{
	if (b->where_fr < 0)
		return;
	struct cls_frame *f = &b->fr[b->where_fr];
	int d = b->depth;
	if (d < f->depth || d > CLS_MAX_DEPTH)
		return;
	if (d == f->depth && (kw == KW_RETURNING || kw == KW_ORDER || kw == KW_LIMIT ||
			      (kw == KW_WHEN && (f->kind & CLS_DML_MERGE)))) {
		b->where_fr = -1; /* the WHERE ended */
		return;
	}
	if (t->kind == LEX_LPAREN) {
		b->wref[d + 1] = b->wtriv[d + 1] = 0;
		return;
	}
	if (t->kind == LEX_RPAREN) {
		if (d > f->depth && !(b->wtriv[d] || !b->wref[d]))
			b->wref[d - 1] = 1;
		return;
	}
	if (where_is_or(b, t, kw)) {
		if (!b->wref[d])
			b->wtriv[d] = 1;
		b->wref[d] = 0;
		return;
	}
	if (t->kind == LEX_OP && t->len == 1 && t->s[0] == '=') {
		b->weq_ntok = b->ntok;
		return;
	}
	if (!where_refers(b, t, kw))
		return;
	if (b->wlast_ntok == b->ntok - 2 && b->weq_ntok == b->ntok - 1 &&
	    b->wlast_len == t->len && !strncasecmp(b->wlast_s, t->s, t->len)) {
		b->wref[d] = b->wlast_save; /* x = x */
		return;
	}
	b->wlast_save = b->wref[d];
	b->wlast_s = t->s;
	b->wlast_len = t->len;
	b->wlast_ntok = b->ntok;
	b->wref[d] = 1;
}

