/* ctl_objects: the sqlbastionctl verbs for users, assets, hosted accounts
 * and grants ("add" and "list"). Each add validates everything before it
 * touches the state DB, opens the audit log before the change, and records
 * the change (command line with secrets removed) after it.
 *
 * How an account's secret is given and stored: ctl_secret.c.
 */
#include <stdio.h>
#include <string.h>

#include "proxy/auth.h"
#include "proxy/ctl_asset_auth.h"
#include "proxy/ctl.h"
#include "proxy/state.h"

/* ---- user ---- */

int ctl_user_add(struct ctl *c, int argc, char **argv)
{
	const char *name, *source;
	long max_sessions = 0;
	if (ctl_user_args(c, argc, argv, 1, &name, &source, &max_sessions) != CTL_OK)
		return CTL_USAGE;

	struct state *st;
	struct audit_log *log = ctl_change_open(c, &st);
	if (!log)
		return CTL_FAIL;
	int64_t id = 0;
	int rc = state_user_add(st, name, source ? source : "", (int)max_sessions, c->now, &id);
	if (rc != STATE_OK)
		return ctl_state_fail(c, st, log, rc, STATE_EXISTS, "user %s already exists", name);
	printf("user %s added (id %lld)\n", name, (long long)id);
	return ctl_record(c, log, argc, argv, NULL, NULL, NULL, "user:%s", name);
}

int ctl_user_args(struct ctl *c, int argc, char **argv, int adding, const char **name,
		  const char **source, long *max_sessions)
{
	const char *max = NULL, *pos[1];
	struct ctl_opt opts[] = {
		{"--source", 1, source, NULL},
		{"--max-sessions", 1, &max, NULL},
		{NULL, 0, NULL, NULL},
	};
	*source = NULL;
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	*name = pos[0];
	if (adding && !ctl_valid_name(pos[0]))
		return ctl_usage(c, "bad user name '%s' (letters, digits, _ . -; at most 63)",
				 pos[0]);
	if (!adding && !*source && !max)
		return ctl_usage(c, "nothing to change: give --source and/or --max-sessions");
	/* user set --source "" means from anywhere again */
	const char *src = *source;
	if (src && (strlen(src) >= STATE_SOURCES_MAX || auth_cidr_match(src, "127.0.0.1") < 0))
		return ctl_usage(c, "bad --source '%s' (expected CIDRs such as 10.0.0.0/8,::1/128)",
				 src);
	if (max && ctl_parse_long(max, 0, 100000, max_sessions) != 0)
		return ctl_usage(c, "bad --max-sessions '%s' (0 = unlimited .. 100000)", max);
	return CTL_OK;
}

static int print_user(void *ctx, const struct state_user *u)
{
	char t[32];
	int disabled = 0;
	ctl_fmt_time(u->created, t, sizeof t);
	if (state_user_disabled(ctx, u->id, &disabled) != STATE_OK)
		disabled = 0;
	printf("%-20s %-12d %-19s %-8s %s\n", u->name, u->max_sessions, t,
	       disabled ? "disabled" : "enabled", u->sources[0] ? u->sources : "any");
	return 0;
}

int ctl_user_list(struct ctl *c, int argc, char **argv)
{
	struct state *st;
	int rc = ctl_list_open(c, argc, argv, NULL, &st);
	if (rc != CTL_OK)
		return rc;
	printf("%-20s %-12s %-19s %-8s %s\n", "USER", "MAX_SESSIONS", "CREATED", "STATE", "SOURCES");
	return ctl_state_result(c, st, state_user_list(st, print_user, st));
}

/* ---- asset ---- */

int ctl_asset_add(struct ctl *c, int argc, char **argv)
{
	const char *proto = NULL, *pos[1];
	struct ctl_asset_opts o = {0};
	struct ctl_opt opts[] = {
		{"--protocol", 1, &proto, NULL},
		CTL_ASSET_OPTS(&o),
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	struct state_asset a;
	struct state_asset_change where;
	memset(&a, 0, sizeof a);
	if (!ctl_valid_name(pos[0]))
		return ctl_usage(c, "bad asset name '%s' (letters, digits, _ . -; at most 63)",
				 pos[0]);
	if (!proto || (strcmp(proto, "postgres") && strcmp(proto, "mysql") &&
		       strcmp(proto, "tds") && strcmp(proto, "tns")))
		return ctl_usage(c, "--protocol must be postgres, mysql, tds or tns");
	/* Default: verify-full when a CA for database servers is configured
	 * (the administrator can prove who the server is, so do), prefer
	 * otherwise (TLS when offered; strong auth methods only, see README). */
	if (!o.tls)
		o.tls = c->cfg.backend_ca[0] ? "verify-full" : "prefer";
	if (ctl_asset_where(c, 1, &o, &where) != CTL_OK)
		return CTL_USAGE;
	if (o.service && !ctl_valid_word(o.service, sizeof a.service))
		return ctl_usage(c, "bad --service '%s'", o.service);
	if (strcmp(proto, "tns") == 0 && !o.service)
		return ctl_usage(c, "a tns asset needs --service (the real SERVICE_NAME)");
	static struct state_asset_auth aa; /* static: holds a PEM key (4 KiB) */
	memset(&aa, 0, sizeof aa);
	if (ctl_asset_auth_parse(c, proto, o.weak, o.keyfile, &aa) != CTL_OK ||
	    ctl_asset_native_parse(c, proto, o.native, &aa) != CTL_OK)
		return CTL_USAGE;
	snprintf(a.name, sizeof a.name, "%s", pos[0]);
	snprintf(a.protocol, sizeof a.protocol, "%s", proto);
	snprintf(a.host, sizeof a.host, "%s", o.host);
	snprintf(a.service, sizeof a.service, "%s", o.service ? o.service : "");
	a.port = where.port;
	a.tls = where.tls;
	a.created = c->now;

	struct state *st;
	struct audit_log *log = ctl_change_open(c, &st);
	if (!log)
		return CTL_FAIL;
	int rc = state_asset_add(st, &a);
	if (rc != STATE_OK)
		return ctl_state_fail(c, st, log, rc, STATE_EXISTS, "asset %s already exists", a.name);
	if ((aa.weak_auth || aa.server_public_key[0] || aa.native_encryption) &&
	    state_asset_auth_set(st, a.name, &aa) != STATE_OK)
		return ctl_db_fail(c, st, log);
	char how[80];
	printf("asset %s added (id %lld): %s %s:%d, tls %s%s%s, %s\n", a.name, (long long)a.id,
	       a.protocol, a.host, a.port, state_tls_name(a.tls), a.service[0] ? ", service " : "",
	       a.service, ctl_asset_auth_describe(&aa, how, sizeof how));
	return ctl_record(c, log, argc, argv, NULL, a.name, NULL, "asset:%s", a.name);
}

int ctl_asset_where(struct ctl *c, int required, const struct ctl_asset_opts *o,
		    struct state_asset_change *ch)
{
	long p;
	memset(ch, 0, sizeof *ch);
	if (o->host || required) {
		if (!o->host || !ctl_valid_word(o->host, SB_HOST_MAX))
			return ctl_usage(c, "--host needs a host name or address");
		ch->has_host = 1;
		ch->host = o->host;
	}
	if (o->port || required) {
		if (!o->port || ctl_parse_long(o->port, 1, 65535, &p) != 0)
			return ctl_usage(c, "--port needs a number from 1 to 65535");
		ch->has_port = 1;
		ch->port = (int)p;
	}
	if (o->tls) {
		if (state_tls_parse(o->tls, &ch->tls) != 0)
			return ctl_usage(c, "--tls must be disable, prefer, require or verify-full");
		ch->has_tls = 1;
	}
	return CTL_OK;
}

static int print_asset(void *ctx, const struct state_asset *a)
{
	(void)ctx;
	printf("%-20s %-9s %-30s %-5d %-11s %s\n", a->name, a->protocol, a->host, a->port,
	       state_tls_name(a->tls), a->service[0] ? a->service : "-");
	return 0;
}

int ctl_asset_list(struct ctl *c, int argc, char **argv)
{
	struct state *st;
	int rc = ctl_list_open(c, argc, argv, NULL, &st);
	if (rc != CTL_OK)
		return rc;
	printf("%-20s %-9s %-30s %-5s %-11s %s\n", "ASSET", "PROTOCOL", "HOST", "PORT", "TLS",
	       "SERVICE");
	return ctl_state_result(c, st, state_asset_list(st, print_asset, NULL));
}

/* ---- account ---- */

int ctl_account_add(struct ctl *c, int argc, char **argv)
{
	const char *username = NULL, *pos[1];
	struct ctl_target t;
	struct ctl_secret sec;
	memset(&sec, 0, sizeof sec);
	struct ctl_opt opts[] = {
		{"--username", 1, &username, NULL},
		CTL_SECRET_OPTS(&sec),
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 1, 1, NULL) != CTL_OK)
		return CTL_USAGE;
	if (ctl_target_parse(c, pos[0], &t) != CTL_OK)
		return CTL_USAGE;
	if (!username || !ctl_valid_text(username, STATE_USERNAME_MAX))
		return ctl_usage(c, "--username needs the database user name");
	int rc = ctl_secret_parse(c, &sec);
	if (rc != CTL_OK)
		return rc;

	struct state *st = ctl_state(c);
	struct state_asset a;
	if (!st || ctl_get_asset(c, st, t.asset, &a) != CTL_OK)
		return CTL_FAIL;
	rc = CTL_FAIL;
	struct audit_log *log = ctl_secret_begin(c, st, &sec, t.name);
	if (!log)
		goto out;
	int64_t id = 0;
	int r = state_account_add(st, a.id, t.account, username, sec.kind, sec.ref, c->now, &id);
	if (r != STATE_OK) {
		state_rollback(st);
		ctl_state_fail(c, st, log, r, STATE_EXISTS, "account %s already exists", t.name);
		goto out;
	}
	if (ctl_secret_commit(c, st, log, id, &sec) != CTL_OK)
		goto out;
	printf("account %s added (id %lld): username %s, secret %s\n", t.name, (long long)id,
	       username, state_secret_kind_name(sec.kind));
	if (sec.kind == STATE_SECRET_CMD)
		printf("# the command runs at every connect; try it: sqlbastionctl asset check %s\n",
		       t.name);
	rc = ctl_record(c, log, argc, argv, ctl_secret_redact, t.asset, t.account,
			"account:%s,secret:%s", t.name, state_secret_kind_name(sec.kind));
out:
	ctl_secret_wipe(&sec);
	return rc;
}

static int print_account(void *ctx, const struct state_account *a)
{
	char t[140];
	(void)ctx;
	snprintf(t, sizeof t, "%s/%s", a->asset, a->name);
	printf("%-40s %-24s %s\n", t, a->username, state_secret_kind_name(a->kind));
	return 0;
}

int ctl_account_list(struct ctl *c, int argc, char **argv)
{
	struct state *st;
	int rc = ctl_list_open(c, argc, argv, NULL, &st);
	if (rc != CTL_OK)
		return rc;
	printf("%-40s %-24s %s\n", "ASSET/ACCOUNT", "USERNAME", "SECRET");
	return ctl_state_result(c, st, state_account_list(st, print_account, NULL));
}

/* ---- grant ---- */

int ctl_grant_add(struct ctl *c, int argc, char **argv)
{
	const char *level = NULL, *hours = NULL, *until_s = NULL, *pos[2];
	const char *max_ttl_s = NULL, *renew_s = NULL;
	struct ctl_target t;
	struct ctl_opt opts[] = {
		{"--level", 1, &level, NULL},
		{"--hours", 1, &hours, NULL},
		{"--until", 1, &until_s, NULL},
		{"--max-ttl", 1, &max_ttl_s, NULL},
		{"--renewable", 1, &renew_s, NULL},
		{NULL, 0, NULL, NULL},
	};
	if (ctl_args(c, argc, argv, opts, pos, 2, 2, NULL) != CTL_OK)
		return CTL_USAGE;
	enum policy_level lv;
	time_t until = 0;
	if (!ctl_valid_name(pos[0]))
		return ctl_usage(c, "bad user name '%s'", pos[0]);
	if (ctl_target_parse(c, pos[1], &t) != CTL_OK)
		return CTL_USAGE;
	if (!level || policy_level_parse(level, &lv) != 0)
		return ctl_usage(c, "--level must be read, write, operate or admin");
	if (hours && (strlen(hours) >= STATE_HOURS_MAX || auth_hours_match(hours, c->now) < 0))
		return ctl_usage(c, "bad --hours '%s' (HH:MM-HH:MM, e.g. 08:00-20:00 or 22:00-06:00)",
				 hours);
	if (until_s) {
		if (ctl_parse_time(until_s, c->now, 1, &until) < 0)
			return ctl_usage(c, "bad --until '%s' (e.g. 2025-12-31, \"2025-12-31 18:00\", +30d)",
					 until_s);
		if (until <= c->now)
			return ctl_usage(c, "--until %s is in the past", until_s);
	}
	int64_t max_ttl = 0;
	int renewable = 1;
	if (max_ttl_s && (ctl_parse_duration(max_ttl_s, &max_ttl) != 0 || max_ttl > CTL_MAX_TTL))
		return ctl_usage(c, "bad --max-ttl '%s' (30m, 8h, 7d, ...; at most 366d)", max_ttl_s);
	if (renew_s) {
		if (strcmp(renew_s, "yes") == 0)
			renewable = 1;
		else if (strcmp(renew_s, "no") == 0)
			renewable = 0;
		else
			return ctl_usage(c, "--renewable must be yes or no");
	}

	struct state *st = ctl_state(c);
	struct state_user u;
	struct state_account ac;
	if (!st || ctl_get_user(c, st, pos[0], &u) != CTL_OK ||
	    ctl_get_account(c, st, &t, &ac) != CTL_OK)
		return CTL_FAIL;
	struct audit_log *log = ctl_audit_open(c);
	if (!log)
		return CTL_FAIL;
	int64_t id = 0;
	if (state_begin(st) != STATE_OK ||
	    state_grant_add(st, u.id, ac.id, lv, hours ? hours : "", (int64_t)until, c->now,
			    &id) != STATE_OK ||
	    state_grant_set_token_rules(st, id, max_ttl, renewable) != STATE_OK ||
	    state_commit(st) != STATE_OK) {
		state_rollback(st);
		return ctl_db_fail(c, st, log);
	}
	char ut[32];
	ctl_fmt_time(until, ut, sizeof ut);
	printf("grant %lld added: %s -> %s, %s%s%s%s%s%s%s%s\n", (long long)id, u.name, t.name,
	       policy_level_name(lv), hours ? ", hours " : "", hours ? hours : "",
	       until ? ", ends " : "", until ? ut : "", max_ttl_s ? ", tokens at most " : "",
	       max_ttl_s ? max_ttl_s : "", renewable ? "" : ", tokens not renewable");
	return ctl_record(c, log, argc, argv, NULL, t.asset, t.account,
			  "grant:%lld,user:%s,account:%s", (long long)id, u.name, t.name);
}

struct grant_print {
	time_t now;
	struct state *st; /* for each grant's token rules (another statement) */
};

static int print_grant(void *ctx, const struct state_grant *g)
{
	const struct grant_print *gp = ctx;
	char t[140], ut[32];
	snprintf(t, sizeof t, "%s/%s", g->asset, g->account);
	ctl_fmt_time(g->until, ut, sizeof ut);
	int64_t max_ttl = 0;
	int renewable = 1;
	char mt[32] = "-";
	if (state_grant_token_rules(gp->st, g->id, &max_ttl, &renewable) == STATE_OK && max_ttl)
		snprintf(mt, sizeof mt, "%llds", (long long)max_ttl);
	printf("%-6lld %-20s %-40s %-8s %-12s %-19s %-10s %-9s%s\n", (long long)g->id, g->user, t,
	       policy_level_name(g->level), g->hours[0] ? g->hours : "any", ut, mt,
	       renewable ? "yes" : "no",
	       g->until && g->until <= (int64_t)gp->now ? " (expired)" : "");
	return 0;
}

int ctl_grant_list(struct ctl *c, int argc, char **argv)
{
	const char *pos[1];
	int npos = 0;
	if (ctl_args(c, argc, argv, NULL, pos, 0, 1, &npos) != CTL_OK)
		return CTL_USAGE;
	struct state *st = ctl_state(c);
	if (!st)
		return CTL_FAIL;
	int64_t uid = 0;
	if (npos == 1) {
		struct state_user u;
		if (ctl_get_user(c, st, pos[0], &u) != CTL_OK)
			return CTL_FAIL;
		uid = u.id;
	}
	struct grant_print gp = {.now = c->now, .st = st};
	printf("%-6s %-20s %-40s %-8s %-12s %-19s %-10s %s\n", "ID", "USER", "ASSET/ACCOUNT", "LEVEL",
	       "HOURS", "ENDS", "MAX_TTL", "RENEWABLE");
	return ctl_state_result(c, st, state_grant_list(st, uid, 0, print_grant, &gp));
}
