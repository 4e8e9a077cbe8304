/* policy/cls_values: the classifier's fast path over lists of literal
 * tuples (private to policy/).
 *
 * Why: clients send bulk rows and BLOBs as text inside one statement
 * (INSERT ... VALUES (..), (..), ... up to max_message, 16 MiB), and the
 * statement is classified on the event loop every session shares. Through
 * the plain path every token of such a list costs a tokenizer call, a
 * keyword lookup and a classifier step (about 35 ns, 150 MB/s); here a tuple
 * whose items are all literals is read in one tight loop that writes the
 * same fingerprint, and the classifier then sets the state the plain path
 * would have reached (classify.c values_fast, which also checks that the
 * state is one where these tokens change nothing else).
 *
 * What counts as an item: a number or string literal as the dialect's own
 * scanner reads it (pgl_literal_end / myl_literal_end, so escapes, doubled
 * quotes, sql_mode and multibyte client encodings are honoured by the same
 * code), a sign directly before a number, NULL / TRUE / FALSE / DEFAULT,
 * and an ASCII word that is not a keyword, alone or before a literal
 * (_binary '..', date '..'). Anything else (a comment, a nested
 * parenthesis, a function call, a parameter, an operator) ends the run
 * before the tuple that holds it: the plain path reads that tuple.
 */
#ifndef SB_POLICY_CLS_VALUES_H
#define SB_POLICY_CLS_VALUES_H

#include <stddef.h>

struct cls_batch;

/* What a run read (filled by cls_values_scan). */
struct cls_values_run {
	const char *end;   /* just past the last ')' read; NULL: no tuple */
	const char *stop;  /* the '(' of the tuple that ended the run, or NULL */
	size_t fp_len;     /* fingerprint length with the tuples written */
	int ntok;          /* tokens read (as the tokenizer would count them) */
};

/* Read tuples of literals from b->cur (a '(') on: "(..)" then, while the
 * next tokens are ',' '(', more. Writes their fingerprint into
 * b->out->fingerprint from b->fp_len on (growing it; b->oom on failure)
 * but changes no other classifier state; b->lx.ambiguous is left as the
 * plain path leaves it after the tuples read. Returns 1 when at least one
 * tuple was read, else 0. */
int cls_values_scan(struct cls_batch *b, struct cls_values_run *r);

#endif
