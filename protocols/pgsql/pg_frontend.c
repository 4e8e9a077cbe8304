/* pg_frontend: the PostgreSQL protocol descriptor the core calls.
 *
 * Tells the shared router (protocol_dispatch) where the connection is and
 * which handler takes an event: the login state machine (pg_login.c) or
 * the relay (pg_relay.c); owns the lifetime of struct pg_conn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/pgsql/pg_conn.h"
#include "proxy/config.h"
#include "proxy/session.h"

/* How clients prove their token ([sqlbastion] pg_auth, read at daemon
 * start): SCRAM-SHA-256, or the cleartext password over TLS. */
static int cleartext_auth;

int pg_cleartext_auth(void)
{
	return cleartext_auth;
}

static int pg_init(const struct sb_config *cfg, char *err, size_t errlen)
{
	cleartext_auth = strcmp(cfg->pg_auth, "password") == 0;
	return 0;
}

static void *pg_on_accept(struct session *s)
{
	struct pg_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->s = s;
	c->st = PG_ST_STARTUP;
	c->tx_status = 'I';
	if (sb_random(&c->our_key, sizeof c->our_key) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

static enum protocol_stage pg_stage(void *state)
{
	const struct pg_conn *c = state;
	switch (c->st) {
	case PG_ST_READY:
		return PROTOCOL_READY;
	case PG_ST_CLOSED:
		return PROTOCOL_CLOSED;
	case PG_ST_CANCEL:
		return PROTOCOL_SIDE_JOB;
	default:
		return c->st < PG_ST_BACKEND_CONNECT ? PROTOCOL_CLIENT_LOGIN : PROTOCOL_BACKEND_LOGIN;
	}
}

static struct login *pg_login_of(void *state)
{
	struct pg_conn *c = state;
	return &c->login;
}

static void pg_free_state(void *state)
{
	struct pg_conn *c = state;
	pg_relay_free(c);
	free(c->params);
	free(c->param_blob);
	free(c->scram);
	free(c->bscram);
	login_free(&c->login);
	free(c);
}

static void pg_relay_read(struct session *s, void *state, enum sess_side side)
{
	if (side == SESS_CLIENT)
		pg_relay_client(state);
	else
		pg_relay_backend(state);
}

/* PostgreSQL ends a backend an administrator terminates with FATAL 57P01
 * (admin_shutdown); clients know it. Only between messages: in the query
 * phase when no backend message is half relayed, or while the login waits
 * on the backend (the client has had nothing since authentication). */
static void pg_goodbye(struct session *s, void *state, const char *reason)
{
	struct pg_conn *c = state;
	int between = (c->st == PG_ST_READY && !stmt_streaming(&c->pend, SESS_BACKEND)) ||
		      c->st == PG_ST_BACKEND_CONNECT || c->st == PG_ST_BACKEND_SSL ||
		      c->st == PG_ST_BACKEND_TLS || c->st == PG_ST_BACKEND_AUTH;
	if (!between)
		return;
	char msg[256];
	snprintf(msg, sizeof msg, "terminating connection due to administrator command: sqlbastion: %s",
		 reason);
	(void)pg_put_error(sess_output(s, SESS_CLIENT), "FATAL", "57P01", msg);
}

const struct protocol pg_protocol = {
	.name = "postgres",
	.init = pg_init,
	.on_accept = pg_on_accept,
	.dispatch = protocol_dispatch,
	.stage = pg_stage,
	.login_read = pg_login_read,
	.relay_read = pg_relay_read,
	.login = pg_login_of,
	.client_tls_ready = pg_client_tls_ready,
	.backend_ready = pg_backend_ready,
	.backend_lost = pg_backend_lost,
	.side_job_over = pg_cancel_over,
	.free_state = pg_free_state,
	.goodbye = pg_goodbye,
	.login_refused = pg_login_refused,
};
