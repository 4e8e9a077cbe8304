/* policy/tsql_lexer: the T-SQL (SQL Server) tokenizer (see lexer.h).
 *
 * Token boundaries as SQL Server's parser draws them (Transact-SQL
 * reference: "Database identifiers", "Constants", "Comments"):
 *   - [bracketed] identifiers, "]]" standing for one ']'; "quoted"
 *     identifiers with "" doubling (with QUOTED_IDENTIFIER OFF a "x" is a
 *     string, but its boundaries are the same, so one token either way);
 *   - 'strings' and N'strings' with '' doubling; a backslash is an
 *     ordinary character (no escapes);
 *   - "--" comments to the end of the line and slash-star comments that
 *     NEST (an inner slash-star needs its own star-slash);
 *   - @variables and @@functions (LEX_PARAM), #temp and ##global tables
 *     (words), 0x binary constants and $money (numbers).
 * Unicode whitespace (lex_uspace.c) separates tokens like a blank. An
 * unterminated string, identifier or comment, or a NUL byte, is LEX_ERROR
 * (the server refuses such a batch), and LEX_ERROR repeats.
 */
#include "policy/lex_scan.h"
#include "policy/lex_uspace.h"
#include "policy/lexer.h"

#include <string.h>

void tsl_init(struct lex *lx, const char *sql, size_t len)
{
	memset(lx, 0, sizeof *lx);
	lx->base = lx->p = sql ? sql : "";
	lx->end = lx->base + (sql ? len : 0);
	lx->std_strings = 1;
}

static enum lex_kind fail(struct lex *lx, struct lex_token *t, const char *why, const char *at)
{
	lx->err = why;
	lx->err_pos = (size_t)(at - lx->base);
	lx->p = lx->end;
	t->kind = LEX_ERROR;
	t->s = at;
	t->len = 0;
	return LEX_ERROR;
}

static int word_char(const char *p, const char *end)
{
	unsigned char c = (unsigned char)*p;
	if (c >= 0x80)
		return !lex_uspace(p, end);
	return (lex_ctype[c] & LC_WORD) || c == '#' || c == '$' || c == '@';
}

/* Skip blanks and comments; NULL when a comment does not end. */
static const char *skip_space(const char *p, const char *end, int *spaced)
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
			long depth = 1;
			p += 2;
			while (depth > 0) {
				if (end - p < 2)
					return NULL;
				if (p[0] == '/' && p[1] == '*') {
					depth++;
					p += 2;
				} else if (p[0] == '*' && p[1] == '/') {
					depth--;
					p += 2;
				} else {
					p++;
				}
			}
		} else {
			return p;
		}
		*spaced = 1;
	}
}

/* The end of a quoted run opened at p (quote q, closed by close, doubled
 * close = one character), or NULL. */
static const char *quoted_end(const char *p, const char *end, char close)
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

static enum lex_kind emit(struct lex *lx, struct lex_token *t, enum lex_kind k,
			  const char *s, const char *e)
{
	t->kind = k;
	t->s = s;
	t->len = (size_t)(e - s);
	lx->p = e;
	return k;
}

static int two_char_op(char a, char b)
{
	if (b == '=')
		return strchr("<>!+-*/%&|^", a) != NULL;
	return (a == '<' && b == '>') || (a == '!' && (b == '<' || b == '>')) ||
	       (a == ':' && b == ':');
}

enum lex_kind tsl_next(struct lex *lx, struct lex_token *t)
{
	const char *end = lx->end;
	int spaced = 0;

	if (lx->err)
		return fail(lx, t, lx->err, lx->base + lx->err_pos);
	t->flavor = LEX_FL_PLAIN;
	t->uesc = '\\';
	const char *p = skip_space(lx->p, end, &spaced);
	t->space_before = (unsigned char)spaced;
	if (!p)
		return fail(lx, t, "unterminated comment", lx->p);
	if (p >= end) {
		lx->p = end;
		t->kind = LEX_EOF;
		t->s = end;
		t->len = 0;
		return LEX_EOF;
	}
	unsigned char c = (unsigned char)*p;
	const char *q;
	switch (c) {
	case '\0':
		return fail(lx, t, "NUL byte", p);
	case '(': return emit(lx, t, LEX_LPAREN, p, p + 1);
	case ')': return emit(lx, t, LEX_RPAREN, p, p + 1);
	case ',': return emit(lx, t, LEX_COMMA, p, p + 1);
	case ';': return emit(lx, t, LEX_SEMI, p, p + 1);
	case '[':
		if (!(q = quoted_end(p, end, ']')))
			return fail(lx, t, "unterminated [identifier]", p);
		t->flavor = LEX_FL_BRACKET;
		return emit(lx, t, LEX_QIDENT, p, q);
	case '"':
		if (!(q = quoted_end(p, end, '"')))
			return fail(lx, t, "unterminated quoted identifier", p);
		return emit(lx, t, LEX_QIDENT, p, q);
	case '\'':
		if (!(q = quoted_end(p, end, '\'')))
			return fail(lx, t, "unterminated string", p);
		return emit(lx, t, LEX_STRING, p, q);
	case 'N': case 'n':
		if (end - p >= 2 && p[1] == '\'') {
			if (!(q = quoted_end(p + 1, end, '\'')))
				return fail(lx, t, "unterminated string", p);
			t->flavor = LEX_FL_NATIONAL;
			return emit(lx, t, LEX_STRING, p, q);
		}
		break;
	case '@':
		q = p + 1;
		while (q < end && word_char(q, end))
			q++;
		return emit(lx, t, LEX_PARAM, p, q);
	case '.':
		if (!(end - p >= 2 && (lex_ctype[(unsigned char)p[1]] & LC_DIGIT)))
			return emit(lx, t, LEX_DOT, p, p + 1);
		break;
	case '$':
		if (end - p >= 2 && (lex_ctype[(unsigned char)p[1]] & LC_DIGIT))
			break; /* $12.50: money */
		q = p + 1;
		while (q < end && word_char(q, end))
			q++;
		return emit(lx, t, q > p + 1 ? LEX_IDENT : LEX_OP, p, q); /* $action */
	}
	if ((lex_ctype[c] & LC_DIGIT) || c == '.' || c == '$') {
		q = p + 1;
		if (c == '0' && q < end && (*q == 'x' || *q == 'X')) {
			q++;
			while (q < end && (lex_ctype[(unsigned char)*q] & LC_HEX))
				q++;
			return emit(lx, t, LEX_NUMBER, p, q);
		}
		while (q < end && ((lex_ctype[(unsigned char)*q] & LC_DIGIT) || *q == '.'))
			q++;
		if (q < end && (*q == 'e' || *q == 'E')) {
			const char *r = q + 1;
			if (r < end && (*r == '+' || *r == '-'))
				r++;
			if (r < end && (lex_ctype[(unsigned char)*r] & LC_DIGIT)) {
				while (r < end && (lex_ctype[(unsigned char)*r] & LC_DIGIT))
					r++;
				q = r;
			}
		}
		return emit(lx, t, LEX_NUMBER, p, q);
	}
	if (word_char(p, end)) {
		q = p + 1;
		while (q < end && word_char(q, end))
			q++;
		return emit(lx, t, LEX_IDENT, p, q);
	}
	if (end - p >= 2 && two_char_op((char)c, p[1]))
		return emit(lx, t, LEX_OP, p, p + 2);
	return emit(lx, t, LEX_OP, p, p + 1);
}
