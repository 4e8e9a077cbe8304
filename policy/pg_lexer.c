/* policy/pg_lexer: the PostgreSQL tokenizer (see lexer.h).
 *
 * It follows the server's scanner, src/backend/parser/scan.l, rule by rule
 * where a rule decides where a token ends, because that is what an attacker
 * plays with: a quote, a comment or a dollar tag that the proxy reads one
 * way and the server another would hide a statement. It does not check what
 * the server checks later (numeric junk, invalid escapes, bad encodings):
 * those make the server refuse the whole query, which is safe.
 *
 * It never allocates, never logs, and reads each byte a bounded number of
 * times (dollar-quote bodies are searched with memmem).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memmem */
#endif
#include "policy/lexer.h"
#include "policy/lex_scan.h"

#include <string.h>
#include <strings.h>

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static int is_newline(unsigned char c)
{
	return c == '\n' || c == '\r';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* scan.l ident_start / dolq_start: letters, '_' and every high byte. */
static int is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c >= 0x80;
}

static int is_op_char(unsigned char c)
{
	switch (c) {
	case '~': case '!': case '@': case '#': case '^': case '&': case '|':
	case '`': case '?': case '+': case '-': case '*': case '/': case '%':
	case '<': case '>': case '=':
		return 1;
	}
	return 0;
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes in the character starting at p, for the client-only encodings whose
 * trailing bytes can look like ASCII (PostgreSQL's pg_*_mblen). */
size_t lex_mb_len(const struct lex *lx, const char *p)
{
	unsigned char c = (unsigned char)*p;
	size_t n = 1;

	if (c < 0x80)
		return 1;
	switch (lx->enc) {
	case LEX_ENC_ASCII_SAFE:
		return 1;
	case LEX_ENC_SJIS:
		n = (c >= 0xa1 && c <= 0xdf) ? 1 : 2; /* half-width kana are single */
		break;
	case LEX_ENC_DOUBLE:
	case LEX_ENC_MY_BIG5:
	case LEX_ENC_MY_GBK:
		n = 2;
		break;
	case LEX_ENC_GB18030:
		n = (p + 1 < lx->end && is_digit((unsigned char)p[1])) ? 4 : 2;
		break;
	case LEX_ENC_JOHAB:
		n = c == 0x8f ? 3 : 2;
		break;
	}
	if ((size_t)(lx->end - p) < n)
		n = (size_t)(lx->end - p);
	return n;
}

void pgl_init(struct lex *lx, const char *sql, size_t len, int std_strings,
	      enum lex_encoding enc)
{
	lx->base = sql ? sql : "";
	lx->p = lx->base;
	lx->end = lx->base + (sql ? len : 0);
	lx->enc = enc;
	lx->std_strings = std_strings;
	lx->err = NULL;
	lx->err_pos = 0;
	/* The server gets a NUL-terminated string: a NUL inside means the
	 * client and the server would not see the same text. */
	const char *nul = memchr(lx->base, '\0', (size_t)(lx->end - lx->base));
	if (nul) {
		lx->err = "NUL byte in statement text";
		lx->err_pos = (size_t)(nul - lx->base);
	}
}

enum lex_encoding lex_encoding_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum lex_encoding enc;
	} map[] = {
		{"SJIS", LEX_ENC_SJIS},         {"SHIFT_JIS_2004", LEX_ENC_SJIS},
		{"SHIFTJIS", LEX_ENC_SJIS},     {"MSKANJI", LEX_ENC_SJIS},
		{"WIN932", LEX_ENC_SJIS},       {"CP932", LEX_ENC_SJIS},
		{"BIG5", LEX_ENC_DOUBLE},       {"WIN950", LEX_ENC_DOUBLE},
		{"CP950", LEX_ENC_DOUBLE},      {"GBK", LEX_ENC_DOUBLE},
		{"WIN936", LEX_ENC_DOUBLE},     {"CP936", LEX_ENC_DOUBLE},
		{"UHC", LEX_ENC_DOUBLE},        {"WIN949", LEX_ENC_DOUBLE},
		{"CP949", LEX_ENC_DOUBLE},      {"GB18030", LEX_ENC_GB18030},
		{"JOHAB", LEX_ENC_JOHAB},
	};
	if (!name)
		return LEX_ENC_ASCII_SAFE;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(name, map[i].name) == 0)
			return map[i].enc;
	return LEX_ENC_ASCII_SAFE;
}

static enum lex_kind fail(struct lex *lx, struct lex_token *t, const char *at,
			  const char *why)
{
	lx->err = why;
	lx->err_pos = (size_t)(at - lx->base);
	lx->p = lx->end;
	t->kind = LEX_ERROR;
	t->s = at;
	t->len = 0;
	return LEX_ERROR;
}

/* Skip whitespace and comments from p. Returns the new position, or NULL
 * when a slash-star comment is not closed. *seen is set when anything was
 * skipped. Comments nest (scan.l xcdepth); "--" runs to a newline. */
static const char *skip_blank(const char *p, const char *end, int *seen)
{
	for (;;) {
		if (p < end && is_space((unsigned char)*p)) {
			p = lex_span(p + 1, end, LC_SPACE);
		} else if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			p = lex_find(p + 2, end, LC_NL);
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			int depth = 1;
			p += 2;
			while (depth > 0) {
				p = lex_find(p, end, LC_STAR | LC_SLASH);
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
		*seen = 1;
	}
}

/* After a closing quote (p is just past it): does the literal go on?
 * scan.l {quotecontinue}: whitespace or "--" comments containing at least
 * one newline, then another quote. Returns the position of that quote, or
 * NULL. Block comments do not count. */
static const char *quote_continue(const char *p, const char *end)
{
	int nl = 0;

	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (is_newline(c)) {
			nl = 1;
			p++;
		} else if (is_space(c)) {
			p++;
		} else if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			while (p < end && !is_newline((unsigned char)*p))
				p++;
			if (p == end)
				return NULL; /* a comment must end in a newline */
		} else {
			break;
		}
	}
	return (nl && p < end && *p == '\'') ? p : NULL;
}

/* Scan a quoted literal whose opening quote is at p. escapes: backslash
 * escapes one character (E'' strings); doubling: '' stands for a quote.
 * Returns the position just past the last closing quote, or NULL. */
static const char *scan_quoted(const struct lex *lx, const char *p, int escapes,
			       int doubling)
{
	const char *end = lx->end;

	p++;
	for (;;) {
		if (p >= end)
			return NULL;
		unsigned char c = (unsigned char)*p;
		if (c == '\'') {
			if (doubling && p + 1 < end && p[1] == '\'') {
				p += 2;
				continue;
			}
			const char *q = quote_continue(p + 1, end);
			if (!q)
				return p + 1;
			p = q + 1;
		} else if (escapes && c == '\\') {
			if (++p >= end)
				return NULL;
			p += lex_mb_len(lx, p);
		} else if (escapes && c >= 0x80) {
			p += lex_mb_len(lx, p);
		} else if (!escapes) {
			const char *q = memchr(p, '\'', (size_t)(end - p));
			if (!q)
				return NULL;
			p = q;
		} else {
			/* to the next quote, backslash or (client-only multibyte
			 * encodings) lead byte */
			p = lex_find(p + 1, end, LC_SQUOTE | LC_BSLASH |
				     (lx->enc != LEX_ENC_ASCII_SAFE ? LC_HIGH : 0));
		}
	}
}

/* Scan a quoted identifier whose opening quote is at p; NULL if unclosed. */
static const char *scan_qident(const char *p, const char *end)
{
	p++;
	for (;;) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		if (!q)
			return NULL;
		if (q + 1 < end && q[1] == '"') {
			p = q + 2;
			continue;
		}
		return q + 1;
	}
}

/* After a U& literal ending at p: an optional UESCAPE 'c'. Returns the end
 * of the clause and sets *esc, or returns p when there is none. */
static const char *scan_uescape(const char *p, const char *end,
				unsigned char *esc)
{
	int seen = 0;
	const char *q = skip_blank(p, end, &seen);

	if (!q || end - q < 7 || strncasecmp(q, "uescape", 7) != 0)
		return p;
	q += 7;
	if (q < end && (is_ident_start((unsigned char)*q) ||
			is_digit((unsigned char)*q) || *q == '$'))
		return p;
	q = skip_blank(q, end, &seen);
	if (!q || end - q < 3 || q[0] != '\'' || q[2] != '\'')
		return p;
	*esc = (unsigned char)q[1];
	return q + 3;
}

static const char *scan_ident(const struct lex *lx, const char *p)
{
	const char *end = lx->end;

	if (lx->enc == LEX_ENC_ASCII_SAFE)
		return lex_span(p, end, LC_WORD | LC_DOLLAR);
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x80)
			p += lex_mb_len(lx, p);
		else if (is_ident_start(c) || is_digit(c) || c == '$')
			p++;
		else
			break;
	}
	return p;
}

static const char *scan_number(const char *p, const char *end)
{
	if (end - p >= 3 && p[0] == '0' &&
	    strchr("xXoObB", p[1]) && (is_hex((unsigned char)p[2]) || p[2] == '_')) {
		p += 2;
		while (p < end && (is_hex((unsigned char)*p) || *p == '_'))
			p++;
		return p;
	}
	while (p < end && (is_digit((unsigned char)*p) || *p == '_'))
		p++;
	/* "1..10" is 1, "..", 10 (scan.l numericfail) */
	if (p < end && *p == '.' && !(p + 1 < end && p[1] == '.')) {
		p++;
		while (p < end && (is_digit((unsigned char)*p) || *p == '_'))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q < end && is_digit((unsigned char)*q)) {
			while (q < end && is_digit((unsigned char)*q))
				q++;
			p = q;
		}
	}
	return p;
}

/* scan.l {operator}: op chars up to a comment start; a trailing + or - is
 * dropped unless the operator holds a character SQL operators lack. */
static const char *scan_operator(const char *p, const char *end)
{
	const char *s = p;

	while (p < end && is_op_char((unsigned char)*p)) {
		if (p > s && end - p >= 2 &&
		    ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*')))
			break;
		p++;
	}
	size_t n = (size_t)(p - s);
	if (n > 1 && (s[n - 1] == '+' || s[n - 1] == '-')) {
		size_t i;
		for (i = 0; i + 1 < n; i++)
			if (strchr("~!@#^&|`?%", s[i]))
				break;
		if (i + 1 >= n)
			while (n > 1 && (s[n - 1] == '+' || s[n - 1] == '-'))
				n--;
	}
	return s + n;
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

static enum lex_kind scan_dollar(struct lex *lx, struct lex_token *t,
				 const char *p)
{
	const char *end = lx->end, *q = p + 1;

	if (q < end && is_digit((unsigned char)*q)) {
		while (q < end && is_digit((unsigned char)*q))
			q++;
		return emit(lx, t, LEX_PARAM, p, q);
	}
	if (q < end && *q != '$' && !is_ident_start((unsigned char)*q))
		return emit(lx, t, LEX_OP, p, p + 1);
	/* dolq_cont is ident_cont without '$' */
	while (q < end && *q != '$') {
		unsigned char c = (unsigned char)*q;
		if (c >= 0x80)
			q += lex_mb_len(lx, q);
		else if (is_ident_start(c) || is_digit(c))
			q++;
		else
			break;
	}
	if (q >= end || *q != '$') /* scan.l dolqfailed: "$" alone */
		return emit(lx, t, LEX_OP, p, p + 1);
	q++;
	size_t taglen = (size_t)(q - p);
	const char *close = memmem(q, (size_t)(end - q), p, taglen);
	if (!close)
		return fail(lx, t, p, "unterminated dollar-quoted string");
	t->flavor = LEX_FL_DOLLAR;
	return emit(lx, t, LEX_STRING, p, close + taglen);
}

enum lex_kind pgl_next(struct lex *lx, struct lex_token *t)
{
	const char *end = lx->end;
	int seen = 0;

	t->flavor = LEX_FL_PLAIN;
	t->uesc = '\\';
	if (lx->err) {
		t->kind = LEX_ERROR;
		t->s = lx->base + lx->err_pos;
		t->len = 0;
		t->space_before = 0;
		return LEX_ERROR;
	}
	const char *p = skip_blank(lx->p, end, &seen);
	t->space_before = (unsigned char)seen;
	if (!p)
		return fail(lx, t, lx->p, "unterminated /* comment");
	if (p == end)
		return emit(lx, t, LEX_EOF, p, p);

	unsigned char c = (unsigned char)*p;
	const char *q;
	switch (c) {
	case '\'':
		t->flavor = lx->std_strings ? LEX_FL_PLAIN : LEX_FL_ESCAPE;
		q = scan_quoted(lx, p, !lx->std_strings, 1);
		if (!q)
			return fail(lx, t, p, "unterminated quoted string");
		return emit(lx, t, LEX_STRING, p, q);
	case '"':
		q = scan_qident(p, end);
		if (!q)
			return fail(lx, t, p, "unterminated quoted identifier");
		if (q - p == 2)
			return fail(lx, t, p, "zero-length delimited identifier");
		return emit(lx, t, LEX_QIDENT, p, q);
	case '$':
		return scan_dollar(lx, t, p);
	case '(':
		return emit(lx, t, LEX_LPAREN, p, p + 1);
	case ')':
		return emit(lx, t, LEX_RPAREN, p, p + 1);
	case '[':
		return emit(lx, t, LEX_LBRACKET, p, p + 1);
	case ']':
		return emit(lx, t, LEX_RBRACKET, p, p + 1);
	case ',':
		return emit(lx, t, LEX_COMMA, p, p + 1);
	case ';':
		return emit(lx, t, LEX_SEMI, p, p + 1);
	case '.':
		if (p + 1 < end && is_digit((unsigned char)p[1]))
			return emit(lx, t, LEX_NUMBER, p, scan_number(p + 1, end));
		if (p + 1 < end && p[1] == '.')
			return emit(lx, t, LEX_OP, p, p + 2);
		return emit(lx, t, LEX_DOT, p, p + 1);
	case ':':
		if (p + 1 < end && (p[1] == ':' || p[1] == '='))
			return emit(lx, t, LEX_OP, p, p + 2);
		return emit(lx, t, LEX_OP, p, p + 1);
	}
	if (is_digit(c))
		return emit(lx, t, LEX_NUMBER, p, scan_number(p, end));
	if (is_ident_start(c)) {
		unsigned char n1 = p + 1 < end ? (unsigned char)p[1] : 0;
		unsigned char lc = (unsigned char)(c | 0x20);
		if (n1 == '\'' && (lc == 'e' || lc == 'b' || lc == 'x' || lc == 'n')) {
			int esc = lc == 'e';
			t->flavor = lc == 'e' ? LEX_FL_ESCAPE :
				    lc == 'n' ? (lx->std_strings ? LEX_FL_NATIONAL : LEX_FL_ESCAPE) :
				    LEX_FL_BIT;
			if (lc == 'n' && !lx->std_strings)
				esc = 1;
			q = scan_quoted(lx, p + 1, esc, lc == 'e' || lc == 'n');
			if (!q)
				return fail(lx, t, p, "unterminated quoted string");
			return emit(lx, t, LEX_STRING, p, q);
		}
		if (lc == 'u' && n1 == '&' && p + 2 < end &&
		    (p[2] == '\'' || p[2] == '"')) {
			t->flavor = LEX_FL_UNICODE;
			if (p[2] == '\'') {
				if (!lx->std_strings)
					return fail(lx, t, p, "unsafe use of U& string");
				q = scan_quoted(lx, p + 2, 0, 1);
			} else {
				q = scan_qident(p + 2, end);
				if (q && q - (p + 2) == 2)
					return fail(lx, t, p, "zero-length delimited identifier");
			}
			if (!q)
				return fail(lx, t, p, "unterminated quoted string");
			emit(lx, t, p[2] == '\'' ? LEX_STRING : LEX_QIDENT, p, q);
			lx->p = scan_uescape(q, end, &t->uesc);
			return t->kind;
		}
		return emit(lx, t, LEX_IDENT, p, scan_ident(lx, p));
	}
	if (is_op_char(c))
		return emit(lx, t, LEX_OP, p, scan_operator(p, end));
	/* scan.l {other}: any other byte is a one-character token; the server
	 * rejects most of them, which is safe. */
	return emit(lx, t, LEX_OP, p, p + 1);
}

/* ---- literal fast path (cls_values.c) ------------------------------------ */

const char *pgl_literal_end(struct lex *lx, const char *p)
{
	const char *end = lx->end;
	unsigned char c = (unsigned char)*p;

	/* the same branches as pgl_next() for these first bytes */
	if (c == '\'')
		return scan_quoted(lx, p, !lx->std_strings, 1);
	if (is_digit(c))
		return scan_number(p, end);
	unsigned char lc = (unsigned char)(c | 0x20);
	if (is_ident_start(c) && p + 1 < end && p[1] == '\'' &&
	    (lc == 'e' || lc == 'b' || lc == 'x' || lc == 'n')) {
		int esc = lc == 'e' || (lc == 'n' && !lx->std_strings);
		return scan_quoted(lx, p + 1, esc, lc == 'e' || lc == 'n');
	}
	return NULL;
}

void pgl_resume(struct lex *lx, const char *p)
{
	lx->p = p;
}

/* ---- values ---------------------------------------------------------- */

struct sink {
	char *out;
	size_t len, cap; /* cap excludes the NUL */
	int over;        /* something did not fit */
};

static void put(struct sink *k, unsigned char c)
{
	if (k->len < k->cap)
		k->out[k->len++] = (char)c;
	else
		k->over = 1;
}

/* After a cut, drop a UTF-8 character left incomplete at the end. */
static void trim_partial_utf8(struct sink *k)
{
	size_t s = k->len;
	if (!k->over || s == 0)
		return;
	while (s > 0 && ((unsigned char)k->out[s - 1] & 0xc0) == 0x80)
		s--;
	if (s == 0)
		return;
	unsigned char lead = (unsigned char)k->out[s - 1];
	size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	if (s - 1 + need > k->len)
		k->len = s - 1;
}

static void put_utf8(struct sink *k, unsigned long cp)
{
	if (cp < 0x80) {
		put(k, (unsigned char)cp);
	} else if (cp < 0x800) {
		put(k, (unsigned char)(0xc0 | (cp >> 6)));
		put(k, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put(k, (unsigned char)(0xe0 | (cp >> 12)));
		put(k, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		put(k, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		put(k, (unsigned char)(0xf0 | ((cp >> 18) & 0x07)));
		put(k, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
		put(k, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		put(k, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

static unsigned long hexval(const char *p, int n)
{
	unsigned long v = 0;
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		v = v * 16 + (unsigned long)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static int hexrun(const char *p, const char *end, int n)
{
	if (end - p < n)
		return 0;
	for (int i = 0; i < n; i++)
		if (!is_hex((unsigned char)p[i]))
			return 0;
	return 1;
}

/* Decode the U& body [p, end) into k (\XXXX, \+XXXXXX, doubled escape). */
static void put_unicode_body(struct sink *k, const char *p, const char *end,
			     unsigned char esc, char quote)
{
	while (p < end) {
		if ((unsigned char)*p == esc && p + 1 < end) {
			if ((unsigned char)p[1] == esc) {
				put(k, esc);
				p += 2;
			} else if (p[1] == '+' && hexrun(p + 2, end, 6)) {
				put_utf8(k, hexval(p + 2, 6));
				p += 8;
			} else if (hexrun(p + 1, end, 4)) {
				put_utf8(k, hexval(p + 1, 4));
				p += 5;
			} else {
				put(k, (unsigned char)*p++);
			}
		} else if (*p == quote && p + 1 < end && p[1] == quote) {
			put(k, (unsigned char)quote);
			p += 2;
		} else {
			put(k, (unsigned char)*p++);
		}
	}
}

size_t lex_ident_value(const struct lex_token *t, char *out, size_t cap)
{
	struct sink k = {out, 0, cap - 1, 0};
	if (k.cap > LEX_NAME_MAX)
		k.cap = LEX_NAME_MAX;

	if (t->kind == LEX_IDENT || t->kind == LEX_STRING) {
		if (t->kind == LEX_STRING)
			return lex_string_value(t, out, cap);
		for (size_t i = 0; i < t->len; i++) {
			unsigned char c = (unsigned char)t->s[i];
			put(&k, (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c);
		}
	} else if (t->kind == LEX_QIDENT && t->flavor == LEX_FL_UNICODE) {
		put_unicode_body(&k, t->s + 3, t->s + t->len - 1, t->uesc, '"');
	} else if (t->kind == LEX_QIDENT) {
		const char *p = t->s + 1, *end = t->s + t->len - 1;
		/* '"', MySQL's '`' or T-SQL's ']' */
		char q = t->flavor == LEX_FL_BRACKET ? ']' : t->s[0];
		while (p < end) {
			put(&k, (unsigned char)*p);
			p += (*p == q) ? 2 : 1;
		}
	}
	trim_partial_utf8(&k); /* the server cuts at a character boundary */
	out[k.len] = '\0';
	return k.len;
}

/* One E'' escape at p (just past the backslash); returns the next byte. */
static const char *put_escape(struct sink *k, const char *p, const char *end)
{
	unsigned char c = (unsigned char)*p;
	int n;

	switch (c) {
	case 'b': put(k, '\b'); return p + 1;
	case 'f': put(k, '\f'); return p + 1;
	case 'n': put(k, '\n'); return p + 1;
	case 'r': put(k, '\r'); return p + 1;
	case 't': put(k, '\t'); return p + 1;
	case 'x':
		if (p + 1 < end && is_hex((unsigned char)p[1])) {
			n = (p + 2 < end && is_hex((unsigned char)p[2])) ? 2 : 1;
			put(k, (unsigned char)hexval(p + 1, n));
			return p + 1 + n;
		}
		break;
	case 'u':
		if (hexrun(p + 1, end, 4)) {
			put_utf8(k, hexval(p + 1, 4));
			return p + 5;
		}
		break;
	case 'U':
		if (hexrun(p + 1, end, 8)) {
			put_utf8(k, hexval(p + 1, 8));
			return p + 9;
		}
		break;
	}
	if (c >= '0' && c <= '7') {
		unsigned v = 0;
		for (n = 0; n < 3 && p < end && *p >= '0' && *p <= '7'; n++)
			v = v * 8 + (unsigned)(*p++ - '0');
		put(k, (unsigned char)v);
		return p;
	}
	put(k, c);
	return p + 1;
}

size_t lex_string_value(const struct lex_token *t, char *out, size_t cap)
{
	struct sink k = {out, 0, cap - 1, 0};
	const char *p = t->s, *end = t->s + t->len;

	if (t->kind == LEX_IDENT || t->kind == LEX_QIDENT)
		return lex_ident_value(t, out, cap);
	if (t->kind != LEX_STRING) {
		out[0] = '\0';
		return 0;
	}
	if (t->flavor == LEX_FL_DOLLAR) {
		const char *tag_end = memchr(p + 1, '$', t->len - 1);
		size_t taglen = (size_t)(tag_end + 1 - p);
		for (const char *q = p + taglen; q < end - taglen; q++)
			put(&k, (unsigned char)*q);
		out[k.len] = '\0';
		return k.len;
	}
	if (t->flavor == LEX_FL_RAW || t->flavor == LEX_FL_QQUOTE) {
		if (t->flavor == LEX_FL_QQUOTE) { /* [n]q'X ... X' */
			while (p < end && *p != '\'')
				p++;
			p = p + 2 <= end ? p + 2 : end;
			end = end - p >= 2 ? end - 2 : p;
		}
		for (; p < end; p++)
			put(&k, (unsigned char)*p);
		out[k.len] = '\0';
		return k.len;
	}
	char quote = t->flavor == LEX_FL_DQUOTE ? '"' : '\'';
	while (p < end && *p != quote)
		p++;
	if (t->flavor == LEX_FL_UNICODE) {
		/* U&'...' has no continuation-with-escapes subtleties worth more
		 * than this: decode the first segment. */
		const char *q = p + 1, *close = q;
		while (close < end && !(*close == '\'' && !(close + 1 < end && close[1] == '\'')))
			close += (*close == '\'') ? 2 : 1;
		put_unicode_body(&k, q, close, t->uesc, '\'');
		out[k.len] = '\0';
		return k.len;
	}
	int escapes = t->flavor == LEX_FL_ESCAPE || t->flavor == LEX_FL_DQUOTE;
	int doubling = t->flavor != LEX_FL_BIT;
	p++;
	while (p < end) {
		if (*p == quote) {
			if (doubling && p + 1 < end && p[1] == quote) {
				put(&k, (unsigned char)quote);
				p += 2;
				continue;
			}
			const char *q = quote_continue(p + 1, end);
			if (!q)
				break;
			p = q + 1;
		} else if (escapes && *p == '\\' && p + 1 < end) {
			p = put_escape(&k, p + 1, end);
		} else {
			put(&k, (unsigned char)*p++);
		}
	}
	out[k.len] = '\0';
	return k.len;
}
