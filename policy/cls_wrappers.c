/* policy/cls_wrappers: compound statements and server versions (see
 * cls_wrappers.h). */
#include "policy/cls_wrappers.h"

#include <string.h>
#include <strings.h>

static int word_is(const struct lex_token *t, const char *w)
{
	size_t n = strlen(w);
	return t->kind == LEX_IDENT && t->len == n && strncasecmp(t->s, w, n) == 0;
}

static int word_in(const struct lex_token *t, const char *const *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (word_is(t, w[i]))
			return 1;
	return 0;
}

void cls_compound_begin(struct cls_compound *c)
{
	c->level = 1;
	c->closing = 0;
	c->cx = 0;
}

int cls_compound_active(const struct cls_compound *c)
{
	return c->level > 0 || c->closing;
}

void cls_compound_part(struct cls_compound *c)
{
	c->cx = 0;
}

void cls_compound_semi(struct cls_compound *c)
{
	if (c->closing)
		c->level = c->closing = 0;
	c->cx = 0;
}

int cls_compound_word(struct cls_compound *c, const struct lex_token *cur,
		      const struct lex_token *nx, int ntok, int procedural)
{
	static const char *const closes[] = {"if", "case", "loop", "while", "repeat", "for"};

	if (cur->kind != LEX_IDENT)
		return 0;
	if (word_is(cur, "case")) {
		if (ntok > 0)
			c->cx++; /* a CASE expression; at a part's start: CASE statement */
		return 0;
	}
	if (c->cx > 0) {
		if (word_is(cur, "end"))
			c->cx--;
		return 0;
	}
	if (ntok > 0 && !procedural)
		return 0; /* a column named "begin" or "end" of a plain statement */
	if (word_is(cur, "begin")) {
		c->level++;
		return 1;
	}
	if (word_is(cur, "end")) {
		/* END IF / END CASE / ...: the next part starts with that word */
		if (!word_in(nx, closes, sizeof closes / sizeof closes[0]) && --c->level <= 0) {
			c->level = 0;
			c->closing = 1;
		}
		return 1;
	}
	if (word_is(cur, "then") || word_is(cur, "else") || word_is(cur, "loop") ||
	    word_is(cur, "repeat"))
		return 1;
	return procedural && word_is(cur, "do"); /* WHILE c DO, FOR ... DO */
}

int cls_compound_procedural(const struct lex_token *cur, const struct lex_token *nx)
{
	static const char *const words[] = {
		"if", "elseif", "while", "until", "case", "when", "for", "leave", "iterate",
		"return", "open", "signal", "resignal", "get", "declare", "not", "atomic",
		"loop", "repeat", "end",
	};
	if (cur->kind != LEX_IDENT && cur->kind != LEX_QIDENT)
		return 0;
	if (nx->kind == LEX_OP && nx->len == 1 && nx->s[0] == ':')
		return 1; /* label: */
	return cur->kind == LEX_IDENT && word_in(cur, words, sizeof words / sizeof words[0]);
}

int cls_compound_toplevel(const struct lex_token *cur, const struct lex_token *nx)
{
	static const char *const words[] = {"if", "case", "loop", "while", "repeat", "for"};
	if (cur->kind != LEX_IDENT && cur->kind != LEX_QIDENT)
		return 0;
	if (nx->kind == LEX_OP && nx->len == 1 && nx->s[0] == ':')
		return 1;
	return cur->kind == LEX_IDENT && word_in(cur, words, sizeof words / sizeof words[0]);
}

/* One decimal number at *p (at most 4 digits); -1 when none. */
static long number(const char **p)
{
	long v = 0;
	int n = 0;
	while (**p >= '0' && **p <= '9' && n < 4) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n ? v : -1;
}

unsigned long cls_mysql_version(const char *s, int *mariadb)
{
	*mariadb = 0;
	if (!s)
		return 0;
	*mariadb = strstr(s, "MariaDB") != NULL;
	/* MariaDB before 11 greets with "5.5.5-" before its real version so
	 * that old replication clients accept it */
	if (*mariadb && strncmp(s, "5.5.5-", 6) == 0)
		s += 6;
	const char *p = s;
	long a = number(&p);
	if (a < 0 || *p++ != '.')
		return 0;
	long b = number(&p);
	if (b < 0 || b > 99 || *p++ != '.')
		return 0;
	long c = number(&p);
	if (c < 0 || c > 99 || a > 99)
		return 0;
	return (unsigned long)(a * 10000 + b * 100 + c);
}
