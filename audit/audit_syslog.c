/* audit_syslog: one RFC 5424 syslog message per audit record.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
 *
 * PRI is facility authpriv (10) with severity info (6): 86, because audit
 * records are security messages; APP-NAME "sqlbastion"; MSGID the event
 * name ("query", "login", ...); no structured data ("-"); MSG the JSON
 * record exactly as in the file (seq and hash included, so a SIEM can check
 * the chain too), preceded by the UTF-8 BOM as RFC 5424 section 6.4 asks
 * for UTF-8 text. Transport: a connected non-blocking datagram socket (UDP,
 * RFC 5426, or the local /dev/log). A message the socket does not take is
 * dropped and counted: syslog is a copy for the SIEM pipeline, the JSON
 * lines file stays the record of truth and the proof.
 *
 * It never logs and never blocks the event loop.
 */
#include "audit/audit_syslog.h"
#include "audit/audit_err.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A UDP syslog message larger than this is cut (RFC 5426 section 3.2 asks
 * receivers for 2048 bytes at least and most take 64 KiB). */
#define SYSLOG_MAX 65000

struct audit_syslog {
	int fd;
	int is_unix;
	struct sockaddr_un sun;
	time_t retry_at;        /* unix socket absent: try again from then */
	char host[256];
	int pid;
	uint64_t sent, failed;
	char *msg;              /* owned, SYSLOG_MAX bytes */
};

static int unix_connect(struct audit_syslog *s)
{
	if (s->fd >= 0)
		return 0;
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	if (connect(s->fd, (struct sockaddr *)&s->sun, sizeof s->sun) < 0) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	return 0;
}

struct audit_syslog *audit_syslog_open(const char *spec, char *errbuf,
				       size_t errlen)
{
	struct audit_syslog *s = calloc(1, sizeof *s);
	if (!s || !(s->msg = malloc(SYSLOG_MAX))) {
		free(s);
		audit_seterr(errbuf, errlen, "out of memory");
		return NULL;
	}
	s->fd = -1;
	s->pid = (int)getpid();
	if (gethostname(s->host, sizeof s->host) != 0 || !s->host[0])
		snprintf(s->host, sizeof s->host, "-");
	s->host[sizeof s->host - 1] = '\0';
	for (char *p = s->host; *p; p++) /* PRINTUSASCII without spaces */
		if (*p <= ' ' || *p > '~')
			*p = '-';
	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;
		if (!*path || strlen(path) >= sizeof s->sun.sun_path) {
			audit_seterr(errbuf, errlen, "syslog %s: bad socket path", spec);
			goto fail;
		}
		s->is_unix = 1;
		s->sun.sun_family = AF_UNIX;
		memcpy(s->sun.sun_path, path, strlen(path) + 1);
		(void)unix_connect(s); /* absent now: retried at send */
		return s;
	}
	if (strncmp(spec, "udp:", 4) == 0) {
		char host[256];
		const char *hp = spec + 4, *port;
		if (*hp == '[') {
			const char *close = strchr(hp, ']');
			if (!close || close[1] != ':' || close - hp - 1 >= (long)sizeof host) {
				audit_seterr(errbuf, errlen, "syslog %s: expected udp:[v6]:PORT", spec);
				goto fail;
			}
			snprintf(host, sizeof host, "%.*s", (int)(close - hp - 1), hp + 1);
			port = close + 2;
		} else {
			const char *colon = strrchr(hp, ':');
			if (!colon || colon == hp || colon - hp >= (long)sizeof host) {
				audit_seterr(errbuf, errlen, "syslog %s: expected udp:HOST:PORT", spec);
				goto fail;
			}
			snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
			port = colon + 1;
		}
		struct addrinfo hints, *ai = NULL;
		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_DGRAM;
		int rc = getaddrinfo(host, port, &hints, &ai);
		if (rc != 0 || !ai) {
			audit_seterr(errbuf, errlen, "syslog %s: %s", spec, gai_strerror(rc));
			goto fail;
		}
		s->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fd < 0 || connect(s->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			audit_seterr(errbuf, errlen, "syslog %s: %s", spec, strerror(errno));
			freeaddrinfo(ai);
			goto fail;
		}
		freeaddrinfo(ai);
		return s;
	}
	audit_seterr(errbuf, errlen, "syslog '%s': expected unix:PATH or udp:HOST:PORT", spec);
fail:
	audit_syslog_close(s);
	return NULL;
}

void audit_syslog_close(struct audit_syslog *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->msg);
	free(s);
}

void audit_syslog_send(struct audit_syslog *s, const char *msgid,
		       const char *json, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char ts[40];
	gettimeofday(&tv, NULL);
	if (s->is_unix && s->fd < 0) {
		if (tv.tv_sec < s->retry_at || unix_connect(s) < 0) {
			if (tv.tv_sec >= s->retry_at)
				s->retry_at = tv.tv_sec + 1;
			s->failed++;
			return;
		}
	}
	time_t t = tv.tv_sec;
	gmtime_r(&t, &tm);
	size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%06ldZ", (long)tv.tv_usec);
	int h = snprintf(s->msg, SYSLOG_MAX, "<86>1 %s %s sqlbastion %d %s - \xEF\xBB\xBF",
			 ts, s->host, s->pid, msgid);
	if (h < 0 || h >= SYSLOG_MAX) {
		s->failed++;
		return;
	}
	size_t room = SYSLOG_MAX - (size_t)h;
	if (len > room)
		len = room;
	memcpy(s->msg + h, json, len);
	ssize_t w = send(s->fd, s->msg, (size_t)h + len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w < 0) {
		s->failed++;
		if (s->is_unix && (errno == ECONNREFUSED || errno == ENOTCONN)) {
			close(s->fd); /* syslogd restarted: connect again */
			s->fd = -1;
		}
		return;
	}
	s->sent++;
}

void audit_syslog_stats(const struct audit_syslog *s, uint64_t *sent,
			uint64_t *failed)
{
	*sent = s->sent;
	*failed = s->failed;
}
