/* tns_tls: TCPS, Oracle Net over TLS, on both sides.
 *
 * Client side: TCPS has no in-band negotiation; the client starts TLS at
 * once. A connection whose first bytes are a TLS handshake record (0x16
 * 0x03: as a TNS header that would be a 5.6 kB CONNECT, which no client
 * sends) gets the proxy's server certificate, and the CONNECT is read
 * inside TLS. With require_tls a plain CONNECT is refused (ERR=12564), as
 * plain logins are on the other listeners; the SSH tunnel (a preset
 * session) is exempt.
 *
 * Backend side: per the asset's --tls. disable: plain TNS. prefer,
 * require: TLS first, certificate not checked (there is nothing to fall
 * back on: a TCPS listener does not speak plain TNS, so prefer is require
 * here). verify-full: the chain against backend_ca (or the system store)
 * and the asset's host name; unmet, the session is refused before the
 * CONNECT, so the client's O5LOGON never reaches an unverified server.
 * After a REDIRECT the new address gets TLS again, checked against the
 * host the listener named. */
#include <event2/buffer.h>
#include <string.h>

#include "protocols/tns/tns_conn.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

#define TNS_ERR_REFUSED 12564

/* Before the CONNECT: 1 when the client side was taken over (TLS started,
 * or the session refused/closed), 0 to read plain TNS. */
int tns_client_tls_first(struct tns_conn *c)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	uint8_t b[2];
	if (s->client_tls)
		return 0;
	if (evbuffer_copyout(in, b, sizeof b) < (ev_ssize_t)sizeof b)
		return 1; /* wait for two bytes */
	if (b[0] == 0x16 && b[1] == 0x03) {
		if (!s->px->server_tls) {
			sess_close(s, "TCPS client; no certificate configured");
			return 1;
		}
		c->client_tls_pending = 1;
		if (sess_client_tls_start(s) != 0)
			sess_close(s, "cannot start TLS");
		return 1;
	}
	if (s->px->cfg.require_tls && !s->preset) {
		uint8_t pkt[128];
		long n = tns_build_refuse(pkt, sizeof pkt, TNS_ERR_REFUSED);
		login_audit_failed(s, &c->login, "TLS required (connect with TCPS)");
		if (n > 0)
			evbuffer_add(sess_output(s, SESS_CLIENT), pkt, (size_t)n);
		c->st = TNS_ST_CLOSED;
		sess_close_after_flush(s, "TLS required");
		return 1;
	}
	return 0;
}

int tns_client_tls_ready(struct session *s, void *state)
{
	struct tns_conn *c = state;
	if (!c->client_tls_pending)
		return 0;
	c->client_tls_pending = 0;
	sess_log(s, LOG_INFO, "client TLS (TCPS) established");
	return 1; /* the CONNECT may be buffered already */
}

void tns_backend_ready(struct session *s, void *state, int tls)
{
	struct tns_conn *c = state;
	enum asset_tls mode = s->ident.target.tls;
	if (!tls && mode != ASSET_TLS_DISABLE) {
		const char *host = c->backend_host[0] ? c->backend_host : s->ident.target.host;
		if (sess_backend_tls_start(s, host, mode == ASSET_TLS_VERIFY_FULL) != 0)
			login_backend_failed(s, &c->login, "cannot start TLS to the backend");
		return; /* TLS_READY comes back here with tls = 1 */
	}
	tns_send_connect(c);
}
