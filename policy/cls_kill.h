/* policy/cls_kill: statements that end or cancel a session.
 *
 * Every bastion user of a hosted account is the same database user, so the
 * server lets any of them end the others' sessions: the proxy is the only
 * guard. This module finds, token by token, what a statement would end:
 *   MySQL/MariaDB  KILL [HARD|SOFT] [CONNECTION|QUERY [ID]] expr | USER u
 *                  (comments, parentheses and executable comments are
 *                  already gone or read as SQL by the tokenizer)
 *   PostgreSQL     pg_terminate_backend(pid [, timeout]) and
 *                  pg_cancel_backend(pid), wherever they are called
 * A target is "mapped" when it is one plain decimal integer literal (maybe
 * in parentheses); anything else (an expression, a column, a subquery,
 * USER forms, QUERY ID, more than CLS_KILL_MAX targets) is "unmapped":
 * the proxy cannot tell whose session it is. policy.c decides with the
 * caller's ownership test (policy_request.owns_session).
 *
 * The classifier (classify.c) calls the hooks below; they never allocate.
 */
#ifndef SB_POLICY_CLS_KILL_H
#define SB_POLICY_CLS_KILL_H

#include <stddef.h>
#include <stdint.h>

#include "policy/lexer.h"

#define CLS_KILL_MAX 8

/* What one statement would end (part of struct cls_stmt). */
struct cls_kill {
	unsigned n;              /* mapped targets in ids[] */
	unsigned unmapped;       /* targets that name no literal session id */
	uint64_t ids[CLS_KILL_MAX];
};

/* Tracker state, private to cls_kill.c (lives in struct cls_batch). */
struct cls_kill_track {
	int mode;   /* 0 idle, 1 MySQL KILL statement, 2 PG function argument */
	int arm;    /* PG: the next '(' opens a kill function's arguments */
	int depth;  /* PG: parenthesis depth of those arguments */
	int opt;    /* MySQL: options read so far (0 none, 1 HARD|SOFT, 2 CONN|QUERY) */
	int query;  /* MySQL: after QUERY (ID may follow) */
	int done;   /* PG: the first argument ended (a ',' came) */
	int ntok;   /* tokens of the target expression (parentheses not counted) */
	int lit;    /* its only token so far is a decimal integer literal */
	uint64_t val;
};

/* A new statement starts. */
void cls_kill_reset(struct cls_kill_track *k, struct cls_kill *out);

/* MySQL KILL begins a statement: the following tokens name the target. */
void cls_kill_verb(struct cls_kill_track *k);

/* A function is called (unqualified name nm, n bytes, folded as the server
 * folds it). Returns 1 when it ends or cancels a session (the caller sets
 * POLICY_F_ENDS_SESSION); then the next '(' is its argument list. */
int cls_kill_func(struct cls_kill_track *k, struct cls_kill *out, const char *nm, size_t n,
		  int mysql);

/* '(' opened depth nd (after cls_kill_func: the argument list). */
void cls_kill_lparen(struct cls_kill_track *k, int nd);

/* Every token of the statement after its first word, with the parenthesis
 * depth before the token is applied. */
void cls_kill_token(struct cls_kill_track *k, struct cls_kill *out, const struct lex_token *t,
		    int depth);

/* The statement ended: settle a target still being read. */
void cls_kill_end(struct cls_kill_track *k, struct cls_kill *out);

/* The one KILL form sqlbastion's MySQL frontend rewrites to the backend's
 * thread id: the whole text is `KILL [HARD|SOFT] [CONNECTION|QUERY] <digits>`
 * separated by ASCII blanks, optionally followed by ';'s, under 128 bytes.
 * Its id is the PROXY session id (the one a client saw in the handshake);
 * in every other form the server reads the id as its own thread id.
 * Returns 1 with *query (KILL QUERY) and *id, else 0. */
int cls_kill_plain_form(const char *sql, size_t len, int *query, uint64_t *id);

#endif
