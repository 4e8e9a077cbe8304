/* policy/classify: split SQL text into statements and say what each does.
 *
 * The classifier pulls tokens from a dialect tokenizer (lexer.h) and, in one
 * pass with one token of lookahead, finds for every statement: its verb
 * ("SELECT", "DROP TABLE", ...), its POLICY_F_* flags, the objects it names
 * and the functions it calls, and its part of the fingerprint (normalized
 * text). Statements end at a ';' outside parentheses and outside a
 * BEGIN ATOMIC ... END function body, as the server splits them.
 *
 * It is a classifier, not a parser: it keys on the few places where SQL says
 * what a statement does (the first words, a WHERE at the statement's own
 * level, a function call, a COPY target, ...). When it cannot tell, it
 * errs towards the stronger flag. It does not decide anything (rules.c and
 * policy.c do) and never logs. It allocates only by growing the caller's
 * buffers (fingerprint, objects, names), which are kept across calls.
 *
 * Fingerprint: comments dropped; one space between tokens (none inside
 * "a.b", "f(", "(x)", "a, b", "x::t", "a[1]"); words the classifier knows as
 * SQL keywords upper-cased, other bare identifiers lower-cased (as the
 * server folds them); quoted identifiers kept as written; every string and
 * number literal replaced by '?'; parameters ($1) kept; statements of a
 * batch joined by "; ".
 */
#ifndef SB_POLICY_CLASSIFY_H
#define SB_POLICY_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "policy/cls_dialect.h"
#include "policy/cls_kill.h"
#include "policy/cls_wrappers.h"
#include "policy/cls_writes.h"
#include "policy/lexer.h"
#include "policy/policy.h"

#define CLS_VERB_MAX 64
/* Parenthesis nesting the classifier follows. Deeper text is refused
 * (unparseable): ORMs stay far below it, and the server's own limit
 * (max_stack_depth) is of the same order for expressions. */
#define CLS_MAX_DEPTH 256
/* DELETE/UPDATE/INSERT/MERGE open at once (CTEs, rule actions). */
#define CLS_MAX_FRAMES 32
/* Bound on policy_result.objects (audit field), in bytes. */
#define CLS_OBJECTS_MAX 1024

/* Separates the parts of a qualified name in cls_stmt.names (a quoted
 * identifier may itself contain '.'). */
#define CLS_NAME_SEP '\x1f'

/* Data-changing statements a statement runs, also inside a CTE, a rule, a
 * PREPARE or an EXPLAIN ANALYZE: lets verb=DELETE see them. */
#define CLS_DML_INSERT 0x1u
#define CLS_DML_UPDATE 0x2u
#define CLS_DML_DELETE 0x4u
#define CLS_DML_MERGE 0x8u

/* Growable buffer for the names of one statement; owned by the caller,
 * reused across calls, freed with free(buf). */
struct cls_names {
	char *buf;
	size_t len, cap;
};

struct cls_stmt {
	char verb[CLS_VERB_MAX]; /* "SELECT", "DROP TABLE", "" if unknown */
	unsigned flags;          /* POLICY_F_* */
	unsigned dml;            /* CLS_DML_* */
	size_t fp_start;         /* this statement in out->fingerprint */
	size_t fp_len;
	size_t text_start;       /* byte offset in the text where the server's
				    statement holding this one starts: just after
				    the ';' that ended the previous top-level
				    statement (0 for the first) */
	size_t text_end;         /* when not 0: offset of the ';' that ends the
				    server's statement (set when reading stopped
				    inside it, parentheses nested too deep) */
	/* borrowed from struct cls_names until the next cls_next: entries
	 * 'o' (object) or 'f' (function called; MySQL: 'q' when not written
	 * as a bare word directly followed by '(', 'p' the procedure of a
	 * CALL), then the name with parts
	 * separated by CLS_NAME_SEP, then a NUL */
	const char *names;
	size_t names_len;
	/* CREATE FUNCTION/PROCEDURE ... AS 'body': the body's string token,
	 * borrowed from the text (NULL when none); policy.c classifies the
	 * body too, since calling the function runs it */
	const char *body;
	size_t body_len;
	unsigned char body_flavor; /* enum lex_flavor */
	/* the body runs now, as a batch of its own (T-SQL EXEC('text'),
	 * sp_executesql N'text'): read as top-level text, unparseable counts;
	 * else it is a routine or block body (read in body_mode) */
	unsigned char body_batch;
	struct cls_kill kill; /* sessions it ends (with POLICY_F_ENDS_SESSION) */
	/* PostgreSQL CALL read with cls_opts.routines: flags come from the
	 * procedure's catalog facts (policy.c), not from the verb */
	unsigned char call;
	/* MySQL: a statement of a stored program body (trigger, event,
	 * routine): it runs later, not in this session's batch */
	unsigned char deferred;
};

/* One level of parentheses (private to classify.c). */
struct cls_level {
	uint8_t paren; /* how this level was opened */
	uint8_t arm;   /* the next name here is an object */
	uint8_t list;  /* a comma here arms again */
	uint8_t with;  /* a WITH here still waits for its main statement */
	uint8_t alias; /* the next name here is an alias */
	uint8_t start; /* the next token here may begin a statement */
};

struct cls_frame {
	int depth;
	uint8_t kind;    /* CLS_DML_* */
	uint8_t where;   /* WHERE seen at the frame's own level */
	uint8_t trivial; /* ... and it has referred to nothing so far */
};

/* Iterator over the statements of one text. Lives on the caller's stack;
 * every field is private to classify.c. */
struct cls_batch {
	struct lex lx;
	const struct cls_dialect *d; /* cls_dialect.h */
	int (*token_hook)(struct cls_batch *b); /* d->token */
	unsigned split_kinds;                   /* d->split_kinds, 0 without d->split */
	uint64_t dstate[8];          /* the dialect's own state (hooks only) */
	/* the dialect's tokenizer: pgl_next today; a MySQL tokenizer filling
	 * the same struct lex_token plugs in here */
	enum lex_kind (*next_token)(struct lex *lx, struct lex_token *t);
	/* ... its literal scanner and resume for the VALUES fast path
	 * (cls_values.c; lexer.h pgl_literal_end, pgl_resume) */
	const char *(*literal_end)(struct lex *lx, const char *p);
	void (*resume)(struct lex *lx, const char *p);
	int plain_path;        /* cls_opts.plain_path */
	const char *fast_stop; /* a '(' where the fast path stopped: not again */
	int fast_fails, fast_wait; /* back-off after tuples it could not take */
	struct lex_token cur, nx;
	int kw, nkw; /* keyword ids of cur and nx */
	struct policy_result *out;
	struct cls_names *names;
	size_t fp_len;
	int fp_glue, emitted; /* no space before the next token; tokens so far */
	int name_here;        /* cur is (the end of) a name: "name(" glues */
	int upper_here;       /* cur is a DDL kind word: upper-case it */
	int done, oom, need_sep, obj_cut;
	size_t text_start; /* where the next top-level statement starts (cls_stmt.text_start) */
	int mysql; /* d->forms & CLS_FORMS_MYSQL: MySQL words and forms */
	int body_mode; /* reading a function body: block words split statements */
	int routines;  /* cls_opts.routines */
	int call_proc; /* MySQL CALL read: the next name is the procedure */
	int kind_skip; /* MySQL CREATE DEFINER=... clause tokens read (+1 each) */
	/* WHERE structure per parenthesis level: the current OR-branch refers
	 * to a column; some branch at this level referred to nothing */
	uint8_t wref[CLS_MAX_DEPTH + 2], wtriv[CLS_MAX_DEPTH + 2];
	int wlast_ntok, weq_ntok; /* last column reference, last '=' */
	uint8_t wlast_save;
	const char *wlast_s;
	size_t wlast_len;

	/* the statement being read */
	struct cls_stmt *st;
	int depth, atomic, ntok, vid, ph, may_atomic;
	int prev_kind, prev_kw, prev_name; /* previous token */
	const char *prev_s; /* its text (borrowed) */
	size_t prev_len;
	char kind[40];                     /* DDL object kind being read */
	int explain_analyze, opt_name, opt_analyze, load_local;
	int set_rw;
	int watch_depth, watch_arg, watch_n[2], watch_lit[2];
	char watch_val[2][64];
	int next_paren;
	struct cls_kill_track kt;   /* cls_kill.c */
	struct cls_compound cmp;    /* cls_wrappers.c: MariaDB compound statement */
	int skip_words;             /* tokens before the wrapped statement's verb */
	int set_stmt;               /* MariaDB SET STATEMENT ... FOR */
	int where_fr;
	struct cls_writes w; /* cls_writes.c: write targets, MERGE, foreign data */
	int nfr;
	struct cls_frame fr[CLS_MAX_FRAMES];
	struct cls_level lv[CLS_MAX_DEPTH + 1];
};

struct cls_opts {
	int std_strings;          /* PG standard_conforming_strings (1 = on);
				     MySQL NO_BACKSLASH_ESCAPES (1 = on) */
	enum lex_encoding enc;
	enum policy_dialect dialect; /* which SQL (cls_dialect.h) */
	int mysql;                /* MySQL/MariaDB dialect (the older spelling of
				     .dialect = POLICY_DIALECT_MYSQL; either sets it) */
	int ansi_quotes;          /* MySQL sql_mode ANSI_QUOTES */
	int skip_versioned;       /* MySQL: versioned executable comments are plain
				     comments (a server older than the version) */
	unsigned long server_version; /* MySQL: the server's version (101106), 0 =
					 unknown (then skip_versioned decides) */
	int server_mariadb;       /* ... it is MariaDB */
	int body_mode;            /* the text is a function/procedure body (PL/pgSQL,
				     SQL/PSM): BEGIN, DECLARE, THEN, ELSE, ELSIF, LOOP,
				     EXCEPTION and END also end a statement, so that
				     the statements inside blocks are seen */
	int routines;             /* the caller knows what called routines
				     do (policy_request.routine): CALL sets st->call
				     instead of writes|dynamic */
	const char *database;     /* MySQL: current database (NULL = none) */
	int database_unknown;     /* MySQL: it may have changed unseen */
	int plain_path;           /* tests only: never take the literal-tuple fast
				     path (cls_values.h), to compare the two */
};

/* Start reading sql (len bytes). The fingerprint and objects of every
 * statement are appended to out->fingerprint / out->objects (which the
 * caller has reset); names go to *names. */
void cls_begin(struct cls_batch *b, const char *sql, size_t len,
	       const struct cls_opts *opts, struct policy_result *out,
	       struct cls_names *names);

/* Classify the next statement into *st. Returns 1 when *st holds one, 0 at
 * the end, -1 when a buffer could not grow (out of memory). Text that cannot
 * be tokenized yields a statement with POLICY_F_UNPARSEABLE and ends the
 * batch. */
int cls_next(struct cls_batch *b, struct cls_stmt *st)
	__attribute__((warn_unused_result));

#endif
