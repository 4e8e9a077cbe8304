/* stmt: the statement machinery every frontend shares (see stmt.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/decide.h"
#include "proxy/session.h"
#include "proxy/stmt.h"

void stmt_queue_init(struct stmt_queue *q, struct session *s, const struct stmt_ops *ops,
		     void *conn)
{
	memset(q, 0, sizeof *q);
	q->ops = ops;
	q->conn = conn;
	q->s = s;
	policy_result_init(&q->pres);
	s->pending = q;
}

void stmt_queue_free(struct stmt_queue *q)
{
	if (!q->ops)
		return; /* never set up */
	while (q->ring.len)
		stmt_pop(q, STMT_NO_REPLY_SESSION_ENDED);
	sb_ring_free(&q->ring);
	policy_result_free(&q->pres);
	if (q->s && q->s->pending == q)
		q->s->pending = NULL;
	q->ops = NULL; /* freed: a second call does nothing */
}

int stmt_relay_next(struct stmt_queue *q, enum sess_side from)
{
	struct session *s = q->s;
	for (;;) {
		int paused = from == SESS_CLIENT ? s->client_paused : s->backend_paused;
		if (s->closing || s->close_after_flush || paused)
			return 0;
		if (!stmt_streaming(q, from))
			return 1;
		if (!stmt_stream(q, from, 0))
			return 0;
	}
}

void *stmt_push(struct stmt_queue *q)
{
	struct stmt_pending *p = sb_ring_push(&q->ring, q->ops->entry_size);
	if (!p)
		return NULL;
	p->seq = ++q->seq;
	p->rows = -1;
	p->start_us = sess_now_us();
	return p;
}

void stmt_drop_tail(struct stmt_queue *q)
{
	sb_ring_drop_tail(&q->ring);
}

static void end_record(struct stmt_queue *q, struct stmt_pending *p, const char *error_if_unset)
{
	sess_query_end(q->s, p->query_id, p->start_us, p->rows,
		       p->error ? p->error : error_if_unset);
	p->query_id = 0; /* written: never twice */
}

void stmt_pop(struct stmt_queue *q, const char *error_if_unset)
{
	struct stmt_pending *p = stmt_head(q);
	if (!p)
		return;
	end_record(q, p, error_if_unset);
	q->ops->release(q->conn, p, error_if_unset);
	free(p->error);
	sb_ring_pop(&q->ring);
}

void stmt_end_all(struct stmt_queue *q, const char *error)
{
	for (size_t i = 0; i < q->ring.len; i++)
		end_record(q, stmt_at(q, i), error);
}

const char *stmt_queue_full(const struct stmt_queue *q)
{
	if (q->ring.len >= q->ops->max_pending)
		return "replies owed";
	if (q->local_bytes >= STMT_LOCAL_BYTES_MAX)
		return "proxy replies queued";
	return NULL;
}

void stmt_set_error(struct stmt_pending *p, const char *fmt, ...)
{
	if (p->error)
		return;
	char e[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e, sizeof e, fmt, ap);
	va_end(ap);
	p->error = strdup(e);
}

void stmt_add_rows(struct stmt_pending *p, int64_t n)
{
	p->rows = (p->rows < 0 ? 0 : p->rows) + n;
}

/* ---- decisions ---- */

void stmt_remember(char *current, size_t cap, const char *sql, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;
	memcpy(current, sql, n);
	current[n] = '\0';
}

int64_t stmt_evaluate(struct stmt_queue *q, const char *sql, size_t len,
		      struct policy_result *pres)
{
	return sess_evaluate(q->s, q->ops->dialect, sql, len, pres);
}

void stmt_decide(struct stmt_queue *q, const char *sql, size_t len)
{
	q->approval = stmt_evaluate(q, sql, len, &q->pres);
}

uint64_t stmt_audit_decided(struct stmt_queue *q, const char *sql, size_t len,
			    const char *params)
{
	return stmt_audit_result(q->s, sql, len, &q->pres, q->approval, params);
}

uint64_t stmt_audit_result(struct session *s, const char *sql, size_t len,
			   const struct policy_result *pres, int64_t approval, const char *params)
{
	struct sess_stmt_info st = {.sql = sql, .len = len, .verb = pres->verb,
				    .fingerprint = pres->fingerprint, .objects = pres->objects,
				    .rule = pres->rule, .action = pres->action,
				    .params = params, .approval = approval};
	return sess_audit_statement(s, &st);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int stmt_decision_set(struct stmt_decision *d, const char *sql, size_t len,
		      const struct policy_result *pres, int64_t approval)
{
	d->sql = malloc(len + 1);
	d->verb = dup_or_empty(pres->verb);
	d->fingerprint = dup_or_empty(pres->fingerprint);
	d->objects = dup_or_empty(pres->objects);
	d->rule = dup_or_empty(pres->rule);
	d->action = pres->action;
	d->approval = approval;
	if (!d->sql || !d->verb || !d->fingerprint || !d->objects || !d->rule) {
		stmt_decision_clear(d);
		return -1;
	}
	memcpy(d->sql, sql, len);
	d->sql[len] = '\0';
	d->sql_len = len;
	return 0;
}

int stmt_decision_keep(struct stmt_queue *q, struct stmt_decision *d, const char *sql,
		       size_t len)
{
	return stmt_decision_set(d, sql, len, &q->pres, q->approval);
}

void stmt_decision_clear(struct stmt_decision *d)
{
	free(d->sql);
	free(d->verb);
	free(d->fingerprint);
	free(d->objects);
	free(d->rule);
	memset(d, 0, sizeof *d);
}

uint64_t stmt_decision_audit(struct session *s, const struct stmt_decision *d, int64_t approval,
			     const char *params)
{
	struct sess_stmt_info si = {.sql = d->sql, .len = d->sql_len, .verb = d->verb,
				    .fingerprint = d->fingerprint, .objects = d->objects,
				    .rule = d->rule, .action = d->action, .params = params,
				    .approval = approval};
	return sess_audit_statement(s, &si);
}

void stmt_decision_audit_unreadable(struct session *s, const struct stmt_decision *d,
				    const char *decision, const char *error)
{
	struct sess_stmt_info si = {.sql = d->sql, .len = d->sql_len, .verb = d->verb,
				    .fingerprint = d->fingerprint, .objects = d->objects,
				    .rule = "fail-closed", .action = POLICY_DENY,
				    .decision = decision, .error = error};
	if (!sess_audit_statement(s, &si))
		sess_log(s, LOG_ERR, "audit failed for a statement the classifier could not read");
}

int stmt_approved_run(struct stmt_queue *q, struct stmt_decision *d, struct policy_result *pres,
		      int64_t *last_approval, const char *params, int64_t *run_approval)
{
	*run_approval = d->approval;
	if (!d->approval)
		return 0;
	if (!d->approval_spent) {
		d->approval_spent = 1;
		return 0;
	}
	*last_approval = stmt_evaluate(q, d->sql, d->sql_len, pres);
	*run_approval = *last_approval;
	if (pres->action < POLICY_REVIEW)
		return 0;
	if (!stmt_audit_result(q->s, d->sql, d->sql_len, pres, *last_approval, params))
		sess_log(q->s, LOG_ERR, "audit failed for a denied statement");
	return q->ops->deny(q->conn, pres);
}

int stmt_approved_run_q(struct stmt_queue *q, struct stmt_decision *d, const char *params,
			int64_t *run_approval)
{
	return stmt_approved_run(q, d, &q->pres, &q->approval, params, run_approval);
}
