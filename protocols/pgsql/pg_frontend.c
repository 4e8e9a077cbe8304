/* pg_frontend: the PostgreSQL protocol descriptor the core calls.
 *
 * Routes each session event to the login state machine (pg_login.c) or to
 * the relay (pg_relay.c) by the connection's state, and owns the lifetime
 * of struct pg_conn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/pgsql/pg_conn.h"
#include "proxy/session.h"

static void *pg_on_accept(struct session *s)
{
	struct pg_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->s = s;
	c->st = PG_ST_STARTUP;
	c->tx_status = 'I';
	policy_result_init(&c->pres);
	if (sb_random(&c->our_key, sizeof c->our_key) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void pg_dispatch(struct session *s, void *state, enum sess_side side, enum sess_event ev)
{
	struct pg_conn *c = state;
	if (ev == SESS_EV_READ) {
		if (c->st == PG_ST_READY) {
			if (side == SESS_CLIENT)
				pg_relay_client(c);
			else
				pg_relay_backend(c);
		} else if (c->st != PG_ST_CLOSED) {
			if (side == SESS_CLIENT)
				pg_login_client_read(c);
			else
				pg_login_backend_read(c);
		}
		return;
	}
	if (ev == SESS_EV_FLUSHED)
		return;
	if (ev == SESS_EV_TIMEOUT && c->st == PG_ST_READY) {
		sess_close(s, "idle timeout");
		return;
	}
	pg_login_event(c, side, ev);
}

static void pg_free_state(void *state)
{
	struct pg_conn *c = state;
	pg_relay_free(c);
	free(c->params);
	free(c->param_blob);
	free(c->scram);
	free(c->bscram);
	backend_auth_free(&c->bauth);
	if (c->secret) {
		sb_wipe(c->secret, c->secret_cap);
		free(c->secret);
	}
	free(c);
}

static const char *pg_current(void *state)
{
	struct pg_conn *c = state;
	return c->current;
}

/* PostgreSQL ends a backend an administrator terminates with FATAL 57P01
 * (admin_shutdown); clients know it. Only between messages: in the query
 * phase when no backend message is half relayed, or while the login waits
 * on the backend (the client has had nothing since authentication). */
static void pg_goodbye(struct session *s, void *state, const char *reason)
{
	struct pg_conn *c = state;
	int between = (c->st == PG_ST_READY && c->pass_left[SESS_BACKEND] == 0) ||
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
	.on_accept = pg_on_accept,
	.dispatch = pg_dispatch,
	.free_state = pg_free_state,
	.current_statement = pg_current,
	.goodbye = pg_goodbye,
};
