/* ctl_check_pg: "asset check" for PostgreSQL assets. The login is done
 * here, not with libpq, so that it follows the proxy's own rules for the
 * hosted secret (backend_auth.h): SCRAM-SHA-256 with the server's
 * signature verified over any transport; a cleartext or md5 password, or
 * no authentication at all, only over verify-full TLS (CA: backend_ca, as
 * for the daemon) or where the asset allows weak auth. libpq 15 cannot be
 * told which methods to refuse, so a fake server could have had the secret
 * from it. The result names the TLS state and the method the server used.
 *
 * Blocking I/O with timeouts (connect_timeout) on one socket; messages are
 * built and parsed with the proxy's codec (pg_codec.h, pg_scram.h).
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "protocols/pgsql/pg_codec.h"
#include "protocols/pgsql/pg_scram.h"
#include "proxy/backend_auth.h"
#include "lib/crypto.h"
#include "proxy/ctl.h"
#include "proxy/ctl_check_pg.h"
#include "proxy/tls.h"

struct pgc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct evbuffer *in, *out;
	char *out_msg; /* result or error text */
	size_t cap;
};

/* The message into the result; returns -1. */
static int fail(struct pgc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct pgc *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->out_msg, p->cap, fmt, ap);
	va_end(ap);
	return -1;
}

static int dial(struct pgc *p, const char *host, int port, int timeout)
{
	char sport[8];
	snprintf(sport, sizeof sport, "%d", port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int e = getaddrinfo(host, sport, &hints, &res);
	if (e != 0)
		return fail(p, "cannot resolve host: %s", gai_strerror(e));
	struct timeval tv = {.tv_sec = timeout > 0 ? timeout : 10};
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			p->fd = fd;
			freeaddrinfo(res);
			return 0;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return fail(p, "cannot connect to the server");
}

static int flush_out(struct pgc *p)
{
	size_t n = evbuffer_get_length(p->out);
	const unsigned char *d = evbuffer_pullup(p->out, -1);
	for (size_t off = 0; off < n;) {
		int w = p->ssl ? SSL_write(p->ssl, d + off, (int)(n - off))
			       : (int)send(p->fd, d + off, n - off, MSG_NOSIGNAL);
		if (w <= 0)
			return fail(p, "connection lost while sending");
		off += (size_t)w;
	}
	/* The buffer held secrets (a password message): wipe before freeing. */
	if (n)
		sb_wipe(evbuffer_pullup(p->out, -1), n);
	evbuffer_drain(p->out, n);
	return 0;
}

/* The next whole message: its type and a malloc'd body (caller frees). */
static int read_msg(struct pgc *p, char *type, uint8_t **body, size_t *n)
{
	for (;;) {
		uint8_t h[5];
		if (evbuffer_copyout(p->in, h, 5) == 5) {
			uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 |
				       (uint32_t)h[3] << 8 | h[4];
			if (len < 4 || len > (1u << 20))
				return fail(p, "malformed message from the server");
			if (evbuffer_get_length(p->in) >= (size_t)len + 1) {
				*type = (char)h[0];
				*n = len - 4;
				*body = malloc(*n + 1);
				if (!*body)
					return fail(p, "out of memory");
				evbuffer_drain(p->in, 5);
				evbuffer_remove(p->in, *body, *n);
				(*body)[*n] = 0;
				return 0;
			}
		}
		char buf[16384];
		int r = p->ssl ? SSL_read(p->ssl, buf, sizeof buf) : (int)recv(p->fd, buf, sizeof buf, 0);
		if (r <= 0)
			return fail(p, "the server closed the connection (or timed out)");
		evbuffer_add(p->in, buf, (size_t)r);
	}
}

/* As read_msg, but an ErrorResponse ends the check: its message into
 * p->out_msg ("server error: ..."), body freed, -1. */
static int read_reply(struct pgc *p, char *type, uint8_t **body, size_t *n)
{
	if (read_msg(p, type, body, n) != 0)
		return -1;
	if (*type != 'E')
		return 0;
	const char *m = "";
	size_t ml = 0;
	(void)pg_error_field(*body, *n, 'M', &m, &ml);
	snprintf(p->out_msg, p->cap, "server error: %.*s", (int)(ml > 300 ? 300 : ml), m);
	free(*body);
	return -1;
}

static int start_tls(struct pgc *p, struct ctl *c, const char *host, enum asset_tls mode)
{
	char err[256];
	int verify = mode == ASSET_TLS_VERIFY_FULL;
	p->ctx = tls_backend_ctx_new(verify, c->cfg.backend_ca, err, sizeof err);
	if (!p->ctx)
		return fail(p, "TLS: %s", err);
	p->ssl = SSL_new(p->ctx);
	if (!p->ssl)
		return fail(p, "TLS: out of memory");
	unsigned char ipbuf[16];
	int is_ip = inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(p->ssl, host);
	if (verify) {
		X509_VERIFY_PARAM *param = SSL_get0_param(p->ssl);
		if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
			   : X509_VERIFY_PARAM_set1_host(param, host, 0)) != 1)
			return fail(p, "TLS: bad host name %s", host);
	}
	SSL_set_fd(p->ssl, p->fd);
	if (SSL_connect(p->ssl) != 1) {
		long vr = SSL_get_verify_result(p->ssl);
		snprintf(p->out_msg, p->cap, "TLS handshake failed: %s",
			 vr != X509_V_OK ? X509_verify_cert_error_string(vr)
					 : ERR_reason_error_string(ERR_peek_last_error()));
		return -1;
	}
	return 0;
}

/* The authentication exchange, with the proxy's rules (pg_login.c
 * on_backend_auth). *method names what the server used. */
static int authenticate(struct pgc *p, struct backend_auth *ba, enum asset_tls mode,
			const char *user, const char *pw, const char **method)
{
	struct pg_scram_client sc;
	int step = 0; /* 0 none, 1 client-first sent, 2 proof sent, 3 verified, 4 password sent */
	char why[400], msg[PG_SCRAM_MSG_MAX], err[160];
	int tls_on = p->ssl != NULL, rc = -1;
	memset(&sc, 0, sizeof sc);
	*method = "none";
	for (;;) {
		char type;
		uint8_t *b;
		size_t n;
		if (read_reply(p, &type, &b, &n) != 0)
			goto out;
		uint32_t code;
		const uint8_t *data;
		size_t dlen;
		if (type != 'R' || pg_parse_auth(b, n, &code, &data, &dlen) != 0) {
			free(b);
			fail(p, "unexpected message from the server during authentication");
			goto out;
		}
		int bad = 0;
		if (step >= 1 && step <= 3 && code != 0 && code != 11 && code != 12) {
			fail(p, "the server switched methods in the middle of SCRAM");
			bad = 1;
		} else if (code == 0) {
			if (step == 0 && !backend_auth_allows(ba, tls_on, mode, "trust (no authentication)",
							     why, sizeof why))
				bad = fail(p, "%s", why) != 0;
			else if (step == 1 || step == 2)
				bad = fail(p, "AuthenticationOk before SCRAM completed (not the real server?)") != 0;
			if (!bad) {
				if (step == 0)
					*method = "trust";
				rc = 0;
				free(b);
				goto out;
			}
		} else if (code == 3 || code == 5) {
			const char *what = code == 3 ? "a cleartext password" : "an md5 password";
			*method = code == 3 ? "password" : "md5";
			if (code == 5 && dlen != 4) {
				bad = fail(p, "malformed md5 request") != 0;
			} else if (!backend_auth_allows(ba, tls_on, mode, what, why, sizeof why)) {
				bad = fail(p, "%s", why) != 0;
			} else if (code == 3) {
				pg_put_password(p->out, pw);
			} else {
				char md5[36];
				pg_md5_password(user, pw, data, md5);
				pg_put_password(p->out, md5);
				sb_wipe(md5, sizeof md5);
			}
			step = 4;
		} else if (code == 10 && step == 0) {
			*method = "scram-sha-256";
			int found = 0;
			for (size_t off = 0; off < dlen;) {
				size_t ml = strnlen((const char *)data + off, dlen - off);
				if (ml == 0 || ml == dlen - off)
					break;
				if (strcmp((const char *)data + off, "SCRAM-SHA-256") == 0)
					found = 1;
				off += ml + 1;
			}
			int ml = found ? pg_scram_client_first(&sc, msg, sizeof msg) : -1;
			if (ml < 0)
				bad = fail(p, "the server offers no supported SASL mechanism") != 0;
			else
				pg_put_sasl_initial(p->out, "SCRAM-SHA-256", msg, (size_t)ml);
			step = 1;
		} else if (code == 11 && step == 1) {
			int ml = pg_scram_client_final(&sc, pw, (const char *)data, dlen, msg, sizeof msg,
						       err, sizeof err);
			if (ml < 0)
				bad = fail(p, "SCRAM: %s", err) != 0;
			else
				pg_put_sasl_response(p->out, msg, (size_t)ml);
			step = 2;
		} else if (code == 12 && step == 2) {
			if (pg_scram_client_verify(&sc, (const char *)data, dlen) != 0)
				bad = fail(p, "the server's SCRAM signature is wrong (not the real server?)") != 0;
			step = 3;
		} else {
			snprintf(p->out_msg, p->cap, "unsupported or unexpected authentication request %u",
				 code);
			bad = 1;
		}
		free(b);
		if (bad || flush_out(p) != 0)
			goto out;
	}
out:
	sb_wipe(&sc, sizeof sc);
	return rc;
}

/* After AuthenticationOk: up to ReadyForQuery, then SELECT version(). */
static int query_version(struct pgc *p, char *ver, size_t cap)
{
	char type;
	uint8_t *b;
	size_t n;
	int got = 0;
	for (int phase = 0; phase < 2;) {
		if (read_reply(p, &type, &b, &n) != 0)
			return -1;
		if (type == 'D' && n >= 6 && !got) {
			uint32_t l = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];
			if (l != 0xffffffffu && l <= n - 6) {
				snprintf(ver, cap, "%.*s", (int)l, (const char *)b + 6);
				got = 1;
			}
		}
		if (type == 'Z') {
			phase++;
			if (phase == 1) {
				static const char q[] = "SELECT version()";
				uint8_t h[5] = {'Q', 0, 0, 0, (uint8_t)(sizeof q + 4)};
				evbuffer_add(p->out, h, 5);
				evbuffer_add(p->out, q, sizeof q);
				if (flush_out(p) != 0) {
					free(b);
					return -1;
				}
			}
		}
		free(b);
	}
	pg_put_terminate(p->out);
	(void)flush_out(p);
	return got ? 0 : fail(p, "SELECT version(): no result");
}

int ctl_check_pg(struct ctl *c, const struct state_asset *a, const struct state_asset_auth *aa,
		 const char *user, const char *pw, char *out, size_t cap)
{
	struct pgc p = {.fd = -1, .out_msg = out, .cap = cap};
	struct backend_auth ba = {.allow_weak = aa->weak_auth};
	const char *method = "none";
	char ver[512];
	int rc = CTL_FAIL;
	p.in = evbuffer_new();
	p.out = evbuffer_new();
	if (!p.in || !p.out) {
		snprintf(out, cap, "out of memory");
		goto done;
	}
	if (dial(&p, a->host, a->port, c->cfg.connect_timeout) != 0)
		goto done;
	if (a->tls != ASSET_TLS_DISABLE) {
		uint8_t ans;
		pg_put_request_code(p.out, PG_SSL_REQUEST);
		if (flush_out(&p) != 0)
			goto done;
		if (recv(p.fd, &ans, 1, 0) != 1) {
			snprintf(out, cap, "no answer to SSLRequest");
			goto done;
		}
		if (ans == 'S') {
			if (start_tls(&p, c, a->host, a->tls) != 0)
				goto done;
		} else if (ans != 'N' || a->tls != ASSET_TLS_PREFER) {
			snprintf(out, cap, ans == 'N' ? "the server does not support TLS (asset --tls %s)"
						      : "unexpected answer to SSLRequest (asset --tls %s)",
				 state_tls_name(a->tls));
			goto done;
		}
	}
	const struct pg_param params[] = {{"application_name", "sqlbastionctl"}};
	pg_put_startup(p.out, user, "postgres", params, 1);
	if (flush_out(&p) != 0 || authenticate(&p, &ba, a->tls, user, pw, &method) != 0 ||
	    query_version(&p, ver, sizeof ver) != 0)
		goto done;
	snprintf(out, cap, "%s (tls %s; auth %s%s)", ver,
		 !p.ssl ? "off" : a->tls == ASSET_TLS_VERIFY_FULL ? "on, verified" : "on, not verified",
		 method, ba.weak ? ", weak: allowed by --allow-weak-auth" : "");
	rc = CTL_OK;
done:
	if (rc != CTL_OK && strcmp(method, "none") != 0) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, " (tls %s; auth %s)", p.ssl ? "on" : "off", method);
	}
	if (p.ssl) {
		SSL_shutdown(p.ssl);
		SSL_free(p.ssl);
	}
	SSL_CTX_free(p.ctx);
	if (p.fd >= 0)
		close(p.fd);
	if (p.in)
		evbuffer_free(p.in);
	if (p.out) {
		size_t n = evbuffer_get_length(p.out);
		if (n)
			sb_wipe(evbuffer_pullup(p.out, -1), n);
		evbuffer_free(p.out);
	}
	return rc;
}
