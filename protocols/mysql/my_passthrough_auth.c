/* my_passthrough_auth: relay of the server's authentication for a
 * not-hosted account on the SSH entry (see my_passthrough_auth.h). */
#include "protocols/mysql/my_passthrough_auth.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "protocols/mysql/my_auth.h"
#include "protocols/mysql/my_conn.h"
#include "proxy/identity.h"
#include "proxy/login.h"
#include "proxy/login_guard.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

static const char *const SHA2 = "caching_sha2_password";
static const char *const CLEAR = "mysql_clear_password";

/* The version string the client sees (my_login.c's, for the same reasons). */
#define MY_PT_VERSION "5.5.5-10.11.0-MariaDB-sqlbastion"

enum my_pt_phase {
	MY_PT_GREETING,  /* waiting for the backend's greeting */
	MY_PT_RESPONSE,  /* greeted the client; waiting for its handshake response */
	MY_PT_SERVER,    /* waiting for the server's next request, OK or ERR */
	MY_PT_CLIENT,    /* relayed a request; waiting for the client's answer */
};

struct my_pt {
	enum my_pt_phase phase;
	uint8_t *greeting;          /* owned: the backend's HandshakeV10, replayed to
				       my_login.c once the client has answered */
	size_t greeting_len;
	uint8_t *auth;              /* owned, wiped: the client's first auth data */
	size_t auth_len;
	char plugin[64];            /* the client's plugin ("" = none named) */
	int sha2_full;              /* caching_sha2 asked for full authentication */
	int own_key;                /* we sent the client our RSA key (TLS backend) */
};

int my_pt_wanted(const struct session *s)
{
	return s->preset && !s->preset->target.hosted;
}

/* The end-to-end login cannot go on: audited, and the client hears why
 * (its own account: nothing hosted to keep quiet about). */
static void failed(struct my_conn *c, const char *why)
{
	if (c->s->closing || c->s->close_after_flush)
		return;
	char reason[300], msg[300];
	snprintf(reason, sizeof reason, "backend login failed: %s", why);
	snprintf(msg, sizeof msg, "sqlbastion: %s", why);
	sess_log(c->s, LOG_WARN, "%s", reason);
	login_audit_failed(c->s, &c->login, reason);
	my_fatal(c, c->seq, MY_ER_ACCESS_DENIED, "28000", msg, reason);
}

int my_pt_start(struct my_conn *c)
{
	struct session *s = c->s;
	c->pt = calloc(1, sizeof *c->pt);
	if (!c->pt) {
		sess_close(s, "out of memory");
		return -1;
	}
	if (login_preset(s, &c->login) != 1)
		return -1;
	c->login.end_to_end = 1;
	my_login_set_state(c, MY_ST_BACKEND_CONNECT);
	return login_start_backend(s, &c->login);
}

void my_pt_free(struct my_conn *c)
{
	if (!c->pt)
		return;
	free(c->pt->greeting);
	if (c->pt->auth) {
		sb_wipe(c->pt->auth, c->pt->auth_len);
		free(c->pt->auth);
	}
	free(c->pt);
	c->pt = NULL;
}

/* Send one payload to the client (our sequence) or the backend. */
static int relay(struct my_conn *c, enum sess_side to, const void *p, size_t n)
{
	struct my_buf b;
	my_buf_init(&b);
	my_buf_add(&b, p, n);
	int rc = my_login_send(c, to, &b);
	my_buf_free(&b);
	if (rc != 0)
		sess_close(c->s, "out of memory");
	return rc;
}

/* The server's ERR during the login: the engineer's own credentials were
 * refused (or the server refused the session): its words to the client. */
static void server_refused(struct my_conn *c, const uint8_t *b, size_t n)
{
	uint16_t code = 0;
	char state[6] = "28000";
	const char *msg = "";
	size_t ml = 0;
	if (my_parse_err(b, n, &code, state, &msg, &ml) != 0) {
		failed(c, "malformed error packet");
		return;
	}
	char text[256], reason[360];
	snprintf(text, sizeof text, "%.*s", (int)(ml > 250 ? 250 : ml), msg);
	snprintf(reason, sizeof reason, "backend login failed: %u (%s) %s", code, state, text);
	sess_log(c->s, LOG_INFO, "%s", reason);
	login_audit_failed(c->s, &c->login, reason);
	my_fatal(c, c->seq, code, state, text, reason);
}

/* The backend's greeting: kept, and the client greeted with its nonce. */
static void on_greeting(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct my_pt *pt = c->pt;
	char err[160];
	if (n >= 1 && b[0] == 0xFF) {
		server_refused(c, b, n);
		return;
	}
	struct my_handshake bh;
	if (my_parse_handshake(b, n, &bh, err, sizeof err) != 0) {
		failed(c, err);
		return;
	}
	if (bh.scramble_len < MY_SCRAMBLE_LEN) {
		failed(c, "the server's nonce is too short to relay");
		return;
	}
	pt->greeting = malloc(n);
	if (!pt->greeting) {
		sess_close(c->s, "out of memory");
		return;
	}
	memcpy(pt->greeting, b, n);
	pt->greeting_len = n;
	/* The client answers this nonce with the server's plugin; the
	 * capability offer is the proxy's (what its relay follows) within
	 * the server's, and no TLS (the SSH channel is this leg's). */
	struct my_handshake h = {.protocol = 10, .conn_id = (uint32_t)c->s->id,
				 .scramble_len = MY_SCRAMBLE_LEN, .charset = bh.charset,
				 .status = MY_SERVER_STATUS_AUTOCOMMIT};
	snprintf(h.version, sizeof h.version, "%s", MY_PT_VERSION);
	snprintf(h.plugin, sizeof h.plugin, "%s",
		 bh.plugin[0] ? bh.plugin : "mysql_native_password");
	memcpy(h.scramble, bh.scramble, MY_SCRAMBLE_LEN);
	h.caps = my_offer_caps() & (bh.caps | MY_CLIENT_PLUGIN_AUTH | MY_CLIENT_CONNECT_ATTRS |
				    MY_CLIENT_PLUGIN_AUTH_LENENC);
	h.caps |= MY_CLIENT_PROTOCOL_41 | MY_CLIENT_SECURE_CONNECTION | MY_CLIENT_PLUGIN_AUTH;
	struct my_buf gb;
	my_buf_init(&gb);
	my_build_handshake(&gb, &h);
	c->seq = 0;
	int rc = my_login_send(c, SESS_CLIENT, &gb);
	my_buf_free(&gb);
	if (rc != 0) {
		sess_close(c->s, "out of memory");
		return;
	}
	pt->phase = MY_PT_RESPONSE;
}

/* The client's HandshakeResponse41: what my_login.c's backend login needs,
 * then on with it (capabilities, TLS per the asset, my_pt_send_response). */
static void on_response(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct my_pt *pt = c->pt;
	struct session *s = c->s;
	struct my_hs_response r;
	char err[160];
	if (my_parse_hs_response(b, n, &r, err, sizeof err) != 0) {
		login_audit_failed(s, &c->login, err);
		my_fatal(c, c->seq, MY_ER_HANDSHAKE, "08S01", "Bad handshake", err);
		return;
	}
	if (r.ssl_request) {
		login_audit_failed(s, &c->login, "TLS asked for although not offered");
		my_fatal(c, c->seq, MY_ER_HANDSHAKE, "08S01",
			 "sqlbastion: no TLS inside the SSH tunnel for an account that is not "
			 "hosted (the tunnel encrypts; connect without --ssl)",
			 "SSLRequest in an end-to-end login");
		return;
	}
	c->client_caps = r.caps & my_offer_caps();
	c->client_max_packet = r.max_packet;
	c->client_charset = r.charset;
	const char *why = my_take_db_and_attrs(c, &r);
	if (why) {
		login_refuse(s, &c->login, why);
		return;
	}
	pt->auth = malloc(r.auth_len ? r.auth_len : 1);
	if (!pt->auth) {
		sess_close(s, "out of memory");
		return;
	}
	memcpy(pt->auth, r.auth, r.auth_len);
	pt->auth_len = r.auth_len;
	snprintf(pt->plugin, sizeof pt->plugin, "%s",
		 (r.caps & MY_CLIENT_PLUGIN_AUTH) && r.plugin ? r.plugin : "");
	pt->phase = MY_PT_SERVER;
	my_login_backend_handshake(c, pt->greeting, pt->greeting_len);
}

void my_pt_send_response(struct my_conn *c)
{
	struct my_pt *pt = c->pt;
	struct session *s = c->s;
	const char *plugin = pt->plugin[0] ? pt->plugin : c->bhs.plugin;
	snprintf(c->bplugin, sizeof c->bplugin, "%s", plugin);
	struct my_hs_response r = {.caps = c->caps | (s->backend_tls ? MY_CLIENT_SSL : 0),
				   .max_packet = c->client_max_packet ? c->client_max_packet
								      : 1u << 24,
				   .charset = c->client_charset ? c->client_charset : 45,
				   .user = s->ident.target.db_username,
				   .auth = pt->auth,
				   .auth_len = pt->auth_len,
				   .database = s->ident.database,
				   .plugin = plugin,
				   .attrs = (const uint8_t *)c->attrs,
				   .attrs_len = c->attrs_len};
	struct my_buf b;
	my_buf_init(&b);
	my_build_hs_response(&b, &r);
	int rc = my_login_send(c, SESS_BACKEND, &b);
	my_buf_free(&b);
	sb_wipe(pt->auth, pt->auth_len);
	if (rc != 0) {
		sess_close(s, "out of memory");
		return;
	}
	my_login_set_state(c, MY_ST_BACKEND_AUTH);
}

/* An auth switch: the server's new plugin and nonce go to the client. */
static void on_switch(struct my_conn *c, const uint8_t *b, size_t n)
{
	const char *plugin;
	const uint8_t *data;
	size_t dlen;
	if (my_parse_auth_switch(b, n, &plugin, &data, &dlen) != 0) {
		failed(c, "malformed auth switch request");
		return;
	}
	char why[300];
	if (strcmp(plugin, CLEAR) == 0 &&
	    !backend_auth_weak_ok(&c->login.bauth, c->s, "mysql_clear_password", why, sizeof why)) {
		failed(c, why);
		return;
	}
	/* kept: a caching_sha2 RSA exchange XORs with this nonce */
	if (dlen > sizeof c->bhs.scramble)
		dlen = sizeof c->bhs.scramble;
	memcpy(c->bhs.scramble, data, dlen);
	c->bhs.scramble_len = dlen;
	snprintf(c->bplugin, sizeof c->bplugin, "%s", plugin);
	c->pt->sha2_full = 0;
	if (relay(c, SESS_CLIENT, b, n) == 0)
		c->pt->phase = MY_PT_CLIENT;
}

/* AuthMoreData (0x01 ...): caching_sha2's fast-auth result, its request
 * for full authentication, the server's public key; another plugin's data. */
static void on_more_data(struct my_conn *c, const uint8_t *b, size_t n)
{
	int sha2 = strcmp(c->bplugin, SHA2) == 0;
	if (sha2 && n == 2 && b[1] == 0x03) {
		(void)relay(c, SESS_CLIENT, b, n); /* fast auth success: OK follows */
		return;
	}
	if (sha2 && n == 2 && b[1] == 0x04) {
		/* The password goes out: in clear inside TLS (the proxy decrypts
		 * it from the client's RSA), to the asset's pinned key, or to a
		 * key the server sends, under the asset's rule for a hosted
		 * secret (proxy/backend_auth.h). */
		char why[300];
		struct session *s = c->s;
		const char *method =
			s->backend_tls ? "caching_sha2_password full authentication (cleartext)"
				       : "caching_sha2_password full authentication (RSA to a key the "
					 "server sends)";
		if (!(c->login.bauth.pinned_key && !s->backend_tls) &&
		    !backend_auth_weak_ok(&c->login.bauth, s, method, why, sizeof why)) {
			failed(c, why);
			return;
		}
		c->pt->sha2_full = 1;
	}
	if (relay(c, SESS_CLIENT, b, n) == 0)
		c->pt->phase = MY_PT_CLIENT;
}

void my_pt_backend_packet(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct my_pt *pt = c->pt;
	if (pt->phase == MY_PT_GREETING) {
		on_greeting(c, b, n);
		return;
	}
	if (pt->phase != MY_PT_SERVER) {
		failed(c, "the server spoke out of turn during the login");
		return;
	}
	if (n >= 1 && b[0] == 0xFF)
		server_refused(c, b, n);
	else if (n >= 1 && b[0] == 0xFE)
		on_switch(c, b, n);
	else if (n >= 1 && b[0] == 0x01)
		on_more_data(c, b, n);
	else
		failed(c, "unexpected packet from backend during login");
}

/* Answer the client's request for the server's key with pem (AuthMoreData). */
static void send_key(struct my_conn *c, const char *pem, size_t pl)
{
	uint8_t more[1 + 4096];
	if (pl > sizeof more - 1) {
		failed(c, "caching_sha2_password full authentication: the key is too long");
		return;
	}
	more[0] = 0x01;
	memcpy(more + 1, pem, pl);
	if (relay(c, SESS_CLIENT, more, 1 + pl) == 0)
		c->pt->own_key = 1; /* the ciphertext follows */
}

/* caching_sha2 full authentication where the proxy answers the client's
 * key request itself. Plain backend leg with a pinned key (asset
 * --server-public-key): that key, and the client's ciphertext goes to the
 * server. TLS backend leg: the server wants the password in clear, so the
 * proxy's own key, then the password decrypted and sent inside TLS.
 * 1 handled, 0 relay as usual. */
static int sha2_full_intercept(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct my_pt *pt = c->pt;
	const char *pinned = c->login.bauth.pinned_key;
	if (!pt->sha2_full || (!c->s->backend_tls && !pinned))
		return 0;
	if (!c->s->backend_tls) {
		if (n == 1 && b[0] == 0x02)
			send_key(c, pinned, strlen(pinned));
		else if (relay(c, SESS_BACKEND, b, n) == 0) /* the ciphertext */
			pt->phase = MY_PT_SERVER;
		return 1;
	}
	if (!pt->own_key && n == 1 && b[0] == 0x02) {
		char pem[1024];
		int pl = my_client_rsa() ? my_rsa_public_pem(my_client_rsa(), pem, sizeof pem) : -1;
		if (pl < 0)
			failed(c, "caching_sha2_password full authentication: no RSA key to offer");
		else
			send_key(c, pem, (size_t)pl);
		return 1;
	}
	if (!pt->own_key) {
		failed(c, "caching_sha2_password full authentication over TLS needs the password "
			  "encrypted to the bastion's key, and the client used another");
		return 1;
	}
	if (!login_guard_expensive(c->s->px, c->s->ident.client_ip)) {
		login_refuse(c->s, &c->login, "too many logins from this address; try again later");
		return 1;
	}
	char pw[512], err[160], why[200];
	int len = my_rsa_decrypt_password(my_client_rsa(), b, n, c->bhs.scramble,
					  c->bhs.scramble_len < 20 ? c->bhs.scramble_len : 20, pw,
					  sizeof pw, err, sizeof err);
	if (len < 0) {
		snprintf(why, sizeof why, "caching_sha2_password full authentication: %s", err);
		failed(c, why);
		return 1;
	}
	pt->own_key = 0;
	pt->sha2_full = 0;
	if (relay(c, SESS_BACKEND, pw, (size_t)len + 1) == 0)
		pt->phase = MY_PT_SERVER;
	sb_wipe(pw, sizeof pw);
	return 1;
}

void my_pt_client_read(struct my_conn *c)
{
	struct my_pt *pt = c->pt;
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	while (!s->closing && !s->close_after_flush &&
	       (pt->phase == MY_PT_RESPONSE || pt->phase == MY_PT_CLIENT)) {
		size_t n;
		int closed;
		uint8_t *b = my_login_packet(c, SESS_CLIENT, &n, &closed);
		if (!b)
			return;
		if (pt->phase == MY_PT_RESPONSE) {
			on_response(c, b, n);
		} else if (!sha2_full_intercept(c, b, n)) {
			/* an answer to the server: scramble, key request,
			 * ciphertext, a password the server asked for */
			if (relay(c, SESS_BACKEND, b, n) == 0)
				pt->phase = MY_PT_SERVER;
		}
		if (!s->closing) {
			sb_wipe(b, n);
			evbuffer_drain(in, n + 4);
		}
	}
}
