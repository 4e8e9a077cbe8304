/* policy/cls_values: fast path over tuples of literals (see cls_values.h).
 *
 * The fingerprint it writes is byte for byte what classify.c fp_emit
 * writes for the same tokens: " (" (no space right after a name), then the
 * items with one space between tokens except after '(' and before ',' and
 * ')', literals as '?', keywords upper-cased, other words lower-cased, a
 * sign as written.
 */
#include "policy/cls_values.h"

#include "policy/classify.h"
#include "policy/cls_keywords.h"
#include "policy/lex_scan.h"

#include <stdlib.h>
#include <string.h>

struct cursor {
	struct cls_batch *b;
	char *f;    /* b->out->fingerprint */
	size_t cap; /* its capacity */
	size_t n;   /* bytes written */
	int ntok;   /* tokens read */
	unsigned quote_stop; /* bytes that end a plain run inside '...' */
};

/* Room for need more bytes (the fingerprint grows as classify.c grows
 * it). Returns 0, or -1 with b->oom set. */
static int grow(struct cursor *c, size_t need)
{
	struct policy_result *o = c->b->out;
	size_t n = o->fingerprint_cap ? o->fingerprint_cap : 256;
	while (n < c->n + need)
		n *= 2;
	char *p = realloc(o->fingerprint, n);
	if (!p) {
		c->b->oom = 1;
		return -1;
	}
	c->f = o->fingerprint = p;
	c->cap = o->fingerprint_cap = n;
	return 0;
}

/* One token of one byte: a space unless glued, then ch. */
static inline int put_ch(struct cursor *c, int glue, char ch)
{
	if (c->n + 2 > c->cap && grow(c, 2))
		return -1;
	if (!glue)
		c->f[c->n++] = ' ';
	c->f[c->n++] = ch;
	c->ntok++;
	return 0;
}

/* A word: a space unless glued, then its len bytes upper-cased (upper) or
 * lower-cased, as fp_emit folds keywords and other words. */
static int put_word(struct cursor *c, int glue, const char *s, size_t len, int upper)
{
	if (c->n + len + 1 > c->cap && grow(c, len + 1))
		return -1;
	if (!glue)
		c->f[c->n++] = ' ';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (upper && ch >= 'a' && ch <= 'z')
			ch = (unsigned char)(ch - 32);
		else if (!upper && ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch + 32);
		c->f[c->n++] = (char)ch;
	}
	c->ntok++;
	return 0;
}

/* The first byte at or after p that is not blank (a plain space is the
 * common case: checked before the table loop). */
static inline const char *blanks(const char *p, const char *end)
{
	if (p < end && *p == ' ')
		p++;
	if (p < end && (lex_ctype[(unsigned char)*p] & LC_SPACE))
		p = lex_span(p, end, LC_SPACE);
	return p;
}

static int is_word_start(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

/* NULL, TRUE, FALSE or DEFAULT in any case (the common words of a dump's
 * rows, checked before the keyword table). */
static int value_word(const char *s, size_t n)
{
	static const char *const words[] = {"null", "true", "false", "default"};
	if (n < 4 || n > 7 || n == 6)
		return 0;
	const char *w = words[n == 4 ? ((s[0] | 0x20) == 't') : n == 5 ? 2 : 3];
	for (size_t i = 0; i < n; i++)
		if ((s[i] | 0x20) != w[i])
			return 0;
	return 1;
}

/* Digits, optionally '.' and digits, then ',' or ')': where both
 * tokenizers end such a number (no radix prefix, '_', exponent, ".." or
 * identifier can follow). Returns its end, or NULL to ask the dialect. */
static inline const char *plain_number(const char *q, const char *end)
{
	const char *e = lex_span(q + 1, end, LC_DIGIT);
	if (e < end && *e == '.')
		e = lex_span(e + 1, end, LC_DIGIT);
	return e < end && (*e == ',' || *e == ')') ? e : NULL;
}

/* Is ch, before a quote, a string prefix of the dialect (pg_lexer.c:
 * E B X N; my_lexer.c: B X N)? */
static inline int string_prefix(const struct cls_batch *b, unsigned char ch)
{
	unsigned char lc = (unsigned char)(ch | 0x20);
	return lc == 'x' || lc == 'b' || lc == 'n' || (lc == 'e' && !b->mysql);
}

/* One item at q (glue: it follows '(' directly). Returns its end, or NULL
 * when it is not an item this path takes (or out of memory). */
static const char *item(struct cursor *c, const char *q, int glue)
{
	struct cls_batch *b = c->b;
	const char *end = b->lx.end, *e;
	unsigned char ch = (unsigned char)*q;

	/* The two commonest items, when what follows them settles where they
	 * end in both dialects: digits then ',' or ')' (no radix prefix,
	 * fraction, exponent or identifier); a quote, bytes that are neither
	 * quote nor backslash (nor, in a multibyte client encoding, high),
	 * a quote, then ',' or ')' (no doubled quote, escape or PostgreSQL
	 * continuation). Everything else asks the dialect's scanner. */
	if (lex_ctype[ch] & LC_DIGIT) {
		if ((e = plain_number(q, end)))
			return put_ch(c, glue, '?') ? NULL : e;
	} else if (ch == '\'' || (end - q >= 2 && q[1] == '\'' && string_prefix(b, ch))) {
		/* the same for X'..', B'..', N'..' (and PostgreSQL E'..'); a
		 * long literal is left to the dialect's scanner at once (its
		 * memchr is faster than this table loop over megabytes) */
		const char *o = q + (ch == '\'' ? 1 : 2);
		const char *lim = end - o > 64 ? o + 64 : end;
		e = lex_find(o, lim, c->quote_stop);
		if (lim - e >= 2 && *e == '\'' && (e[1] == ',' || e[1] == ')'))
			return put_ch(c, glue, '?') ? NULL : e + 1;
	}
	e = b->literal_end(&b->lx, q);
	if (e)
		return put_ch(c, glue, '?') ? NULL : e;
	if ((ch == '-' || ch == '+') && end - q >= 2 && (lex_ctype[(unsigned char)q[1]] & LC_DIGIT)) {
		/* a lone sign before a number: an operator token of one byte
		 * in both dialects (no comment or longer operator starts with
		 * a sign followed by a digit) */
		e = plain_number(q + 1, end);
		if (!e)
			e = b->literal_end(&b->lx, q + 1);
		if (!e || put_ch(c, glue, (char)ch) || put_ch(c, 0, '?'))
			return NULL;
		return e;
	}
	if (!is_word_start(ch))
		return NULL;
	/* an ASCII word: the tokenizers end it at the first byte that is not
	 * a word byte; a word with a high byte is left to the plain path
	 * (client encodings step over multibyte characters there) */
	e = lex_span(q, end, LC_WORD | LC_DOLLAR);
	if (lex_find(q, e, LC_HIGH) != e)
		return NULL;
	/* one letter before a quote is a string prefix (E'', X'', N'', ...)
	 * that literal_end refused (unterminated): the plain path's error */
	if (e - q == 1 && e < end && *e == '\'')
		return NULL;
	int kind = value_word(q, (size_t)(e - q)) ? 1 : cls_word_value(q, (size_t)(e - q));
	if (kind < 0)
		return NULL;
	if (put_word(c, glue, q, (size_t)(e - q), kind))
		return NULL;
	if (kind)
		return e; /* NULL, TRUE, FALSE, DEFAULT */
	/* a name before a literal: a charset introducer or a typed literal */
	const char *r = blanks(e, end);
	if (r == end || *r == ',' || *r == ')')
		return e;
	const char *l = b->literal_end(&b->lx, r);
	if (!l || put_ch(c, 0, '?'))
		return NULL;
	return l;
}

/* One tuple from the '(' at p. Returns the end past its ')', or NULL. */
static const char *tuple(struct cursor *c, const char *p, int glue)
{
	const char *end = c->b->lx.end;

	if (put_ch(c, glue, '('))
		return NULL;
	const char *q = blanks(p + 1, end);
	if (q < end && *q != ')') {
		for (int first = 1;; first = 0) {
			q = item(c, q, first);
			if (!q)
				return NULL;
			q = blanks(q, end);
			if (q == end || *q != ',')
				break;
			if (put_ch(c, 1, ','))
				return NULL;
			q = blanks(q + 1, end);
		}
	}
	if (q == end || *q != ')' || put_ch(c, 1, ')'))
		return NULL;
	return q + 1;
}

int cls_values_scan(struct cls_batch *b, struct cls_values_run *r)
{
	struct lex *lx = &b->lx;
	const char *end = lx->end, *p = b->cur.s;
	int amb = lx->ambiguous;
	struct cursor c = {b, b->out->fingerprint, b->out->fingerprint_cap, b->fp_len, 0,
			   LC_SQUOTE | LC_BSLASH | (lx->enc != LEX_ENC_ASCII_SAFE ? LC_HIGH : 0)};
	/* fp_emit's rule for '(': glued after '(' '[' '.' '::' or a name */
	int glue = b->fp_glue | b->prev_name;

	memset(r, 0, sizeof *r);
	for (;;) {
		/* what is kept when this tuple is not taken */
		size_t n0 = c.n;
		int ntok0 = c.ntok;
		const char *e = NULL;
		if (!r->end || !put_ch(&c, 1, ','))
			e = tuple(&c, p, glue);
		if (!e) {
			c.n = n0;
			c.ntok = ntok0;
			r->stop = p;
			break;
		}
		r->end = e;
		amb = lx->ambiguous;
		glue = 0;
		/* another tuple: ',' then '(' with only blanks around */
		const char *q = blanks(e, end);
		if (q == end || *q != ',')
			break;
		q = blanks(q + 1, end);
		if (q == end || *q != '(')
			break;
		p = q;
	}
	/* a tuple that was not taken is read again by the plain path, which
	 * sets lx->ambiguous itself if it must */
	lx->ambiguous = amb;
	r->fp_len = c.n;
	r->ntok = c.ntok;
	return r->end != NULL;
}
