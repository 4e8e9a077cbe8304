/* Unit tests for the transport modes of proxy/session.c, with a fake
 * frontend over real sockets and a real event loop: sess_relay_raw()
 * (early bytes relayed, both directions, dispatch no longer called for
 * READ), sess_backend_replace() (the old backend is closed, the new one
 * connected and relayed to), a client side that is a bufferevent pair
 * (no socket) and sess_client_tls_start_framed() (a TLS
 * handshake carried in 2-byte-length frames, then data both ways). */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/proxy.h"
#include "proxy/session.h"
#include "unit.h"

/* ---- the fake frontend ---- */

struct fake {
	int port2;          /* where "redirect" from the backend goes */
	int raw_on_connect; /* sess_relay_raw() once connected */
	int connected, tls_ready, reads_after_raw, raw;
	int port1;
	const struct sess_tls_framing *framing;
};

static struct fake *the_fake;

static void *fake_accept(struct session *s)
{
	return the_fake;
}

/* Lines from the client before raw mode: "connect", "tls", or anything
 * after TLS (echoed uppercase). */
static void fake_client(struct session *s, struct fake *f)
{
	struct evbuffer *in = sess_input(s, SESS_CLIENT);
	if (f->tls_ready) {
		char buf[64];
		int n = evbuffer_remove(in, buf, sizeof buf);
		for (int i = 0; i < n; i++)
			buf[i] = (char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
		if (n > 0)
			evbuffer_add(sess_output(s, SESS_CLIENT), buf, (size_t)n);
		return;
	}
	size_t len;
	char *line;
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		if (strcmp(line, "connect") == 0) {
			if (sess_backend_connect(s, "127.0.0.1", f->port1) != 0)
				sess_close(s, "connect failed");
		} else if (strcmp(line, "tls") == 0) {
			if (sess_client_tls_start_framed(s, f->framing) != 0)
				sess_close(s, "tls failed");
			free(line);
			return; /* the rest belongs to the TLS layer */
		}
		free(line);
	}
}

static void fake_dispatch(struct session *s, void *state, enum sess_side side, enum sess_event ev)
{
	struct fake *f = state;
	if (ev == SESS_EV_READ) {
		if (f->raw)
			f->reads_after_raw++;
		if (side == SESS_CLIENT) {
			fake_client(s, f);
		} else {
			struct evbuffer *in = sess_input(s, SESS_BACKEND);
			char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);
			if (line && strcmp(line, "redirect") == 0 &&
			    sess_backend_replace(s, "127.0.0.1", f->port2) != 0)
				sess_close(s, "replace failed");
			free(line);
		}
	} else if (ev == SESS_EV_CONNECTED) {
		f->connected++;
		if (f->raw_on_connect) {
			f->raw = 1;
			if (sess_relay_raw(s) != 0)
				sess_close(s, "raw failed");
		}
	} else if (ev == SESS_EV_TLS_READY) {
		f->tls_ready = 1;
		fake_client(s, f); /* anything that came with the handshake */
	}
}

static void fake_free(void *state)
{
}

static const struct protocol fake_protocol = {
	.name = "fake",
	.on_accept = fake_accept,
	.dispatch = fake_dispatch,
	.free_state = fake_free,
};

/* ---- helpers ---- */

static int listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	*port = ntohs(a.sin_port);
	evutil_make_socket_nonblocking(fd);
	return fd;
}

static void spin(struct event_base *base, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

/* Read what fd has within a few loop turns (nonblocking). */
static size_t drain(struct event_base *base, int fd, char *buf, size_t cap, size_t want)
{
	size_t got = 0;
	for (int i = 0; i < 200 && got < want; i++) {
		ssize_t n = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		else
			spin(base, 1);
	}
	return got;
}

static int accept_within(struct event_base *base, int lfd)
{
	for (int i = 0; i < 200; i++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0)
			return fd;
		spin(base, 1);
	}
	return -1;
}

static struct session *new_session(struct sb_proxy *px, int *peer)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return NULL;
	evutil_make_socket_nonblocking(sv[0]);
	struct bufferevent *bev = bufferevent_socket_new(px->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	*peer = sv[1];
	return sess_new(px, &fake_protocol, bev, "127.0.0.1", 40000);
}

/* ---- raw relay ---- */

static void test_raw(struct sb_proxy *px)
{
	struct fake f = {.raw_on_connect = 1};
	int lfd = listener(&f.port1);
	the_fake = &f;
	int peer;
	struct session *s = new_session(px, &peer);
	CHECK(s != NULL && lfd >= 0);
	if (!s)
		return;
	uint64_t id = s->id;
	/* the frontend reads "connect"; EARLY stays buffered for the relay */
	CHECK(write(peer, "connect\nEARLY", 13) == 13);
	int b = accept_within(px->base, lfd);
	CHECK(b >= 0);
	for (int i = 0; i < 200 && !f.connected; i++)
		spin(px->base, 1);
	CHECK(f.connected == 1 && s->relay_raw && s->relaying);
	char buf[64];
	CHECK(drain(px->base, b, buf, sizeof buf, 5) == 5 && memcmp(buf, "EARLY", 5) == 0);
	CHECK(write(peer, "hello", 5) == 5);
	CHECK(drain(px->base, b, buf, sizeof buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK(write(b, "world\n", 6) == 6);
	CHECK(drain(px->base, peer, buf, sizeof buf, 6) == 6 && memcmp(buf, "world\n", 6) == 0);
	CHECK(f.reads_after_raw == 0); /* the frontend saw none of it */
	/* the backend goes away: the session closes */
	close(b);
	spin(px->base, 20);
	CHECK(sess_find(px, id) == NULL); /* s itself is freed */
	close(peer);
	close(lfd);
}

/* A client side fed by another component (an SSH channel, the web
 * console): one end of a bufferevent pair, no socket under it. */
static void test_pair_client(struct sb_proxy *px)
{
	struct fake f = {.raw_on_connect = 1};
	int lfd = listener(&f.port1);
	the_fake = &f;
	struct bufferevent *pair[2];
	CHECK(bufferevent_pair_new(px->base, BEV_OPT_CLOSE_ON_FREE, pair) == 0);
	struct session *s = sess_new(px, &fake_protocol, pair[0], "127.0.0.1", 40001);
	CHECK(s != NULL);
	if (!s)
		return;
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	bufferevent_write(pair[1], "connect\nover-pair", 17);
	int b = accept_within(px->base, lfd);
	CHECK(b >= 0);
	for (int i = 0; i < 200 && !f.connected; i++)
		spin(px->base, 1);
	CHECK(f.connected == 1 && s->relay_raw);
	char buf[32];
	CHECK(drain(px->base, b, buf, sizeof buf, 9) == 9 && memcmp(buf, "over-pair", 9) == 0);
	CHECK(write(b, "back", 4) == 4);
	struct evbuffer *in = bufferevent_get_input(pair[1]);
	for (int i = 0; i < 200 && evbuffer_get_length(in) < 4; i++)
		spin(px->base, 1);
	CHECK(evbuffer_get_length(in) == 4 && evbuffer_remove(in, buf, 4) == 4 &&
	      memcmp(buf, "back", 4) == 0);
	sess_close(s, "test over");
	spin(px->base, 3);
	bufferevent_free(pair[1]);
	close(b);
	close(lfd);
}

/* ---- backend replacement ---- */

static void test_replace(struct sb_proxy *px)
{
	struct fake f = {0};
	int lfd1 = listener(&f.port1), lfd2 = listener(&f.port2);
	the_fake = &f;
	int peer;
	struct session *s = new_session(px, &peer);
	CHECK(s != NULL);
	if (!s)
		return;
	uint64_t id = s->id;
	CHECK(write(peer, "connect\n", 8) == 8);
	int b1 = accept_within(px->base, lfd1);
	CHECK(b1 >= 0);
	for (int i = 0; i < 200 && !f.connected; i++)
		spin(px->base, 1);
	CHECK(f.connected == 1);
	/* the backend names another address: the old connection is closed
	 * and the new one connected (CONNECTED again), then relayed raw */
	f.raw_on_connect = 1;
	CHECK(write(b1, "redirect\n", 9) == 9);
	int b2 = accept_within(px->base, lfd2);
	CHECK(b2 >= 0);
	for (int i = 0; i < 200 && f.connected < 2; i++)
		spin(px->base, 1);
	CHECK(f.connected == 2);
	char buf[16];
	ssize_t n = -1;
	for (int i = 0; i < 200 && n != 0; i++) {
		n = recv(b1, buf, sizeof buf, MSG_DONTWAIT);
		spin(px->base, 1);
	}
	CHECK(n == 0); /* the old backend saw the connection close */
	CHECK(write(peer, "to-new", 6) == 6);
	CHECK(drain(px->base, b2, buf, sizeof buf, 6) == 6 && memcmp(buf, "to-new", 6) == 0);
	CHECK(sess_find(px, id) == s);
	sess_close(s, "test over");
	spin(px->base, 3);
	close(b1);
	close(b2);
	close(peer);
	close(lfd1);
	close(lfd2);
}

/* ---- TLS inside 2-byte-length frames ---- */

struct framing_stats {
	int wrapped, unwrapped;
};

static enum bufferevent_filter_result unwrap(struct evbuffer *src, struct evbuffer *dst,
					     ev_ssize_t limit, enum bufferevent_flush_mode mode,
					     void *ctx)
{
	struct framing_stats *st = ctx;
	int any = 0;
	for (;;) {
		uint8_t h[2];
		if (evbuffer_copyout(src, h, 2) < 2)
			break;
		size_t n = (size_t)h[0] << 8 | h[1];
		if (n == 0)
			return BEV_ERROR;
		if (evbuffer_get_length(src) < n + 2)
			break;
		evbuffer_drain(src, 2);
		evbuffer_remove_buffer(src, dst, n);
		if (st)
			st->unwrapped++;
		any = 1;
	}
	return any ? BEV_OK : BEV_NEED_MORE;
}

static enum bufferevent_filter_result wrap(struct evbuffer *src, struct evbuffer *dst,
					   ev_ssize_t limit, enum bufferevent_flush_mode mode,
					   void *ctx)
{
	struct framing_stats *st = ctx;
	size_t left = evbuffer_get_length(src);
	if (!left)
		return BEV_NEED_MORE;
	while (left) {
		size_t n = left > 60000 ? 60000 : left;
		uint8_t h[2] = {(uint8_t)(n >> 8), (uint8_t)n};
		evbuffer_add(dst, h, 2);
		evbuffer_remove_buffer(src, dst, n);
		left -= n;
		if (st)
			st->wrapped++;
	}
	return BEV_OK;
}

static SSL_CTX *server_ctx(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!k || !x || !ctx)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1,
				   0);
	X509_set_issuer_name(x, name);
	if (X509_sign(x, k, EVP_sha256()) == 0 || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, k) != 1)
		return NULL;
	X509_free(x);
	EVP_PKEY_free(k);
	return ctx;
}

struct tls_client {
	int ready, failed;
	char got[64];
	size_t got_len;
};

static void tc_read(struct bufferevent *bev, void *ctx)
{
	struct tls_client *c = ctx;
	c->got_len += evbuffer_remove(bufferevent_get_input(bev), c->got + c->got_len,
				      sizeof c->got - c->got_len);
}

static void tc_event(struct bufferevent *bev, short what, void *ctx)
{
	struct tls_client *c = ctx;
	if (what & BEV_EVENT_CONNECTED)
		c->ready = 1;
	else
		c->failed = 1;
}

static void test_framed_tls(struct sb_proxy *px)
{
	struct framing_stats server_st = {0}, client_st = {0};
	struct sess_tls_framing fr = {.unwrap = unwrap, .wrap = wrap, .ctx = &server_st};
	struct fake f = {.framing = &fr};
	the_fake = &f;
	int peer;
	struct session *s = new_session(px, &peer);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(write(peer, "tls\n", 4) == 4);
	spin(px->base, 5);
	CHECK(s->client_tls == 1);
	/* the client: socket <- the same framing <- TLS */
	evutil_make_socket_nonblocking(peer);
	struct bufferevent *sock = bufferevent_socket_new(px->base, peer, BEV_OPT_CLOSE_ON_FREE);
	struct bufferevent *framed = bufferevent_filter_new(
		sock, unwrap, wrap, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, NULL, &client_st);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(cctx);
	struct bufferevent *tls = bufferevent_openssl_filter_new(
		px->base, framed, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	struct tls_client tc = {0};
	bufferevent_setcb(tls, tc_read, NULL, tc_event, &tc);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	for (int i = 0; i < 500 && !(tc.ready && f.tls_ready) && !tc.failed; i++)
		spin(px->base, 1);
	CHECK(tc.ready && f.tls_ready && !tc.failed);
	CHECK(server_st.wrapped > 0 && server_st.unwrapped > 0);
	CHECK(client_st.wrapped > 0 && client_st.unwrapped > 0);
	bufferevent_write(tls, "ping", 4);
	for (int i = 0; i < 500 && tc.got_len < 4; i++)
		spin(px->base, 1);
	CHECK(tc.got_len == 4 && memcmp(tc.got, "PING", 4) == 0);
	CHECK(sess_find(px, s->id) == s);
	sess_close(s, "test over");
	spin(px->base, 3);
	bufferevent_free(tls);
	SSL_CTX_free(cctx);
}

int main(void)
{
	struct sb_proxy px;
	memset(&px, 0, sizeof px);
	px.base = event_base_new();
	px.cfg.login_timeout = 30;
	px.cfg.connect_timeout = 10;
	px.server_tls = server_ctx();
	CHECK(px.base && px.server_tls);
	test_raw(&px);
	test_pair_client(&px);
	test_replace(&px);
	test_framed_tls(&px);
	sess_free_all(&px);
	SSL_CTX_free(px.server_tls);
	event_base_free(px.base);
	return UNIT_DONE("test_session_transport");
}
