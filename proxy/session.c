/* session: lifecycle, both sides' bufferevents, timers, backpressure and
 * the audit context of one client connection (see session.h).
 *
 * This file does not parse any protocol: every byte goes to the frontend's
 * dispatch(). It never frees a session inside a callback: sess_close() moves
 * the session to px->closing and activates the reaper event, which runs on
 * the next loop iteration after every callback on the stack has returned.
 */
#include "proxy/session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "proxy/bev_io.h"
#include "proxy/login_guard.h"
#include "proxy/proxy.h"
#include "proxy/stmt.h"

static void client_read_cb(struct bufferevent *bev, void *ctx);
static void client_write_cb(struct bufferevent *bev, void *ctx);
static void client_event_cb(struct bufferevent *bev, short what, void *ctx);
static void backend_read_cb(struct bufferevent *bev, void *ctx);
static void backend_write_cb(struct bufferevent *bev, void *ctx);
static void backend_event_cb(struct bufferevent *bev, short what, void *ctx);

/* Coarse monotonic seconds (a vDSO read, no syscall): the idle clock. */
static int64_t coarse_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

/* The slot a connection holds in the login guard until it logs in. */
static void release_unauth(struct session *s)
{
	if (!s->unauth_counted)
		return;
	s->unauth_counted = 0;
	login_guard_leave(s->px, s->ident.client_ip);
}

int64_t sess_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Byte counters: evbuffer callbacks see every add (input) and drain (output). */
static void count_in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *ctx)
{
	struct session *s = ctx;
	s->bytes_in += info->n_added;
}

static void count_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *ctx)
{
	struct session *s = ctx;
	s->bytes_out += info->n_deleted;
}

static void client_setup(struct session *s)
{
	bufferevent_setcb(s->client, client_read_cb, client_write_cb, client_event_cb, s);
	bufferevent_setwatermark(s->client, EV_WRITE, SESS_LOW_WATER, 0);
	evbuffer_add_cb(bufferevent_get_input(s->client), count_in_cb, s);
	evbuffer_add_cb(bufferevent_get_output(s->client), count_out_cb, s);
	bufferevent_enable(s->client, EV_READ | EV_WRITE);
}

static void list_remove(struct session **head, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static void list_push(struct session **head, struct session *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

/* Bytes still to send to the client, including what a TLS filter already
 * encrypted into its socket's buffer. */
static size_t client_pending(struct session *s)
{
	return bev_io_pending(s->client);
}

/* Close-after-flush: close once everything reached the kernel, checking
 * again shortly while a TLS socket still holds bytes; give up at the
 * deadline. */
static void close_when_flushed(struct session *s)
{
	if (client_pending(s) == 0 || time(NULL) >= s->close_deadline) {
		sess_close(s, "%s", s->close_reason[0] ? s->close_reason : "closed");
		return;
	}
	struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
	evtimer_add(s->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct session *s = ctx;
	if (s->closing)
		return;
	if (s->close_after_flush) {
		close_when_flushed(s);
		return;
	}
	/* idle_timeout is idle time: the frontend arms the timer once at
	 * login; traffic only moves last_activity, and when the timer fires
	 * early because of it, it is re-armed for the rest (at most one timer
	 * operation per idle_timeout, none per message). */
	int idle = s->px->cfg.idle_timeout;
	if (s->relaying && idle > 0) {
		int64_t quiet = coarse_now_s() - s->last_activity;
		if (quiet < idle) {
			struct timeval tv = {.tv_sec = idle - quiet};
			evtimer_add(s->timer, &tv);
			return;
		}
	}
	s->proto->dispatch(s, s->pstate, SESS_CLIENT, SESS_EV_TIMEOUT);
}

static struct session *sess_start(struct sb_proxy *px, const struct protocol *p,
				  struct bufferevent *client, const char *ip, int port,
				  const struct identity *preset)
{
	struct session *s = calloc(1, sizeof *s);
	if (s && preset) {
		s->preset = malloc(sizeof *s->preset);
		if (s->preset)
			*s->preset = *preset;
		else
			free(s), s = NULL;
	}
	if (!s) {
		bufferevent_free(client);
		login_guard_leave(px, ip);
		return NULL;
	}
	s->px = px;
	s->unauth_counted = 1; /* the listener admitted it (login_guard_admit) */
	s->last_activity = coarse_now_s();
	s->proto = p;
	s->id = ++px->next_session_id;
	s->ident.session = s->id;
	s->ident.entry = preset ? preset->entry : IDENTITY_ENTRY_DIRECT;
	s->ident.protocol = p->name;
	s->client = client;
	s->timer = evtimer_new(px->base, timer_cb, s);
	s->ident.policy = px->policy ? policy_ref(px->policy) : NULL;
	s->started = time(NULL);
	s->started_us = sess_now_us();
	snprintf(s->ident.client_ip, sizeof s->ident.client_ip, "%s", ip);
	s->ident.client_port = port;
	if (strchr(ip, ':'))
		snprintf(s->ident.client_addr, sizeof s->ident.client_addr, "[%s]:%d", ip, port);
	else
		snprintf(s->ident.client_addr, sizeof s->ident.client_addr, "%s:%d", ip, port);
	snprintf(s->phase, sizeof s->phase, "startup");
	list_push(&px->sessions, s);
	px->live_count++;
	if (!s->timer) {
		sess_close(s, "out of memory");
		return NULL;
	}
	client_setup(s);
	sess_set_timer(s, px->cfg.login_timeout);
	s->pstate = p->on_accept(s);
	if (!s->pstate && !s->closing)
		sess_close(s, "frontend refused the connection");
	return s->closing ? NULL : s;
}

_Static_assert(SESS_READ_MAX == BEV_IO_READ_MAX, "one read of a plain socket");

struct session *sess_new(struct sb_proxy *px, const struct protocol *p,
			 struct bufferevent *client, const char *ip, int port)
{
	return sess_start(px, p, client, ip, port, NULL);
}

struct session *sess_new_preset(struct sb_proxy *px, const struct protocol *p,
				struct bufferevent *client, const struct identity *who)
{
	return sess_start(px, p, client, who->client_ip, who->client_port, who);
}


void sess_set_phase(struct session *s, const char *phase)
{
	snprintf(s->phase, sizeof s->phase, "%s", phase);
}

/* From here both sides are connected and logged in: the login slot is
 * given back, the idle clock starts, plain sockets get the one-recv reader
 * (a TLS filter keeps libevent's: it needs the bytes in the socket's own
 * input) and write_now() may write from the read callbacks. */
void sess_start_relay(struct session *s)
{
	if (s->relaying || s->closing)
		return;
	s->relaying = 1;
	release_unauth(s);
	s->last_activity = coarse_now_s();
	if (!s->client_tls)
		(void)bev_io_own_reads(s->client);
	if (s->backend && !s->backend_tls)
		(void)bev_io_own_reads(s->backend);
}

void sess_stop_relay(struct session *s)
{
	s->relaying = 0;
}

void sess_log(struct session *s, enum log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	identity_vlog(&s->ident, s->phase, lvl, fmt, ap);
	va_end(ap);
}

static void reaper_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct sb_proxy *px = ctx;
	while (px->closing) {
		struct session *s = px->closing;
		list_remove(&px->closing, s);
		if (s->pstate && s->proto->free_state)
			s->proto->free_state(s->pstate);
		if (s->client)
			bufferevent_free(s->client);
		if (s->backend)
			bufferevent_free(s->backend);
		if (s->timer)
			event_free(s->timer);
		if (s->ident.policy)
			policy_unref(s->ident.policy);
		sb_wipe(&s->ident.target, sizeof s->ident.target);
		if (s->preset) {
			sb_wipe(s->preset, sizeof *s->preset);
			free(s->preset);
		}
		free(s);
	}
}

static void vclose(struct session *s, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void vclose(struct session *s, const char *fmt, va_list ap)
{
	struct sb_proxy *px = s->px;
	if (s->closing)
		return;
	s->closing = 1;
	release_unauth(s);
	char reason[sizeof s->close_reason];
	vsnprintf(reason, sizeof reason, fmt, ap);
	if (!s->close_after_flush || !s->close_reason[0])
		snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
	sess_log(s, LOG_INFO, "closed: %s (in %llu bytes, out %llu bytes)", s->close_reason,
		 (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out);
	if (s->pending) /* statements in flight end before the session does */
		stmt_end_all(s->pending, STMT_NO_REPLY_SESSION_ENDED);
	if (s->login_audited) {
		struct audit_event ev = {.type = AUDIT_SESSION_END,
					 .rows = -1,
					 .duration_us = sess_now_us() - s->started_us,
					 .error = s->close_reason};
		sess_audit_record(s, &ev);
	}
	if (s->client)
		bufferevent_disable(s->client, EV_READ | EV_WRITE);
	if (s->backend)
		bufferevent_disable(s->backend, EV_READ | EV_WRITE);
	if (s->timer)
		evtimer_del(s->timer);
	list_remove(&px->sessions, s);
	list_push(&px->closing, s);
	px->live_count--;
	if (!px->reaper)
		px->reaper = event_new(px->base, -1, 0, reaper_cb, px);
	if (px->reaper)
		event_active(px->reaper, 0, 0);
}

void sess_close(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vclose(s, fmt, ap);
	va_end(ap);
}

void sess_close_after_flush(struct session *s, const char *fmt, ...)
{
	if (s->closing || s->close_after_flush)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->close_reason, sizeof s->close_reason, fmt, ap);
	va_end(ap);
	s->close_after_flush = 1;
	bufferevent_disable(s->client, EV_READ);
	if (s->backend)
		bufferevent_disable(s->backend, EV_READ);
	s->close_deadline = time(NULL) + 5;
	if (client_pending(s) == 0) {
		sess_close(s, "%s", s->close_reason);
		return;
	}
	/* Fire the write callback only once everything is out. */
	bufferevent_setwatermark(s->client, EV_WRITE, 0, 0);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
	evtimer_add(s->timer, &tv);
}

void sess_end(struct session *s, const char *reason)
{
	if (s->closing || s->close_after_flush)
		return;
	if (s->ident.logged_in && s->pstate && s->proto->goodbye)
		s->proto->goodbye(s, s->pstate, reason);
	sess_close_after_flush(s, "%s", reason);
}

struct evbuffer *sess_input(struct session *s, enum sess_side side)
{
	return bufferevent_get_input(side == SESS_CLIENT ? s->client : s->backend);
}

struct evbuffer *sess_output(struct session *s, enum sess_side side)
{
	return bufferevent_get_output(side == SESS_CLIENT ? s->client : s->backend);
}

void sess_set_timer(struct session *s, int seconds)
{
	if (!s->timer)
		return;
	if (seconds <= 0) {
		evtimer_del(s->timer);
		return;
	}
	struct timeval tv = {.tv_sec = seconds};
	evtimer_add(s->timer, &tv);
}

/* Pausing: reads from the *other* side stop while `to` is full. */
void sess_backpressure(struct session *s, enum sess_side to)
{
	struct bufferevent *dst = to == SESS_CLIENT ? s->client : s->backend;
	if (!dst || evbuffer_get_length(bufferevent_get_output(dst)) <= SESS_HIGH_WATER)
		return;
	if (to == SESS_CLIENT && s->backend && !s->backend_paused) {
		s->backend_paused = 1;
		bufferevent_disable(s->backend, EV_READ);
	} else if (to == SESS_BACKEND && !s->client_paused) {
		s->client_paused = 1;
		bufferevent_disable(s->client, EV_READ);
	}
}

/* Send what a read callback queued for `bev` at once, from the callback,
 * instead of waiting for the next loop turn's EPOLLOUT. A bufferevent arms
 * its write event as soon as output is added; when this write drains the
 * buffer, the event is removed again in the same loop turn, and the loop's
 * changelist (EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST, main.c) cancels the pair
 * without an epoll_ctl. That saves a loop turn and two epoll_ctl calls per
 * direction per query. Whatever is left (socket full, an error) stays queued
 * with the write event armed, so libevent's usual path sends it or reports
 * the error: this is only ever a shortcut. Behind a TLS filter the
 * shortcut applies to the socket underneath, which already holds the
 * encrypted bytes, but only when the filter has nothing left to encrypt: a
 * filter held back by the socket's high watermark resumes from the socket's
 * write callback, which a full drain here would never run. */
static void write_now(struct session *s, enum sess_side side)
{
	struct bufferevent *top = side == SESS_CLIENT ? s->client : s->backend;
	if (!top || !s->relaying || s->closing || s->close_after_flush)
		return;
	if (!bev_io_write_now(top))
		return;
	/* libevent runs the write callback only for bytes it wrote itself, and
	 * that callback is what resumes the side paused by this one: do its
	 * job for this drain. */
	if (side == SESS_BACKEND && s->client_paused)
		backend_write_cb(top, s);
	else if (side == SESS_CLIENT && s->backend_paused)
		client_write_cb(top, s);
}

/* Raw relay (sess_relay_raw): what `from` sent goes to the other side as
 * it is, with backpressure. */
static void raw_move(struct session *s, enum sess_side from)
{
	enum sess_side to = from == SESS_CLIENT ? SESS_BACKEND : SESS_CLIENT;
	if (!s->backend || s->closing || s->close_after_flush)
		return;
	if (evbuffer_add_buffer(sess_output(s, to), sess_input(s, from)) != 0) {
		sess_close(s, "out of memory");
		return;
	}
	sess_backpressure(s, to);
}

/* Input arrived (or was released by backpressure) on `side`. */
static void deliver(struct session *s, enum sess_side side)
{
	if (s->relay_raw)
		raw_move(s, side);
	else
		s->proto->dispatch(s, s->pstate, side, SESS_EV_READ);
}

static void client_read_cb(struct bufferevent *bev, void *ctx)
{
	struct session *s = ctx;
	if (s->closing || s->close_after_flush)
		return;
	s->last_activity = coarse_now_s();
	deliver(s, SESS_CLIENT);
	write_now(s, SESS_BACKEND);
	write_now(s, SESS_CLIENT); /* a refusal or a proxy-made reply */
}

static void backend_read_cb(struct bufferevent *bev, void *ctx)
{
	struct session *s = ctx;
	if (s->closing || s->close_after_flush)
		return;
	s->last_activity = coarse_now_s();
	deliver(s, SESS_BACKEND);
	write_now(s, SESS_CLIENT);
	write_now(s, SESS_BACKEND);
}

/* The client drained: resume the backend if it was paused, and hand the
 * frontend whatever the backend had already buffered. */
static void client_write_cb(struct bufferevent *bev, void *ctx)
{
	struct session *s = ctx;
	if (s->closing)
		return;
	if (s->close_after_flush) {
		close_when_flushed(s);
		return;
	}
	if (s->backend_paused) {
		s->backend_paused = 0;
		bufferevent_enable(s->backend, EV_READ);
		deliver(s, SESS_BACKEND);
		if (s->closing)
			return;
	}
	s->proto->dispatch(s, s->pstate, SESS_CLIENT, SESS_EV_FLUSHED);
}

static void backend_write_cb(struct bufferevent *bev, void *ctx)
{
	struct session *s = ctx;
	if (s->closing || s->close_after_flush)
		return;
	if (s->client_paused) {
		s->client_paused = 0;
		if (!s->client_held)
			bufferevent_enable(s->client, EV_READ);
		deliver(s, SESS_CLIENT);
	}
}

void sess_hold_client(struct session *s, int on)
{
	if (!s->client || s->client_held == !!on)
		return;
	s->client_held = !!on;
	if (on)
		bufferevent_disable(s->client, EV_READ);
	else if (!s->client_paused && !s->closing)
		bufferevent_enable(s->client, EV_READ);
}

static void describe_error(struct bufferevent *bev, short what, char *out, size_t cap)
{
	unsigned long e = bufferevent_get_openssl_error(bev);
	if (e) {
		char buf[256];
		ERR_error_string_n(e, buf, sizeof buf);
		snprintf(out, cap, "TLS error: %s", buf);
	} else if (what & BEV_EVENT_EOF) {
		snprintf(out, cap, "connection closed by peer");
	} else {
		int err = EVUTIL_SOCKET_ERROR();
		snprintf(out, cap, "%s", err ? evutil_socket_error_to_string(err) : "I/O error");
	}
}

/* The frontend hears of a lost backend first (to tell the client and audit
 * a failed login); the core closes the session if the frontend did not. */
static void backend_failed(struct session *s, const char *why)
{
	snprintf(s->backend_error, sizeof s->backend_error, "%s", why);
	s->proto->dispatch(s, s->pstate, SESS_BACKEND, SESS_EV_ERROR);
	if (!s->closing && !s->close_after_flush)
		sess_close(s, "backend: %s", why);
}

static void client_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	struct session *s = ctx;
	if (s->closing)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		s->proto->dispatch(s, s->pstate, SESS_CLIENT, SESS_EV_TLS_READY);
		return;
	}
	char why[300];
	describe_error(bev, what, why, sizeof why);
	sess_close(s, "client: %s", why);
}

static void backend_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	struct session *s = ctx;
	if (s->closing)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->backend_tls) {
			s->proto->dispatch(s, s->pstate, SESS_BACKEND, SESS_EV_TLS_READY);
		} else {
			evutil_socket_t fd = bufferevent_getfd(bev);
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			s->proto->dispatch(s, s->pstate, SESS_BACKEND, SESS_EV_CONNECTED);
		}
		return;
	}
	char why[300];
	if (what & BEV_EVENT_ERROR) {
		int dnserr = bufferevent_socket_get_dns_error(bev);
		if (dnserr) {
			snprintf(why, sizeof why, "cannot resolve backend host: %s",
				 evutil_gai_strerror(dnserr));
			backend_failed(s, why);
			return;
		}
	}
	describe_error(bev, what, why, sizeof why);
	backend_failed(s, why);
}

int sess_client_tls_start(struct session *s)
{
	if (!s->px->server_tls)
		return -1;
	SSL *ssl = SSL_new(s->px->server_tls);
	if (!ssl)
		return -1;
	struct evbuffer *in = bufferevent_get_input(s->client);
	evbuffer_remove_cb(in, count_in_cb, s);
	evbuffer_remove_cb(bufferevent_get_output(s->client), count_out_cb, s);
	/* The TLS filter stops encrypting into the socket's buffer above this
	 * mark, so the backlog stays in the filter's output where
	 * sess_backpressure() sees it. */
	bufferevent_setwatermark(s->client, EV_WRITE, 0, SESS_HIGH_WATER);
	struct bufferevent *tls = bufferevent_openssl_filter_new(
		s->px->base, s->client, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!tls) {
		SSL_free(ssl);
		client_setup(s);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	s->client = tls;
	s->client_tls = 1;
	client_setup(s);
	/* A filter reads its underlying buffer only on new input: a
	 * ClientHello that came in the same read as the request to start TLS
	 * (MySQL clients do not wait) must be handed to it now. */
	if (evbuffer_get_length(in))
		bufferevent_trigger(bufferevent_get_underlying(tls), EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

int sess_client_tls_start_framed(struct session *s, const struct sess_tls_framing *fr)
{
	if (!s->px->server_tls || !fr || !fr->unwrap || !fr->wrap || s->client_tls)
		return -1;
	SSL *ssl = SSL_new(s->px->server_tls);
	if (!ssl)
		return -1;
	struct bufferevent *sock = s->client;
	evbuffer_remove_cb(bufferevent_get_input(sock), count_in_cb, s);
	evbuffer_remove_cb(bufferevent_get_output(sock), count_out_cb, s);
	bufferevent_setwatermark(sock, EV_WRITE, 0, SESS_HIGH_WATER);
	/* TLS inside the protocol's packets (TDS 7.x) is TLS 1.2 at most: a
	 * 1.3 session ticket sent after the handshake would still be framed
	 * while the client reads raw records. */
	SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
	/* Deferred callbacks: a filter calls its write callback from inside
	 * the write that fed it, which would re-enter the TLS handshake that
	 * is writing (and send its flight twice). */
	struct bufferevent *framed = bufferevent_filter_new(
		sock, fr->unwrap, fr->wrap, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, NULL,
		fr->ctx);
	if (!framed) {
		SSL_free(ssl);
		client_setup(s);
		return -1;
	}
	/* From here the framing layer owns the socket: on failure it stays the
	 * client side, and the caller closes the session. */
	s->client = framed;
	bufferevent_setwatermark(framed, EV_WRITE, 0, SESS_HIGH_WATER);
	struct bufferevent *tls = bufferevent_openssl_filter_new(
		s->px->base, framed, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!tls) {
		SSL_free(ssl);
		client_setup(s);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	s->client = tls;
	s->client_tls = 1;
	client_setup(s);
	/* Bytes of the handshake already read are handed down the chain now,
	 * as in sess_client_tls_start(). */
	if (evbuffer_get_length(bufferevent_get_input(sock)))
		bufferevent_trigger(sock, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

int sess_backend_replace(struct session *s, const char *host, int port)
{
	if (s->closing || s->close_after_flush)
		return -1;
	if (s->backend) {
		struct bufferevent *old = s->backend;
		s->backend = NULL;
		bufferevent_disable(old, EV_READ | EV_WRITE);
		bufferevent_setcb(old, NULL, NULL, NULL, NULL);
		/* Safe inside its own callback: libevent holds a reference
		 * while a callback of it runs and finalizes its events later. */
		bufferevent_free(old);
	}
	s->backend_tls = 0;
	s->backend_error[0] = '\0';
	s->backend_paused = 0;
	if (s->client_paused) {
		/* nothing waits to drain to the backend any more */
		s->client_paused = 0;
		if (!s->client_held)
			bufferevent_enable(s->client, EV_READ);
	}
	return sess_backend_connect(s, host, port);
}

int sess_relay_raw(struct session *s)
{
	if (!s->backend || s->closing || s->close_after_flush)
		return -1;
	s->relay_raw = 1;
	sess_start_relay(s);
	raw_move(s, SESS_CLIENT);
	raw_move(s, SESS_BACKEND);
	return 0;
}

int sess_backend_connect(struct session *s, const char *host, int port)
{
	struct bufferevent *bev =
		bufferevent_socket_new(s->px->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return -1;
	s->backend = bev;
	bufferevent_setcb(bev, backend_read_cb, backend_write_cb, backend_event_cb, s);
	bufferevent_setwatermark(bev, EV_WRITE, SESS_LOW_WATER, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	sess_set_timer(s, s->px->cfg.connect_timeout);
	if (bufferevent_socket_connect_hostname(bev, s->px->dns, AF_UNSPEC, host, port) != 0)
		return -1;
	return 0;
}

/* sess_backend_tls_start with an optional framing layer under the TLS one. */
static int backend_tls_start(struct session *s, const char *host, int verify,
			     const struct sess_tls_framing *fr)
{
	SSL_CTX *ctx = verify ? s->px->backend_tls_verify : s->px->backend_tls;
	if (!ctx)
		return -1;
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return -1;
	/* SNI only for names; verify-full checks the name or IP address. */
	unsigned char ipbuf[16];
	int is_ip = inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(ssl, host);
	if (verify) {
		X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
		int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
			       : X509_VERIFY_PARAM_set1_host(param, host, 0);
		if (ok != 1) {
			SSL_free(ssl);
			return -1;
		}
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	}
	bufferevent_setwatermark(s->backend, EV_WRITE, 0, SESS_HIGH_WATER);
	if (fr) {
		/* TLS inside the protocol's packets (TDS 7.x) is TLS 1.2 at
		 * most: a 1.3 ticket after the handshake would be framed. */
		SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
		struct bufferevent *framed = bufferevent_filter_new(
			s->backend, fr->unwrap, fr->wrap,
			BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, NULL, fr->ctx);
		if (!framed) {
			SSL_free(ssl);
			return -1;
		}
		/* the framing layer owns the socket from here (freed with the session) */
		s->backend = framed;
		bufferevent_setwatermark(framed, EV_WRITE, 0, SESS_HIGH_WATER);
	}
	struct bufferevent *tls = bufferevent_openssl_filter_new(
		s->px->base, s->backend, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!tls) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	s->backend = tls;
	s->backend_tls = 1;
	bufferevent_setcb(tls, backend_read_cb, backend_write_cb, backend_event_cb, s);
	bufferevent_setwatermark(tls, EV_WRITE, SESS_LOW_WATER, 0);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	return 0;
}

int sess_backend_tls_start(struct session *s, const char *host, int verify)
{
	return backend_tls_start(s, host, verify, NULL);
}

int sess_backend_tls_start_framed(struct session *s, const char *host, int verify,
				  const struct sess_tls_framing *fr)
{
	if (!fr || !fr->unwrap || !fr->wrap)
		return -1;
	return backend_tls_start(s, host, verify, fr);
}

int sess_client_tls_stop(struct session *s)
{
	if (!s->client_tls || s->closing)
		return -1;
	struct bufferevent *bottom = s->client;
	while (bufferevent_get_underlying(bottom))
		bottom = bufferevent_get_underlying(bottom);
	evutil_socket_t fd = bufferevent_getfd(bottom);
	if (fd < 0)
		return -1;
	/* The TLS chain closes its socket when freed: the plain side takes a
	 * second descriptor of the same connection. */
	evutil_socket_t nfd = dup(fd);
	if (nfd < 0)
		return -1;
	struct bufferevent *plain = bufferevent_socket_new(s->px->base, nfd, BEV_OPT_CLOSE_ON_FREE);
	if (!plain) {
		evutil_closesocket(nfd);
		return -1;
	}
	/* what the socket layer holds unread or unsent is plain already */
	evbuffer_add_buffer(bufferevent_get_input(plain), bufferevent_get_input(bottom));
	evbuffer_add_buffer(bufferevent_get_output(plain), bufferevent_get_output(bottom));
	struct bufferevent *old = s->client;
	evbuffer_remove_cb(bufferevent_get_input(old), count_in_cb, s);
	evbuffer_remove_cb(bufferevent_get_output(old), count_out_cb, s);
	bufferevent_disable(old, EV_READ | EV_WRITE);
	bufferevent_setcb(old, NULL, NULL, NULL, NULL);
	bufferevent_free(old); /* safe in its own callback: libevent holds a reference */
	s->client = plain;
	s->client_tls = 0;
	client_setup(s);
	if (s->client_held || s->client_paused)
		bufferevent_disable(plain, EV_READ);
	return 0;
}

int sess_audit(struct session *s, struct audit_event *ev)
{
	if (ev->type == AUDIT_SESSION_END) {
		ev->bytes_in = (int64_t)s->bytes_in;
		ev->bytes_out = (int64_t)s->bytes_out;
	}
	return identity_audit(s->px, &s->ident, ev);
}

void sess_audit_record(struct session *s, struct audit_event *ev)
{
	if (ev->type == AUDIT_SESSION_END) {
		ev->bytes_in = (int64_t)s->bytes_in;
		ev->bytes_out = (int64_t)s->bytes_out;
	}
	if (identity_audit_record(s->px, &s->ident, ev) != 0)
		sess_log(s, LOG_WARN, "audit record lost: %s", audit_event_name(ev->type));
}

void sess_audit_later(struct session *s, struct audit_event *ev)
{
	char err[256];
	if (identity_audit_later(s->px, &s->ident, ev, err, sizeof err) != 0)
		sess_log(s, LOG_WARN, "audit record lost: %s: %s", audit_event_name(ev->type), err);
}

int sess_count_user(void *ctx, const char *user)
{
	struct sb_proxy *px = ctx;
	int n = 0;
	for (struct session *s = px->sessions; s; s = s->next)
		if (s->ident.logged_in && strcmp(s->ident.target.user, user) == 0)
			n++;
	return n;
}

struct session *sess_find(struct sb_proxy *px, uint64_t id)
{
	for (struct session *s = px->sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

void sess_free_all(struct sb_proxy *px)
{
	while (px->sessions)
		sess_close(px->sessions, "proxy shutting down");
	reaper_cb(-1, 0, px);
	if (px->reaper) {
		event_free(px->reaper);
		px->reaper = NULL;
	}
}
