/* listener: evconnlistener per configured address (see listener.h). */
#include "proxy/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "protocols/protocol.h"
#include "proxy/login_guard.h"
#include "lib/log.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

struct listener_one {
	struct evconnlistener *lev;
	const struct protocol *proto;
	struct sb_proxy *px;
};

struct listener_set {
	struct listener_one one[SB_MAX_LISTENERS];
	int n;
	/* Out of descriptors (EMFILE/ENFILE) or memory: every listener stops
	 * accepting for LISTEN_BACKOFF_MS instead of spinning on a readable
	 * socket it cannot accept from (the pending connections wait in the
	 * kernel's backlog). */
	struct event *resume;
	int paused;
	uint64_t pauses;    /* since the last log line */
	time_t last_log;
};

#define LISTEN_BACKOFF_MS 100
#define LISTEN_BACKOFF_LOG_S 10 /* one log line per this many seconds at most */

static struct listener_set *the_set; /* for accept_error_cb (one set per process) */

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *ctx)
{
	struct listener_one *l = ctx;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		port = ntohs(in6->sin6_port);
	}
	/* Before any allocation: a refused connection costs an accept and a
	 * close. */
	if (login_guard_admit(l->px, ip) != 0) {
		evutil_closesocket(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct bufferevent *bev =
		bufferevent_socket_new(l->px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		evutil_closesocket(fd);
		login_guard_leave(l->px, ip);
		sb_log(LOG_ERR, "accept %s:%d: out of memory", ip, port);
		return;
	}
	sess_new(l->px, l->proto, bev, ip, port); /* owns the guard's count now */
}

static void resume_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct listener_set *ls = ctx;
	ls->paused = 0;
	for (int i = 0; i < ls->n; i++)
		evconnlistener_enable(ls->one[i].lev);
}

static void accept_error_cb(struct evconnlistener *lev, void *ctx)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct listener_set *ls = the_set;
	int exhausted = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
	if (!exhausted || !ls || !ls->resume) {
		sb_log(LOG_ERR, "accept: %s", evutil_socket_error_to_string(err));
		return;
	}
	if (!ls->paused) {
		ls->paused = 1;
		ls->pauses++;
		for (int i = 0; i < ls->n; i++)
			evconnlistener_disable(ls->one[i].lev);
		struct timeval tv = {.tv_sec = 0, .tv_usec = LISTEN_BACKOFF_MS * 1000};
		evtimer_add(ls->resume, &tv);
	}
	time_t now = time(NULL);
	if (now - ls->last_log >= LISTEN_BACKOFF_LOG_S) {
		sb_log(LOG_ERR,
		       "accept: %s; not accepting for %d ms (%llu pauses since the last report; "
		       "raise the open-files limit or lower max_unauthenticated)",
		       evutil_socket_error_to_string(err), LISTEN_BACKOFF_MS,
		       (unsigned long long)ls->pauses);
		ls->pauses = 0;
		ls->last_log = now;
	}
}

struct listener_set *listener_start(struct sb_proxy *px, char *err, size_t errlen)
{
	struct listener_set *ls = calloc(1, sizeof *ls);
	if (!ls) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->resume = evtimer_new(px->base, resume_cb, ls);
	the_set = ls;
	for (int i = 0; i < px->cfg.n_listen; i++) {
		const struct sb_listen_addr *a = &px->cfg.listen[i];
		const struct protocol *p = protocol_find(a->protocol);
		if (strcmp(a->protocol, "ssh") == 0)
			continue; /* the SSH thread's (ssh_entry.h) */
		if (!p) {
			sb_log(LOG_WARN, "%s:%d: protocol %s is not built yet; not listening on %s:%d",
			       px->cfg.path, a->line, a->protocol, a->host, a->port);
			continue;
		}
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
					 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
		struct addrinfo *res = NULL;
		char portstr[8];
		snprintf(portstr, sizeof portstr, "%d", a->port);
		int rc = getaddrinfo(a->host, portstr, &hints, &res);
		if (rc != 0) {
			snprintf(err, errlen, "%s:%d: cannot resolve %s: %s", px->cfg.path,
				 a->line, a->host, gai_strerror(rc));
			listener_stop(ls);
			return NULL;
		}
		struct listener_one *l = &ls->one[ls->n];
		l->proto = p;
		l->px = px;
		l->lev = evconnlistener_new_bind(
			px->base, accept_cb, l,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 1024,
			res->ai_addr, (int)res->ai_addrlen);
		freeaddrinfo(res);
		if (!l->lev) {
			snprintf(err, errlen, "%s:%d: cannot listen on %s:%d: %s", px->cfg.path,
				 a->line, a->host, a->port,
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
			listener_stop(ls);
			return NULL;
		}
		evconnlistener_set_error_cb(l->lev, accept_error_cb);
		ls->n++;
		sb_log(LOG_INFO, "listening: %s on %s:%d", p->name, a->host, a->port);
	}
	return ls;
}

void listener_stop(struct listener_set *ls)
{
	if (!ls)
		return;
	for (int i = 0; i < ls->n; i++)
		evconnlistener_free(ls->one[i].lev);
	if (ls->resume)
		event_free(ls->resume);
	if (the_set == ls)
		the_set = NULL;
	free(ls);
}
