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
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proxy/auth.h"
#include "proxy/ctl.h"
#include "proxy/ctl_asset_auth.h"
#include "proxy/secret.h"
#include "proxy/state.h"

static const char live_note[] = "# open sessions it affects end within seconds\n";

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Record the change (the command line, values of `redact` options hidden). */
static int record(struct ctl *c, struct audit_log *log, int argc, char **argv,
		  const char *const *redact, const char *asset, const char *account,
		  const char *objects)
{
	char stmt[1024];
	ctl_cmdline(c->verb, argc, argv, redact, stmt, sizeof stmt);
	return ctl_audit_admin(c, log, stmt, asset, account, objects);
}

/* ---- users ---- */

static int user_flag(struct ctl *c, int argc, char **argv, int disabled)
{
	const char *pos[1];
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int rc = state_user_set_disabled(st, pos[0], disabled);
	if (rc != STATE_OK) {
		audit_close(log);
		if (rc == STATE_NOT_FOUND)
			return ctl_fail(c, "no user %s", pos[0]);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	printf("user %s %s\n", pos[0], disabled ? "disabled: no new logins" : "enabled");
	if (disabled)
		fputs(live_note, stdout);
	char obj[192];
	snprintf(obj, sizeof obj, "user:%s", pos[0]);
	return record(c, log, argc, argv, NULL, NULL, NULL, obj);
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
	const char *pos[1];
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int grants = 0, tokens = 0;
	int rc = state_user_remove(st, pos[0], &grants, &tokens);
	if (rc != STATE_OK) {
		audit_close(log);
		if (rc == STATE_NOT_FOUND)
			return ctl_fail(c, "no user %s", pos[0]);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	printf("user %s removed, with %d grant%s and %d token%s\n", pos[0], grants,
	       grants == 1 ? "" : "s", tokens, tokens == 1 ? "" : "s");
	fputs(live_note, stdout);
	char obj[256];
	snprintf(obj, sizeof obj, "user:%s,grants:%d,tokens:%d", pos[0], grants, tokens);
	return record(c, log, argc, argv, NULL, NULL, NULL, obj);
}

int ctl_user_set(struct ctl *c, int argc, char **argv)
{
	const char *source = NULL, *max = NULL, *pos[1];
	long max_sessions = -1;
	struct ctl_opt opts[] = {
		{"--source", 1, &source, NULL},
		{"--max-sessions", 1, &max, NULL},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (!source && !max)
		return ctl_usage(c, "nothing to change: give --source and/or --max-sessions");
	/* --source "" means from anywhere again */
	if (source && (strlen(source) >= STATE_SOURCES_MAX ||
		       auth_cidr_match(source, "127.0.0.1") < 0))
		return ctl_usage(c, "bad --source '%s' (expected CIDRs such as 10.0.0.0/8,::1/128)",
				 source);
	if (max && parse_long(max, 0, 100000, &max_sessions) != 0)
		return ctl_usage(c, "bad --max-sessions '%s' (0 = unlimited .. 100000)", max);
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int rc = state_user_update(st, pos[0], source, (int)max_sessions);
	if (rc != STATE_OK) {
		audit_close(log);
		if (rc == STATE_NOT_FOUND)
			return ctl_fail(c, "no user %s", pos[0]);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	struct state_user u;
	if (state_user_get(st, pos[0], &u) == STATE_OK)
		printf("user %s: sources %s, max sessions %d\n", u.name,
		       u.sources[0] ? u.sources : "any", u.max_sessions);
	if (source)
		printf("# open sessions from a source no longer allowed end within seconds\n");
	char obj[192];
	snprintf(obj, sizeof obj, "user:%s", pos[0]);
	return record(c, log, argc, argv, NULL, NULL, NULL, obj);
}

/* ---- assets ---- */

int ctl_asset_set(struct ctl *c, int argc, char **argv)
{
	const char *host = NULL, *port = NULL, *tls = NULL, *service = NULL, *pos[1];
	const char *weak = NULL, *keyfile = NULL;
	struct ctl_opt opts[] = {
		{"--host", 1, &host, NULL},	  {"--port", 1, &port, NULL},
		{"--tls", 1, &tls, NULL},	  {"--service", 1, &service, NULL},
		{CTL_OPT_ALLOW_WEAK_AUTH, 1, &weak, NULL},
		{CTL_OPT_SERVER_PUBLIC_KEY, 1, &keyfile, NULL},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state_asset_change ch;
	memset(&ch, 0, sizeof ch);
	long p;
	if (!host && !port && !tls && !service && !weak && !keyfile)
		return ctl_usage(c, "nothing to change: give --host, --port, --tls, --service, "
				    CTL_OPT_ALLOW_WEAK_AUTH " or " CTL_OPT_SERVER_PUBLIC_KEY);
	if (host) {
		size_t n = strlen(host);
		if (n == 0 || n >= SB_HOST_MAX || strpbrk(host, " \t\r\n"))
			return ctl_usage(c, "--host needs a host name or address");
		ch.has_host = 1;
		ch.host = host;
	}
	if (port) {
		if (parse_long(port, 1, 65535, &p) != 0)
			return ctl_usage(c, "--port needs a number from 1 to 65535");
		ch.has_port = 1;
		ch.port = (int)p;
	}
	if (tls) {
		if (state_tls_parse(tls, &ch.tls) != 0)
			return ctl_usage(c, "--tls must be disable, prefer, require or verify-full");
		ch.has_tls = 1;
	}
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
	if (weak || keyfile) {
		if (!have_asset)
			return ctl_fail(c, "no asset %s", pos[0]);
		if (state_asset_auth_get(st, a.id, &aa) != STATE_OK)
			return ctl_fail(c, "%s", state_errmsg(st));
		if (ctl_asset_auth_parse(c, a.protocol, weak, keyfile, &aa) != CTL_OK)
			return CTL_USAGE;
	}
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int rc = STATE_OK;
	if (host || port || tls || service)
		rc = state_asset_update(st, pos[0], &ch);
	if (rc == STATE_OK && (weak || keyfile))
		rc = state_asset_auth_set(st, pos[0], &aa);
	if (rc != STATE_OK) {
		audit_close(log);
		if (rc == STATE_NOT_FOUND)
			return ctl_fail(c, "no asset %s", pos[0]);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	if (state_asset_get(st, pos[0], &a) == STATE_OK) {
		char how[80];
		if (state_asset_auth_get(st, a.id, &aa) != STATE_OK)
			memset(&aa, 0, sizeof aa);
		printf("asset %s: %s %s:%d, tls %s%s%s, %s\n", a.name, a.protocol, a.host, a.port,
		       state_tls_name(a.tls), a.service[0] ? ", service " : "", a.service,
		       ctl_asset_auth_describe(&aa, how, sizeof how));
	}
	printf("# new sessions connect there; open ones keep their connection\n");
	char obj[192];
	snprintf(obj, sizeof obj, "asset:%s", pos[0]);
	return record(c, log, argc, argv, NULL, pos[0], NULL, obj);
}

int ctl_asset_remove(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	int force = 0;
	struct ctl_opt opts[] = {{"--force", 0, NULL, &force}, {NULL, 0, NULL, NULL}};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int grants = 0;
	int rc = state_asset_remove(st, pos[0], force, &grants);
	if (rc != STATE_OK) {
		audit_close(log);
		if (rc == STATE_NOT_FOUND)
			return ctl_fail(c, "no asset %s", pos[0]);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	printf("asset %s removed, with its accounts, tokens and %d grant%s%s\n", pos[0], grants,
	       grants == 1 ? "" : "s", grants && force ? " (--force)" : "");
	fputs(live_note, stdout);
	char obj[256];
	snprintf(obj, sizeof obj, "asset:%s,grants:%d", pos[0], grants);
	return record(c, log, argc, argv, NULL, pos[0], NULL, obj);
}

/* ---- accounts ---- */

int ctl_account_set(struct ctl *c, int argc, char **argv)
{
	const char *file = NULL, *cmd = NULL, *pos[1];
	int from_stdin = 0, rc = CTL_FAIL;
	char asset[64], name[64], target[160], ref[STATE_REF_MAX] = "", err[512];
	char pw[SB_SECRET_MAX + 1] = "";
	uint8_t key[SB_MASTER_KEY_LEN];
	struct ctl_opt opts[] = {
		{"--password-stdin", 0, NULL, &from_stdin},
		{"--secret-file", 1, &file, NULL},
		{"--secret-cmd", 1, &cmd, NULL},
		{NULL, 0, NULL, NULL},
	};
	static const char *const redact[] = {"--secret-file", "--secret-cmd", NULL};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (ctl_split_target(pos[0], asset, name) != 0)
		return ctl_usage(c, "expected ASSET/ACCOUNT, not '%s'", pos[0]);
	if (from_stdin + !!file + !!cmd != 1)
		return ctl_usage(c, "give exactly one of --password-stdin, --secret-file, --secret-cmd");
	enum state_secret_kind kind = from_stdin ? STATE_SECRET_STORED
				      : file	 ? STATE_SECRET_FILE
						 : STATE_SECRET_CMD;
	snprintf(target, sizeof target, "%s/%s", asset, name);
	if (cmd) {
		if (!*cmd || strlen(cmd) >= sizeof ref || strpbrk(cmd, "\r\n"))
			return ctl_usage(c, "--secret-cmd needs a one-line command");
		snprintf(ref, sizeof ref, "%s", cmd);
	}
	if (file) {
		char abs[PATH_MAX];
		if (!realpath(file, abs))
			return ctl_fail(c, "secret file %s: %s", file, strerror(errno));
		if (strlen(abs) >= sizeof ref)
			return ctl_fail(c, "secret file path too long");
		snprintf(ref, sizeof ref, "%s", abs);
	}
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct state_account ac;
	int r = state_account_get(st, asset, name, &ac);
	if (r == STATE_NOT_FOUND)
		return ctl_fail(c, "no account %s", target);
	if (r != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	memset(key, 0, sizeof key);
	if (kind == STATE_SECRET_STORED) {
		if (ctl_master_key(c, key) != CTL_OK)
			return CTL_FAIL;
		if (ctl_read_password(c, target, pw, sizeof pw) != CTL_OK)
			goto out;
	}
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		goto out;
	if (state_begin(st) != STATE_OK) {
		ctl_fail(c, "%s", state_errmsg(st));
		audit_close(log);
		goto out;
	}
	r = state_account_set_secret(st, ac.id, kind, ref);
	if (r != STATE_OK) {
		ctl_fail(c, "%s", state_errmsg(st));
		goto rollback;
	}
	if (kind == STATE_SECRET_STORED && ctl_store_sealed(c, st, ac.id, key, pw) != CTL_OK)
		goto rollback;
	if (kind == STATE_SECRET_FILE) {
		/* catch a typo now rather than at the next login */
		char probe[SB_SECRET_MAX + 1];
		int n = secret_fetch(st, key, ac.id, probe, sizeof probe, err, sizeof err);
		sb_wipe(probe, sizeof probe);
		if (n < 0) {
			ctl_fail(c, "%s", err);
			goto rollback;
		}
	}
	if (state_commit(st) != STATE_OK) {
		ctl_fail(c, "%s", state_errmsg(st));
		audit_close(log);
		goto out;
	}
	printf("account %s: secret %s; the next connect uses it, open sessions go on\n", target,
	       state_secret_kind_name(kind));
	char obj[192];
	snprintf(obj, sizeof obj, "account:%s,secret:%s", target, state_secret_kind_name(kind));
	rc = record(c, log, argc, argv, redact, asset, name, obj);
	goto out;
rollback:
	state_rollback(st);
	audit_close(log);
out:
	sb_wipe(pw, sizeof pw);
	sb_wipe(key, sizeof key);
	return rc;
}

int ctl_account_remove(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char asset[64], name[64], target[160];
	if (ctl_args(c, argc, argv, NULL, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (ctl_split_target(pos[0], asset, name) != 0)
		return ctl_usage(c, "expected ASSET/ACCOUNT, not '%s'", pos[0]);
	snprintf(target, sizeof target, "%s/%s", asset, name);
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct state_account ac;
	int r = state_account_get(st, asset, name, &ac);
	if (r == STATE_NOT_FOUND)
		return ctl_fail(c, "no account %s", target);
	if (r != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int grants = 0, tokens = 0;
	r = state_account_remove(st, ac.id, &grants, &tokens);
	if (r != STATE_OK) {
		audit_close(log);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	printf("account %s removed, with %d grant%s and %d token%s\n", target, grants,
	       grants == 1 ? "" : "s", tokens, tokens == 1 ? "" : "s");
	fputs(live_note, stdout);
	char obj[256];
	snprintf(obj, sizeof obj, "account:%s,grants:%d,tokens:%d", target, grants, tokens);
	return record(c, log, argc, argv, NULL, asset, name, obj);
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
	if (r == STATE_NOT_FOUND)
		return ctl_fail(c, "no grant %lld", (long long)id);
	if (r != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	r = state_grant_revoke(st, id);
	if (r != STATE_OK) {
		audit_close(log);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	printf("grant %lld revoked: %s -> %s/%s (%s)\n", (long long)id, g.user, g.asset, g.account,
	       policy_level_name(g.level));
	fputs(live_note, stdout);
	char obj[320];
	snprintf(obj, sizeof obj, "grant:%lld,user:%s,account:%s/%s", (long long)id, g.user,
		 g.asset, g.account);
	return record(c, log, argc, argv, NULL, g.asset, g.account, obj);
}

int ctl_token_revoke_user(struct ctl *c, const char *user, int argc, char **argv)
{
	if (!ctl_valid_name(user))
		return ctl_usage(c, "bad user name '%s'", user);
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct state_user u;
	int r = state_user_get(st, user, &u);
	if (r == STATE_NOT_FOUND)
		return ctl_fail(c, "no user %s", user);
	if (r != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int n = 0;
	if (state_token_revoke_user(st, u.id, c->now, &n) != STATE_OK) {
		audit_close(log);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	printf("%d token%s of %s revoked\n", n, n == 1 ? "" : "s", u.name);
	fputs(live_note, stdout);
	char obj[192];
	snprintf(obj, sizeof obj, "user:%s,tokens:%d", u.name, n);
	return record(c, log, argc, argv, NULL, NULL, NULL, obj);
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
		return ctl_fail(c, "%s", state_errmsg(st));
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
		char u[48] = "null";
		if (locked) {
			ctl_fmt_rfc3339(l->locked_until, until, sizeof until);
			snprintf(u, sizeof u, "\"%s\"", until);
		}
		ctl_json_str(l->user, ju, sizeof ju);
		ctl_json_str(l->ip, ji, sizeof ji);
		printf("{\"scope\":\"%s\",\"user\":%s,\"source\":%s,\"locked\":%s,"
		       "\"locked_until\":%s,\"failures\":%d,\"locks\":%d}\n",
		       l->user[0] ? "user+source" : "source", l->user[0] ? ju : "null", ji,
		       locked ? "true" : "false", u, l->failures, l->locks);
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
	const char *pos[1];
	int json = 0;
	struct ctl_opt opts[] = {{"--json", 0, NULL, &json}, {NULL, 0, NULL, NULL}};
	if (ctl_args(c, argc, argv, opts, pos, 0, 0, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct lock_print lp = {.now = c->now, .json = json};
	if (!json)
		printf("%-12s %-24s %-40s %-8s %-19s %-8s %s\n", "SCOPE", "USER", "SOURCE", "STATE",
		       "UNTIL", "FAILURES", "LOCKS");
	if (state_lockout_list(st, print_lock, &lp) != STATE_OK)
		return ctl_fail(c, "%s", state_errmsg(st));
	return CTL_OK;
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
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int n = 0;
	if (state_lockout_clear(st, ip ? NULL : pos[0], ip ? pos[0] : NULL, &n) != STATE_OK) {
		audit_close(log);
		return ctl_fail(c, "%s", state_errmsg(st));
	}
	printf("%d lockout counter%s of %s %s cleared\n", n, n == 1 ? "" : "s",
	       ip ? "source" : "user", pos[0]);
	char obj[192];
	snprintf(obj, sizeof obj, "%s:%s,counters:%d", ip ? "source" : "user", pos[0], n);
	return record(c, log, argc, argv, NULL, NULL, NULL, obj);
}
