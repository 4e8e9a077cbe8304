/* identity: who a database session acts for, as a plain value.
 *
 * Policy, audit and login take this value, never a struct session, so an
 * entry path other than a client socket (an SSH channel, the web console)
 * can hand the core an identity it established itself, and the same
 * decision and audit code serves it. The direct socket entry embeds one in
 * struct session (session.h) and fills it in two steps: the connection part
 * at accept (session id, entry path, client address, protocol, the policy
 * snapshot) and the login part once a login succeeded (target: bastion
 * user, asset, account, database user, grant level). It holds no pointer
 * to a socket, a session or the daemon.
 */
#ifndef SB_IDENTITY_H
#define SB_IDENTITY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/auth.h"
#include "lib/log.h"

struct policy;
struct audit_event;
struct sb_proxy;

/* Entry paths: how the client reached the core. */
#define IDENTITY_ENTRY_DIRECT "direct" /* a client socket on a listener */
#define IDENTITY_ENTRY_SSH "ssh"       /* a direct-tcpip channel of the SSH entry (ssh_entry.h) */

struct identity {
	uint64_t session;                 /* proxy session id (audit "session") */
	const char *entry;                /* static: IDENTITY_ENTRY_* */
	const char *protocol;             /* static: listener protocol name, "postgres", ... */
	char client_ip[64];
	int client_port;
	char client_addr[80];             /* "ip:port" for audit */
	int logged_in;                    /* target is valid (counts toward the session limit) */
	struct auth_target target;        /* who and where, after login (grant level included) */
	char database[128];               /* database asked for by the client */
	int database_unknown;             /* MySQL: a USE/COM_INIT_DB in flight or of
					     unknown outcome; policy then assumes the worst */
	struct policy *policy;            /* owned reference to the policy snapshot taken at
					     accept; NULL = every statement fails closed */
};

/* Fill the identity fields of an audit record that the caller left unset:
 * session, user (the target's once logged in), client, protocol, and, once
 * logged in, asset and account (the database user); the database when one
 * is known. Numbers and other fields are left alone. */
void identity_fill_audit(const struct identity *id, struct audit_event *ev);

/* Fill ev's identity fields and write it to the audit log now. A record
 * without byte counts gets them as absent. Returns 0 when written (or
 * when [audit] on_failure = open let a failure pass), -1 when what the
 * record stands for must not happen (the write failed and on_failure =
 * close). A failure is logged once until writes succeed again. */
int identity_audit(struct sb_proxy *px, const struct identity *id, struct audit_event *ev)
	__attribute__((warn_unused_result));

/* The same for records that refuse nothing: login_failed records past the
 * per-source rate (login_guard.h) are counted, not written. Returns 0
 * written or dropped by that rate, -1 lost (the caller may log it). */
int identity_audit_record(struct sb_proxy *px, const struct identity *id,
			  struct audit_event *ev);

/* Hand ev to the audit writer, written with the next durable record or by
 * the daemon's flush timer (query_end). 0, or -1 with err filled. */
int identity_audit_later(struct sb_proxy *px, const struct identity *id, struct audit_event *ev,
			 char *err, size_t errlen);

/* A diagnostic log line carrying the identity: session id, protocol, peer,
 * user (once logged in) and phase (a short word for what the session is
 * doing, "login", "ready"; NULL = "-"). */
void identity_log(const struct identity *id, const char *phase, enum log_level lvl,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void identity_vlog(const struct identity *id, const char *phase, enum log_level lvl,
		   const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#endif
