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
#include "policy/lex_simple.h"
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

static int word_char(const char *p, const char *end)
{
	unsigned char c = (unsigned char)*p;
	if (c >= 0x80)
		return !lex_uspace(p, end);
	return (lex_ctype[c] & LC_WORD) || c == '#' || c == '$' || c == '@';
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
	const char *p = lex_simple_begin(lx, t, 1);
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
	case '[':
		if (!(q = lex_simple_quoted_end(p, end, ']')))
			return lex_simple_fail(lx, t, "unterminated [identifier]", p);
		t->flavor = LEX_FL_BRACKET;
		return lex_simple_emit(lx, t, LEX_QIDENT, p, q);
	case '"':
		if (!(q = lex_simple_quoted_end(p, end, '"')))
			return lex_simple_fail(lx, t, "unterminated quoted identifier", p);
		return lex_simple_emit(lx, t, LEX_QIDENT, p, q);
	case '\'':
		if (!(q = lex_simple_quoted_end(p, end, '\'')))
			return lex_simple_fail(lx, t, "unterminated string", p);
		return lex_simple_emit(lx, t, LEX_STRING, p, q);
	case 'N': case 'n':
		if (end - p >= 2 && p[1] == '\'') {
			if (!(q = lex_simple_quoted_end(p + 1, end, '\'')))
				return lex_simple_fail(lx, t, "unterminated string", p);
			t->flavor = LEX_FL_NATIONAL;
			return lex_simple_emit(lx, t, LEX_STRING, p, q);
		}
		break;
	case '@':
		q = p + 1;
		while (q < end && word_char(q, end))
			q++;
		return lex_simple_emit(lx, t, LEX_PARAM, p, q);
	case '.':
		if (!(end - p >= 2 && (lex_ctype[(unsigned char)p[1]] & LC_DIGIT)))
			return lex_simple_emit(lx, t, LEX_DOT, p, p + 1);
		break;
	case '$':
		if (end - p >= 2 && (lex_ctype[(unsigned char)p[1]] & LC_DIGIT))
			break; /* $12.50: money */
		q = p + 1;
		while (q < end && word_char(q, end))
			q++;
		return lex_simple_emit(lx, t, q > p + 1 ? LEX_IDENT : LEX_OP, p, q); /* $action */
	}
	if ((lex_ctype[c] & LC_DIGIT) || c == '.' || c == '$') {
		q = p + 1;
		if (c == '0' && q < end && (*q == 'x' || *q == 'X')) {
			q++;
			while (q < end && (lex_ctype[(unsigned char)*q] & LC_HEX))
				q++;
			return lex_simple_emit(lx, t, LEX_NUMBER, p, q);
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
