/* policy/my_lexer: the MySQL / MariaDB tokenizer (see lexer.h).
 *
 * It fills the same tokens as the PostgreSQL tokenizer, so the classifier
 * serves both dialects. It follows the server's lexer (sql_lex.cc) where
 * token boundaries are decided: '#' and "-- " comments, non-nesting slash-
 * star comments, executable comments (slash-star-bang, read as SQL), 'x'
 * and "x" strings with backslash escapes and doubled quotes, `identifiers`,
 * identifiers that start with a digit, @variables and ? placeholders.
 *
 * What it cannot know is the session's sql_mode: NO_BACKSLASH_ESCAPES and
 * ANSI_QUOTES move token boundaries. Callers pass what they know and, when
 * lx->ambiguous says a backslash stood before a quote, also classify the
 * text under the other modes (policy.c does) and keep the strongest
 * verdict. It never allocates and never logs.
 */
#include "policy/lexer.h"
#include "policy/lex_scan.h"

#include <string.h>
#include <strings.h>

static int my_space(unsigned char c)
{
	return lex_ctype[c] & LC_SPACE;
}

static int my_digit(unsigned char c)
{
	return lex_ctype[c] & LC_DIGIT;
}

/* MySQL identifier characters (unquoted): letters, digits, '_', '$' and
 * every byte of a multibyte character. */
static int my_ident(unsigned char c)
{
	return lex_ctype[c] & (LC_WORD | LC_DOLLAR);
}

static int my_op(unsigned char c)
{
	return lex_ctype[c] & LC_MYOP;
}

/* The "*" + "/" that closes a comment whose text starts at q, or NULL. */
static const char *comment_end(const char *q, const char *end)
{
	while (end - q >= 2) {
		q = memchr(q, '*', (size_t)(end - q - 1));
		if (!q)
			return NULL;
		if (q[1] == '/')
			return q;
		q++;
	}
	return NULL;
}

/* "--" starts a comment only when followed by whitespace, a control
 * character or the end (MySQL manual, "Comments"). */
static int dash_comment(const char *p, const char *end)
{
	if (end - p < 2 || p[0] != '-' || p[1] != '-')
		return 0;
	if (end - p == 2)
		return 1;
	unsigned char c = (unsigned char)p[2];
	return my_space(c) || c < 0x20 || c == 0x7f;
}

static int in_range(unsigned char c, unsigned lo, unsigned hi)
{
	return c >= lo && c <= hi;
}

/* Bytes in the character at p as the server's my_ismbchar() sees it for
 * the session's character_set_client: a lead byte counts as a pair (or a
 * GB18030 quadruple) only when a valid trail follows, else it is one byte
 * on its own. The trail bytes of SJIS/CP932, BIG5, GBK and GB18030 include
 * 0x5C (backslash) and 0x60 (backtick), which is why this matters. */
static size_t my_mb_len(const struct lex *lx, const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t left = (size_t)(lx->end - p);
	unsigned char c = u[0];
	if (c < 0x80 || left < 2)
		return 1;
	switch (lx->enc) {
	case LEX_ENC_ASCII_SAFE:
		return 1;
	case LEX_ENC_SJIS: /* sjis, cp932 */
		return ((in_range(c, 0x81, 0x9F) || in_range(c, 0xE0, 0xFC)) &&
			(in_range(u[1], 0x40, 0x7E) || in_range(u[1], 0x80, 0xFC)))
			       ? 2
			       : 1;
	case LEX_ENC_MY_BIG5:
		return (in_range(c, 0xA1, 0xF9) &&
			(in_range(u[1], 0x40, 0x7E) || in_range(u[1], 0xA1, 0xFE)))
			       ? 2
			       : 1;
	case LEX_ENC_MY_GBK:
		return (in_range(c, 0x81, 0xFE) &&
			(in_range(u[1], 0x40, 0x7E) || in_range(u[1], 0x80, 0xFE)))
			       ? 2
			       : 1;
	case LEX_ENC_GB18030:
		if (!in_range(c, 0x81, 0xFE))
			return 1;
		if (in_range(u[1], 0x40, 0x7E) || in_range(u[1], 0x80, 0xFE))
			return 2;
		if (left >= 4 && in_range(u[1], 0x30, 0x39) && in_range(u[2], 0x81, 0xFE) &&
		    in_range(u[3], 0x30, 0x39))
			return 4;
		return 1;
	default:
		return lex_mb_len(lx, p);
	}
}

enum lex_encoding lex_my_encoding_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum lex_encoding enc;
	} map[] = {
		{"sjis", LEX_ENC_SJIS},       {"cp932", LEX_ENC_SJIS},
		{"big5", LEX_ENC_MY_BIG5},    {"gbk", LEX_ENC_MY_GBK},
		{"gb18030", LEX_ENC_GB18030},
	};
	if (!name)
		return LEX_ENC_ASCII_SAFE;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(name, map[i].name) == 0)
			return map[i].enc;
	return LEX_ENC_ASCII_SAFE;
}

void myl_init(struct lex *lx, const char *sql, size_t len, int std_strings,
	      int ansi_quotes, enum lex_encoding enc)
{
	pgl_init(lx, sql, len, std_strings, enc);
	lx->ansi_quotes = ansi_quotes;
	lx->in_exec = 0;
	lx->ambiguous = 0;
	/* COM_QUERY carries its length, so unlike PostgreSQL's NUL-terminated
	 * Query a NUL is data inside a string literal (Connector/J sends BLOB
	 * bytes that way); myl_next still refuses one anywhere else. */
	lx->nul = NULL;
	if (lx->err && lx->base[lx->err_pos] == '\0') {
		lx->nul = lx->base + lx->err_pos;
		lx->err = NULL;
		lx->err_pos = 0;
	}
	lx->server_version = 0;
	lx->server_mariadb = 0;
}

static enum lex_kind my_fail(struct lex *lx, struct lex_token *t,
			     const char *at, const char *why)
{
	lx->err = why;
	lx->err_pos = (size_t)(at - lx->base);
	lx->p = lx->end;
	t->kind = LEX_ERROR;
	t->s = at;
	t->len = 0;
	return LEX_ERROR;
}

/* Does the server (lx->server_version, known) run an executable comment
 * opened by slash-star-bang (maria = 0) or slash-star-M-bang (maria = 1)
 * with version ver (0 = none)? As MariaDB's lexer: a version is 5 or 6
 * digits, the comment runs when ver <= the server's version, and MariaDB
 * ignores plain slash-star-bang comments of MySQL 5.7+ versions (50700 to
 * 99999). MySQL reads slash-star-M-bang as a plain comment. */
static int versioned_runs(const struct lex *lx, int maria, unsigned long ver)
{
	if (maria && !lx->server_mariadb)
		return 0;
	if (!ver)
		return 1;
	if (ver > lx->server_version)
		return 0;
	if (lx->server_mariadb && !maria && ver >= 50700 && ver <= 99999)
		return 0;
	return 1;
}

/* Skip blanks and comments; the opening and closing marks of executable
 * comments are blanks too (their content is SQL). NULL: unclosed comment. */
static const char *my_skip(struct lex *lx, const char *p, int *seen)
{
	const char *end = lx->end;

	for (;;) {
		if (p < end && my_space((unsigned char)*p)) {
			p = lex_span(p + 1, end, LC_SPACE);
		} else if (p < end && (*p == '#' || dash_comment(p, end))) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl : end;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			if (end - p >= 3 && (p[2] == '!' ||
					     (p[2] == 'M' && end - p >= 4 && p[3] == '!'))) {
				const char *open = p;
				p += p[2] == '!' ? 3 : 4;
				int maria = open[2] == 'M', digits = 0;
				const char *v0 = p;
				unsigned long ver = 0;
				for (; digits < 6 && p < end && my_digit((unsigned char)*p); digits++)
					ver = ver * 10 + (unsigned long)(*p++ - '0');
				if (digits < 5) {
					/* the server wants 5 or 6 digits: fewer are SQL */
					p = v0;
					digits = 0;
				}
				int skip;
				if (lx->server_version) {
					skip = !versioned_runs(lx, maria, digits ? ver : 0);
				} else {
					if (digits)
						lx->versioned = 1;
					skip = digits && lx->skip_versioned;
				}
				if (skip) {
					p = open; /* read as a plain comment below */
					const char *q = comment_end(p + 2, end);
					if (!q)
						return NULL;
					p = q + 2;
					continue;
				}
				lx->in_exec = 1;
			} else {
				const char *q = comment_end(p + 2, end);
				if (!q)
					return NULL;
				p = q + 2;
			}
		} else if (lx->in_exec && end - p >= 2 && p[0] == '*' && p[1] == '/') {
			lx->in_exec = 0;
			p += 2;
		} else {
			return p;
		}
		*seen = 1;
	}
}

/* A quoted token opened by q at p; escapes: backslash escapes a character.
 * Returns the end, or NULL when unclosed. */
static const char *my_quoted(struct lex *lx, const char *p, char q, int escapes)
{
	const char *end = lx->end;
	/* bytes that end a plain run: the quote, a backslash and, in a client
	 * encoding whose characters can hide those bytes, a lead byte */
	unsigned stop = (q == '\'' ? LC_SQUOTE : q == '"' ? LC_DQUOTE : LC_BTICK) | LC_BSLASH |
			(lx->enc != LEX_ENC_ASCII_SAFE ? LC_HIGH : 0);

	for (p++; (p = lex_find(p, end, stop)) < end;) {
		unsigned char c = (unsigned char)*p;
		if (c == (unsigned char)q) {
			if (p + 1 < end && p[1] == q) {
				p += 2;
				continue;
			}
			return p + 1;
		}
		if (c >= 0x80) {
			p += my_mb_len(lx, p); /* a whole character, checked first */
			continue;
		}
		if (c == '\\') {
			/* Only a backslash before the token's own quote ends the
			 * token elsewhere under another sql_mode
			 * (NO_BACKSLASH_ESCAPES, ANSI_QUOTES); before any other
			 * byte (a dump's escaped newlines, a doubled backslash)
			 * all modes agree, and no second reading is needed. */
			if (p + 1 < end && p[1] == q)
				lx->ambiguous = 1;
			if (escapes) {
				/* the server skips one byte, not a character */
				if (++p >= end)
					return NULL;
				p++;
				continue;
			}
		}
		p++;
	}
	return NULL;
}

static enum lex_kind my_emit(struct lex *lx, struct lex_token *t,
			     enum lex_kind k, const char *s, const char *e)
{
	t->kind = k;
	t->s = s;
	t->len = (size_t)(e - s);
	lx->p = e;
	return k;
}

static const char *my_word(const struct lex *lx, const char *p)
{
	if (lx->enc == LEX_ENC_ASCII_SAFE)
		return lex_span(p, lx->end, LC_WORD | LC_DOLLAR);
	while (p < lx->end && my_ident((unsigned char)*p))
		p += (unsigned char)*p >= 0x80 ? my_mb_len(lx, p) : 1;
	return p;
}

/* The end of a number at p (*k = LEX_NUMBER), or of an identifier that
 * starts with digits ("1abc", *k = LEX_IDENT). */
static const char *number_end(const struct lex *lx, const char *p, enum lex_kind *k)
{
	const char *end = lx->end, *s = p;
	int plain = 1;

	*k = LEX_NUMBER;
	if (end - p >= 3 && p[0] == '0' && (p[1] == 'x' || p[1] == 'b')) {
		/* 0x1G is an identifier, as is anything else non-numeric */
		p = lex_span(p + 2, end, s[1] == 'x' ? LC_HEX : LC_DIGIT);
		if (p == end || !(lex_ctype[(unsigned char)*p] & LC_WORD))
			return p;
		*k = LEX_IDENT;
		return my_word(lx, s);
	}
	p = lex_span(p, end, LC_DIGIT);
	if (p < end && *p == '.') {
		plain = 0;
		p = lex_span(p + 1, end, LC_DIGIT);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q < end && my_digit((unsigned char)*q)) {
			plain = 0;
			while (q < end && my_digit((unsigned char)*q))
				q++;
			p = q;
		}
	}
	if (plain && p < end && my_ident((unsigned char)*p)) {
		*k = LEX_IDENT;
		return my_word(lx, s);
	}
	return p;
}

/* A number, or an identifier that starts with digits. */
static enum lex_kind my_number(struct lex *lx, struct lex_token *t, const char *p)
{
	enum lex_kind k;
	const char *e = number_end(lx, p, &k);
	return my_emit(lx, t, k, p, e);
}

/* @name, @'name', @@global.name: a value, like a parameter */
static enum lex_kind my_variable(struct lex *lx, struct lex_token *t,
				 const char *p)
{
	const char *end = lx->end, *s = p, *q;

	p += (end - p >= 2 && p[1] == '@') ? 2 : 1;
	if (p < end && (*p == '\'' || *p == '"' || *p == '`')) {
		q = my_quoted(lx, p, *p, *p != '`' && !lx->std_strings);
		if (!q)
			return my_fail(lx, t, s, "unterminated quoted variable");
		return my_emit(lx, t, LEX_PARAM, s, q);
	}
	q = my_word(lx, p);
	while (q < end && *q == '.' && q + 1 < end && my_ident((unsigned char)q[1]))
		q = my_word(lx, q + 1); /* @@session.sql_mode */
	if (q == p)
		return my_emit(lx, t, LEX_OP, s, p);
	return my_emit(lx, t, LEX_PARAM, s, q);
}

static enum lex_kind next_token(struct lex *lx, struct lex_token *t)
{
	const char *end = lx->end, *q;
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
	const char *p = my_skip(lx, lx->p, &seen);
	t->space_before = (unsigned char)seen;
	if (!p)
		return my_fail(lx, t, lx->p, "unterminated comment");
	if (p == end)
		return my_emit(lx, t, LEX_EOF, p, p);

	unsigned char c = (unsigned char)*p;
	switch (c) {
	case '\'':
		t->flavor = lx->std_strings ? LEX_FL_PLAIN : LEX_FL_ESCAPE;
		q = my_quoted(lx, p, '\'', !lx->std_strings);
		if (!q)
			return my_fail(lx, t, p, "unterminated quoted string");
		return my_emit(lx, t, LEX_STRING, p, q);
	case '"':
		if (lx->ansi_quotes) {
			q = my_quoted(lx, p, '"', 0);
			if (!q)
				return my_fail(lx, t, p, "unterminated quoted identifier");
			return my_emit(lx, t, LEX_QIDENT, p, q);
		}
		t->flavor = LEX_FL_DQUOTE;
		q = my_quoted(lx, p, '"', !lx->std_strings);
		if (!q)
			return my_fail(lx, t, p, "unterminated quoted string");
		return my_emit(lx, t, LEX_STRING, p, q);
	case '`':
		t->flavor = LEX_FL_BACKTICK;
		q = my_quoted(lx, p, '`', 0);
		if (!q)
			return my_fail(lx, t, p, "unterminated quoted identifier");
		return my_emit(lx, t, LEX_QIDENT, p, q);
	case '(':
		return my_emit(lx, t, LEX_LPAREN, p, p + 1);
	case ')':
		return my_emit(lx, t, LEX_RPAREN, p, p + 1);
	case ',':
		return my_emit(lx, t, LEX_COMMA, p, p + 1);
	case ';':
		return my_emit(lx, t, LEX_SEMI, p, p + 1);
	case '?':
		return my_emit(lx, t, LEX_PARAM, p, p + 1);
	case '@':
		return my_variable(lx, t, p);
	case '.':
		if (p + 1 < end && my_digit((unsigned char)p[1]))
			return my_number(lx, t, p);
		return my_emit(lx, t, LEX_DOT, p, p + 1);
	}
	if (my_digit(c))
		return my_number(lx, t, p);
	if (my_ident(c)) {
		unsigned char lc = (unsigned char)(c | 0x20);
		if (p + 1 < end && p[1] == '\'' && (lc == 'x' || lc == 'b' || lc == 'n')) {
			t->flavor = lc == 'n' ? LEX_FL_ESCAPE : LEX_FL_BIT;
			q = my_quoted(lx, p + 1, '\'', lc == 'n' && !lx->std_strings);
			if (!q)
				return my_fail(lx, t, p, "unterminated quoted string");
			return my_emit(lx, t, LEX_STRING, p, q);
		}
		return my_emit(lx, t, LEX_IDENT, p, my_word(lx, p));
	}
	if (my_op(c)) {
		q = p;
		while (q < end && my_op((unsigned char)*q)) {
			if (q > p && ((end - q >= 2 && q[0] == '/' && q[1] == '*') ||
				      dash_comment(q, end) ||
				      (lx->in_exec && end - q >= 2 && q[0] == '*' && q[1] == '/')))
				break;
			q++;
		}
		return my_emit(lx, t, LEX_OP, p, q);
	}
	return my_emit(lx, t, LEX_OP, p, p + 1); /* anything else, one byte */
}

enum lex_kind myl_next(struct lex *lx, struct lex_token *t)
{
	enum lex_kind k = next_token(lx, t);

	if (!lx->nul || k == LEX_ERROR)
		return k;
	/* NULs before lx->p were passed by this token: each is looked at once */
	const char *e = k == LEX_EOF ? lx->end : lx->p;
	while (lx->nul && lx->nul < e) {
		if (k != LEX_STRING || lx->nul <= t->s || lx->nul >= t->s + t->len)
			return my_fail(lx, t, lx->nul, "NUL byte outside a quoted string");
		lx->nul = memchr(lx->nul + 1, '\0', (size_t)(lx->end - lx->nul - 1));
	}
	return k;
}

/* ---- literal fast path (cls_values.c) ------------------------------------ */

const char *myl_literal_end(struct lex *lx, const char *p)
{
	const char *end = lx->end;
	unsigned char c = (unsigned char)*p;
	enum lex_kind k;

	/* the same branches, in the same order, as next_token() */
	if (c == '\'')
		return my_quoted(lx, p, '\'', !lx->std_strings);
	if (c == '"')
		return lx->ansi_quotes ? NULL : my_quoted(lx, p, '"', !lx->std_strings);
	if (my_digit(c)) {
		const char *e = number_end(lx, p, &k);
		return k == LEX_NUMBER ? e : NULL;
	}
	unsigned char lc = (unsigned char)(c | 0x20);
	if (my_ident(c) && p + 1 < end && p[1] == '\'' && (lc == 'x' || lc == 'b' || lc == 'n'))
		return my_quoted(lx, p + 1, '\'', lc == 'n' && !lx->std_strings);
	return NULL;
}

void myl_resume(struct lex *lx, const char *p)
{
	lx->p = p;
	/* every NUL before p was inside a string literal the fast path passed */
	if (lx->nul && lx->nul < p)
		lx->nul = memchr(p, '\0', (size_t)(lx->end - p));
}
