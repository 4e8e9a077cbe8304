/* policy/ora_lexer: the Oracle SQL and PL/SQL tokenizer (see lexer.h).
 *
 * Token boundaries as Oracle draws them (SQL Language Reference, "Literals",
 * "Database Object Names and Qualifiers", "Comments"):
 *   - 'strings' with '' doubling, N'national' strings, and alternative
 *     quoting q'X...X' / nq'X...X' where X is any single character but a
 *     blank and ( [ { < close with ) ] } > : inside, a lone ' is data;
 *   - "quoted" identifiers, which cannot contain '"' (no doubling) and
 *     cannot be empty;
 *   - "--" comments to the end of the line and slash-star comments that do
 *     NOT nest (the first star-slash ends them);
 *   - :bind variables (LEX_PARAM); ':=' '=>' '||' '**' and the two-byte
 *     comparisons as one operator.
 * No backslash escapes. Unicode whitespace (lex_uspace.c) separates tokens
 * like a blank. An unterminated literal, identifier or comment, or a NUL
 * byte, is LEX_ERROR, which repeats.
 */
#include "policy/lex_scan.h"
#include "policy/lex_simple.h"
#include "policy/lex_uspace.h"
#include "policy/lexer.h"

#include <string.h>

void oral_init(struct lex *lx, const char *sql, size_t len)
{
	memset(lx, 0, sizeof *lx);
	lx->base = lx->p = sql ? sql : "";
	lx->end = lx->base + (sql ? len : 0);
	lx->std_strings = 1;
}

static int word_char(const char *p, const char *end)
{
	unsigned char c = (unsigned char)*p;
	if (c >= 0x80)
		return !lex_uspace(p, end);
	return (lex_ctype[c] & LC_WORD) || c == '#' || c == '$';
}

/* q'X...X': p at the quote after q; its end or NULL */
static const char *qquote_end(const char *p, const char *end)
{
	if (end - p < 2)
		return NULL;
	unsigned char open = (unsigned char)p[1];
	if (open == ' ' || open == '\t' || open == '\n' || open == '\r' || open == '\0')
		return NULL;
	char close = open == '(' ? ')' : open == '[' ? ']' : open == '{' ? '}' :
		     open == '<' ? '>' : (char)open;
	for (const char *q = p + 2; end - q >= 2; q++)
		if (q[0] == close && q[1] == '\'')
			return q + 2;
	return NULL;
}

static int two_char_op(char a, char b)
{
	static const char *const ops[] = {":=", "=>", "||", "**", "<>", "!=", "^=",
					  "~=", ">=", "<=", "..", "<<", ">>"};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (ops[i][0] == a && ops[i][1] == b)
			return 1;
	return 0;
}

enum lex_kind oral_next(struct lex *lx, struct lex_token *t)
{
	const char *end = lx->end;
	const char *p = lex_simple_begin(lx, t, 0);
	if (!p)
		return t->kind;
	unsigned char c = (unsigned char)*p;
	const char *q;
	switch (c) {
	case '\0':
		return lex_simple_fail(lx, t, "NUL byte", p);
	case '(': return lex_simple_emit(lx, t, LEX_LPAREN, p, p + 1);
	case ')': return lex_simple_emit(lx, t, LEX_RPAREN, p, p + 1);
	case ',': return lex_simple_emit(lx, t, LEX_COMMA, p, p + 1);
	case ';': return lex_simple_emit(lx, t, LEX_SEMI, p, p + 1);
	case '"':
		q = p + 1 < end ? memchr(p + 1, '"', (size_t)(end - p - 1)) : NULL;
		if (!q || q == p + 1)
			return lex_simple_fail(lx, t, "unterminated or empty quoted identifier", p);
		return lex_simple_emit(lx, t, LEX_QIDENT, p, q + 1);
	case '\'':
		if (!(q = lex_simple_quoted_end(p, end, '\'')))
			return lex_simple_fail(lx, t, "unterminated string", p);
		return lex_simple_emit(lx, t, LEX_STRING, p, q);
	case 'N': case 'n': case 'Q': case 'q': {
		const char *r = p;
		int national = c == 'N' || c == 'n';
		if (national && end - r >= 2 && r[1] == '\'') {
			if (!(q = lex_simple_quoted_end(r + 1, end, '\'')))
				return lex_simple_fail(lx, t, "unterminated string", p);
			t->flavor = LEX_FL_NATIONAL;
			return lex_simple_emit(lx, t, LEX_STRING, p, q);
		}
		if (national && end - r >= 2 && (r[1] == 'q' || r[1] == 'Q'))
			r++;
		if ((*r == 'q' || *r == 'Q') && end - r >= 2 && r[1] == '\'') {
			if (!(q = qquote_end(r + 1, end)))
				return lex_simple_fail(lx, t, "unterminated q-quoted string", p);
			t->flavor = LEX_FL_QQUOTE;
			return lex_simple_emit(lx, t, LEX_STRING, p, q);
		}
		break;
	}
	case ':':
		if (end - p >= 2 && (word_char(p + 1, end) || p[1] == '"')) {
			q = p + 1;
			if (*q == '"') {
				const char *e = q + 1 < end ? memchr(q + 1, '"', (size_t)(end - q - 1)) : NULL;
				if (!e)
					return lex_simple_fail(lx, t, "unterminated bind name", p);
				return lex_simple_emit(lx, t, LEX_PARAM, p, e + 1);
			}
			while (q < end && word_char(q, end))
				q++;
			return lex_simple_emit(lx, t, LEX_PARAM, p, q);
		}
		break;
	case '.':
		if (!(end - p >= 2 && (lex_ctype[(unsigned char)p[1]] & LC_DIGIT)))
			return lex_simple_emit(lx, t, end - p >= 2 && p[1] == '.' ? LEX_OP : LEX_DOT, p,
				    p + (end - p >= 2 && p[1] == '.' ? 2 : 1));
		break;
	}
	if ((lex_ctype[c] & LC_DIGIT) || c == '.') {
		q = p + 1;
		while (q < end && ((lex_ctype[(unsigned char)*q] & LC_DIGIT) ||
				   (*q == '.' && !(q + 1 < end && q[1] == '.'))))
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
		if (q < end && *q && strchr("fFdD", *q) && !(q + 1 < end && word_char(q + 1, end)))
			q++; /* 1.5f, 2d: BINARY_FLOAT / BINARY_DOUBLE */
		return lex_simple_emit(lx, t, LEX_NUMBER, p, q);
	}
	if (word_char(p, end)) {
		q = p + 1;
		while (q < end && word_char(q, end))
			q++;
		return lex_simple_emit(lx, t, LEX_IDENT, p, q);
	}
	if (end - p >= 2 && two_char_op((char)c, p[1]))
		return lex_simple_emit(lx, t, LEX_OP, p, p + 2);
	return lex_simple_emit(lx, t, LEX_OP, p, p + 1);
}
