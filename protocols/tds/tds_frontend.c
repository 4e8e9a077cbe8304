/* tds_frontend: the SQL Server (TDS 7.2+) protocol descriptor the core calls.
 *
 * Tells the shared router (protocol_dispatch) where the connection is and
 * which handler takes an event: the login (tds_login.c) or the relay
 * (tds_relay.c); owns the lifetime of struct tds_conn. */
#include <stdio.h>
#include <stdlib.h>

#include "protocols/tds/tds_conn.h"
#include "proxy/session.h"

static void *tds_on_accept(struct session *s)
{
	struct tds_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->s = s;
	c->st = TDS_ST_PRELOGIN;
	tds_tls_frame_init(&c->cframe);
	tds_tls_frame_init(&c->bframe);
	policy_result_init(&c->pres);
	if (tds_relay_init(c) != 0) {
		tds_relay_free(c);
		free(c);
		return NULL;
	}
	return c;
}

static enum protocol_stage tds_stage(void *state)
{
	const struct tds_conn *c = state;
	if (c->st == TDS_ST_READY)
		return PROTOCOL_READY;
	if (c->st == TDS_ST_CLOSED)
		return PROTOCOL_CLOSED;
	return c->st < TDS_ST_BACKEND_CONNECT ? PROTOCOL_CLIENT_LOGIN : PROTOCOL_BACKEND_LOGIN;
}

static struct login *tds_login_of(void *state)
{
	struct tds_conn *c = state;
	return &c->login;
}

static void tds_relay_read(struct session *s, void *state, enum sess_side side)
{
	if (side == SESS_BACKEND)
		tds_relay_backend(state);
	else
		tds_relay_client(state);
}

static void tds_relay_flushed(struct session *s, void *state)
{
	tds_relay_resume(state);
}

/* The server went away while the session was ready. */
static void tds_backend_lost(struct session *s, void *state)
{
	sess_close(s, "backend: %s", s->backend_error);
}

static void tds_free_state(void *state)
{
	struct tds_conn *c = state;
	tds_relay_free(c);
	tds_login7_free(&c->l7);
	login_free(&c->login);
	free(c);
}

static const char *tds_current(void *state)
{
	struct tds_conn *c = state;
	return c->current;
}

/* Only between replies: the client reads it as the answer to its next request. */
static void tds_goodbye(struct session *s, void *state, const char *reason)
{
	struct tds_conn *c = state;
	if (c->st != TDS_ST_READY || stmt_count(&c->pend) || c->pass_left[SESS_BACKEND])
		return;
	char msg[256];
	snprintf(msg, sizeof msg, "sqlbastion: %s", reason);
	/* 6005: SHUTDOWN is in progress */
	(void)tds_put_error_reply(sess_output(s, SESS_CLIENT), 6005, 20, msg, c->tds_version);
}

const struct protocol tds_protocol = {
	.name = "tds",
	.on_accept = tds_on_accept,
	.dispatch = protocol_dispatch,
	.stage = tds_stage,
	.login = tds_login_of,
	.login_read = tds_login_read,
	.relay_read = tds_relay_read,
	.relay_flushed = tds_relay_flushed,
	.client_tls_ready = tds_client_tls_ready,
	.backend_ready = tds_backend_ready,
	.backend_lost = tds_backend_lost,
	.free_state = tds_free_state,
	.current_statement = tds_current,
	.goodbye = tds_goodbye,
	.login_refused = tds_login_refused,
};
