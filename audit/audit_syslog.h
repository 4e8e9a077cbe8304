/* audit_syslog: mirror audit records to syslog (RFC 5424), internal to
 * audit/ (see audit_syslog.c). */
#ifndef SB_AUDIT_SYSLOG_H
#define SB_AUDIT_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit_json.h"

struct audit_syslog;

/* spec: "unix:/dev/log" (datagram socket) or "udp:HOST:PORT" (numeric
 * IPv4/IPv6 or a name, "[v6]:port" allowed). NULL with errbuf filled on a
 * bad spec or when no socket can be made; an absent unix socket is not an
 * error (connected again later). */
struct audit_syslog *audit_syslog_open(const char *spec, char *errbuf,
				       size_t errlen);
void audit_syslog_close(struct audit_syslog *s);

/* Send one record (json[0..len), no newline) as the MSG of one message;
 * msgid is the event name. Never blocks; a failure is counted, not
 * reported (the file is the record, syslog a copy). */
void audit_syslog_send(struct audit_syslog *s, const char *msgid,
		       const char *json, size_t len);
void audit_syslog_stats(const struct audit_syslog *s, uint64_t *sent,
			uint64_t *failed);

#endif
