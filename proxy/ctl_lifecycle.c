/* ctl_lifecycle: the sqlbastionctl verbs that change or take away access
 * after it was given (DESIGN.md "Control plane"):
 *
 *   user disable|enable|remove NAME, user set NAME [--source] [--max-sessions]
 *   asset set NAME [--host] [--port] [--tls] [--service], asset remove NAME [--force]
 *   account set ASSET/ACCOUNT (--password-stdin | --secret-file | --secret-cmd)
 *   account remove ASSET/ACCOUNT
 *   grant revoke ID, token revoke --user USER
 *   lockouts [--json], lockouts clear USER|IP
 *
 * Each validates first, opens the audit log before the change, commits, and
 * then records an admin event (the command line, secrets redacted). That
 * event goes to the running daemon over its admin socket, which re-checks
 * every live session at once: a session the change takes access from ends
 * within a second (proxy/lifecycle.h); the daemon's 1 s check of the state
 * DB's data_version catches a change even when the socket is not reachable.
 * A rotated secret (account set) ends nothing: the next connect uses it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proxy/ctl.h"
#include "proxy/ctl_asset_auth.h"
#include "proxy/state.h"

static const char live_note[] = "# open sessions it affects end within seconds\n";

/* ---- users ---- */

/* Start a change of the one object argv names: parse argv (options from
 * opts, one word into *name), open the state DB and the audit log. The log,
 * or NULL with *rc the exit code (printed). */
static struct audit_log *change_one(struct ctl *c, int argc, char **argv,
				    const struct ctl_opt *opts, const char **name,
				    struct state **st, int *rc)
{
	const char *pos[1];
	*rc = CTL_USAGE;
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return NULL;
	*name = pos[0];
	*rc = CTL_FAIL;
	return ctl_change_open(c, st);
}

static int user_flag(struct ctl *c, int argc, char **argv, int disabled)
{
	const char *name;
	struct state *st;
	int rc;
	struct audit_log *log = change_one(c, argc, argv, NULL, &name, &st, &rc);
	if (!log)
		return rc;
	rc = state_user_set_disabled(st, name, disabled);
	if (rc != STATE_OK)
		return ctl_state_fail(c, st, log, rc, STATE_NOT_FOUND, "no user %s", name);
	printf("user %s %s\n", name, disabled ? "disabled: no new logins" : "enabled");
	if (disabled)
		fputs(live_note, stdout);
	return ctl_record(c, log, argc, argv, NULL, NULL, NULL, "user:%s", name);
}

int ctl_user_disable(struct ctl *c, int argc, char **argv)
{
	return user_flag(c, argc, argv, 1);
}

int ctl_user_enable(struct ctl *c, int argc, char **argv)
{
	return user_flag(c, argc, argv, 0);
}

int ctl_user_remove(struct ctl *c, int argc, char **argv)
{
	const char *name;
	struct state *st;
	int rc, grants = 0, tokens = 0;
	struct audit_log *log = change_one(c, argc, argv, NULL, &name, &st, &rc);
	if (!log)
		return rc;
	rc = state_user_remove(st, name, &grants, &tokens);
	if (rc != STATE_OK)
		return ctl_state_fail(c, st, log, rc, STATE_NOT_FOUND, "no user %s", name);
	printf("user %s removed, with %d grant%s and %d token%s\n", name, grants,
	       grants == 1 ? "" : "s", tokens, tokens == 1 ? "" : "s");
	fputs(live_note, stdout);
	return ctl_record(c, log, argc, argv, NULL, NULL, NULL, "user:%s,grants:%d,tokens:%d", name,
			  grants, tokens);
}

int ctl_user_set(struct ctl *c, int argc, char **argv)
{
	const char *name, *source;
	long max_sessions = -1;
	if (ctl_user_args(c, argc, argv, 0, &name, &source, &max_sessions) != CTL_OK)
		return CTL_USAGE;
	struct state *st;
	struct audit_log *log = ctl_change_open(c, &st);
	if (!log)
		return CTL_FAIL;
	int rc = state_user_update(st, name, source, (int)max_sessions);
	if (rc != STATE_OK)
		return ctl_state_fail(c, st, log, rc, STATE_NOT_FOUND, "no user %s", name);
	struct state_user u;
	if (state_user_get(st, name, &u) == STATE_OK)
		printf("user %s: sources %s, max sessions %d\n", u.name,
		       u.sources[0] ? u.sources : "any", u.max_sessions);
	if (source)
		printf("# open sessions from a source no longer allowed end within seconds\n");
	return ctl_record(c, log, argc, argv, NULL, NULL, NULL, "user:%s", name);
}

/* ---- assets ---- */

int ctl_asset_set(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	struct ctl_asset_opts o = {0};
	struct ctl_opt opts[] = {CTL_ASSET_OPTS(&o), {NULL, 0, NULL, NULL}};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state_asset_change ch;
	const char *service = o.service, *weak = o.weak, *keyfile = o.keyfile;
	const char *native = o.native;
	if (!o.host && !o.port && !o.tls && !service && !weak && !keyfile && !native)
		return ctl_usage(c, "nothing to change: give --host, --port, --tls, --service, "
				    CTL_OPT_ALLOW_WEAK_AUTH ", " CTL_OPT_SERVER_PUBLIC_KEY " or "
				    CTL_OPT_NATIVE_ENCRYPTION);
	if (ctl_asset_where(c, 0, &o, &ch) != CTL_OK)
		return CTL_USAGE;
	if (service) {
		if (strlen(service) >= STATE_SERVICE_MAX || strpbrk(service, " \t\r\n"))
			return ctl_usage(c, "bad --service '%s'", service);
		ch.has_service = 1;
		ch.service = service;
	}
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	/* The backend-auth options start from the asset's current ones and are
	 * validated against its protocol before anything is written. */
	static struct state_asset_auth aa; /* static: holds a PEM key (4 KiB) */
	memset(&aa, 0, sizeof aa);
	struct state_asset a;
	int have_asset = state_asset_get(st, pos[0], &a) == STATE_OK;
	if (weak || keyfile || native) {
		if (!have_asset)
			return ctl_fail(c, "no asset %s", pos[0]);
		if (state_asset_auth_get(st, a.id, &aa) != STATE_OK)
			return ctl_db_fail(c, st, NULL);
		if (ctl_asset_auth_parse(c, a.protocol, weak, keyfile, &aa) != CTL_OK ||
		    ctl_asset_native_parse(c, a.protocol, native, &aa) != CTL_OK)
			return CTL_USAGE;
	}
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int rc = STATE_OK;
	if (ch.has_host || ch.has_port || ch.has_tls || ch.has_service)
		rc = state_asset_update(st, pos[0], &ch);
	if (rc == STATE_OK && (weak || keyfile || native))
		rc = state_asset_auth_set(st, pos[0], &aa);
	if (rc != STATE_OK)
		return ctl_state_fail(c, st, log, rc, STATE_NOT_FOUND, "no asset %s", pos[0]);
	if (state_asset_get(st, pos[0], &a) == STATE_OK) {
		char how[80];
		if (state_asset_auth_get(st, a.id, &aa) != STATE_OK)
			memset(&aa, 0, sizeof aa);
		printf("asset %s: %s %s:%d, tls %s%s%s, %s\n", a.name, a.protocol, a.host, a.port,
		       state_tls_name(a.tls), a.service[0] ? ", service " : "", a.service,
		       ctl_asset_auth_describe(&aa, how, sizeof how));
	}
	printf("# new sessions connect there; open ones keep their connection\n");
	return ctl_record(c, log, argc, argv, NULL, pos[0], NULL, "asset:%s", pos[0]);
}

int ctl_asset_remove(struct ctl *c, int argc, char **argv)
{
	const char *name;
	struct state *st;
	int rc, force = 0, grants = 0;
	struct ctl_opt opts[] = {{"--force", 0, NULL, &force}, {NULL, 0, NULL, NULL}};
	struct audit_log *log = change_one(c, argc, argv, opts, &name, &st, &rc);
	if (!log)
		return rc;
	rc = state_asset_remove(st, name, force, &grants);
	if (rc != STATE_OK)
		return ctl_state_fail(c, st, log, rc, STATE_NOT_FOUND, "no asset %s", name);
	printf("asset %s removed, with its accounts, tokens and %d grant%s%s\n", name, grants,
	       grants == 1 ? "" : "s", grants && force ? " (--force)" : "");
	fputs(live_note, stdout);
	return ctl_record(c, log, argc, argv, NULL, name, NULL, "asset:%s,grants:%d", name, grants);
}

/* ---- accounts ---- */

int ctl_account_set(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	struct ctl_target t;
	struct ctl_secret sec;
	memset(&sec, 0, sizeof sec);
	struct ctl_opt opts[] = {CTL_SECRET_OPTS(&sec), {NULL, 0, NULL, NULL}};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (ctl_target_parse(c, pos[0], &t) != CTL_OK)
		return CTL_USAGE;
	int rc = ctl_secret_parse(c, &sec);
	if (rc != CTL_OK)
		return rc;
	struct state *st = ctl_state(c);
	struct state_account ac;
	if (!st || ctl_get_account(c, st, &t, &ac) != CTL_OK)
		return CTL_FAIL;
	rc = CTL_FAIL;
	struct audit_log *log = ctl_secret_begin(c, st, &sec, t.name);
	if (!log)
		goto out;
	if (state_account_set_secret(st, ac.id, sec.kind, sec.ref) != STATE_OK) {
		state_rollback(st);
		ctl_db_fail(c, st, log);
		goto out;
	}
	if (ctl_secret_commit(c, st, log, ac.id, &sec) != CTL_OK)
		goto out;
	printf("account %s: secret %s; the next connect uses it, open sessions go on\n", t.name,
	       state_secret_kind_name(sec.kind));
	rc = ctl_record(c, log, argc, argv, ctl_secret_redact, t.asset, t.account,
			"account:%s,secret:%s", t.name, state_secret_kind_name(sec.kind));
out:
	ctl_secret_wipe(&sec);
	return rc;
}

int ctl_account_remove(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	struct ctl_target t;
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (ctl_target_parse(c, pos[0], &t) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	struct state_account ac;
	if (!st || ctl_get_account(c, st, &t, &ac) != CTL_OK)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int grants = 0, tokens = 0;
	if (state_account_remove(st, ac.id, &grants, &tokens) != STATE_OK)
		return ctl_db_fail(c, st, log);
	printf("account %s removed, with %d grant%s and %d token%s\n", t.name, grants,
	       grants == 1 ? "" : "s", tokens, tokens == 1 ? "" : "s");
	fputs(live_note, stdout);
	return ctl_record(c, log, argc, argv, NULL, t.asset, t.account,
			  "account:%s,grants:%d,tokens:%d", t.name, grants, tokens);
}

/* ---- grants and tokens ---- */

int ctl_grant_revoke(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	int64_t id;
	if (ctl_parse_id(pos[0], &id) != 0)
		return ctl_usage(c, "bad grant id '%s' (see grant list)", pos[0]);
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct state_grant g;
	int r = state_grant_get(st, id, &g);
	if (r != STATE_OK)
		return ctl_state_fail(c, st, NULL, r, STATE_NOT_FOUND, "no grant %lld", (long long)id);
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	if (state_grant_revoke(st, id) != STATE_OK)
		return ctl_db_fail(c, st, log);
	printf("grant %lld revoked: %s -> %s/%s (%s)\n", (long long)id, g.user, g.asset, g.account,
	       policy_level_name(g.level));
	fputs(live_note, stdout);
	return ctl_record(c, log, argc, argv, NULL, g.asset, g.account,
			  "grant:%lld,user:%s,account:%s/%s", (long long)id, g.user, g.asset, g.account);
}

int ctl_token_revoke_user(struct ctl *c, const char *user, int argc, char **argv)
{
	if (!ctl_valid_name(user))
		return ctl_usage(c, "bad user name '%s'", user);
	struct state *st = ctl_state(c);
	struct state_user u;
	if (!st || ctl_get_user(c, st, user, &u) != CTL_OK)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int n = 0;
	if (state_token_revoke_user(st, u.id, c->now, &n) != STATE_OK)
		return ctl_db_fail(c, st, log);
	printf("%d token%s of %s revoked\n", n, n == 1 ? "" : "s", u.name);
	fputs(live_note, stdout);
	return ctl_record(c, log, argc, argv, NULL, NULL, NULL, "user:%s,tokens:%d", u.name, n);
}

int ctl_token_rules(struct ctl *c, struct state *st, int64_t user_id, int64_t account_id,
		    const char *target, int renew, int ttl_given, int64_t *ttl)
{
	int64_t max_ttl = 0;
	int renewable = 1;
	int r = state_token_rules_for(st, user_id, account_id, c->now, &max_ttl, &renewable);
	if (r == STATE_NOT_FOUND)
		return CTL_OK; /* check_grant has said why already */
	if (r != STATE_OK)
		return ctl_db_fail(c, st, NULL);
	if (renew && !renewable)
		return ctl_fail(c, "the grant on %s says --renewable no: issue a new token", target);
	if (max_ttl > 0 && *ttl > max_ttl) {
		if (ttl_given)
			return ctl_fail(c, "--ttl is above the grant's --max-ttl on %s (%llds)", target,
					(long long)max_ttl);
		*ttl = max_ttl; /* the default TTL shortened to what the grant allows */
	}
	return CTL_OK;
}

/* ---- lockouts ---- */

struct lock_print {
	time_t now;
	int json;
	int n;
};

static int print_lock(void *ctx, const struct state_lockout *l)
{
	struct lock_print *lp = ctx;
	int locked = l->locked_until > (int64_t)lp->now;
	if (!locked && l->failures == 0)
		return 0; /* nothing to show: an old lock's back-off memory only */
	char until[40], ju[300], ji[140];
	lp->n++;
	if (lp->json) {
		ctl_json_time(locked ? l->locked_until : 0, until, sizeof until);
		ctl_json_str(l->user, ju, sizeof ju);
		ctl_json_str(l->ip, ji, sizeof ji);
		printf("{\"scope\":\"%s\",\"user\":%s,\"source\":%s,\"locked\":%s,"
		       "\"locked_until\":%s,\"failures\":%d,\"locks\":%d}\n",
		       l->user[0] ? "user+source" : "source", l->user[0] ? ju : "null", ji,
		       locked ? "true" : "false", until, l->failures, l->locks);
		return 0;
	}
	ctl_fmt_time(locked ? l->locked_until : 0, until, sizeof until);
	printf("%-12s %-24s %-40s %-8s %-19s %-8d %d\n", l->user[0] ? "user+source" : "source",
	       l->user[0] ? l->user : "*", l->ip, locked ? "locked" : "counting", until,
	       l->failures, l->locks);
	return 0;
}

int ctl_lockouts(struct ctl *c, int argc, char **argv)
{
	struct state *st;
	struct lock_print lp = {.now = c->now};
	struct ctl_opt opts[] = {{"--json", 0, NULL, &lp.json}, {NULL, 0, NULL, NULL}};
	int rc = ctl_list_open(c, argc, argv, opts, &st);
	if (rc != CTL_OK)
		return rc;
	if (!lp.json)
		printf("%-12s %-24s %-40s %-8s %-19s %-8s %s\n", "SCOPE", "USER", "SOURCE", "STATE",
		       "UNTIL", "FAILURES", "LOCKS");
	return ctl_state_result(c, st, state_lockout_list(st, print_lock, &lp));
}

static int is_ip(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

int ctl_lockouts_clear(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	int ip = is_ip(pos[0]);
	if (!ip && (!*pos[0] || strlen(pos[0]) >= STATE_LOCKOUT_USER_MAX))
		return ctl_usage(c, "expected a user name or an IP address");
	struct state *st;
	struct audit_log *log = ctl_change_open(c, &st);
	if (!log)
		return CTL_FAIL;
	int n = 0;
	if (state_lockout_clear(st, ip ? NULL : pos[0], ip ? pos[0] : NULL, &n) != STATE_OK)
		return ctl_db_fail(c, st, log);
	printf("%d lockout counter%s of %s %s cleared\n", n, n == 1 ? "" : "s",
	       ip ? "source" : "user", pos[0]);
	return ctl_record(c, log, argc, argv, NULL, NULL, NULL, "%s:%s,counters:%d",
			  ip ? "source" : "user", pos[0], n);
}
