/* policy/cls_dialect: what the classifier core asks of a SQL dialect.
 *
 * The core (classify.c and the cls_*.c files it calls) reads tokens, follows
 * parentheses, WHERE clauses, DML frames, DDL kinds and names; a dialect
 * descriptor gives it the tokenizer, the grammar forms it follows (forms)
 * and hooks for the statements only that dialect has. A new dialect is one
 * descriptor (cls_<name>.c) registered in cls_dialect.c: the core is not
 * edited. Hooks are optional (NULL = none) and run only for their dialect,
 * so a dialect without them pays nothing.
 *
 * Hooks may use the core services declared below and the fields of struct
 * cls_batch documented as readable (cur, nx, kw, nkw, depth, ntok, vid,
 * prev_*, st, lv, atomic); per-dialect state lives in cls_batch.dstate.
 */
#ifndef SB_POLICY_CLS_DIALECT_H
#define SB_POLICY_CLS_DIALECT_H

#include <stddef.h>

#include "policy/lexer.h"
#include "policy/policy.h"

struct cls_batch;
struct cls_opts;

/* cls_dialect.forms: grammar the core follows for the dialect. */
#define CLS_FORMS_MYSQL 0x1u /* MySQL/MariaDB forms: DO expr, PREPARE ... FROM,
				LOAD DATA, SELECT ... INTO OUTFILE|@v, SET GLOBAL,
				REPLACE, RENAME TABLE, multi-table UPDATE/DELETE,
				case-insensitive function names, compound
				statements, stored-program bodies, KILL */

/* What split() answers for the token at cur (depth 0). */
enum cls_split {
	CLS_SPLIT_NO = 0,   /* part of the statement being read */
	CLS_SPLIT_SKIP = 1, /* a separator: ends the statement, is not part of any */
	CLS_SPLIT_NEW = 2,  /* ends the statement; starts the next one */
};

struct cls_dialect {
	const char *name;
	unsigned forms; /* CLS_FORMS_* */
	/* Start the tokenizer over the text: fill b->lx and set b->next_token,
	 * b->literal_end and b->resume (lexer.h). */
	void (*lex_init)(struct cls_batch *b, const char *sql, size_t len,
			 const struct cls_opts *opts);
	/* Statement boundaries besides ';': called at depth 0 (atomic or not)
	 * for tokens whose kind has its bit (1u << kind) in split_kinds. */
	int (*split)(struct cls_batch *b);
	unsigned split_kinds;
	/* The first token of a statement (any kind; kw its keyword id or 0).
	 * Returns 1 when it set the verb (cls_set_verb) and flags. */
	int (*verb)(struct cls_batch *b, int kw);
	/* Every later token of the statement, before the core reads it.
	 * Returns 1 when the core should not read it (it is only emitted). */
	int (*token)(struct cls_batch *b);
	/* Flags of a called function: its name (parts separated by
	 * CLS_NAME_SEP, as written or folded) and the last part. */
	unsigned (*func_flags)(const char *name, size_t n, const char *last, size_t ln);
	/* Around every statement (reset dstate, fix flags at the end). */
	void (*stmt_begin)(struct cls_batch *b);
	void (*stmt_end)(struct cls_batch *b);
};

/* The descriptor of a dialect (cls_dialect.c); never NULL. */
const struct cls_dialect *cls_dialect_get(enum policy_dialect d);

/* The registered descriptors (one cls_<name>.c each). */
extern const struct cls_dialect cls_dialect_pg, cls_dialect_mysql, cls_dialect_tsql,
	cls_dialect_oracle;

/* ---- core services for hooks ------------------------------------------- */

/* verb = a [" " c] (both upper case) */
void cls_set_verb(struct cls_batch *b, const char *a, const char *c);
/* The statement is read as one the core cannot name: no phase, no
 * object armed; its tokens are still read for calls and subqueries. */
void cls_dialect_verb(struct cls_batch *b, const char *a, const char *c);
/* The next name at the current level is an object of the statement. */
void cls_arm_object(struct cls_batch *b);
/* Record a name: type 'o' object, 'f' function called, 'p' procedure. */
void cls_add_name(struct cls_batch *b, char type, const char *nm, size_t n);
/* Emit cur to the fingerprint and move to the next token (hooks that read
 * ahead; the token is not seen by the core). */
void cls_skip(struct cls_batch *b);
/* The core's reading of a statement whose first word is keyword kw. */
void cls_core_verb(struct cls_batch *b, int kw);
/* A DELETE/UPDATE/INSERT/MERGE statement starts at cur's keyword kw. */
void cls_dml_begin(struct cls_batch *b, int kw);

/* Is t the word w (ASCII, case-insensitive)? */
int cls_word_is(const struct lex_token *t, const char *w);
/* Is t alone on its line (only blanks around it) in text base? */
int cls_alone_on_line(const char *base, const char *end, const struct lex_token *t);

#endif
