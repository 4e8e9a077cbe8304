/* pg_login: PostgreSQL startup, client authentication with the O&M token,
 * backend login with the hosted account, and CancelRequest forwarding.
 *
 * Client side: SSLRequest → TLS (or 'N'), GSSENCRequest → 'N', then the
 * StartupMessage; the token is proven with SCRAM-SHA-256 against its stored
 * verifier (or sent in clear when pg_auth = password and the client is on
 * TLS). Backend side: optional TLS per asset, a StartupMessage naming the
 * hosted account, and whatever password method the server asks for. Every
 * refusal reason goes to the audit log; the client only ever hears the
 * generic 28P01 message a PostgreSQL server gives.
 */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit/audit.h"
#include "protocols/pgsql/pg_conn.h"
#include "proxy/auth.h"
#include "proxy/login.h"
#include "proxy/login_guard.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

/* Every state change goes through here. The table lists, for each state,
 * the states it may go to (staying is always allowed, and every state may
 * close). CLOSED is final: a late event of a closing session may still ask
 * for another state, which is ignored. Any other change is a bug in this
 * frontend: it is logged and that session is closed. */
#define PG_TO(st) (1u << (st))
static const unsigned pg_next[] = {
	[PG_ST_STARTUP] = PG_TO(PG_ST_CLIENT_TLS) | PG_TO(PG_ST_SASL_FIRST) | PG_TO(PG_ST_PASSWORD) |
			  PG_TO(PG_ST_CANCEL) |
			  PG_TO(PG_ST_BACKEND_CONNECT), /* identity preset (SSH channel) */
	[PG_ST_CLIENT_TLS] = PG_TO(PG_ST_STARTUP),
	[PG_ST_SASL_FIRST] = PG_TO(PG_ST_SASL_FINAL),
	[PG_ST_SASL_FINAL] = PG_TO(PG_ST_BACKEND_CONNECT),
	[PG_ST_PASSWORD] = PG_TO(PG_ST_BACKEND_CONNECT),
	[PG_ST_BACKEND_CONNECT] = PG_TO(PG_ST_BACKEND_SSL) | PG_TO(PG_ST_BACKEND_AUTH),
	[PG_ST_BACKEND_SSL] = PG_TO(PG_ST_BACKEND_TLS) | PG_TO(PG_ST_BACKEND_AUTH),
	[PG_ST_BACKEND_TLS] = PG_TO(PG_ST_BACKEND_AUTH),
	[PG_ST_BACKEND_AUTH] = PG_TO(PG_ST_BACKEND_STARTUP),
	[PG_ST_BACKEND_STARTUP] = PG_TO(PG_ST_READY),
	[PG_ST_READY] = 0,
	[PG_ST_CANCEL] = 0,
	[PG_ST_CLOSED] = 0,
};

static void set_state(struct pg_conn *c, enum pg_state st)
{
	static const char *const names[] = {
		"startup", "client-tls", "sasl", "sasl", "password", "connect", "backend-ssl",
		"backend-tls", "backend-auth", "backend-start", "ready", "cancel", "closed"};
	if (c->st == PG_ST_CLOSED && st != PG_ST_CLOSED)
		return;
	if (st != c->st && st != PG_ST_CLOSED && !(pg_next[c->st] & PG_TO(st))) {
		sess_log(c->s, LOG_ERR, "bug: illegal state change %s -> %s", names[c->st], names[st]);
		c->st = PG_ST_CLOSED;
		sess_set_phase(c->s, names[PG_ST_CLOSED]);
		sess_stop_relay(c->s);
		sess_close(c->s, "internal error: illegal state change");
		return;
	}
	c->st = st;
	sess_set_phase(c->s, names[st]);
	/* the query phase is the core's fast relay; every other phase is not */
	if (st == PG_ST_READY)
		sess_start_relay(c->s);
	else
		sess_stop_relay(c->s);
}

void pg_fatal(struct pg_conn *c, const char *sqlstate, const char *msg, const char *reason)
{
	pg_put_error(sess_output(c->s, SESS_CLIENT), "FATAL", sqlstate, msg);
	set_state(c, PG_ST_CLOSED);
	sess_close_after_flush(c->s, "%s", reason);
}

static void refuse(struct pg_conn *c, const char *reason)
{
	login_refuse(c->s, &c->login, reason);
}

/* Startup parameters passed to the backend. Any run-time setting can be a
 * startup parameter, so an open list would let a client set, say,
 * session_replication_role or default_transaction_read_only where policy
 * cannot see it: only these pass; `options` and `replication` are refused. */
static int param_allowed(const char *name)
{
	static const char *const ok[] = {
		"application_name", "client_encoding", "datestyle", "timezone",
		"extra_float_digits", "intervalstyle", "search_path", "lc_messages",
		"lc_monetary", "lc_numeric", "lc_time", "statement_timeout", "lock_timeout",
		"idle_in_transaction_session_timeout", "bytea_output", "geqo",
		"standard_conforming_strings", "client_min_messages", "jit"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strcasecmp(name, ok[i]) == 0)
			return 1;
	return strncmp(name, "_pq_.", 5) == 0;
}

/* Copy what we keep of the startup packet (it is drained right after). */
static int keep_startup(struct pg_conn *c, const struct pg_startup *su, char *why, size_t whylen)
{
	if (login_set_user(&c->login, su->user) != 0) {
		snprintf(why, whylen, "user name too long");
		return -1;
	}
	snprintf(c->s->ident.database, sizeof c->s->ident.database, "%s", su->database ? su->database : "");
	size_t blob = 0;
	for (int i = 0; i < su->n_params; i++) {
		if (!param_allowed(su->params[i].name)) {
			snprintf(why, whylen, "startup parameter \"%.64s\" is not allowed through sqlbastion",
				 su->params[i].name);
			return -1;
		}
		blob += strlen(su->params[i].name) + strlen(su->params[i].value) + 2;
	}
	c->params = calloc((size_t)su->n_params + 1, sizeof *c->params);
	c->param_blob = malloc(blob + 1);
	if (!c->params || !c->param_blob) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	char *p = c->param_blob;
	for (int i = 0; i < su->n_params; i++) {
		size_t nl = strlen(su->params[i].name) + 1, vl = strlen(su->params[i].value) + 1;
		memcpy(p, su->params[i].name, nl);
		c->params[i].name = p;
		p += nl;
		memcpy(p, su->params[i].value, vl);
		c->params[i].value = p;
		p += vl;
	}
	c->n_params = su->n_params;
	return 0;
}

static void begin_client_auth(struct pg_conn *c)
{
	struct evbuffer *out = sess_output(c->s, SESS_CLIENT);
	if (pg_cleartext_auth() && c->s->client_tls) {
		pg_put_auth(out, PG_AUTH_CLEARTEXT, NULL, 0);
		set_state(c, PG_ST_PASSWORD);
		return;
	}
	c->scram = calloc(1, sizeof *c->scram);
	if (!c->scram) {
		pg_fatal(c, "53200", "out of memory", "out of memory");
		return;
	}
	pg_put_auth_sasl(out, "SCRAM-SHA-256");
	set_state(c, PG_ST_SASL_FIRST);
}

static void handle_cancel(struct pg_conn *c, const struct pg_startup *su)
{
	struct session *victim = sess_find(c->s->px, su->cancel_pid);
	/* No answer either way, as a server: the client just closes. */
	if (!victim || victim->proto != &pg_protocol || !victim->pstate || !victim->backend) {
		sess_close(c->s, "cancel request for unknown session %u", su->cancel_pid);
		return;
	}
	struct pg_conn *vc = victim->pstate;
	if (vc->st != PG_ST_READY || !sb_ct_equal(&vc->our_key, &su->cancel_key, 4)) {
		sess_close(c->s, "cancel request with wrong key for session %u", su->cancel_pid);
		return;
	}
	c->cancel_pid = vc->backend_pid;
	c->cancel_key = vc->backend_key;
	c->s->ident.target = victim->ident.target; /* host and port of the same backend */
	c->s->ident.logged_in = 0;
	(void)login_set_user(&c->login, victim->ident.target.user);
	sess_log(c->s, LOG_INFO, "cancel request for session %u (user %s)", su->cancel_pid,
		 victim->ident.target.user);
	set_state(c, PG_ST_CANCEL);
	/* Cancel requests are not subject to pg_hba and are sent without TLS, as libpq does. */
	if (sess_backend_connect(c->s, c->s->ident.target.host, c->s->ident.target.port) != 0)
		sess_close(c->s, "cannot connect to backend for cancel");
}

static void on_startup_packet(struct pg_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	for (;;) {
		uint8_t h[PG_HEADER_LEN];
		struct pg_frame f;
		enum pg_peek r = pg_peek_startup(h, pg_head(in, h), &f);
		if (r == PG_PEEK_INVALID) {
			sess_close(s, "invalid startup packet length %u", f.len);
			return;
		}
		if (r == PG_PEEK_AGAIN)
			return;
		uint32_t len = f.len;
		uint8_t *pkt = evbuffer_pullup(in, len);
		struct pg_startup su;
		char err[160];
		if (!pkt || pg_parse_startup(pkt, len, &su, err, sizeof err) != 0) {
			pg_fatal(c, "08P01", err, err);
			return;
		}
		if (su.code == PG_SSL_REQUEST) {
			evbuffer_drain(in, len);
			if (s->client_tls || !s->px->server_tls) {
				evbuffer_add(sess_output(s, SESS_CLIENT), "N", 1);
				continue;
			}
			/* Bytes already sent after SSLRequest would be plaintext the
			 * client believes is encrypted (cf. CVE-2021-23214): refuse. */
			if (evbuffer_get_length(in) != 0) {
				sess_close(s, "data received after SSLRequest before TLS");
				return;
			}
			evbuffer_add(sess_output(s, SESS_CLIENT), "S", 1);
			if (sess_client_tls_start(s) != 0) {
				sess_close(s, "cannot start TLS");
				return;
			}
			set_state(c, PG_ST_CLIENT_TLS);
			return;
		}
		if (su.code == PG_GSSENC_REQUEST) {
			evbuffer_drain(in, len);
			evbuffer_add(sess_output(s, SESS_CLIENT), "N", 1);
			continue;
		}
		if (su.code == PG_CANCEL_REQUEST) {
			handle_cancel(c, &su);
			evbuffer_drain(in, len);
			return;
		}
		/* v3 StartupMessage */
		char why[160];
		if (keep_startup(c, &su, why, sizeof why) != 0) {
			(void)login_set_user(&c->login, su.user);
			evbuffer_drain(in, len);
			login_audit_failed(s, &c->login, why);
			char msg[200];
			snprintf(msg, sizeof msg, "sqlbastion: %s", why);
			pg_fatal(c, "08P01", msg, why);
			return;
		}
		evbuffer_drain(in, len);
		if (s->px->cfg.require_tls && !s->client_tls && !s->preset) {
			login_audit_failed(s, &c->login, "TLS required");
			pg_fatal(c, "28000", "sqlbastion: TLS is required (use sslmode=require)",
				 "TLS required");
			return;
		}
		int pr = login_preset(s, &c->login);
		if (pr < 0)
			return;
		if (pr > 0) {
			set_state(c, PG_ST_BACKEND_CONNECT);
			(void)login_start_backend(s, &c->login);
			return;
		}
		begin_client_auth(c);
		return;
	}
}

/* Read one whole typed message from the client during login. Returns the
 * body (pulled up) and its type, or NULL when more bytes are needed (or the
 * session was closed for a bad message). */
static uint8_t *login_message(struct pg_conn *c, char *type, size_t *bodylen)
{
	struct evbuffer *in = sess_input(c->s, SESS_CLIENT);
	uint8_t h[PG_HEADER_LEN];
	struct pg_frame f;
	enum pg_peek r = pg_peek_message(h, pg_head(in, h), PG_AUTH_MESSAGE_MAX, &f);
	if (r == PG_PEEK_INVALID) {
		sess_close(c->s, "invalid message length %u during authentication", f.len);
		return NULL;
	}
	if (r == PG_PEEK_AGAIN)
		return NULL;
	uint32_t len = f.len;
	uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)len + 1);
	if (!m) {
		sess_close(c->s, "out of memory");
		return NULL;
	}
	*type = (char)h[0];
	*bodylen = len - 4;
	return m + 5;
}

/* A check's result: on success, on to the backend. */
static void check_result(struct pg_conn *c, enum auth_status st, const char *reason)
{
	if (login_checked(c->s, &c->login, st, reason) != 0)
		return;
	set_state(c, PG_ST_BACKEND_CONNECT);
	(void)login_start_backend(c->s, &c->login);
}

static void on_sasl_first(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *mech;
	const uint8_t *data;
	size_t dlen;
	char err[160];
	if (pg_parse_sasl_initial(b, n, &mech, &data, &dlen) != 0 || !data) {
		refuse(c, "malformed SASLInitialResponse");
		return;
	}
	if (strcmp(mech, "SCRAM-SHA-256") != 0) {
		refuse(c, "client chose an unsupported SASL mechanism");
		return;
	}
	uint8_t salt[SB_SCRAM_SALT_LEN];
	int iterations;
	if (!login_guard_login_check(c->s->px, c->s->ident.client_ip)) {
		refuse(c, "too many logins from this address; try again later");
		return;
	}
	if (login_scram_params(c->s, &c->login, salt, &iterations) != 0) {
		refuse(c, "state database error");
		return;
	}
	if (pg_scram_server_first(c->scram, (const char *)data, dlen, salt, sizeof salt,
				  iterations, err, sizeof err) != 0) {
		refuse(c, err);
		return;
	}
	pg_put_auth(sess_output(c->s, SESS_CLIENT), PG_AUTH_SASL_CONTINUE, c->scram->server_first,
		    strlen(c->scram->server_first));
	set_state(c, PG_ST_SASL_FINAL);
}

static void on_sasl_final(struct pg_conn *c, const uint8_t *b, size_t n)
{
	uint8_t proof[SB_SHA256_LEN], sig[SB_SHA256_LEN];
	char err[160], reason[256] = "";
	if (pg_scram_server_final(c->scram, (const char *)b, n, proof, err, sizeof err) != 0) {
		refuse(c, err);
		return;
	}
	enum auth_status st =
		login_check_scram(c->s, &c->login, c->scram->auth_message,
				  c->scram->auth_message_len, proof, sig, reason, sizeof reason);
	if (st == AUTH_OK) {
		char final[128];
		int fl = pg_scram_server_final_message(sig, final, sizeof final);
		if (fl < 0) {
			refuse(c, "internal error");
			return;
		}
		pg_put_auth(sess_output(c->s, SESS_CLIENT), PG_AUTH_SASL_FINAL, final, (size_t)fl);
	}
	free(c->scram);
	c->scram = NULL;
	check_result(c, st, reason);
}

static void on_password(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *pw;
	size_t pwlen;
	char reason[256] = "";
	if (pg_parse_password(b, n, &pw, &pwlen) != 0) {
		refuse(c, "malformed password message");
		return;
	}
	if (!login_guard_login_check(c->s->px, c->s->ident.client_ip)) {
		sb_wipe((void *)b, n);
		refuse(c, "too many logins from this address; try again later");
		return;
	}
	enum auth_status st = login_check_token(c->s, &c->login, pw, pwlen, reason, sizeof reason);
	sb_wipe((void *)b, n);
	check_result(c, st, reason);
}

static void client_read(struct pg_conn *c)
{
	struct evbuffer *in = sess_input(c->s, SESS_CLIENT);
	switch (c->st) {
	case PG_ST_STARTUP:
		on_startup_packet(c);
		return;
	case PG_ST_SASL_FIRST:
	case PG_ST_SASL_FINAL:
	case PG_ST_PASSWORD: {
		char type;
		size_t n;
		uint8_t *b = login_message(c, &type, &n);
		if (!b)
			return;
		if (type != 'p') {
			evbuffer_drain(in, n + 5);
			refuse(c, "expected a password message");
			return;
		}
		if (c->st == PG_ST_SASL_FIRST)
			on_sasl_first(c, b, n);
		else if (c->st == PG_ST_SASL_FINAL)
			on_sasl_final(c, b, n);
		else
			on_password(c, b, n);
		evbuffer_drain(in, n + 5);
		return;
	}
	default:
		/* Client spoke while we were logging in to the backend: keep it
		 * buffered for pg_relay_client, but not without bound. */
		if (evbuffer_get_length(in) > c->s->px->cfg.max_message + 5)
			sess_close(c->s, "client sent too much before the session was ready");
		return;
	}
}

/* ---- backend side ---- */

static void send_backend_startup(struct pg_conn *c)
{
	struct session *s = c->s;
	/* A read-only grant also sets the server's own read-only default, so a
	 * classifier miss still meets a read-only transaction. */
	struct pg_param extra[PG_STARTUP_PARAMS_MAX + 1];
	int n = 0;
	for (int i = 0; i < c->n_params && n < PG_STARTUP_PARAMS_MAX; i++)
		extra[n++] = c->params[i];
	if (s->ident.target.level == POLICY_LEVEL_READ)
		extra[n++] = (struct pg_param){"default_transaction_read_only", "on"};
	const char *db = s->ident.database[0] ? s->ident.database : s->ident.target.db_username;
	if (pg_put_startup(sess_output(s, SESS_BACKEND), s->ident.target.db_username, db, extra, n) != 0) {
		refuse(c, "cannot build backend startup packet");
		return;
	}
	set_state(c, PG_ST_BACKEND_AUTH);
}

static void backend_auth_failed(struct pg_conn *c, const char *why)
{
	login_backend_failed(c->s, &c->login, why);
}

/* How far the backend authentication went (pg_conn.bauth_step). */
enum {
	PG_BA_NONE,           /* nothing sent yet */
	PG_BA_SCRAM_FIRST,    /* sent SCRAM client-first */
	PG_BA_SCRAM_FINAL,    /* sent SCRAM client-final (the proof) */
	PG_BA_SCRAM_VERIFIED, /* the server's signature checked: it knows the verifier */
	PG_BA_PASSWORD_SENT,  /* cleartext or md5 sent where the asset allows it */
};

/* May the hosted secret go out as a password or md5 (or the login be
 * accepted with no authentication at all)? Over verify-full TLS, or where
 * the asset allows weak auth; otherwise the login fails with the reason. */
static int weak_allowed(struct pg_conn *c, const char *method)
{
	char why[300];
	if (backend_auth_weak_ok(&c->login.bauth, c->s, method, why, sizeof why))
		return 1;
	backend_auth_failed(c, why);
	return 0;
}

/* AuthenticationOk: accepted only once the method the proxy took part in
 * has completed: SCRAM with the server's signature verified, a password
 * the asset let us send, or none at all (trust) under the same rule as a
 * password, since the server proved nothing. */
static int auth_ok_acceptable(struct pg_conn *c)
{
	switch (c->bauth_step) {
	case PG_BA_SCRAM_VERIFIED:
	case PG_BA_PASSWORD_SENT:
		return 1;
	case PG_BA_NONE:
		return weak_allowed(c, "trust (no authentication)");
	default:
		backend_auth_failed(c, "backend sent AuthenticationOk before SCRAM completed "
				       "(not the real server?)");
		return 0;
	}
}

static void on_backend_auth(struct pg_conn *c, const uint8_t *b, size_t n)
{
	struct evbuffer *out = sess_output(c->s, SESS_BACKEND);
	uint32_t code;
	const uint8_t *data;
	size_t dlen;
	char msg[PG_SCRAM_MSG_MAX], err[160];
	if (pg_parse_auth(b, n, &code, &data, &dlen) != 0) {
		backend_auth_failed(c, "malformed authentication request");
		return;
	}
	/* Once SCRAM has started it must finish: no switch to a weaker method. */
	if (c->bauth_step >= PG_BA_SCRAM_FIRST && c->bauth_step <= PG_BA_SCRAM_VERIFIED &&
	    code != PG_AUTH_OK && code != PG_AUTH_SASL_CONTINUE && code != PG_AUTH_SASL_FINAL) {
		snprintf(err, sizeof err, "backend asks for authentication method %u in the middle of SCRAM",
			 code);
		backend_auth_failed(c, err);
		return;
	}
	switch (code) {
	case PG_AUTH_OK:
		if (!auth_ok_acceptable(c))
			return;
		login_wipe_secret(&c->login);
		free(c->bscram);
		c->bscram = NULL;
		set_state(c, PG_ST_BACKEND_STARTUP);
		pg_put_auth(sess_output(c->s, SESS_CLIENT), PG_AUTH_OK, NULL, 0);
		return;
	case PG_AUTH_CLEARTEXT:
		if (!weak_allowed(c, "a cleartext password"))
			return;
		pg_put_password(out, c->login.secret);
		c->bauth_step = PG_BA_PASSWORD_SENT;
		return;
	case PG_AUTH_MD5: {
		if (dlen != 4) {
			backend_auth_failed(c, "malformed md5 request");
			return;
		}
		if (!weak_allowed(c, "an md5 password"))
			return;
		char md5[36];
		pg_md5_password(c->s->ident.target.db_username, c->login.secret, data, md5);
		pg_put_password(out, md5);
		sb_wipe(md5, sizeof md5);
		c->bauth_step = PG_BA_PASSWORD_SENT;
		return;
	}
	case PG_AUTH_SASL: {
		/* Mechanism list; we use SCRAM-SHA-256 without channel binding. */
		int found = 0;
		for (size_t off = 0; off < dlen;) {
			const char *m = (const char *)data + off;
			size_t ml = strnlen(m, dlen - off);
			if (ml == 0 || ml == dlen - off)
				break;
			if (strcmp(m, "SCRAM-SHA-256") == 0)
				found = 1;
			off += ml + 1;
		}
		if (!found) {
			backend_auth_failed(c, "backend offers no supported SASL mechanism");
			return;
		}
		if (c->bauth_step != PG_BA_NONE || c->bscram) {
			backend_auth_failed(c, "backend restarts SASL authentication");
			return;
		}
		c->bscram = calloc(1, sizeof *c->bscram);
		int ml = c->bscram ? pg_scram_client_first(c->bscram, msg, sizeof msg) : -1;
		if (ml < 0) {
			backend_auth_failed(c, "out of memory");
			return;
		}
		pg_put_sasl_initial(out, "SCRAM-SHA-256", msg, (size_t)ml);
		c->bauth_step = PG_BA_SCRAM_FIRST;
		return;
	}
	case PG_AUTH_SASL_CONTINUE: {
		if (!c->bscram || c->bauth_step != PG_BA_SCRAM_FIRST) {
			backend_auth_failed(c, "unexpected SASL continue");
			return;
		}
		char sf[PG_SCRAM_MSG_MAX];
		if (dlen >= sizeof sf) {
			backend_auth_failed(c, "SASL message too long");
			return;
		}
		memcpy(sf, data, dlen);
		sf[dlen] = '\0';
		int ml = pg_scram_client_final(c->bscram, c->login.secret, sf, dlen, msg, sizeof msg, err,
					       sizeof err);
		if (ml < 0) {
			backend_auth_failed(c, err);
			return;
		}
		pg_put_sasl_response(out, msg, (size_t)ml);
		c->bauth_step = PG_BA_SCRAM_FINAL;
		return;
	}
	case PG_AUTH_SASL_FINAL:
		/* Only after our proof: before it, the expected signature is unset. */
		if (!c->bscram || c->bauth_step != PG_BA_SCRAM_FINAL ||
		    pg_scram_client_verify(c->bscram, (const char *)data, dlen) != 0) {
			backend_auth_failed(c, "backend's SCRAM signature is wrong (not the real server?)");
			return;
		}
		c->bauth_step = PG_BA_SCRAM_VERIFIED;
		return;
	default:
		snprintf(err, sizeof err, "backend asks for unsupported authentication method %u", code);
		backend_auth_failed(c, err);
		return;
	}
}

static void logged_in(struct pg_conn *c)
{
	if (login_complete(c->s, &c->login, NULL) != 0)
		return;
	free(c->params);
	c->params = NULL;
	free(c->param_blob);
	c->param_blob = NULL;
	c->n_params = 0;
	if (pg_relay_init(c) != 0) {
		pg_fatal(c, "53200", "out of memory", "out of memory");
		return;
	}
	set_state(c, PG_ST_READY);
}

/* After AuthenticationOk: relay ParameterStatus and notices, replace
 * BackendKeyData with ours, finish at ReadyForQuery. */
static void on_backend_startup_msg(struct pg_conn *c, char type, const uint8_t *b, size_t n)
{
	struct evbuffer *cout = sess_output(c->s, SESS_CLIENT);
	switch (type) {
	case 'K':
		if (pg_parse_backend_key(b, n, &c->backend_pid, &c->backend_key) != 0) {
			backend_auth_failed(c, "malformed BackendKeyData");
			return;
		}
		c->s->backend_id = c->backend_pid; /* pg_terminate_backend() ownership */
		pg_put_backend_key(cout, (uint32_t)c->s->id, c->our_key);
		return;
	case 'Z':
		c->tx_status = n ? (char)b[0] : 'I';
		logged_in(c);
		if (c->st == PG_ST_READY)
			pg_put_ready(cout, c->tx_status);
		return;
	case 'S':
		pg_note_parameter(c, b, n);
		__attribute__((fallthrough)); /* relayed as is */
	case 'N':
	case 'v': {
		uint8_t h[5] = {(uint8_t)type, (uint8_t)((n + 4) >> 24), (uint8_t)((n + 4) >> 16),
				(uint8_t)((n + 4) >> 8), (uint8_t)(n + 4)};
		evbuffer_add(cout, h, 5);
		evbuffer_add(cout, b, n);
		return;
	}
	default:
		backend_auth_failed(c, "unexpected message during backend startup");
	}
}

/* Backend error during login: authentication problems stay generic for the
 * client (they concern the hosted account), others (no such database) pass. */
static void on_backend_login_error(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *code = "", *msg = "";
	size_t ml = 0;
	(void)pg_error_field(b, n, 'C', &code, NULL);
	(void)pg_error_field(b, n, 'M', &msg, &ml);
	char why[300];
	snprintf(why, sizeof why, "%s %.*s", code, (int)(ml > 200 ? 200 : ml), msg);
	if (strncmp(code, "28", 2) == 0) {
		backend_auth_failed(c, why);
		return;
	}
	char reason[320];
	snprintf(reason, sizeof reason, "backend refused the session: %s", why);
	login_audit_failed(c->s, &c->login, reason);
	uint8_t h[5] = {'E', (uint8_t)((n + 4) >> 24), (uint8_t)((n + 4) >> 16),
			(uint8_t)((n + 4) >> 8), (uint8_t)(n + 4)};
	struct evbuffer *cout = sess_output(c->s, SESS_CLIENT);
	evbuffer_add(cout, h, 5);
	evbuffer_add(cout, b, n);
	set_state(c, PG_ST_CLOSED);
	sess_close_after_flush(c->s, "%s", reason);
}

static void backend_read(struct pg_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_BACKEND);
	if (c->st == PG_ST_CANCEL) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (c->st == PG_ST_BACKEND_SSL) {
		uint8_t ch;
		if (evbuffer_remove(in, &ch, 1) != 1)
			return;
		if (ch == 'S') {
			if (evbuffer_get_length(in) != 0) {
				backend_auth_failed(c, "backend sent data after accepting TLS");
				return;
			}
			int verify = s->ident.target.tls == ASSET_TLS_VERIFY_FULL;
			if (sess_backend_tls_start(s, s->ident.target.host, verify) != 0) {
				backend_auth_failed(c, "cannot start TLS to backend");
				return;
			}
			set_state(c, PG_ST_BACKEND_TLS);
			return;
		}
		if (ch == 'N' && s->ident.target.tls == ASSET_TLS_PREFER) {
			send_backend_startup(c);
			return;
		}
		backend_auth_failed(c, ch == 'N' ? "backend does not support TLS but the asset requires it"
						 : "unexpected answer to SSLRequest");
		return;
	}
	while (!s->closing && c->st >= PG_ST_BACKEND_AUTH && c->st <= PG_ST_BACKEND_STARTUP) {
		uint8_t h[PG_HEADER_LEN];
		struct pg_frame f;
		enum pg_peek r = pg_peek_message(h, pg_head(in, h), PG_CONTROL_MESSAGE_MAX, &f);
		if (r == PG_PEEK_INVALID) {
			backend_auth_failed(c, "invalid message length from backend during login");
			return;
		}
		if (r == PG_PEEK_AGAIN)
			return;
		uint32_t len = f.len;
		uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)len + 1);
		if (!m) {
			sess_close(s, "out of memory");
			return;
		}
		char type = (char)h[0];
		const uint8_t *b = m + 5;
		size_t n = len - 4;
		if (type == 'E')
			on_backend_login_error(c, b, n);
		else if (c->st == PG_ST_BACKEND_AUTH && type == 'R')
			on_backend_auth(c, b, n);
		else if (c->st == PG_ST_BACKEND_AUTH && type == 'N')
			; /* notices before auth: drop */
		else if (c->st == PG_ST_BACKEND_STARTUP)
			on_backend_startup_msg(c, type, b, n);
		else
			backend_auth_failed(c, "unexpected message from backend during login");
		evbuffer_drain(in, (size_t)len + 1);
	}
	/* Ready: anything the backend or the client already sent is relayed now. */
	if (c->st == PG_ST_READY)
		login_relay_early(s);
}

void pg_login_read(struct session *s, void *state, enum sess_side side)
{
	if (side == SESS_CLIENT)
		client_read(state);
	else
		backend_read(state);
}

void pg_backend_ready(struct session *s, void *state, int tls)
{
	struct pg_conn *c = state;
	if (c->st == PG_ST_CANCEL) {
		pg_put_cancel(sess_output(s, SESS_BACKEND), c->cancel_pid, c->cancel_key);
		return; /* the server closes the connection once it has read it */
	}
	if (tls) {
		if (c->st == PG_ST_BACKEND_TLS)
			send_backend_startup(c);
	} else if (s->ident.target.tls == ASSET_TLS_DISABLE) {
		send_backend_startup(c);
	} else {
		pg_put_request_code(sess_output(s, SESS_BACKEND), PG_SSL_REQUEST);
		set_state(c, PG_ST_BACKEND_SSL);
	}
}

/* TLS with the client is up: the StartupMessage follows inside it. */
int pg_client_tls_ready(struct session *s, void *state)
{
	struct pg_conn *c = state;
	if (c->st != PG_ST_CLIENT_TLS)
		return 0;
	set_state(c, PG_ST_STARTUP);
	return 1;
}

void pg_backend_lost(struct session *s, void *state)
{
	pg_fatal(state, "08006", "sqlbastion: lost the connection to the database",
		 s->backend_error);
}

/* A forwarded CancelRequest is done when the server closes, or at the timer. */
void pg_cancel_over(struct session *s, void *state)
{
	sess_close(s, "cancel forwarded");
}

/* The login tail refuses (struct protocol login_refused): the protocol's
 * generic words for kind, then the session ends once they are out. */
void pg_login_refused(struct session *s, void *state, enum login_refusal kind,
		      const char *reason)
{
	struct pg_conn *c = state;
	char msg[160];
	switch (kind) {
	case LOGIN_REFUSE_AUTH:
		snprintf(msg, sizeof msg, "password authentication failed for user \"%.64s\"",
			 c->login.user);
		pg_fatal(c, "28P01", msg, reason);
		return;
	case LOGIN_REFUSE_BACKEND:
		pg_fatal(c, "08006",
			 "sqlbastion: could not log in to the database with the hosted account", reason);
		return;
	case LOGIN_REFUSE_AUDIT:
		pg_fatal(c, "58030", "sqlbastion: audit log unavailable; login refused", reason);
		return;
	case LOGIN_REFUSE_NOT_HOSTED:
		pg_fatal(c, "28000", LOGIN_NOT_HOSTED_MESSAGE, reason);
		return;
	}
}
