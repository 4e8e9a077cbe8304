/* log: diagnostic log lines to a file or stderr (see log.h). */
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static enum log_level log_level = LOG_INFO;

int log_open(const char *path)
{
	if (!path || !*path || strcmp(path, "-") == 0) {
		if (log_fd > 2)
			close(log_fd);
		log_fd = 2;
		return 0;
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void log_set_level(enum log_level lvl) { log_level = lvl; }
enum log_level log_get_level(void) { return log_level; }

void sb_log(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	if (lvl > log_level)
		return;
	char line[10240];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof line - (size_t)n, ".%03dZ %s ",
		      (int)(tv.tv_usec / 1000), names[lvl]);
	/* The message may carry what a peer sent (a user or database name, a
	 * startup parameter, an error text): every byte that is not printable
	 * ASCII is written as \xNN (and '\\' as \x5c), so one call is one
	 * line and nothing a client sends can forge a line or a terminal
	 * escape. */
	char msg[2048], esc[sizeof msg * 4 + 4];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if (m > (int)sizeof msg - 1)
		m = (int)sizeof msg - 1;
	log_escape(msg, (size_t)m, (size_t)m, esc);
	n += snprintf(line + n, sizeof line - (size_t)n - 1, "%s", esc);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = write(log_fd, line, (size_t)n);
	(void)w; /* a failing diagnostic log must not take the proxy down */
}

char *log_escape(const void *in, size_t n, size_t max, char *out)
{
	const unsigned char *p = in;
	size_t o = 0, take = n < max ? n : max;
	for (size_t i = 0; i < take; i++) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			o += (size_t)sprintf(out + o, "\\x%02x", c);
		}
	}
	if (take < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}
