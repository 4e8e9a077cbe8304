/* pg_frontend: the PostgreSQL protocol descriptor the core calls.
 *
 * Routes each session event to the login state machine (pg_login.c) or to
 * the relay (pg_relay.c) by the connection's state, and owns the lifetime
 * of struct pg_conn. */
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

const struct protocol pg_protocol = {
	.name = "postgres",
	.dialect = "pg",
	.on_accept = pg_on_accept,
	.dispatch = pg_dispatch,
	.free_state = pg_free_state,
	.current_statement = pg_current,
};
