/* lex_simple: what the tokenizers without session state (T-SQL, Oracle)
 * share: an error that repeats, emitting a token, the start of a token
 * (blanks, Unicode spaces, comments, the end of the text) and runs closed by
 * a quote that doubles to stand for itself. The PostgreSQL and MySQL
 * tokenizers keep their own, since encodings and session settings change
 * what a byte means there. */
#ifndef SB_LEX_SIMPLE_H
#define SB_LEX_SIMPLE_H

#include "policy/lexer.h"

/* LEX_ERROR at `at` with why; every later call repeats it. */
enum lex_kind lex_simple_fail(struct lex *lx, struct lex_token *t, const char *why,
			      const char *at);
/* The token [s, e) of kind k; the next one starts at e. */
enum lex_kind lex_simple_emit(struct lex *lx, struct lex_token *t, enum lex_kind k,
			      const char *s, const char *e);
/* Start the next token: skip blanks, Unicode spaces, "--" comments and
 * slash-star comments (nested_comments: an inner one needs its own end, as
 * in T-SQL; else the first star-slash ends it, as in Oracle). Returns where
 * the token begins; NULL when t is final already (an earlier error, an
 * unterminated comment, or LEX_EOF): return t->kind. */
const char *lex_simple_begin(struct lex *lx, struct lex_token *t, int nested_comments);
/* The end of a run opened by the quote at p and closed by close, where a
 * doubled close stands for one character; NULL when it does not end. */
const char *lex_simple_quoted_end(const char *p, const char *end, char close);

#endif
