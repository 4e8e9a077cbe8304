/* policy/lexer: SQL tokens, and the PostgreSQL tokenizer that makes them.
 *
 * The token type is dialect-neutral so that the classifier can be fed by a
 * MySQL tokenizer later; today only pg_lexer.c fills it. A tokenizer is a
 * single pass over text that is wholly in memory (nothing is resumable): it
 * hands out one token per call, borrows the caller's text and never
 * allocates. It reproduces what the PostgreSQL server's scanner (scan.l)
 * sees: whitespace and comments (nested slash-star, dash-dash) separate
 * tokens and are dropped, quoted strings of every flavour (with '' doubling,
 * E'' backslash escapes, continuation across newlines, U&'' with UESCAPE,
 * B''/X''/N'', dollar quotes) and quoted identifiers are one token each.
 *
 * It does not know keywords or statements: the classifier decides what a
 * word means and where a statement ends. Text the server would refuse to
 * scan (unterminated string or comment, a NUL byte, "" as an identifier) is
 * LEX_ERROR, after which the tokenizer keeps returning LEX_ERROR.
 */
#ifndef SB_POLICY_LEXER_H
#define SB_POLICY_LEXER_H

#include <stddef.h>

enum lex_kind {
	LEX_EOF = 0,
	LEX_IDENT,    /* bare word: keyword or identifier, as written */
	LEX_QIDENT,   /* "quoted" or U&"quoted" identifier */
	LEX_STRING,   /* any string literal, see enum lex_flavor */
	LEX_NUMBER,
	LEX_PARAM,    /* $1 */
	LEX_OP,       /* operators and any other single character */
	LEX_LPAREN,
	LEX_RPAREN,
	LEX_LBRACKET,
	LEX_RBRACKET,
	LEX_COMMA,
	LEX_SEMI,
	LEX_DOT,
	LEX_ERROR,
};

enum lex_flavor {
	LEX_FL_PLAIN = 0, /* 'x' (standard_conforming_strings on), "x" */
	LEX_FL_ESCAPE,    /* E'x', or 'x' while standard_conforming_strings is off */
	LEX_FL_UNICODE,   /* U&'x', U&"x" */
	LEX_FL_BIT,       /* B'0101', X'1f' */
	LEX_FL_NATIONAL,  /* N'x' */
	LEX_FL_DOLLAR,    /* $tag$x$tag$ */
	LEX_FL_BACKTICK,  /* MySQL `identifier` */
	LEX_FL_DQUOTE,    /* MySQL "string" (without ANSI_QUOTES) */
	LEX_FL_BRACKET,   /* T-SQL [identifier] ("]]" is one ']') */
	LEX_FL_QQUOTE,    /* Oracle q'[...]', nq'{...}' (any delimiter) */
	LEX_FL_RAW,       /* not a token: text used as it stands (a block body) */
};

/* Client encodings whose multibyte characters may contain ASCII bytes such
 * as a backslash (PostgreSQL allows them on the client side only). The
 * server converts them before scanning, so the tokenizer must step over
 * whole characters to see the same token boundaries. */
enum lex_encoding {
	LEX_ENC_ASCII_SAFE = 0, /* UTF8, LATIN*, EUC_*, ...: bytewise is exact */
	LEX_ENC_SJIS,           /* SJIS, SHIFT_JIS_2004 */
	LEX_ENC_DOUBLE,         /* BIG5, GBK, UHC: any high byte starts 2 bytes */
	LEX_ENC_GB18030,
	LEX_ENC_JOHAB,
	/* MariaDB's client character sets (my_lexer.c only): a lead byte
	 * starts a character only when a valid trail byte follows, as the
	 * server's my_ismbchar() decides; LEX_ENC_SJIS and LEX_ENC_GB18030 are
	 * read the same way by the MySQL tokenizer. */
	LEX_ENC_MY_BIG5,
	LEX_ENC_MY_GBK,
};

struct lex_token {
	enum lex_kind kind;
	unsigned char flavor;       /* enum lex_flavor, strings and quoted identifiers */
	unsigned char space_before; /* whitespace or a comment came before it */
	unsigned char uesc;         /* U&: escape character ('\\' unless UESCAPE) */
	const char *s;              /* borrowed: the token as written (without UESCAPE) */
	size_t len;
};

struct lex {
	const char *base; /* borrowed text */
	const char *p;    /* next byte to scan */
	const char *end;
	enum lex_encoding enc;
	int std_strings;  /* standard_conforming_strings */
	const char *err;  /* static text once LEX_ERROR was returned */
	size_t err_pos;   /* byte offset of the problem */
	/* MySQL only */
	int ansi_quotes;  /* sql_mode ANSI_QUOTES: "x" is an identifier */
	int in_exec;      /* inside an executable comment (slash-star-bang) */
	int ambiguous;    /* a backslash stood before its token's quote: sql_mode
			     can move token boundaries */
	int versioned;    /* a versioned executable comment was seen: whether it
			     runs depends on the server's version */
	int skip_versioned; /* read versioned executable comments as comments */
	const char *nul;  /* next NUL byte not yet passed (NULL: none left); a
			     NUL is data inside a string literal, an error
			     anywhere else */
	unsigned long server_version; /* the server's version (10.11.6 = 101106),
					 0 = unknown: then skip_versioned rules */
	int server_mariadb; /* ... and it is MariaDB */
};

/* Start tokenizing len bytes at sql. std_strings mirrors the session's
 * standard_conforming_strings (1 = on, the server default). */
void pgl_init(struct lex *lx, const char *sql, size_t len, int std_strings,
	      enum lex_encoding enc);

/* Fill *t with the next token and return its kind. At the end of the text
 * it returns LEX_EOF, on bad text LEX_ERROR (lx->err says why); both repeat. */
enum lex_kind pgl_next(struct lex *lx, struct lex_token *t);

/* MySQL: like pgl_init. std_strings = 1 means NO_BACKSLASH_ESCAPES;
 * ansi_quotes = 1 means ANSI_QUOTES. */
void myl_init(struct lex *lx, const char *sql, size_t len, int std_strings,
	      int ansi_quotes, enum lex_encoding enc);

/* MySQL: the tokenizer's encoding for a character_set_client name as the
 * server reports it ("sjis", "cp932", "big5", "gbk", "gb18030"; any other,
 * NULL or "" = ASCII-safe: every other MariaDB client character set keeps
 * bytes below 0x80 out of multibyte characters). */
enum lex_encoding lex_my_encoding_from_name(const char *name);

/* MySQL: like pgl_next. Executable comments (slash-star-bang and MariaDB's
 * slash-star-M-bang, with or without a version number) are read as SQL,
 * or, when lx->server_version is known, as the server reads them (see
 * my_lexer.c versioned_runs); with it unknown, skip_versioned chooses.
 * lx->ambiguous is set when a backslash stands before its quoted token's
 * quote character, i.e. when the session's sql_mode could change token
 * boundaries. A NUL byte is data inside a string literal, LEX_ERROR
 * anywhere else. */
enum lex_kind myl_next(struct lex *lx, struct lex_token *t);

/* T-SQL (SQL Server): like pgl_init / pgl_next (tsql_lexer.c). */
void tsl_init(struct lex *lx, const char *sql, size_t len);
enum lex_kind tsl_next(struct lex *lx, struct lex_token *t);

/* Oracle SQL and PL/SQL: like pgl_init / pgl_next (ora_lexer.c). */
void oral_init(struct lex *lx, const char *sql, size_t len);
enum lex_kind oral_next(struct lex *lx, struct lex_token *t);

/* Literal fast path (classify.c's VALUES lists, cls_values.c). If the
 * token at p, as pgl_next / myl_next would read it there, is a number or a
 * string literal of a flavor without a suffix clause (not U&, not a dollar
 * quote), return its end; else NULL. It does not move lx->p; the MySQL one
 * may set lx->ambiguous exactly as myl_next would for that token. */
const char *pgl_literal_end(struct lex *lx, const char *p);
const char *myl_literal_end(struct lex *lx, const char *p);

/* Continue tokenizing at p, a token boundary that a fast path reached by
 * passing only whitespace, punctuation, words and literals (no comment):
 * the next pgl_next / myl_next reads from p. */
void pgl_resume(struct lex *lx, const char *p);
void myl_resume(struct lex *lx, const char *p);

/* Bytes in the character at p (1 unless lx->enc is a client-only multibyte
 * encoding and *p starts a multibyte character). Shared by the tokenizers. */
size_t lex_mb_len(const struct lex *lx, const char *p);

/* Map a client_encoding name as PostgreSQL reports it ("SJIS", "GBK", ...;
 * case-insensitive; NULL or unknown = ASCII-safe). */
enum lex_encoding lex_encoding_from_name(const char *name);

/* Maximum identifier length the server keeps (NAMEDATALEN - 1). */
#define LEX_NAME_MAX 63

/* Write the identifier a LEX_IDENT or LEX_QIDENT token names into out, as
 * the server sees it: bare words folded to lower case, quotes removed, ""
 * undoubled, U& escapes decoded, cut to LEX_NAME_MAX bytes. Returns the
 * length written (out is NUL-terminated; cap must be > LEX_NAME_MAX). */
size_t lex_ident_value(const struct lex_token *t, char *out, size_t cap);

/* Write the value of a LEX_STRING token (escapes decoded, continuations
 * joined) into out, cut to cap - 1 bytes and NUL-terminated. Returns the
 * length written. For a LEX_IDENT it writes the folded word. */
size_t lex_string_value(const struct lex_token *t, char *out, size_t cap);

#endif
