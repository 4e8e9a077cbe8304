/* pg_passthrough_auth: relay of the backend's authentication for a
 * not-hosted account on the SSH entry (see pg_passthrough_auth.h). */
#include "protocols/pgsql/pg_passthrough_auth.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "protocols/pgsql/pg_conn.h"
#include "proxy/identity.h"
#include "proxy/login.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

#define PG_AUTH_GSS 7u         /* AuthenticationGSS, SSPI (9), GSSContinue (8): */
#define PG_AUTH_GSS_CONTINUE 8u /* Kerberos needs the client's ticket for the */
#define PG_AUTH_SSPI 9u         /* server's name, which the tunnel hides */

int pg_pt_wanted(const struct session *s)
{
	return s->preset && !s->preset->target.hosted;
}

int pg_pt_declines_tls(const struct session *s)
{
	return pg_pt_wanted(s) && s->preset->target.tls != ASSET_TLS_DISABLE;
}

int pg_pt_filter_mechanisms(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t off = 0, olen = 0;
	for (;;) {
		if (off >= n)
			return -1; /* no final empty name */
		const uint8_t *z = memchr(in + off, 0, n - off);
		if (!z)
			return -1;
		size_t ml = (size_t)(z - (in + off));
		if (ml == 0)
			break;
		const char *m = (const char *)in + off;
		if (!(ml > 5 && memcmp(m + ml - 5, "-PLUS", 5) == 0)) {
			if (olen + ml + 1 >= cap)
				return -1;
			memcpy(out + olen, m, ml + 1);
			olen += ml + 1;
		}
		off += ml + 1;
	}
	if (off + 1 != n)
		return -1; /* bytes after the list */
	if (olen == 0)
		return 0;
	out[olen++] = '\0';
	return (int)olen;
}

/* The end-to-end login cannot go on: audited, and the client hears why
 * (its own account: nothing hosted to keep quiet about). */
static void failed(struct pg_conn *c, const char *why)
{
	if (c->s->closing || c->s->close_after_flush)
		return;
	char reason[300], msg[300];
	snprintf(reason, sizeof reason, "backend login failed: %s", why);
	snprintf(msg, sizeof msg, "sqlbastion: %s", why);
	sess_log(c->s, LOG_WARN, "%s", reason);
	login_audit_failed(c->s, &c->login, reason);
	pg_fatal(c, "28000", msg, reason);
}

void pg_pt_backend_auth(struct pg_conn *c, uint32_t code, const uint8_t *data, size_t dlen)
{
	struct evbuffer *out = sess_output(c->s, SESS_CLIENT);
	char why[300];
	switch (code) {
	case PG_AUTH_SASL: {
		uint8_t list[512];
		int ll = pg_pt_filter_mechanisms(data, dlen, list, sizeof list);
		if (ll < 0) {
			failed(c, "malformed SASL mechanism list");
			return;
		}
		if (ll == 0) {
			failed(c, "the server offers only SASL with channel binding, which cannot "
				  "pass through the bastion's two TLS legs");
			return;
		}
		pg_put_auth(out, code, list, (size_t)ll);
		break;
	}
	case PG_AUTH_CLEARTEXT:
	case PG_AUTH_MD5:
		/* The engineer's password (or a hash one can replay and crack)
		 * crosses the backend leg: the asset's rule for a hosted secret. */
		if (!backend_auth_weak_ok(&c->login.bauth, c->s,
					  code == PG_AUTH_MD5 ? "an md5 password"
							      : "a cleartext password",
					  why, sizeof why)) {
			failed(c, why);
			return;
		}
		pg_put_auth(out, code, data, dlen);
		break;
	case PG_AUTH_SASL_CONTINUE:
		pg_put_auth(out, code, data, dlen);
		break;
	case PG_AUTH_SASL_FINAL:
		/* The server's signature: the client checks it; no answer. */
		pg_put_auth(out, code, data, dlen);
		return;
	case PG_AUTH_GSS:
	case PG_AUTH_GSS_CONTINUE:
	case PG_AUTH_SSPI:
		snprintf(why, sizeof why, "the server asks for GSSAPI/SSPI (method %u), which "
					  "cannot be relayed through the SSH entry", code);
		failed(c, why);
		return;
	default:
		snprintf(why, sizeof why, "the server asks for authentication method %u, which "
					  "cannot be relayed", code);
		failed(c, why);
		return;
	}
	c->pt_asked = code; /* the client's answer is due */
	if (code == PG_AUTH_MD5)
		c->pt_md5 = 1;
}

void pg_pt_client_read(struct pg_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	while (!s->closing && !s->close_after_flush && c->pt_asked) {
		uint8_t h[PG_HEADER_LEN];
		struct pg_frame f;
		enum pg_peek r = pg_peek_message(h, pg_head(in, h), PG_AUTH_MESSAGE_MAX, &f);
		if (r == PG_PEEK_INVALID) {
			sess_close(s, "invalid message length %u during authentication", f.len);
			return;
		}
		if (r == PG_PEEK_AGAIN)
			return;
		if (h[0] != 'p') {
			login_audit_failed(s, &c->login, h[0] == 'X'
				? "the client left during the database's authentication"
				: "expected a password message");
			sess_close(s, "no password message during end-to-end authentication");
			return;
		}
		if (c->pt_asked == PG_AUTH_SASL) {
			/* The client picks from the list we relayed: never -PLUS. */
			uint8_t *m = evbuffer_pullup(in, (ev_ssize_t)f.len + 1);
			const char *mech;
			const uint8_t *d;
			size_t dl;
			if (!m || pg_parse_sasl_initial(m + 5, f.len - 4, &mech, &d, &dl) != 0 ||
			    strstr(mech, "-PLUS")) {
				login_audit_failed(s, &c->login, "malformed SASLInitialResponse or a "
								 "mechanism the server did not offer");
				pg_fatal(c, "08P01", "sqlbastion: channel binding cannot pass through "
						     "the bastion (use channel_binding=disable or prefer)",
					 "SASL mechanism not offered");
				return;
			}
		}
		/* Forwarded whole and untouched (a password or a proof: never
		 * looked at, never logged). */
		c->pt_asked = 0;
		if (evbuffer_remove_buffer(in, sess_output(s, SESS_BACKEND), (size_t)f.len + 1) !=
		    (int)f.len + 1) {
			sess_close(s, "out of memory");
			return;
		}
	}
	if (!c->pt_asked && evbuffer_get_length(in) > s->px->cfg.max_message + 5)
		sess_close(s, "client sent too much before the session was ready");
}

void pg_pt_backend_error(struct pg_conn *c, const uint8_t *b, size_t n)
{
	const char *code = "", *msg = "";
	size_t cl = 0, ml = 0;
	(void)pg_error_field(b, n, 'C', &code, &cl);
	(void)pg_error_field(b, n, 'M', &msg, &ml);
	char sqlstate[6] = "28000", text[256], reason[360];
	if (cl == 5)
		memcpy(sqlstate, code, 5);
	snprintf(text, sizeof text, "%.*s", (int)(ml > 250 ? 250 : ml), msg);
	snprintf(reason, sizeof reason, "backend login failed: %s %s%s", sqlstate, text,
		 c->pt_md5 && strncmp(sqlstate, "28", 2) == 0
			 ? " (md5: the client must give the account's user name)"
			 : "");
	sess_log(c->s, LOG_INFO, "%s", reason);
	login_audit_failed(c->s, &c->login, reason);
	pg_fatal(c, sqlstate, text[0] ? text : "authentication failed", reason);
}
