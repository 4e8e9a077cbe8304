/* policy/cls_kill: statements that end or cancel a session (see cls_kill.h). */
#include "policy/cls_kill.h"

#include <string.h>
#include <strings.h>

void cls_kill_reset(struct cls_kill_track *k, struct cls_kill *out)
{
	memset(k, 0, sizeof *k);
	memset(out, 0, sizeof *out);
}

static void target_start(struct cls_kill_track *k)
{
	k->ntok = 0;
	k->lit = 0;
	k->val = 0;
}

void cls_kill_verb(struct cls_kill_track *k)
{
	memset(k, 0, sizeof *k);
	k->mode = 1;
	target_start(k);
}

int cls_kill_func(struct cls_kill_track *k, struct cls_kill *out, const char *nm, size_t n,
		  int mysql)
{
	if (mysql)
		return 0;
	if (!((n == 20 && memcmp(nm, "pg_terminate_backend", 20) == 0) ||
	      (n == 17 && memcmp(nm, "pg_cancel_backend", 17) == 0)))
		return 0;
	if (k->mode == 2 || k->arm) {
		/* nested in another kill call's argument: that argument is no
		 * literal, and this one is not followed */
		out->unmapped++;
		return 1;
	}
	k->arm = 1;
	return 1;
}

void cls_kill_lparen(struct cls_kill_track *k, int nd)
{
	if (!k->arm)
		return;
	k->arm = 0;
	k->mode = 2;
	k->depth = nd;
	k->done = 0;
	target_start(k);
}

/* A token of the target expression. */
static void target_token(struct cls_kill_track *k, const struct lex_token *t)
{
	k->ntok++;
	k->lit = 0;
	if (k->ntok != 1 || t->kind != LEX_NUMBER || t->len == 0 || t->len > 19)
		return;
	uint64_t v = 0;
	for (size_t i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->s[i];
		if (c < '0' || c > '9')
			return; /* 7.0, 1e3, 0x7, 0b1: not a plain id */
		v = v * 10 + (uint64_t)(c - '0');
	}
	k->lit = 1;
	k->val = v;
}

static void target_done(struct cls_kill_track *k, struct cls_kill *out)
{
	if (k->ntok == 1 && k->lit && out->n < CLS_KILL_MAX) {
		for (unsigned i = 0; i < out->n; i++)
			if (out->ids[i] == k->val)
				return;
		out->ids[out->n++] = k->val;
	} else {
		out->unmapped++;
	}
}

static int word_is(const struct lex_token *t, const char *w)
{
	size_t n = strlen(w);
	return t->kind == LEX_IDENT && t->len == n && strncasecmp(t->s, w, n) == 0;
}

void cls_kill_token(struct cls_kill_track *k, struct cls_kill *out, const struct lex_token *t,
		    int depth)
{
	if (k->mode == 1) {
		/* KILL [HARD|SOFT] [CONNECTION|QUERY [ID]] expr | USER user */
		if (k->ntok == 0 && k->opt < 1 && (word_is(t, "hard") || word_is(t, "soft"))) {
			k->opt = 1;
			return;
		}
		if (k->ntok == 0 && k->opt < 2 &&
		    (word_is(t, "connection") || word_is(t, "query"))) {
			k->opt = 2;
			k->query = word_is(t, "query");
			return;
		}
		if (k->ntok == 0 && (word_is(t, "user") || (k->query && word_is(t, "id")))) {
			k->ntok = 2; /* USER u, QUERY ID n: no session id */
			k->lit = 0;
			return;
		}
		if (t->kind == LEX_LPAREN || t->kind == LEX_RPAREN)
			return; /* KILL (7) */
		target_token(k, t);
		return;
	}
	if (k->mode != 2 || depth < k->depth)
		return;
	if (depth == k->depth && t->kind == LEX_RPAREN) {
		if (!k->done)
			target_done(k, out);
		k->mode = 0;
		return;
	}
	if (k->done)
		return;
	if (depth == k->depth && t->kind == LEX_COMMA) {
		target_done(k, out); /* pg_terminate_backend(pid, timeout) */
		k->done = 1;
		return;
	}
	target_token(k, t);
}

void cls_kill_end(struct cls_kill_track *k, struct cls_kill *out)
{
	if (k->mode == 1 || (k->mode == 2 && !k->done))
		target_done(k, out);
	if (k->arm)
		out->unmapped++;
	k->mode = k->arm = 0;
}

static int plain_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';';
}

/* Next word of s[*i..len) split at plain_blank; returns its length. */
static size_t plain_word(const char *s, size_t len, size_t *i, const char **w)
{
	while (*i < len && plain_blank(s[*i]))
		(*i)++;
	*w = s + *i;
	size_t b = *i;
	while (*i < len && !plain_blank(s[*i]))
		(*i)++;
	return *i - b;
}

static int plain_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

int cls_kill_plain_form(const char *sql, size_t len, int *query, uint64_t *id)
{
	const char *w;
	size_t i = 0, n;

	if (len >= 128 || memchr(sql, '\0', len))
		return 0;
	n = plain_word(sql, len, &i, &w);
	if (!plain_is(w, n, "KILL"))
		return 0;
	*query = 0;
	n = plain_word(sql, len, &i, &w);
	if (plain_is(w, n, "HARD") || plain_is(w, n, "SOFT"))
		n = plain_word(sql, len, &i, &w);
	if (plain_is(w, n, "CONNECTION")) {
		n = plain_word(sql, len, &i, &w);
	} else if (plain_is(w, n, "QUERY")) {
		*query = 1;
		n = plain_word(sql, len, &i, &w);
	}
	if (n == 0 || n > 15)
		return 0;
	uint64_t v = 0;
	for (size_t j = 0; j < n; j++) {
		if (w[j] < '0' || w[j] > '9')
			return 0;
		v = v * 10 + (uint64_t)(w[j] - '0');
	}
	const char *rest;
	if (plain_word(sql, len, &i, &rest) != 0)
		return 0;
	*id = v;
	return 1;
}
