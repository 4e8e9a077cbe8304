/* ssh_entry: the main loop's side of the SSH entry (see ssh_entry.h). */
#include "proxy/ssh_entry.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "protocols/protocol.h"
#include "proxy/auth.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "proxy/login_guard.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/ssh_dest.h"
#include "proxy/ssh_int.h"

struct ssh_entry {
	struct sb_proxy *px;
	struct ssh_shared sh;
	struct ssh_thread_arg arg;
	int req_r;
	struct event *ev_req;
	pthread_t thread;
	int thread_started;
};

int ssh_ask(struct ssh_shared *sh, struct ssh_req *r)
{
	r->ok = 0;
	r->done = 0;
	pthread_mutex_lock(&sh->lock);
	int stopping = sh->stopping;
	pthread_mutex_unlock(&sh->lock);
	if (stopping)
		return -1;
	ssize_t n;
	do
		n = write(sh->req_w, &r, sizeof r);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof r)
		return -1;
	pthread_mutex_lock(&sh->lock);
	while (!r->done && !sh->stopping)
		pthread_cond_wait(&sh->cond, &sh->lock);
	int answered = r->done;
	pthread_mutex_unlock(&sh->lock);
	return answered ? 0 : -1;
}

/* The connection part of an identity for the SSH peer. */
static void peer_identity(struct identity *id, const struct ssh_req *r, const char *protocol)
{
	memset(id, 0, sizeof *id);
	id->session = r->conn;
	id->entry = IDENTITY_ENTRY_SSH;
	id->protocol = protocol;
	snprintf(id->client_ip, sizeof id->client_ip, "%s", r->client_ip);
	id->client_port = r->client_port;
	if (strchr(r->client_ip, ':'))
		snprintf(id->client_addr, sizeof id->client_addr, "[%s]:%d", r->client_ip,
			 r->client_port);
	else
		snprintf(id->client_addr, sizeof id->client_addr, "%s:%d", r->client_ip,
			 r->client_port);
}

/* A static protocol name for the identity ("postgres", ...): the frontend's. */
static const char *static_protocol(const char *name)
{
	const struct protocol *p = protocol_find(name);
	return p ? p->name : "ssh";
}

static void on_auth(struct ssh_entry *e, struct ssh_req *r)
{
	struct sb_proxy *px = e->px;
	char reason[256] = "";
	struct identity id;
	if (!r->conn)
		r->conn = ++px->next_session_id;
	peer_identity(&id, r, "ssh");
	enum auth_status st = AUTH_REFUSED;
	if (!login_guard_login_check(px, r->client_ip)) {
		snprintf(reason, sizeof reason, "too many logins from this address; try again later");
	} else {
		struct auth_login in = {.user = r->user,
					.client_ip = r->client_ip,
					.protocol = AUTH_ANY_PROTOCOL,
					.now = time(NULL),
					.live_sessions = sess_count_user,
					.live_sessions_ctx = px,
					.lockout = &px->cfg.lockout};
		st = auth_check_token(px->state, &in, r->token, strlen(r->token), &id.target,
				      reason, sizeof reason);
	}
	sb_wipe(r->token, sizeof r->token);
	if (st == AUTH_ERROR)
		sb_log(LOG_ERR, "ssh login check failed: %s", reason);
	struct audit_event ev = {.rows = -1, .duration_us = -1, .bytes_in = -1, .bytes_out = -1};
	if (st == AUTH_OK) {
		id.logged_in = 1;
		id.protocol = static_protocol(id.target.protocol);
		ev.type = AUDIT_LOGIN;
		ev.verb = "ssh";
		if (identity_audit(px, &id, &ev) != 0) {
			snprintf(r->reason, sizeof r->reason, "audit unavailable");
			r->ok = 0;
			return;
		}
		r->who = id;
		r->ok = 1;
		sb_log(LOG_INFO, "ssh %s: %s logged in (token for %s/%s)", id.client_addr,
		       id.target.user, id.target.asset, id.target.account);
		return;
	}
	ev.type = AUDIT_LOGIN_FAILED;
	ev.user = r->user;
	ev.verb = "ssh";
	ev.error = reason[0] ? reason : "internal error";
	(void)identity_audit_record(px, &id, &ev);
	sb_log(LOG_INFO, "ssh %s: login of %s refused: %s", id.client_addr, r->user, ev.error);
	r->ok = 0;
}

static void audit_refused(struct ssh_entry *e, const struct ssh_req *r, const char *why)
{
	struct identity id;
	peer_identity(&id, r, r->who.protocol ? r->who.protocol : "ssh");
	id.target = r->who.target;
	id.logged_in = r->who.logged_in;
	struct audit_event ev = {.type = AUDIT_LOGIN_FAILED, .verb = "ssh", .error = why,
				 .rows = -1, .duration_us = -1, .bytes_in = -1, .bytes_out = -1};
	if (!id.logged_in)
		ev.user = r->user[0] ? r->user : NULL;
	(void)identity_audit_record(e->px, &id, &ev);
	id.logged_in = 0; /* a refused channel is no login */
	sb_log(LOG_INFO, "ssh %s (%s): %s", id.client_addr, r->who.target.user, why);
}

static void on_open(struct ssh_entry *e, struct ssh_req *r)
{
	struct sb_proxy *px = e->px;
	const struct auth_target *t = &r->who.target;
	if (!r->who.logged_in) {
		audit_refused(e, r, "ssh: channel before login");
		return;
	}
	if (!ssh_dest_allowed(r->dest, r->dest_port, t->asset, t->host, t->port)) {
		char why[400];
		snprintf(why, sizeof why,
			 "ssh: destination %.256s:%d not granted (the token is for %s at %s:%d)",
			 r->dest, r->dest_port, t->asset, t->host, t->port);
		audit_refused(e, r, why);
		return;
	}
	const struct protocol *p = protocol_find(t->protocol);
	if (!p) {
		audit_refused(e, r, "ssh: the asset's protocol is not served");
		return;
	}
	/* The token may have been revoked since the SSH login: the rules again. */
	char reason[256];
	int64_t vu;
	if (auth_recheck(px->state, t, r->client_ip, time(NULL), &vu, reason, sizeof reason) !=
	    AUTH_OK) {
		char why[300];
		snprintf(why, sizeof why, "ssh: %s", reason);
		audit_refused(e, r, why);
		return;
	}
	if (t->max_sessions > 0 && sess_count_user(px, t->user) >= t->max_sessions) {
		char why[160];
		snprintf(why, sizeof why, "ssh: session limit %d reached", t->max_sessions);
		audit_refused(e, r, why);
		return;
	}
	if (login_guard_admit(px, r->client_ip) != 0) {
		audit_refused(e, r, "ssh: too many connections from this address");
		return;
	}
	struct bufferevent *bev = bufferevent_socket_new(px->base, r->fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		login_guard_leave(px, r->client_ip);
		audit_refused(e, r, "ssh: out of memory");
		return;
	}
	r->ok = 1; /* the fd is the session's now, whatever happens below */
	struct identity who = r->who;
	peer_identity(&who, r, p->name);
	who.target = r->who.target;
	who.logged_in = 1;
	(void)sess_new_preset(px, p, bev, &who);
	sb_wipe(&who, sizeof who);
}

/* The login rules again for a logged-in SSH connection: a revoked token,
 * a disabled user, an ended grant end the connection (and its sessions). */
static void on_recheck(struct ssh_entry *e, struct ssh_req *r)
{
	char reason[256];
	int64_t vu;
	enum auth_status st = auth_recheck(e->px->state, &r->who.target, r->client_ip, time(NULL),
					   &vu, reason, sizeof reason);
	r->ok = st != AUTH_REFUSED; /* a state DB error: try again later */
	if (!r->ok)
		snprintf(r->reason, sizeof r->reason, "%s", reason);
}

static void on_closed(struct ssh_entry *e, struct ssh_req *r)
{
	struct identity id;
	peer_identity(&id, r, r->who.protocol ? r->who.protocol : "ssh");
	id.target = r->who.target;
	id.logged_in = 1;
	struct audit_event ev = {.type = AUDIT_SESSION_END, .verb = "ssh",
				 .error = r->reason[0] ? r->reason : NULL, .rows = -1,
				 .duration_us = -1, .bytes_in = -1, .bytes_out = -1};
	(void)identity_audit_record(e->px, &id, &ev);
	sb_log(LOG_INFO, "ssh %s: connection of %s ended%s%s", id.client_addr, id.target.user,
	       r->reason[0] ? ": " : "", r->reason);
}

static void answer(struct ssh_entry *e, struct ssh_req *r)
{
	switch (r->kind) {
	case SSH_REQ_AUTH:
		on_auth(e, r);
		break;
	case SSH_REQ_OPEN:
		on_open(e, r);
		break;
	case SSH_REQ_REFUSED:
		audit_refused(e, r, r->reason);
		break;
	case SSH_REQ_RECHECK:
		on_recheck(e, r);
		break;
	case SSH_REQ_CLOSED:
		on_closed(e, r);
		break;
	case SSH_REQ_ADMIT:
		/* The direct listeners' limits on connections not logged in
		 * (max_unauthenticated, _per_source), shared with them. */
		r->ok = login_guard_admit(e->px, r->client_ip) == 0;
		break;
	case SSH_REQ_LEAVE:
		login_guard_leave(e->px, r->client_ip);
		break;
	}
	pthread_mutex_lock(&e->sh.lock);
	r->done = 1;
	pthread_cond_broadcast(&e->sh.cond);
	pthread_mutex_unlock(&e->sh.lock);
}

static void on_req(evutil_socket_t fd, short what, void *ctx)
{
	struct ssh_entry *e = ctx;
	struct ssh_req *r;
	/* One at a time: the thread waits for each answer before the next. */
	ssize_t n = read(fd, &r, sizeof r);
	if (n == (ssize_t)sizeof r)
		answer(e, r);
}

static int bind_one(const struct sb_listen_addr *a, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%d", a->port);
	int rc = getaddrinfo(a->host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "ssh listener: cannot resolve %s: %s", a->host,
			 gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 256) != 0) {
		snprintf(err, errlen, "ssh listener: cannot listen on %s:%d: %s", a->host, a->port,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

struct ssh_entry *ssh_entry_start(struct sb_proxy *px, char *err, size_t errlen)
{
	err[0] = '\0';
	int any = 0;
	for (int i = 0; i < px->cfg.n_listen; i++)
		any |= strcmp(px->cfg.listen[i].protocol, "ssh") == 0;
	if (!any)
		return NULL;
	if (access(px->cfg.ssh_host_key, R_OK) != 0) {
		snprintf(err, errlen, "ssh listener: host key %s: %s (sqlbastionctl init makes it)",
			 px->cfg.ssh_host_key, strerror(errno));
		return NULL;
	}
	struct ssh_entry *e = calloc(1, sizeof *e);
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->px = px;
	e->req_r = e->sh.req_w = e->sh.stop_r = e->sh.stop_w = -1;
	pthread_mutex_init(&e->sh.lock, NULL);
	pthread_cond_init(&e->sh.cond, NULL);
	e->arg.sh = &e->sh;
	e->arg.host_key = px->cfg.ssh_host_key;
	e->arg.login_timeout = px->cfg.login_timeout > 0 ? px->cfg.login_timeout : 30;
	for (int i = 0; i < px->cfg.n_listen; i++) {
		const struct sb_listen_addr *a = &px->cfg.listen[i];
		if (strcmp(a->protocol, "ssh") != 0 || e->arg.n_listen == 16)
			continue;
		int fd = bind_one(a, err, errlen);
		if (fd < 0)
			goto fail;
		e->arg.listen_fds[e->arg.n_listen++] = fd;
		sb_log(LOG_INFO, "listening: ssh on %s:%d", a->host, a->port);
	}
	int p1[2], p2[2];
	if (pipe2(p1, O_CLOEXEC) != 0)
		goto fail_sys;
	e->req_r = p1[0];
	e->sh.req_w = p1[1];
	if (pipe2(p2, O_CLOEXEC | O_NONBLOCK) != 0)
		goto fail_sys;
	e->sh.stop_r = p2[0];
	e->sh.stop_w = p2[1];
	e->ev_req = event_new(px->base, e->req_r, EV_READ | EV_PERSIST, on_req, e);
	if (!e->ev_req || event_add(e->ev_req, NULL) != 0)
		goto fail_sys;
	if (pthread_create(&e->thread, NULL, ssh_thread_main, &e->arg) != 0)
		goto fail_sys;
	e->thread_started = 1;
	return e;
fail_sys:
	snprintf(err, errlen, "ssh listener: %s", strerror(errno));
fail:
	ssh_entry_stop(e);
	return NULL;
}

void ssh_entry_stop(struct ssh_entry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->sh.lock);
	e->sh.stopping = 1;
	pthread_cond_broadcast(&e->sh.cond);
	pthread_mutex_unlock(&e->sh.lock);
	if (e->thread_started) {
		if (write(e->sh.stop_w, "x", 1) < 0)
			sb_log(LOG_WARN, "ssh: cannot wake the SSH thread: %s", strerror(errno));
		pthread_join(e->thread, NULL);
	}
	/* A request the thread sent before it saw stopping: its fd is its own
	 * (it closes it); nothing here to free. */
	if (e->ev_req)
		event_free(e->ev_req);
	for (int i = 0; i < e->arg.n_listen; i++)
		close(e->arg.listen_fds[i]);
	int fds[] = {e->req_r, e->sh.req_w, e->sh.stop_r, e->sh.stop_w};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&e->sh.lock);
	pthread_cond_destroy(&e->sh.cond);
	free(e);
}
