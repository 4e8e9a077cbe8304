/* tns_relay: the session after ACCEPT. Packets pass between the two sides
 * as they are (MARKER, CONTROL and the server's replies unread); the
 * client's DATA packets are gathered per TTC call until tns_ttc says the
 * call is whole, then:
 *   - O5LOGON (AUTH phase one and two): the database user must be the
 *     token's account, else the session ends (audited);
 *   - OALL8 with SQL text: policy decision (POLICY_DIALECT_ORACLE) and
 *     the `query` record (text, binds, cursor) before it is forwarded; a
 *     denial is not forwarded and the client gets ORA-01031;
 *   - re-execute by cursor id: the text the cursor map holds for it;
 *   - fetch, commit, rollback, logoff: recognised, not audited as
 *     statements.
 * TTC is synchronous (a client sends its next call only after the reply
 * to the last one), so the reply to a call has ended when the next call
 * arrives or the session ends: that is when its query_end is written.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocols/tns/tns_conn.h"
#include "proxy/decide.h"
#include "proxy/session.h"
#include "proxy/stream.h"

#define ORA_INSUFFICIENT_PRIVILEGES 1031

/* ---- cursor map: text by cursor id ---- */

static struct tns_cursor *cursor_find(struct tns_conn *c, uint32_t id)
{
	for (size_t i = 0; i < c->ncursors; i++)
		if (c->cursors[i].id == id)
			return &c->cursors[i];
	return NULL;
}

static void cursor_forget(struct tns_conn *c, uint32_t id)
{
	struct tns_cursor *k = cursor_find(c, id);
	if (!k)
		return;
	free(k->sql);
	free(k->meta);
	*k = c->cursors[--c->ncursors];
}

/* Enter id's text (copied) and bind types (taken: *meta becomes NULL). */
static void cursor_set(struct tns_conn *c, uint32_t id, const char *sql, size_t len,
		       struct tns_bind_meta **meta, uint32_t nmeta)
{
	struct tns_cursor *k = cursor_find(c, id);
	if (!k) {
		if (c->ncursors >= TNS_CURSORS_MAX)
			return;
		if (!c->cursors) {
			c->cursors = calloc(TNS_CURSORS_MAX, sizeof *c->cursors);
			if (!c->cursors)
				return;
		}
		k = &c->cursors[c->ncursors++];
		k->id = id;
		k->sql = NULL;
		k->meta = NULL;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, sql, len);
	copy[len] = '\0';
	free(k->sql);
	k->sql = copy;
	k->len = len;
	free(k->meta);
	k->meta = *meta;
	k->nmeta = *meta ? nmeta : 0;
	*meta = NULL;
}

static const struct tns_bind_meta *binds_of(void *ctx, uint32_t cursor, uint32_t *n)
{
	struct tns_cursor *k = cursor_find(ctx, cursor);
	*n = k ? k->nmeta : 0;
	return k ? k->meta : NULL;
}

/* ---- the statement queue ---- */

static void pending_release(void *conn, void *entry, const char *error)
{
	struct tns_pending *p = entry;
	free(p->sql);
	p->sql = NULL;
	free(p->meta);
	p->meta = NULL;
}

/* Write ORA-01031 with the policy's message as the reply to the call the
 * client is waiting on (a TTC error message in one DATA packet). */
static int put_error(struct tns_conn *c, int code, const char *msg)
{
	uint8_t b[1024];
	size_t n = 0;
	char text[512];
	int tl = snprintf(text, sizeof text, "ORA-%05d: %s", code, msg);
	if (tl < 0 || tl > 250)
		tl = 250;
#define U8(v) (b[n++] = (uint8_t)(v))
#define UB(v) do { uint32_t v_ = (uint32_t)(v); if (!v_) U8(0); else if (v_ <= 0xff) { U8(1); U8(v_); } else { U8(2); U8(v_ >> 8); U8(v_); } } while (0)
	U8(4);     /* message type: error */
	UB(0);     /* call status */
	UB(0);     /* end-to-end seq */
	UB(0);     /* current row */
	UB(code);  /* error number */
	UB(0);
	UB(0);     /* array element errors */
	UB(0);     /* cursor id */
	UB(0);     /* error position */
	U8(0);     /* sql type */
	U8(0);     /* fatal */
	UB(0);     /* flags */
	UB(0);     /* user cursor options */
	U8(0);     /* UPI parameter */
	U8(0);     /* warning flag */
	UB(0); UB(0); U8(0); UB(0); UB(0); /* rowid */
	UB(0);     /* OS error */
	U8(0);     /* statement number */
	U8(0);     /* call number */
	UB(0);     /* padding */
	UB(0);     /* success iterations */
	UB(0);     /* oerrdd */
	UB(0);     /* batch error codes */
	UB(0);     /* batch error offsets */
	UB(0);     /* batch error messages */
	UB(code);  /* error number (extended) */
	UB(0);     /* row count */
	U8(tl);
	memcpy(b + n, text, (size_t)tl);
	n += (size_t)tl;
#undef U8
#undef UB
	uint8_t pkt[1200];
	long pl = tns_build_data(pkt, sizeof pkt, c->large, 0, b, n);
	if (pl < 0)
		return -1;
	evbuffer_add(sess_output(c->s, SESS_CLIENT), pkt, (size_t)pl);
	return 1;
}

static int pending_deny(void *conn, const struct policy_result *pres)
{
	struct tns_conn *c = conn;
	if (pres->action == POLICY_KILL) {
		sess_close(c->s, "killed by rule '%s'", pres->rule);
		return -1;
	}
	return put_error(c, ORA_INSUFFICIENT_PRIVILEGES,
			 pres->message);
}

static const struct stmt_ops tns_stmt_ops = {
	.dialect = POLICY_DIALECT_ORACLE,
	.entry_size = sizeof(struct tns_pending),
	.max_pending = 64,
	.release = pending_release,
	.deny = pending_deny,
};

void tns_relay_init(struct tns_conn *c)
{
	stmt_queue_init(&c->pend, c->s, &tns_stmt_ops, c);
	c->token_mode = -1;
	policy_result_init(&c->pres);
}

void tns_relay_free(struct tns_conn *c)
{
	stmt_queue_free(&c->pend);
	policy_result_free(&c->pres);
	if (c->held)
		evbuffer_free(c->held);
	free(c->call);
	for (size_t i = 0; i < c->ncursors; i++) {
		free(c->cursors[i].sql);
		free(c->cursors[i].meta);
	}
	free(c->cursors);
}

/* The reply to the call in flight has ended: the client starts its next
 * call. Read the reply's end-of-call message: an execute's text enters
 * the cursor map only now, under the cursor id the server's reply names
 * (the proxy's map changes only on the server's confirmation). */
static void reply_ended(struct tns_conn *c)
{
	struct tns_pending *p = stmt_head(&c->pend);
	struct tns_call_end e;
	if (!p || c->tail_len == 0 || tns_ttc_call_end(c->tail, c->tail_len, &e) != 0) {
		c->tail_len = 0;
		return;
	}
	c->tail_len = 0;
	p->ran_on = e.cursor;
	if (e.rows)
		p->head.rows = (int64_t)e.rows;
	else if (p->head.rows < 0)
		p->head.rows = 0;
	/* 1403 "no data found" ends a fetch normally */
	if (e.error && e.error != 1403 && !p->head.error)
		stmt_set_error(&p->head, "%s", e.message[0] ? e.message : "ORA error");
	if (p->sql && e.cursor && (e.error == 0 || e.error == 1403))
		cursor_set(c, e.cursor, p->sql, p->len, &p->meta, p->nmeta);
	free(p->sql);
	p->sql = NULL;
	free(p->meta);
	p->meta = NULL;
}

/* The next call is read: fetches on the cursor of the statement at hand
 * extend it (its query_end counts their rows); any other call ends it. */
static void statement_over(struct tns_conn *c, const struct tns_call *next)
{
	struct tns_pending *p = stmt_head(&c->pend);
	if (!p)
		return;
	if (next && next->msg == TTC_MSG_FUNCTION && next->func == TTC_FN_FETCH && p->ran_on &&
	    next->cursor == p->ran_on)
		return;
	while (stmt_head(&c->pend))
		stmt_pop(&c->pend, NULL);
}

/* A reply's payload bytes: keep the last TNS_TAIL_MAX. */
static void keep_tail(struct tns_conn *c, const uint8_t *p, size_t n)
{
	if (n >= TNS_TAIL_MAX) {
		memcpy(c->tail, p + n - TNS_TAIL_MAX, TNS_TAIL_MAX);
		c->tail_len = TNS_TAIL_MAX;
		return;
	}
	if (c->tail_len + n > TNS_TAIL_MAX) {
		size_t drop = c->tail_len + n - TNS_TAIL_MAX;
		memmove(c->tail, c->tail + drop, c->tail_len - drop);
		c->tail_len -= drop;
	}
	memcpy(c->tail + c->tail_len, p, n);
	c->tail_len += n;
}

static void forward_held(struct tns_conn *c)
{
	evbuffer_add_buffer(sess_output(c->s, SESS_BACKEND), c->held);
	sess_backpressure(c->s, SESS_BACKEND);
	c->call_len = 0;
}

static void drop_held(struct tns_conn *c)
{
	evbuffer_drain(c->held, evbuffer_get_length(c->held));
	c->call_len = 0;
}

/* Decide, audit and forward (or refuse) a statement. */
static void run_statement(struct tns_conn *c, struct tns_call *call, const char *sql,
			  size_t len, int parses)
{
	struct session *s = c->s;
	int64_t approval = stmt_evaluate(&c->pend, sql, len, &c->pres);
	stmt_remember(c->current, sizeof c->current, sql, len);
	uint64_t qid = stmt_audit_result(s, sql, len, &c->pres, approval, call->params);
	if (qid == 0) {
		drop_held(c);
		put_error(c, ORA_INSUFFICIENT_PRIVILEGES, SESS_AUDIT_DOWN_MESSAGE);
		return;
	}
	if (c->pres.action >= POLICY_REVIEW) {
		drop_held(c);
		/* the record above already says deny; its query_end too */
		sess_query_end(s, qid, sess_now_us(), -1, c->pres.message);
		(void)tns_stmt_ops.deny(c, &c->pres);
		return;
	}
	struct tns_pending *p = stmt_push(&c->pend);
	if (p) {
		p->head.query_id = qid;
		p->func = call->func;
		p->cursor = call->cursor;
		if (parses && (p->sql = malloc(len + 1))) {
			memcpy(p->sql, sql, len);
			p->sql[len] = '\0';
			p->len = len;
			p->meta = call->meta; /* taken */
			p->nmeta = call->nbinds;
			call->meta = NULL;
		}
	} else {
		sess_query_end(s, qid, sess_now_us(), -1, NULL);
	}
	forward_held(c);
}

/* A run of a cursor whose text the proxy does not know (its parse was
 * never confirmed, or it was made where the proxy could not read it): the
 * audit could not say what ran, so it is refused. */
static void unknown_cursor(struct tns_conn *c, const struct tns_call *call)
{
	char text[96], msg[160];
	int tl = snprintf(text, sizeof text, "/* sqlbastion: run of cursor %u, text unknown */",
			  call->cursor);
	snprintf(msg, sizeof msg, "sqlbastion: blocked by rule 'unknown-cursor' (cursor %u)",
		 call->cursor);
	struct sess_stmt_info st = {.sql = text, .len = (size_t)tl, .rule = "unknown-cursor",
				    .action = POLICY_DENY, .params = call->params};
	uint64_t qid = sess_audit_statement(c->s, &st);
	if (qid)
		sess_query_end(c->s, qid, sess_now_us(), -1, msg);
	drop_held(c);
	(void)put_error(c, ORA_INSUFFICIENT_PRIVILEGES, msg);
}

static void on_call(struct tns_conn *c, struct tns_call *call)
{
	struct session *s = c->s;
	statement_over(c, call);
	for (int i = 0; i < call->nclosed; i++)
		cursor_forget(c, call->closed[i]);
	if (call->msg != TTC_MSG_FUNCTION) {
		forward_held(c);
		return;
	}
	switch (call->func) {
	case TTC_FN_AUTH1:
	case TTC_FN_AUTH2: {
		const char *want = s->ident.target.db_username;
		if (call->user[0] && strcasecmp(call->user, want) != 0) {
			char why[320];
			snprintf(why, sizeof why,
				 "database user '%.128s' is not the token's account '%.128s'",
				 call->user, want);
			login_audit_failed(s, &c->login, why);
			sess_close(s, "%s", why);
			return;
		}
		c->user_checked = 1;
		c->token_mode = call->token;
		forward_held(c);
		return;
	}
	case TTC_FN_EXECUTE:
		if (call->sql) {
			run_statement(c, call, call->sql, call->sql_len, 1);
			return;
		}
		/* an execute of a cursor already parsed */
		__attribute__((fallthrough));
	case TTC_FN_REEXECUTE:
	case TTC_FN_REEXECUTE_FETCH: {
		struct tns_cursor *k = cursor_find(c, call->cursor);
		if (k) {
			run_statement(c, call, k->sql, k->len, 0);
			return;
		}
		unknown_cursor(c, call);
		return;
	}
	case TTC_FN_LOGOFF:
		sess_set_phase(s, "logoff");
		forward_held(c);
		return;
	default: /* fetch, commit, rollback, ping, LOB calls, ... */
		forward_held(c);
		return;
	}
}

/* A whole client DATA packet: gather it into the call being read. */
static void client_data(struct tns_conn *c, const uint8_t *pkt, size_t len)
{
	struct session *s = c->s;
	const uint8_t *p;
	size_t n;
	uint16_t flags;
	if (tns_data_payload(pkt, len, c->large, &p, &n, &flags) != 0) {
		sess_close(s, "malformed TNS DATA packet from the client");
		return;
	}
	if (!c->held && !(c->held = evbuffer_new())) {
		sess_close(s, "out of memory");
		return;
	}
	if (c->call_len + n > TNS_CALL_MAX) {
		sess_close(s, "TTC call larger than %u bytes", TNS_CALL_MAX);
		return;
	}
	if (c->call_len + n > c->call_cap) {
		size_t cap = (c->call_len + n) * 2;
		uint8_t *nc = realloc(c->call, cap);
		if (!nc) {
			sess_close(s, "out of memory");
			return;
		}
		c->call = nc;
		c->call_cap = cap;
	}
	if (c->call_len == 0 && n)
		reply_ended(c);
	memcpy(c->call + c->call_len, p, n);
	c->call_len += n;
	evbuffer_remove_buffer(sess_input(s, SESS_CLIENT), c->held, len);
	if (c->unreadable || (flags & TNS_DATA_FLAGS_EOF) || c->call_len == 0) {
		forward_held(c);
		return;
	}
	/* the native-services negotiation (0xDEADBEEF) is not a call */
	if (c->call_len >= 4 && c->call[0] == 0xDE && c->call[1] == 0xAD && c->call[2] == 0xBE &&
	    c->call[3] == 0xEF) {
		forward_held(c);
		return;
	}
	struct tns_call call;
	struct tns_read_env env = {.token_mode = c->token_mode, .binds_of = binds_of, .ctx = c};
	enum tns_peek st = tns_ttc_read_call(c->call, c->call_len, &env, &call);
	if (st == TNS_AGAIN)
		return;
	if (st == TNS_INVALID) {
		uint8_t fn = c->call_len > 1 ? c->call[1] : 0;
		sess_log(s, LOG_WARN, "unreadable TTC call (type %u, function %u, %zu bytes)",
			 c->call[0], fn, c->call_len);
		sess_close(s, "unreadable TTC call (function %u): not forwarded unaudited", fn);
		return;
	}
	on_call(c, &call);
	tns_call_clear(&call);
}

/* The server turned on Oracle native network encryption or checksumming
 * (its network-options answer, or an ACCEPT that requires it): from here
 * the TTC calls cannot be read. The asset decides: refuse (default) ends
 * the session; allow writes one `query` record saying so and hands the
 * session to the core's plain relay (connection-level audit only).
 * Returns 1: the caller stops reading (relay handed over, or closing). */
static int native_encryption(struct tns_conn *c)
{
	struct session *s = c->s;
	if (!c->login.bauth.allow_native_encryption) {
		sess_close(s, "Oracle native network encryption negotiated: refused (asset "
			      "--native-encryption refuse)");
		return 1;
	}
	static const char text[] =
		"/* sqlbastion: Oracle native network encryption is on: statements unreadable */";
	struct sess_stmt_info st = {.sql = text, .len = sizeof text - 1,
				    .rule = "native-encryption", .action = POLICY_ALLOW};
	if (sess_audit_statement(s, &st) == 0) {
		sess_close(s, "audit unavailable");
		return 1;
	}
	c->unreadable = 1;
	if (sess_relay_raw(s) != 0)
		sess_close(s, "cannot relay");
	return 1;
}

void tns_relay_read(struct session *s, void *state, enum sess_side side)
{
	struct tns_conn *c = state;
	if (c->unreadable && !s->relay_raw) {
		(void)native_encryption(c);
		return;
	}
	enum sess_side to = side == SESS_CLIENT ? SESS_BACKEND : SESS_CLIENT;
	while (!s->closing && !s->close_after_flush) {
		struct evbuffer *in = sess_input(s, side);
		uint8_t hb[TNS_HDR_LEN];
		struct tns_hdr h;
		if (evbuffer_copyout(in, hb, sizeof hb) < (ev_ssize_t)sizeof hb)
			return;
		if (tns_peek_header(hb, sizeof hb, c->large, &h) != TNS_OK) {
			sess_close(s, "malformed TNS packet header from the %s",
				   side == SESS_CLIENT ? "client" : "backend");
			return;
		}
		if (side == SESS_CLIENT && h.type == TNS_DATA) {
			uint8_t *pkt = stream_whole(s, side, h.len);
			if (!pkt)
				return;
			client_data(c, pkt, h.len);
			continue;
		}
		/* anything else passes whole, in order */
		if (evbuffer_get_length(in) < h.len)
			return;
		if (side == SESS_CLIENT && c->held && evbuffer_get_length(c->held) &&
		    h.type != TNS_MARKER) {
			sess_close(s, "TNS packet type %u inside a TTC call", h.type);
			return;
		}
		if (side == SESS_CLIENT && h.type == TNS_MARKER && c->held)
			drop_held(c); /* a break abandons the call being gathered */
		if (side == SESS_BACKEND && h.type == TNS_DATA && !c->ano_seen &&
		    h.len >= TNS_HDR_LEN + 2 + 13) {
			uint8_t ano[1024];
			size_t k = h.len - TNS_HDR_LEN - 2 < sizeof ano ? h.len - TNS_HDR_LEN - 2
									: sizeof ano;
			struct evbuffer_ptr at;
			int act = -1;
			if (evbuffer_ptr_set(in, &at, TNS_HDR_LEN + 2, EVBUFFER_PTR_SET) == 0 &&
			    evbuffer_copyout_from(in, &at, ano, k) == (ev_ssize_t)k)
				act = tns_ano_active(ano, k);
			if (act >= 0)
				c->ano_seen = 1;
			if (act == 1 && native_encryption(c))
				return; /* this answer goes out with the raw relay */
			if (act == 2)
				c->ano_demanded = 1; /* its ORA-12660 goes to the client */
		}
		if (side == SESS_BACKEND && h.type == TNS_DATA && h.len > TNS_HDR_LEN + 2) {
			size_t n = h.len - TNS_HDR_LEN - 2;
			size_t k = n < TNS_TAIL_MAX ? n : TNS_TAIL_MAX;
			uint8_t buf[TNS_TAIL_MAX];
			struct evbuffer_ptr at;
			if (evbuffer_ptr_set(in, &at, h.len - k, EVBUFFER_PTR_SET) == 0 &&
			    evbuffer_copyout_from(in, &at, buf, k) == (ev_ssize_t)k)
				keep_tail(c, buf, k);
		}
		evbuffer_remove_buffer(in, sess_output(s, to), h.len);
		sess_backpressure(s, to);
	}
}
