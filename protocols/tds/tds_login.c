/* tds_login: the TDS login, client side and backend side.
 *
 * Client: the proxy answers PRELOGIN itself (MARS off; encryption as SQL
 * Server does it: an ENCRYPT_OFF client gets login-only TLS, ON/REQ full
 * TLS, NOT_SUP none unless the listener requires TLS; a client that asked
 * for encryption is never told NOT_SUP), runs the TLS handshake inside
 * PRELOGIN packets (tds_tls.c; a TDS 8.0 client starts with TLS at once),
 * reads LOGIN7 and checks its password as the O&M token.
 * Backend: our own PRELOGIN (encryption per the asset's --tls), TLS inside
 * PRELOGIN packets, then LOGIN7 rebuilt with the hosted account. LOGIN7
 * carries the password merely obfuscated, so it goes only where the core's
 * rule lets a cleartext password go (backend_auth.h: verify-full TLS, or
 * the asset's --allow-weak-auth). The server's LOGINACK reply is relayed
 * to the client as it is.
 */
#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/backend_auth.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "protocols/tds/tds_conn.h"

#define TDS_TO(s) (1u << (s))
static const unsigned tds_next[] = {
	[TDS_ST_PRELOGIN] = TDS_TO(TDS_ST_CLIENT_TLS) | TDS_TO(TDS_ST_LOGIN7),
	[TDS_ST_CLIENT_TLS] = TDS_TO(TDS_ST_PRELOGIN) | TDS_TO(TDS_ST_LOGIN7),
	[TDS_ST_LOGIN7] = TDS_TO(TDS_ST_BACKEND_CONNECT),
	[TDS_ST_BACKEND_CONNECT] = TDS_TO(TDS_ST_BACKEND_PRELOGIN),
	[TDS_ST_BACKEND_PRELOGIN] = TDS_TO(TDS_ST_BACKEND_TLS) | TDS_TO(TDS_ST_BACKEND_LOGIN),
	[TDS_ST_BACKEND_TLS] = TDS_TO(TDS_ST_BACKEND_LOGIN),
	[TDS_ST_BACKEND_LOGIN] = TDS_TO(TDS_ST_READY),
	[TDS_ST_READY] = 0,
	[TDS_ST_CLOSED] = 0,
};

void tds_set_state(struct tds_conn *c, enum tds_state st)
{
	static const char *const names[] = {"prelogin",    "client-tls",  "login7",
					    "connect",     "backend-pre", "backend-tls",
					    "backend-login", "ready",     "closed"};
	if (c->st == TDS_ST_CLOSED && st != TDS_ST_CLOSED)
		return;
	if (st != c->st && st != TDS_ST_CLOSED && !(tds_next[c->st] & TDS_TO(st))) {
		sess_log(c->s, LOG_ERR, "bug: illegal state change %s -> %s", names[c->st], names[st]);
		c->st = TDS_ST_CLOSED;
		sess_set_phase(c->s, names[TDS_ST_CLOSED]);
		sess_stop_relay(c->s);
		sess_close(c->s, "internal error: illegal state change");
		return;
	}
	c->st = st;
	sess_set_phase(c->s, names[st]);
	if (st == TDS_ST_READY)
		sess_start_relay(c->s);
	else
		sess_stop_relay(c->s);
}

int tds_read_message(struct session *s, enum sess_side side, size_t max, uint8_t *type,
		     struct tds_buf *out, struct evbuffer *raw)
{
	struct evbuffer *in = sess_input(s, side);
	size_t have = evbuffer_get_length(in), at = 0, payload = 0;
	uint8_t h[TDS_HEADER_LEN];
	/* first find the end, then take it */
	for (;;) {
		if (have - at < TDS_HEADER_LEN)
			return 0;
		struct evbuffer_ptr pos;
		evbuffer_ptr_set(in, &pos, at, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(in, &pos, h, TDS_HEADER_LEN);
		struct tds_header hd;
		if (tds_header_parse(h, &hd) != 0 || (at && h[0] != *type))
			return -1;
		*type = h[0];
		payload += hd.len - TDS_HEADER_LEN;
		if (payload > max)
			return -1;
		if (have - at < hd.len)
			return 0;
		at += hd.len;
		if (hd.status & TDS_STATUS_EOM)
			break;
	}
	while (at) {
		evbuffer_copyout(in, h, TDS_HEADER_LEN);
		size_t len = (size_t)(h[2] << 8 | h[3]);
		if (raw && evbuffer_add(raw, h, TDS_HEADER_LEN) != 0)
			return -1;
		evbuffer_drain(in, TDS_HEADER_LEN);
		size_t pl = len - TDS_HEADER_LEN;
		uint8_t *p = pl ? evbuffer_pullup(in, (ev_ssize_t)pl) : NULL;
		if (pl && !p)
			return -1;
		tds_buf_add(out, p, pl);
		if (raw && pl && evbuffer_add(raw, p, pl) != 0)
			return -1;
		evbuffer_drain(in, pl);
		at -= len;
	}
	return out->oom ? -1 : 1;
}

/* Send one message of ours to `side`. */
static int send_msg(struct tds_conn *c, enum sess_side side, uint8_t type, const struct tds_buf *b)
{
	if (b->oom)
		return -1;
	return tds_put_packets(sess_output(c->s, side), type, b->p, b->len, TDS_PACKET_DEFAULT);
}

/* The client hears a login error (class 14) and the session ends. */
static void client_fatal(struct tds_conn *c, uint32_t number, const char *msg, const char *reason)
{
	(void)tds_put_error_reply(sess_output(c->s, SESS_CLIENT), number, 14, msg, c->tds_version);
	tds_set_state(c, TDS_ST_CLOSED);
	sess_close_after_flush(c->s, "%s", reason);
}

void tds_login_refused(struct session *s, void *state, enum login_refusal kind,
		       const char *reason)
{
	struct tds_conn *c = state;
	char msg[200];
	switch (kind) {
	case LOGIN_REFUSE_AUTH:
		snprintf(msg, sizeof msg, "Login failed for user '%.64s'.", c->login.user);
		break;
	case LOGIN_REFUSE_BACKEND:
		snprintf(msg, sizeof msg,
			 "Login failed: sqlbastion could not log in to the database with the hosted account.");
		break;
	case LOGIN_REFUSE_AUDIT:
		snprintf(msg, sizeof msg, "Login failed: sqlbastion: audit log unavailable; login refused.");
		break;
	case LOGIN_REFUSE_NOT_HOSTED:
		snprintf(msg, sizeof msg, "%s", LOGIN_NOT_HOSTED_MESSAGE);
		break;
	}
	client_fatal(c, TDS_ERR_LOGIN_FAILED, msg, reason);
}

/* ---- client side ---- */

static void on_prelogin(struct tds_conn *c, const struct tds_buf *m)
{
	struct session *s = c->s;
	struct tds_prelogin pl;
	if (tds_prelogin_parse(m->p, m->len, &pl) != 0) {
		login_audit_failed(s, &c->login, "malformed PRELOGIN");
		sess_close(s, "malformed PRELOGIN");
		return;
	}
	uint8_t want = pl.has_encrypt ? pl.encrypt : TDS_ENCRYPT_NOT_SUP;
	int can_tls = s->px->server_tls != NULL;
	int require = s->px->cfg.require_tls && !s->preset;
	uint8_t answer;
	if (c->cenc == TDS_CENC_STRICT) {
		answer = TDS_ENCRYPT_NOT_SUP; /* inside TLS already: the field means nothing */
	} else if (want == TDS_ENCRYPT_ON || want == TDS_ENCRYPT_REQ) {
		if (!can_tls) {
			/* never NOT_SUP to a client that asked for encryption:
			 * some then log in unencrypted */
			login_audit_failed(s, &c->login, "client asked for TLS; no certificate configured");
			sess_close(s, "client asked for TLS; no certificate configured");
			return;
		}
		answer = TDS_ENCRYPT_ON;
		c->cenc = TDS_CENC_FULL;
	} else if (want == TDS_ENCRYPT_OFF && can_tls) {
		answer = require ? TDS_ENCRYPT_REQ : TDS_ENCRYPT_OFF;
		c->cenc = require ? TDS_CENC_FULL : TDS_CENC_LOGIN_ONLY;
	} else if (require) {
		/* the client cannot encrypt: it hears REQ and gives up */
		struct tds_buf b;
		tds_buf_init(&b);
		tds_prelogin_build(&b, TDS_ENCRYPT_REQ, 0);
		(void)send_msg(c, SESS_CLIENT, TDS_PKT_REPLY, &b);
		tds_buf_free(&b);
		login_audit_failed(s, &c->login, "TLS required");
		tds_set_state(c, TDS_ST_CLOSED);
		sess_close_after_flush(s, "TLS required");
		return;
	} else {
		answer = TDS_ENCRYPT_NOT_SUP;
		c->cenc = TDS_CENC_NONE;
	}
	struct tds_buf b;
	tds_buf_init(&b);
	tds_prelogin_build(&b, answer, 0);
	int rc = send_msg(c, SESS_CLIENT, TDS_PKT_REPLY, &b);
	tds_buf_free(&b);
	if (rc != 0) {
		sess_close(s, "out of memory");
		return;
	}
	if (c->cenc == TDS_CENC_LOGIN_ONLY || c->cenc == TDS_CENC_FULL) {
		tds_set_state(c, TDS_ST_CLIENT_TLS);
		if (sess_client_tls_start_framed(s, &c->cframe.fr) != 0)
			sess_close(s, "cannot start TLS");
		return;
	}
	tds_set_state(c, TDS_ST_LOGIN7);
}

int tds_client_tls_ready(struct session *s, void *state)
{
	struct tds_conn *c = state;
	if (c->st != TDS_ST_CLIENT_TLS)
		return 0;
	c->cframe.out_raw = 1; /* the handshake is over */
	tds_set_state(c, c->cenc == TDS_CENC_STRICT ? TDS_ST_PRELOGIN : TDS_ST_LOGIN7);
	return 1;
}

static void on_login7(struct tds_conn *c, const struct tds_buf *m)
{
	struct session *s = c->s;
	char err[160];
	if (c->cenc == TDS_CENC_LOGIN_ONLY && sess_client_tls_stop(s) != 0) {
		sess_close(s, "cannot leave login-only TLS");
		return;
	}
	if (tds_login7_parse(m->p, m->len, &c->l7, err, sizeof err) != 0) {
		login_audit_failed(s, &c->login, err);
		client_fatal(c, TDS_ERR_LOGIN_FAILED, "Login failed.", err);
		return;
	}
	c->tds_version = c->l7.tds_version;
	char *user = tds_login7_field(&c->l7, TDS_L_USER);
	char *db = tds_login7_field(&c->l7, TDS_L_DATABASE);
	if (!user || !db) {
		free(user);
		free(db);
		sess_close(s, "out of memory");
		return;
	}
	int long_user = login_set_user(&c->login, user) != 0;
	free(user);
	if (strlen(db) >= sizeof s->ident.database) {
		free(db);
		login_refuse(s, &c->login, "database name too long");
		return;
	}
	snprintf(s->ident.database, sizeof s->ident.database, "%s", db);
	free(db);
	if (long_user) {
		login_refuse(s, &c->login, "user name too long");
		return;
	}
	if (c->l7.sspi) {
		login_refuse(s, &c->login, "integrated (SSPI) authentication is not supported");
		return;
	}
	if (c->l7.change_password) {
		login_refuse(s, &c->login, "password change at login is not supported");
		return;
	}
	if (s->px->cfg.require_tls && c->cenc == TDS_CENC_NONE && !s->preset) {
		login_audit_failed(s, &c->login, "TLS required");
		client_fatal(c, TDS_ERR_LOGIN_FAILED, "Login failed: sqlbastion: TLS is required.",
			     "TLS required");
		return;
	}
	if (c->l7.dropped[0])
		sess_log(s, LOG_INFO, "LOGIN7 features not passed to the backend: %s", c->l7.dropped);
	int pr = login_preset(s, &c->login);
	if (pr < 0)
		return;
	if (pr == 0) {
		char *tok = tds_login7_field(&c->l7, TDS_L_PASSWORD);
		if (!tok) {
			sess_close(s, "out of memory");
			return;
		}
		char reason[160] = "";
		size_t tl = strlen(tok);
		enum auth_status as = login_check_token(s, &c->login, tok, tl, reason, sizeof reason);
		OPENSSL_cleanse(tok, tl);
		free(tok);
		if (login_checked(s, &c->login, as, reason) != 0)
			return;
	}
	tds_set_state(c, TDS_ST_BACKEND_CONNECT);
	(void)login_start_backend(s, &c->login);
}

static void client_login_read(struct tds_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	while (evbuffer_get_length(in) && !s->closing) {
		if (c->st == TDS_ST_PRELOGIN && c->cenc == TDS_CENC_NONE && !s->client_tls) {
			uint8_t first;
			evbuffer_copyout(in, &first, 1);
			if (first == 0x16) { /* a TLS ClientHello: TDS 8.0 strict */
				if (!s->px->server_tls) {
					sess_close(s, "TLS-first client; no certificate configured");
					return;
				}
				c->cenc = TDS_CENC_STRICT;
				tds_set_state(c, TDS_ST_CLIENT_TLS);
				if (sess_client_tls_start(s) != 0)
					sess_close(s, "cannot start TLS");
				return;
			}
		}
		if (c->st != TDS_ST_PRELOGIN && c->st != TDS_ST_LOGIN7) {
			/* early bytes wait for the session to be ready */
			if (evbuffer_get_length(in) > STMT_PRE_READY_MAX)
				sess_close(s, "client sent too much before the login finished");
			return;
		}
		uint8_t type;
		struct tds_buf m;
		tds_buf_init(&m);
		size_t max = c->st == TDS_ST_PRELOGIN ? TDS_PRELOGIN_MAX : TDS_LOGIN7_MAX;
		int r = tds_read_message(s, SESS_CLIENT, max, &type, &m, NULL);
		if (r <= 0) {
			tds_buf_free(&m);
			if (r < 0) {
				login_audit_failed(s, &c->login, "malformed login packet");
				sess_close(s, "malformed login packet");
			}
			return;
		}
		if (c->st == TDS_ST_PRELOGIN && type == TDS_PKT_PRELOGIN) {
			on_prelogin(c, &m);
		} else if (c->st == TDS_ST_PRELOGIN && type == TDS_PKT_LOGIN7 &&
			   c->cenc == TDS_CENC_NONE) {
			/* a TDS 7.1 client that does not encrypt may skip PRELOGIN */
			tds_set_state(c, TDS_ST_LOGIN7);
			on_login7(c, &m);
		} else if (c->st == TDS_ST_LOGIN7 && type == TDS_PKT_LOGIN7) {
			on_login7(c, &m);
		} else {
			login_audit_failed(s, &c->login, "unexpected packet during login");
			sess_close(s, "unexpected packet type 0x%02x during login", type);
		}
		tds_buf_free(&m);
		if (c->st == TDS_ST_CLIENT_TLS)
			return; /* the TLS layer owns the input from here */
	}
}

/* ---- backend side ---- */

static void backend_failed(struct tds_conn *c, const char *why)
{
	login_backend_failed(c->s, &c->login, why);
}

static void send_backend_login(struct tds_conn *c)
{
	struct session *s = c->s;
	char why[200];
	if (!backend_auth_weak_ok(&c->login.bauth, s, "login7", why, sizeof why)) {
		backend_failed(c, why);
		return;
	}
	const char *user = s->ident.target.db_username;
	struct tds_buf b;
	tds_buf_init(&b);
	tds_login7_build(&b, &c->l7, user, c->login.secret ? c->login.secret : "");
	login_wipe_secret(&c->login);
	int rc = send_msg(c, SESS_BACKEND, TDS_PKT_LOGIN7, &b);
	tds_buf_free(&b);
	tds_login7_free(&c->l7);
	if (rc != 0) {
		backend_failed(c, "out of memory");
		return;
	}
	tds_set_state(c, TDS_ST_BACKEND_LOGIN);
}

void tds_backend_ready(struct session *s, void *state, int tls)
{
	struct tds_conn *c = state;
	if (tls) {
		c->bframe.out_raw = 1;
		send_backend_login(c);
		return;
	}
	c->benc = s->ident.target.tls == ASSET_TLS_DISABLE ? TDS_ENCRYPT_NOT_SUP : TDS_ENCRYPT_ON;
	struct tds_buf b;
	tds_buf_init(&b);
	tds_prelogin_build(&b, c->benc, 1);
	int rc = send_msg(c, SESS_BACKEND, TDS_PKT_PRELOGIN, &b);
	tds_buf_free(&b);
	if (rc != 0) {
		backend_failed(c, "out of memory");
		return;
	}
	tds_set_state(c, TDS_ST_BACKEND_PRELOGIN);
}

static void on_backend_prelogin(struct tds_conn *c, const struct tds_buf *m)
{
	struct session *s = c->s;
	struct tds_prelogin pl;
	if (tds_prelogin_parse(m->p, m->len, &pl) != 0 || !pl.has_encrypt) {
		backend_failed(c, "malformed PRELOGIN from the backend");
		return;
	}
	int server_tls = pl.encrypt != TDS_ENCRYPT_NOT_SUP;
	if (c->benc == TDS_ENCRYPT_NOT_SUP) {
		if (pl.encrypt == TDS_ENCRYPT_REQ || pl.encrypt == TDS_ENCRYPT_ON) {
			backend_failed(c, "the backend requires encryption but the asset says --tls disable");
			return;
		}
		send_backend_login(c);
		return;
	}
	if (!server_tls) {
		if (s->ident.target.tls != ASSET_TLS_PREFER) {
			backend_failed(c, "backend does not support TLS but the asset requires it");
			return;
		}
		send_backend_login(c);
		return;
	}
	tds_set_state(c, TDS_ST_BACKEND_TLS);
	if (sess_backend_tls_start_framed(s, s->ident.target.host,
					  s->ident.target.tls == ASSET_TLS_VERIFY_FULL,
					  &c->bframe.fr) != 0)
		backend_failed(c, "cannot start TLS to the backend");
}

/* What the backend's login reply says. */
struct login_reply {
	int ack;
	char error[200];
	struct session *s;
};

static void lr_error(void *ctx, uint32_t number, uint8_t cls, const char *msg)
{
	struct login_reply *r = ctx;
	if (!r->error[0])
		snprintf(r->error, sizeof r->error, "%u: %s", number, msg);
}

static void lr_token(void *ctx, uint8_t tok, const uint8_t *b, size_t n)
{
	struct login_reply *r = ctx;
	if (tok == TDS_TOK_LOGINACK)
		r->ack = 1;
	else if (tok == TDS_TOK_ENVCHANGE && n >= 2 && b[0] == 1) { /* database */
		size_t chars = b[1];
		if (2 + chars * 2 <= n) {
			char *db = tds_utf16_to_utf8(b + 2, chars * 2, NULL);
			if (db && strlen(db) < sizeof r->s->ident.database)
				snprintf(r->s->ident.database, sizeof r->s->ident.database, "%s", db);
			free(db);
		}
	}
}

static void on_backend_login_reply(struct tds_conn *c, const struct tds_buf *m,
				   struct evbuffer *raw)
{
	struct session *s = c->s;
	static const struct tds_walk_ops ops = {.error = lr_error, .token = lr_token};
	struct login_reply r = {.s = s};
	struct tds_walker w;
	if (tds_walker_init(&w, &ops, &r) != 0) {
		backend_failed(c, "out of memory");
		return;
	}
	w.tds71 = TDS_PRE72(c->tds_version);
	(void)tds_walker_feed(&w, m->p, m->len);
	tds_walker_free(&w);
	if (!r.ack) {
		char why[260];
		snprintf(why, sizeof why, "the server refused the hosted account: %s",
			 r.error[0] ? r.error : "no LOGINACK");
		backend_failed(c, why);
		return;
	}
	char detail[64];
	snprintf(detail, sizeof detail, ", client encryption %s",
		 c->cenc == TDS_CENC_FULL	 ? "on"
		 : c->cenc == TDS_CENC_STRICT	 ? "strict"
		 : c->cenc == TDS_CENC_LOGIN_ONLY ? "login-only"
						 : "off");
	if (login_complete(s, &c->login, detail) != 0)
		return;
	evbuffer_add_buffer(sess_output(s, SESS_CLIENT), raw);
	policy_result_init(&c->pres);
	c->walk.tds71 = TDS_PRE72(c->tds_version);
	tds_set_state(c, TDS_ST_READY);
	login_relay_early(s);
}

static void backend_login_read(struct tds_conn *c)
{
	struct session *s = c->s;
	if (c->st != TDS_ST_BACKEND_PRELOGIN && c->st != TDS_ST_BACKEND_LOGIN)
		return;
	uint8_t type;
	struct tds_buf m;
	tds_buf_init(&m);
	struct evbuffer *raw = evbuffer_new();
	if (!raw) {
		backend_failed(c, "out of memory");
		return;
	}
	int r = tds_read_message(s, SESS_BACKEND,
				 c->st == TDS_ST_BACKEND_PRELOGIN ? TDS_PRELOGIN_MAX : TDS_LOGIN_REPLY_MAX,
				 &type, &m, raw);
	if (r < 0 || (r > 0 && type != TDS_PKT_REPLY))
		backend_failed(c, "malformed reply from the backend during login");
	else if (r > 0 && c->st == TDS_ST_BACKEND_PRELOGIN)
		on_backend_prelogin(c, &m);
	else if (r > 0)
		on_backend_login_reply(c, &m, raw);
	tds_buf_free(&m);
	evbuffer_free(raw);
}

void tds_login_read(struct session *s, void *state, enum sess_side side)
{
	struct tds_conn *c = state;
	if (side == SESS_CLIENT)
		client_login_read(c);
	else
		backend_login_read(c);
}
