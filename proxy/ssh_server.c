/* ssh_server: the SSH thread (see ssh_entry.h). Owns every libssh object:
 * the listening sockets are polled in its ssh_event, each accepted
 * connection gets a non-blocking ssh_session in the same event, and each
 * accepted direct-tcpip channel is pumped to one end of a socketpair whose
 * other end is a session in the main loop.
 *
 * Backpressure: a channel's bytes are read out of libssh (which is what
 * reopens the peer's window) only when the socket took everything staged
 * before; the socket is read only while the peer's window has room and
 * what was read before went out. So a channel holds at most its window
 * plus one staging buffer each way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto.h"
#include "lib/log.h"
#include "proxy/ssh_int.h"

#define SSH_STAGE 32768      /* channel → socket staging, per channel */
#define SSH_MAX_AUTH_TRIES 3 /* failed attempts before the connection ends */
#define SSH_RECHECK_S 5      /* a logged-in connection's rules are checked this often */
#define SSH_MAX_UNAUTH 256   /* connections not logged in yet, over all sources */

struct ssh_conn;

struct ssh_chan {
	struct ssh_conn *conn;
	ssh_channel ch;
	int fd;                   /* our end of the socketpair */
	short events;             /* registered with the event; 0 = not */
	int fd_eof;               /* the session closed its writing side */
	int fd_shut;              /* we shut our writing side (channel EOF) */
	int dead;
	size_t out_len, out_off;  /* staged channel bytes for the socket */
	unsigned char out[SSH_STAGE];
	size_t in_len, in_off;    /* staged socket bytes for the channel (a write
				     stalls while keys are re-exchanged) */
	unsigned char in[SSH_STAGE];
	struct ssh_chan *next;
};

struct ssh_conn {
	ssh_session sess;
	int authed;
	int guarded;              /* counted by the main loop's login guard (SSH_REQ_ADMIT) */
	int auth_fails;
	int in_event;
	int kill;                 /* too many failed logins: end it */
	time_t next_check;        /* logged in: next SSH_REQ_RECHECK */
	char end_reason[200];     /* why the proxy ended it ("" = the client did) */
	struct ssh_server_callbacks_struct cb;
	time_t started;
	struct ssh_req login;     /* user, client, and once authed: who */
	struct ssh_chan *chans;
	struct ssh_chan *new_chans; /* opened since the last sweep (see sweep) */
	struct ssh_conn *next;
};

struct ssh_thread {
	struct ssh_thread_arg *arg;
	ssh_bind bind;
	ssh_event event;
	struct ssh_conn *conns;
	struct ssh_conn *new_conns; /* accepted since the last sweep (see sweep) */
	int unauth;                 /* connections not logged in (SSH_MAX_UNAUTH) */
	time_t last_full_log;
	int stop;
};

static struct ssh_thread *T; /* the one SSH thread's state (callbacks) */

/* ---- channels ---- */

static short chan_wanted(const struct ssh_chan *c)
{
	short ev = 0;
	if (c->dead)
		return 0;
	if (!c->fd_eof && c->in_off == c->in_len && ssh_channel_window_size(c->ch) > 0)
		ev |= POLLIN;
	if (c->out_len > c->out_off)
		ev |= POLLOUT;
	return ev;
}

static int chan_fd_cb(socket_t fd, int revents, void *userdata)
{
	(void)fd;
	(void)revents;
	(void)userdata; /* the pump after ssh_event_dopoll does the work */
	return 0;
}

static void chan_register(struct ssh_chan *c)
{
	short want = chan_wanted(c);
	if (want == c->events)
		return;
	if (c->events)
		ssh_event_remove_fd(T->event, c->fd);
	c->events = 0;
	if (want && ssh_event_add_fd(T->event, c->fd, want, chan_fd_cb, c) == SSH_OK)
		c->events = want;
}

static void chan_free(struct ssh_chan *c)
{
	if (c->events)
		ssh_event_remove_fd(T->event, c->fd);
	if (c->fd >= 0)
		close(c->fd);
	if (c->ch) {
		if (!ssh_channel_is_closed(c->ch))
			ssh_channel_close(c->ch);
		ssh_channel_free(c->ch);
	}
	sb_wipe(c->out, sizeof c->out);
	sb_wipe(c->in, sizeof c->in);
	free(c);
}

/* Move what each side can take now. Marks c->dead when the channel is over. */
static void chan_pump(struct ssh_chan *c)
{
	for (int round = 0; round < 8 && !c->dead; round++) {
		int moved = 0;
		/* channel → socket */
		if (c->out_off == c->out_len) {
			c->out_off = c->out_len = 0;
			int n = ssh_channel_read_nonblocking(c->ch, c->out, sizeof c->out, 0);
			if (n == SSH_ERROR) {
				c->dead = 1;
				break;
			}
			if (n > 0)
				c->out_len = (size_t)n;
		}
		if (c->out_len > c->out_off) {
			ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0) {
				c->out_off += (size_t)w;
				moved = 1;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				c->dead = 1;
				break;
			}
		}
		if (c->out_off == c->out_len && !c->fd_shut && ssh_channel_is_eof(c->ch) &&
		    ssh_channel_poll(c->ch, 0) <= 0) {
			shutdown(c->fd, SHUT_WR);
			c->fd_shut = 1;
		}
		/* socket → channel, only as much as the peer's window takes */
		uint32_t win = c->fd_eof ? 0 : ssh_channel_window_size(c->ch);
		if (c->in_off == c->in_len && win > 0) {
			c->in_off = c->in_len = 0;
			size_t want = win < sizeof c->in ? win : sizeof c->in;
			ssize_t r = recv(c->fd, c->in, want, MSG_DONTWAIT);
			if (r > 0) {
				c->in_len = (size_t)r;
			} else if (r == 0) {
				/* The session ended (sessions never half-close): the
				 * channel ends too, even if the client keeps its side
				 * open (a kill must not leave the tunnel usable). */
				c->fd_eof = 1;
				ssh_channel_send_eof(c->ch);
				c->dead = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				c->dead = 1;
			}
		}
		if (c->in_len > c->in_off) {
			/* A non-blocking write takes less, even nothing, while the
			 * keys are re-exchanged (OpenSSH rekeys every GB or so):
			 * the rest waits here for the next sweep. */
			int w = ssh_channel_write(c->ch, c->in + c->in_off,
						  (uint32_t)(c->in_len - c->in_off));
			if (w == SSH_ERROR) {
				c->dead = 1;
				break;
			}
			if (w > 0) {
				c->in_off += (size_t)w;
				moved = 1;
			}
		}
		if (ssh_channel_is_closed(c->ch) || (c->fd_eof && c->fd_shut))
			c->dead = 1;
		if (!moved)
			break;
	}
}

/* ---- requests: authentication, channels, the rest refused ---- */

/* The connection no longer counts as not logged in (it logged in or ends). */
static void guard_leave(struct ssh_conn *cn)
{
	if (!cn->guarded)
		return;
	struct ssh_req r = cn->login;
	r.kind = SSH_REQ_LEAVE;
	(void)ssh_ask(T->arg->sh, &r);
	cn->guarded = 0;
}

static void refused(struct ssh_conn *cn, const char *what)
{
	struct ssh_req r = cn->login;
	r.kind = SSH_REQ_REFUSED;
	snprintf(r.reason, sizeof r.reason, "ssh: %s refused", what);
	(void)ssh_ask(T->arg->sh, &r);
}

/* Ask the main loop to check user + token. 1 logged in, 0 refused (the
 * connection ends after SSH_MAX_AUTH_TRIES refusals). */
static int check_token(struct ssh_conn *cn, const char *user, const char *token)
{
	struct ssh_req *r = &cn->login;
	r->kind = SSH_REQ_AUTH;
	snprintf(r->user, sizeof r->user, "%s", user ? user : "");
	if (!token || strlen(token) >= sizeof r->token)
		snprintf(r->token, sizeof r->token, "%s", "");
	else
		snprintf(r->token, sizeof r->token, "%s", token);
	int asked = ssh_ask(T->arg->sh, r);
	sb_wipe(r->token, sizeof r->token);
	if (asked == 0 && r->ok) {
		cn->authed = 1;
		T->unauth--;
		guard_leave(cn);
		cn->next_check = time(NULL) + SSH_RECHECK_S;
		return 1;
	}
	if (++cn->auth_fails >= SSH_MAX_AUTH_TRIES)
		cn->kill = 1; /* the sweep ends it */
	return 0;
}

/* libssh's password callback (the message API's accessor is deprecated). */
static int on_password(ssh_session sess, const char *user, const char *password, void *userdata)
{
	struct ssh_conn *cn = userdata;
	(void)sess;
	if (cn->authed)
		return SSH_AUTH_DENIED;
	return check_token(cn, user, password) ? SSH_AUTH_SUCCESS : SSH_AUTH_DENIED;
}

static void kbdint_reply(ssh_message m, int ok)
{
	if (ok) {
		ssh_message_auth_reply_success(m, 0);
		return;
	}
	ssh_message_auth_set_methods(m, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_INTERACTIVE);
	ssh_message_reply_default(m);
}

static int on_auth_msg(struct ssh_conn *cn, ssh_message m)
{
	int sub = ssh_message_subtype(m);
	if (cn->authed) /* a second authentication after success: no */
		return 1;
	if (sub == SSH_AUTH_METHOD_INTERACTIVE) {
		if (!ssh_message_auth_kbdint_is_response(m)) {
			/* "password" in the prompt: sshpass and GUI tools that
			 * answer a password prompt find it (OpenSSH tries
			 * keyboard-interactive before password). */
			const char *prompts[] = {"O&M token (password): "};
			char echo[] = {0};
			snprintf(cn->login.user, sizeof cn->login.user, "%s",
				 ssh_message_auth_user(m) ? ssh_message_auth_user(m) : "");
			ssh_message_auth_interactive_request(m, "sqlbastion",
							     "Enter your O&M token.", 1, prompts,
							     echo);
			return 0;
		}
		const char *ans = ssh_userauth_kbdint_getnanswers(cn->sess) == 1
					  ? ssh_userauth_kbdint_getanswer(cn->sess, 0)
					  : NULL;
		char user[64];
		snprintf(user, sizeof user, "%s", cn->login.user);
		kbdint_reply(m, check_token(cn, user, ans));
		return 0;
	}
	ssh_message_auth_set_methods(m, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_INTERACTIVE);
	return 1;
}

static int on_direct_tcpip(struct ssh_conn *cn, ssh_message m)
{
	const char *dest = ssh_message_channel_request_open_destination(m);
	int port = ssh_message_channel_request_open_destination_port(m);
	struct ssh_req r = cn->login;
	r.kind = SSH_REQ_OPEN;
	/* A longer one is refused, never matched by its truncated prefix. */
	if (dest && strlen(dest) < sizeof r.dest)
		snprintf(r.dest, sizeof r.dest, "%s", dest);
	else
		snprintf(r.dest, sizeof r.dest, "%s", dest ? "(too long)" : "");
	r.dest_port = port;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		return 1;
	r.fd = sv[1];
	if (ssh_ask(T->arg->sh, &r) != 0 || !r.ok) {
		close(sv[0]);
		close(sv[1]);
		return 1; /* default reply: administratively prohibited */
	}
	/* sv[1] is the main loop's session now. */
	struct ssh_chan *c = calloc(1, sizeof *c);
	ssh_channel ch = c ? ssh_message_channel_request_open_reply_accept(m) : NULL;
	if (!ch) {
		free(c);
		close(sv[0]); /* the session sees EOF and ends */
		return c ? 0 : 1;
	}
	c->conn = cn;
	c->ch = ch;
	c->fd = sv[0];
	c->next = cn->new_chans;
	cn->new_chans = c;
	chan_register(c);
	return 0;
}

static int on_message(ssh_session sess, ssh_message m, void *userdata)
{
	struct ssh_conn *cn = userdata;
	(void)sess;
	switch (ssh_message_type(m)) {
	case SSH_REQUEST_AUTH:
		return on_auth_msg(cn, m);
	case SSH_REQUEST_CHANNEL_OPEN:
		if (!cn->authed)
			return 1;
		if (ssh_message_subtype(m) == SSH_CHANNEL_DIRECT_TCPIP)
			return on_direct_tcpip(cn, m);
		refused(cn, ssh_message_subtype(m) == SSH_CHANNEL_SESSION
				    ? "session channel (shell, exec, subsystem)"
				    : "channel type");
		return 1;
	case SSH_REQUEST_CHANNEL:
		/* pty, shell, exec, env, x11, auth-agent, subsystem on any channel */
		return 1;
	case SSH_REQUEST_GLOBAL:
		if (cn->authed)
			refused(cn, "global request (remote forwarding)");
		return 1;
	default:
		return 1;
	}
}

/* ---- connections ---- */

/* Move the items of *from to the front of *to. */
#define SPLICE(type, from, to)                                                                  \
	do {                                                                                    \
		while (*(from)) {                                                               \
			type *x_ = *(from);                                                     \
			*(from) = x_->next;                                                     \
			x_->next = *(to);                                                       \
			*(to) = x_;                                                             \
		}                                                                               \
	} while (0)

static void conn_free(struct ssh_conn *cn)
{
	if (!cn->authed)
		T->unauth--;
	guard_leave(cn);
	if (cn->authed) {
		struct ssh_req r = cn->login;
		r.kind = SSH_REQ_CLOSED;
		snprintf(r.reason, sizeof r.reason, "%s", cn->end_reason);
		(void)ssh_ask(T->arg->sh, &r);
	}
	SPLICE(struct ssh_chan, &cn->new_chans, &cn->chans);
	while (cn->chans) {
		struct ssh_chan *c = cn->chans;
		cn->chans = c->next;
		chan_free(c);
	}
	if (cn->in_event)
		ssh_event_remove_session(T->event, cn->sess);
	ssh_disconnect(cn->sess);
	ssh_free(cn->sess);
	sb_wipe(&cn->login, sizeof cn->login);
	free(cn);
}

static void conn_accept(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* Key exchanges cost CPU and memory before anyone proved anything:
	 * past the cap a new connection is closed at once. */
	if (T->unauth >= SSH_MAX_UNAUTH) {
		close(fd);
		time_t now = time(NULL);
		if (now - T->last_full_log >= 10) {
			sb_log(LOG_WARN, "ssh: %d connections not logged in yet; refusing new ones",
			       T->unauth);
			T->last_full_log = now;
		}
		return;
	}
	/* Database round trips are small messages: without this, Nagle and
	 * delayed ACKs add ~40 ms to a login through the tunnel. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct ssh_conn *cn = calloc(1, sizeof *cn);
	ssh_session sess = cn ? ssh_new() : NULL;
	if (!sess) {
		free(cn);
		close(fd);
		return;
	}
	cn->sess = sess;
	cn->started = time(NULL);
	T->unauth++;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, cn->login.client_ip, sizeof cn->login.client_ip);
		cn->login.client_port = ntohs(a->sin6_port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, cn->login.client_ip, sizeof cn->login.client_ip);
		cn->login.client_port = ntohs(a->sin_port);
	}
	/* The per-source and global limits of the direct listeners, before
	 * any key exchange work: over them, closed at once (counted and
	 * logged by the main loop's login guard). */
	struct ssh_req adm = cn->login;
	adm.kind = SSH_REQ_ADMIT;
	if (ssh_ask(T->arg->sh, &adm) != 0 || !adm.ok) {
		close(fd);
		ssh_free(sess);
		free(cn);
		T->unauth--;
		return;
	}
	cn->guarded = 1;
	if (ssh_bind_accept_fd(T->bind, sess, fd) != SSH_OK) {
		close(fd);
		ssh_free(sess);
		guard_leave(cn);
		free(cn);
		T->unauth--;
		return;
	}
	ssh_set_auth_methods(sess, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_INTERACTIVE);
	ssh_set_message_callback(sess, on_message, cn);
	cn->cb.userdata = cn;
	cn->cb.auth_password_function = on_password;
	ssh_callbacks_init(&cn->cb);
	ssh_set_server_callbacks(sess, &cn->cb);
	ssh_set_blocking(sess, 0);
	if (ssh_handle_key_exchange(sess) == SSH_ERROR) {
		sb_log(LOG_INFO, "ssh %s:%d: key exchange failed: %s", cn->login.client_ip,
		       cn->login.client_port, ssh_get_error(sess));
		conn_free(cn);
		return;
	}
	if (ssh_event_add_session(T->event, sess) != SSH_OK) {
		conn_free(cn);
		return;
	}
	cn->in_event = 1;
	cn->next = T->new_conns;
	T->new_conns = cn;
}

static int listen_cb(socket_t fd, int revents, void *userdata)
{
	(void)userdata;
	if (revents & POLLIN)
		conn_accept(fd);
	return 0;
}

static int stop_cb(socket_t fd, int revents, void *userdata)
{
	char b[16];
	(void)revents;
	(void)userdata;
	if (read(fd, b, sizeof b) >= 0)
		T->stop = 1;
	return 0;
}

/* After each poll: timeouts, re-checks, channel pumps, ended conns.
 *
 * libssh calls that read (ssh_channel_read_nonblocking, ssh_channel_poll)
 * poll the whole event, so callbacks run inside this walk: what they
 * accept or open goes to the new_* lists, spliced in here before the walk,
 * and nothing but this walk frees a connection or a channel. */
static void sweep(void)
{
	time_t now = time(NULL);
	SPLICE(struct ssh_conn, &T->new_conns, &T->conns);
	for (struct ssh_conn *cn = T->conns; cn; cn = cn->next)
		SPLICE(struct ssh_chan, &cn->new_chans, &cn->chans);
	for (struct ssh_conn **pp = &T->conns; *pp;) {
		struct ssh_conn *cn = *pp;
		int over = !ssh_is_connected(cn->sess) ||
			   (ssh_get_status(cn->sess) & (SSH_CLOSED | SSH_CLOSED_ERROR));
		if (cn->kill)
			over = 1;
		if (!over && !cn->authed && now - cn->started > T->arg->login_timeout) {
			snprintf(cn->end_reason, sizeof cn->end_reason, "login timed out");
			over = 1;
		}
		if (!over && cn->authed && now >= cn->next_check) {
			struct ssh_req r = cn->login;
			r.kind = SSH_REQ_RECHECK;
			cn->next_check = now + SSH_RECHECK_S;
			if (ssh_ask(T->arg->sh, &r) == 0 && !r.ok) {
				snprintf(cn->end_reason, sizeof cn->end_reason, "%s", r.reason);
				over = 1;
			}
		}
		for (struct ssh_chan **cp = &cn->chans; !over && *cp;) {
			struct ssh_chan *c = *cp;
			chan_pump(c);
			if (c->dead) {
				*cp = c->next;
				chan_free(c);
				continue;
			}
			chan_register(c);
			cp = &c->next;
		}
		if (over) {
			*pp = cn->next;
			conn_free(cn);
			continue;
		}
		pp = &cn->next;
	}
}

void *ssh_thread_main(void *argp)
{
	struct ssh_thread t = {.arg = argp};
	T = &t;
	t.bind = ssh_bind_new();
	t.event = ssh_event_new();
	if (!t.bind || !t.event ||
	    ssh_bind_options_set(t.bind, SSH_BIND_OPTIONS_HOSTKEY, t.arg->host_key) != SSH_OK) {
		sb_log(LOG_ERR, "ssh: cannot set up the SSH server (host key %s)", t.arg->host_key);
		goto out;
	}
	for (int i = 0; i < t.arg->n_listen; i++)
		ssh_event_add_fd(t.event, t.arg->listen_fds[i], POLLIN, listen_cb, NULL);
	ssh_event_add_fd(t.event, t.arg->sh->stop_r, POLLIN, stop_cb, NULL);
	while (!t.stop) {
		/* 1 s at most: login timeouts are checked on the sweep. */
		ssh_event_dopoll(t.event, 1000);
		sweep();
	}
out:
	SPLICE(struct ssh_conn, &t.new_conns, &t.conns);
	while (t.conns) {
		struct ssh_conn *cn = t.conns;
		t.conns = cn->next;
		conn_free(cn);
	}
	if (t.event) {
		for (int i = 0; i < t.arg->n_listen; i++)
			ssh_event_remove_fd(t.event, t.arg->listen_fds[i]);
		ssh_event_remove_fd(t.event, t.arg->sh->stop_r);
		ssh_event_free(t.event);
	}
	if (t.bind)
		ssh_bind_free(t.bind);
	T = NULL;
	return NULL;
}
