/* log: the diagnostic log (for operators; the audit log is a different thing).
 *
 * One line per call: "<RFC 3339 UTC> <LEVEL> <message>". Session code adds
 * its context prefix through sess_log() (proxy/session.h). Never pass a
 * secret. sb_log() escapes the whole message with log_escape() (bytes that
 * are not printable ASCII, and '\\', as \xNN), so peer input needs no
 * escaping by the caller and cannot break a line.
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <stddef.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Open the log at path ("-" = stderr). Returns 0 or -1 (errno set). Reopen
 * is the same call (SIGHUP after logrotate). */
int log_open(const char *path);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

void sb_log(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copy at most max input bytes of in into out as printable ASCII ("\xNN"
 * for others, "..." when cut). out must hold 4*max+4 bytes. Returns out. */
char *log_escape(const void *in, size_t n, size_t max, char *out);

#endif
