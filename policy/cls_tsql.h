/* policy/cls_tsql: what the two files of the T-SQL dialect share (private
 * to cls_tsql.c, boundaries and statements, and cls_tsql_exec.c, EXEC). */
#ifndef SB_POLICY_CLS_TSQL_H
#define SB_POLICY_CLS_TSQL_H

#include "policy/classify.h"

enum { EX_NONE, EX_NAME, EX_RET, EX_PAREN, EX_CLOSE, EX_TEXT, EX_DONE };

struct ts_state {
	/* the batch */
	uint8_t after_go; /* skip the count of "GO n" */
	uint16_t nstmt;   /* statements read in this batch (since GO) */
	/* the statement */
	uint8_t exec;     /* EX_*: reading an EXEC */
	uint8_t rest;     /* CREATE PROC & co after AS: the rest is the body */
	uint8_t routine;  /* CREATE/ALTER PROC|FUNCTION|TRIGGER|VIEW seen */
	uint8_t trigger;  /* ... a TRIGGER, before AS */
	uint8_t grant;    /* GRANT/DENY/REVOKE before TO/FROM */
	uint8_t src;      /* INSERT: its rows' source seen */
	uint8_t bulk;     /* BULK: INSERT follows */
	uint8_t or_alter; /* CREATE OR ALTER: ALTER follows */
	uint16_t cases;   /* CASE ... END open at depth 0 */
	const char *body_at;
	const char *last_end;
};

_Static_assert(sizeof(struct ts_state) <= sizeof(((struct cls_batch *)0)->dstate),
	       "ts_state fits cls_batch.dstate");

static inline struct ts_state *S(struct cls_batch *b)
{
	return (struct ts_state *)(void *)b->dstate;
}

/* The statement at cur is an EXEC (verb set to verb): read what it runs. */
void tsql_exec_begin(struct cls_batch *b, const char *verb);
/* One token of an EXEC; returns 1 when the core must not read it. */
int tsql_exec_token(struct cls_batch *b);

#endif
