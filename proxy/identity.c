/* identity: audit records and log lines for an identity (see identity.h).
 * Nothing here knows a session, a socket or a protocol. */
#include "proxy/identity.h"

#include <stdarg.h>
#include <stdio.h>

#include "audit/audit.h"
#include "proxy/login_guard.h"
#include "proxy/proxy.h"

void identity_fill_audit(const struct identity *id, struct audit_event *ev)
{
	ev->session = id->session;
	if (!ev->user && id->logged_in)
		ev->user = id->target.user;
	ev->client = id->client_addr;
	ev->entry = id->entry;
	ev->protocol = id->protocol;
	if (id->logged_in) {
		if (!ev->asset)
			ev->asset = id->target.asset;
		if (!ev->account)
			ev->account = id->target.db_username;
	}
	if (!ev->database && id->database[0])
		ev->database = id->database;
}

/* Byte counts belong to the session_end record; elsewhere they are absent. */
static void bytes_absent(struct audit_event *ev)
{
	if (ev->type != AUDIT_SESSION_END && ev->bytes_in <= 0 && ev->bytes_out <= 0)
		ev->bytes_in = ev->bytes_out = -1;
}

int identity_audit(struct sb_proxy *px, const struct identity *id, struct audit_event *ev)
{
	char err[256];
	identity_fill_audit(id, ev);
	bytes_absent(ev);
	if (!px->audit)
		return px->cfg.audit_on_failure == AUDIT_FAIL_OPEN ? 0 : -1;
	if (audit_write(px->audit, ev, err, sizeof err) == 0) {
		if (px->audit_failing) {
			px->audit_failing = 0;
			sb_log(LOG_WARN, "audit: writing again after failure");
		}
		return 0;
	}
	if (!px->audit_failing)
		sb_log(LOG_ERR, "audit: cannot write %s: %s (on_failure=%s)",
		       px->cfg.audit_jsonl, err,
		       px->cfg.audit_on_failure == AUDIT_FAIL_OPEN ? "open" : "close");
	px->audit_failing = 1;
	return px->cfg.audit_on_failure == AUDIT_FAIL_OPEN ? 0 : -1;
}

int identity_audit_record(struct sb_proxy *px, const struct identity *id,
			  struct audit_event *ev)
{
	/* A flood of bad logins must not become a flood of synchronous audit
	 * writes: past failed_login_records_per_source a second, they are
	 * counted and summarised (login_guard.h). */
	if (ev->type == AUDIT_LOGIN_FAILED && !login_guard_failed_login(px, id->client_ip))
		return 0;
	return identity_audit(px, id, ev);
}

int identity_audit_later(struct sb_proxy *px, const struct identity *id, struct audit_event *ev,
			 char *err, size_t errlen)
{
	identity_fill_audit(id, ev);
	bytes_absent(ev);
	if (px->audit && audit_defer(px->audit, ev, err, errlen) != 0)
		return -1;
	return 0;
}

void identity_log(const struct identity *id, const char *phase, enum log_level lvl,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	identity_vlog(id, phase, lvl, fmt, ap);
	va_end(ap);
}

void identity_vlog(const struct identity *id, const char *phase, enum log_level lvl,
		   const char *fmt, va_list ap)
{
	if (lvl > log_get_level())
		return;
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	sb_log(lvl, "session=%llu %s %s user=%s phase=%s: %s", (unsigned long long)id->session,
	       id->protocol, id->client_addr, id->logged_in ? id->target.user : "-",
	       phase ? phase : "-", msg);
}
