/* my_frontend: the MySQL / MariaDB protocol descriptor the core calls.
 *
 * Greets the client on accept (the server speaks first in this protocol),
 * routes each session event to the login state machine (my_login.c) or to
 * the relay (my_relay.c) by the connection's state, and owns the lifetime
 * of struct my_conn. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/mysql/my_conn.h"
#include "proxy/crypto.h"
#include "proxy/session.h"

static void *my_on_accept(struct session *s)
{
	struct my_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->s = s;
	c->st = MY_ST_HANDSHAKE;
	policy_result_init(&c->pres);
	if (my_send_greeting(c) != 0) {
		policy_result_free(&c->pres);
		free(c);
		return NULL;
	}
	my_relay_init(c);
	return c;
}

static void my_dispatch(struct session *s, void *state, enum sess_side side, enum sess_event ev)
{
	struct my_conn *c = state;
	if (ev == SESS_EV_READ) {
		if (c->st == MY_ST_READY) {
			if (side == SESS_CLIENT)
				my_relay_client(c);
			else
				my_relay_backend(c);
		} else if (c->st != MY_ST_CLOSED) {
			/* A client that sends commands before the session is
			 * ready is not read past STMT_PRE_READY_MAX until it is
			 * (my_relay_client() resumes it). */
			if (side == SESS_CLIENT && c->st >= MY_ST_BACKEND_CONNECT &&
			    evbuffer_get_length(sess_input(s, SESS_CLIENT)) > STMT_PRE_READY_MAX) {
				c->held = MY_HELD_QUEUE;
				sess_hold_client(s, 1);
			}
			if (side == SESS_CLIENT)
				my_login_client_read(c);
			else
				my_login_backend_read(c);
		}
		return;
	}
	if (ev == SESS_EV_FLUSHED) {
		if (c->st == MY_ST_READY)
			my_relay_resume(c); /* a hold for an unread client output */
		return;
	}
	if (ev == SESS_EV_TIMEOUT && c->st == MY_ST_READY) {
		sess_close(s, "idle timeout");
		return;
	}
	my_login_event(c, side, ev);
}

static void my_free_state(void *state)
{
	struct my_conn *c = state;
	my_relay_free(c);
	free(c->attrs);
	backend_auth_free(&c->bauth);
	if (c->secret) {
		sb_wipe(c->secret, c->secret_cap);
		free(c->secret);
	}
	free(c);
}

static const char *my_current(void *state)
{
	struct my_conn *c = state;
	return c->current;
}

/* MariaDB tells a client its connection was killed with ER_CONNECTION_KILLED
 * (1927, SQLSTATE 70100). Only when no reply is owed or half relayed: the
 * client then reads it as the answer to its next command (sequence id 1). */
#define MY_ER_CONNECTION_KILLED 1927
static void my_goodbye(struct session *s, void *state, const char *reason)
{
	struct my_conn *c = state;
	if (c->st != MY_ST_READY || c->pass_left[SESS_BACKEND] || stmt_head(&c->pend))
		return;
	char msg[256];
	snprintf(msg, sizeof msg, "Connection was killed: sqlbastion: %s", reason);
	(void)my_put_err(sess_output(s, SESS_CLIENT), 1, MY_ER_CONNECTION_KILLED, "70100", msg);
}

const struct protocol mysql_protocol = {
	.name = "mysql",
	.on_accept = my_on_accept,
	.dispatch = my_dispatch,
	.free_state = my_free_state,
	.current_statement = my_current,
	.goodbye = my_goodbye,
};
