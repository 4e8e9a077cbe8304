/* ctl_admin: the sqlbastionctl verbs that talk to the running daemon over
 * its admin socket (proxy/admin.h): sessions, kill, reload, and the
 * transport admin audit events take when a daemon runs.
 *
 * Each request is one JSON line; the answer is one JSON line read with a
 * timeout, so a hung daemon cannot hang the operator's shell. "Not
 * running" (no socket file, or nobody listening) is told apart from other
 * failures, so the verbs can say so plainly and admin events can fall back
 * to writing the file directly.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proxy/admin.h"
#include "proxy/ctl.h"

/* The daemon answers from its event loop; 10 s covers a busy loop. */
#define CTL_ADMIN_TIMEOUT_MS 10000
#define CTL_ADMIN_RESP_MAX (16u << 20) /* 16 MiB: thousands of sessions */

int ctl_admin_connect(struct ctl *c, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	const char *path = c->cfg.admin_socket;
	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "admin socket path %s is too long", path);
		return -1;
	}
	int fd = admin_dial(path, err, errlen);
	if (fd == -2) {
		int e = errno;
		if (e == ENOENT || e == ECONNREFUSED) {
			snprintf(err, errlen,
				 "the daemon is not running (no one listens on %s); start it "
				 "with: sqlbastion -c %s",
				 path, c->cfg.path);
			return -2;
		}
		snprintf(err, errlen, "admin socket %s: %s", path, strerror(e));
		return -1;
	}
	return fd;
}

int ctl_admin_roundtrip(int fd, const char *req, char **resp, char *err, size_t errlen)
{
	size_t n = strlen(req), done = 0, len = 0, cap = 4096;
	char *buf = NULL;
	*resp = NULL;
	while (done < n) {
		ssize_t w = send(fd, req + done, n - done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "admin socket: send: %s", strerror(errno));
			return -1;
		}
		done += (size_t)w;
	}
	if (send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		snprintf(err, errlen, "admin socket: send: %s", strerror(errno));
		return -1;
	}
	buf = malloc(cap);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, CTL_ADMIN_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(err, errlen, "the daemon did not answer within %d s",
				 CTL_ADMIN_TIMEOUT_MS / 1000);
			goto fail;
		}
		if (len + 1 >= cap) {
			if (cap >= CTL_ADMIN_RESP_MAX) {
				snprintf(err, errlen, "answer longer than %u bytes",
					 CTL_ADMIN_RESP_MAX);
				goto fail;
			}
			char *t = realloc(buf, cap * 2);
			if (!t) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = t;
			cap *= 2;
		}
		ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			snprintf(err, errlen, "the daemon closed the admin connection%s%s",
				 got < 0 ? ": " : "", got < 0 ? strerror(errno) : "");
			goto fail;
		}
		len += (size_t)got;
		buf[len] = '\0';
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = '\0';
			*resp = buf;
			return 0;
		}
	}
fail:
	free(buf);
	return -1;
}

/* One request on a fresh connection; the answer must say ok. Returns
 * CTL_OK with *resp (caller frees), or CTL_FAIL printed. */
static int call(struct ctl *c, const char *req, char **resp)
{
	char err[SB_PATH_MAX + 200], msg[600];
	int fd = ctl_admin_connect(c, err, sizeof err);
	if (fd < 0)
		return ctl_fail(c, "%s", err);
	int rc = ctl_admin_roundtrip(fd, req, resp, err, sizeof err);
	close(fd);
	if (rc != 0)
		return ctl_fail(c, "%s", err);
	if (admin_json_get(*resp, strlen(*resp), "ok", msg, sizeof msg) != 1 ||
	    strcmp(msg, "true") != 0) {
		if (admin_json_get(*resp, strlen(*resp), "error", msg, sizeof msg) != 1)
			snprintf(msg, sizeof msg, "unexpected answer from the daemon");
		free(*resp);
		*resp = NULL;
		return ctl_fail(c, "%s", msg);
	}
	return CTL_OK;
}

/* Printable cell: controls shown as '?', cut to max bytes. */
static void cell(const char *in, size_t max, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 4 < cap; i++) {
		if (i == max) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char ch = (unsigned char)in[i];
		out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	out[o] = '\0';
	if (!o)
		snprintf(out, cap, "-");
}

int ctl_sessions(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	int json = 0;
	char *resp = NULL;
	struct ctl_opt opts[] = {{"--json", 0, NULL, &json}, {NULL, 0, NULL, NULL}};
	if (ctl_args(c, argc, argv, opts, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;
	if (call(c, "{\"cmd\":\"sessions\"}", &resp) != CTL_OK)
		return CTL_FAIL;
	size_t len = strlen(resp), pos_ = 0, olen;
	const char *obj;
	if (json) {
		/* the array alone, one line */
		const char *a = strstr(resp, "\"sessions\":");
		const char *e = resp + len;
		while (e > resp && e[-1] != '}')
			e--;
		if (a && e > a)
			printf("%.*s\n", (int)(e - 1 - (a + 11)), a + 11);
		else
			printf("[]\n");
		free(resp);
		return CTL_OK;
	}
	printf("%-6s %-12s %-14s %-12s %-22s %-20s %10s %10s %s\n", "ID", "USER", "ASSET",
	       "ACCOUNT", "CLIENT", "SINCE", "BYTES_IN", "BYTES_OUT", "STATEMENT");
	int r;
	while ((r = admin_json_array_next(resp, len, "sessions", &pos_, &obj, &olen)) == 1) {
		static const char *const keys[] = {"id",     "user",     "asset",   "account",
						   "client", "since",    "bytes_in", "bytes_out",
						   "statement", "phase", "ssh_connection"};
		char v[11][600], show[11][240];
		for (int k = 0; k < 11; k++) {
			if (admin_json_get(obj, olen, keys[k], v[k], sizeof v[k]) != 1)
				v[k][0] = '\0';
			cell(v[k], k == 8 ? 60 : 40, show[k], sizeof show[k]);
		}
		char since[32];
		time_t t;
		if (ctl_parse_time(v[5], c->now, 0, &t) >= 0)
			ctl_fmt_time(t, since, sizeof since);
		else
			snprintf(since, sizeof since, "%s", show[5]);
		if (v[10][0]) /* a channel of SSH connection N (its login record's session) */
			snprintf(show[4] + strlen(show[4]), sizeof show[4] - strlen(show[4]),
				 " ssh#%s", show[10]);
		printf("%-6s %-12s %-14s %-12s %-22s %-20s %10s %10s %s\n", show[0], show[1],
		       show[2], show[3], show[4], since, show[6], show[7],
		       v[8][0] ? show[8] : (v[9][0] ? show[9] : "-"));
	}
	free(resp);
	if (r < 0)
		return ctl_fail(c, "malformed answer from the daemon");
	return CTL_OK;
}

int ctl_kill(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char req[200], *resp = NULL, *e;
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	errno = 0;
	unsigned long long id = strtoull(pos[0], &e, 10);
	if (errno || e == pos[0] || *e || id == 0)
		return ctl_usage(c, "SESSION must be a session id (see sqlbastionctl sessions)");
	size_t o = (size_t)snprintf(req, sizeof req, "{\"cmd\":\"kill\",\"session\":%llu,\"by\":",
				    id);
	admin_json_put(req, sizeof req - 2, &o, c->os_user, strlen(c->os_user));
	snprintf(req + o, sizeof req - o, "}");
	if (call(c, req, &resp) != CTL_OK)
		return CTL_FAIL;
	free(resp);
	printf("session %llu killed\n", id);
	return CTL_OK;
}

int ctl_reload(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char *resp = NULL, msg[600];
	if (ctl_args(c, argc, argv, NULL, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;
	if (call(c, "{\"cmd\":\"reload\"}", &resp) != CTL_OK)
		return CTL_FAIL;
	if (admin_json_get(resp, strlen(resp), "message", msg, sizeof msg) == 1)
		printf("reloaded: %s\n", msg);
	else
		printf("reloaded\n");
	free(resp);
	return CTL_OK;
}
