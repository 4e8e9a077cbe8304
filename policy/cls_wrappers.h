/* policy/cls_wrappers: statements that run other statements, read by what
 * they run (MariaDB).
 *
 * - Compound statements outside stored programs: BEGIN NOT ATOMIC ... END
 *   with any nesting of BEGIN ... END, IF/CASE/LOOP/WHILE/REPEAT/FOR and
 *   handlers. The classifier splits the body into parts at ';' and at the
 *   block words below, so every statement inside is classified on its own
 *   and the batch rule (one denied part denies the whole) applies. A part
 *   that starts with a control-flow word (IF c, WHILE c, UNTIL c, DECLARE
 *   ..., a label) is "procedural": it runs nothing itself, but a statement
 *   word at its own level starts the statement it wraps (DECLARE ... HANDLER
 *   FOR SQLEXCEPTION DELETE ...).
 * - SET STATEMENT ... FOR stmt, ANALYZE [FORMAT=JSON] stmt: classify.c
 *   restarts the statement at the wrapped statement's verb.
 * This file holds the compound statement's bookkeeping and the server
 * version parser; it never allocates.
 */
#ifndef SB_POLICY_CLS_WRAPPERS_H
#define SB_POLICY_CLS_WRAPPERS_H

#include "policy/lexer.h"

struct cls_compound {
	int level;   /* BEGIN ... END blocks open; 0 = not in a compound statement */
	int closing; /* its outermost END was read: it ends with the current part */
	int cx;      /* CASE expressions open in the current part: their
			THEN / ELSE / END split nothing */
};

/* BEGIN NOT ATOMIC was read: a compound statement starts. */
void cls_compound_begin(struct cls_compound *c);

/* Is a compound statement being read? */
int cls_compound_active(const struct cls_compound *c);

/* A new part starts. */
void cls_compound_part(struct cls_compound *c);

/* A ';' ended a part at the outermost level. */
void cls_compound_semi(struct cls_compound *c);

/* cur is a bare word at parenthesis depth 0 of the current part, after
 * ntok tokens of it; procedural: the part is control flow. Returns 1 when
 * the word is a block word that ends the part (the caller drops it). */
int cls_compound_word(struct cls_compound *c, const struct lex_token *cur,
		      const struct lex_token *nx, int ntok, int procedural);

/* Does a part that starts with cur (next token nx) start with a
 * control-flow word or a label? */
int cls_compound_procedural(const struct lex_token *cur, const struct lex_token *nx);

/* Does a MySQL statement that starts with cur begin a compound statement
 * (IF, CASE, LOOP, WHILE, REPEAT, FOR, or a label: "lbl:")? */
int cls_compound_toplevel(const struct lex_token *cur, const struct lex_token *nx);

/* Version of a MySQL/MariaDB server from its handshake's version string
 * ("10.11.6-MariaDB-log", "5.5.5-10.11.6-MariaDB", "8.0.36"): 101106, 80036;
 * *mariadb says whether it is MariaDB. 0 when the string cannot be read. */
unsigned long cls_mysql_version(const char *s, int *mariadb);

#endif
