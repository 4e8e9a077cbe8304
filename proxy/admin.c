/* admin: the admin socket of the daemon (see admin.h).
 *
 * One listener (libevent evconnlistener on a UNIX socket) and one
 * bufferevent per connected sqlbastionctl. Requests are read line by line
 * (at most ADMIN_LINE_MAX bytes), answered in order, and the connection
 * stays open until the peer closes it. It reads the live session list and
 * asks the session core to close a session (sess_close, which frees it
 * later from the reaper), but never touches protocol state beyond the
 * frontend's current_statement() description.
 */
#include "proxy/admin.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "lib/fsutil.h"
#include "proxy/lifecycle.h"
#include "lib/log.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/stmt.h"

/* A request is one small JSON object; an admin event's statement is a
 * command line. 64 KiB is far above both and bounds what a peer can make
 * the daemon buffer. */
#define ADMIN_LINE_MAX (64 * 1024)
/* Bytes of a session's current statement shown by `sessions`. */
#define ADMIN_STMT_MAX 200

struct admin_conn {
	struct admin_server *srv;        /* borrowed */
	struct bufferevent *bev;         /* owned */
	uid_t uid;
	int pid;
	char os_user[64];                /* the peer, from SO_PEERCRED */
	char sudo_user[64];              /* root peer's "by" (SUDO_USER) for one event, or "" */
	struct admin_conn *next, *prev;
};

struct admin_server {
	struct sb_proxy *px;             /* borrowed */
	admin_reload_fn reload;
	struct evconnlistener *lis;      /* owned */
	struct event *watch;             /* owned: audit failure watchdog */
	char path[SB_PATH_MAX];
	struct admin_conn *conns;        /* owned list */
	uint64_t failed_seen;            /* audit failures at the last WARN */
	time_t last_warn;
};

/* ---- JSON ---- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* Past the string starting at p (at the opening quote); NULL if unended. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past the value at p; NULL when malformed. */
static const char *skip_value(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (p < end) {
			if (*p == '"') {
				p = skip_string(p, end);
				if (!p)
					return NULL;
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if (*p == '}' || *p == ']') {
				if (--depth == 0)
					return p + 1;
			}
			p++;
		}
		return NULL;
	}
	const char *s = p;
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
	       *p != '\n' && *p != '\r' && *p != '\t')
		p++;
	return p > s ? p : NULL;
}

static void put_utf8(char *out, size_t cap, size_t *o, unsigned cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	}
	for (size_t i = 0; i < n && *o + 1 < cap; i++)
		out[(*o)++] = b[i];
}

/* Decode the string literal s[0..n) (quotes included) into out. */
static int decode_string(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 1; i + 1 < n; i++) {
		char ch = s[i];
		if (ch != '\\') {
			if (o + 1 < cap)
				out[o++] = ch;
			continue;
		}
		if (++i + 1 >= n)
			return -1;
		switch (s[i]) {
		case 'n': ch = '\n'; break;
		case 't': ch = '\t'; break;
		case 'r': ch = '\r'; break;
		case 'b': ch = '\b'; break;
		case 'f': ch = '\f'; break;
		case 'u': {
			unsigned cp = 0;
			if (i + 4 >= n)
				return -1;
			for (int k = 1; k <= 4; k++) {
				char h = s[i + (size_t)k];
				cp <<= 4;
				if (h >= '0' && h <= '9')
					cp |= (unsigned)(h - '0');
				else if (h >= 'a' && h <= 'f')
					cp |= (unsigned)(h - 'a' + 10);
				else if (h >= 'A' && h <= 'F')
					cp |= (unsigned)(h - 'A' + 10);
				else
					return -1;
			}
			i += 4;
			put_utf8(out, cap, &o, cp);
			continue;
		}
		default: ch = s[i]; break; /* \" \\ \/ */
		}
		if (o + 1 < cap)
			out[o++] = ch;
	}
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
	return 0;
}

/* Find member key of the object at obj; val and vend span its value. */
static int find_member(const char *obj, size_t len, const char *key,
		       const char **val, const char **vend)
{
	const char *p = obj, *end = obj + len;
	size_t kl = strlen(key);
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return -1;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	while (p < end) {
		if (*p != '"')
			return -1;
		const char *ks = p + 1, *ke = skip_string(p, end);
		if (!ke)
			return -1;
		p = skip_ws(ke, end);
		if (p >= end || *p != ':')
			return -1;
		p = skip_ws(p + 1, end);
		const char *vs = p, *ve = skip_value(p, end);
		if (!ve)
			return -1;
		if ((size_t)(ke - 1 - ks) == kl && memcmp(ks, key, kl) == 0) {
			*val = vs;
			*vend = ve;
			return 1;
		}
		p = skip_ws(ve, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		return p < end && *p == '}' ? 0 : -1;
	}
	return -1;
}

int admin_json_get(const char *obj, size_t len, const char *key, char *out,
		   size_t cap)
{
	const char *v, *ve;
	int r = find_member(obj, len, key, &v, &ve);
	if (r <= 0)
		return r;
	if (*v == '"')
		return decode_string(v, (size_t)(ve - v), out, cap) == 0 ? 1 : -1;
	if ((size_t)(ve - v) == 4 && memcmp(v, "null", 4) == 0)
		return 0;
	if (*v == '{' || *v == '[')
		return -1;
	snprintf(out, cap, "%.*s", (int)(ve - v), v);
	return 1;
}

int admin_json_array_next(const char *json, size_t len, const char *key,
			  size_t *pos, const char **obj, size_t *objlen)
{
	const char *v, *ve;
	int r = find_member(json, len, key, &v, &ve);
	if (r <= 0)
		return r;
	if (*v != '[')
		return -1;
	const char *p = *pos ? json + *pos : v + 1;
	p = skip_ws(p, ve);
	if (p < ve && *p == ',')
		p = skip_ws(p + 1, ve);
	if (p >= ve || *p == ']')
		return 0;
	const char *e = skip_value(p, ve);
	if (!e || *p != '{')
		return -1;
	*obj = p;
	*objlen = (size_t)(e - p);
	*pos = (size_t)(e - json);
	return 1;
}

void admin_json_put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	if (*o + 2 >= cap)
		return;
	out[(*o)++] = '"';
	for (size_t i = 0; i < n && *o + 8 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			out[(*o)++] = '\\';
			out[(*o)++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			*o += (size_t)snprintf(out + *o, cap - *o, "\\u%04x", ch);
		} else {
			out[(*o)++] = (char)ch;
		}
	}
	out[(*o)++] = '"';
	out[*o] = '\0';
}

/* ---- replies ---- */

static void reply(struct admin_conn *c, const char *line)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add(out, line, strlen(line));
	evbuffer_add(out, "\n", 1);
}

__attribute__((format(printf, 2, 3))) static void
reply_error(struct admin_conn *c, const char *fmt, ...)
{
	char msg[600], line[1400];
	size_t o = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	o = (size_t)snprintf(line, sizeof line, "{\"ok\":false,\"error\":");
	admin_json_put(line, sizeof line - 2, &o, msg, strlen(msg));
	snprintf(line + o, sizeof line - o, "}");
	reply(c, line);
}

/* ,"key":"value" or ,"key":null into out */
static void put_member(char *out, size_t cap, size_t *o, const char *key,
		       const char *val, size_t n)
{
	*o += (size_t)snprintf(out + *o, cap - *o, ",\"%s\":", key);
	if (*o >= cap)
		*o = cap - 1;
	if (val)
		admin_json_put(out, cap, o, val, n);
	else if (*o + 5 < cap)
		*o += (size_t)snprintf(out + *o, cap - *o, "null");
}

/* The statement a session is at: the frontend's own description, else
 * the core's statement queue's (stmt.h; "" before the queue is set up). */
static const char *session_statement(const struct session *s)
{
	if (!s->pstate)
		return NULL;
	if (s->proto->current_statement)
		return s->proto->current_statement(s->pstate);
	return s->pending ? stmt_current(s->pending) : "";
}

static void do_sessions(struct admin_conn *c)
{
	struct sb_proxy *px = c->srv->px;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char item[2048];
	int first = 1;
	evbuffer_add_printf(out, "{\"ok\":true,\"sessions\":[");
	for (struct session *s = px->sessions; s; s = s->next) {
		size_t o = 0;
		char since[32];
		struct tm tm;
		gmtime_r(&s->started, &tm);
		strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
		const char *stmt = session_statement(s);
		size_t stmtlen = stmt ? strnlen(stmt, ADMIN_STMT_MAX) : 0;
		o = (size_t)snprintf(item, sizeof item, "%s{\"id\":%llu", first ? "" : ",",
				     (unsigned long long)s->id);
		put_member(item, sizeof item, &o, "user", s->ident.logged_in ? s->ident.target.user : NULL,
			   s->ident.logged_in ? strlen(s->ident.target.user) : 0);
		put_member(item, sizeof item, &o, "asset", s->ident.logged_in ? s->ident.target.asset : NULL,
			   s->ident.logged_in ? strlen(s->ident.target.asset) : 0);
		put_member(item, sizeof item, &o, "account",
			   s->ident.logged_in ? s->ident.target.db_username : NULL,
			   s->ident.logged_in ? strlen(s->ident.target.db_username) : 0);
		put_member(item, sizeof item, &o, "database", s->ident.database[0] ? s->ident.database : NULL,
			   strlen(s->ident.database));
		put_member(item, sizeof item, &o, "client", s->ident.client_addr, strlen(s->ident.client_addr));
		put_member(item, sizeof item, &o, "protocol", s->proto->name,
			   strlen(s->proto->name));
		put_member(item, sizeof item, &o, "entry", s->ident.entry, strlen(s->ident.entry));
		if (s->preset && o < sizeof item) /* the SSH connection's login record id */
			o += (size_t)snprintf(item + o, sizeof item - o, ",\"ssh_connection\":%llu",
					      (unsigned long long)s->preset->session);
		put_member(item, sizeof item, &o, "since", since, strlen(since));
		put_member(item, sizeof item, &o, "phase", s->phase, strlen(s->phase));
		put_member(item, sizeof item, &o, "statement", stmt, stmtlen);
		if (o < sizeof item)
			o += (size_t)snprintf(item + o, sizeof item - o,
					      ",\"bytes_in\":%llu,\"bytes_out\":%llu}",
					      (unsigned long long)s->bytes_in,
					      (unsigned long long)s->bytes_out);
		if (o >= sizeof item)
			continue; /* cannot happen with the bounded fields above */
		evbuffer_add(out, item, o);
		first = 0;
	}
	evbuffer_add_printf(out, "]}\n");
}

/* The admin record of something done through the socket. 0 written. */
static int audit_admin(struct admin_conn *c, const char *verb, const char *statement,
		       const char *asset, const char *account, const char *objects,
		       uint64_t *seq, char *err, size_t errlen)
{
	struct sb_proxy *px = c->srv->px;
	struct audit_event ev;
	struct audit_stats st;
	audit_event_init(&ev, AUDIT_ADMIN);
	ev.user = c->sudo_user[0] ? c->sudo_user : c->os_user;
	ev.verb = verb;
	ev.statement = statement ? statement : verb;
	ev.asset = asset;
	ev.account = account;
	ev.objects = objects;
	if (!px->audit) {
		snprintf(err, errlen, "the daemon has no audit log open");
		return -1;
	}
	if (audit_write(px->audit, &ev, err, errlen) != 0)
		return -1;
	audit_get_stats(px->audit, &st);
	if (seq)
		*seq = st.seq;
	return 0;
}

static void do_kill(struct admin_conn *c, const char *req, size_t len)
{
	char idtxt[32], by[64], stmt[96], objects[48], err[400];
	char *e;
	if (admin_json_get(req, len, "session", idtxt, sizeof idtxt) != 1) {
		reply_error(c, "kill: no session given");
		return;
	}
	errno = 0;
	unsigned long long id = strtoull(idtxt, &e, 10);
	if (errno || e == idtxt || *e || id == 0) {
		reply_error(c, "kill: bad session id '%s'", idtxt);
		return;
	}
	struct session *s = sess_find(c->srv->px, (uint64_t)id);
	if (!s || s->closing) {
		reply_error(c, "kill: no live session %llu", id);
		return;
	}
	/* "by" is the authenticated OS user; a name the client adds is kept
	 * beside it, never instead of it. */
	int r = admin_json_get(req, len, "by", by, sizeof by);
	snprintf(stmt, sizeof stmt, "kill %llu", id);
	snprintf(objects, sizeof objects, "session %llu", id);
	if (audit_admin(c, "kill", stmt, s->ident.logged_in ? s->ident.target.asset : NULL,
			s->ident.logged_in ? s->ident.target.db_username : NULL, objects, NULL, err,
			sizeof err) != 0 &&
	    c->srv->px->cfg.audit_on_failure == AUDIT_FAIL_CLOSE)
		sb_log(LOG_ERR, "admin: kill %llu by %s not audited: %s (killing anyway)", id,
		       c->os_user, err);
	sb_log(LOG_INFO, "admin: session %llu killed by %s (pid %d)", id, c->os_user, c->pid);
	char why[160];
	if (r == 1 && strcmp(by, c->os_user) != 0)
		snprintf(why, sizeof why, "killed by %s (for %s)", c->os_user, by);
	else
		snprintf(why, sizeof why, "killed by %s", c->os_user);
	sess_end(s, why); /* the client hears its protocol's termination error */
	reply(c, "{\"ok\":true}");
}

static void do_reload(struct admin_conn *c)
{
	char msg[600], err[400], line[1400];
	size_t o;
	int rc = c->srv->reload(c->srv->px, msg, sizeof msg);
	if (audit_admin(c, "reload", "reload", NULL, NULL, rc == 0 ? "policy" : "failed", NULL,
			err, sizeof err) != 0)
		sb_log(LOG_ERR, "admin: reload by %s not audited: %s", c->os_user, err);
	if (rc != 0) {
		reply_error(c, "%s", msg);
		return;
	}
	o = (size_t)snprintf(line, sizeof line, "{\"ok\":true,\"message\":");
	admin_json_put(line, sizeof line - 2, &o, msg, strlen(msg));
	snprintf(line + o, sizeof line - o, "}");
	reply(c, line);
}

static void do_audit(struct admin_conn *c, const char *req, size_t len)
{
	/* the statement is a command line, bounded by the request line */
	char *stmt = malloc(ADMIN_LINE_MAX);
	char verb[96] = "", asset[96], account[96], objects[512], err[600];
	uint64_t seq = 0;
	if (!stmt) {
		reply_error(c, "out of memory");
		return;
	}
	int hv = admin_json_get(req, len, "verb", verb, sizeof verb);
	int hs = admin_json_get(req, len, "statement", stmt, ADMIN_LINE_MAX);
	int ha = admin_json_get(req, len, "asset", asset, sizeof asset);
	int hc = admin_json_get(req, len, "account", account, sizeof account);
	int ho = admin_json_get(req, len, "objects", objects, sizeof objects);
	if (hv != 1 || hs != 1 || ha < 0 || hc < 0 || ho < 0) {
		free(stmt);
		reply_error(c, "audit: needs verb and statement");
		return;
	}
	/* sqlbastionctl run through sudo names the person (SUDO_USER) as "by";
	 * only a root peer may say who it acts for (root could write the file
	 * anyway); the daemon's own user is recorded as itself. */
	char by[64];
	c->sudo_user[0] = '\0';
	if (c->uid == 0 && admin_json_get(req, len, "by", by, sizeof by) == 1 && by[0])
		snprintf(c->sudo_user, sizeof c->sudo_user, "%s", by);
	int arc = audit_admin(c, verb, stmt, ha == 1 ? asset : NULL, hc == 1 ? account : NULL,
			      ho == 1 ? objects : NULL, &seq, err, sizeof err);
	c->sudo_user[0] = '\0';
	if (arc != 0) {
		free(stmt);
		reply_error(c, "audit log: %s", err);
		return;
	}
	free(stmt);
	/* Every change sqlbastionctl makes sends its admin event here after
	 * committing: re-check live sessions now rather than at the next tick. */
	lifecycle_poke(c->srv->px->lifecycle);
	char line[64];
	snprintf(line, sizeof line, "{\"ok\":true,\"seq\":%llu}", (unsigned long long)seq);
	reply(c, line);
}

/* ---- connections ---- */

static void conn_free(struct admin_conn *c)
{
	struct admin_server *a = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

static void conn_read(struct bufferevent *bev, void *ctx)
{
	struct admin_conn *c = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		char cmd[32];
		if (admin_json_get(line, len, "cmd", cmd, sizeof cmd) != 1)
			reply_error(c, "expected a JSON object with \"cmd\"");
		else if (strcmp(cmd, "sessions") == 0)
			do_sessions(c);
		else if (strcmp(cmd, "kill") == 0)
			do_kill(c, line, len);
		else if (strcmp(cmd, "reload") == 0)
			do_reload(c);
		else if (strcmp(cmd, "audit") == 0)
			do_audit(c, line, len);
		else
			reply_error(c, "unknown cmd '%s' (sessions, kill, reload, audit)", cmd);
		free(line);
	}
	if (evbuffer_get_length(in) > ADMIN_LINE_MAX) {
		sb_log(LOG_WARN, "admin: request from %s longer than %d bytes; closed", c->os_user,
		       ADMIN_LINE_MAX);
		conn_free(c);
	}
}

static void conn_event(struct bufferevent *bev, short what, void *ctx)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(ctx);
}

/* Close once the error reply is out. */
static void conn_drained_close(struct bufferevent *bev, void *ctx)
{
	conn_free(ctx);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *ctx)
{
	struct admin_server *a = ctx;
	struct ucred cred;
	socklen_t cl = sizeof cred;
	struct admin_conn *c = calloc(1, sizeof *c);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = a;
	c->bev = bufferevent_socket_new(a->px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->next = a->conns;
	if (a->conns)
		a->conns->prev = c;
	a->conns = c;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
		sb_log(LOG_WARN, "admin: SO_PEERCRED failed: %s", strerror(errno));
		conn_free(c);
		return;
	}
	c->uid = cred.uid;
	c->pid = (int)cred.pid;
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	if (getpwuid_r(cred.uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
		snprintf(c->os_user, sizeof c->os_user, "%s", res->pw_name);
	else
		snprintf(c->os_user, sizeof c->os_user, "uid:%u", (unsigned)cred.uid);
	if (cred.uid != 0 && cred.uid != geteuid()) {
		/* the socket is 0600 already; this is the second lock */
		sb_log(LOG_WARN, "admin: refused %s (uid %u, pid %d)", c->os_user,
		       (unsigned)cred.uid, c->pid);
		bufferevent_setcb(c->bev, NULL, conn_drained_close, conn_event, c);
		bufferevent_enable(c->bev, EV_WRITE);
		reply_error(c, "permission denied: uid %u is not root or the daemon's user",
			    (unsigned)cred.uid);
		return;
	}
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---- audit failure watchdog ---- */

static void watch_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct admin_server *a = ctx;
	struct sb_proxy *px = a->px;
	struct audit_stats st;
	if (!px->audit || !px->audit_failing || px->cfg.audit_on_failure != AUDIT_FAIL_OPEN)
		return;
	time_t now = time(NULL);
	if (now - a->last_warn < px->cfg.audit_warn_interval)
		return;
	audit_get_stats(px->audit, &st);
	sb_log(LOG_WARN,
	       "audit: %s still cannot be written; statements run UNAUDITED "
	       "(on_failure=open; %llu records lost, %llu since the last warning)",
	       px->cfg.audit_jsonl, (unsigned long long)st.failed,
	       (unsigned long long)(st.failed - a->failed_seen));
	a->failed_seen = st.failed;
	a->last_warn = now;
}

/* ---- start / stop ---- */

int admin_dial(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -2;
	}
	return fd;
}

/* Remove a socket file nobody answers on. 0 (gone or stale and removed), -1
 * (err filled: live, or not a socket). */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "admin socket %s exists and is not a socket", path);
		return -1;
	}
	int fd = admin_dial(path, err, errlen);
	if (fd == -1)
		return -1;
	if (fd >= 0) { /* live */
		close(fd);
		snprintf(err, errlen, "admin socket %s is in use: is another sqlbastion running?",
			 path);
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "remove stale admin socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

struct admin_server *admin_start(struct sb_proxy *px, admin_reload_fn reload, char *err,
				 size_t errlen)
{
	struct sockaddr_un sun;
	const char *path = px->cfg.admin_socket;
	char dir[SB_PATH_MAX];
	struct stat st;
	if (!path[0] || strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "admin socket path '%s' is empty or longer than %zu bytes",
			 path, sizeof sun.sun_path - 1);
		return NULL;
	}
	if (sb_mkdir_parents(path, err, errlen) != 0)
		return NULL;
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		/* our own directory: owner only, so nobody else even reaches
		 * the socket */
		if (stat(dir, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077) &&
		    chmod(dir, 0700) != 0)
			sb_log(LOG_WARN, "admin: chmod 0700 %s: %s", dir, strerror(errno));
	}
	if (clear_stale(path, err, errlen) != 0)
		return NULL;
	struct admin_server *a = calloc(1, sizeof *a);
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->px = px;
	a->reload = reload;
	snprintf(a->path, sizeof a->path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "admin socket: %s", strerror(errno));
		free(a);
		return NULL;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc != 0 || chmod(path, 0600) != 0) {
		snprintf(err, errlen, "admin socket %s: %s", path, strerror(errno));
		close(fd);
		free(a);
		return NULL;
	}
	a->lis = evconnlistener_new(px->base, on_accept, a,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	if (!a->lis) {
		snprintf(err, errlen, "admin socket %s: cannot listen", path);
		close(fd);
		unlink(path);
		free(a);
		return NULL;
	}
	a->watch = event_new(px->base, -1, EV_PERSIST, watch_cb, a);
	struct timeval sec = {1, 0};
	if (a->watch)
		event_add(a->watch, &sec);
	return a;
}

void admin_stop(struct admin_server *a)
{
	if (!a)
		return;
	while (a->conns)
		conn_free(a->conns);
	if (a->watch)
		event_free(a->watch);
	evconnlistener_free(a->lis);
	unlink(a->path);
	free(a);
}
