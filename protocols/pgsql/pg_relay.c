/* pg_relay: the PostgreSQL query phase.
 *
 * Client → backend: Query and Parse are pulled up, classified by policy and
 * written to the audit log before they are forwarded; Bind, Execute,
 * Describe, Close, Sync, Flush pass whole; CopyData streams without being
 * held in memory. Backend → client: everything streams, except the few
 * messages the proxy must read (ReadyForQuery, ErrorResponse,
 * CommandComplete, EmptyQueryResponse, PortalSuspended).
 *
 * A denied statement is not answered by the proxy itself: it is replaced by
 * a Bind to a statement name that never exists (a per-session random
 * marker), so the *server* raises the error in the right place of the reply
 * stream and with the right transaction effect (an open transaction is
 * aborted, an implicit one rolled back, later messages discarded until Sync,
 * exactly as for a real error). The proxy then rewrites that one error into
 * SQLSTATE 42501 "sqlbastion: blocked by rule '<rule>'".
 *
 * A statement held by a `review` rule is refused the same way, with the
 * message sess_evaluate() made ("held for review ... (approval N)"). A
 * Query or Parse allowed by an approval used it up; a prepared statement
 * allowed that way runs once (approved_run()).
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "protocols/pgsql/pg_conn.h"
#include "protocols/pgsql/pg_params.h"
#include "proxy/decide.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int pg_relay_init(struct pg_conn *c)
{
	uint8_t r[12];
	char hex[25];
	if (sb_random(r, sizeof r) != 0)
		return -1;
	sb_hex(r, sizeof r, hex);
	snprintf(c->marker, sizeof c->marker, "sqlbastion_denied_%s", hex);
	policy_result_init(&c->pres);
	return 0;
}

/* ---- prepared statements and portals ---- */

static void stmt_unref(struct pg_stmt *st)
{
	if (!st || --st->refs > 0)
		return;
	free(st->name);
	free(st->sql);
	free(st->verb);
	free(st->fingerprint);
	free(st->objects);
	free(st->rule);
	free(st);
}

static struct pg_stmt *stmt_find(struct pg_conn *c, const char *name)
{
	for (struct pg_stmt *st = c->stmts; st; st = st->next)
		if (strcmp(st->name, name) == 0)
			return st;
	return NULL;
}

static void stmt_remove(struct pg_conn *c, const char *name)
{
	for (struct pg_stmt **pp = &c->stmts; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct pg_stmt *st = *pp;
			*pp = st->next;
			stmt_unref(st);
			return;
		}
	}
}

static void portal_remove(struct pg_conn *c, const char *name)
{
	for (struct pg_portal **pp = &c->portals; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct pg_portal *p = *pp;
			*pp = p->next;
			stmt_unref(p->stmt);
			free(p->name);
			free(p->params);
			free(p);
			return;
		}
	}
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* Remember a Parse'd statement with its decision (replaces a same name). */
static int stmt_add(struct pg_conn *c, const char *name, const char *sql, size_t len)
{
	struct pg_stmt *st = calloc(1, sizeof *st);
	if (!st)
		return -1;
	st->refs = 1;
	st->name = strdup(name);
	st->sql = malloc(len + 1);
	st->verb = dup_or_empty(c->pres.verb);
	st->fingerprint = dup_or_empty(c->pres.fingerprint);
	st->objects = dup_or_empty(c->pres.objects);
	st->rule = dup_or_empty(c->pres.rule);
	st->action = c->pres.action;
	st->approval = c->approval;
	if (!st->name || !st->sql || !st->verb || !st->fingerprint || !st->objects || !st->rule) {
		stmt_unref(st);
		return -1;
	}
	memcpy(st->sql, sql, len);
	st->sql[len] = '\0';
	st->sql_len = len;
	stmt_remove(c, name);
	st->next = c->stmts;
	c->stmts = st;
	return 0;
}

static int portal_bind(struct pg_conn *c, const struct pg_bind *bd)
{
	struct pg_stmt *st = stmt_find(c, bd->stmt);
	portal_remove(c, bd->portal);
	if (!st)
		return 0; /* server will report it; nothing to remember */
	struct pg_portal *p = calloc(1, sizeof *p);
	if (!p || !(p->name = strdup(bd->portal)) ||
	    (bd->params.n && !(p->params = pg_values_json(&bd->params)))) {
		if (p)
			free(p->name);
		free(p);
		return -1;
	}
	p->stmt = st;
	st->refs++;
	p->next = c->portals;
	c->portals = p;
	return 0;
}

static struct pg_portal *portal_find(struct pg_conn *c, const char *portal)
{
	for (struct pg_portal *p = c->portals; p; p = p->next)
		if (strcmp(p->name, portal) == 0)
			return p;
	return NULL;
}

/* ---- pending replies (a ring) ---- */

static struct pg_pending *pend_push(struct pg_conn *c, enum pg_pending_kind kind)
{
	struct pg_pending *p = sb_ring_push(&c->pend, sizeof *p);
	if (!p)
		return NULL;
	p->kind = kind;
	p->rows = -1;
	p->start_us = sess_now_us();
	return p;
}

static struct pg_pending *pend_head(struct pg_conn *c)
{
	return sb_ring_head(&c->pend);
}

/* Write query_end for a finished statement and drop the head entry. */
static void pend_pop(struct pg_conn *c, const char *error_if_unset)
{
	struct pg_pending *p = pend_head(c);
	if (!p)
		return;
	sess_query_end(c->s, p->query_id, p->start_us, p->rows, p->error ? p->error : error_if_unset);
	free(p->error);
	free(p->deny_message);
	sb_ring_pop(&c->pend);
}

/* ---- decisions ---- */

static void remember_current(struct pg_conn *c, const char *sql, size_t len)
{
	size_t n = len < sizeof c->current - 1 ? len : sizeof c->current - 1;
	memcpy(c->current, sql, n);
	c->current[n] = '\0';
}

/* Decide into c->pres and c->approval. */
static void evaluate(struct pg_conn *c, const char *sql, size_t len)
{
	c->approval = sess_evaluate(c->s, POLICY_DIALECT_PG, sql, len, &c->pres);
}

/* The audit record of a statement about to run (or refused). Returns the
 * query id, 0 when the audit write failed and the statement must not run. */
static uint64_t audit_statement(struct pg_conn *c, const char *sql, size_t len, const char *verb,
				const char *fingerprint, const char *objects,
				enum policy_action action, const char *rule, int64_t approval,
				const char *params)
{
	struct sess_stmt_info st = {.sql = sql, .len = len, .verb = verb,
				    .fingerprint = fingerprint, .objects = objects,
				    .rule = rule, .action = action, .approval = approval,
				    .params = params};
	return sess_audit_statement(c->s, &st);
}

/* Replace a refused message by a Bind to the marker statement; `sync`
 * adds a Sync (for a simple Query, which carries its own). */
static int inject_denial(struct pg_conn *c, enum pg_pending_kind kind, const char *sqlstate,
			 const char *message)
{
	struct evbuffer *bout = sess_output(c->s, SESS_BACKEND);
	struct pg_pending *p = pend_push(c, kind);
	if (!p)
		return -1;
	p->deny_message = strdup(message);
	snprintf(p->deny_sqlstate, sizeof p->deny_sqlstate, "%s", sqlstate);
	if (!p->deny_message)
		return -1;
	if (pg_put_bind_to(bout, c->marker) != 0)
		return -1;
	if (kind == PG_PEND_DENIED_SIMPLE && pg_put_sync(bout) != 0)
		return -1;
	return 0;
}

static const char *deny_sqlstate(enum policy_action a)
{
	(void)a;
	return "42501"; /* insufficient_privilege, as DESIGN.md fixes */
}

/* Query: one message, possibly several statements; decided as a whole. */
static int on_query(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *sql;
	size_t len;
	if (pg_parse_query(b, n, &sql, &len) != 0) {
		pg_fatal(c, "08P01", "invalid Query message", "malformed Query message");
		return -1;
	}
	remember_current(c, sql, len);
	evaluate(c, sql, len);
	enum policy_action a = c->pres.action;
	uint64_t qid = audit_statement(c, sql, len, c->pres.verb, c->pres.fingerprint,
				       c->pres.objects, a, c->pres.rule, c->approval, NULL);
	if (!qid)
		return inject_denial(c, PG_PEND_DENIED_SIMPLE, "58030",
				     SESS_AUDIT_DOWN_MESSAGE) == 0
			       ? 1
			       : -1;
	if (a >= POLICY_REVIEW) {
		if (a == POLICY_KILL)
			c->kill_after_error = 1;
		return inject_denial(c, PG_PEND_DENIED_SIMPLE, deny_sqlstate(a), c->pres.message) == 0
			       ? 1
			       : -1;
	}
	struct pg_pending *p = pend_push(c, PG_PEND_SIMPLE);
	if (!p)
		return -1;
	p->query_id = qid;
	return 0;
}

/* Parse: decided now, audited when executed (Execute carries no text). */
static int on_parse(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *name, *sql;
	size_t len;
	if (pg_parse_parse(b, n, &name, &sql, &len) != 0) {
		pg_fatal(c, "08P01", "invalid Parse message", "malformed Parse message");
		return -1;
	}
	remember_current(c, sql, len);
	evaluate(c, sql, len);
	if (c->pres.action >= POLICY_REVIEW) {
		if (!audit_statement(c, sql, len, c->pres.verb, c->pres.fingerprint, c->pres.objects,
				     c->pres.action, c->pres.rule, c->approval, NULL))
			sess_log(c->s, LOG_ERR, "audit failed for a denied statement");
		if (c->pres.action == POLICY_KILL)
			c->kill_after_error = 1;
		stmt_remove(c, name);
		c->discard_until_sync = 1;
		return inject_denial(c, PG_PEND_DENIED_PARSE, deny_sqlstate(c->pres.action),
				     c->pres.message) == 0
			       ? 1
			       : -1;
	}
	return stmt_add(c, name, sql, len) == 0 ? 0 : -1;
}

/* A statement allowed by an approval runs once. The first portal of it
 * to be executed uses the approval taken at Parse; a later one (a named
 * statement bound again) needs its own: the statement is decided again,
 * which uses an approval waiting for it or holds it as a new request.
 * Continuing a suspended portal is the same run. Returns 0 to run it
 * (pt->approval set), 1 when refused here (recorded, denial injected), -1
 * when the session was closed. */
static int approved_run(struct pg_conn *c, struct pg_portal *pt)
{
	struct pg_stmt *st = pt->stmt;
	if (pt->run_decided || !st->approval)
		return 0;
	if (!st->approval_spent) {
		st->approval_spent = 1;
		pt->run_decided = 1;
		pt->approval = st->approval;
		return 0;
	}
	evaluate(c, st->sql, st->sql_len);
	if (c->pres.action < POLICY_REVIEW) {
		pt->run_decided = 1;
		pt->approval = c->approval;
		return 0;
	}
	if (!audit_statement(c, st->sql, st->sql_len, c->pres.verb, c->pres.fingerprint,
			     c->pres.objects, c->pres.action, c->pres.rule, c->approval, pt->params))
		sess_log(c->s, LOG_ERR, "audit failed for a denied statement");
	if (c->pres.action == POLICY_KILL)
		c->kill_after_error = 1;
	c->discard_until_sync = 1;
	return inject_denial(c, PG_PEND_DENIED_PARSE, deny_sqlstate(c->pres.action),
			     c->pres.message) == 0
		       ? 1
		       : -1;
}

static int on_execute(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *portal;
	if (pg_parse_execute(b, n, &portal) != 0) {
		pg_fatal(c, "08P01", "invalid Execute message", "malformed Execute message");
		return -1;
	}
	struct pg_portal *pt = portal_find(c, portal);
	struct pg_stmt *st = pt ? pt->stmt : NULL;
	uint64_t qid;
	if (st) {
		remember_current(c, st->sql, st->sql_len);
		int r = approved_run(c, pt);
		if (r != 0)
			return r;
		qid = audit_statement(c, st->sql, st->sql_len, st->verb, st->fingerprint, st->objects,
				      st->action, st->rule, pt->approval, pt->params);
	} else {
		/* A portal the proxy did not see bound (e.g. from SQL DECLARE or a
		 * failed Bind): the server decides; audit what we know. */
		char what[96];
		snprintf(what, sizeof what, "EXECUTE PORTAL \"%.64s\"", portal);
		qid = audit_statement(c, what, strlen(what), "EXECUTE", what, NULL, POLICY_ALLOW, NULL,
				      0, NULL);
	}
	if (!qid) {
		c->discard_until_sync = 1;
		return inject_denial(c, PG_PEND_DENIED_PARSE, "58030",
				     SESS_AUDIT_DOWN_MESSAGE) == 0
			       ? 1
			       : -1;
	}
	struct pg_pending *p = pend_push(c, PG_PEND_EXEC);
	if (!p)
		return -1;
	p->query_id = qid;
	return 0;
}

/* FunctionCall runs a function by OID that policy cannot see: audited
 * with its arguments, refused for read-only grants. */
static int on_function_call(struct pg_conn *c, const uint8_t *b, size_t n)
{
	char what[64];
	uint32_t oid;
	struct pg_values args;
	if (pg_parse_function_call(b, n, &oid, &args) != 0) {
		pg_fatal(c, "08P01", "invalid FunctionCall message", "malformed FunctionCall message");
		return -1;
	}
	snprintf(what, sizeof what, "FUNCTION CALL oid=%u", oid);
	remember_current(c, what, strlen(what));
	int deny = c->s->target.level == POLICY_LEVEL_READ;
	char *params = args.n ? pg_values_json(&args) : NULL;
	if (args.n && !params) {
		pg_fatal(c, "53200", "out of memory", "out of memory rendering FunctionCall arguments");
		return -1;
	}
	uint64_t qid = audit_statement(c, what, strlen(what), "FUNCTION CALL", what, NULL,
				       deny ? POLICY_DENY : POLICY_ALLOW,
				       deny ? "grant-level:read" : NULL, 0, params);
	free(params);
	if (deny || !qid)
		return inject_denial(c, PG_PEND_DENIED_SIMPLE, qid ? "42501" : "58030",
				     qid ? "sqlbastion: blocked by rule 'grant-level:read'"
					 : SESS_AUDIT_DOWN_MESSAGE) == 0
			       ? 1
			       : -1;
	struct pg_pending *p = pend_push(c, PG_PEND_FUNC);
	if (!p)
		return -1;
	p->query_id = qid;
	return 0;
}

/* Returns 1 when the message was consumed (not to be forwarded), 0 to
 * forward it, -1 when the session was closed. */
static int on_client_message(struct pg_conn *c, char type, const uint8_t *b, size_t n)
{
	const char *a;
	struct pg_bind bd;
	char kind;
	if (c->discard_until_sync && type != 'S')
		return 1;
	switch (type) {
	case 'Q':
		return on_query(c, b, n);
	case 'P':
		return on_parse(c, b, n);
	case 'B':
		if (pg_parse_bind(b, n, &bd) != 0 || portal_bind(c, &bd) != 0) {
			pg_fatal(c, "08P01", "invalid Bind message", "malformed Bind message");
			return -1;
		}
		return 0;
	case 'E':
		return on_execute(c, b, n);
	case 'C':
		if (pg_parse_target(b, n, &kind, &a) != 0) {
			pg_fatal(c, "08P01", "invalid Close message", "malformed Close message");
			return -1;
		}
		if (kind == 'S')
			stmt_remove(c, a);
		else
			portal_remove(c, a);
		return 0;
	case 'S':
		c->discard_until_sync = 0;
		return pend_push(c, PG_PEND_SYNC) ? 0 : -1;
	case 'F':
		return on_function_call(c, b, n);
	case 'D':
	case 'H':
	case 'c':
	case 'f':
		return 0;
	case 'X':
		sess_close(c->s, "client terminated the session");
		return -1;
	default: {
		char msg[80];
		snprintf(msg, sizeof msg, "invalid frontend message type %d", (int)(unsigned char)type);
		pg_fatal(c, "08P01", msg, msg);
		return -1;
	}
	}
}

/* Move up to `n` bytes of a streamed message; returns bytes moved. */
static size_t stream(struct pg_conn *c, enum sess_side from, size_t want)
{
	enum sess_side to = from == SESS_CLIENT ? SESS_BACKEND : SESS_CLIENT;
	struct evbuffer *in = sess_input(c->s, from);
	size_t have = evbuffer_get_length(in);
	size_t n = have < want ? have : want;
	if (n)
		evbuffer_remove_buffer(in, sess_output(c->s, to), n);
	sess_backpressure(c->s, to);
	return n;
}

void pg_relay_client(struct pg_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	struct evbuffer *bout = sess_output(s, SESS_BACKEND);
	while (!s->closing && !s->close_after_flush && !s->client_paused) {
		if (c->pass_left[SESS_CLIENT]) {
			size_t m = stream(c, SESS_CLIENT, c->pass_left[SESS_CLIENT]);
			c->pass_left[SESS_CLIENT] -= m;
			if (!m)
				return;
			continue;
		}
		uint8_t h[5];
		if (evbuffer_copyout(in, h, 5) < 5)
			return;
		char type = (char)h[0];
		uint32_t len = be32_at(h + 1);
		if (len < 4) {
			pg_fatal(c, "08P01", "invalid message length", "invalid message length from client");
			return;
		}
		if ((size_t)len - 4 > s->px->cfg.max_message) {
			char msg[120];
			snprintf(msg, sizeof msg, "sqlbastion: message of %u bytes exceeds max_message", len);
			pg_fatal(c, "54000", msg, "client message too large");
			return;
		}
		if (type == 'd' && !c->discard_until_sync) {
			/* CopyData streams: no need to hold a whole row in memory. */
			c->pass_left[SESS_CLIENT] = (size_t)len + 1;
			continue;
		}
		if (evbuffer_get_length(in) < (size_t)len + 1)
			return;
		uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)len + 1);
		if (!m) {
			sess_close(s, "out of memory");
			return;
		}
		int r = on_client_message(c, type, m + 5, len - 4);
		if (r < 0) {
			if (!s->closing && !s->close_after_flush)
				sess_close(s, "out of memory");
			return;
		}
		if (r == 0)
			evbuffer_remove_buffer(in, bout, (size_t)len + 1);
		else
			evbuffer_drain(in, (size_t)len + 1);
		sess_backpressure(s, SESS_BACKEND);
	}
}

/* ---- backend → client ---- */

/* An ErrorResponse: ours (the marker) is rewritten, others recorded. */
static void on_backend_error(struct pg_conn *c, const uint8_t *b, size_t n, int *rewritten)
{
	struct pg_pending *p = pend_head(c);
	const char *msg = NULL;
	size_t ml = 0;
	*rewritten = 0;
	(void)pg_error_field(b, n, 'M', &msg, &ml);
	if (p && (p->kind == PG_PEND_DENIED_SIMPLE || p->kind == PG_PEND_DENIED_PARSE) && msg &&
	    memmem(msg, ml, c->marker, strlen(c->marker))) {
		pg_put_error(sess_output(c->s, SESS_CLIENT), "ERROR", p->deny_sqlstate,
			     p->deny_message);
		*rewritten = 1;
		if (p->kind == PG_PEND_DENIED_PARSE)
			pend_pop(c, NULL);
		return;
	}
	if (p && (p->kind == PG_PEND_SIMPLE || p->kind == PG_PEND_EXEC || p->kind == PG_PEND_FUNC) &&
	    !p->error) {
		const char *code = "";
		(void)pg_error_field(b, n, 'C', &code, NULL);
		char e[300];
		snprintf(e, sizeof e, "%s %.*s", code, (int)(ml > 250 ? 250 : ml), msg ? msg : "");
		p->error = strdup(e);
	}
	if (p && p->kind == PG_PEND_EXEC)
		pend_pop(c, NULL);
}

/* ReadyForQuery closes everything up to the Sync/Query it answers. */
static void on_ready(struct pg_conn *c, char status)
{
	c->tx_status = status;
	while (c->pend.len) {
		enum pg_pending_kind k = pend_head(c)->kind;
		pend_pop(c, k == PG_PEND_EXEC ? "not executed: an earlier message failed" : NULL);
		if (k != PG_PEND_EXEC && k != PG_PEND_DENIED_PARSE)
			break;
	}
}

void pg_note_parameter(struct pg_conn *c, const uint8_t *b, size_t n)
{
	struct pg_reader r;
	const char *name, *value;
	pg_reader_init(&r, b, n);
	if (pg_get_cstr(&r, &name, NULL) != 0 || pg_get_cstr(&r, &value, NULL) != 0)
		return;
	if (strcmp(name, "standard_conforming_strings") == 0)
		c->s->std_strings_off = strcmp(value, "off") == 0;
	else if (strcmp(name, "client_encoding") == 0)
		snprintf(c->s->client_encoding, sizeof c->s->client_encoding, "%s", value);
}

static int backend_streams(char type)
{
	switch (type) {
	case 'S': /* ParameterStatus: may change how policy must lex */
	case 'Z':
	case 'E':
	case 'C':
	case 'I':
	case 's':
		return 0;
	default:
		return 1;
	}
}

void pg_relay_backend(struct pg_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_BACKEND);
	struct evbuffer *cout = sess_output(s, SESS_CLIENT);
	while (!s->closing && !s->close_after_flush && !s->backend_paused) {
		if (c->pass_left[SESS_BACKEND]) {
			size_t m = stream(c, SESS_BACKEND, c->pass_left[SESS_BACKEND]);
			c->pass_left[SESS_BACKEND] -= m;
			if (!m)
				return;
			continue;
		}
		uint8_t h[5];
		if (evbuffer_copyout(in, h, 5) < 5)
			return;
		char type = (char)h[0];
		uint32_t len = be32_at(h + 1);
		if (len < 4) {
			sess_close(s, "invalid message length from backend");
			return;
		}
		if (backend_streams(type)) {
			c->pass_left[SESS_BACKEND] = (size_t)len + 1;
			continue;
		}
		if (len > (1u << 20)) {
			sess_close(s, "oversized control message from backend");
			return;
		}
		if (evbuffer_get_length(in) < (size_t)len + 1)
			return;
		uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)len + 1);
		if (!m) {
			sess_close(s, "out of memory");
			return;
		}
		const uint8_t *b = m + 5;
		size_t n = len - 4;
		int consumed = 0;
		struct pg_pending *p = pend_head(c);
		switch (type) {
		case 'C':
			if (p && (p->kind == PG_PEND_SIMPLE || p->kind == PG_PEND_EXEC)) {
				int64_t rows = pg_command_rows(b, n);
				if (rows >= 0)
					p->rows = (p->rows < 0 ? 0 : p->rows) + rows;
				if (p->kind == PG_PEND_EXEC)
					pend_pop(c, NULL);
			}
			break;
		case 'I':
		case 's':
			if (p && p->kind == PG_PEND_EXEC)
				pend_pop(c, NULL);
			break;
		case 'E':
			on_backend_error(c, b, n, &consumed);
			break;
		case 'Z':
			on_ready(c, n ? (char)b[0] : 'I');
			break;
		case 'S':
			pg_note_parameter(c, b, n);
			break;
		}
		if (consumed)
			evbuffer_drain(in, (size_t)len + 1);
		else
			evbuffer_remove_buffer(in, cout, (size_t)len + 1);
		if (type == 'Z' && c->kill_after_error) {
			sess_close_after_flush(s, "ended by a kill rule");
			return;
		}
		sess_backpressure(s, SESS_CLIENT);
	}
}

void pg_relay_free(struct pg_conn *c)
{
	while (c->pend.len)
		pend_pop(c, "session ended before the reply");
	sb_ring_free(&c->pend);
	while (c->portals)
		portal_remove(c, c->portals->name);
	while (c->stmts) {
		struct pg_stmt *st = c->stmts;
		c->stmts = st->next;
		stmt_unref(st);
	}
	policy_result_free(&c->pres);
}
