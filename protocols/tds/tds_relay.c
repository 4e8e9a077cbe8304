/* tds_relay: TDS requests and replies once the session is logged in.
 *
 * Client to backend: a SQLBatch, RPC or transaction-manager request is
 * gathered whole (its packets kept as they came), each statement in it is
 * decided and audited (an RPC request: each call, with the SQL taken from
 * the parameter that holds it and the bound values audited), and the
 * packets are forwarded unchanged, or, when one statement is refused,
 * dropped and answered with ERROR 229 and DONE: the session goes on. A
 * prepared handle (sp_prepare, sp_prepexec, sp_cursorprepare...) runs
 * under the decision of its text once the server's RETURNVALUE confirmed
 * it; an unknown handle is refused (fail closed). Attention and bulk-load
 * packets pass as they are. TDS clients send no new request before the
 * reply ends (MARS is off): one that does waits until it has.
 * Backend to client: reply packets stream through as they arrive, their
 * tokens walked on the way (tds_tokens.h) for row counts, errors, handles
 * and the attention acknowledgement; the end of a reply message ends its
 * statements' query_end records.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tds/tds_conn.h"
#include "protocols/tds/tds_rpc.h"
#include "proxy/decide.h"
#include "proxy/session.h"
#include "proxy/stream.h"

#define NOT_RUN "not run: another call of the request was refused"

/* ---- the pending queue ---- */

static void pend_release(void *conn, void *entry, const char *error)
{
	struct tds_pending *p = entry;
	if (p->dec) {
		stmt_decision_clear(p->dec);
		free(p->dec);
		p->dec = NULL;
	}
}

/* stmt_ops.deny: a refused run of a prepared statement (stmt_approved_run);
 * the request's answer is written once all its calls are decided. */
static int pend_deny(void *conn, const struct policy_result *pres)
{
	struct tds_conn *c = conn;
	if (!c->denied) {
		c->denied = 1;
		snprintf(c->deny_msg, sizeof c->deny_msg, "%s", pres->message);
	}
	if (pres->action == POLICY_KILL)
		c->deny_kill = 1;
	return 1;
}

static const struct stmt_ops tds_ops = {
	.dialect = POLICY_DIALECT_TSQL,
	.entry_size = sizeof(struct tds_pending),
	.max_pending = STMT_MY_PENDING_MAX,
	.release = pend_release,
	.deny = pend_deny,
};

static void walk_done(void *ctx, uint8_t token, uint16_t status, uint64_t rows);
static void walk_error(void *ctx, uint32_t number, uint8_t cls, const char *msg);
static void walk_retval(void *ctx, uint16_t ordinal, const struct tds_type *t, const uint8_t *v,
			size_t n, int is_null);
static void walk_token(void *ctx, uint8_t token, const uint8_t *b, size_t n);

static const struct tds_walk_ops walk_ops = {
	.done = walk_done, .error = walk_error, .retval = walk_retval, .token = walk_token,
};

int tds_relay_init(struct tds_conn *c)
{
	stmt_queue_init(&c->pend, c->s, &tds_ops, c);
	c->req_raw = evbuffer_new();
	tds_buf_init(&c->req);
	if (!c->req_raw || tds_walker_init(&c->walk, &walk_ops, c) != 0)
		return -1;
	return 0;
}

static void handles_free(struct tds_conn *c)
{
	while (c->handles) {
		struct tds_handle *h = c->handles;
		c->handles = h->next;
		stmt_decision_clear(&h->dec);
		free(h);
	}
}

void tds_relay_free(struct tds_conn *c)
{
	stmt_queue_free(&c->pend);
	if (c->req_raw)
		evbuffer_free(c->req_raw);
	tds_buf_free(&c->req);
	tds_walker_free(&c->walk);
	handles_free(c);
	policy_result_free(&c->pres);
}

static struct tds_handle *handle_find(struct tds_conn *c, enum tds_prep kind, int32_t id)
{
	for (struct tds_handle *h = c->handles; h; h = h->next)
		if (h->kind == kind && h->handle == id)
			return h;
	return NULL;
}

static void handle_drop(struct tds_conn *c, enum tds_prep kind, int32_t id)
{
	for (struct tds_handle **pp = &c->handles; *pp; pp = &(*pp)->next) {
		if ((*pp)->kind == kind && (*pp)->handle == id) {
			struct tds_handle *h = *pp;
			*pp = h->next;
			stmt_decision_clear(&h->dec);
			free(h);
			return;
		}
	}
}

/* The head entry's reply ended: a prepare's handle is mapped when the
 * server confirmed it without an error. */
static void finish_head(struct tds_conn *c, const char *error)
{
	struct tds_pending *p = stmt_head(&c->pend);
	if (!p)
		return;
	if (p->prep != TDS_PREP_NONE && p->dec && p->handle_set && !p->hd.error && !error) {
		struct tds_handle *h = calloc(1, sizeof *h);
		if (h) {
			handle_drop(c, p->prep, p->handle);
			h->kind = p->prep;
			h->handle = p->handle;
			h->dec = *p->dec; /* moves what it owns */
			free(p->dec);
			p->dec = NULL;
			h->next = c->handles;
			c->handles = h;
		}
	}
	stmt_pop(&c->pend, error);
}

/* ---- the reply walk ---- */

static struct tds_pending *current(struct tds_conn *c)
{
	struct tds_pending *p = stmt_head(&c->pend);
	return p && p->kind == TDS_PEND_REQUEST ? p : NULL;
}

static void walk_done(void *ctx, uint8_t token, uint16_t status, uint64_t rows)
{
	struct tds_conn *c = ctx;
	struct tds_pending *p = current(c);
	if (!p)
		return;
	if ((status & TDS_DONE_COUNT) && token != TDS_TOK_DONEPROC)
		stmt_add_rows(&p->hd, (int64_t)rows);
	if ((status & (TDS_DONE_ERROR | TDS_DONE_SRVERROR)) && !p->hd.error)
		stmt_set_error(&p->hd, "%s", "the server reported an error");
	if (token == TDS_TOK_DONEPROC) {
		/* one call of a multi-call request ended */
		struct tds_pending *next = stmt_at(&c->pend, 1);
		if (next && next->kind == TDS_PEND_REQUEST && next->req == p->req)
			finish_head(c, NULL);
	}
}

static void walk_error(void *ctx, uint32_t number, uint8_t cls, const char *msg)
{
	struct tds_conn *c = ctx;
	struct tds_pending *p = current(c);
	if (p && cls > 10 && !p->hd.error)
		stmt_set_error(&p->hd, "%u: %s", number, msg);
}

static void walk_retval(void *ctx, uint16_t ordinal, const struct tds_type *t, const uint8_t *v,
			size_t n, int is_null)
{
	struct tds_conn *c = ctx;
	struct tds_pending *p = current(c);
	if (!p || p->prep == TDS_PREP_NONE || p->handle_set || is_null || !v || n != 4 ||
	    (t->id != TDS_T_INTN && t->id != TDS_T_INT4))
		return;
	p->handle = (int32_t)((uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
			      (uint32_t)v[3] << 24);
	p->handle_set = 1;
}

/* ENVCHANGE: the database the session is in now. */
static void walk_token(void *ctx, uint8_t token, const uint8_t *b, size_t n)
{
	struct tds_conn *c = ctx;
	if (token != TDS_TOK_ENVCHANGE || n < 2 || b[0] != 1)
		return;
	size_t chars = b[1];
	if (2 + chars * 2 > n)
		return;
	char *db = tds_utf16_to_utf8(b + 2, chars * 2, NULL);
	if (db && strlen(db) < sizeof c->s->ident.database)
		snprintf(c->s->ident.database, sizeof c->s->ident.database, "%s", db);
	free(db);
}

/* A reply message ended (its last packet relayed). */
static void message_end(struct tds_conn *c)
{
	int attn = c->walk.attn;
	/* a stream the walker gave up on may have held the acknowledgement:
	 * an attention owed is taken as answered rather than kept forever */
	int unread = c->walk.broken;
	tds_walker_end(&c->walk);
	struct tds_pending *p = stmt_head(&c->pend);
	if (p && p->kind == TDS_PEND_REQUEST) {
		uint64_t req = p->req;
		/* an attention sent before this reply ended cancelled it, whether
		 * the server's DONE(ATTN) closes this message or comes in its own
		 * (the client discards what the cancelled request returned) */
		int cancelled = attn;
		for (size_t i = 1; (p = stmt_at(&c->pend, i)) && !cancelled; i++)
			cancelled = p->kind == TDS_PEND_ATTN;
		while ((p = stmt_head(&c->pend)) && p->kind == TDS_PEND_REQUEST && p->req == req)
			finish_head(c, cancelled ? "cancelled" : NULL);
	}
	if (attn || unread) {
		p = stmt_head(&c->pend);
		if (p && p->kind == TDS_PEND_ATTN)
			stmt_pop(&c->pend, NULL);
	}
	tds_relay_resume(c);
}

void tds_relay_backend(struct tds_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_BACKEND);
	struct evbuffer *out = sess_output(s, SESS_CLIENT);
	while (!s->closing) {
		size_t have = evbuffer_get_length(in);
		if (c->pass_left[SESS_BACKEND]) {
			size_t k = have < c->pass_left[SESS_BACKEND] ? have : c->pass_left[SESS_BACKEND];
			if (!k)
				return;
			const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)k);
			if (!p) {
				sess_close(s, "out of memory");
				return;
			}
			(void)tds_walker_feed(&c->walk, p, k);
			evbuffer_remove_buffer(in, out, k);
			c->pass_left[SESS_BACKEND] -= k;
			sess_backpressure(s, SESS_CLIENT);
			if (c->pass_left[SESS_BACKEND] == 0 && c->bpkt_eom)
				message_end(c);
			continue;
		}
		if (have < TDS_HEADER_LEN)
			return;
		uint8_t h[TDS_HEADER_LEN];
		evbuffer_copyout(in, h, TDS_HEADER_LEN);
		struct tds_header hd;
		if (tds_header_parse(h, &hd) != 0 || hd.type != TDS_PKT_REPLY) {
			sess_close(s, "malformed reply packet from the backend");
			return;
		}
		evbuffer_remove_buffer(in, out, TDS_HEADER_LEN);
		c->pass_left[SESS_BACKEND] = hd.len - TDS_HEADER_LEN;
		c->bpkt_eom = hd.status & TDS_STATUS_EOM;
		if (c->pass_left[SESS_BACKEND] == 0 && c->bpkt_eom)
			message_end(c);
	}
}

/* ---- deciding ---- */

/* The result of deciding one statement of a request. */
struct call_out {
	uint64_t qid;                /* 0 = no record (refused, or nothing to run) */
	enum tds_prep prep;
	struct stmt_decision *dec;   /* owned: a prepare's decision */
	int unprepare;               /* 1 sp_unprepare, 2 sp_cursorunprepare */
	int32_t handle;
};

static void note_denied(struct tds_conn *c, const char *msg, int kill)
{
	if (!c->denied) {
		c->denied = 1;
		snprintf(c->deny_msg, sizeof c->deny_msg, "%s", msg);
	}
	if (kill)
		c->deny_kill = 1;
}

/* Audit sql as c->pres decided it; its query id when it may run. */
static uint64_t audit_decided(struct tds_conn *c, const char *sql, size_t len, const char *params)
{
	uint64_t qid = stmt_audit_result(c->s, sql, len, &c->pres, c->approval, params);
	if (!qid) {
		note_denied(c, SESS_AUDIT_DOWN_MESSAGE, 0);
		return 0;
	}
	if (c->pres.action >= POLICY_REVIEW) {
		note_denied(c, c->pres.message, c->pres.action == POLICY_KILL);
		return 0;
	}
	return qid;
}

static uint64_t decide_text(struct tds_conn *c, const char *sql, size_t len, const char *params)
{
	stmt_remember(c->current, sizeof c->current, sql, len);
	c->approval = stmt_evaluate(&c->pend, sql, len, &c->pres);
	return audit_decided(c, sql, len, params);
}

/* What the proxy cannot read is refused (rule fail-closed), audited as `what`. */
static void fail_closed(struct tds_conn *c, const char *what, const char *why, const char *params)
{
	size_t len = strlen(what);
	stmt_remember(c->current, sizeof c->current, what, len);
	(void)stmt_evaluate(&c->pend, what, len, &c->pres);
	c->approval = 0;
	c->pres.action = POLICY_DENY;
	snprintf(c->pres.rule, sizeof c->pres.rule, "fail-closed");
	snprintf(c->pres.message, sizeof c->pres.message,
		 "sqlbastion: blocked by rule 'fail-closed' (%s)", why);
	(void)audit_decided(c, what, len, params);
}

static int is_prepare(enum tds_proc p)
{
	return p == TDS_SP_PREPARE || p == TDS_SP_PREPEXEC || p == TDS_SP_CURSORPREPARE ||
	       p == TDS_SP_CURSORPREPEXEC;
}

/* Decide one RPC call into *o. Returns 0, or -1 out of memory. */
static int decide_call(struct tds_conn *c, const struct tds_rpc_call *call, struct call_out *o)
{
	memset(o, 0, sizeof *o);
	size_t vfrom;
	enum tds_proc proc = call->proc;
	int sqlp = tds_rpc_sql_param(proc, &vfrom);
	if (proc == TDS_SP_NONE || proc == TDS_SP_CURSOR)
		vfrom = 0; /* every parameter is a value */
	char *params = vfrom < call->nparams ? tds_params_json(call, vfrom) : NULL;
	if (vfrom < call->nparams && !params)
		return -1;
	const char *name = tds_rpc_proc_name(call);
	char what[200];
	snprintf(what, sizeof what, "EXEC %s", name);
	if (sqlp >= 0) {
		size_t len = 0;
		long at = tds_rpc_param_bound(call, (size_t)sqlp, "@stmt");
		char *sql = at >= 0 && (size_t)at < call->nparams ? tds_param_text(&call->params[at], &len)
								  : NULL;
		if (at < 0) {
			fail_closed(c, what, "another parameter is named @stmt", params);
		} else if (!sql) {
			fail_closed(c, what, "no statement text", params);
		} else {
			o->qid = decide_text(c, sql, len, params);
			if (o->qid && is_prepare(proc)) {
				o->dec = calloc(1, sizeof *o->dec);
				if (!o->dec || stmt_decision_set(o->dec, sql, len, &c->pres, c->approval) != 0) {
					free(o->dec);
					o->dec = NULL;
					free(sql);
					free(params);
					return -1;
				}
				o->prep = proc == TDS_SP_PREPARE || proc == TDS_SP_PREPEXEC ? TDS_PREP_EXEC
											: TDS_PREP_CURSOR;
			}
			free(sql);
		}
	} else if (proc == TDS_SP_EXECUTE || proc == TDS_SP_CURSOREXECUTE) {
		enum tds_prep kind = proc == TDS_SP_EXECUTE ? TDS_PREP_EXEC : TDS_PREP_CURSOR;
		int32_t id;
		struct tds_handle *h = NULL;
		long at = tds_rpc_param_bound(call, 0, proc == TDS_SP_EXECUTE ? "@handle" : "@prepared_handle");
		if (at >= 0 && (size_t)at < call->nparams && tds_param_int(&call->params[at], &id) == 0)
			h = handle_find(c, kind, id);
		if (!h) {
			fail_closed(c, what, "unknown prepared handle", params);
		} else {
			int64_t approval;
			stmt_remember(c->current, sizeof c->current, h->dec.sql, h->dec.sql_len);
			if (stmt_approved_run(&c->pend, &h->dec, &c->pres, &c->approval, params,
					      &approval) == 0) {
				o->qid = stmt_decision_audit(c->s, &h->dec, approval, params);
				if (!o->qid)
					note_denied(c, SESS_AUDIT_DOWN_MESSAGE, 0);
			}
		}
	} else if (proc == TDS_SP_UNPREPARE || proc == TDS_SP_CURSORUNPREPARE) {
		/* runs nothing: the handle is forgotten as the server forgets it */
		if (call->nparams && tds_param_int(&call->params[0], &o->handle) == 0)
			o->unprepare = proc == TDS_SP_UNPREPARE ? 1 : 2;
	} else if (proc == TDS_SP_CURSORFETCH || proc == TDS_SP_CURSOROPTION ||
		   proc == TDS_SP_CURSORCLOSE) {
		/* moves within a cursor opened under its own decision */
	} else if (proc == TDS_SP_PREPEXECRPC) {
		fail_closed(c, what, "sp_prepexecrpc is not supported", params);
	} else {
		/* a named procedure, or sp_cursor (positioned update/delete) */
		o->qid = decide_text(c, what, strlen(what), params);
	}
	free(params);
	return 0;
}

/* Forward the gathered request and remember the replies it is owed. */
static int forward(struct tds_conn *c, struct call_out *outs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tds_pending *p = stmt_push(&c->pend);
		if (!p)
			return -1;
		p->kind = TDS_PEND_REQUEST;
		p->req = c->req_no;
		p->hd.query_id = outs[i].qid;
		p->prep = outs[i].prep;
		p->dec = outs[i].dec;
		outs[i].dec = NULL;
	}
	evbuffer_add_buffer(sess_output(c->s, SESS_BACKEND), c->req_raw);
	sess_backpressure(c->s, SESS_BACKEND);
	return 0;
}

/* The request was refused: its audited calls will not run. */
static int refuse(struct tds_conn *c, struct call_out *outs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (outs[i].qid)
			sess_query_end(c->s, outs[i].qid, sess_now_us(), -1, NOT_RUN);
		if (outs[i].dec) {
			stmt_decision_clear(outs[i].dec);
			free(outs[i].dec);
			outs[i].dec = NULL;
		}
	}
	evbuffer_drain(c->req_raw, evbuffer_get_length(c->req_raw));
	if (tds_put_error_reply(sess_output(c->s, SESS_CLIENT), TDS_ERR_PERMISSION, 14, c->deny_msg,
				c->tds_version) != 0)
		return -1;
	if (c->deny_kill) {
		tds_set_state(c, TDS_ST_CLOSED);
		sess_close_after_flush(c->s, "kill rule: %s", c->pres.rule);
	}
	return 0;
}

static int handle_rpc(struct tds_conn *c, const uint8_t *p, size_t n)
{
	struct call_out *outs = NULL;
	size_t nout = 0, cap = 0, off = 0;
	int rc = 0;
	for (;;) {
		struct tds_rpc_call call;
		char err[120];
		int r = tds_rpc_next(p, n, &off, &call, TDS_PRE72(c->tds_version), err, sizeof err);
		if (r == 0)
			break;
		if (r < 0) {
			sess_log(c->s, LOG_WARN, "RPC request not readable: %s", err);
			fail_closed(c, "EXEC ?", err, NULL);
			break;
		}
		if (nout == cap) {
			size_t nc = cap ? cap * 2 : 4;
			struct call_out *no = realloc(outs, nc * sizeof *no);
			if (!no) {
				tds_rpc_call_free(&call);
				rc = -1;
				break;
			}
			outs = no;
			cap = nc;
		}
		rc = decide_call(c, &call, &outs[nout]);
		tds_rpc_call_free(&call);
		if (rc != 0)
			break;
		nout++;
	}
	if (rc == 0 && !nout && !c->denied)
		fail_closed(c, "EXEC ?", "an RPC request without a call", NULL);
	if (rc == 0) {
		if (c->denied) {
			rc = refuse(c, outs, nout);
		} else {
			for (size_t i = 0; i < nout; i++)
				if (outs[i].unprepare)
					handle_drop(c, outs[i].unprepare == 1 ? TDS_PREP_EXEC : TDS_PREP_CURSOR,
						    outs[i].handle);
			rc = forward(c, outs, nout);
		}
	}
	for (size_t i = 0; i < nout; i++)
		if (outs[i].dec) {
			stmt_decision_clear(outs[i].dec);
			free(outs[i].dec);
		}
	free(outs);
	return rc;
}

/* A whole SQLBatch, RPC or transaction-manager request. 0, or -1 (close). */
static int handle_request(struct tds_conn *c)
{
	const uint8_t *p = c->req.p;
	size_t n = c->req.len;
	/* ALL_HEADERS came with TDS 7.2 */
	long off = TDS_PRE72(c->tds_version) ? 0 : tds_skip_all_headers(p ? p : (const uint8_t *)"", n);
	if (off < 0) {
		sess_close(c->s, "malformed request headers");
		return -1;
	}
	p += off;
	n -= (size_t)off;
	c->denied = 0;
	c->deny_kill = 0;
	c->req_no++;
	if (c->req_type == TDS_PKT_RPC)
		return handle_rpc(c, p, n);
	struct call_out o = {0};
	if (c->req_type == TDS_PKT_SQLBATCH) {
		size_t len;
		char *sql = tds_utf16_to_utf8(p, n, &len);
		if (!sql)
			return -1;
		o.qid = decide_text(c, sql, len, NULL);
		free(sql);
	} else {
		const char *what = tds_transmgr_text(p, n);
		if (what)
			o.qid = decide_text(c, what, strlen(what), NULL);
		else
			fail_closed(c, "distributed transaction request",
				    "distributed transactions are not supported", NULL);
	}
	return c->denied ? refuse(c, &o, 1) : forward(c, &o, 1);
}

/* ---- client input ---- */

void tds_relay_resume(struct tds_conn *c)
{
	if (!c->held || c->s->closing)
		return;
	if (stmt_count(&c->pend) || stmt_queue_full(&c->pend))
		return;
	c->held = 0;
	sess_hold_client(c->s, 0);
	tds_relay_client(c);
}

static void hold(struct tds_conn *c)
{
	if (!c->held) {
		c->held = 1;
		sess_hold_client(c->s, 1);
	}
}

void tds_relay_client(struct tds_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	while (!s->closing && c->st == TDS_ST_READY) {
		if (c->pass_left[SESS_CLIENT]) {
			size_t k = stream_pass(s, SESS_CLIENT, &c->pass_left[SESS_CLIENT], 0);
			if (c->pass_left[SESS_CLIENT] || !k)
				return;
			if (c->pass_eom) {
				c->pass_eom = 0;
				struct call_out o = {0};
				c->req_no++;
				if (forward(c, &o, 1) != 0) {
					sess_close(s, "out of memory");
					return;
				}
			}
			continue;
		}
		size_t have = evbuffer_get_length(in);
		if (have < TDS_HEADER_LEN)
			return;
		uint8_t h[TDS_HEADER_LEN];
		evbuffer_copyout(in, h, TDS_HEADER_LEN);
		struct tds_header hd;
		if (tds_header_parse(h, &hd) != 0) {
			sess_close(s, "malformed packet from the client");
			return;
		}
		if (hd.type == TDS_PKT_ATTENTION) {
			if (have < hd.len)
				return;
			struct tds_pending *p = stmt_push(&c->pend);
			if (!p) {
				sess_close(s, "out of memory");
				return;
			}
			p->kind = TDS_PEND_ATTN;
			evbuffer_remove_buffer(in, sess_output(s, SESS_BACKEND), hd.len);
			sess_backpressure(s, SESS_BACKEND);
			continue;
		}
		/* the next request waits for the replies owed (MARS is off) */
		if (evbuffer_get_length(c->req_raw) == 0 && (stmt_count(&c->pend) || stmt_queue_full(&c->pend))) {
			hold(c);
			return;
		}
		if (hd.type == TDS_PKT_BULK) {
			c->pass_left[SESS_CLIENT] = hd.len;
			c->pass_eom = hd.status & TDS_STATUS_EOM;
			continue;
		}
		if (hd.type != TDS_PKT_SQLBATCH && hd.type != TDS_PKT_RPC && hd.type != TDS_PKT_TRANSMGR) {
			sess_close(s, "unexpected packet type 0x%02x from the client", hd.type);
			return;
		}
		if (evbuffer_get_length(c->req_raw) && hd.type != c->req_type) {
			sess_close(s, "packet type changed inside a request");
			return;
		}
		if (have < hd.len)
			return;
		c->req_type = hd.type;
		size_t pl = hd.len - TDS_HEADER_LEN;
		if (c->req.len + pl > TDS_REQUEST_MAX) {
			sess_close(s, "request longer than %u bytes", TDS_REQUEST_MAX);
			return;
		}
		const uint8_t *p = evbuffer_pullup(in, hd.len);
		if (!p) {
			sess_close(s, "out of memory");
			return;
		}
		tds_buf_add(&c->req, p + TDS_HEADER_LEN, pl);
		if (evbuffer_remove_buffer(in, c->req_raw, hd.len) != (int)hd.len || c->req.oom) {
			sess_close(s, "out of memory");
			return;
		}
		if (!(hd.status & TDS_STATUS_EOM))
			continue;
		/* an abandoned request gets no reply: it is neither run nor sent */
		int rc = hd.status & TDS_STATUS_IGNORE ? 0 : handle_request(c);
		tds_buf_free(&c->req);
		evbuffer_drain(c->req_raw, evbuffer_get_length(c->req_raw));
		if (rc != 0) {
			if (!s->closing)
				sess_close(s, "out of memory");
			return;
		}
	}
}
