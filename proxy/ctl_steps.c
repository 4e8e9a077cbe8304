/* ctl_steps: the steps the sqlbastionctl verbs take around the state DB and
 * the audit log, written once (see ctl.h): open both for a change, look up
 * the objects a verb names (with the one message for each that is missing),
 * report a state call that failed, record the change, run a listing.
 *
 * The order every changing verb keeps: validate the arguments, open the
 * state DB, look up what it names, open the audit log (an unwritable log
 * stops the change), change, print, record. Nothing here decides what a
 * verb does; each verb's file holds that.
 */
#include "proxy/ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proxy/state.h"

int ctl_target_parse(struct ctl *c, const char *s, struct ctl_target *t)
{
	if (ctl_split_target(s, t->asset, t->account) != 0)
		return ctl_usage(c, "expected ASSET/ACCOUNT, not '%s'", s);
	snprintf(t->name, sizeof t->name, "%s/%s", t->asset, t->account);
	return CTL_OK;
}

struct audit_log *ctl_change_open(struct ctl *c, struct state **st)
{
	*st = ctl_state(c);
	if (!*st)
		return NULL;
	return ctl_audit_open(c);
}

int ctl_begin(struct ctl *c, struct state *st, struct audit_log *log)
{
	return state_begin(st) == STATE_OK ? CTL_OK : ctl_db_fail(c, st, log);
}

int ctl_db_fail(struct ctl *c, struct state *st, struct audit_log *log)
{
	if (log)
		audit_close(log);
	return ctl_fail(c, "%s", state_errmsg(st));
}

int ctl_state_fail(struct ctl *c, struct state *st, struct audit_log *log, int rc, int code,
		   const char *fmt, ...)
{
	if (rc != code)
		return ctl_db_fail(c, st, log);
	if (log)
		audit_close(log);
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ctl_fail(c, "%s", msg);
}

int ctl_state_result(struct ctl *c, struct state *st, int rc)
{
	return rc == STATE_OK ? CTL_OK : ctl_db_fail(c, st, NULL);
}

/* ---- lookups ---- */

int ctl_get_user(struct ctl *c, struct state *st, const char *name, struct state_user *out)
{
	int r = state_user_get(st, name, out);
	return r == STATE_OK ? CTL_OK
			     : ctl_state_fail(c, st, NULL, r, STATE_NOT_FOUND, "no user %s", name);
}

int ctl_get_asset(struct ctl *c, struct state *st, const char *name, struct state_asset *out)
{
	int r = state_asset_get(st, name, out);
	return r == STATE_OK ? CTL_OK
			     : ctl_state_fail(c, st, NULL, r, STATE_NOT_FOUND, "no asset %s", name);
}

int ctl_get_account(struct ctl *c, struct state *st, const struct ctl_target *t,
		    struct state_account *out)
{
	int r = state_account_get(st, t->asset, t->account, out);
	return r == STATE_OK ? CTL_OK
			     : ctl_state_fail(c, st, NULL, r, STATE_NOT_FOUND, "no account %s", t->name);
}

int ctl_get_token(struct ctl *c, struct state *st, int64_t id, struct state_token_info *out)
{
	int r = state_token_get(st, id, out);
	return r == STATE_OK ? CTL_OK
			     : ctl_state_fail(c, st, NULL, r, STATE_NOT_FOUND, "no token %lld",
					      (long long)id);
}

/* ---- recording ---- */

int ctl_record(struct ctl *c, struct audit_log *log, int argc, char **argv,
	       const char *const *redact, const char *asset, const char *account,
	       const char *objfmt, ...)
{
	char stmt[1024], obj[512];
	va_list ap;
	ctl_cmdline(c->verb, argc, argv, redact, stmt, sizeof stmt);
	va_start(ap, objfmt);
	vsnprintf(obj, sizeof obj, objfmt, ap);
	va_end(ap);
	return ctl_audit_admin(c, log, stmt, asset, account, obj);
}

/* ---- listings ---- */

int ctl_list_open(struct ctl *c, int argc, char **argv, const struct ctl_opt *opts,
		  struct state **st)
{
	const char *pos[1];
	if (ctl_args(c, argc, argv, opts, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;
	*st = ctl_state(c);
	return *st ? CTL_OK : CTL_FAIL;
}

void ctl_json_time(int64_t t, char *buf, size_t cap)
{
	char when[40];
	if (!t) {
		snprintf(buf, cap, "null");
		return;
	}
	ctl_fmt_rfc3339(t, when, sizeof when);
	snprintf(buf, cap, "\"%s\"", when);
}
