/* policy/lex_simple: shared pieces of the T-SQL and Oracle tokenizers
 * (lex_simple.h). */
#include "policy/lex_simple.h"

#include <string.h>

#include "policy/lex_scan.h"
#include "policy/lex_uspace.h"

enum lex_kind lex_simple_fail(struct lex *lx, struct lex_token *t, const char *why,
			      const char *at)
{
	lx->err = why;
	lx->err_pos = (size_t)(at - lx->base);
	lx->p = lx->end;
	t->kind = LEX_ERROR;
	t->s = at;
	t->len = 0;
	return LEX_ERROR;
}

enum lex_kind lex_simple_emit(struct lex *lx, struct lex_token *t, enum lex_kind k,
			      const char *s, const char *e)
{
	t->kind = k;
	t->s = s;
	t->len = (size_t)(e - s);
	lx->p = e;
	return k;
}

/* The end of the slash-star comment opened at p, or NULL. */
static const char *comment_end(const char *p, const char *end, int nested)
{
	long depth = 1;
	p += 2;
	while (depth > 0) {
		if (end - p < 2)
			return NULL;
		if (nested && p[0] == '/' && p[1] == '*') {
			depth++;
			p += 2;
		} else if (p[0] == '*' && p[1] == '/') {
			depth--;
			p += 2;
		} else {
			p++;
		}
	}
	return p;
}

/* Skip blanks and comments; NULL when a comment does not end. */
static const char *skip_space(const char *p, const char *end, int nested, int *spaced)
{
	for (;;) {
		size_t u;
		if (p >= end)
			return p;
		unsigned char c = (unsigned char)*p;
		if (lex_ctype[c] & LC_SPACE) {
			p++;
		} else if ((u = lex_uspace(p, end)) != 0) {
			p += u;
		} else if (c == '-' && end - p >= 2 && p[1] == '-') {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
		} else if (c == '/' && end - p >= 2 && p[1] == '*') {
			if (!(p = comment_end(p, end, nested)))
				return NULL;
		} else {
			return p;
		}
		*spaced = 1;
	}
}

const char *lex_simple_begin(struct lex *lx, struct lex_token *t, int nested_comments)
{
	int spaced = 0;
	if (lx->err) {
		lex_simple_fail(lx, t, lx->err, lx->base + lx->err_pos);
		return NULL;
	}
	t->flavor = LEX_FL_PLAIN;
	t->uesc = '\\';
	const char *p = skip_space(lx->p, lx->end, nested_comments, &spaced);
	t->space_before = (unsigned char)spaced;
	if (!p) {
		lex_simple_fail(lx, t, "unterminated comment", lx->p);
		return NULL;
	}
	if (p >= lx->end) {
		lx->p = lx->end;
		t->kind = LEX_EOF;
		t->s = lx->end;
		t->len = 0;
		return NULL;
	}
	return p;
}

const char *lex_simple_quoted_end(const char *p, const char *end, char close)
{
	p++;
	for (;;) {
		const char *c = memchr(p, close, (size_t)(end - p));
		if (!c)
			return NULL;
		if (c + 1 < end && c[1] == close) {
			p = c + 2;
			continue;
		}
		return c + 1;
	}
}
