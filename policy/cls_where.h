/* policy/cls_where: is the WHERE of a DELETE/UPDATE (or MERGE's ON)
 * trivial? (private to policy/)
 *
 * The classifier calls these from its one pass. A WHERE is trivial when,
 * at its own parenthesis level, one OR-branch refers to no column (WHERE
 * 1=1, WHERE id = 1 OR true, WHERE now() IS NOT NULL, WHERE id = id); a
 * parenthesized group that is trivial counts as a constant. The state
 * lives in struct cls_batch (where_fr, wref, wtriv, wlast_*, weq_ntok);
 * classify.c frame_close reads the verdict from wref/wtriv.
 */
#ifndef SB_POLICY_CLS_WHERE_H
#define SB_POLICY_CLS_WHERE_H

struct cls_batch;
struct lex_token;

/* WHERE (or MERGE ... ON) at the current token: starts following it when
 * the innermost DML frame is at this parenthesis level. */
void cls_where_begin(struct cls_batch *b);

/* Every token of the statement (kw: its keyword id), before the
 * classifier handles it; does nothing unless a WHERE is being followed. */
void cls_where_token(struct cls_batch *b, const struct lex_token *t, int kw);

#endif
