/* tns_frontend: the Oracle Net (TNS) descriptor the core calls, and the
 * login: the client's CONNECT (descriptor inline or in the DATA packet
 * after it), the token given as SERVICE_NAME or SID, the CONNECT the
 * backend gets (the asset's host, port and real service), and the
 * backend listener's answer: RESEND (send it again), REDIRECT (followed
 * here with sess_backend_replace, so the client never learns a database
 * address), REFUSE (relayed to the client), ACCEPT (relayed; the session
 * becomes the relay of tns_relay.c).
 *
 * The client authenticates to the database itself (O5LOGON inside the
 * relay): the proxy never answers O5LOGON and holds no database password
 * for a TNS session. Bad tokens get a REFUSE with ERR=12514 (12505 when the
 * token came as SID), which clients report as ORA-12514 / ORA-12505. */
#include <ctype.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/tns/tns_conn.h"
#include "protocols/tns/tns_desc.h"
#include "proxy/session.h"
#include "proxy/stream.h"

#define TNS_ERR_SERVICE 12514 /* listener does not know of the service */
#define TNS_ERR_SID 12505     /* listener does not know of the SID */
#define TNS_ERR_REFUSED 12564 /* connection refused */

static void set_state(struct tns_conn *c, enum tns_state to)
{
	static const char *const names[] = {"connect", "connect", "backend", "accept",
					    "redirect", "ready", "closed"};
	c->st = to;
	sess_set_phase(c->s, names[to]);
}

uint8_t *tns_whole_packet(struct tns_conn *c, enum sess_side side, int large, struct tns_hdr *h)
{
	struct session *s = c->s;
	struct evbuffer *in = sess_input(s, side);
	uint8_t hb[TNS_HDR_LEN];
	if (evbuffer_copyout(in, hb, sizeof hb) < (ev_ssize_t)sizeof hb)
		return NULL;
	if (tns_peek_header(hb, sizeof hb, large, h) != TNS_OK) {
		sess_close(s, "malformed TNS packet header from the %s",
			   side == SESS_CLIENT ? "client" : "backend");
		return NULL;
	}
	return stream_whole(s, side, h->len);
}

/* Append a JSON string member "key":"value" to the CID record. */
static void info_add(char *buf, size_t cap, const char *key, const char *v)
{
	size_t len = strlen(buf);
	if (!v || len + 8 >= cap)
		return;
	len += (size_t)snprintf(buf + len, cap - len, "%s\"%s\":\"", len > 1 ? "," : "", key);
	for (; *v && len + 8 < cap; v++) {
		unsigned char ch = (unsigned char)*v;
		if (ch == '"' || ch == '\\')
			len += (size_t)snprintf(buf + len, cap - len, "\\%c", ch);
		else if (ch < 0x20)
			len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", ch);
		else
			buf[len++] = (char)ch;
	}
	snprintf(buf + len, cap - len, "\"");
}

/* The descriptor the client sent: token check, then the backend. */
static void take_descriptor(struct tns_conn *c, const uint8_t *cd, size_t n)
{
	struct session *s = c->s;
	struct tns_desc *d = malloc(sizeof *d);
	char err[160], reason[200];
	if (!d) {
		sess_close(s, "out of memory");
		return;
	}
	if (tns_desc_parse(d, (const char *)cd, n, err, sizeof err) != 0) {
		login_refuse(s, &c->login, err);
		free(d);
		return;
	}
	snprintf(c->client_info, sizeof c->client_info, "{");
	info_add(c->client_info, sizeof c->client_info, "program", tns_desc_cid(d, "PROGRAM"));
	info_add(c->client_info, sizeof c->client_info, "host", tns_desc_cid(d, "HOST"));
	info_add(c->client_info, sizeof c->client_info, "os_user", tns_desc_cid(d, "USER"));
	size_t il = strlen(c->client_info);
	snprintf(c->client_info + il, sizeof c->client_info - il, "}");
	c->login.client_info = c->client_info;

	const char *svc = NULL;
	int is_sid = 0;
	int found = tns_desc_service(d, &svc, &is_sid);
	if (found <= 0) {
		login_refuse(s, &c->login,
			     found < 0 ? "descriptor names different services"
				       : "descriptor names no SERVICE_NAME or SID");
		free(d);
		return;
	}
	c->by_sid = is_sid;
	/* Oracle Net treats service names without regard to case, and tokens
	 * are lower case: a client that upper-cases the name still matches. */
	char token[128];
	size_t tl = strlen(svc);
	if (tl >= sizeof token)
		tl = sizeof token - 1;
	for (size_t i = 0; i < tl; i++)
		token[i] = (char)tolower((unsigned char)svc[i]);
	token[tl] = '\0';
	enum auth_status st = login_check_token_only(s, &c->login, token, tl, reason,
						     sizeof reason);
	sb_wipe(token, sizeof token);
	if (login_checked(s, &c->login, st, reason) != 0) {
		free(d);
		return;
	}
	const struct auth_target *t = &s->ident.target;
	char *out = malloc(TNS_CONNECT_DATA_MAX + 1);
	long ol = out ? tns_desc_rewrite(d, t->host, t->port, t->service, out,
					 TNS_CONNECT_DATA_MAX + 1)
		      : -1;
	free(d);
	if (ol < 0) {
		free(out);
		login_refuse(s, &c->login, "the backend descriptor does not fit");
		return;
	}
	c->backend_cd = out;
	c->backend_cd_len = (size_t)ol;
	set_state(c, TNS_ST_BACKEND);
	c->login.end_to_end = 1; /* the client logs in to the database itself (O5LOGON) */
	(void)login_start_backend(s, &c->login);
}

static void read_connect(struct tns_conn *c)
{
	struct session *s = c->s;
	struct tns_hdr h;
	uint8_t *p = tns_whole_packet(c, SESS_CLIENT, 0, &h);
	if (!p)
		return;
	if (h.type != TNS_CONNECT || tns_parse_connect(p, h.len, &c->cp) != 0) {
		sess_close(s, "expected a TNS CONNECT packet");
		return;
	}
	c->connect = malloc(h.len);
	if (!c->connect) {
		sess_close(s, "out of memory");
		return;
	}
	memcpy(c->connect, p, h.len);
	c->connect_len = h.len;
	evbuffer_drain(sess_input(s, SESS_CLIENT), h.len);
	if (!c->cp.cd_inline) {
		set_state(c, TNS_ST_CONNECT_DATA);
		return;
	}
	take_descriptor(c, c->connect + c->cp.cd_off, c->cp.cd_len);
}

static void read_connect_data(struct tns_conn *c)
{
	struct tns_hdr h;
	uint8_t *p = tns_whole_packet(c, SESS_CLIENT, 0, &h);
	const uint8_t *d;
	size_t n;
	uint16_t flags;
	if (!p)
		return;
	if (h.type != TNS_DATA || tns_data_payload(p, h.len, 0, &d, &n, &flags) != 0 ||
	    n != c->cp.cd_len) {
		sess_close(c->s, "expected the connect data after CONNECT");
		return;
	}
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy) {
		sess_close(c->s, "out of memory");
		return;
	}
	memcpy(copy, d, n);
	evbuffer_drain(sess_input(c->s, SESS_CLIENT), h.len);
	take_descriptor(c, copy, n);
	free(copy);
}

/* Our CONNECT to the (current) backend listener. */
void tns_send_connect(struct tns_conn *c)
{
	size_t cap = c->connect_len + c->backend_cd_len + 64;
	uint8_t *out = malloc(cap);
	long n = out ? tns_build_connect(out, cap, c->connect, c->connect_len, &c->cp,
					 c->backend_cd, c->backend_cd_len)
		     : -1;
	if (n < 0) {
		free(out);
		login_backend_failed(c->s, &c->login, "cannot build the CONNECT packet");
		return;
	}
	evbuffer_add(sess_output(c->s, SESS_BACKEND), out, (size_t)n);
	free(out);
	set_state(c, TNS_ST_ACCEPT);
}

/* "(ADDRESS=(PROTOCOL=tcp)(HOST=h)(PORT=p))\0<connect data>": follow it. */
static void follow_redirect(struct tns_conn *c, const uint8_t *data, size_t n)
{
	struct session *s = c->s;
	if (++c->redirects > TNS_REDIRECTS_MAX) {
		login_backend_failed(s, &c->login, "too many REDIRECTs");
		return;
	}
	const uint8_t *nul = memchr(data, '\0', n);
	size_t alen = nul ? (size_t)(nul - data) : n;
	struct tns_desc *d = malloc(sizeof *d);
	char err[160];
	if (!d || tns_desc_parse(d, (const char *)data, alen, err, sizeof err) != 0) {
		free(d);
		login_backend_failed(s, &c->login, "unreadable REDIRECT address");
		return;
	}
	int hi = tns_desc_find(d, -1, "HOST"), pi = tns_desc_find(d, -1, "PORT");
	const char *host = hi >= 0 ? d->node[hi].value : NULL;
	const char *port = pi >= 0 ? d->node[pi].value : NULL;
	int portn = port ? atoi(port) : 0;
	if (!host || !*host || portn <= 0 || portn > 65535) {
		free(d);
		login_backend_failed(s, &c->login, "REDIRECT without host and port");
		return;
	}
	/* the listener's connect data for the new address, if it gave one */
	if (nul && (size_t)(nul - data) + 1 < n) {
		size_t cl = n - alen - 1;
		while (cl && data[alen + cl] == '\0')
			cl--;
		char *cd = malloc(cl + 1);
		if (!cd) {
			free(d);
			sess_close(s, "out of memory");
			return;
		}
		memcpy(cd, nul + 1, cl);
		cd[cl] = '\0';
		free(c->backend_cd);
		c->backend_cd = cd;
		c->backend_cd_len = strlen(cd);
	}
	sess_log(s, LOG_INFO, "backend listener redirects to %s:%d", host, portn);
	snprintf(c->backend_host, sizeof c->backend_host, "%s", host);
	set_state(c, TNS_ST_BACKEND);
	if (sess_backend_replace(s, host, portn) != 0)
		login_backend_failed(s, &c->login, "cannot follow the REDIRECT");
	free(d);
}

static void on_accept(struct tns_conn *c, const uint8_t *p, size_t len)
{
	struct session *s = c->s;
	struct tns_accept a;
	if (tns_parse_accept(p, len, &a) != 0) {
		login_backend_failed(s, &c->login, "malformed ACCEPT");
		return;
	}
	if (a.nsi & TNS_NSI_NA_REQUIRED) {
		/* native encryption/checksumming: TTC will be unreadable */
		if (!c->login.bauth.allow_native_encryption) {
			login_backend_failed(s, &c->login,
					     "the database requires native network encryption, "
					     "which would hide statements from the audit (asset "
					     "--native-encryption refuse)");
			return;
		}
		c->unreadable = 1;
	}
	evbuffer_add(sess_output(s, SESS_CLIENT), p, len);
	evbuffer_drain(sess_input(s, SESS_BACKEND), len);
	c->large = a.large;
	char detail[64];
	snprintf(detail, sizeof detail, ", TNS version %u, SDU %u", a.version, a.sdu);
	if (login_complete(s, &c->login, detail) != 0)
		return;
	set_state(c, TNS_ST_READY);
	sess_start_relay(s);
	login_relay_early(s);
}

static void read_listener(struct tns_conn *c)
{
	struct session *s = c->s;
	struct tns_hdr h;
	uint8_t *p = tns_whole_packet(c, SESS_BACKEND, 0, &h);
	if (!p)
		return;
	switch (h.type) {
	case TNS_ACCEPT:
		on_accept(c, p, h.len);
		return;
	case TNS_RESEND:
		evbuffer_drain(sess_input(s, SESS_BACKEND), h.len);
		tns_send_connect(c);
		return;
	case TNS_REFUSE: {
		char why[300];
		size_t dl = h.len > 12 ? h.len - 12 : 0;
		snprintf(why, sizeof why, "backend listener refused: %.*s", (int)(dl > 200 ? 200 : dl),
			 (const char *)p + 12);
		login_audit_failed(s, &c->login, why);
		evbuffer_add(sess_output(s, SESS_CLIENT), p, h.len);
		evbuffer_drain(sess_input(s, SESS_BACKEND), h.len);
		set_state(c, TNS_ST_CLOSED);
		sess_close_after_flush(s, "%s", why);
		return;
	}
	case TNS_REDIRECT: {
		const uint8_t *data;
		size_t have;
		if (tns_parse_redirect(p, h.len, &c->redirect_len, &data, &have) != 0) {
			login_backend_failed(s, &c->login, "malformed REDIRECT");
			return;
		}
		if (!data) {
			evbuffer_drain(sess_input(s, SESS_BACKEND), h.len);
			set_state(c, TNS_ST_REDIRECT_DATA);
			return;
		}
		uint8_t *copy = malloc(c->redirect_len + 1u);
		if (!copy) {
			sess_close(s, "out of memory");
			return;
		}
		memcpy(copy, data, c->redirect_len);
		evbuffer_drain(sess_input(s, SESS_BACKEND), h.len);
		follow_redirect(c, copy, c->redirect_len);
		free(copy);
		return;
	}
	default:
		login_backend_failed(s, &c->login, "unexpected packet from the backend listener");
		return;
	}
}

static void read_redirect_data(struct tns_conn *c)
{
	struct tns_hdr h;
	uint8_t *p = tns_whole_packet(c, SESS_BACKEND, 0, &h);
	const uint8_t *d;
	size_t n;
	uint16_t flags;
	if (!p)
		return;
	if (h.type != TNS_DATA || tns_data_payload(p, h.len, 0, &d, &n, &flags) != 0 ||
	    n < c->redirect_len) {
		login_backend_failed(c->s, &c->login, "malformed REDIRECT data");
		return;
	}
	uint8_t *copy = malloc(c->redirect_len + 1u);
	if (!copy) {
		sess_close(c->s, "out of memory");
		return;
	}
	memcpy(copy, d, c->redirect_len);
	evbuffer_drain(sess_input(c->s, SESS_BACKEND), h.len);
	follow_redirect(c, copy, c->redirect_len);
	free(copy);
}

void tns_login_read(struct session *s, void *state, enum sess_side side)
{
	struct tns_conn *c = state;
	if (side == SESS_CLIENT) {
		if (c->client_tls_pending)
			return; /* the TLS layer owns the input until TLS_READY */
		if (c->st == TNS_ST_CONNECT && tns_client_tls_first(c))
			return;
		if (c->st == TNS_ST_CONNECT)
			read_connect(c);
		if (c->st == TNS_ST_CONNECT_DATA && !s->closing)
			read_connect_data(c);
		/* else: early client bytes wait for the relay (login_relay_early) */
		if (evbuffer_get_length(sess_input(s, SESS_CLIENT)) > STMT_PRE_READY_MAX &&
		    c->st != TNS_ST_READY)
			sess_close(s, "too much client data before the session is ready");
		return;
	}
	enum tns_state before;
	do {
		before = c->st;
		if (c->st == TNS_ST_ACCEPT)
			read_listener(c);
		else if (c->st == TNS_ST_REDIRECT_DATA)
			read_redirect_data(c);
	} while (!s->closing && c->st != before &&
		 (c->st == TNS_ST_ACCEPT || c->st == TNS_ST_REDIRECT_DATA) &&
		 evbuffer_get_length(sess_input(s, SESS_BACKEND)));
}

void tns_login_refused(struct session *s, void *state, enum login_refusal kind,
		       const char *reason)
{
	struct tns_conn *c = state;
	uint8_t pkt[256];
	int code = kind == LOGIN_REFUSE_AUTH ? (c->by_sid ? TNS_ERR_SID : TNS_ERR_SERVICE)
					     : TNS_ERR_REFUSED;
	long n = -1;
	/* a REFUSE only answers a CONNECT: not once the client is past it */
	if (c->st != TNS_ST_READY)
		n = tns_build_refuse(pkt, sizeof pkt, code);
	if (n > 0)
		evbuffer_add(sess_output(s, SESS_CLIENT), pkt, (size_t)n);
	set_state(c, TNS_ST_CLOSED);
	sess_close_after_flush(s, "%s", reason);
}

/* ---- the descriptor the core calls ---- */

static void *tns_on_accept(struct session *s)
{
	struct tns_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->s = s;
	set_state(c, TNS_ST_CONNECT);
	tns_relay_init(c);
	return c;
}

static enum protocol_stage tns_stage(void *state)
{
	const struct tns_conn *c = state;
	switch (c->st) {
	case TNS_ST_CONNECT:
	case TNS_ST_CONNECT_DATA:
		return PROTOCOL_CLIENT_LOGIN;
	case TNS_ST_BACKEND:
	case TNS_ST_ACCEPT:
	case TNS_ST_REDIRECT_DATA:
		return PROTOCOL_BACKEND_LOGIN;
	case TNS_ST_READY:
		return PROTOCOL_READY;
	default:
		return PROTOCOL_CLOSED;
	}
}

static struct login *tns_login_of(void *state)
{
	struct tns_conn *c = state;
	return &c->login;
}

static void tns_backend_lost(struct session *s, void *state)
{
	struct tns_conn *c = state;
	if (c->ano_demanded) {
		sess_close(s, "backend: the database demands Oracle native network encryption "
			      "(ORA-12660) and closed");
		return;
	}
	sess_close(s, "backend: %s", s->backend_error);
}

static void tns_free_state(void *state)
{
	struct tns_conn *c = state;
	tns_relay_free(c);
	login_free(&c->login);
	free(c->connect);
	free(c->backend_cd);
	free(c);
}

static const char *tns_current(void *state)
{
	struct tns_conn *c = state;
	return c->current;
}

const struct protocol tns_protocol = {
	.name = "tns",
	.on_accept = tns_on_accept,
	.dispatch = protocol_dispatch,
	.stage = tns_stage,
	.login = tns_login_of,
	.login_read = tns_login_read,
	.relay_read = tns_relay_read,
	.client_tls_ready = tns_client_tls_ready,
	.backend_ready = tns_backend_ready,
	.backend_lost = tns_backend_lost,
	.free_state = tns_free_state,
	.current_statement = tns_current,
	.login_refused = tns_login_refused,
};
