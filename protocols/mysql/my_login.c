/* my_login: MySQL / MariaDB handshake, client authentication with the O&M
 * token, and backend login with the hosted account.
 *
 * Client side: the proxy greets first with its own HandshakeV10 (its own
 * scramble, connection id = session id), upgrades to TLS on SSLRequest, and
 * checks the token: mysql_native_password against the token's stored
 * SHA1(SHA1(token)) verifier, the caching_sha2_password fast path against
 * its SHA256(SHA256(token)) verifier (TLS or not). A caching_sha2 answer
 * that matches no verifier gets full authentication, as from a MySQL
 * server: inside TLS the client sends the token in clear; without TLS it
 * asks for the proxy's RSA public key (an in-memory RSA-2048 key made at
 * daemon start, my_client_rsa()) and sends the token RSA-OAEP
 * encrypted, XORed with our scramble. Either way the cleartext token is
 * checked by its lookup hash (auth_check_token), so the audit says why it
 * failed. mysql_clear_password is taken only over TLS; any other plugin is
 * switched to mysql_native_password (auth switch request).
 *
 * Backend side, only after the client is logged in (the token picks the
 * asset): read the server's handshake, intersect capabilities, TLS per the
 * asset, answer whatever plugin the server asks for with the hosted secret
 * (native; caching_sha2 fast path, full path over TLS or RSA with the
 * server's key; MariaDB's client_ed25519, an Ed25519 signature of the
 * server's nonce; cleartext only over TLS). Every refusal reason goes to
 * the login_failed audit record; the client hears ERR 1045 as from a server.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "protocols/mysql/my_auth.h"
#include "protocols/mysql/my_auth_ed25519.h"
#include "protocols/mysql/my_conn.h"
#include "protocols/mysql/my_passthrough_auth.h"
#include "protocols/mysql/my_routines.h"
#include "proxy/auth.h"
#include "proxy/login.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/transition.h"

/* The server version string the proxy greets with. The "5.5.5-" prefix is
 * what MariaDB 10.x servers send (for old replication clients) and what
 * MariaDB drivers strip; "MariaDB" in it makes Connector/J, DBeaver and
 * friends pick the MariaDB dialect; 10.11.0 is the oldest release of the
 * LTS line the backends run, so no client assumes a newer feature; the
 * "-sqlbastion" suffix tells an operator the proxy is in between.
 * SELECT VERSION() still answers the backend's real version. */
#define MY_PROXY_VERSION "5.5.5-10.11.0-MariaDB-sqlbastion"

/* What the proxy offers a client: flags every MariaDB >= 10.2 and MySQL >=
 * 5.7 server has, and none that changes the wire format in ways the relay
 * does not follow (no compression, no MariaDB extended capabilities such
 * as metadata caching or bulk execution, no query attributes). */
#define MY_OFFER_CAPS                                                                      \
	(MY_CLIENT_FOUND_ROWS | MY_CLIENT_LONG_FLAG | MY_CLIENT_CONNECT_WITH_DB |          \
	 MY_CLIENT_NO_SCHEMA | MY_CLIENT_ODBC | MY_CLIENT_LOCAL_FILES | MY_CLIENT_IGNORE_SPACE | \
	 MY_CLIENT_PROTOCOL_41 | MY_CLIENT_INTERACTIVE | MY_CLIENT_IGNORE_SIGPIPE |       \
	 MY_CLIENT_TRANSACTIONS | MY_CLIENT_RESERVED | MY_CLIENT_SECURE_CONNECTION |       \
	 MY_CLIENT_MULTI_STATEMENTS | MY_CLIENT_MULTI_RESULTS | MY_CLIENT_PS_MULTI_RESULTS | \
	 MY_CLIENT_PLUGIN_AUTH | MY_CLIENT_CONNECT_ATTRS | MY_CLIENT_PLUGIN_AUTH_LENENC |  \
	 MY_CLIENT_SESSION_TRACK | MY_CLIENT_DEPRECATE_EOF)
/* Of those, the ones that change what the backend sends: if the client
 * chose one and the backend lacks it, the login is refused. */
#define MY_FORMAT_CAPS (MY_CLIENT_DEPRECATE_EOF | MY_CLIENT_SESSION_TRACK)

#define MY_LOGIN_PACKET_MAX 65536u /* handshake packets, auth data, a PEM key */

static const char *const NATIVE = "mysql_native_password";
static const char *const SHA2 = "caching_sha2_password";
static const char *const CLEAR = "mysql_clear_password";
static const char *const ED25519 = "client_ed25519"; /* MariaDB auth_ed25519 */

/* Every state change goes through set_state(), checked by the core
 * (proxy/transition.h): the table lists, for each state, the states it may go
 * to (staying is always allowed, and every state may close). */
static const unsigned my_next[] = {
	[MY_ST_HANDSHAKE] = SESS_TO(MY_ST_CLIENT_TLS) | SESS_TO(MY_ST_CLIENT_AUTH) |
			    SESS_TO(MY_ST_BACKEND_CONNECT),
	[MY_ST_CLIENT_TLS] = SESS_TO(MY_ST_HANDSHAKE),
	[MY_ST_CLIENT_AUTH] = SESS_TO(MY_ST_BACKEND_CONNECT),
	[MY_ST_BACKEND_CONNECT] = SESS_TO(MY_ST_BACKEND_HANDSHAKE),
	[MY_ST_BACKEND_HANDSHAKE] = SESS_TO(MY_ST_BACKEND_TLS) | SESS_TO(MY_ST_BACKEND_AUTH),
	[MY_ST_BACKEND_TLS] = SESS_TO(MY_ST_BACKEND_AUTH),
	[MY_ST_BACKEND_AUTH] = SESS_TO(MY_ST_BACKEND_SETUP) | SESS_TO(MY_ST_READY),
	[MY_ST_BACKEND_SETUP] = SESS_TO(MY_ST_READY),
	[MY_ST_READY] = SESS_TO(MY_ST_CLIENT_AUTH), /* COM_CHANGE_USER */
	[MY_ST_CLOSED] = 0,
};

static const char *const my_names[] = {"handshake",     "client-tls",  "client-auth",
					    "connect",       "backend-hs",  "backend-tls",
					    "backend-auth",  "backend-setup", "ready",     "closed"};

static const struct sess_states my_states = {
	.names = my_names, .next = my_next, .ready = MY_ST_READY, .closed = MY_ST_CLOSED};

static void set_state(struct my_conn *c, enum my_state st)
{
	c->st = (enum my_state)sess_change_state(c->s, &my_states, (int)c->st, (int)st);
}

void my_fatal(struct my_conn *c, uint8_t seq, uint16_t code, const char *sqlstate,
	      const char *msg, const char *reason)
{
	(void)my_put_err(sess_output(c->s, SESS_CLIENT), seq, code, sqlstate, msg);
	set_state(c, MY_ST_CLOSED);
	sess_close_after_flush(c->s, "%s", reason);
}

const char *my_take_db_and_attrs(struct my_conn *c, const struct my_hs_response *r)
{
	struct session *s = c->s;
	if (r->database) {
		if (strlen(r->database) >= sizeof s->ident.database)
			return "database name too long";
		snprintf(s->ident.database, sizeof s->ident.database, "%s", r->database);
	}
	if (r->attrs && r->attrs_len) {
		c->attrs = malloc(r->attrs_len);
		if (!c->attrs)
			return "out of memory";
		memcpy(c->attrs, r->attrs, r->attrs_len);
		c->attrs_len = r->attrs_len;
	}
	return NULL;
}

static void refuse(struct my_conn *c, const char *reason)
{
	login_refuse(c->s, &c->login, reason);
}

static int send_payload(struct my_conn *c, enum sess_side side, struct my_buf *b)
{
	uint8_t *seq = side == SESS_CLIENT ? &c->seq : &c->bseq;
	int r = my_buf_ok(b) ? my_put_packets(sess_output(c->s, side), *seq, b->p, b->len) : -1;
	if (r >= 0)
		*seq = (uint8_t)r;
	return r < 0 ? -1 : 0;
}

int my_send_greeting(struct my_conn *c)
{
	struct my_handshake h = {.protocol = 10, .conn_id = (uint32_t)c->s->id,
				 .scramble_len = MY_SCRAMBLE_LEN, .charset = 45, /* utf8mb4_general_ci */
				 .status = MY_SERVER_STATUS_AUTOCOMMIT};
	snprintf(h.version, sizeof h.version, "%s", MY_PROXY_VERSION);
	snprintf(h.plugin, sizeof h.plugin, "%s", NATIVE);
	if (my_make_scramble(c->scramble) != 0)
		return -1;
	memcpy(h.scramble, c->scramble, MY_SCRAMBLE_LEN);
	h.caps = MY_OFFER_CAPS | (c->s->px->server_tls ? MY_CLIENT_SSL : 0);
	struct my_buf b;
	my_buf_init(&b);
	my_build_handshake(&b, &h);
	c->seq = 0;
	int rc = send_payload(c, SESS_CLIENT, &b);
	my_buf_free(&b);
	return rc;
}

/* One whole login packet from `side`, checked against the expected
 * sequence id. Returns its payload (valid until drained: the caller drains
 * *n + 4 bytes), NULL when incomplete or when the session was closed. */
static uint8_t *login_packet(struct my_conn *c, enum sess_side side, size_t *n, int *closed)
{
	struct evbuffer *in = sess_input(c->s, side);
	uint8_t h[MY_HEADER_LEN];
	struct my_frame f;
	*closed = 0;
	enum my_peek r = my_peek_packet(h, my_head(in, h), MY_LOGIN_PACKET_MAX - 1, &f);
	if (r == MY_PEEK_AGAIN && f.need == MY_HEADER_LEN)
		return NULL;
	uint32_t len = f.len;
	uint8_t seq = f.seq;
	uint8_t want = side == SESS_CLIENT ? c->seq : c->bseq;
	if (r == MY_PEEK_INVALID || seq != want) {
		*closed = 1;
		if (side == SESS_CLIENT)
			sess_close(c->s, "malformed login packet from client (length %u, sequence %u, expected %u)",
				   len, seq, want);
		else
			sess_close(c->s, "malformed login packet from backend (length %u, sequence %u)",
				   len, seq);
		return NULL;
	}
	if (r == MY_PEEK_AGAIN)
		return NULL;
	uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len + 4);
	if (!p) {
		*closed = 1;
		sess_close(c->s, "out of memory");
		return NULL;
	}
	if (side == SESS_CLIENT)
		c->seq = (uint8_t)(seq + 1);
	else
		c->bseq = (uint8_t)(seq + 1);
	*n = len;
	return p + 4;
}

/* ---- client authentication ---- */

static void change_user_checked(struct my_conn *c, enum auth_status st, const char *reason);

static void check_result(struct my_conn *c, enum auth_status st, const char *reason)
{
	if (c->change_user) {
		change_user_checked(c, st, reason);
		return;
	}
	if (login_checked(c->s, &c->login, st, reason) != 0)
		return;
	set_state(c, MY_ST_BACKEND_CONNECT);
	(void)login_start_backend(c->s, &c->login);
}

struct scramble_check {
	const uint8_t *scramble, *resp;
	int sha2; /* caching_sha2 fast path (else mysql_native_password) */
};

/* login_check_verifiers' match: this token's verifier and our scramble. */
static int scramble_matches(void *ctx, const uint8_t native[SB_SHA1_LEN],
			    const uint8_t sha2[SB_SHA256_LEN])
{
	const struct scramble_check *k = ctx;
	return k->sha2 ? my_sha2_verify(sha2, k->scramble, k->resp)
		       : my_native_verify(native, k->scramble, k->resp);
}

static void send_sha2_more(struct my_conn *c, uint8_t what)
{
	const uint8_t more[2] = {0x01, what}; /* AuthMoreData */
	struct my_buf mb;
	my_buf_init(&mb);
	my_buf_add(&mb, more, 2);
	if (send_payload(c, SESS_CLIENT, &mb) != 0)
		sess_close(c->s, "out of memory");
	my_buf_free(&mb);
}

static void ask_sha2_full(struct my_conn *c)
{
	send_sha2_more(c, 0x04); /* perform_full_authentication */
	if (c->s->closing)
		return;
	c->cauth = MY_CA_SHA2_FULL;
	set_state(c, MY_ST_CLIENT_AUTH);
}

/* A scramble response (mysql_native_password, or the caching_sha2_password
 * fast path when sha2) checked against each of the user's token verifiers
 * (as SCRAM is on the PostgreSQL side); the token that matches picks the
 * asset and account. A caching_sha2 response that matches no token gets
 * full authentication, as from a MySQL server whose cache misses: the token
 * itself inside TLS, RSA-encrypted with the proxy's key without TLS (see
 * check_sha2_full). The token then says why it was refused (unknown, of
 * another user, older than the verifier window). A native response that
 * matches nothing is refused at once: that plugin has no second step. */
static void check_scramble(struct my_conn *c, const uint8_t *resp, size_t len, int sha2)
{
	char reason[256] = "";
	if (len == 0) {
		refuse(c, "no token given (empty password)");
		return;
	}
	if (len != (sha2 ? MY_SHA2_LEN : MY_NATIVE_LEN)) {
		refuse(c, sha2 ? "malformed caching_sha2_password response"
			       : "malformed mysql_native_password response");
		return;
	}
	if (!login_allow_check(c->s)) {
		refuse(c, LOGIN_TOO_MANY);
		return;
	}
	/* An unknown user, a wrong token or a lock take the same path: full
	 * authentication where caching_sha2 has it (the token check there
	 * says why), so the answer does not tell who exists (as SCRAM's salt
	 * does on the PostgreSQL side). */
	int full_auth = sha2 && (c->s->client_tls || my_client_rsa());
	struct scramble_check k = {.scramble = c->scramble, .resp = resp, .sha2 = sha2};
	int no_match;
	enum auth_status as = login_check_verifiers(c->s, &c->login, scramble_matches, &k,
						    full_auth, &no_match, reason, sizeof reason);
	if (no_match && full_auth) {
		ask_sha2_full(c);
		return;
	}
	if (as == AUTH_OK && sha2) {
		/* fast_auth_success; the OK follows once the backend is in. */
		send_sha2_more(c, 0x03);
		if (c->s->closing)
			return;
	}
	check_result(c, as, reason);
}

/* The token itself, from a cleartext plugin inside TLS or decrypted from
 * caching_sha2's RSA exchange: found by its keyed lookup hash, then the
 * login rules (auth_check_token). len excludes any final NUL. */
static void check_token(struct my_conn *c, const char *tok, size_t len)
{
	char reason[256] = "";
	if (len == 0) {
		refuse(c, "no token given (empty password)");
		return;
	}
	enum auth_status as = login_check_token(c->s, &c->login, tok, len, reason, sizeof reason);
	check_result(c, as, reason);
}

static void check_clear(struct my_conn *c, const uint8_t *pw, size_t len)
{
	if (!c->s->client_tls) {
		refuse(c, "cleartext token refused without TLS");
		return;
	}
	if (len && pw[len - 1] == 0)
		len--;
	check_token(c, (const char *)pw, len);
}

/* caching_sha2 full authentication without TLS, last step: the client's
 * RSA-OAEP ciphertext of (token || NUL) XOR our scramble. */
static void check_sha2_rsa(struct my_conn *c, const uint8_t *b, size_t n)
{
	char tok[512], err[160], reason[200];
	/* 0.33 ms of the only event loop each: bounded per source. */
	if (!login_allow_expensive(c->s)) {
		refuse(c, LOGIN_TOO_MANY);
		return;
	}
	int len = my_rsa_decrypt_password(my_client_rsa(), b, n, c->scramble, MY_SCRAMBLE_LEN,
					  tok, sizeof tok, err, sizeof err);
	if (len < 0) {
		snprintf(reason, sizeof reason, "caching_sha2_password full authentication: %s", err);
		refuse(c, reason);
		return;
	}
	check_token(c, tok, (size_t)len);
	sb_wipe(tok, sizeof tok);
}

/* Send AuthMoreData 0x01 + our public key (PEM), the answer to
 * request_public_key (MySQL sql/auth/sha2_password.cc; MariaDB Connector/C
 * plugins/auth/caching_sha2_pw.c and PyMySQL ask for it unless given a key
 * file, which cannot hold this key: it is made at every start). */
static void send_public_key(struct my_conn *c)
{
	char pem[1024];
	int pl = my_rsa_public_pem(my_client_rsa(), pem, sizeof pem);
	if (pl < 0) {
		refuse(c, "caching_sha2_password full authentication: cannot export the RSA key");
		return;
	}
	struct my_buf mb;
	my_buf_init(&mb);
	my_buf_u8(&mb, 0x01);
	my_buf_add(&mb, pem, (size_t)pl);
	if (send_payload(c, SESS_CLIENT, &mb) != 0) {
		my_buf_free(&mb);
		sess_close(c->s, "out of memory");
		return;
	}
	my_buf_free(&mb);
	c->cauth = MY_CA_SHA2_RSA;
	set_state(c, MY_ST_CLIENT_AUTH);
}

/* The client's answer to perform_full_authentication. Inside TLS: the token
 * in clear. Without TLS: request_public_key (0x02), or at once the RSA
 * ciphertext when the client already holds a key. A cleartext token on a
 * plain connection fails as a ciphertext (wrong length): never read as a
 * token. */
static void check_sha2_full(struct my_conn *c, const uint8_t *b, size_t n)
{
	if (c->s->client_tls)
		check_clear(c, b, n);
	else if (n == 1 && b[0] == 0x02)
		send_public_key(c);
	else if (n == 0)
		refuse(c, "no token given (empty password)");
	else
		check_sha2_rsa(c, b, n);
}

/* Auth switch request to `plugin` with our scramble; the client's answer
 * is handled as `how`. */
static void switch_to(struct my_conn *c, const char *plugin, enum my_client_auth how)
{
	struct my_buf b;
	my_buf_init(&b);
	my_build_auth_switch(&b, plugin, c->scramble, MY_SCRAMBLE_LEN);
	if (send_payload(c, SESS_CLIENT, &b) != 0) {
		my_buf_free(&b);
		sess_close(c->s, "out of memory");
		return;
	}
	my_buf_free(&b);
	c->cauth = how;
	set_state(c, MY_ST_CLIENT_AUTH);
}

static void switch_to_native(struct my_conn *c)
{
	switch_to(c, NATIVE, MY_CA_SWITCH_NATIVE);
}

/* A caching_sha2_password response: the 32-byte fast-path scramble, or,
 * inside TLS, the token itself NUL-terminated (MariaDB Connector/C's
 * plugin sends the password at once when the connection is secure:
 * plugins/auth/caching_sha2_pw.c; a token is never 32 bytes long, so the
 * two cannot be confused), or empty (no password). */
static void check_sha2_response(struct my_conn *c, const uint8_t *b, size_t n)
{
	if (n == MY_SHA2_LEN)
		check_scramble(c, b, n, 1);
	else if (n > 0 && c->s->client_tls)
		check_clear(c, b, n);
	else if (n == 0)
		refuse(c, "no token given (empty password)");
	else
		refuse(c, "malformed caching_sha2_password response");
}

/* The client's first authentication data for `plugin` (handshake
 * response or COM_CHANGE_USER): checked now, or an auth switch asks for a
 * plugin the proxy checks. */
static void check_first_auth(struct my_conn *c, const char *plugin, const uint8_t *auth,
			     size_t len)
{
	if (plugin[0] == '\0' || strcmp(plugin, NATIVE) == 0) {
		check_scramble(c, auth, len, 0);
	} else if (strcmp(plugin, CLEAR) == 0 && c->s->client_tls) {
		check_clear(c, auth, len);
	} else if (strcmp(plugin, SHA2) == 0 && len > 0) {
		/* The client scrambled the token with our nonce although the
		 * greeting named native (MySQL 8 clients do): the fast path,
		 * checked against SHA256(SHA256(token)), TLS or not. */
		check_sha2_response(c, auth, len);
	} else if (strcmp(plugin, SHA2) == 0) {
		/* Connector/C started with caching_sha2 (MYSQL_DEFAULT_AUTH) and
		 * sent no data, since the greeting's was for another plugin:
		 * switch to the same plugin to hand it our nonce, as a server
		 * does; its answer is the fast path, or the token inside TLS. */
		switch_to(c, SHA2, MY_CA_SWITCH_SHA2);
	} else {
		/* clear on a plain connection, caching_sha2 without a scramble
		 * and no TLS, ed25519, dialog, ...: ask for mysql_native_password,
		 * which never sends the token. */
		switch_to_native(c);
	}
}

static void on_handshake_response(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct session *s = c->s;
	struct my_hs_response r;
	char err[160];
	if (my_parse_hs_response(b, n, &r, err, sizeof err) != 0) {
		login_audit_failed(s, &c->login, err);
		my_fatal(c, c->seq, MY_ER_HANDSHAKE, "08S01", "Bad handshake", err);
		return;
	}
	if (r.ssl_request) {
		if (s->client_tls || !s->px->server_tls) {
			sess_close(s, "unexpected SSLRequest");
			return;
		}
		/* Unlike PostgreSQL (where the server must answer 'S' first, and
		 * early bytes are an injection: CVE-2021-23214), a MySQL client
		 * starts TLS right after its SSLRequest without waiting for a
		 * reply: bytes behind it in the same read are its ClientHello
		 * and belong to the TLS handshake (sess_client_tls_start hands
		 * what is buffered to TLS). Plaintext there just fails the TLS
		 * handshake. */
		evbuffer_drain(sess_input(s, SESS_CLIENT), n + 4);
		if (sess_client_tls_start(s) != 0) {
			sess_close(s, "cannot start TLS");
			return;
		}
		set_state(c, MY_ST_CLIENT_TLS);
		return;
	}
	c->client_caps = r.caps & (MY_OFFER_CAPS | MY_CLIENT_SSL);
	c->client_max_packet = r.max_packet;
	c->client_charset = r.charset;
	if (login_set_user(&c->login, r.user) != 0) {
		refuse(c, "user name too long");
		return;
	}
	const char *why = my_take_db_and_attrs(c, &r);
	if (why) {
		refuse(c, why);
		return;
	}
	if (s->px->cfg.require_tls && !s->client_tls && !s->preset) {
		login_audit_failed(s, &c->login, "TLS required");
		my_fatal(c, c->seq, MY_ER_ACCESS_DENIED, "28000",
			 "sqlbastion: TLS is required (use --ssl)", "TLS required");
		return;
	}
	int pr = login_preset(s, &c->login);
	if (pr < 0)
		return;
	if (pr > 0) {
		set_state(c, MY_ST_BACKEND_CONNECT);
		(void)login_start_backend(s, &c->login);
		return;
	}
	const char *plugin = (r.caps & MY_CLIENT_PLUGIN_AUTH) && r.plugin ? r.plugin : NATIVE;
	check_first_auth(c, plugin, r.auth, r.auth_len);
}

static void client_read(struct my_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	size_t n;
	int closed;
	if (c->pt && c->st != MY_ST_READY && c->st != MY_ST_CLIENT_AUTH) {
		my_pt_client_read(c); /* the client answers the database */
		return;
	}
	if (c->st != MY_ST_HANDSHAKE && c->st != MY_ST_CLIENT_AUTH)
		return; /* client spoke early: kept buffered for the relay */
	uint8_t *b = login_packet(c, SESS_CLIENT, &n, &closed);
	if (!b)
		return;
	if (c->st == MY_ST_HANDSHAKE) {
		on_handshake_response(c, b, n);
		if (c->st != MY_ST_CLIENT_TLS && !s->closing)
			evbuffer_drain(in, n + 4);
		return;
	}
	/* MY_ST_CLIENT_AUTH */
	enum my_client_auth how = c->cauth;
	c->cauth = MY_CA_NONE;
	if (how == MY_CA_SWITCH_NATIVE)
		check_scramble(c, b, n, 0);
	else if (how == MY_CA_SWITCH_SHA2)
		check_sha2_response(c, b, n);
	else if (how == MY_CA_SHA2_FULL)
		check_sha2_full(c, b, n);
	else if (how == MY_CA_SHA2_RSA)
		check_sha2_rsa(c, b, n);
	else
		refuse(c, "unexpected authentication packet");
	if (!s->closing) {
		sb_wipe(b, n);
		evbuffer_drain(in, n + 4);
		if (c->st == MY_ST_READY && evbuffer_get_length(in))
			my_relay_client(c); /* commands behind a change user's answer */
	}
}

/* ---- backend login ---- */

static void backend_failed(struct my_conn *c, const char *why)
{
	login_backend_failed(c->s, &c->login, why);
}

/* Auth data for `plugin` with the current backend scramble (at most 64
 * bytes: an Ed25519 signature). Returns its length (0 = empty), or -1 when
 * the plugin is not supported or the data cannot be made. */
static int plugin_response(struct my_conn *c, const char *plugin, uint8_t out[64],
			   char *why, size_t whylen)
{
	size_t pwlen = strlen(c->login.secret);
	if (c->bhs.scramble_len < 20 && (strcmp(plugin, NATIVE) == 0 || strcmp(plugin, SHA2) == 0)) {
		snprintf(why, whylen, "server scramble too short");
		return -1;
	}
	if (plugin[0] == '\0' || strcmp(plugin, NATIVE) == 0)
		return (int)my_native_scramble(c->login.secret, pwlen, c->bhs.scramble, out);
	if (strcmp(plugin, SHA2) == 0)
		return (int)my_sha2_scramble(c->login.secret, pwlen, c->bhs.scramble, out);
	if (strcmp(plugin, ED25519) == 0) {
		/* MariaDB auth_ed25519: sign the server's 32-byte nonce with the
		 * key derived from the password (my_auth_ed25519.h). */
		if (c->bhs.scramble_len != MY_ED25519_NONCE_LEN) {
			snprintf(why, whylen, "client_ed25519 nonce has %zu bytes, not %d",
				 c->bhs.scramble_len, MY_ED25519_NONCE_LEN);
			return -1;
		}
		if (my_ed25519_sign(c->login.secret, pwlen, c->bhs.scramble, MY_ED25519_NONCE_LEN, out,
				    NULL) != 0) {
			snprintf(why, whylen, "client_ed25519 signature failed (out of memory)");
			return -1;
		}
		return MY_ED25519_SIG_LEN;
	}
	snprintf(why, whylen, "backend asks for unsupported auth plugin %.40s", plugin);
	return -1;
}

/* The fixed fields of the HandshakeResponse must be the same in the
 * SSLRequest and in the response sent after TLS: MariaDB reads the
 * capabilities (and max packet, charset) from the SSLRequest and parses
 * the later packet with them, so a CONNECT_WITH_DB set in one and not the
 * other shifts every field after the auth data ("1043 Bad handshake" for
 * clients that connect without a database: mysqlslap, the CLI's KILL
 * QUERY connection). c->caps is final once the backend handshake is read. */
static uint32_t backend_max_packet(const struct my_conn *c)
{
	return c->client_max_packet ? c->client_max_packet : 1u << 24;
}

static uint8_t backend_charset(const struct my_conn *c)
{
	return c->client_charset ? c->client_charset : 45;
}

static void send_backend_response(struct my_conn *c)
{
	struct session *s = c->s;
	uint8_t auth[64];
	char why[160];
	if (c->pt) {
		my_pt_send_response(c); /* the client's own auth data */
		return;
	}
	const char *plugin = c->bhs.plugin[0] && strcmp(c->bhs.plugin, SHA2) == 0 ? SHA2 : NATIVE;
	int alen = plugin_response(c, plugin, auth, why, sizeof why);
	if (alen < 0) {
		backend_failed(c, why);
		return;
	}
	snprintf(c->bplugin, sizeof c->bplugin, "%s", plugin);
	struct my_hs_response r = {.caps = c->caps | (s->backend_tls ? MY_CLIENT_SSL : 0),
				   .max_packet = backend_max_packet(c),
				   .charset = backend_charset(c),
				   .user = s->ident.target.db_username,
				   .auth = auth,
				   .auth_len = (size_t)alen,
				   .database = s->ident.database,
				   .plugin = plugin,
				   .attrs = (const uint8_t *)c->attrs,
				   .attrs_len = c->attrs_len};
	struct my_buf b;
	my_buf_init(&b);
	my_build_hs_response(&b, &r);
	sb_wipe(auth, sizeof auth);
	if (send_payload(c, SESS_BACKEND, &b) != 0) {
		my_buf_free(&b);
		backend_failed(c, "out of memory");
		return;
	}
	my_buf_free(&b);
	set_state(c, MY_ST_BACKEND_AUTH);
}

static void on_backend_handshake(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct session *s = c->s;
	char err[160];
	if (my_parse_handshake(b, n, &c->bhs, err, sizeof err) != 0) {
		backend_failed(c, err);
		return;
	}
	uint32_t bc = c->bhs.caps;
	if (!(bc & MY_CLIENT_PROTOCOL_41) || !(bc & MY_CLIENT_SECURE_CONNECTION)) {
		backend_failed(c, "backend does not speak protocol 4.1 with secure connection");
		return;
	}
	uint32_t missing = c->client_caps & MY_FORMAT_CAPS & ~bc;
	if (missing) {
		char why[120];
		snprintf(why, sizeof why, "backend %.40s lacks capabilities 0x%x the client uses",
			 c->bhs.version, missing);
		backend_failed(c, why);
		return;
	}
	c->backend_thread = c->bhs.conn_id;
	c->s->backend_id = c->bhs.conn_id; /* KILL ownership, versioned comments: */
	c->s->lex.server_version = policy_mysql_version(c->bhs.version, &c->s->lex.server_mariadb);
	/* Both sides then speak with exactly these. The handshake fields the
	 * proxy builds itself (auth data encoding, attributes) follow the
	 * backend's offer alone. */
	c->caps = (c->client_caps & bc & MY_OFFER_CAPS) | MY_CLIENT_PROTOCOL_41 |
		  MY_CLIENT_SECURE_CONNECTION | MY_CLIENT_LONG_PASSWORD;
	c->caps &= ~(MY_CLIENT_PLUGIN_AUTH | MY_CLIENT_PLUGIN_AUTH_LENENC | MY_CLIENT_CONNECT_ATTRS |
		     MY_CLIENT_CONNECT_WITH_DB);
	c->caps |= bc & (MY_CLIENT_PLUGIN_AUTH | MY_CLIENT_PLUGIN_AUTH_LENENC |
			 MY_CLIENT_CONNECT_WITH_DB);
	if (c->attrs && (bc & MY_CLIENT_CONNECT_ATTRS))
		c->caps |= MY_CLIENT_CONNECT_ATTRS;
	if (!s->ident.database[0])
		c->caps &= ~MY_CLIENT_CONNECT_WITH_DB;
	int want_tls = s->ident.target.tls != ASSET_TLS_DISABLE;
	if (want_tls && !(bc & MY_CLIENT_SSL)) {
		if (s->ident.target.tls != ASSET_TLS_PREFER) {
			backend_failed(c, "backend does not support TLS but the asset requires it");
			return;
		}
		want_tls = 0;
	}
	if (!want_tls) {
		send_backend_response(c);
		return;
	}
	struct my_hs_response r = {.caps = c->caps | MY_CLIENT_SSL,
				   .max_packet = backend_max_packet(c),
				   .charset = backend_charset(c),
				   .ssl_request = 1};
	struct my_buf sb;
	my_buf_init(&sb);
	my_build_hs_response(&sb, &r);
	if (send_payload(c, SESS_BACKEND, &sb) != 0) {
		my_buf_free(&sb);
		backend_failed(c, "out of memory");
		return;
	}
	my_buf_free(&sb);
	if (sess_backend_tls_start(s, s->ident.target.host, s->ident.target.tls == ASSET_TLS_VERIFY_FULL) != 0) {
		backend_failed(c, "cannot start TLS to backend");
		return;
	}
	set_state(c, MY_ST_BACKEND_TLS);
}

/* The backend accepted the hosted account (its OK is ok/n), or, for a read
 * grant, the session is read-only now: audit the login and tell the client. */
static void logged_in(struct my_conn *c, const uint8_t *ok, size_t n)
{
	struct session *s = c->s;
	struct my_ok o;
	login_wipe_secret(&c->login);
	free(c->attrs);
	c->attrs = NULL;
	if (my_parse_ok(ok, n, &o) != 0)
		o.status = MY_SERVER_STATUS_AUTOCOMMIT;
	if (s->ident.target.level == POLICY_LEVEL_READ && c->st == MY_ST_BACKEND_AUTH) {
		/* Before the client's first command (the client has no OK yet,
		 * so anything it sent early stays buffered): make the server
		 * session read-only. Its reply is the proxy's, never relayed. */
		static const char q[] = "\x03" MY_READ_ONLY_SQL;
		struct my_buf b;
		my_buf_init(&b);
		my_buf_add(&b, q, sizeof q - 1);
		c->bseq = 0;
		int rc = send_payload(c, SESS_BACKEND, &b);
		my_buf_free(&b);
		if (rc != 0) {
			backend_failed(c, "out of memory");
			return;
		}
		set_state(c, MY_ST_BACKEND_SETUP);
		return;
	}
	char detail[160];
	snprintf(detail, sizeof detail, ", backend %s thread %u", c->bhs.version, c->backend_thread);
	if (login_complete(s, &c->login, detail) != 0)
		return;
	struct my_buf b;
	my_buf_init(&b);
	/* Our own OK: the backend's may carry session-state info in a format
	 * the client did not necessarily ask for. */
	my_build_ok(&b, 0, 0, (uint16_t)(o.status & ~0x4000u), 0);
	if (send_payload(c, SESS_CLIENT, &b) != 0) {
		my_buf_free(&b);
		sess_close(s, "out of memory");
		return;
	}
	my_buf_free(&b);
	if (!c->routines && my_routines_init(c) != 0) {
		sess_close(s, "out of memory");
		return;
	}
	set_state(c, MY_ST_READY);
}

/* The answer to MY_READ_ONLY_SQL. A read grant whose session cannot be
 * made read-only is not let in (fail closed). */
static void on_backend_setup_reply(struct my_conn *c, const uint8_t *b, size_t n)
{
	uint16_t code = 0;
	char state[6] = "HY000";
	const char *msg = "";
	size_t ml = 0;
	if (n >= 1 && b[0] == 0x00) {
		logged_in(c, b, n);
		return;
	}
	char why[300];
	if (my_is_err(b, n) && my_parse_err(b, n, &code, state, &msg, &ml) == 0)
		snprintf(why, sizeof why, "cannot make the session read-only: %u (%s) %.*s", code,
			 state, (int)(ml > 200 ? 200 : ml), msg);
	else
		snprintf(why, sizeof why, "cannot make the session read-only: unexpected reply");
	backend_failed(c, why);
}

static void send_backend_raw(struct my_conn *c, const void *p, size_t n)
{
	struct my_buf b;
	my_buf_init(&b);
	my_buf_add(&b, p, n);
	if (send_payload(c, SESS_BACKEND, &b) != 0)
		backend_failed(c, "out of memory");
	my_buf_free(&b);
}

static void on_backend_auth_switch(struct my_conn *c, const uint8_t *b, size_t n)
{
	const char *plugin;
	const uint8_t *data;
	size_t dlen;
	char why[160];
	if (my_parse_auth_switch(b, n, &plugin, &data, &dlen) != 0) {
		backend_failed(c, "malformed auth switch request");
		return;
	}
	/* The data is the plugin's nonce. The codec drops one trailing NUL, as
	 * native and caching_sha2 send 20 bytes + NUL; auth_ed25519 sends
	 * exactly its 32 random bytes, whose last one may be 0: take it raw. */
	if (strcmp(plugin, ED25519) == 0) {
		dlen = n - (size_t)(data - b);
		if (dlen != MY_ED25519_NONCE_LEN) {
			snprintf(why, sizeof why, "client_ed25519 nonce has %zu bytes, not %d", dlen,
				 MY_ED25519_NONCE_LEN);
			backend_failed(c, why);
			return;
		}
	}
	if (dlen > sizeof c->bhs.scramble)
		dlen = sizeof c->bhs.scramble;
	memcpy(c->bhs.scramble, data, dlen);
	c->bhs.scramble_len = dlen;
	snprintf(c->bplugin, sizeof c->bplugin, "%s", plugin);
	c->sha2_asked_key = 0;
	if (strcmp(plugin, CLEAR) == 0) {
		if (!backend_auth_weak_ok(&c->login.bauth, c->s, "mysql_clear_password", why, sizeof why)) {
			backend_failed(c, why);
			return;
		}
		send_backend_raw(c, c->login.secret, strlen(c->login.secret) + 1);
		return;
	}
	uint8_t auth[64];
	int alen = plugin_response(c, plugin, auth, why, sizeof why);
	if (alen < 0) {
		backend_failed(c, why);
		return;
	}
	send_backend_raw(c, auth, (size_t)alen);
	sb_wipe(auth, sizeof auth);
}

/* caching_sha2_password full authentication: the server wants the
 * password itself. It goes out in clear inside verify-full TLS; encrypted
 * to the asset's pinned RSA key on a plain connection (a server reached
 * over TLS expects the cleartext, so a pinned key cannot serve there);
 * otherwise (cleartext over unverified TLS, or RSA to whatever key the
 * server sends) only where the asset allows weak auth. */
static void sha2_full_auth(struct my_conn *c)
{
	struct session *s = c->s;
	char why[300];
	if (backend_auth_verified(s)) {
		send_backend_raw(c, c->login.secret, strlen(c->login.secret) + 1);
		return;
	}
	if (c->login.bauth.pinned_key && !s->backend_tls) {
		uint8_t enc[1024];
		char err[120];
		int el = my_rsa_encrypt_password(c->login.bauth.pinned_key, strlen(c->login.bauth.pinned_key),
						 c->login.secret, strlen(c->login.secret), c->bhs.scramble,
						 c->bhs.scramble_len < 20 ? c->bhs.scramble_len : 20,
						 enc, sizeof enc, err, sizeof err);
		if (el < 0) {
			snprintf(why, sizeof why, "pinned server public key: %s", err);
			backend_failed(c, why);
			return;
		}
		send_backend_raw(c, enc, (size_t)el);
		return;
	}
	const char *method = s->backend_tls
		? "caching_sha2_password full authentication (cleartext)"
		: "caching_sha2_password full authentication (RSA to a key the server sends)";
	if (!backend_auth_weak_ok(&c->login.bauth, s, method, why, sizeof why)) {
		if (c->login.bauth.pinned_key)
			snprintf(why + strlen(why), sizeof why - strlen(why),
				 "; the pinned key serves only without TLS");
		backend_failed(c, why);
		return;
	}
	if (s->backend_tls) {
		send_backend_raw(c, c->login.secret, strlen(c->login.secret) + 1);
	} else {
		static const uint8_t ask = 0x02; /* request_public_key */
		c->sha2_asked_key = 1;
		send_backend_raw(c, &ask, 1);
	}
}

/* AuthMoreData (0x01 ...) during caching_sha2_password. */
static void on_backend_more_data(struct my_conn *c, const uint8_t *b, size_t n)
{
	if (strcmp(c->bplugin, SHA2) != 0 || n < 2) {
		backend_failed(c, "unexpected auth data from backend");
		return;
	}
	if (c->sha2_asked_key) {
		/* Only asked for where the asset allows weak auth (sha2_full_auth). */
		uint8_t enc[1024];
		char err[120];
		c->sha2_asked_key = 0;
		int el = my_rsa_encrypt_password((const char *)b + 1, n - 1, c->login.secret,
						 strlen(c->login.secret), c->bhs.scramble,
						 c->bhs.scramble_len < 20 ? c->bhs.scramble_len : 20,
						 enc, sizeof enc, err, sizeof err);
		if (el < 0) {
			backend_failed(c, err);
			return;
		}
		send_backend_raw(c, enc, (size_t)el);
		return;
	}
	if (n == 2 && b[1] == 0x03)
		return; /* fast auth success: OK follows */
	if (n == 2 && b[1] == 0x04) {
		sha2_full_auth(c);
		return;
	}
	backend_failed(c, "unexpected caching_sha2_password data from backend");
}

static void on_backend_login_error(struct my_conn *c, const uint8_t *b, size_t n)
{
	uint16_t code = 0;
	char state[6] = "HY000";
	const char *msg = "";
	size_t ml = 0;
	if (my_parse_err(b, n, &code, state, &msg, &ml) != 0) {
		backend_failed(c, "malformed error packet");
		return;
	}
	char why[300];
	snprintf(why, sizeof why, "%u (%s) %.*s", code, state, (int)(ml > 200 ? 200 : ml), msg);
	if (code == MY_ER_ACCESS_DENIED || code == 1044 /* db access denied */ ||
	    strncmp(state, "28", 2) == 0) {
		backend_failed(c, why);
		return;
	}
	/* Not about the hosted credential (unknown database, too many
	 * connections): the client may hear it as the server said it. */
	char reason[320];
	snprintf(reason, sizeof reason, "backend refused the session: %s", why);
	login_audit_failed(c->s, &c->login, reason);
	char cmsg[260];
	snprintf(cmsg, sizeof cmsg, "%.*s", (int)(ml > 250 ? 250 : ml), msg);
	my_fatal(c, c->seq, code, state, cmsg, reason);
}

static void backend_read(struct my_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_BACKEND);
	while (!s->closing && !s->close_after_flush &&
	       (c->st == MY_ST_BACKEND_HANDSHAKE || c->st == MY_ST_BACKEND_AUTH ||
		c->st == MY_ST_BACKEND_SETUP)) {
		size_t n;
		int closed;
		uint8_t *p = login_packet(c, SESS_BACKEND, &n, &closed);
		if (!p)
			return;
		/* Take the packet out first: after the handshake the TLS filter
		 * reads this same socket buffer, which must hold nothing else. */
		uint8_t *b = malloc(n ? n : 1);
		if (!b) {
			sess_close(s, "out of memory");
			return;
		}
		memcpy(b, p, n);
		evbuffer_drain(in, n + 4);
		if (c->pt && (c->st == MY_ST_BACKEND_HANDSHAKE ||
			      (c->st == MY_ST_BACKEND_AUTH && !(n >= 1 && b[0] == 0x00)))) {
			my_pt_backend_packet(c, b, n); /* relayed to the client */
		} else if (c->st == MY_ST_BACKEND_HANDSHAKE) {
			on_backend_handshake(c, b, n);
		} else if (c->st == MY_ST_BACKEND_SETUP) {
			on_backend_setup_reply(c, b, n);
		} else if (n >= 1 && b[0] == 0x00) {
			logged_in(c, b, n);
		} else if (n >= 1 && b[0] == 0xFF) {
			on_backend_login_error(c, b, n);
		} else if (n >= 1 && b[0] == 0xFE) {
			on_backend_auth_switch(c, b, n);
		} else if (n >= 1 && b[0] == 0x01) {
			on_backend_more_data(c, b, n);
		} else {
			backend_failed(c, "unexpected packet from backend during login");
		}
		free(b);
		if (c->st == MY_ST_BACKEND_TLS)
			return; /* the TLS filter owns the input from here */
	}
	if (c->st == MY_ST_READY)
		login_relay_early(s);
}

void my_login_read(struct session *s, void *state, enum sess_side side)
{
	struct my_conn *c = state;
	/* A client that sends commands before the session is ready is not
	 * read past STMT_PRE_READY_MAX until it is (my_relay_client() resumes
	 * it). */
	if (side == SESS_CLIENT && c->st >= MY_ST_BACKEND_CONNECT &&
	    evbuffer_get_length(sess_input(s, SESS_CLIENT)) > STMT_PRE_READY_MAX) {
		c->held = MY_HELD_QUEUE;
		sess_hold_client(s, 1);
	}
	if (side == SESS_CLIENT)
		client_read(c);
	else
		backend_read(c);
}

void my_backend_ready(struct session *s, void *state, int tls)
{
	struct my_conn *c = state;
	if (!tls) {
		c->bseq = 0;
		set_state(c, MY_ST_BACKEND_HANDSHAKE); /* the server speaks first */
	} else if (c->st == MY_ST_BACKEND_TLS) {
		send_backend_response(c);
	}
}

/* TLS with the client is up: its handshake response follows inside it. */
int my_client_tls_ready(struct session *s, void *state)
{
	struct my_conn *c = state;
	int waiting = c->st == MY_ST_CLIENT_TLS;
	if (waiting)
		set_state(c, MY_ST_HANDSHAKE);
	return waiting;
}

/* ---- for my_passthrough_auth.c ---- */

void my_login_set_state(struct my_conn *c, enum my_state st)
{
	set_state(c, st);
}

uint8_t *my_login_packet(struct my_conn *c, enum sess_side side, size_t *n, int *closed)
{
	return login_packet(c, side, n, closed);
}

int my_login_send(struct my_conn *c, enum sess_side side, struct my_buf *b)
{
	return send_payload(c, side, b);
}

void my_login_backend_handshake(struct my_conn *c, const uint8_t *b, size_t n)
{
	on_backend_handshake(c, b, n);
}

uint32_t my_offer_caps(void)
{
	return MY_OFFER_CAPS;
}

/* ---- COM_CHANGE_USER ---- */

/* The token was checked with the login's own rules (check_scramble,
 * check_token: expiry, revocation, grant, source, hours, lockout); *target
 * now holds what it grants. Only the same asset and account go on. */
static void change_user_checked(struct my_conn *c, enum auth_status st, const char *reason)
{
	struct session *s = c->s;
	if (st != AUTH_OK) {
		if (st == AUTH_ERROR)
			sess_log(s, LOG_ERR, "change user check failed: %s", reason);
		refuse(c, reason[0] ? reason : "internal error");
		return;
	}
	if (s->ident.target.asset_id != c->cu_asset_id || s->ident.target.account_id != c->cu_account_id) {
		char why[300], msg[300];
		snprintf(why, sizeof why, "change user: token is for %.64s/%.64s, not this session's "
			 "asset and account", s->ident.target.asset, s->ident.target.account);
		login_audit_failed(s, &c->login, why);
		snprintf(msg, sizeof msg, "sqlbastion: COM_CHANGE_USER to another asset or account "
			 "(%.64s/%.64s) is not allowed; connect again with that token",
			 s->ident.target.asset, s->ident.target.account);
		my_fatal(c, c->seq, MY_ER_ACCESS_DENIED, "28000", msg, why);
		return;
	}
	if (login_complete(s, &c->login, NULL) != 0)
		return;
	c->change_user = 0;
	c->login.verb = NULL;
	if (my_relay_change_user(c) != 0) {
		if (!s->closing)
			sess_close(s, "out of memory");
		return;
	}
	set_state(c, MY_ST_READY); /* the phase and the fast relay, again */
}

/* NUL-terminated string at *p within [*p, end); NULL if unterminated. */
static const char *cu_str(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *z = *p < end ? memchr(*p, 0, (size_t)(end - *p)) : NULL;
	if (!z)
		return NULL;
	const char *r = (const char *)*p;
	*p = z + 1;
	return r;
}

int my_login_change_user(struct my_conn *c, const uint8_t *b, size_t n)
{
	struct session *s = c->s;
	const uint8_t *p = b + 1, *end = b + n;
	const uint8_t *auth;
	size_t alen;
	const char *db = NULL, *plugin = NATIVE;
	c->change_user = 1;
	c->login.verb = "change_user";
	c->cu_asset_id = s->ident.target.asset_id;
	c->cu_account_id = s->ident.target.account_id;
	c->seq = 1; /* the command was sequence 0 */
	set_state(c, MY_ST_CLIENT_AUTH);
	c->cauth = MY_CA_NONE;
	const char *user = cu_str(&p, end);
	if (!user || p >= end) {
		refuse(c, "change user: malformed COM_CHANGE_USER");
		return 1;
	}
	if (c->client_caps & MY_CLIENT_SECURE_CONNECTION) {
		alen = *p++;
		if ((size_t)(end - p) < alen) {
			refuse(c, "change user: malformed COM_CHANGE_USER");
			return 1;
		}
		auth = p;
		p += alen;
	} else {
		const char *a = cu_str(&p, end);
		if (!a) {
			refuse(c, "change user: malformed COM_CHANGE_USER");
			return 1;
		}
		auth = (const uint8_t *)a;
		alen = strlen(a);
	}
	if (p < end && !(db = cu_str(&p, end))) {
		refuse(c, "change user: malformed COM_CHANGE_USER");
		return 1;
	}
	if (end - p >= 2)
		p += 2; /* character set: the session keeps the handshake's */
	if (p < end && (c->client_caps & MY_CLIENT_PLUGIN_AUTH)) {
		const char *pl = cu_str(&p, end);
		if (pl && pl[0])
			plugin = pl;
	}
	if (strlen(user) >= sizeof c->login.user) {
		refuse(c, "change user: user name too long");
		return 1;
	}
	(void)login_set_user(&c->login, user);
	if (db && db[0] && strcmp(db, s->ident.database) != 0) {
		/* the database goes through the policy as USE does: send it after */
		refuse(c, "change user: COM_CHANGE_USER may not change the database (send USE after it)");
		return 1;
	}
	check_first_auth(c, plugin, auth, alen);
	return 1;
}

/* The login tail refuses (struct protocol login_refused): the protocol's
 * generic words for kind, then the session ends once they are out. */
void my_login_refused(struct session *s, void *state, enum login_refusal kind,
		      const char *reason)
{
	struct my_conn *c = state;
	char msg[200];
	switch (kind) {
	case LOGIN_REFUSE_AUTH:
		snprintf(msg, sizeof msg,
			 "Access denied for user '%.64s'@'%.64s' (using password: YES)",
			 c->login.user, s->ident.client_ip);
		my_fatal(c, c->seq, MY_ER_ACCESS_DENIED, "28000", msg, reason);
		return;
	case LOGIN_REFUSE_BACKEND:
		my_fatal(c, c->seq, MY_ER_ACCESS_DENIED, "28000",
			 c->login.end_to_end
				 ? "sqlbastion: could not reach the database to log in"
				 : "sqlbastion: could not log in to the database with the hosted account",
			 reason);
		return;
	case LOGIN_REFUSE_AUDIT:
		my_fatal(c, c->seq, MY_ER_UNKNOWN_ERROR, "HY000",
			 c->change_user ? "sqlbastion: audit log unavailable; change user refused"
					: "sqlbastion: audit log unavailable; login refused",
			 reason);
		return;
	case LOGIN_REFUSE_NOT_HOSTED:
		my_fatal(c, c->seq, MY_ER_ACCESS_DENIED, "28000", LOGIN_NOT_HOSTED_MESSAGE, reason);
		return;
	}
}
