/* my_frontend: the MySQL / MariaDB protocol descriptor the core calls.
 *
 * Greets the client on accept (the server speaks first in this protocol),
 * tells the shared router (protocol_dispatch) where the connection is and
 * which handler takes an event: the login state machine (my_login.c) or
 * the relay (my_relay.c); owns the lifetime of struct my_conn. */
#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/mysql/my_conn.h"
#include "protocols/mysql/my_passthrough_auth.h"
#include "lib/crypto.h"
#include "proxy/session.h"

/* RSA-2048 key pair offered to clients for caching_sha2_password full
 * authentication without TLS. Made by my_init at daemon start rather than
 * at the first such login, so no session stalls the event loop for the
 * key generation (tens of milliseconds, more on an unlucky draw); set
 * before any session and only read after. Held in memory only (never
 * written to disk or a log), so it changes at every restart. */
static EVP_PKEY *client_rsa;

EVP_PKEY *my_client_rsa(void)
{
	return client_rsa;
}

static int my_init(const struct sb_config *cfg, char *err, size_t errlen)
{
	if (client_rsa)
		return 0;
	client_rsa = EVP_RSA_gen(2048);
	if (!client_rsa) {
		ERR_clear_error();
		snprintf(err, errlen, "cannot generate the RSA key for MySQL clients");
		return -1;
	}
	return 0;
}

static void my_fini(void)
{
	EVP_PKEY_free(client_rsa); /* clears the private key */
	client_rsa = NULL;
}

static void *my_on_accept(struct session *s)
{
	struct my_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->s = s;
	c->st = MY_ST_HANDSHAKE;
	if (my_pt_wanted(s)) {
		/* The backend's nonce greets the client (my_passthrough_auth.h).
		 * The login tail may refuse right here: it finds us through
		 * s->pstate, which the core sets only when we return. */
		s->pstate = c;
		my_relay_init(c);
		(void)my_pt_start(c);
		return c;
	}
	if (my_send_greeting(c) != 0) {
		free(c);
		return NULL;
	}
	my_relay_init(c);
	return c;
}

static enum protocol_stage my_stage(void *state)
{
	const struct my_conn *c = state;
	if (c->st == MY_ST_READY || c->st == MY_ST_CLOSED)
		return c->st == MY_ST_READY ? PROTOCOL_READY : PROTOCOL_CLOSED;
	return c->st < MY_ST_BACKEND_CONNECT ? PROTOCOL_CLIENT_LOGIN : PROTOCOL_BACKEND_LOGIN;
}

/* A hold for an unread client output ends when that output drained. */
static void my_relay_flushed(struct session *s, void *state)
{
	my_relay_resume(state);
}

static struct login *my_login_of(void *state)
{
	struct my_conn *c = state;
	return &c->login;
}

/* The server went away in the command phase: no words for it here. */
static void my_backend_lost(struct session *s, void *state)
{
	sess_close(s, "backend: %s", s->backend_error);
}

static void my_relay_read(struct session *s, void *state, enum sess_side side)
{
	if (side == SESS_BACKEND)
		my_relay_backend(state);
	else
		my_relay_client(state);
}

static void my_free_state(void *state)
{
	struct my_conn *c = state;
	my_relay_free(c);
	my_pt_free(c);
	free(c->attrs);
	login_free(&c->login);
	free(c);
}

/* MariaDB tells a client its connection was killed with ER_CONNECTION_KILLED
 * (1927, SQLSTATE 70100). Only when no reply is owed or half relayed: the
 * client then reads it as the answer to its next command (sequence id 1). */
#define MY_ER_CONNECTION_KILLED 1927
static void my_goodbye(struct session *s, void *state, const char *reason)
{
	struct my_conn *c = state;
	if (c->st != MY_ST_READY || stmt_streaming(&c->pend, SESS_BACKEND) || stmt_head(&c->pend))
		return;
	char msg[256];
	snprintf(msg, sizeof msg, "Connection was killed: sqlbastion: %s", reason);
	(void)my_put_err(sess_output(s, SESS_CLIENT), 1, MY_ER_CONNECTION_KILLED, "70100", msg);
}

const struct protocol mysql_protocol = {
	.name = "mysql",
	.init = my_init,
	.fini = my_fini,
	.on_accept = my_on_accept,
	.dispatch = protocol_dispatch,
	.stage = my_stage,
	.login_read = my_login_read,
	.relay_read = my_relay_read,
	.relay_flushed = my_relay_flushed,
	.login = my_login_of,
	.client_tls_ready = my_client_tls_ready,
	.backend_ready = my_backend_ready,
	.backend_lost = my_backend_lost,
	.free_state = my_free_state,
	.goodbye = my_goodbye,
	.login_refused = my_login_refused,
};
